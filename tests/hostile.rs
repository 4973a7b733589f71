//! One tenant can't hurt another, end to end. In one run on the emulator,
//! behind the proxy that enforces IAM, DynamoDB's limits and the SES sandbox,
//! next to healthy operators: portals that redirect to 127.0.0.1 and to
//! 169.254.169.254, one that answers 999, one with a 300 KB header, one that
//! trickles, and an operator flooding information requests whose mail SES
//! rejects. The healthy operator whose portal is down is paged by the evaluate
//! invocation that reads its 30:30 probe, as if nobody else were there.

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use livesite_core::ports::{OperatorRegistry, Outbox};
use livesite_core::{EmailAddress, Policy, PortalCheck};
use livesite_evaluate_fn::RegistryDirectory;
use livesite_probe_fn::ProbeFunction;
use livesite_prober::HttpProber;
use livesite_tests::emulator::{lambda_event, Stack};
use livesite_tests::fixtures::{operator, t0};
use livesite_tests::gateway::{client, Call};
use livesite_tests::portal::{self, Behavior, Portal};
use livesite_tests::proxy::Enforcer;
use livesite_tests::template::invocation_deadline;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;

/// The portals live on 127.0.0.2, the only address the prober trusts here:
/// 127.0.0.1, where a redirect points, stays as forbidden as in production.
const PORTALS: &str = "127.0.0.2";
/// The flood through the API: 40 requests in a minute against a limit of
/// 30 a minute per operator: 30 get through, 10 are refused (429).
const FLOOD_PER_MINUTE: usize = 40;
const LIMIT_PER_MINUTE: u32 = 30;
/// What earlier minutes of the flood left in the outbox (recorded directly,
/// to keep the test short: the same emails the API records, to the same
/// refused address). With the API's, more than one evaluate invocation
/// delivers (200): before pages and emails waited apart, the flood alone
/// filled that window and the page waited.
const EARLIER_FLOOD: usize = 240;
const FLOOD: usize = LIMIT_PER_MINUTE as usize + EARLIER_FLOOD;

