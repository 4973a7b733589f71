//! The probe function. A schedule invokes it every minute (the first round);
//! it then leaves a message on an SQS queue with a 30-second delay, whose
//! delivery invokes it again (the second round). Twice per minute, without
//! paying for a 30-second sleep.

use aws_sdk_sqs::Client as SqsClient;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use livesite_aws::DynamoStore;
use livesite_core::metrics::emf_line;
use livesite_core::ports::{OperatorRegistry, Prober};
use livesite_core::{Operator, ProbeResult};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Probes in flight at once. Lambda allows 1,024 open files; this leaves room
/// for the SDK's own connections while covering 1,000 portals in about one
/// probe timeout.
pub const DEFAULT_CONCURRENCY: usize = 900;

/// The open files a Lambda function may hold (an AWS quota moto knows nothing of).
pub const LAMBDA_FILE_DESCRIPTORS: usize = 1024;

/// The sockets left for names' further addresses (`HttpProber::with_extra_sockets`)
/// once `concurrency` probes hold one each and the runtime and the SDK's own
/// connections keep 64: 60 at the default concurrency, none from 960.
pub fn extra_sockets(concurrency: usize) -> usize {
    LAMBDA_FILE_DESCRIPTORS.saturating_sub(concurrency + 64)
}

/// The prober the function runs with: public portals only, unless the
/// settings trust a network (a local run beside an emulator only), and the
/// sockets left over for names' further addresses.
pub fn prober(
    settings: &livesite_aws::settings::ProbeSettings,
    concurrency: usize,
) -> Result<livesite_prober::HttpProber, livesite_prober::ProberSetupError> {
    Ok(livesite_prober::HttpProber::new()?
        .trusting(settings.trusted.iter().copied())
        .with_extra_sockets(extra_sockets(concurrency)))
}

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

/// The slot a round answers: the time its schedule fired for (the first
/// round's `scheduled_time`, which the schedule's input carries, or an
/// EventBridge event's `time`), or the slot the first round handed the
/// second in its message; `now` only for an event that names none. Cut to
/// the 30-second grid, so a round started seconds late still answers its
/// own slot and never the next.
pub fn slot_of_event(event: &Value, now: DateTime<Utc>) -> DateTime<Utc> {
    let time = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let scheduled = match round_of(event) {
        Round::First => time(event.get("scheduled_time")).or_else(|| time(event.get("time"))),
        Round::Second => event
            .pointer("/Records/0/body")
            .and_then(Value::as_str)
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .and_then(|b| time(b.get("slot"))),
    };
    livesite_core::evaluate::quorum::slot_of(
        scheduled.unwrap_or(now),
        chrono::Duration::seconds(SLOT_SECONDS),
    )
}

/// The rounds' grid: two a minute (`livesite_aws::settings::PROBE_INTERVAL`,
/// the one statement of the cadence the evaluator's policy must match).
pub const SLOT_SECONDS: i64 = livesite_aws::settings::PROBE_INTERVAL.as_secs() as i64;

pub struct SecondRound {
    pub client: SqsClient,
    pub queue_url: String,
    pub delay_seconds: i32,
}

pub struct ProbeFunction<P> {
    pub store: DynamoStore,
    pub prober: P,
    pub second_round: Option<SecondRound>,
    /// Probes holding a connection at once.
    pub concurrency: usize,
    /// How the round's starts are spread (`Pacing::LAMBDA` on AWS).
    pub pacing: Pacing,
    /// The location stamped on every result (`PROBE_LOCATION`: an AWS
    /// region, an agent id); `None` for the single default location.
    pub location: Option<String>,
}

/// How a round's probe starts are spread: `per_portal` apart on average,
/// over at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    pub per_portal: Duration,
    pub max: Duration,
}

