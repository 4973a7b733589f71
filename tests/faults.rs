//! Faults injected, and what they cost. Each scenario runs a 31-minute outage
//! of one portal through the real probe, evaluate and sweep handlers on the
//! emulator, behind the enforcing proxy, with a fault injected by the proxy
//! (a throttled or failing call answers as AWS answers) or by the way the
//! Lambda service delivers the stream (redelivered, reordered). The stream
//! is delivered as Lambda does: batches of up to 100, a batch with item
//! failures retried from the first failure (at most 10 times). The sweep runs
//! every 5 minutes after the page is due, until nothing is left to send.
//!
//! For each: pages lost (must be 0), pages doubled (0, or bounded by the
//! at-least-once window), probe results lost. The table in
//! docs/reliability.md is this test's output:
//!
//!     cargo test -p livesite-tests --test faults -- --nocapture --test-threads 1

use chrono::{DateTime, Duration, Utc};
use livesite_core::ports::OperatorRegistry;
use livesite_core::{Policy, PortalCheck};
use livesite_evaluate_fn::RegistryDirectory;
use livesite_probe_fn::ProbeFunction;
use livesite_tests::emulator::{lambda_event, Stack};
use livesite_tests::fixtures::{operator, t0};
use livesite_tests::portal::{self, Behavior, Portal};
use livesite_tests::proxy::{Enforcer, Fault, FaultKind};
use livesite_tests::template::invocation_deadline;
use serde_json::{json, Value};

