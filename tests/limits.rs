//! AWS's limits, held by the code. The functions run behind the enforcing
//! proxy (tests/helpers/iam.rs), which refuses what AWS refuses and moto does
//! not: calls outside the role, items over 400 KB, batches over 25. Each test
//! here fails without the fix it names.

use chrono::{Duration, Utc};
use livesite_core::ports::OperatorRegistry;
use livesite_core::{PortalCheck, ProbeResult};
use livesite_evaluate_fn::RegistryDirectory;
use livesite_probe_fn::ProbeFunction;
use livesite_tests::emulator::{lambda_event, Stack};
use livesite_tests::fixtures::{operator, probe, t0};
use livesite_tests::portal::{self, Behavior};
use livesite_tests::proxy::{item_size, Enforcer, ITEM_LIMIT};
use livesite_tests::template::{function_timeout, invocation_deadline};
use serde_json::{json, Value};
use std::time::Instant;

fn schedule_event() -> Value {
    json!({"version": "0", "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
}

/// The evaluate handler on `records`, with the function's role.
async fn evaluate_as_the_function(
    stack: &Stack,
    iam: &Enforcer,
    records: &[Value],
) -> aws_lambda_events::event::streams::DynamoDbEventResponse {
    let cfg = iam.config("EvaluateFunction").await;
    let store = stack.store_with(&cfg);
    let directory = RegistryDirectory {
        store: store.clone(),
        policy: livesite_core::Policy::default(),
        team: stack.team(),
    };
    livesite_evaluate_fn::handle(
        &store,
        &stack.notifier_with(&cfg),
        &directory,
        lambda_event(records, &stack.stream_arn),
        Utc::now(),
    )
    .await
}

/// Every probe item stored, as the emulator holds it (DynamoDB JSON).
async fn stored_items(stack: &Stack) -> Vec<Value> {
    stack
        .stream_records(None)
        .await
        .into_iter()
        .map(|r| r["dynamodb"]["NewImage"].clone())
        .collect()
}

/// fix: `DynamoStore::append_many` writes the items of a refused batch one
/// by one. Without it, one oversized record loses all 25.
#[tokio::test(flavor = "multi_thread")]
async fn one_item_dynamodb_refuses_costs_only_itself_not_its_batch() {
    let stack = Stack::new("batch-refusal").await;
    let iam = Enforcer::start(&stack).await;
    let store = stack.store_with(&iam.config("ProbeFunction").await);
    let mut probes: Vec<ProbeResult> = (0..25)
        .map(|i| probe(&format!("op{i:02}"), 0, i % 2 == 0))
        .collect();
    // A record from outside the prober, its detail far over the item limit.
    probes[7].detail = Some("x".repeat(ITEM_LIMIT + 1));
    let lost = store.append_many(&probes).await;
    assert_eq!(
        iam.refusals(),
        vec!["Item size has exceeded the maximum allowed size".to_string(); 2],
        "the batch, then the item alone, were refused as AWS refuses them"
    );
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].0.operator.as_str(), "op07");
    assert!(lost[0].1.contains("Item size"), "{}", lost[0].1);
    assert_eq!(
        stored_items(&stack).await.len(),
        24,
        "the other 24 are stored"
    );
    iam.assert_no_denials();
}

