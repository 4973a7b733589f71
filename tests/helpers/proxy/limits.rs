//! DynamoDB's request limits that the emulator does not hold: item size,
//! batch size, and the sandbox's table names.

use super::*;

/// DynamoDB's item size limit: 400 KB, names and values counted.
pub const ITEM_LIMIT: usize = 400 * 1024;

/// DynamoDB decides a condition and applies the write as one step per item;
/// moto checks and writes without a lock, so concurrent conditional writes
/// (a rate counter, a version) can all pass their conditions. The proxy
/// sends one DynamoDB write at a time, so what AWS would refuse under a race
/// is refused here too.
pub(super) static DYNAMO_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The first recipient of an SES send that the sandbox does not allow.
pub(super) fn sandboxed(state: &Mutex<State>, target: Option<&str>, body: &[u8]) -> Option<String> {
    if target.is_some() {
        return None;
    }
    let verified = state.lock().expect("state").ses_verified.clone()?;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let is_send = form
        .iter()
        .any(|(k, v)| k == "Action" && (v == "SendEmail" || v == "SendRawEmail"));
    if !is_send {
        return None;
    }
    form.into_iter()
        .filter(|(k, _)| k.starts_with("Destination.") || k.starts_with("Destinations."))
        .map(|(_, v)| v)
        .find(|address| !verified.iter().any(|ok| ok.eq_ignore_ascii_case(address)))
}

/// An attribute value's size as DynamoDB counts it (close enough to hold the
/// limit: strings and binaries by their bytes, numbers by their digits,
/// containers with their 3-byte overhead plus one byte an element).
pub fn attribute_size(v: &Value) -> usize {
    let Some((kind, x)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let text = |x: &Value| x.as_str().map_or(0, str::len);
    match kind.as_str() {
        "S" | "N" => text(x),
        "B" => text(x) * 3 / 4,
        "BOOL" | "NULL" => 1,
        "SS" | "NS" | "BS" => x.as_array().map_or(0, |a| a.iter().map(text).sum()),
        "L" => {
            3 + x.as_array().map_or(0, |a| {
                a.iter().map(|e| 1 + attribute_size(e)).sum::<usize>()
            })
        }
        "M" => {
            3 + x.as_object().map_or(0, |m| {
                m.iter()
                    .map(|(k, e)| 1 + k.len() + attribute_size(e))
                    .sum::<usize>()
            })
        }
        _ => 0,
    }
}

pub fn item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |m| {
        m.iter().map(|(k, v)| k.len() + attribute_size(v)).sum()
    })
}

/// The items a DynamoDB write request puts, with their tables; or the
/// limit the request breaks.
pub(super) fn written_items(
    target: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, Value)>, String> {
    let Some(op) = target.and_then(|t| t.strip_prefix("DynamoDB_20120810.")) else {
        return Ok(Vec::new());
    };
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Ok(Vec::new());
    };
    let table = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut items: Vec<(String, Value)> = Vec::new();
    match op {
        "PutItem" => items.push((table(&json["TableName"]), json["Item"].clone())),
        "BatchWriteItem" => {
            let empty = serde_json::Map::new();
            let by_table = json["RequestItems"].as_object().unwrap_or(&empty);
            if by_table
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .count()
                > 25
            {
                return Err("Too many items requested for the BatchWriteItem call".into());
            }
            for (name, requests) in by_table {
                for r in requests.as_array().into_iter().flatten() {
                    items.push((name.clone(), r["PutRequest"]["Item"].clone()));
                }
            }
        }
        "TransactWriteItems" => {
            for t in json["TransactItems"].as_array().into_iter().flatten() {
                items.push((table(&t["Put"]["TableName"]), t["Put"]["Item"].clone()));
            }
        }
        _ => {}
    }
    items.retain(|(_, i)| !i.is_null());
    if items.iter().any(|(_, i)| item_size(i) > ITEM_LIMIT) {
        return Err("Item size has exceeded the maximum allowed size".to_string());
    }
    Ok(items)
}

pub(super) fn validation(message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(400)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(
            json!({"__type": "com.amazon.coral.validate#ValidationException", "message": message})
                .to_string(),
        )))
        .expect("response")
}

pub(super) fn is_dynamo_write(target: Option<&str>) -> bool {
    target.is_some_and(|t| {
        t.strip_prefix("DynamoDB_20120810.").is_some_and(|op| {
            matches!(
                op,
                "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem"
            )
        })
    })
}
