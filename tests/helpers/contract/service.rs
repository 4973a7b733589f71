//! The service's guarantees, over any store: batches, retries, delivery,
//! the figures.

use super::*;

use crate::fixtures::{failures, team};
use crate::wrappers::{Counting, Recorder};
use livesite_core::service::{deliver_pending, evaluate_batch, Context};
use livesite_core::Policy;
use std::sync::atomic::Ordering;

pub fn context(ops: &[&str]) -> Context {
    Context::new(Policy::default(), team(), ops.iter().map(|o| operator(o)))
}

/// A redelivered batch (streams deliver at least once) pages once.
pub async fn redelivered_batch_pages_once<S: Store>(s: &S) {
    let ctx = context(&["contoso"]);
    let batch = failures("contoso", 0, 1830);
    let first = evaluate_batch(s, &ctx, &batch).await;
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    let keys: Vec<_> = first.enqueued.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "contoso-20261124T100000Z-portal_down#page-open",
            "contoso-20261124T100000Z-portal_down#email-open"
        ]
    );
    let again = evaluate_batch(s, &ctx, &batch).await;
    assert!(
        again.enqueued.is_empty() && again.events.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.stale, batch.len());
    let rec = Recorder::default();
    let now = t0() + Duration::hours(1);
    deliver_pending(s, &rec, &ctx.team, now, Duration::minutes(5), 100)
        .await
        .expect("deliver");
    deliver_pending(s, &rec, &ctx.team, now, Duration::minutes(5), 100)
        .await
        .expect("deliver again");
    assert_eq!(rec.keys().len(), 2, "{:?}", rec.keys());
    assert_eq!(s.list_incidents(None, true).await.expect("list").len(), 1);
}

/// A state write that fails after the side effects were recorded: the retry
/// recomputes the same decisions and records none of them twice.
pub async fn lost_state_write_does_not_duplicate<S: Store>(s: S) {
    let ctx = context(&["contoso"]);
    let s = Counting::new(s);
    let mut batch = failures("contoso", 0, 1800);
    evaluate_batch(&s, &ctx, &batch).await;
    batch = failures("contoso", 1830, 1860);
    s.fail_saves.store(1, Ordering::SeqCst);
    let failed = evaluate_batch(&s, &ctx, &batch).await;
    assert_eq!(
        failed.failed.len(),
        1,
        "the failure is reported for a retry"
    );
    assert_eq!(
        failed.enqueued.len(),
        2,
        "page and email recorded before the state"
    );
    let retried = evaluate_batch(&s, &ctx, &batch).await;
    assert!(retried.failed.is_empty());
    assert_eq!(retried.events.len(), 1, "the decision is recomputed");
    assert!(retried.enqueued.is_empty(), "but recorded only once");
    assert_eq!(
        s.inner
            .list_incidents(None, false)
            .await
            .expect("list")
            .len(),
        1
    );
}

/// One state read and one write per operator, whatever the batch size.
pub async fn batch_costs_one_state_read_and_write_per_operator<S: Store>(s: S) {
    let ctx = context(&["contoso", "fabrikam", "northwind"]);
    let s = Counting::new(s);
    let mut batch = Vec::new();
    for op in ["contoso", "fabrikam", "northwind"] {
        batch.extend(failures(op, 0, 990)); // 34 records each
    }
    assert!(batch.len() >= 100);
    let out = evaluate_batch(&s, &ctx, &batch).await;
    assert!(out.failed.is_empty());
    assert_eq!(s.loads.load(Ordering::SeqCst), 3);
    assert_eq!(s.saves.load(Ordering::SeqCst), 3);
}

/// A failed send stays in the outbox and goes out on a later pass, once,
/// after its backoff.
pub async fn failed_send_is_retried_not_dropped<S: Store>(s: &S) {
    let ctx = context(&["contoso"]);
    evaluate_batch(s, &ctx, &failures("contoso", 0, 1830)).await;
    let rec = Recorder::failing(1);
    let now = t0() + Duration::hours(1);
    let first = deliver_pending(s, &rec, &ctx.team, now, Duration::minutes(5), 100)
        .await
        .expect("deliver");
    assert_eq!((first.sent.len(), first.failed.len()), (1, 1));
    let early = deliver_pending(s, &rec, &ctx.team, now, Duration::minutes(5), 100)
        .await
        .expect("deliver");
    assert_eq!(
        (early.sent.len(), early.failed.len()),
        (0, 0),
        "not retried before its backoff"
    );
    let later = now + livesite_core::notify::RETRY_FIRST;
    let second = deliver_pending(s, &rec, &ctx.team, later, Duration::minutes(5), 100)
        .await
        .expect("deliver");
    assert_eq!((second.sent.len(), second.failed.len()), (1, 0));
    let third = deliver_pending(s, &rec, &ctx.team, later, Duration::minutes(5), 100)
        .await
        .expect("deliver");
    assert!(third.sent.is_empty());
    let mut keys = rec.keys();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2);
    let retried = first.failed[0].0.clone();
    let entry = s.get_entry(&retried).await.expect("get").expect("present");
    assert_eq!(entry.attempts, 2);
}

