//! The evaluate function: the DynamoDB stream of new probe results in, the
//! outage rules applied, incidents and notifications recorded (each with a
//! conditional write) and then delivered.
//!
//! A record whose operator's part of the batch failed (the store refused or
//! was unavailable) is reported as a batch item failure (partial batch
//! response), so Lambda retries from it while the rest of the batch is not
//! held back. A record that can never be valid (unreadable, or failing the
//! probe record's rules) is not retried: a retry would fail the same way, ten
//! times, holding up the shard and every operator behind it. It is logged
//! with its keys, counted (`InvalidProbeRecords`, alarmed) and skipped; the
//! item itself stays in the probes table for inspection.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Duration, Utc};
use livesite_aws::DynamoStore;
use livesite_core::metrics::emf_line;
use livesite_core::ports::{Notifier, OperatorRegistry, Store, StoreError};
use livesite_core::service::{deliver_pending_while, evaluate_batch, Context};
use livesite_core::{Policy, ProbeResult, Team};
use std::collections::HashSet;

/// The most time an invocation spends delivering (its timeout is 60 s).
pub const DELIVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// Where the evaluator learns who is monitored and under which policy.
pub trait Directory: Send + Sync {
    fn context(&self) -> impl std::future::Future<Output = Result<Context, StoreError>> + Send;
}

/// The operator registry in DynamoDB, read once per invocation, with the
/// policy and team from the function's settings.
pub struct RegistryDirectory {
    pub store: DynamoStore,
    pub policy: Policy,
    pub team: Team,
}

impl Directory for RegistryDirectory {
    async fn context(&self) -> Result<Context, StoreError> {
        let operators = self.store.list_operators().await?;
        Ok(Context::new(
            self.policy.clone(),
            self.team.clone(),
            operators,
        ))
    }
}

/// Reads a stream record's new image as a probe result.
pub fn probe_of(record: &EventRecord) -> Result<ProbeResult, String> {
    let probe: ProbeResult = serde_dynamo::from_item(record.change.new_image.clone())
        .map_err(|e| format!("unreadable probe record: {e}"))?;
    probe.validate().map_err(|e| e.to_string())?;
    Ok(probe)
}

/// Sends what the outbox holds, bounded in time: a slow mail service must not
/// hold the shard; what is left waits, recorded, for the next invocation or
/// the sweep. Returns how many notifications were given up for good.
async fn deliver<S: Store, N: Notifier>(
    store: &S,
    notifier: &N,
    team: &Team,
    now: DateTime<Utc>,
) -> usize {
    let started = std::time::Instant::now();
    let within = || started.elapsed() < DELIVERY_BUDGET;
    let lease = Duration::minutes(2);
    match deliver_pending_while(store, notifier, team, now, lease, 200, &within).await {
        Ok(report) => {
            for (key, error) in &report.dead {
                tracing::error!(
                    key,
                    error,
                    "notification given up after every retry; the team is told"
                );
            }
            for n in &report.sent {
                tracing::info!(key = %n.key, operator = %n.operator, incident_id = ?n.incident_id, channel = n.channel.as_str(), "notification sent");
            }
            for (key, error) in &report.failed {
                // Left pending in the outbox: the next invocation retries it.
                tracing::error!(key, error, "notification not sent; will retry");
            }
            report.dead.len()
        }
        Err(e) => {
            tracing::error!(error = %e, "outbox unavailable; pending notifications wait for the next invocation");
            0
        }
    }
}

fn failure(seq: &Option<String>) -> DynamoDbBatchItemFailure {
    let mut f = DynamoDbBatchItemFailure::default();
    f.item_identifier = seq.clone();
    f
}

/// One log line per result not evaluated (unknown operator, unlisted
/// location), per operator whose part failed, and per decision.
fn log_outcome(outcome: &livesite_core::service::BatchOutcome) {
    for op in &outcome.unknown {
        tracing::warn!(operator = %op, "probe result for an operator not in the registry; ignored");
    }
    for (op, location) in &outcome.unlisted {
        tracing::warn!(operator = %op, location, "probe result from a location the stack's ProbeLocations does not list; stored, not counted");
    }
    for (op, e) in &outcome.failed {
        tracing::error!(operator = %op, error = %e, "evaluation failed; records reported for retry");
    }
    for e in &outcome.events {
        tracing::info!(event = ?e, "decision");
    }
}

