//! Listings in pages. A listing of every incident or window ever recorded
//! grows without bound, and a Lambda answer can't exceed 6 MB: listings are
//! answered `limit` items at a time (default 100, at most 500), in a stable
//! order, with the next page's address in a `Link: <…>; rel="next"` header
//! (RFC 8288), so the body stays the plain array it always was.
//!
//! The cursor is the last item's order key, hex-encoded (opaque to clients):
//! the next page starts after it, so items added or removed meanwhile shift
//! nothing already seen.

use livesite_core::partner::FieldError;
use serde_json::Value;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub limit: usize,
    /// The order key of the last item already seen.
    pub after: Option<String>,
}

fn invalid(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

impl Paging {
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, FieldError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| invalid("limit", "an integer from 1 to 500"))?,
        };
        let after = match cursor {
            None => None,
            Some(c) => Some(decode(c).ok_or_else(|| {
                invalid(
                    "cursor",
                    "not a cursor this API gave (use the Link header's)",
                )
            })?),
        };
        Ok(Self { limit, after })
    }
}

fn decode(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 1024 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn encode(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// An item's place in its listing: incidents newest first (then by id),
/// the others by id.
fn key(resource: &str, item: &Value) -> String {
    let id = item["id"].as_str().unwrap_or_default();
    if resource == "incidents" {
        let opened = item["opened_at"]
            .as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
            .map_or(0, |t| t.timestamp_millis());
        // Inverted, so that ascending keys are newest first.
        return format!("{:020}|{id}", i64::MAX - opened);
    }
    id.to_string()
}

/// The `Link` header to the next page (a relative reference to the
/// listing's own path, never an echo of the request's), carrying the
/// listing's filters.
pub fn next_link(
    resource: &str,
    filters: &[(&str, Option<&str>)],
    limit: usize,
    cursor: &str,
) -> String {
    let mut query = String::new();
    // Filter values are operator ids and status names, [a-z0-9_-]: nothing
    // to escape; anything else was refused by the listing already and is
    // not echoed.
    for (name, value) in filters {
        if let Some(v) = value.filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        }) {
            query.push_str(&format!("{name}={v}&"));
        }
    }
    format!("</v1/{resource}?{query}limit={limit}&cursor={cursor}>; rel=\"next\"")
}

/// One page of `items`, and the cursor of the next page if there is one.
pub fn page(
    resource: &str,
    mut items: Vec<Value>,
    paging: &Paging,
) -> (Vec<Value>, Option<String>) {
    items.sort_by_cached_key(|i| key(resource, i));
    if let Some(after) = &paging.after {
        items.retain(|i| key(resource, i).as_str() > after.as_str());
    }
    let more = items.len() > paging.limit;
    items.truncate(paging.limit);
    let next = more
        .then(|| items.last().map(|i| encode(&key(resource, i))))
        .flatten();
    (items, next)
}

/// The 200 answer of a listing: one page, and the `Link` to the next.
pub fn answer(
    resource: &str,
    filters: &[(&str, Option<&str>)],
    items: Vec<Value>,
    paging: &Paging,
) -> lambda_http::Response<lambda_http::Body> {
    let (items, next) = page(resource, items, paging);
    let mut r = crate::problem::json_response(200, &Value::Array(items), "application/json");
    if let Some(cursor) = next {
        let link = next_link(resource, filters, paging.limit, &cursor);
        if let Ok(v) = lambda_http::http::HeaderValue::from_str(&link) {
            r.headers_mut().insert("link", v);
        }
    }
    r
}

/// A listing's filter naming one value of an enum (`?status=open`), or 422
/// naming the filter.
pub(crate) fn enum_filter<T: serde::de::DeserializeOwned>(
    value: Option<&str>,
    name: &str,
    expected: &str,
) -> Result<Option<T>, crate::problem::Problem> {
    value
        .map(|v| {
            serde_json::from_value(Value::from(v))
                .map_err(|_| crate::problem::Problem::field(name, format!("one of {expected}")))
        })
        .transpose()
}