/// Every due page comes before any email, however much older the emails.
pub async fn due_pages_come_before_any_email<S: Store>(s: &S) {
    for i in 0..3 {
        s.enqueue(&notification(&format!("email-{i}"), i))
            .await
            .expect("enqueue");
    }
    let mut page = notification("page", 50);
    page.channel = livesite_core::Channel::Page;
    s.enqueue(&page).await.expect("enqueue");
    let keys: Vec<String> = s
        .pending(t0() + Duration::hours(1), 2)
        .await
        .expect("pending")
        .into_iter()
        .map(|e| e.notification.key)
        .collect();
    assert_eq!(keys, vec!["page", "email-0"]);
}

/// An entry that can never be sent backs off, then dies with one notice to
/// the team, and at no point delays a new page: the poison entries are due
/// later and later while a new page is due at once.
pub async fn a_poison_notification_never_delays_a_new_page<S: Store>(s: &S) {
    use livesite_core::notify::{Topic, MAX_ATTEMPTS};
    let ctx = context(&["contoso", "fabrikam"]);
    // More poison than a delivery pass takes (the limit is 3 here).
    for i in 0..5 {
        let mut n = notification(&format!("poison-{i}"), 0);
        n.to = vec![livesite_core::EmailAddress::parse("refused@contoso.example").expect("email")];
        assert!(s.enqueue(&n).await.expect("enqueue"));
    }
    let rec = Recorder::refusing("refused@contoso.example");
    let mut now = t0() + Duration::hours(1);
    let mut waits = Vec::new();
    for attempt in 1..=MAX_ATTEMPTS {
        // A new page every round of passes.
        let mut page = notification(&format!("page-{attempt}"), 0);
        page.channel = livesite_core::Channel::Page;
        page.created_at = now;
        s.enqueue(&page).await.expect("enqueue");
        let mut first_pass = Vec::new();
        for pass in 0.. {
            let r = deliver_pending(s, &rec, &ctx.team, now, Duration::minutes(5), 3)
                .await
                .expect("deliver");
            if pass == 0 {
                first_pass = r.sent.iter().map(|n| n.key.clone()).collect();
            }
            if r.sent.is_empty() && r.failed.is_empty() && r.dead.is_empty() {
                break;
            }
            assert!(pass < 10, "the passes end");
        }
        if attempt > 1 {
            // Once the poison has failed, it is due after the new page.
            assert!(
                first_pass.contains(&format!("page-{attempt}")),
                "attempt {attempt}: the new page went out in the first pass: {first_pass:?}"
            );
        }
        let e = s
            .get_entry("poison-0")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(e.attempts, attempt);
        if attempt == MAX_ATTEMPTS {
            assert_eq!(e.status, DeliveryStatus::Dead);
            break;
        }
        let next = e.next_attempt_at.expect("a retry time");
        waits.push((next - now).num_seconds());
        now = next;
    }
    assert_eq!(
        waits,
        vec![30, 60, 120, 240, 480, 960, 1800],
        "the documented backoff: 30 s doubling, at most 30 min"
    );
    for i in 0..5 {
        let e = s
            .get_entry(&format!("poison-{i}"))
            .await
            .expect("get")
            .expect("present");
        assert_eq!(
            (e.status, e.attempts),
            (DeliveryStatus::Dead, MAX_ATTEMPTS),
            "poison-{i}"
        );
    }
    // The team was told once per dead entry, and the notices went out.
    let notices: Vec<String> = rec
        .keys()
        .into_iter()
        .filter(|k| k.ends_with(&format!("#{}", Topic::Undeliverable)))
        .collect();
    assert_eq!(notices.len(), 5, "{notices:?}");
    let later = deliver_pending(
        s,
        &rec,
        &ctx.team,
        now + Duration::days(1),
        Duration::minutes(5),
        100,
    )
    .await
    .expect("deliver");
    assert!(later.sent.is_empty() && later.failed.is_empty() && later.dead.is_empty());
}

