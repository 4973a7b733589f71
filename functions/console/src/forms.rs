//! A form acts once: each rendered form carries a fresh `submission` id,
//! taken with one conditional write when it is sent (the store's
//! reservation, which expires after a day); sent again (a double click, a
//! reload), it finds the id taken and acts no more.

use chrono::{DateTime, Utc};
use livesite_core::ports::RecordStore;
use std::hash::{BuildHasher, Hasher};

const KIND: &str = "console-submission";

/// A fresh submission id: 128 bits from the process's random hash keys
/// and a counter (not a secret: it only tells two sends of one form apart).
pub fn submission_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n ^ salt);
        h.finish()
    };
    format!("{:016x}{:016x}", half(0), half(u64::MAX))
}

/// Whether this is the first time `id` is sent; a form without one (or
/// with a malformed one) is refused as already sent.
pub async fn first_time<S: RecordStore>(store: &S, id: Option<&str>, now: DateTime<Utc>) -> bool {
    let Some(id) = id.filter(|i| i.len() == 32 && i.chars().all(|c| c.is_ascii_hexdigit())) else {
        return false;
    };
    let doc = serde_json::json!({"expires_at": (now + chrono::Duration::days(1)).timestamp()});
    // A store that cannot answer lets the form through: the answer it
    // carries then meets the same store and says why it failed.
    store
        .reserve_record(KIND, id, &doc, now)
        .await
        .unwrap_or(true)
}
