//! The probe function. A schedule invokes it every minute (the first round);
//! it then leaves a message on an SQS queue with a 30-second delay, whose
//! delivery invokes it again (the second round). Twice per minute, without
//! paying for a 30-second sleep.

use aws_sdk_sqs::Client as SqsClient;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use livesite_aws::DynamoStore;
use livesite_core::ports::{OperatorRegistry, Prober};
use livesite_core::ProbeResult;
use serde_json::{json, Value};

/// Probes in flight at once. Lambda allows 1,024 open files; this leaves room
/// for the SDK's own connections while covering 1,000 portals in about one
/// probe timeout.
pub const DEFAULT_CONCURRENCY: usize = 900;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// From the schedule: probe, then arrange the second round.
    First,
    /// From the delay queue.
    Second,
}

/// An SQS event (the delayed second round) or anything else (the schedule).
pub fn round_of(event: &Value) -> Round {
    let from_sqs = event
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs");
    if from_sqs {
        Round::Second
    } else {
        Round::First
    }
}

pub struct SecondRound {
    pub client: SqsClient,
    pub queue_url: String,
    pub delay_seconds: i32,
}

pub struct ProbeFunction<P> {
    pub store: DynamoStore,
    pub prober: P,
    pub second_round: Option<SecondRound>,
    pub concurrency: usize,
}

impl<P: Prober> ProbeFunction<P> {
    /// One round. Returns a summary for the invocation's result and logs.
    pub async fn handle(
        &self,
        event: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, livesite_core::ports::StoreError> {
        let round = round_of(event);
        let operators = self.store.list_operators().await?;
        let probes: Vec<ProbeResult> = stream::iter(&operators)
            .map(|op| self.prober.probe(op, now))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let lost = self.store.append_many(&probes).await;
        for (p, error) in &lost {
            // Never silent: the evaluator will see a gap (unknown), not a failure.
            tracing::error!(operator = %p.operator, probed_at = %p.probed_at, error, "probe result could not be stored");
        }
        let down = probes.iter().filter(|p| !p.is_up()).count();
        for p in probes.iter().filter(|p| !p.is_up()) {
            tracing::info!(operator = %p.operator, reason = ?p.reason, status = ?p.status, latency_ms = ?p.latency_ms, "portal down");
        }
        let mut second_round_scheduled = false;
        if round == Round::First {
            if let Some(sr) = &self.second_round {
                let body = json!({ "round": 2, "after": now }).to_string();
                match sr
                    .client
                    .send_message()
                    .queue_url(&sr.queue_url)
                    .delay_seconds(sr.delay_seconds)
                    .message_body(body)
                    .send()
                    .await
                {
                    Ok(_) => second_round_scheduled = true,
                    Err(e) => tracing::error!(
                        error = %aws_sdk_sqs::error::DisplayErrorContext(e),
                        "second round not scheduled: this minute gets one probe"
                    ),
                }
            }
        }
        // CloudWatch embedded metric format: counted without an API call.
        println!(
            "{}",
            json!({
                "_aws": {"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": [{
                    "Namespace": "livesite", "Dimensions": [[]],
                    "Metrics": [{"Name": "ProbesWritten", "Unit": "Count"}, {"Name": "ProbeWritesLost", "Unit": "Count"}, {"Name": "PortalsDown", "Unit": "Count"}]
                }]},
                "ProbesWritten": probes.len() - lost.len(), "ProbeWritesLost": lost.len(), "PortalsDown": down,
            })
        );
        Ok(json!({
            "round": if round == Round::First { 1 } else { 2 },
            "operators": operators.len(),
            "written": probes.len() - lost.len(),
            "lost": lost.len(),
            "down": down,
            "second_round_scheduled": second_round_scheduled,
        }))
    }
}