/// fixes: status codes outside 100-599 are `protocol` failures without a
/// status; the response head is capped and the stored URL and detail
/// bounded; the round writes results as they complete and carries the
/// invocation's deadline; invalid records are skipped, never retried.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_round_stores_every_operators_result_in_time_and_evaluates_cleanly() {
    let stack = Stack::new("hostile").await;
    let iam = Enforcer::start(&stack).await;
    let mut portals = Vec::new();
    let behaviors = [
        (
            "healthy1",
            Behavior::Respond {
                status: 200,
                body: "MO Direct".into(),
            },
        ),
        (
            "healthy2",
            Behavior::Respond {
                status: 200,
                body: "MO Direct".into(),
            },
        ),
        (
            "healthy3",
            Behavior::Respond {
                status: 200,
                body: "MO Direct".into(),
            },
        ),
        (
            "status999",
            Behavior::Respond {
                status: 999,
                body: "MO Direct".into(),
            },
        ),
        ("bigheader", Behavior::LongRedirect { bytes: 300 * 1024 }),
        ("hangs", Behavior::Silent),
    ];
    for (id, behavior) in behaviors {
        let p = portal::spawn(behavior).await;
        let mut op = operator(id);
        op.portal = PortalCheck::new(p.http_url("/").parse().expect("url"));
        if id == "hangs" {
            op.portal.timeout = PortalCheck::MAX_TIMEOUT;
        }
        stack.store().put_operator(&op).await.expect("register");
        portals.push(p);
    }
    let f = ProbeFunction {
        location: None,
        store: stack.store_with(&iam.config("ProbeFunction").await),
        prober: portal::local_prober(),
        second_round: None,
        concurrency: 900,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
    };
    let event = schedule_event();
    let started = Instant::now();
    let round = f.handle(&event, t0(), invocation_deadline("ProbeFunction"));
    let early = async {
        // While the hung portal holds its probe, the others are already stored.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        stored_items(&stack).await.len()
    };
    let (out, stored_early) = tokio::join!(round, early);
    let out = out.expect("round");
    let took = started.elapsed();
    assert_eq!(
        stored_early, 5,
        "written as they completed, not after the slowest"
    );
    assert!(
        took < function_timeout("ProbeFunction"),
        "{took:?}: the round must end within the function's timeout"
    );
    assert!(
        took >= PortalCheck::MAX_TIMEOUT,
        "the hung portal had its full timeout"
    );
    assert_eq!(
        (
            out["written"].as_u64(),
            out["lost"].as_u64(),
            out["not_run"].as_u64()
        ),
        (Some(6), Some(0), Some(0)),
        "{out}"
    );
    let items = stored_items(&stack).await;
    assert_eq!(items.len(), 6);
    for item in &items {
        assert!(item_size(item) <= 1024, "{} bytes: {item}", item_size(item));
    }
    let reason = |id: &str| {
        items
            .iter()
            .find(|i| i["operator"]["S"] == id)
            .map(|i| (i["reason"]["S"].clone(), i.get("status").cloned()))
            .expect("stored")
    };
    assert_eq!(
        reason("status999"),
        (json!("protocol"), Some(json!({"NULL": true})))
    );
    assert_eq!(reason("bigheader").0, json!("protocol"));
    assert_eq!(reason("hangs").0, json!("timeout"));
    // The evaluator takes all of them: no batch item failure holds the shard.
    let records = stack
        .stream_records_as(iam.url(), "EvaluateFunction", None)
        .await;
    let response = evaluate_as_the_function(&stack, &iam, &records).await;
    assert!(response.batch_item_failures.is_empty());
    iam.assert_no_denials();
    assert!(iam.refusals().is_empty(), "{:?}", iam.refusals());
}

/// The Lambda's pacing spreads a round 10 ms a portal, up to 10 s: the
/// measured density (docs/measurements.md) at any fleet size, and no more
/// waiting billed than the fleet needs (docs/cost.md).
#[test]
fn the_round_spread_grows_with_the_fleet_up_to_ten_seconds() {
    use livesite_probe_fn::Pacing;
    use std::time::Duration as D;
    for (portals, spread) in [
        (0, D::ZERO),
        (1, D::from_millis(10)),
        (100, D::from_secs(1)),
        (1000, D::from_secs(10)),
        (5000, D::from_secs(10)),
        (usize::MAX, D::from_secs(10)),
    ] {
        assert_eq!(Pacing::LAMBDA.spread(portals), spread, "{portals}");
    }
    assert_eq!(Pacing::fixed(D::from_secs(3)).spread(2), D::from_secs(3));
}