/// A batch's records read: the probes to evaluate with each one's stream
/// sequence number (to report it for retry), and what was skipped.
#[derive(Default)]
struct Batch {
    probes: Vec<livesite_core::ProbeResult>,
    sequences: Vec<(livesite_core::OperatorId, Option<String>)>,
    invalid: usize,
    migrated: usize,
}

fn read_batch(event: &Event) -> Batch {
    let mut batch = Batch::default();
    for record in &event.records {
        // Copied history (livesite_aws::migrate): the stream filter passes it
        // by; one reaching here is not a new result either.
        if record
            .change
            .new_image
            .contains_key(livesite_aws::dynamo::MIGRATED)
        {
            batch.migrated += 1;
            continue;
        }
        match probe_of(record) {
            Ok(p) => {
                batch
                    .sequences
                    .push((p.operator.clone(), record.change.sequence_number.clone()));
                batch.probes.push(p);
            }
            Err(error) => {
                batch.invalid += 1;
                let key = |k: &str| record.change.keys.get(k).map(|v| format!("{v:?}"));
                tracing::error!(
                    sequence = ?record.change.sequence_number,
                    event_id = %record.event_id,
                    operator = ?key("operator"),
                    at_location = ?key("at_location"),
                    error,
                    "invalid probe record skipped: it can never be evaluated"
                );
            }
        }
    }
    batch
}

/// The evaluate function: the store and notifier it works over, and where
/// it learns who is monitored.
pub struct EvaluateFunction<S, N, D> {
    pub store: S,
    pub notifier: N,
    pub directory: D,
}

impl<S: Store, N: Notifier, D: Directory> EvaluateFunction<S, N, D> {
    /// One stream batch at `now`: its results evaluated, what was decided
    /// delivered, the records of operators whose part failed reported for
    /// retry.
    pub async fn handle(&self, event: Event, now: DateTime<Utc>) -> DynamoDbEventResponse {
        handle(&self.store, &self.notifier, &self.directory, event, now).await
    }
}

/// What `EvaluateFunction::handle` runs, over borrowed ports (the tests
/// run it over wrapped and failing stores).
pub async fn handle<S: Store, N: Notifier, D: Directory>(
    store: &S,
    notifier: &N,
    directory: &D,
    event: Event,
    now: DateTime<Utc>,
) -> DynamoDbEventResponse {
    let mut failures = Vec::new();
    let Batch {
        probes,
        sequences,
        invalid,
        migrated,
    } = read_batch(&event);
    let ctx = match directory.context().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "operator registry unavailable; the whole batch will be retried");
            let mut response = DynamoDbEventResponse::default();
            response.batch_item_failures = event
                .records
                .iter()
                .map(|r| failure(&r.change.sequence_number))
                .collect();
            return response;
        }
    };
    if migrated > 0 {
        tracing::info!(
            migrated,
            "copied probe results skipped: history is not evaluated again"
        );
    }
    let outcome = evaluate_batch(store, &ctx, &probes).await;
    log_outcome(&outcome);
    let failed: HashSet<_> = outcome.failed.iter().map(|(op, _)| op.clone()).collect();
    for (op, seq) in &sequences {
        if failed.contains(op) {
            failures.push(failure(seq));
        }
    }
    let dead = deliver(store, notifier, &ctx.team, now).await;
    println!(
        "{}",
        emf_line(
            now,
            &[
                ("InvalidProbeRecords", "Count", invalid as f64),
                (
                    "VotesFromUnlistedLocations",
                    "Count",
                    outcome.unlisted.len() as f64
                ),
                ("NotificationsDead", "Count", dead as f64),
            ],
            serde_json::json!({}),
        )
    );
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}