/// An agent is its operator's witness, never a vote: listed as expected, it
/// is awaited for no operator's rounds, its own operator's included, which
/// are decided as soon as the regions have voted (a silent agent can't
/// leave them unknown).
pub async fn no_agent_is_ever_awaited<S: Store>(s: &S) {
    let mut contoso = operator("contoso");
    contoso.agents = vec!["agent-contoso-1".into()];
    let mut ctx = Context::new(Policy::default(), team(), [contoso, operator("fabrikam")]);
    ctx.policy.locations.expected = ["us-east-1", "eu-west-1", "agent-contoso-1"]
        .map(String::from)
        .to_vec();
    let vote = |op: &str, location: &str| ProbeResult {
        location: Some(location.into()),
        ..probe(op, 0, true)
    };
    let batch = [
        vote("contoso", "us-east-1"),
        vote("contoso", "eu-west-1"),
        vote("fabrikam", "us-east-1"),
        vote("fabrikam", "eu-west-1"),
    ];
    let out = evaluate_batch(s, &ctx, &batch).await;
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    let state = |op: &str| {
        let op = OperatorId::new(op).expect("id");
        async move { s.load_state(&op).await.expect("load").expect("state").value }
    };
    let fabrikam = state("fabrikam").await;
    assert_eq!(
        (fabrikam.decided_through, fabrikam.votes.len()),
        (Some(t0()), 0),
        "both regions voted: fabrikam's round is decided"
    );
    let contoso = state("contoso").await;
    assert_eq!(
        (contoso.decided_through, contoso.votes.len()),
        (Some(t0()), 0),
        "contoso's round waits for no agent, its own included"
    );
}

/// Evaluates `probes` as the stream delivers them (100 records a batch),
/// each stored first as the probe function does.
async fn store_and_evaluate<S: Store>(s: &S, ctx: &Context, probes: &[ProbeResult]) {
    for p in probes {
        s.append(p).await.expect("append");
    }
    for batch in probes.chunks(100) {
        let out = evaluate_batch(s, ctx, batch).await;
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }
}

async fn report_of<S>(s: &S, ctx: &Context, op: &str) -> livesite_core::report::MonthlyReport
where
    S: Store + livesite_core::ports::RecordStore,
{
    let operator = &ctx.operators[&OperatorId::new(op).expect("id")];
    livesite_core::service::monthly_report(
        s,
        operator,
        "2026-11".parse().expect("month"),
        &ctx.policy,
        crate::fixtures::t0() + chrono::Duration::days(60),
    )
    .await
    .expect("report")
}

/// The seed's SLA figure is the monitor's: an operator's agent pushing an
/// up 1 ms after each of the region's down probes through a 3-hour outage
/// leaves the month's report unchanged (180 minutes down), although every
/// pushed row is stored. The outage ends on the 24th; a round on the 25th
/// closes that day, so the report reads a stored day and the open one.
pub async fn an_agents_pushes_never_change_the_report<S>(s: &S)
where
    S: Store + livesite_core::ports::RecordStore,
{
    let mut contoso = operator("contoso");
    contoso.agents = vec!["agent-contoso-1".into()];
    let ctx = Context::new(Policy::default(), team(), [contoso]);
    let down = |secs: i64| (3_600..3_600 + 3 * 3_600).contains(&secs);
    let mut probes = Vec::new();
    for secs in (0..5 * 3_600).step_by(30).chain([14 * 3_600]) {
        probes.push(probe("contoso", secs, !down(secs)));
        if down(secs) {
            probes.push(ProbeResult {
                location: Some("agent-contoso-1".into()),
                probed_at: t0() + Duration::seconds(secs) + Duration::milliseconds(1),
                ..probe("contoso", secs, true)
            });
        }
    }
    store_and_evaluate(s, &ctx, &probes).await;
    let r = report_of(s, &ctx, "contoso").await;
    assert_eq!(r.downtime_minutes, 180.0, "{r:?}");
    assert_eq!((r.rounds, r.rounds_down, r.probes), (601, 360, 601));
    assert_eq!(r.up_minutes, 120.5);
    assert!(!r.met_target);
}