/// fix: a probe whose timeout would end past the deadline less the write
/// margin is not started (it would be cut by the function's timeout, taking
/// the unwritten results with it); it is counted, never recorded as down.
#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_cannot_finish_before_the_deadline_is_not_started() {
    let stack = Stack::new("deadline").await;
    let quick = portal::spawn(Behavior::Respond {
        status: 200,
        body: "ok".into(),
    })
    .await;
    let slow = portal::spawn(Behavior::Silent).await;
    for (id, p, secs) in [("quick", &quick, 1), ("slow", &slow, 5)] {
        let mut op = operator(id);
        op.portal = PortalCheck::new(p.http_url("/").parse().expect("url"));
        op.portal.timeout = std::time::Duration::from_secs(secs);
        stack.store().put_operator(&op).await.expect("register");
    }
    let f = ProbeFunction {
        location: None,
        store: stack.store(),
        prober: portal::local_prober(),
        second_round: None,
        concurrency: 8,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
    };
    // 8 s left: minus the 5 s write margin, only probes of up to 3 s start.
    let deadline = Instant::now() + std::time::Duration::from_secs(8);
    let out = f
        .handle(&schedule_event(), t0() + Duration::seconds(30), deadline)
        .await
        .expect("round");
    assert!(Instant::now() < deadline);
    assert_eq!(
        (out["written"].as_u64(), out["not_run"].as_u64()),
        (Some(1), Some(1)),
        "{out}"
    );
    assert_eq!(slow.hits(), 0, "never started");
}

/// fix: a round's probes start spread over `spread` (each operator at its
/// stable place), so that on the function's CPU share they don't queue
/// behind each other's TLS handshakes (docs/measurements.md); but a probe
/// whose place is too late to finish within the invocation starts early
/// enough instead, never not at all.
#[tokio::test(flavor = "multi_thread")]
async fn a_paced_round_spreads_its_starts_but_never_past_what_a_probe_needs() {
    let stack = Stack::new("paced").await;
    let spread = std::time::Duration::from_secs(20);
    // Operators whose places in a 20 s spread are after 6 s.
    let late: Vec<String> = (0..)
        .map(|i| format!("late-{i}"))
        .filter(|id| livesite_core::probe::spread_fraction(id) > 0.3)
        .take(3)
        .collect();
    let silent = portal::spawn(Behavior::Silent).await;
    for id in &late {
        let mut op = operator(id);
        op.portal = PortalCheck::new(silent.http_url("/").parse().expect("url"));
        op.portal.timeout = std::time::Duration::from_secs(3);
        stack.store().put_operator(&op).await.expect("register");
    }
    let f = ProbeFunction {
        location: None,
        store: stack.store(),
        prober: portal::local_prober(),
        second_round: None,
        concurrency: 8,
        pacing: livesite_probe_fn::Pacing::fixed(spread),
    };
    // 12 s left: the last start that still ends 5 s before the deadline is
    // at 7 s less each probe's 3 s timeout: 4 s.
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs(12);
    let out = f
        .handle(&schedule_event(), t0(), deadline)
        .await
        .expect("round");
    let took = started.elapsed();
    assert_eq!(
        (out["written"].as_u64(), out["not_run"].as_u64()),
        (Some(3), Some(0)),
        "{out}"
    );
    assert!(
        took >= std::time::Duration::from_secs(3) && took < std::time::Duration::from_secs(8),
        "{took:?}: started by 4 s, timed out 3 s later"
    );
}

