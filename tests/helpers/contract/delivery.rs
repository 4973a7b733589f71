//! The orchestration's edges over any store: two senders racing for one
//! outbox entry, what a delivery pass reports as still unsent, a sweep
//! duty's failure named, and the open day counted in its own month only.

use crate::fixtures::{operator, probe, t0, team};
use crate::wrappers::Recorder;
use chrono::Duration;
use livesite_core::ports::Store;
use livesite_core::service::{deliver_pending, evaluate_batch, Context, DeliveryReport};
use livesite_core::{OperatorId, Policy, ProbeResult};

/// Two delivery passes at once (the evaluator's and the sweep's) over one
/// due entry: the claim's lease keeps the second off it while the first
/// sends, so it goes out once.
pub async fn racing_senders_send_once<S: Store>(s: &S) {
    let n = super::notification("race", 0);
    assert!(s.enqueue(&n).await.expect("enqueue"));
    let slow = Recorder::slow(std::time::Duration::from_millis(200));
    let now = t0() + Duration::minutes(1);
    let (lease, team) = (Duration::minutes(5), team());
    let (a, b) = tokio::join!(
        deliver_pending(s, &slow, &team, now, lease, 10),
        deliver_pending(s, &slow, &team, now, lease, 10)
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(slow.keys(), ["race"], "sent once");
    assert_eq!(a.sent.len() + b.sent.len(), 1);
}

/// What a pass leaves unsent is what its report (and the alarm's age)
/// says; a later pass of the same sweep replaces it, adding what it sent.
pub async fn a_delivery_report_says_what_still_waits<S: Store>(s: &S) {
    let (older, newer) = (
        super::notification("older", 0),
        super::notification("newer", 1),
    );
    for n in [&older, &newer] {
        assert!(s.enqueue(n).await.expect("enqueue"));
    }
    let failing = Recorder::failing(2);
    let first_at = t0() + Duration::minutes(5);
    let mut report = deliver_pending(s, &failing, &team(), first_at, Duration::minutes(5), 10)
        .await
        .expect("first pass");
    assert_eq!((report.sent.len(), report.failed.len()), (0, 2));
    assert_eq!(report.oldest_unsent, Some(older.created_at));
    assert_eq!(report.oldest_unsent_age_seconds(first_at), 300);
    assert_eq!(
        DeliveryReport::default().oldest_unsent_age_seconds(first_at),
        0
    );
    let later = deliver_pending(
        s,
        &failing,
        &team(),
        first_at + Duration::hours(1),
        Duration::minutes(5),
        10,
    )
    .await
    .expect("second pass");
    report.absorb(later);
    assert_eq!(
        (report.sent.len(), report.failed.len()),
        (2, 2),
        "both passes' work"
    );
    assert_eq!(report.oldest_unsent, None, "nothing waits after the second");
}

/// A round on the 1st of December opens December's day: November's report
/// counts only November (the day closed on the 30th), December's the open
/// day.
pub async fn the_open_day_counts_in_its_own_month_only<S>(s: &S)
where
    S: Store + livesite_core::ports::RecordStore,
{
    let ctx = Context::new(Policy::default(), team(), [operator("contoso")]);
    let start = "2026-11-30T23:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .expect("t");
    let secs_from_t0 = (start - t0()).num_seconds();
    // An hour up on the 30th, then half an hour down from midnight.
    let probes: Vec<ProbeResult> = (0..180)
        .map(|i| probe("contoso", secs_from_t0 + i * 30, i < 120))
        .collect();
    for batch in probes.chunks(60) {
        for p in batch {
            s.append(p).await.expect("append");
        }
        let out = evaluate_batch(s, &ctx, batch).await;
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }
    let op = &ctx.operators[&OperatorId::new("contoso").expect("id")];
    let report = |month: &str| {
        livesite_core::service::monthly_report(
            s,
            op,
            month.parse().expect("month"),
            &ctx.policy,
            start + Duration::days(40),
        )
    };
    let november = report("2026-11").await.expect("november");
    assert_eq!(
        (november.rounds, november.downtime_minutes),
        (120, 0.0),
        "{november:?}"
    );
    let december = report("2026-12").await.expect("december");
    assert_eq!(
        (december.rounds, december.rounds_down),
        (60, 60),
        "{december:?}"
    );
}
