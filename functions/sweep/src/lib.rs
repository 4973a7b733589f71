//! The sweep function: every duty no probe arrival triggers, each isolated
//! (see `livesite_core::service::Duty`), with a log line and a metric for any
//! duty that failed, so one broken duty is seen and alarmed on while the
//! others keep the contract's clocks.

use chrono::{DateTime, Utc};
use livesite_core::metrics::emf_line;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::{Policy, Team};
use serde_json::{json, Value};

/// The sweep function: the store and notifier it works over, and the
/// team and policy from its settings.
pub struct SweepFunction<S, N> {
    pub store: S,
    pub notifier: N,
    pub team: Team,
    pub policy: Policy,
}

impl<S, N> SweepFunction<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    /// One sweep at `now` (`handle`).
    pub async fn handle(&self, now: DateTime<Utc>) -> Value {
        handle(&self.store, &self.notifier, &self.team, &self.policy, now).await
    }
}

/// One sweep at `now`, over borrowed ports. Returns the invocation's
/// summary; never fails as a whole (a failed duty is in `failed_duties`,
/// logged and counted).
pub async fn handle<S, N>(
    store: &S,
    notifier: &N,
    team: &Team,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Value
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    // Boxed: the sweep's future nests every duty's, deeper than the
    // compiler's default type-recursion limit allows in the runtime's loop.
    let (report, reports) = Box::pin(livesite_report::sweep_with_reports(
        store, notifier, team, policy, now,
    ))
    .await;
    summarize(&report, reports.len(), now)
}

/// The invocation's log lines, metric line and summary.
fn summarize(
    report: &livesite_core::service::SweepReport,
    reports: usize,
    now: DateTime<Utc>,
) -> Value {
    log(report);
    let failed: Vec<&str> = report.failed.iter().map(|(d, _)| d.as_str()).collect();
    // The alarm on SweepDutyFailures fires on any failed duty; the line says which.
    println!(
        "{}",
        emf_line(
            now,
            &[
                ("SweepDutyFailures", "Count", report.failed.len() as f64),
                (
                    "NotificationsFailed",
                    "Count",
                    report.delivery.failed.len() as f64
                ),
                (
                    "NotificationsDead",
                    "Count",
                    report.delivery.dead.len() as f64
                ),
                (
                    "OldestUnsentNotificationAge",
                    "Seconds",
                    report.delivery.oldest_unsent_age_seconds(now) as f64,
                ),
            ],
            json!({ "failed_duties": failed }),
        )
    );
    json!({
        "due": report.enqueued.len(),
        "monthly_reports": reports,
        "sent": report.delivery.sent.len(),
        "failed": report.delivery.failed.len(),
        "failed_duties": failed,
    })
}

/// One log line per notification due, failed or given up, and per failed
/// duty, with its key or its name.
fn log(report: &livesite_core::service::SweepReport) {
    for n in &report.enqueued {
        tracing::info!(key = %n.key, operator = %n.operator, topic = %n.topic, "due");
    }
    for (key, error) in &report.delivery.failed {
        tracing::error!(
            key,
            error,
            "notification not sent; the next sweep retries it"
        );
    }
    for (duty, error) in &report.failed {
        tracing::error!(
            duty = duty.as_str(),
            error,
            "sweep duty failed; the other duties ran"
        );
    }
    for (key, error) in &report.delivery.dead {
        tracing::error!(
            key,
            error,
            "notification given up after every retry; the team is told"
        );
    }
}