fn schedule_event() -> Value {
    json!({"version": "0", "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
}

/// How the stream reaches the evaluator.
#[derive(Clone, Copy, PartialEq)]
enum Delivery {
    AsLambda,
    /// Every batch delivered twice.
    Redelivered,
    /// The records of each batch in reverse order, and the batches too.
    Reordered,
}

struct Outcome {
    opening_pages: usize,
    opening_emails: usize,
    probes_stored: usize,
    injected: usize,
}

struct Scenario {
    stack: Stack,
    iam: Enforcer,
    _portal: Portal,
}

impl Scenario {
    async fn new(name: &str) -> Scenario {
        let stack = Stack::new(name).await;
        let iam = Enforcer::start(&stack).await;
        let portal = portal::spawn(Behavior::Respond {
            status: 503,
            body: "down".into(),
        })
        .await;
        let mut op = operator("contoso");
        op.portal = PortalCheck::new(portal.http_url("/").parse().expect("url"));
        op.portal.timeout = std::time::Duration::from_secs(2);
        stack.store().put_operator(&op).await.expect("register");
        Scenario {
            stack,
            iam,
            _portal: portal,
        }
    }

    async fn probe_rounds(&self, rounds: std::ops::RangeInclusive<i64>) {
        let f = ProbeFunction {
            location: None,
            store: self
                .stack
                .store_with(&self.iam.config("ProbeFunction").await),
            prober: portal::local_prober(),
            second_round: None,
            concurrency: 8,
            pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
        };
        for i in rounds {
            f.handle(
                &schedule_event(),
                t0() + Duration::seconds(30 * i),
                invocation_deadline("ProbeFunction"),
            )
            .await
            .expect("round");
        }
    }

    /// Every stream record from `after`, delivered as `how`; returns the
    /// last sequence number read.
    async fn evaluate(
        &self,
        after: Option<String>,
        how: Delivery,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let cfg = self.iam.config("EvaluateFunction").await;
        let store = self.stack.store_with(&cfg);
        let notifier = self.stack.notifier_with(&cfg);
        let directory = RegistryDirectory {
            store: store.clone(),
            policy: Policy::default(),
            team: self.stack.team(),
        };
        let records = self
            .stack
            .stream_records_as(self.iam.url(), "EvaluateFunction", after.as_deref())
            .await;
        let last = records
            .last()
            .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
            .map(str::to_string)
            .or(after);
        let mut batches: Vec<Vec<Value>> = records.chunks(100).map(<[Value]>::to_vec).collect();
        if how == Delivery::Reordered {
            batches.reverse();
            for b in &mut batches {
                b.reverse();
            }
        }
        for batch in batches {
            let times = if how == Delivery::Redelivered { 2 } else { 1 };
            for _ in 0..times {
                let mut pending = batch.clone();
                for _attempt in 0..=10 {
                    let event = lambda_event(&pending, &self.stack.stream_arn);
                    let r = livesite_evaluate_fn::handle(&store, &notifier, &directory, event, now)
                        .await;
                    let Some(first) = r
                        .batch_item_failures
                        .iter()
                        .filter_map(|f| f.item_identifier.clone())
                        .min()
                    else {
                        break;
                    };
                    // Lambda retries from the first failed record on.
                    pending.retain(|rec| {
                        rec["dynamodb"]["SequenceNumber"].as_str().unwrap_or("") >= first.as_str()
                    });
                }
            }
        }
        last
    }

    /// Sweeps every 5 minutes from `from` for `minutes`.
    async fn sweep(&self, from: DateTime<Utc>, minutes: i64) {
        let cfg = self.iam.config("SweepFunction").await;
        let (store, notifier) = (self.stack.store_with(&cfg), self.stack.notifier_with(&cfg));
        for m in (0..=minutes).step_by(5) {
            livesite_sweep_fn::handle(
                &store,
                &notifier,
                &self.stack.team(),
                &Policy::default(),
                from + Duration::minutes(m),
            )
            .await;
        }
    }

    async fn outcome(&self) -> Outcome {
        let pages = self.stack.pages().await;
        let opening: Vec<_> = pages
            .iter()
            .filter(|(_, _, attrs)| {
                attrs["dedup_key"]["Value"]
                    .as_str()
                    .is_some_and(|k| k.ends_with("#page-open"))
            })
            .collect();
        let emails = self.stack.emails().await;
        let opening_emails = emails
            .iter()
            .filter(|e| {
                let subject = e["subject"].as_str().unwrap_or("");
                subject.starts_with("[HIGH]") && !subject.contains("overdue")
            })
            .count();
        let probes_stored = self.stack.stream_records(None).await.len();
        Outcome {
            opening_pages: opening.len(),
            opening_emails,
            probes_stored,
            injected: self.iam.injected().len(),
        }
    }
}

/// The whole outage, with `fault` injected before evaluation starts.
async fn run(name: &str, faults: Vec<Fault>, how: Delivery) -> Outcome {
    let s = Scenario::new(name).await;
    s.probe_rounds(0..=61).await;
    for f in faults {
        s.iam.inject(f);
    }
    s.evaluate(None, how, t0() + Duration::seconds(1835)).await;
    s.sweep(t0() + Duration::minutes(35), 120).await;
    s.iam.assert_no_denials();
    s.outcome().await
}

fn report(name: &str, o: &Outcome, pages_due: usize, probes_lost: usize) {
    println!(
        "| {name} | {} | {} | {} | {} | {probes_lost} |",
        o.injected,
        pages_due.saturating_sub(o.opening_pages),
        o.opening_pages.saturating_sub(pages_due),
        o.opening_emails,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_lose_no_page_and_double_none_outside_the_at_least_once_window() {
    println!(
        "| fault | calls failed | pages lost | pages doubled | High emails sent (of 1) | probe results lost |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let state = "-state";
    let cases: Vec<(&str, Vec<Fault>, Delivery)> = vec![
        ("none (baseline)", vec![], Delivery::AsLambda),
        (
            "DynamoDB throttles 6 state writes",
            vec![Fault::new(
                "dynamodb:PutItem",
                state,
                6,
                FaultKind::Throttle,
            )],
            Delivery::AsLambda,
        ),
        (
            "DynamoDB 5xx on 6 state reads",
            vec![Fault::new(
                "dynamodb:GetItem",
                state,
                6,
                FaultKind::ServerError,
            )],
            Delivery::AsLambda,
        ),
        (
            "SNS fails 6 publishes",
            vec![Fault::new("sns:Publish", "", 6, FaultKind::ServerError)],
            Delivery::AsLambda,
        ),
        (
            "SES fails 6 sends",
            vec![Fault::new(
                "ses:SendEmail",
                "identity/",
                6,
                FaultKind::ServerError,
            )],
            Delivery::AsLambda,
        ),
        (
            "a crash between send and mark-sent (3 failed calls)",
            vec![
                Fault::new("dynamodb:UpdateItem", state, 3, FaultKind::ServerError)
                    .when_body_has(":sent"),
            ],
            Delivery::AsLambda,
        ),
        (
            "every stream batch delivered twice",
            vec![],
            Delivery::Redelivered,
        ),
        (
            "stream batches and records reordered",
            vec![],
            Delivery::Reordered,
        ),
    ];
    for (name, faults, how) in cases {
        let expect_injected: usize = faults.iter().map(|f| f.count).sum();
        let crash = name.contains("crash between");
        let o = run(&format!("fault-{}", name.len()), faults, how).await;
        report(name, &o, 1, 62 - o.probes_stored);
        assert_eq!(o.probes_stored, 62, "{name}");
        assert!(
            o.injected >= expect_injected.min(1),
            "{name}: the fault was injected"
        );
        assert!(o.opening_pages >= 1, "{name}: a page lost");
        // A send whose mark-sent failed is sent again once its claim lapses:
        // at most once more per crash (the at-least-once window). The SDK
        // tries each call 3 times, so 3 injected faults are one crash.
        let bound = if crash {
            1 + expect_injected.div_ceil(3)
        } else {
            1
        };
        assert!(
            o.opening_pages <= bound,
            "{name}: {} pages",
            o.opening_pages
        );
        assert_eq!(o.opening_emails, 1, "{name}: the High email, once");
    }

    // A probe write lost for 6 minutes (13 rounds): the evaluator sees a gap
    // longer than 5 minutes, which is unknown, never down: the outage clock
    // restarts after it and nothing pages at 30:30.
    let s = Scenario::new("fault-probe-writes").await;
    s.probe_rounds(0..=19).await;
    s.iam.inject(Fault::new(
        "dynamodb:BatchWriteItem",
        "-probes",
        13,
        FaultKind::Invalid,
    ));
    s.probe_rounds(20..=32).await;
    s.probe_rounds(33..=61).await;
    s.evaluate(None, Delivery::AsLambda, t0() + Duration::seconds(1835))
        .await;
    s.sweep(t0() + Duration::minutes(35), 0).await;
    let o = s.outcome().await;
    report(
        "probe writes fail for 13 rounds (6.5 min): no page due",
        &o,
        0,
        62 - o.probes_stored,
    );
    assert_eq!(
        o.probes_stored,
        62 - 13,
        "the lost rounds are missing, not invented"
    );
    assert_eq!(
        o.opening_pages, 0,
        "a blind gap is not downtime: no page at 30:30"
    );
}
