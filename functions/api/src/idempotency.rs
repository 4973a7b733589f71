//! `Idempotency-Key`: a retried POST with the same key gets the first
//! answer, without acting twice.

use crate::problem::{json_response, to_value, Problem};
use chrono::{DateTime, Utc};
use lambda_http::{Body, Response};
use livesite_core::ports::{RecordStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long an idempotency key's answer is remembered.
const KEPT: chrono::Duration = chrono::Duration::hours(24);
/// How long a key is held while its first request acts: longer than the
/// API function may run (its timeout, 15 s in the template), so a request
/// that crashed or timed out mid-handler frees its key this long after,
/// not 24 hours later. `tests/template.rs` holds the template's timeout
/// below it.
pub const RESERVATION_HELD: chrono::Duration = chrono::Duration::seconds(60);
/// The longest key accepted.
const MAX_KEY: usize = 200;
/// The kind its records are stored under (its only statement).
const KIND: &str = "idempotency";

/// An idempotency key's record: reserved (`answer` absent) while its first
/// request acts, then the answer every retry gets.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// Fingerprint of the request body the key was first used with.
    #[serde(default)]
    request: String,
    /// The first request's answer (status, body); absent while it acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<(u16, Value)>,
    /// Seconds since the epoch; the store's TTL removes the record after.
    #[serde(default)]
    expires_at: i64,
    // Records written before reservations kept the answer at the top.
    #[serde(default, skip_serializing)]
    status: Option<u16>,
    #[serde(default, skip_serializing)]
    body: Option<Value>,
}

impl Stored {
    fn record(body: &[u8], answer: Option<(u16, Value)>, now: DateTime<Utc>) -> Value {
        let kept = if answer.is_some() {
            KEPT
        } else {
            RESERVATION_HELD
        };
        to_value(&Stored {
            request: fingerprint(body),
            answer,
            expires_at: (now + kept).timestamp(),
            status: None,
            body: None,
        })
    }
}

/// FNV-1a: stable across builds, enough to tell two request bodies apart.
fn fingerprint(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A key taken by its request; `keep` or `release` it when that is done.
/// A reservation: the key's record id and the document it was taken with.
pub struct Reserved(String, Value);

pub enum Reservation {
    /// Taken: the request goes on.
    Taken(Reserved),
    /// The answer to give instead: the first answer, replayed.
    Replay(Response<Body>),
}

/// Takes a key before its request acts, with one conditional write: two
/// concurrent requests with one key can't both act. 409 while the first
/// request still acts, 422 for a key reused with another body.
pub async fn reserve<S: RecordStore>(
    store: &S,
    scope: &str,
    key: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Reservation, Problem> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Problem::field("Idempotency-Key", "1 to 200 characters"));
    }
    let id = format!("{scope}#{key}");
    let taken = Stored::record(body, None, now);
    if store.reserve_record(KIND, &id, &taken, now).await? {
        return Ok(Reservation::Taken(Reserved(id, taken)));
    }
    let Some(v) = store.get_record(KIND, &id).await? else {
        // Released between the two calls: the caller may simply retry.
        return Err(Problem::conflict(
            "this Idempotency-Key is being released; retry",
        ));
    };
    let stored: Stored = serde_json::from_value(v).map_err(|e| {
        Problem::from(StoreError::Corrupt {
            key: format!("idempotency {id}"),
            message: e.to_string(),
        })
    })?;
    let answer = stored
        .answer
        .or_else(|| Some((stored.status?, stored.body?)));
    let Some((status, value)) = answer else {
        return Err(Problem::conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
        ));
    };
    if stored.request != fingerprint(body) {
        return Err(Problem::field(
            "Idempotency-Key",
            "already used with a different request body",
        ));
    }
    let mut r = json_response(status, &value, "application/json");
    r.headers_mut().insert(
        "idempotent-replayed",
        lambda_http::http::HeaderValue::from_static("true"),
    );
    Ok(Reservation::Replay(r))
}

impl Reserved {
    /// Keeps the answer for the key's retries.
    pub async fn keep<S: RecordStore>(
        self,
        store: &S,
        body: &[u8],
        answer: (u16, Value),
        now: DateTime<Utc>,
    ) {
        let stored = Stored::record(body, Some(answer), now);
        match store
            .put_record(KIND, &self.0, None, &stored, &self.1)
            .await
        {
            Ok(true) => {}
            // Expired and taken by another request meanwhile: that one's answer stands.
            Ok(false) => tracing::warn!("idempotency record changed meanwhile; not kept"),
            Err(e) => tracing::warn!(error = %e, "idempotency record not kept"),
        }
    }

    /// Nothing was done: frees the key, so a retry acts afresh.
    pub async fn release<S: RecordStore>(self, store: &S) {
        if let Err(e) = store.delete_record(KIND, &self.0).await {
            tracing::warn!(error = %e, "idempotency reservation not released");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key is held only as long as its request can run; its answer is
    /// kept a day. A request killed mid-handler (a timeout, a crash) so
    /// frees its key within a minute instead of answering 409 for 24 hours.
    #[test]
    fn a_reservation_expires_after_the_function_could_run_and_an_answer_after_a_day() {
        let now: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        let held: Stored = serde_json::from_value(Stored::record(b"{}", None, now)).unwrap();
        assert_eq!(held.expires_at, now.timestamp() + 60);
        let kept: Stored =
            serde_json::from_value(Stored::record(b"{}", Some((201, Value::Null)), now)).unwrap();
        assert_eq!(kept.expires_at, now.timestamp() + 24 * 3600);
    }
}