/// One DynamoDB write unit is 1 KB: the two writes made for every probe of
/// every operator (its probe item, its monitor state) are billed by it, and
/// the cost model (docs/cost.md) counts them. Both are measured
/// here as the real store sends them, at their largest: the longest
/// operator id, every field set, free text at its bound, the worst day of
/// windows with both incidents open.
#[tokio::test(flavor = "multi_thread")]
async fn the_hot_writes_fit_their_write_units() {
    use livesite_core::evaluate::fixtures::worst_day_state;
    use livesite_core::ports::StateStore;
    use livesite_core::{FailureReason, Outcome};
    const WRITE_UNIT: usize = 1024;
    let stack = Stack::new("write-units").await;
    let iam = Enforcer::start(&stack).await;

    let state = worst_day_state(t0());
    let evaluator = stack.store_with(&iam.config("EvaluateFunction").await);
    evaluator.save_state(&state, None).await.expect("save");
    let loaded = evaluator
        .load_state(&state.operator)
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(loaded.value, state, "the compact form reads back whole");

    let prober = stack.store_with(&iam.config("ProbeFunction").await);
    assert!(prober.append_many(&[widest_probe()]).await.is_empty());

    // The worst day's state holds an open day whose timings spread over two
    // decades (its latency sketch): two units. A usual day's is one (below).
    for (table, what, units) in [
        (&stack.tables.state, "state", 2),
        (&stack.tables.probes, "probe", 1),
    ] {
        let items = iam.items_written_to(table);
        assert_eq!(items.len(), 1, "{what}");
        let size = item_size(&items[0]);
        eprintln!("the largest {what} item: {size} bytes");
        assert!(
            size <= units * WRITE_UNIT,
            "{what}: {size} bytes: {}",
            items[0]
        );
    }

    // What storage is billed by: a usual healthy HTTPS probe (docs/cost.md).
    assert!(prober.append_many(&[usual_probe()]).await.is_empty());
    let items = iam.items_written_to(&stack.tables.probes);
    let size = item_size(&items[1]);
    eprintln!("a usual probe item: {size} bytes");
    assert!(size <= 512, "{size} bytes: {}", items[1]);

    // A name with several addresses lists each one's outcome: a usual
    // dual-stack portal (one A, one AAAA) stays one write unit; the most a
    // record can hold (every address an IPv6 one, down, at the bounds) is two.
    let address = |ip: &str, up: bool| livesite_core::probe::AddressResult {
        address: ip.parse().expect("ip"),
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: (!up).then_some(FailureReason::Timeout),
        latency_ms: Some(19_999.999),
    };
    let mut dual = usual_probe();
    dual.probed_at += Duration::seconds(30);
    dual.addresses = vec![address("203.0.113.7", true), address("2001:db8::7", true)];
    let mut widest = widest_probe();
    widest.probed_at += Duration::seconds(30);
    widest.addresses = (0..livesite_core::probe::MAX_ADDRESSES)
        .map(|i| {
            address(
                &format!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:{i:04x}"),
                false,
            )
        })
        .collect();
    assert!(prober.append_many(&[dual, widest]).await.is_empty());
    let items = iam.items_written_to(&stack.tables.probes);
    let (dual, widest) = (item_size(&items[2]), item_size(&items[3]));
    eprintln!(
        "a dual-stack probe item: {dual} bytes; the widest multi-address one: {widest} bytes"
    );
    assert!(dual <= WRITE_UNIT, "{dual} bytes: {}", items[2]);
    assert!(widest <= 2 * WRITE_UNIT, "{widest} bytes: {}", items[3]);

    // The state of a name with several addresses, all but one failing.
    let mut wide_state = worst_day_state(t0() + Duration::days(1));
    wide_state.operator = livesite_core::OperatorId::new("p".repeat(64)).expect("id");
    wide_state.addresses_down = (1..livesite_core::probe::MAX_ADDRESSES)
        .map(|i| livesite_core::evaluate::AddressDown {
            address: format!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:{i:04x}")
                .parse()
                .expect("ip"),
            since: t0(),
        })
        .collect();
    evaluator.save_state(&wide_state, None).await.expect("save");
    let items = iam.items_written_to(&stack.tables.state);
    let size = item_size(&items[1]);
    eprintln!("the widest multi-address state item: {size} bytes");
    assert!(size <= 2 * WRITE_UNIT, "{size} bytes: {}", items[1]);

    // The state of a portal voted on by three locations (the longest names a
    // location may have), at its widest: a round's votes pending, every
    // location's last vote, one location's failing run and its incident open.
    use livesite_core::evaluate::quorum::{LocationRun, Vote};
    let mut voted = worst_day_state(t0() + Duration::days(2));
    voted.operator = livesite_core::OperatorId::new("q".repeat(64)).expect("id");
    let names: Vec<String> = (0..3).map(|i| format!("{i}{}", "l".repeat(63))).collect();
    voted.votes = names[..2]
        .iter()
        .map(|l| Vote {
            slot: t0(),
            location: l.clone(),
            up: false,
            reason: Some(FailureReason::Timeout),
            status: Some(599),
            latency_ms: Some(19_999.999),
            cpu_wait_ms: Some(9_999.999),
            ..Vote::of(
                &ProbeResult {
                    addresses: (0..livesite_core::probe::MAX_ADDRESSES)
                        .map(|i| {
                            address(
                                &format!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:{i:04x}"),
                                false,
                            )
                        })
                        .collect(),
                    ..widest_probe()
                },
                t0(),
                l.clone(),
            )
        })
        .collect();
    voted.location_seen = names
        .iter()
        .map(|l| LocationRun {
            location: l.clone(),
            since: t0(),
        })
        .collect();
    voted.location_runs = vec![LocationRun {
        location: names[2].clone(),
        since: t0(),
    }];
    voted.path = voted.latency.clone().map(|mut r| {
        r.kind = livesite_core::IncidentKind::LocationPath;
        r.id = String::new();
        r
    });
    voted.decided_through = Some(t0());
    evaluator.save_state(&voted, None).await.expect("save");
    let items = iam.items_written_to(&stack.tables.state);
    let size = item_size(&items[2]);
    eprintln!("the widest three-location state item: {size} bytes");
    // Two pending votes at their widest (8 addresses each, text at its
    // bound) on the worst day: a hostile portal's state costs four units
    // while a round is pending; a usual one's stays within one (below).
    assert!(size <= 4 * WRITE_UNIT, "{size} bytes: {}", items[2]);

    // A usual day of three locations: a full window of healthy rounds, a day
    // of buckets, each location's last vote, one vote of the next round in.
    use livesite_core::evaluate::{Bucket, MonitorState, Sample};
    let mut usual =
        MonitorState::new(livesite_core::OperatorId::new("contoso-mobile").expect("id"));
    let day = t0() + Duration::days(3);
    usual.last_probe_at = Some(day);
    usual.last_outcome = Some(Outcome::Up);
    usual.consecutive_successes = 2880;
    usual.recent = (0..60)
        .map(|i| Sample {
            at: day - Duration::seconds(30 * (59 - i)),
            up: true,
            slow: Some(false),
        })
        .collect();
    usual.buckets = (0..96)
        .map(|i| Bucket {
            start: day - Duration::minutes(15 * (95 - i)),
            good: 30,
            bad: 0,
        })
        .collect();
    usual.location_seen = ["eu-west-1", "us-east-1", "agent-contoso-1"]
        .iter()
        .map(|l| LocationRun {
            location: l.to_string(),
            since: day,
        })
        .collect();
    usual.votes = vec![Vote {
        slot: day + Duration::seconds(30),
        location: "eu-west-1".into(),
        up: true,
        reason: None,
        status: Some(200),
        latency_ms: Some(182.437),
        cpu_wait_ms: Some(1.234),
        ..Vote::default()
    }];
    usual.decided_through = Some(day);
    usual.cert_expires_at = Some(day + Duration::days(60));
    // Its open day late in the day: every round timed within 80 to 160 ms.
    usual.day = livesite_core::evaluate::fixtures::usual_state(day - Duration::hours(23)).day;
    evaluator.save_state(&usual, None).await.expect("save");
    let items = iam.items_written_to(&stack.tables.state);
    let size = item_size(&items[3]);
    eprintln!("a usual three-location state item: {size} bytes");
    assert!(size <= WRITE_UNIT, "{size} bytes: {}", items[3]);
    iam.assert_no_denials();
}

