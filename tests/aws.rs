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

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_pages_once_even_when_the_batch_is_redelivered_and_recovery_resolves_once() {
    let mut p = Pipeline::new("outage").await;
    p.probe_at((0..=61).map(|i| i * 30)).await; // failing from 0:00 to 30:30
    let batch = p.next_batch().await;
    assert_eq!(batch.records.len(), 62, "one stream record per probe");
    // The first delivery dies between recording its side effects and saving
    // the state (a timeout, say): every record is reported for a retry, and
    // the retry recomputes the same decisions. Only the conditional claims
    // keep it from paging twice.
    let crashing = Counting::new(p.stack.store());
    crashing.fail_saves.store(1, Ordering::SeqCst);
    assert_eq!(
        p.evaluate_on(&crashing, batch.clone()).await.len(),
        62,
        "all reported for retry"
    );
    assert!(p.evaluate(batch.clone()).await.is_empty(), "the retry");
    assert!(p.evaluate(batch).await.is_empty(), "a plain redelivery");

    let pages = p.stack.pages().await;
    assert_eq!(pages.len(), 1, "exactly one page: {pages:?}");
    let (text, subject, attrs) = &pages[0];
    assert!(
        text.starts_with("HIGH contoso: MO Direct portal down 30m"),
        "{text}"
    );
    assert!(text.chars().count() <= 160);
    assert_eq!(subject, "HIGH contoso: portal down");
    assert_eq!(attrs["severity"]["Value"], "high");
    assert_eq!(attrs["operator"]["Value"], "contoso");
    assert_eq!(
        attrs["dedup_key"]["Value"],
        "contoso-20261124T100000Z-portal_down#page-open"
    );
    assert_eq!(
        attrs["incident_id"]["Value"],
        "contoso-20261124T100000Z-portal_down"
    );
    let emails = p.stack.emails().await;
    assert_eq!(emails.len(), 1, "exactly one email: {emails:?}");
    assert_eq!(
        emails[0]["destinations"]["ToAddresses"],
        json!(["noc@contoso.example"])
    );
    assert_eq!(
        emails[0]["destinations"]["CcAddresses"],
        json!(["osoc@dynamo.example"])
    );
    assert!(emails[0]["subject"]
        .as_str()
        .unwrap_or_default()
        .starts_with("[HIGH] contoso Mobile: MO Direct portal unavailable"));

    p.up.store(true, Ordering::SeqCst);
    p.probe_at([1860, 1890]).await;
    let batch = p.next_batch().await;
    assert_eq!(batch.records.len(), 2);
    assert!(p.evaluate(batch.clone()).await.is_empty());
    assert!(p.evaluate(batch).await.is_empty());
    let pages = p.stack.pages().await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[1].0.starts_with("RESOLVED contoso"), "{}", pages[1].0);
    let emails = p.stack.emails().await;
    assert_eq!(emails.len(), 2);
    assert!(emails[1]["subject"]
        .as_str()
        .unwrap_or_default()
        .starts_with("[RESOLVED]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn records_that_can_never_be_valid_are_skipped_not_retried_and_the_others_are_evaluated() {
    let mut p = Pipeline::new("malformed").await;
    p.probe_at([0, 30, 60, 90]).await;
    let mut batch = p.next_batch().await;
    // Unreadable, and readable but invalid (a status an older prober kept).
    batch.records[1].change.new_image.insert(
        "outcome".into(),
        serde_dynamo::AttributeValue::S("sideways".into()),
    );
    batch.records[2].change.new_image.insert(
        "status".into(),
        serde_dynamo::AttributeValue::N("999".into()),
    );
    let failures = p.evaluate(batch).await;
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "a retry would fail the same way and hold up the shard"
    );
    let state = p
        .stack
        .store()
        .load_state(&operator("contoso").id)
        .await
        .expect("load")
        .expect("state");
    assert_eq!(
        state.value.last_probe_at,
        Some(t0() + Duration::seconds(90)),
        "the good records were evaluated"
    );
    assert_eq!(state.value.down_since, Some(t0()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_round_schedules_the_second_and_the_second_does_not() {
    let stack = Stack::new("rounds").await;
    let sqs = aws_sdk_sqs::Client::new(&stack.config);
    let f = ProbeFunction {
        location: None,
        store: stack.store(),
        prober: portal::local_prober(),
        second_round: Some(SecondRound {
            client: sqs.clone(),
            queue_url: stack.queue_url.clone(),
            delay_seconds: 30,
        }),
        concurrency: 8,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
    };
    let first = f
        .handle(
            &schedule_event(),
            t0(),
            invocation_deadline("ProbeFunction"),
        )
        .await
        .expect("first round");
    assert_eq!(
        (
            first["round"].as_i64(),
            first["second_round_scheduled"].as_bool()
        ),
        (Some(1), Some(true))
    );
    let sqs_event =
        json!({"Records": [{"messageId": "1", "eventSource": "aws:sqs", "body": "{\"round\":2}"}]});
    let second = f
        .handle(
            &sqs_event,
            t0() + Duration::seconds(30),
            invocation_deadline("ProbeFunction"),
        )
        .await
        .expect("second round");
    assert_eq!(
        (
            second["round"].as_i64(),
            second["second_round_scheduled"].as_bool()
        ),
        (Some(2), Some(false))
    );
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&stack.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("attributes");
    let count = |name: aws_sdk_sqs::types::QueueAttributeName| {
        attrs
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let queued = count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed);
    assert_eq!(queued, 1, "one delayed message per minute");
}

fn sample_event(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event")).expect("json")
}

#[test]
fn the_sample_events_are_what_the_functions_expect() {
    use livesite_probe_fn::{round_of, Round};
    assert_eq!(round_of(&sample_event("schedule.json")), Round::First);
    assert_eq!(round_of(&sample_event("second-round.json")), Round::Second);
    for name in ["stream-batch.json", "stream-batch-malformed.json"] {
        let event: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(sample_event(name)).expect("a DynamoDB stream event");
        let readable = event
            .records
            .iter()
            .filter(|r| livesite_evaluate_fn::probe_of(r).is_ok())
            .count();
        assert_eq!(
            (event.records.len(), readable),
            if name == "stream-batch.json" {
                (3, 3)
            } else {
                (4, 3)
            },
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_malformed_sample_batch_skips_its_bad_record_without_a_retry() {
    let p = Pipeline::new("sample").await;
    let event = serde_json::from_value(sample_event("stream-batch-malformed.json")).expect("event");
    let failures = p.evaluate(event).await;
    assert_eq!(failures, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_high_outage_report_through_the_api_pages_once_even_when_the_post_is_retried() {
    use livesite_tests::gateway::{client, Call};
    let stack = Stack::new("api").await;
    let mut op = operator("contoso");
    op.api_clients = vec!["client-contoso".into()];
    stack.store().put_operator(&op).await.expect("register");
    let api = stack.api(&stack.config, Policy::default());
    let now: chrono::DateTime<chrono::Utc> = "2026-11-27T10:00:00Z".parse().expect("time");
    let report = json!({
        "service": "core_network_services", "severity": "high",
        "started_at": "2026-11-27T09:40:00Z", "aware_at": "2026-11-27T09:45:00Z",
        "description": "PGW outage", "impact": "no data", "contact": "noc@contoso.example"
    });
    let post = || {
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(report.clone())
            .key("retry-me")
            .request()
    };
    let first = api.handle(post(), now).await;
    assert_eq!(first.status(), 201);
    let retry = api.handle(post(), now + Duration::seconds(3)).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let pages = stack.pages().await;
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(
        pages[0].2["dedup_key"]["Value"],
        "contoso-20261127T094500Z-report#page-report"
    );
    let emails = stack.emails().await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(
        emails[0]["destinations"]["ToAddresses"],
        json!(["osoc@dynamo.example"])
    );
    assert_eq!(
        emails[0]["destinations"]["CcAddresses"],
        json!(["noc@contoso.example"])
    );
    let stored = stack
        .store()
        .get_incident("contoso-20261127T094500Z-report")
        .await
        .expect("get");
    assert!(stored.is_some(), "the report is stored as an incident");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unacknowledged_high_incident_is_escalated_once_after_an_hour_and_silence_raises_one_blind_alert(
) {
    use livesite_core::service::sweep;
    let mut p = Pipeline::new("sweep").await;
    p.probe_at((0..=61).map(|i| i * 30)).await;
    let batch = p.next_batch().await;
    assert!(p.evaluate(batch).await.is_empty());
    assert_eq!(p.stack.pages().await.len(), 1, "the opening page");
    let (store, notifier, team, policy) = (
        p.stack.store(),
        p.stack.notifier(),
        p.stack.team(),
        livesite_core::Policy::default(),
    );
    let opened = t0() + Duration::seconds(1830);
    // Sweeps every 5 minutes of simulated time. The last probe was at 30:30,
    // so the monitor is blind from 35:30 on (nothing probes any more here).
    let mut due_keys = Vec::new();
    for minutes in (5..=90).step_by(5) {
        let report = sweep(
            &store,
            &notifier,
            &team,
            &policy,
            opened + Duration::minutes(minutes),
            &|| true,
        )
        .await;
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert!(
            report.delivery.failed.is_empty(),
            "{:?}",
            report.delivery.failed
        );
        due_keys.extend(report.enqueued.iter().map(|n| (minutes, n.key.clone())));
    }
    assert_eq!(
        due_keys,
        vec![
            // Its only operator silent: the whole monitor is blind. Exactly 5
            // minutes is not yet; 10 is.
            (10, "fleet#blind-20261124T103030Z".to_string()),
            (
                65,
                "contoso-20261124T100000Z-portal_down#reminder-initial".to_string()
            ),
            (
                65,
                "contoso-20261124T100000Z-portal_down#page-escalate".to_string()
            ),
        ],
        "blind once, escalated once, an hour after the page and not before"
    );
    let pages = p.stack.pages().await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(
        pages[1].0.starts_with("ESCALATION contoso"),
        "{}",
        pages[1].0
    );
    let emails = p.stack.emails().await;
    let blind: Vec<_> = emails
        .iter()
        .filter(|e| {
            e["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with("[MONITOR BLIND]")
        })
        .collect();
    assert_eq!(blind.len(), 1);
    assert_eq!(
        blind[0]["destinations"]["ToAddresses"],
        json!(["osoc@dynamo.example"]),
        "the team, not the operator"
    );
}

/// The functions' SDK client trusts the compiled-in roots, handed to it as
/// PEM: every one must decode to the certificate it came from, or every AWS
/// call would fail its TLS handshake in production.
#[test]
fn the_sdk_trusts_every_compiled_in_root() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let pems = livesite_aws::settings::root_pems();
    assert!(pems.len() > 100, "{}", pems.len());
    let mut store = rustls::RootCertStore::empty();
    for pem in &pems {
        let der = CertificateDer::from_pem_slice(pem).expect("valid PEM");
        store.add(der).expect("a valid root certificate");
    }
    assert_eq!(store.len(), pems.len());
}

/// The functions' own configuration (their HTTPS client included) talks to
/// the emulator like the tests' does.
#[tokio::test(flavor = "multi_thread")]
async fn the_functions_sdk_configuration_reaches_the_emulator() {
    let stack = Stack::new("own-config").await;
    // Only this configuration reads these: the tests' own set theirs.
    std::env::set_var("AWS_ENDPOINT_URL", livesite_tests::emulator::endpoint());
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let config = livesite_aws::settings::aws_config().await;
    // One table by name: a list is paged at 100, and a long-lived emulator
    // holds more.
    let table = aws_sdk_dynamodb::Client::new(&config)
        .describe_table()
        .table_name(&stack.tables.state)
        .send()
        .await
        .expect("describe the state table");
    assert_eq!(
        table.table().and_then(|t| t.table_name()),
        Some(stack.tables.state.as_str())
    );
    // The notifier the functions build makes its SNS and SES clients on first
    // use: a page and an email through it arrive.
    use livesite_core::ports::Notifier;
    let settings = livesite_aws::Settings {
        tables: stack.tables.clone(),
        topic_arn: stack.topic_arn.clone(),
        mail_configuration_set: Some(stack.configuration_set.clone()),
        team: stack.team(),
        policy: Policy::default(),
        team_clients: vec![],
        probe: livesite_aws::settings::ProbeSettings {
            tables: stack.tables.clone(),
            tables_region: None,
            location: None,
            second_round_queue_url: None,
            concurrency: None,
        },
        local_principal: None,
    };
    let notifier = livesite_aws::settings::notifier(&config, &settings);
    let mut n = livesite_tests::contract::notification("own-config", 0);
    n.to = stack.team().emails;
    notifier.deliver(&n).await.expect("email");
    n.channel = livesite_core::Channel::Page;
    n.key = "own-config-page".into();
    notifier.deliver(&n).await.expect("page");
    assert_eq!(stack.pages().await.len(), 1);
    assert_eq!(stack.emails().await.len(), 1);
}

/// The second round is scheduled when the first starts, not when its
/// paced probes have all finished: otherwise a round that takes its 10 s
/// spread puts the second 40 s after the first and the next first 20 s after
/// that, instead of every 30 s.
#[tokio::test(flavor = "multi_thread")]
async fn the_second_round_is_scheduled_as_the_first_starts() {
    let stack = Stack::new("schedule-first").await;
    let up = portal::spawn(Behavior::Respond {
        status: 200,
        body: "MO Direct".into(),
    })
    .await;
    // An operator whose place in a 3 s spread is after 2.4 s.
    let id = (0..)
        .map(|i| format!("late-{i}"))
        .find(|id| livesite_core::probe::spread_fraction(id) > 0.8)
        .expect("an id");
    let mut op = operator(&id);
    op.portal = PortalCheck::new(up.http_url("/").parse().expect("url"));
    stack.store().put_operator(&op).await.expect("register");
    let sqs = aws_sdk_sqs::Client::new(&stack.config);
    let f = ProbeFunction {
        location: None,
        store: stack.store(),
        prober: portal::local_prober(),
        second_round: Some(SecondRound {
            client: sqs.clone(),
            queue_url: stack.queue_url.clone(),
            delay_seconds: 0,
        }),
        concurrency: 8,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::from_secs(5)),
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    f.handle(
        &schedule_event(),
        t0(),
        invocation_deadline("ProbeFunction"),
    )
    .await
    .expect("round");
    let got = sqs
        .receive_message()
        .queue_url(&stack.queue_url)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
        )
        .send()
        .await
        .expect("receive");
    let sent: i64 = got.messages()[0]
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
        .and_then(|v| v.parse().ok())
        .expect("sent timestamp");
    // Before this, it went out after the probe, 4.5 s and more into the round.
    assert!(
        sent - started < 3000,
        "sent {} ms after the round started",
        sent - started
    );
}

/// Every variable the four functions read is read by `Settings`, in one
/// place; a bad value stops the start with its name, a blank one is unset.
#[test]
fn settings_read_every_variable_and_name_the_bad_one() {
    use livesite_aws::settings::LocalPrincipal;
    use livesite_aws::Settings;
    let base = [
        ("PROBES_TABLE", "p"),
        ("STATE_TABLE", "s"),
        ("PAGE_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
        ("MAIL_SENDER", "livesite@dynamo.example"),
        ("TEAM_EMAILS", "osoc@dynamo.example, noc@dynamo.example"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let vars: std::collections::HashMap<&str, &str> =
            base.iter().chain(extra).copied().collect();
        Settings::from_lookup(&move |name| vars.get(name).map(|v| v.to_string()))
    };
    let s = with(&[]).expect("the required ones suffice");
    assert_eq!(
        (
            s.team.emails.len(),
            s.team_clients.len(),
            s.local_principal.clone(),
            s.probe.concurrency,
            s.probe.second_round_queue_url.clone()
        ),
        (2, 0, None, None, None)
    );
    assert!(s.policy.locations.expected.is_empty());
    let s = with(&[
        ("TEAM_TIMEZONE", "Europe/Madrid"),
        ("TEAM_CLIENT_IDS", "a, b,,"),
        ("LIVESITE_LOCAL_PRINCIPAL", "client:abc"),
        ("PROBE_CONCURRENCY", "64"),
        ("SECOND_ROUND_QUEUE_URL", "https://sqs/q"),
        ("TEAM_PHONE", "+14255389336"),
        ("TEAM_WORKDAYS", "sun, mon,tue,wed,thu"),
        ("TEAM_HOLIDAYS", "2026-12-25, 2027-01-01"),
        ("PROBE_LOCATION", "eu-west-1"),
        ("TABLES_REGION", "us-east-1"),
        ("PROBE_LOCATIONS", "us-east-1, eu-west-1,ap-southeast-2"),
    ])
    .expect("valid");
    assert_eq!(s.probe.location.as_deref(), Some("eu-west-1"));
    assert_eq!(s.probe.tables_region.as_deref(), Some("us-east-1"));
    assert_eq!(
        s.policy.locations.expected,
        ["us-east-1", "eu-west-1", "ap-southeast-2"],
        "the stack's ProbeLocations name the voters"
    );
    assert_eq!(
        s.team.phone.as_ref().map(|p| p.as_str()),
        Some("+14255389336")
    );
    assert_eq!(s.team.calendar.workdays.len(), 5);
    assert!(!s
        .team
        .calendar
        .is_business_day("2026-12-04".parse().expect("a Friday")));
    assert!(s
        .team
        .calendar
        .is_business_day("2026-12-06".parse().expect("a Sunday")));
    assert!(!s
        .team
        .calendar
        .is_business_day("2026-12-25".parse().expect("a holiday")));
    assert_eq!(s.team_clients, ["a", "b"]);
    assert_eq!(
        s.local_principal,
        Some(LocalPrincipal::Client("abc".into()))
    );
    assert_eq!(s.probe.concurrency, Some(64));
    assert_eq!(
        s.probe.second_round_queue_url.as_deref(),
        Some("https://sqs/q")
    );
    assert_eq!(
        s.team.calendar.timezone,
        "Europe/Madrid".parse::<livesite_core::Tz>().expect("tz")
    );
    for (name, value) in [
        ("TEAM_TIMEZONE", "Mars/Olympus"),
        ("LIVESITE_LOCAL_PRINCIPAL", "root"),
        ("PROBE_CONCURRENCY", "many"),
        ("POLICY_JSON", "{\"outage_after\": 5}"),
        // The stack's schedule fixes the cadence the rounds are decided on.
        ("POLICY_JSON", "{\"probe_interval\": \"1m\"}"),
        ("MAIL_SENDER", "not an address"),
        ("TEAM_PHONE", "+1 425-538-9336"),
        ("TEAM_WORKDAYS", "mon,funday"),
        ("TEAM_HOLIDAYS", "2026-13-01"),
        ("PROBE_LOCATION", "EU West"),
        ("TABLES_REGION", "us east"),
        ("PROBE_LOCATIONS", "us-east-1,EU"),
    ] {
        let e = with(&[(name, value)]).expect_err(name).to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
    let e = Settings::from_lookup(&|_| None)
        .expect_err("nothing set")
        .to_string();
    assert!(e.contains("is not set"), "{e}");
    // A probe stack in another region is given its tables and location only.
    let probe = livesite_aws::settings::ProbeSettings::from_lookup(&|name| {
        let v = match name {
            "PROBES_TABLE" => "p",
            "STATE_TABLE" => "s",
            "TABLES_REGION" => "us-east-1",
            "PROBE_LOCATION" => "eu-west-1",
            _ => return None,
        };
        Some(v.to_string())
    })
    .expect("enough for the probe");
    assert_eq!(
        (probe.tables.probes.as_str(), probe.location.as_deref()),
        ("p", Some("eu-west-1"))
    );
}

/// Two probe functions as two locations (each with its own location, as
/// `PROBE_LOCATION` sets it), probing one portal through their own view of
/// its name: 35 minutes with one location seeing it down and the other up
/// page nobody and open one Low location-health incident for the team; both
/// seeing it down page once, at the 30:30 round's time.
#[tokio::test(flavor = "multi_thread")]
async fn two_locations_page_only_when_the_quorum_sees_the_portal_down() {
    use std::net::IpAddr;
    let live: IpAddr = "127.0.0.1".parse().expect("ip");
    let dead: IpAddr = "127.0.0.2".parse().expect("ip");
    // (scenario, what eu-west-1's name resolves to, pages, team-only emails)
    for (scenario, west, pages, team_only) in [("one-path", live, 0, 1), ("both-down", dead, 1, 0)]
    {
        let stack = Stack::new(&format!("locations-{scenario}")).await;
        let portal = portal::spawn(Behavior::Respond {
            status: 200,
            body: "MO Direct".into(),
        })
        .await;
        let mut op = operator("contoso");
        op.portal = PortalCheck::new(
            format!("http://portal.test:{}/modirect", portal.port)
                .parse()
                .expect("url"),
        );
        stack.store().put_operator(&op).await.expect("register");
        let function = |location: &str, ip: IpAddr| ProbeFunction {
            location: Some(location.into()),
            store: stack.store(),
            prober: portal::local_prober().resolving("portal.test", vec![ip]),
            second_round: None,
            concurrency: 8,
            pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
        };
        let (eu, us) = (function("eu-west-1", west), function("us-east-1", dead));
        for r in 0..=71 {
            let at = t0() + Duration::seconds(r * 30);
            // Every other round both locations' results share their
            // millisecond: each is still its own record.
            for (f, offset) in [(&eu, 0), (&us, 137 * (r % 2))] {
                let out = f
                    .handle(
                        &schedule_event(),
                        at + Duration::milliseconds(offset),
                        invocation_deadline("ProbeFunction"),
                    )
                    .await
                    .expect("round");
                assert_eq!(out["lost"], 0, "{out}");
            }
        }
        let records = stack.stream_records(None).await;
        assert_eq!(
            records.len(),
            144,
            "two locations' records, none overwritten"
        );
        let directory = RegistryDirectory {
            store: stack.store(),
            policy: Policy {
                locations: livesite_core::config::LocationPolicy {
                    expected: vec!["eu-west-1".into(), "us-east-1".into()],
                    ..Default::default()
                },
                ..Policy::default()
            },
            team: stack.team(),
        };
        let event = lambda_event(&records, &stack.stream_arn);
        let now = t0() + Duration::hours(1);
        let response = handle(&stack.store(), &stack.notifier(), &directory, event, now).await;
        assert!(response.batch_item_failures.is_empty(), "{scenario}");
        let sent = stack.pages().await;
        assert_eq!(sent.len(), pages, "{scenario}: {sent:?}");
        let incidents = stack
            .store()
            .list_incidents(Some(&op.id), false)
            .await
            .expect("incidents");
        if pages == 1 {
            assert_eq!(incidents[0].id, "contoso-20261124T100000Z-portal_down");
            assert_eq!(
                incidents[0].opened_at,
                t0() + Duration::seconds(1830),
                "at the round's time"
            );
        }
        let emails = stack.emails().await;
        let to_team: Vec<&Value> = emails
            .iter()
            .filter(|e| e["destinations"]["ToAddresses"] == json!(["osoc@dynamo.example"]))
            .collect();
        assert_eq!(to_team.len(), team_only, "{scenario}: {emails:?}");
        if team_only == 1 {
            assert_eq!(incidents[0].kind.as_str(), "location_path");
            assert!(
                incidents[0].summary.contains("us-east-1"),
                "{}",
                incidents[0].summary
            );
        }
    }
}

/// The probes table before several locations voted: keyed by the operator
/// and the millisecond, as livesite-<env>-probes was made.
async fn millisecond_keyed_table(stack: &Stack) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let name = format!("{}-old-probes", stack.name);
    let attr = |n: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
            .expect("attribute")
    };
    let key = |n: &str, k: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .expect("key")
    };
    aws_sdk_dynamodb::Client::new(&stack.config)
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("operator", ScalarAttributeType::S))
        .attribute_definitions(attr("at_ms", ScalarAttributeType::N))
        .key_schema(key("operator", KeyType::Hash))
        .key_schema(key("at_ms", KeyType::Range))
        .send()
        .await
        .expect("create the old probes table");
    name
}

#[tokio::test(flavor = "multi_thread")]
async fn history_copied_from_the_millisecond_keyed_table_is_kept_and_never_evaluated_again() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use livesite_core::ports::ProbeLog;
    let mut p = Pipeline::new("migration").await;
    let old = millisecond_keyed_table(&p.stack).await;
    let ddb = aws_sdk_dynamodb::Client::new(&p.stack.config);
    // 30:30 of failures, as the old probe function wrote them.
    let history = livesite_tests::fixtures::failures("contoso", 0, 1830);
    for probe in &history {
        let mut item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(probe).expect("item");
        let ms = probe.probed_at.timestamp_millis();
        item.insert("at_ms".into(), AttributeValue::N(ms.to_string()));
        item.insert(
            "ttl".into(),
            AttributeValue::N((ms / 1000 + 86_400).to_string()),
        );
        ddb.put_item()
            .table_name(&old)
            .set_item(Some(item))
            .send()
            .await
            .expect("old item");
    }
    ddb.put_item()
        .table_name(&old)
        .item("operator", AttributeValue::S("contoso".into()))
        .item("at_ms", AttributeValue::N("1".into()))
        .item("outcome", AttributeValue::S("sideways".into()))
        .send()
        .await
        .expect("an unreadable old item");

    let store = p.stack.store();
    let since = t0() + Duration::minutes(15);
    let part = livesite_aws::migrate::copy_probes(&store, &old, Some(since))
        .await
        .expect("copy since");
    assert_eq!(part.copied, 32, "15:00 to 30:30: {part:?}");
    let done = livesite_aws::migrate::copy_probes(&store, &old, None)
        .await
        .expect("copy all");
    assert_eq!((done.copied, done.lost.len()), (62, 0), "{done:?}");
    assert_eq!(done.unreadable.len(), 1, "left in place, named: {done:?}");
    let kept = store
        .range(&history[0].operator, t0(), t0() + Duration::hours(1))
        .await
        .expect("range");
    assert_eq!(
        kept, history,
        "every result once, whole, in order, after a re-run"
    );

    let records = p.stack.stream_records(None).await;
    assert!(records.len() >= 62, "the copies are on the stream");
    assert!(
        p.next_batch().await.records.is_empty(),
        "the template's stream filter passes every copy by"
    );
    // Were one to reach the evaluator anyway, it changes nothing.
    let unfiltered: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(json!({ "Records": records })).expect("event");
    assert!(p.evaluate(unfiltered).await.is_empty());
    let state = store.load_state(&history[0].operator).await.expect("state");
    assert!(state.is_none(), "no state from history: {state:?}");
    assert!(
        p.stack.pages().await.is_empty(),
        "30:30 of old failures page nobody"
    );
}

/// Records written before kinds were listed through the `pending` index
/// (listed by a scan then) are indexed by `index_records`, once: a kind's
/// listing then finds them by query, the team's and every operator's.
#[tokio::test(flavor = "multi_thread")]
async fn records_written_before_the_listing_index_are_indexed_once() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use livesite_core::ports::RecordStore;
    let store = fresh().await;
    let s = |v: &str| AttributeValue::S(v.into());
    for (id, operator) in [("w-team", None), ("w-contoso", Some("contoso"))] {
        let mut put = store
            .client()
            .put_item()
            .table_name(&store.tables().state)
            .item("pk", s(&format!("REC#maintenance#{id}")))
            .item("sk", s("REC"))
            .item("entity", s("record"))
            .item("kind", s("maintenance"))
            .item("id", s(id))
            .item("doc", AttributeValue::M([("id".to_string(), s(id))].into()));
        if let Some(op) = operator {
            put = put
                .item("operator", s(op))
                .item("gsi1pk", s(&format!("OPREC#maintenance#{op}")))
                .item("gsi1sk", s(id));
        }
        put.send().await.expect("an old record");
    }
    let op = livesite_core::OperatorId::new("fabrikam").expect("id");
    store
        .create_record("maintenance", "w-new", Some(&op), &json!({"id": "w-new"}))
        .await
        .expect("a new record");
    let listed = |v: Vec<Value>| {
        let mut ids: Vec<String> = v
            .iter()
            .map(|d| d["id"].as_str().unwrap_or("?").to_string())
            .collect();
        ids.sort();
        ids
    };
    let before = store.list_records("maintenance", None).await.expect("list");
    assert_eq!(
        listed(before),
        ["w-new"],
        "old records lack the index's key"
    );
    assert_eq!(store.index_records().await.expect("index"), 2);
    assert_eq!(store.index_records().await.expect("again"), 0, "once");
    let after = store.list_records("maintenance", None).await.expect("list");
    assert_eq!(listed(after), ["w-contoso", "w-new", "w-team"]);
}