impl Pacing {
    /// On the function's CPU share (256 MB: 0.145 of a vCPU), 1,000 TLS
    /// probes started at once queue behind each other's handshakes and
    /// record a 100 ms portal at 2.3 s (p50); 10 ms apart, the error is
    /// 2 ms (p50) and 4 ms (p99) (docs/measurements.md,
    /// `bench/round-share.sh`). The spread grows with the fleet, so a small
    /// fleet's invocation is not billed for 10 s of waiting (docs/cost.md):
    /// 100 portals take 1 s. 10 s plus the default 10 s portal timeout plus
    /// the write margin fit the 30 s function; a portal with a longer
    /// timeout starts earlier (`start_of`).
    pub const LAMBDA: Pacing = Pacing {
        per_portal: Duration::from_millis(10),
        max: Duration::from_secs(10),
    };

    /// Every round spread over `d`, whatever its size (tests).
    pub const fn fixed(d: Duration) -> Pacing {
        Pacing {
            per_portal: d,
            max: d,
        }
    }

    /// What a round of `portals` is spread over.
    pub fn spread(&self, portals: usize) -> Duration {
        let n = u32::try_from(portals).unwrap_or(u32::MAX);
        self.per_portal.saturating_mul(n).min(self.max)
    }
}

/// Time kept at the end of the invocation for the last results' write (and
/// the second round's message). A probe whose own timeout would end past
/// `deadline - WRITE_MARGIN` is not started: a late start could only be cut
/// by the function's timeout, losing every result not yet written.
pub const WRITE_MARGIN: Duration = Duration::from_secs(5);

/// What one round did with its operators.
#[derive(Debug, Default)]
struct RoundOutcome {
    written: usize,
    down: usize,
    lost: Vec<(ProbeResult, String)>,
    /// Operators not probed this round: no time left to finish within the
    /// invocation (they show as an unknown gap, never as down).
    not_run: Vec<String>,
}