/// The largest single-address probe record: the longest operator id, every
/// field set, free text at its bound.
fn widest_probe() -> ProbeResult {
    use livesite_core::probe::{MAX_DETAIL_BYTES, MAX_URL_BYTES};
    use livesite_core::{FailureReason, OperatorId, Outcome, Phases};
    ProbeResult {
        operator: OperatorId::new("o".repeat(OperatorId::MAX_LEN)).expect("id"),
        probed_at: t0(),
        outcome: Outcome::Down,
        reason: Some(FailureReason::Protocol),
        status: Some(599),
        latency_ms: Some(19_999.999),
        phases: Some(Phases {
            dns_ms: 1_999.999,
            connect_ms: 1_999.999,
            tls_ms: 1_999.999,
            ttfb_ms: 9_999.999,
            total_ms: 19_999.999,
        }),
        url: Some(format!("https://{}", "u".repeat(MAX_URL_BYTES * 2))),
        redirects: 10,
        cert_expires_at: Some(t0()),
        detail: Some("d".repeat(MAX_DETAIL_BYTES * 2)),
        cpu_wait_ms: Some(9_999.999),
        addresses: vec![],
        location: None,
        slot: None,
    }
    .bounded()
}

/// A usual healthy HTTPS probe record.
fn usual_probe() -> ProbeResult {
    use livesite_core::{OperatorId, Outcome, Phases};
    ProbeResult {
        operator: OperatorId::new("contoso-mobile").expect("id"),
        probed_at: t0(),
        outcome: Outcome::Up,
        reason: None,
        status: Some(200),
        latency_ms: Some(182.437),
        phases: Some(Phases {
            dns_ms: 12.345,
            connect_ms: 20.123,
            tls_ms: 45.678,
            ttfb_ms: 98.765,
            total_ms: 182.437,
        }),
        url: Some("https://modirect.contoso-mobile.example/portal".into()),
        redirects: 0,
        cert_expires_at: Some(t0() + Duration::days(60)),
        detail: None,
        cpu_wait_ms: Some(1.234),
        addresses: vec![],
        location: None,
        slot: None,
    }
}

