//! The AWS side against the local emulator (moto_server): the store contract
//! and the service's guarantees on DynamoDB, and the pipeline end to end with
//! the real probe and evaluate handlers, reading what was published and sent
//! back from the emulator.

use chrono::Duration;
use livesite_aws::DynamoStore;
use livesite_core::ports::{IncidentStore, OperatorRegistry, StateStore};
use livesite_core::{Policy, PortalCheck};
use livesite_evaluate_fn::{handle, RegistryDirectory};
use livesite_probe_fn::{ProbeFunction, SecondRound};
use livesite_prober::HttpProber;
use livesite_tests::emulator::{lambda_event, Stack};
use livesite_tests::fixtures::{operator, t0};
use livesite_tests::portal::{self, Behavior};
use livesite_tests::template::invocation_deadline;
use livesite_tests::wrappers::Counting;
use livesite_tests::{service_contract, store_contract};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod configuration;
mod migration;
mod pipeline;

async fn fresh() -> DynamoStore {
    Stack::new("contract").await.store()
}

store_contract!(fresh().await);

service_contract!(fresh().await);

fn schedule_event() -> Value {
    json!({"version": "0", "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
}

struct Pipeline {
    stack: Stack,
    up: Arc<AtomicBool>,
    _portal: portal::Portal,
    probe: ProbeFunction<HttpProber>,
    directory: RegistryDirectory,
    last_sequence: Option<String>,
}

impl Pipeline {
    async fn new(test: &str) -> Pipeline {
        let stack = Stack::new(test).await;
        let up = Arc::new(AtomicBool::new(false));
        let portal = portal::spawn(Behavior::Toggle(up.clone())).await;
        let mut op = operator("contoso");
        op.portal = PortalCheck::new(portal.http_url("/modirect").parse().expect("url"));
        op.portal.expect_body = Some("MO Direct".into());
        stack
            .store()
            .put_operator(&op)
            .await
            .expect("register operator");
        let probe = ProbeFunction {
            location: None,
            store: stack.store(),
            prober: portal::local_prober(),
            second_round: None,
            concurrency: 8,
            pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
        };
        let directory = RegistryDirectory {
            store: stack.store(),
            policy: Policy::default(),
            team: stack.team(),
        };
        Pipeline {
            stack,
            up,
            _portal: portal,
            probe,
            directory,
            last_sequence: None,
        }
    }

    /// Probe rounds at t0 + the given seconds (historic timestamps: the
    /// handler takes its clock as an argument).
    async fn probe_at(&self, seconds: impl IntoIterator<Item = i64>) {
        for s in seconds {
            let out = self
                .probe
                .handle(
                    &schedule_event(),
                    t0() + Duration::seconds(s),
                    invocation_deadline("ProbeFunction"),
                )
                .await
                .expect("probe round");
            assert_eq!(out["lost"], 0, "{out}");
        }
    }

    /// New stream records since the last read, as the Lambda event.
    async fn next_batch(&mut self) -> aws_lambda_events::event::dynamodb::Event {
        let records = self
            .stack
            .stream_records(self.last_sequence.as_deref())
            .await;
        if let Some(last) = records.last() {
            self.last_sequence = last["dynamodb"]["SequenceNumber"]
                .as_str()
                .map(str::to_string);
        }
        lambda_event(&records, &self.stack.stream_arn)
    }

    async fn evaluate(&self, event: aws_lambda_events::event::dynamodb::Event) -> Vec<String> {
        self.evaluate_on(&self.stack.store(), event).await
    }

    async fn evaluate_on<S: livesite_core::ports::Store>(
        &self,
        store: &S,
        event: aws_lambda_events::event::dynamodb::Event,
    ) -> Vec<String> {
        let now = t0() + Duration::hours(2);
        let response = handle(store, &self.stack.notifier(), &self.directory, event, now).await;
        response
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect()
    }
}