/// Two regions, one of whose paths is broken for two hours while the
/// portal answers the other: the quorum says up, and so does the report
/// (no downtime; the location's failures are listed as its own).
pub async fn a_broken_path_is_no_downtime_in_the_report<S>(s: &S)
where
    S: Store + livesite_core::ports::RecordStore,
{
    let mut ctx = context(&["contoso"]);
    ctx.policy.locations.expected = vec!["us-east-1".into(), "eu-west-1".into()];
    let mut probes = Vec::new();
    for secs in (0..2 * 3_600).step_by(30) {
        for (i, (location, up)) in [("us-east-1", true), ("eu-west-1", false)]
            .into_iter()
            .enumerate()
        {
            probes.push(ProbeResult {
                location: Some(location.into()),
                probed_at: t0() + Duration::seconds(secs) + Duration::milliseconds(137 * i as i64),
                ..probe("contoso", secs, up)
            });
        }
    }
    store_and_evaluate(s, &ctx, &probes).await;
    let r = report_of(s, &ctx, "contoso").await;
    assert_eq!(r.downtime_minutes, 0.0, "{r:?}");
    assert_eq!((r.rounds, r.rounds_down), (240, 0));
    let locations: Vec<(&str, usize, usize)> = r
        .locations
        .iter()
        .map(|l| (l.location.as_str(), l.votes, l.down))
        .collect();
    assert_eq!(locations, [("eu-west-1", 240, 240), ("us-east-1", 240, 0)]);
}

/// A result from a location the stack does not list is stored, counted as
/// unlisted, and decides nothing: a probe stack deployed but not listed
/// never becomes a round of its own.
pub async fn a_vote_from_an_unlisted_location_decides_nothing<S: Store>(s: &S) {
    // contoso's own agent is known; a location that is neither listed nor
    // its agent is not.
    let mut contoso = operator("contoso");
    contoso.agents = vec!["agent-contoso-1".into()];
    let mut ctx = Context::new(Policy::default(), team(), [contoso]);
    ctx.policy.locations.expected = vec!["us-east-1".into()];
    let located = |location: &str, secs: i64, up: bool| ProbeResult {
        location: Some(location.into()),
        ..probe("contoso", secs, up)
    };
    let mut batch: Vec<ProbeResult> = (0..=61)
        .map(|i| located("eu-west-1", i * 30, false))
        .collect();
    batch.push(located("us-east-1", 0, true));
    batch.push(located("agent-contoso-1", 0, true));
    let out = evaluate_batch(s, &ctx, &batch).await;
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert!(
        out.enqueued.is_empty(),
        "the unlisted location paged nobody"
    );
    assert_eq!(out.unlisted.len(), 62);
    assert_eq!(out.unlisted[0].1, "eu-west-1");
    let state = s
        .load_state(&OperatorId::new("contoso").expect("id"))
        .await
        .expect("load")
        .expect("state");
    assert_eq!(
        state.value.day.map(|d| (d.rounds, d.rounds_down)),
        Some((1, 0))
    );
}

/// Days never summarised (a deployment from before day summaries) are
/// rebuilt from the raw rows, a day at a time: each stored unless one is,
/// an announced window counted as maintenance, the current day refused,
/// and a rerun changes nothing.
pub async fn days_are_rebuilt_from_raw_rows<S>(s: &S)
where
    S: Store + livesite_core::ports::RecordStore,
{
    use livesite_core::partner::{Announcer, Maintenance, MaintenanceStatus};
    use livesite_core::service::rebuild_days;
    let op = operator("contoso");
    // An hour of rounds a day, from 10:00 on 24, 25 and 26 November; on the
    // 24th the first 20 minutes down, inside an announced window. The 27th
    // (the range's end, today) has rounds too: the evaluator's, never read.
    for day in 0..4 {
        for i in 0..120 {
            let secs = day * 86_400 + i * 30;
            s.append(&probe("contoso", secs, day != 0 || i >= 40))
                .await
                .expect("append");
        }
    }
    let window = Maintenance {
        id: "contoso-maintenance".into(),
        announcer: Announcer::Operator(op.id.clone()),
        start: t0(),
        end: t0() + Duration::minutes(30),
        description: "upgrade".into(),
        services: vec![],
        announced_at: t0() - Duration::days(10),
        lead_business_days: 8,
        late: false,
        over_limit: None,
        approved_at: None,
        status: MaintenanceStatus::Announced,
        completed_at: None,
        cancelled_at: None,
    };
    assert!(s
        .create_record(
            "maintenance",
            &window.id,
            Some(&op.id),
            &serde_json::to_value(&window).expect("json"),
        )
        .await
        .expect("record"));
    // The 25th was summarised by the evaluator already: it stays.
    let marker = livesite_core::summary::DaySummary {
        up_s: 1,
        ..livesite_core::summary::DaySummary::new("2026-11-25".parse().expect("date"))
    };
    assert!(s.put_day(&op.id, &marker).await.expect("put"));
    let date = |d: &str| d.parse::<chrono::NaiveDate>().expect("date");
    let range = (date("2026-11-24"), date("2026-11-27"));
    let (policy, calendar) = (Policy::default(), Default::default());
    let rebuilt = rebuild_days(s, &op, &policy, &calendar, range, date("2026-11-27"))
        .await
        .expect("rebuild");
    assert_eq!(rebuilt.written, [date("2026-11-24"), date("2026-11-26")]);
    assert_eq!(rebuilt.kept, [date("2026-11-25")]);
    let days = s.days(&op.id, range.0, range.1).await.expect("days");
    let figures: Vec<(u32, u32, u32, u32)> = days
        .iter()
        .map(|d| (d.up_s, d.down_s, d.maintenance_down_s, d.rounds))
        .collect();
    // The 24th: 40 rounds down and 20 up inside the window (10:00-10:30), 60 up after.
    assert_eq!(
        figures,
        [(1_800, 0, 1_200, 120), (1, 0, 0, 0), (3_600, 0, 0, 120)]
    );
    let again = rebuild_days(s, &op, &policy, &calendar, range, date("2026-11-27"))
        .await
        .expect("rerun");
    assert!(
        again.written.is_empty() && again.kept.len() == 3,
        "{again:?}"
    );
    assert!(
        rebuild_days(s, &op, &policy, &calendar, range, date("2026-11-26"))
            .await
            .is_err(),
        "the current day is the evaluator's"
    );
}