/// What an evaluate batch costs in store calls: the monitor state of each
/// operator is read once and written once a batch, however many of its
/// probes the batch holds, and the registry is read once (docs/cost.md
/// counts these). Two rounds of 10 operators in one batch.
#[tokio::test(flavor = "multi_thread")]
async fn an_evaluate_batch_reads_and_writes_each_state_once() {
    let stack = Stack::new("batch-calls").await;
    let iam = Enforcer::start(&stack).await;
    let mut probes = Vec::new();
    for i in 0..10 {
        let id = format!("op{i:02}");
        stack
            .store()
            .put_operator(&operator(&id))
            .await
            .expect("register");
        probes.push(probe(&id, 0, true));
        probes.push(probe(&id, 30, true));
    }
    assert!(stack.store().append_many(&probes).await.is_empty());
    let records = stack.stream_records(None).await;
    assert_eq!(records.len(), 20);
    let response = evaluate_as_the_function(&stack, &iam, &records).await;
    assert!(response.batch_item_failures.is_empty());
    let mut calls = std::collections::BTreeMap::<String, usize>::new();
    for d in iam.decisions() {
        // The outbox index (pending notifications) apart from the table.
        let on = if d.resource.contains("/index/") {
            " (index)"
        } else {
            ""
        };
        *calls.entry(format!("{}{on}", d.action)).or_default() += 1;
    }
    eprintln!("store calls for 10 operators, 20 records: {calls:?}");
    assert_eq!(
        calls.get("dynamodb:GetItem"),
        Some(&10),
        "one state read an operator: {calls:?}"
    );
    assert_eq!(
        calls.get("dynamodb:PutItem"),
        Some(&10),
        "one state write an operator: {calls:?}"
    );
    assert_eq!(
        calls.get("dynamodb:Query"),
        Some(&1),
        "one registry read: {calls:?}"
    );
    assert_eq!(
        calls.get("dynamodb:Query (index)"),
        Some(&2),
        "the outbox looked at once for due pages, once for due emails: {calls:?}"
    );
    assert_eq!(calls.len(), 4, "nothing else: {calls:?}");
    iam.assert_no_denials();
}

