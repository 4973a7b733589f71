//! What a request recorded is stored first, then sent: a slow or failing
//! mail service leaves it waiting in the outbox for the evaluator's or the
//! sweep's pass instead of turning into a slow answer or a 5xx.

use crate::Api;
use chrono::{DateTime, Duration, Utc};
use livesite_core::ports::{Notifier, Store};
use livesite_core::service::deliver_pending_while;
use serde_json::json;

/// The most time a request spends sending what it recorded. The function's
/// timeout is 15 s; with the SDK's own per-send limit (3 s) an answer never
/// waits much longer than this on a slow mail service.
pub const INLINE_DELIVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

impl<S: Store, N: Notifier> Api<S, N> {
    /// Sends what is due, for at most `INLINE_DELIVERY_BUDGET`.
    pub(crate) async fn deliver_inline(&self, now: DateTime<Utc>) {
        let started = std::time::Instant::now();
        let within = || started.elapsed() < INLINE_DELIVERY_BUDGET;
        let report = deliver_pending_while(
            &self.store,
            &self.notifier,
            &self.team,
            now,
            Duration::minutes(2),
            100,
            &within,
        )
        .await;
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(error = %e, "outbox unavailable; notifications wait for the next pass");
                return;
            }
        };
        for (key, error) in &report.dead {
            tracing::error!(
                key,
                error,
                "notification given up after every retry; the team is told"
            );
        }
        if !report.dead.is_empty() {
            println!(
                "{}",
                livesite_core::metrics::emf_line(
                    now,
                    &[("NotificationsDead", "Count", report.dead.len() as f64)],
                    json!({}),
                )
            );
        }
        if report.deferred > 0 {
            tracing::warn!(
                deferred = report.deferred,
                "delivery budget spent; the rest waits for the next pass"
            );
        }
    }
}