#[macro_export]
macro_rules! service_contract {
    ($make:expr) => {
        #[tokio::test]
        async fn service_redelivered_batch_pages_once() {
            $crate::contract::redelivered_batch_pages_once(&$make).await;
        }
        #[tokio::test]
        async fn service_lost_state_write_does_not_duplicate() {
            $crate::contract::lost_state_write_does_not_duplicate($make).await;
        }
        #[tokio::test]
        async fn service_batch_costs_one_state_read_and_write_per_operator() {
            $crate::contract::batch_costs_one_state_read_and_write_per_operator($make).await;
        }
        #[tokio::test]
        async fn service_failed_send_is_retried_not_dropped() {
            $crate::contract::failed_send_is_retried_not_dropped(&$make).await;
        }
        #[tokio::test]
        async fn service_due_pages_come_before_any_email() {
            $crate::contract::due_pages_come_before_any_email(&$make).await;
        }
        #[tokio::test]
        async fn service_no_agent_is_ever_awaited() {
            $crate::contract::no_agent_is_ever_awaited(&$make).await;
        }
        #[tokio::test]
        async fn service_an_agents_pushes_never_change_the_report() {
            $crate::contract::an_agents_pushes_never_change_the_report(&$make).await;
        }
        #[tokio::test]
        async fn service_a_vote_from_an_unlisted_location_decides_nothing() {
            $crate::contract::a_vote_from_an_unlisted_location_decides_nothing(&$make).await;
        }
        #[tokio::test]
        async fn service_days_are_rebuilt_from_raw_rows() {
            $crate::contract::days_are_rebuilt_from_raw_rows(&$make).await;
        }
        #[tokio::test]
        async fn service_a_broken_path_is_no_downtime_in_the_report() {
            $crate::contract::a_broken_path_is_no_downtime_in_the_report(&$make).await;
        }
        #[tokio::test]
        async fn partner_outage_reports_are_one_incident_each_and_an_operators_own() {
            $crate::contract::outage_reports_are_one_incident_each_and_an_operators_own(&$make)
                .await;
        }
        #[tokio::test]
        async fn partner_maintenance_windows_in_force_follow_their_records() {
            $crate::contract::maintenance_windows_in_force_follow_their_records(&$make).await;
        }
        #[tokio::test]
        async fn partner_bugs_are_numbered_and_moved_by_the_team() {
            $crate::contract::bugs_are_numbered_and_moved_by_the_team(&$make).await;
        }
        #[tokio::test]
        async fn service_racing_senders_send_once() {
            $crate::contract::racing_senders_send_once(&$make).await;
        }
        #[tokio::test]
        async fn service_a_delivery_report_says_what_still_waits() {
            $crate::contract::a_delivery_report_says_what_still_waits(&$make).await;
        }
        #[tokio::test]
        async fn service_the_open_day_counts_in_its_own_month_only() {
            $crate::contract::the_open_day_counts_in_its_own_month_only(&$make).await;
        }
        #[tokio::test]
        async fn service_a_poison_notification_never_delays_a_new_page() {
            $crate::contract::a_poison_notification_never_delays_a_new_page(&$make).await;
        }
    };
}