/// DynamoDB applies a conditional write atomically: a rate window admits
/// exactly its limit however many requests race for it. moto does not lock
/// (a race admitted 32 of a limit of 30 on a loaded machine), so the proxy
/// sends DynamoDB writes one at a time; this test holds it to that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_window_admits_exactly_its_limit_under_a_race() {
    use futures::StreamExt;
    use livesite_core::ports::RateLimiter;
    let stack = Stack::new("rate-race").await;
    let iam = Enforcer::start(&stack).await;
    let store = stack.store_with(&iam.config("ApiFunction").await);
    let window = t0();
    for round in 0..3 {
        let key = format!("api#racer-{round}");
        let admitted = futures::stream::iter(0..60)
            .map(|_| {
                let (store, key) = (store.clone(), key.clone());
                async move { store.take(&key, window, 20).await.expect("take") }
            })
            .buffer_unordered(32)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await;
        assert_eq!(admitted, 20, "round {round}");
    }
}

/// Both sides acknowledge one incident at once, eight calls at a time,
/// through the API on DynamoDB (conditional writes applied one at a time, as
/// AWS does): one first acknowledgement, every acknowledgement written, and
/// the race real: more incident writes were sent than landed, so losers'
/// conditional writes failed and were retried on a fresh read.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledgements_racing_on_dynamodb_conflict_retry_and_lose_nothing() {
    use livesite_core::ports::IncidentStore;
    use livesite_tests::gateway::{admin, answer, client, Call};
    let stack = Stack::new("ack-race").await;
    let iam = Enforcer::start(&stack).await;
    let mut contoso = operator("contoso");
    contoso.api_clients = vec!["client-contoso".into()];
    stack
        .store()
        .put_operator(&contoso)
        .await
        .expect("register");
    let api = stack.api(
        &iam.config("ApiFunction").await,
        livesite_core::Policy::default(),
    );
    let now = t0();
    let call = |c: Call<'_>| answer(&api, c, now);
    let raised = json!({"operator": "contoso", "kind": "reporting_failure", "subject": "October report missing", "text": "The monthly report did not arrive."});
    let (status, body) = call(
        Call::new("POST", "/v1/incidents")
            .claims(admin())
            .json(raised),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    let ack = format!("/v1/incidents/{id}/acknowledgement");
    // Four acknowledgements from each side at once, three times.
    let (mut firsts, mut landed) = (0, 0u64);
    for _ in 0..3 {
        let racers = (0..8).map(|i| {
            let who = if i % 2 == 0 {
                admin()
            } else {
                client("client-contoso")
            };
            call(Call::new("POST", &ack).claims(who))
        });
        for (status, body) in futures::future::join_all(racers).await {
            // A call that lost every one of its bounded retries says so
            // and writes nothing; the caller retries.
            match status {
                200 => landed += 1,
                409 if body["detail"].as_str().is_some_and(|d| d.contains("retry")) => {}
                _ => panic!("{status} {body}"),
            }
            firsts += usize::from(body["first_acknowledgement"] == true);
        }
    }
    assert_eq!(firsts, 1, "one first acknowledgement among 24 calls");
    let stored = stack
        .store()
        .get_incident(&id)
        .await
        .expect("get")
        .expect("incident");
    assert!(landed >= 3, "each round, someone got through: {landed}");
    assert_eq!(
        stored.version, landed,
        "every acknowledgement answered 200 written once; none lost, none else written"
    );
    let sent = iam
        .items_written_to(&stack.tables.state)
        .iter()
        .filter(|i| {
            i["pk"]["S"]
                .as_str()
                .is_some_and(|pk| pk.starts_with("INCIDENT#"))
        })
        .count();
    println!("{sent} incident writes sent; {landed} acknowledgements landed");
    assert!(
        sent as u64 > landed + 1,
        "the racers interleaved: {sent} incident writes sent for the creation and {landed} acknowledgements"
    );
}