impl<P: Prober> ProbeFunction<P> {
    /// One round, to finish before `deadline` (the Lambda context's). Results
    /// are written as they complete, so a hung portal delays nobody's write
    /// and a round cut short keeps everything already probed.
    pub async fn handle(
        &self,
        event: &Value,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Value, livesite_core::ports::StoreError> {
        let round = round_of(event);
        let slot = slot_of_event(event, now);
        let operators = self.store.list_operators().await?;
        // Before probing: the round takes its spread (up to 10 s) and more, and the
        // second round must start 30 s after this one does, not after it ends.
        let mut second_round_scheduled = false;
        if round == Round::First {
            if let Some(sr) = &self.second_round {
                second_round_scheduled = sr.schedule(now, slot).await;
            }
        }
        let outcome = self.probe_and_write(&operators, now, slot, deadline).await;
        for (p, error) in &outcome.lost {
            // Never silent: the evaluator will see a gap (unknown), not a failure.
            tracing::error!(operator = %p.operator, probed_at = %p.probed_at, error, "probe result could not be stored");
        }
        for op in &outcome.not_run {
            tracing::error!(operator = %op, "not probed: the round had no time left to finish this probe");
        }
        let not_scheduled =
            round == Round::First && self.second_round.is_some() && !second_round_scheduled;
        println!(
            "{}",
            emf_line(
                now,
                &[
                    ("ProbesWritten", "Count", outcome.written as f64),
                    ("ProbeWritesLost", "Count", outcome.lost.len() as f64),
                    ("PortalsDown", "Count", outcome.down as f64),
                    ("ProbesNotRun", "Count", outcome.not_run.len() as f64),
                    (
                        "SecondRoundsNotScheduled",
                        "Count",
                        f64::from(u8::from(not_scheduled))
                    ),
                ],
                json!({}),
            )
        );
        Ok(json!({
            "round": if round == Round::First { 1 } else { 2 },
            "slot": slot,
            "operators": operators.len(),
            "written": outcome.written,
            "lost": outcome.lost.len(),
            "not_run": outcome.not_run.len(),
            "down": outcome.down,
            "second_round_scheduled": second_round_scheduled,
        }))
    }

    /// Probes (bounded concurrency) and writes (as results complete, up to a
    /// batch at a time) run side by side in this task.
    async fn probe_and_write(
        &self,
        operators: &[Operator],
        now: DateTime<Utc>,
        slot: DateTime<Utc>,
        deadline: Instant,
    ) -> RoundOutcome {
        let last_start = deadline.checked_sub(WRITE_MARGIN).unwrap_or(deadline);
        let round_start = Instant::now();
        let spread = self.pacing.spread(operators.len());
        let (tx, mut rx) = mpsc::channel::<ProbeResult>(operators.len().max(1));
        let mut not_run = Vec::new();
        // At most `concurrency` probes hold a connection at once; a probe
        // waiting for its start holds nothing.
        let slots = tokio::sync::Semaphore::new(self.concurrency.max(1));
        let slots = &slots;
        let probing = async {
            let mut results = stream::iter(operators)
                .map(|op| async move {
                    let start = start_of(op, spread, round_start, last_start);
                    tokio::time::sleep_until(start.into()).await;
                    let _slot = slots.acquire().await;
                    if Instant::now() + op.portal.timeout > last_start {
                        return Err(op.id.to_string());
                    }
                    Ok(ProbeResult {
                        location: self.location.clone(),
                        slot: Some(slot),
                        ..self.prober.probe(op, now).await
                    })
                })
                .buffer_unordered(operators.len().max(1));
            let mut accounted = std::collections::HashSet::new();
            loop {
                tokio::select! {
                    next = results.next() => match next {
                        None => break,
                        Some(Ok(p)) => {
                            accounted.insert(p.operator.to_string());
                            let _ = tx.send(p).await;
                        }
                        Some(Err(op)) => {
                            accounted.insert(op.clone());
                            not_run.push(op);
                        }
                    },
                    // A safety net: every probe's own timeout ends it first.
                    _ = tokio::time::sleep_until(last_start.into()) => break,
                }
            }
            // Probes still in flight at the safety net are dropped, unrun.
            not_run.extend(
                operators
                    .iter()
                    .map(|o| o.id.to_string())
                    .filter(|id| !accounted.contains(id)),
            );
            drop(tx);
        };
        let mut out = RoundOutcome::default();
        let writing = async {
            let mut batch = Vec::with_capacity(livesite_aws::dynamo::BATCH_WRITE_LIMIT);
            while rx
                .recv_many(&mut batch, livesite_aws::dynamo::BATCH_WRITE_LIMIT)
                .await
                > 0
            {
                let lost = self.store.append_many(&batch).await;
                out.written += batch.len() - lost.len();
                out.down += batch.iter().filter(|p| !p.is_up()).count();
                for p in batch.iter().filter(|p| !p.is_up()) {
                    tracing::info!(operator = %p.operator, reason = ?p.reason, status = ?p.status, latency_ms = ?p.latency_ms, "portal down");
                }
                out.lost.extend(lost);
                batch.clear();
            }
        };
        tokio::join!(probing, writing);
        out.not_run = not_run;
        out
    }
}

/// When an operator's probe starts: its stable place in the round's
/// spread (a hash of its id, as Prometheus spreads scrapes), but never so
/// late that its own timeout would run past `last_start`.
fn start_of(op: &Operator, spread: Duration, round_start: Instant, last_start: Instant) -> Instant {
    // A little before the last moment, so that waking up late is no
    // reason to skip it.
    let slack = Duration::from_millis(250);
    let latest = last_start
        .checked_sub(op.portal.timeout + slack)
        .unwrap_or(round_start)
        .max(round_start);
    round_start
        .checked_add(spread.mul_f64(livesite_core::probe::spread_fraction(op.id.as_str())))
        .unwrap_or(round_start)
        .min(latest)
}

impl SecondRound {
    /// Leaves the delayed message that runs the second round, for the slot
    /// after this round's.
    async fn schedule(&self, now: DateTime<Utc>, slot: DateTime<Utc>) -> bool {
        let next = slot + chrono::Duration::seconds(SLOT_SECONDS);
        let body = json!({ "round": 2, "after": now, "slot": next }).to_string();
        match self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .delay_seconds(self.delay_seconds)
            .message_body(body)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(
                    error = %aws_sdk_sqs::error::DisplayErrorContext(e),
                    "second round not scheduled: this minute gets one probe"
                );
                false
            }
        }
    }
}