fn schedule_event() -> Value {
    json!({"version": "0", "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
}

struct World {
    stack: Stack,
    iam: Enforcer,
    _portals: Vec<Portal>,
    /// A server on 127.0.0.1 that the loopback redirect points at.
    internal: Portal,
}

async fn world() -> World {
    let stack = Stack::new("hostile-tenants").await;
    let internal = portal::spawn(Behavior::Respond {
        status: 200,
        body: "the Runtime API".into(),
    })
    .await;
    let behaviors = vec![
        (
            "healthy-up",
            Behavior::Respond {
                status: 200,
                body: "MO Direct".into(),
            },
        ),
        (
            "healthy-down",
            Behavior::Respond {
                status: 503,
                body: "down".into(),
            },
        ),
        (
            "to-loopback",
            Behavior::RedirectTo(internal.http_url("/2018-06-01/runtime/invocation/next")),
        ),
        (
            "to-metadata",
            Behavior::RedirectTo("http://169.254.169.254/latest/meta-data/".into()),
        ),
        (
            "status-999",
            Behavior::Respond {
                status: 999,
                body: "MO Direct".into(),
            },
        ),
        ("big-header", Behavior::LongRedirect { bytes: 300 * 1024 }),
        (
            "trickles",
            Behavior::Trickle {
                every: StdDuration::from_millis(50),
            },
        ),
    ];
    let mut portals = Vec::new();
    for (id, behavior) in behaviors {
        let p = portal::spawn_on(PORTALS, behavior).await;
        let mut op = operator(id);
        op.portal = PortalCheck::new(p.http_url("/").parse().expect("url"));
        op.portal.timeout = StdDuration::from_millis(if id == "trickles" { 100 } else { 1000 });
        stack.store().put_operator(&op).await.expect("register");
        portals.push(p);
    }
    let mut spammer = operator("spammer");
    spammer.contacts = vec![EmailAddress::parse("bounce@spammer.example").expect("email")];
    spammer.api_clients = vec!["client-spammer".into()];
    spammer.portal = PortalCheck::new(portals[0].http_url("/").parse().expect("url"));
    stack
        .store()
        .put_operator(&spammer)
        .await
        .expect("register");
    // The SES sandbox: every address but the spammer's is verified.
    let verified: Vec<String> = [
        "healthy-up",
        "healthy-down",
        "to-loopback",
        "to-metadata",
        "status-999",
        "big-header",
        "trickles",
    ]
    .iter()
    .map(|id| format!("noc@{id}.example"))
    .chain(["osoc@dynamo.example".to_string()])
    .collect();
    let verified: Vec<&str> = verified.iter().map(String::as_str).collect();
    let iam = Enforcer::start(&stack).await.with_ses_sandbox(&verified);
    World {
        stack,
        iam,
        _portals: portals,
        internal,
    }
}

/// The spammer's flood through the API: every request is accepted (they are
/// its own registered contact), and every one's mail is rejected by SES.
async fn flood(w: &World) {
    let cfg = w.iam.config("ApiFunction").await;
    let api = w.stack.api(
        &cfg,
        Policy {
            api_requests_per_minute: LIMIT_PER_MINUTE,
            ..Policy::default()
        },
    );
    for i in 0..EARLIER_FLOOD {
        let mut n =
            livesite_tests::contract::notification(&format!("spammer-earlier-{i}#email"), 0);
        n.operator = livesite_core::OperatorId::new("spammer").expect("id");
        n.topic = livesite_core::notify::Topic::InformationRequest;
        n.to = w.stack.team().emails;
        n.cc = vec![EmailAddress::parse("bounce@spammer.example").expect("email")];
        n.created_at = t0() - Duration::minutes(5);
        w.stack.store().enqueue(&n).await.expect("enqueue");
    }
    // Eight at a time, as concurrent clients would.
    let answers: Vec<u16> = futures::stream::iter(0..FLOOD_PER_MINUTE)
        .map(|i| {
            let api = &api;
            async move {
                // Within the first second: each request's own delivery fails
                // and backs off.
                let at = t0() + Duration::milliseconds(i as i64);
                let body = json!({"subject": format!("question {i}"), "question": "?", "contact": "bounce@spammer.example"});
                let request = Call::new("POST", "/v1/information-requests")
                    .claims(client("client-spammer"))
                    .json(body)
                    .request();
                api.handle(request, at).await.status().as_u16()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let accepted = answers.iter().filter(|s| **s == 201).count();
    let limited = answers.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (accepted, limited),
        (
            LIMIT_PER_MINUTE as usize,
            FLOOD_PER_MINUTE - LIMIT_PER_MINUTE as usize
        ),
        "{answers:?}"
    );
}

async fn round(f: &ProbeFunction<HttpProber>, at: DateTime<Utc>) {
    let out = f
        .handle(&schedule_event(), at, invocation_deadline("ProbeFunction"))
        .await
        .expect("round");
    assert_eq!(
        (out["written"].as_u64(), out["lost"].as_u64()),
        (Some(8), Some(0)),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_tenants_do_not_delay_a_healthy_operators_page() {
    let w = world().await;
    flood(&w).await;
    let probe = ProbeFunction {
        location: None,
        store: w.stack.store_with(&w.iam.config("ProbeFunction").await),
        prober: HttpProber::new()
            .expect("prober")
            .trusting([PORTALS.parse().expect("cidr")]),
        second_round: None,
        concurrency: 900,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
    };
    // Rounds every 30 s from 10:00:00 to 10:30:00: down, but not yet 30 minutes.
    for i in 0..=60 {
        round(&probe, t0() + Duration::seconds(30 * i)).await;
    }
    let cfg = w.iam.config("EvaluateFunction").await;
    let store = w.stack.store_with(&cfg);
    let notifier = w.stack.notifier_with(&cfg);
    let directory = RegistryDirectory {
        store: store.clone(),
        policy: Policy::default(),
        team: w.stack.team(),
    };
    let records = w
        .stack
        .stream_records_as(w.iam.url(), "EvaluateFunction", None)
        .await;
    assert_eq!(records.len(), 61 * 8);
    let last = records
        .last()
        .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
        .map(str::to_string);
    let evaluate = |records: Vec<Value>, now: DateTime<Utc>| {
        let (store, notifier, directory) = (&store, &notifier, &directory);
        let stream = w.stack.stream_arn.clone();
        async move {
            livesite_evaluate_fn::handle(
                store,
                notifier,
                directory,
                lambda_event(&records, &stream),
                now,
            )
            .await
        }
    };
    // Stream batches of at most 100 records, as the mapping delivers them.
    for batch in records.chunks(100) {
        let r = evaluate(batch.to_vec(), t0() + Duration::minutes(30)).await;
        assert!(r.batch_item_failures.is_empty());
    }
    assert!(
        w.stack.pages().await.is_empty(),
        "exactly 30:00 does not page"
    );

    // The 30:30 round, and the one evaluate invocation that reads it.
    let at = t0() + Duration::seconds(1830);
    round(&probe, at).await;
    let batch = w
        .stack
        .stream_records_as(w.iam.url(), "EvaluateFunction", last.as_deref())
        .await;
    assert_eq!(batch.len(), 8);
    let r = evaluate(batch, at + Duration::seconds(5)).await;
    assert!(r.batch_item_failures.is_empty());
    let pages = w.stack.pages().await;
    let healthy_page = pages
        .iter()
        .filter(|(text, _, _)| text.contains("healthy-down"))
        .count();
    assert_eq!(healthy_page, 1, "paged in that invocation: {pages:?}");

    // Every hostile portal was recorded down, by what it did; nothing
    // reached 127.0.0.1, and nobody else paged before their own 30 minutes.
    let items: Vec<Value> = w
        .stack
        .stream_records(None)
        .await
        .into_iter()
        .map(|r| r["dynamodb"]["NewImage"].clone())
        .collect();
    let reason = |id: &str| {
        items
            .iter()
            .rev()
            .find(|i| i["operator"]["S"] == id)
            .map(|i| i["reason"]["S"].as_str().unwrap_or("none").to_string())
            .expect("recorded")
    };
    for (id, want) in [
        ("healthy-up", "none"),
        ("healthy-down", "status"),
        ("to-loopback", "connect"),
        ("to-metadata", "connect"),
        ("status-999", "protocol"),
        ("big-header", "protocol"),
        ("trickles", "timeout"),
    ] {
        assert_eq!(reason(id), want, "{id}");
    }
    assert_eq!(
        w.internal.hits(),
        0,
        "the loopback redirect never connected"
    );
    // The flood's mail is backing off, not in front of anything.
    let e = store
        .get_entry("spammer-20261124T100000000Z-information_request#email")
        .await
        .expect("get")
        .expect("the first flood email");
    assert!(e.attempts >= 1 && e.next_attempt_at.is_some(), "{e:?}");
    assert!(
        w.iam
            .refusals()
            .iter()
            .filter(|r| r.contains("not verified"))
            .count()
            >= FLOOD,
        "every flood email was rejected by the sandbox"
    );
    w.iam.assert_no_denials();
}
