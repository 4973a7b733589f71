//! The store contract: one suite, run against every store implementation
//! (the embedded SQLite store and the DynamoDB store on the emulator).

use crate::fixtures::{operator, probe, t0};
use chrono::Duration;
use livesite_core::evaluate::MonitorState;
use livesite_core::incident::{
    incident_id, Incident, IncidentKind, IncidentStatus, Party, Severity,
};
use livesite_core::notify::{Channel, Notification};
use livesite_core::ports::{DeliveryStatus, Store, StoreError, Version};
use livesite_core::{OperatorId, ProbeResult};

pub fn incident(op: &str, minutes: i64) -> Incident {
    let started = t0() + Duration::minutes(minutes);
    let o = operator(op);
    Incident {
        id: incident_id(&o.id, started, IncidentKind::PortalDown),
        operator: o.id,
        severity: Severity::High,
        kind: IncidentKind::PortalDown,
        raised_by: Party::Team,
        owed_by: Party::Operator,
        status: IncidentStatus::Open,
        started_at: started,
        opened_at: started + Duration::seconds(1830),
        resolved_at: None,
        summary: "down".into(),
        initial_response_due: started + Duration::seconds(1830 + 3600),
        acknowledged_at: None,
        last_update_at: None,
        next_update_due: None,
        version: 0,
    }
}

pub fn notification(key: &str, minutes: i64) -> Notification {
    Notification {
        html: None,
        key: key.into(),
        channel: Channel::Email,
        operator: OperatorId::new("contoso").expect("id"),
        incident_id: None,
        severity: Some(Severity::Low),
        topic: livesite_core::notify::Topic::MonitorGap,
        to: vec![],
        cc: vec![],
        from: None,
        subject: format!("subject {key}"),
        text: "body".into(),
        created_at: t0() + Duration::minutes(minutes),
    }
}

/// The probes of `op` from `t0 + from` seconds to `t0 + to` (exclusive).
async fn between<S: Store>(s: &S, op: &OperatorId, from: i64, to: i64) -> Vec<ProbeResult> {
    s.range(
        op,
        t0() + Duration::seconds(from),
        t0() + Duration::seconds(to),
    )
    .await
    .expect("range")
}

pub async fn probes_are_kept_once_and_ranged_half_open<S: Store>(s: &S) {
    let op = OperatorId::new("contoso").expect("id");
    for secs in [60, 0, 30, 30] {
        s.append(&probe("contoso", secs, secs != 30))
            .await
            .expect("append");
    }
    s.append(&probe("fabrikam", 30, true))
        .await
        .expect("append");
    let all = s
        .range(&op, t0(), t0() + Duration::minutes(5))
        .await
        .expect("range");
    let secs: Vec<i64> = all
        .iter()
        .map(|p| (p.probed_at - t0()).num_seconds())
        .collect();
    assert_eq!(secs, vec![0, 30, 60], "ordered, deduplicated, one operator");
    assert_eq!(
        all[1],
        probe("contoso", 30, false),
        "the record reads back whole"
    );
    let half = between(s, &op, 30, 60).await;
    assert_eq!(half.len(), 1, "from is inclusive, to is exclusive");
}

/// Several locations probe each round (docs/rules.md, "Locations and
/// quorum"): their results for one operator in the same millisecond are
/// distinct records, a location's own result twice is one, and ranges keep
/// every location's results in time order.
pub async fn each_locations_result_is_kept_even_in_the_same_millisecond<S: Store>(s: &S) {
    let op = OperatorId::new("contoso").expect("id");
    let at = |secs: i64, location: Option<&str>, up: bool| ProbeResult {
        location: location.map(str::to_string),
        ..probe("contoso", secs, up)
    };
    for p in [
        at(30, Some("eu-west-1"), false),
        at(30, Some("us-east-1"), true),
        at(30, None, true),
        at(30, Some("eu-west-1"), true),
        at(0, Some("us-east-1"), true),
        at(60, Some("ap-southeast-2"), false),
    ] {
        s.append(&p).await.expect("append");
    }
    let got: Vec<(i64, Option<String>, bool)> = s
        .range(&op, t0(), t0() + Duration::minutes(5))
        .await
        .expect("range")
        .into_iter()
        .map(|p| {
            (
                (p.probed_at - t0()).num_seconds(),
                p.location.clone(),
                p.is_up(),
            )
        })
        .collect();
    let want = |secs, l: Option<&str>, up| (secs, l.map(str::to_string), up);
    assert_eq!(
        got,
        vec![
            want(0, Some("us-east-1"), true),
            want(30, None, true),
            want(30, Some("eu-west-1"), false),
            want(30, Some("us-east-1"), true),
            want(60, Some("ap-southeast-2"), false),
        ],
        "one record per location and millisecond, the first kept"
    );
    let edge = between(s, &op, 30, 60).await;
    assert_eq!(
        edge.len(),
        3,
        "every location's result at `from` is in, none at `to`"
    );
}

pub async fn state_uses_optimistic_concurrency<S: Store>(s: &S) {
    let op = OperatorId::new("contoso").expect("id");
    assert!(s.load_state(&op).await.expect("load").is_none());
    let mut st = MonitorState::new(op.clone());
    let v1 = s.save_state(&st, None).await.expect("create");
    assert!(
        matches!(s.save_state(&st, None).await, Err(StoreError::Conflict(_))),
        "create twice"
    );
    st.consecutive_successes = 7;
    st.down_since = Some(t0());
    let v2 = s.save_state(&st, Some(v1)).await.expect("update");
    assert!(v2 > v1);
    assert!(
        matches!(
            s.save_state(&st, Some(v1)).await,
            Err(StoreError::Conflict(_))
        ),
        "stale version"
    );
    let loaded = s.load_state(&op).await.expect("load").expect("present");
    assert_eq!(loaded.value, st);
    assert_eq!(loaded.version, v2);
    assert!(matches!(
        s.save_state(&st, Some(Version(v2.0 + 5))).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn incidents_are_created_once<S: Store>(s: &S) {
    let a = incident("contoso", 0);
    assert!(s.create_incident(&a).await.expect("create"));
    let mut changed = a.clone();
    changed.summary = "other".into();
    assert!(
        !s.create_incident(&changed).await.expect("create again"),
        "second create refused"
    );
    assert_eq!(
        s.get_incident(&a.id).await.expect("get"),
        Some(a.clone()),
        "first write kept"
    );
    let b = incident("contoso", 120);
    let c = incident("fabrikam", 60);
    s.create_incident(&b).await.expect("create");
    s.create_incident(&c).await.expect("create");
    let mut resolved = a.clone();
    resolved.resolve(t0() + Duration::hours(1));
    s.put_incident(&resolved).await.expect("put");
    let op = OperatorId::new("contoso").expect("id");
    let ids = |v: Vec<Incident>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_incidents(Some(&op), false).await.expect("list")),
        vec![b.id.clone(), a.id.clone()],
        "newest first"
    );
    assert_eq!(
        ids(s.list_incidents(Some(&op), true).await.expect("list")),
        vec![b.id.clone()],
        "open only"
    );
    assert_eq!(s.list_incidents(None, false).await.expect("list").len(), 3);
    assert_eq!(
        ids(s.list_incidents(None, true).await.expect("list")),
        vec![b.id.clone(), c.id.clone()],
        "every operator's open incidents, newest first"
    );
    assert!(s.get_incident("nope").await.expect("get").is_none());
    assert!(
        s.put_incident(&incident("nobody", 0)).await.is_err(),
        "put needs an existing incident"
    );
}

/// A reservation is one conditional write: taken once while live, free
/// again once expired (before the store's TTL removes it) or deleted.
pub async fn records_are_reserved_once_until_they_expire<
    S: Store + livesite_core::ports::RecordStore,
>(
    s: &S,
) {
    use serde_json::json;
    let now = t0();
    let doc = |by: &str, minutes: i64| json!({"by": by, "expires_at": (now + Duration::minutes(minutes)).timestamp()});
    assert!(s
        .reserve_record("idempotency", "k", &doc("first", 10), now)
        .await
        .expect("reserve"));
    assert!(
        !s.reserve_record(
            "idempotency",
            "k",
            &doc("second", 10),
            now + Duration::minutes(9)
        )
        .await
        .expect("reserve"),
        "live: the second request may not act"
    );
    assert_eq!(
        s.get_record("idempotency", "k")
            .await
            .expect("get")
            .expect("present")["by"],
        "first"
    );
    assert!(
        s.reserve_record(
            "idempotency",
            "k",
            &doc("third", 30),
            now + Duration::minutes(10)
        )
        .await
        .expect("reserve"),
        "expired at its expiry time: free again"
    );
    assert_eq!(
        s.get_record("idempotency", "k")
            .await
            .expect("get")
            .expect("present")["by"],
        "third"
    );
    s.delete_record("idempotency", "k").await.expect("delete");
    assert!(s
        .get_record("idempotency", "k")
        .await
        .expect("get")
        .is_none());
    assert!(s
        .reserve_record("idempotency", "k", &doc("fourth", 10), now)
        .await
        .expect("reserve"));
}

/// Registry entries have versions: a conditional write of a stale read is
/// refused, and `change_operator` applies its change to the fresh entry, so
/// two concurrent changes of one operator both survive.
pub async fn operator_entries_change_race_free<
    S: Store + livesite_core::ports::OperatorRegistry,
>(
    s: &S,
) {
    use livesite_core::ports::{StoreError, Version};
    use livesite_core::service::change_operator;
    let mut op = operator("contoso");
    assert_eq!(
        s.put_operator_if(&op, None).await.expect("create"),
        Version(1)
    );
    assert!(
        matches!(
            s.put_operator_if(&op, None).await,
            Err(StoreError::Conflict(_))
        ),
        "create only once"
    );
    let read = s
        .get_operator_versioned(&op.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(read.version, Version(1));
    // Someone else changes it after our read (the team edits the name).
    let renamed = change_operator(s, &op.id, |o| o.name = "Contoso S.A.".into())
        .await
        .expect("change")
        .expect("present");
    assert_eq!(renamed.name, "Contoso S.A.");
    // Our write of the stale read is refused ...
    op.maintenance = vec![livesite_core::MaintenanceWindow {
        start: t0(),
        end: t0() + Duration::hours(1),
        announced_at: None,
        description: None,
    }];
    assert!(matches!(
        s.put_operator_if(&op, Some(read.version)).await,
        Err(StoreError::Conflict(_))
    ));
    // ... and the same change made race-free keeps both.
    let windows = op.maintenance.clone();
    change_operator(s, &op.id, |o| o.maintenance = windows.clone())
        .await
        .expect("change");
    let stored = s.get_operator(&op.id).await.expect("get").expect("present");
    assert_eq!(
        (stored.name.as_str(), stored.maintenance.len()),
        ("Contoso S.A.", 1)
    );
    // An unconditional registration moves the version on too.
    let before = s
        .get_operator_versioned(&op.id)
        .await
        .expect("get")
        .expect("present");
    s.put_operator(&stored).await.expect("put");
    assert!(matches!(
        s.put_operator_if(&stored, Some(before.version)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        change_operator(s, &OperatorId::new("nobody").expect("id"), |_| {})
            .await
            .expect("change")
            .is_none()
    );
}

/// A rate window counts up to its limit and no further; windows and keys
/// are counted apart.
pub async fn rates_count_to_their_limit_per_window<S: Store + livesite_core::ports::RateLimiter>(
    s: &S,
) {
    let w = t0();
    for _ in 0..3 {
        assert!(s.take("api#contoso", w, 3).await.expect("take"));
    }
    assert!(
        !s.take("api#contoso", w, 3).await.expect("take"),
        "over the limit"
    );
    assert!(
        !s.take("api#contoso", w, 3).await.expect("take"),
        "and stays over"
    );
    assert!(
        s.take("api#fabrikam", w, 3).await.expect("take"),
        "another key"
    );
    assert!(
        s.take("api#contoso", w + Duration::minutes(1), 3)
            .await
            .expect("take"),
        "the next window"
    );
}

/// Every incident write is conditional on the version it read: of two
/// writers that read the same incident, the second is refused.
pub async fn incident_writes_are_conditional_on_the_version_read<S: Store>(s: &S) {
    let cal = livesite_core::BusinessCalendar::default();
    let i = incident("contoso", 0);
    assert!(s.create_incident(&i).await.expect("create"));
    let read = s.get_incident(&i.id).await.expect("get").expect("present");
    assert_eq!(read.version, 0);
    let (mut api, mut evaluator) = (read.clone(), read);
    api.acknowledge(t0() + Duration::minutes(5), &cal);
    s.put_incident(&api).await.expect("the first writer wins");
    evaluator.resolve(t0() + Duration::minutes(6));
    assert!(
        matches!(
            s.put_incident(&evaluator).await,
            Err(livesite_core::ports::StoreError::Conflict(_))
        ),
        "the second writer read a stale version"
    );
    let stored = s.get_incident(&i.id).await.expect("get").expect("present");
    assert_eq!(
        (
            stored.version,
            stored.is_open(),
            stored.acknowledged_at.is_some()
        ),
        (1, true, true)
    );
}

/// An acknowledgement racing a resolution: the evaluator resolves the
/// incident between the API's read and its write. The change is tried again
/// on the fresh incident, sees it resolved and is refused; the incident stays
/// resolved (before versions, the acknowledgement wrote it back open and its
/// reminders never stopped).
pub async fn an_acknowledgement_racing_a_resolution_never_reopens_it<S: Store>(s: &S) {
    use livesite_core::service::{change_incident, Change};
    let cal = livesite_core::BusinessCalendar::default();
    let i = incident("contoso", 0);
    assert!(s.create_incident(&i).await.expect("create"));
    let racing = crate::wrappers::ResolvedMidway::new(s, t0() + Duration::minutes(7));
    let changed = change_incident(&racing, &i.id, |inc| {
        if inc.is_open() {
            inc.acknowledge(t0() + Duration::minutes(8), &cal);
            Ok(())
        } else {
            Err("resolved")
        }
    })
    .await
    .expect("change");
    assert_eq!(changed, Change::Refused("resolved"));
    assert_eq!(racing.reads(), 2, "read, conflict, read again");
    let stored = s.get_incident(&i.id).await.expect("get").expect("present");
    assert!(!stored.is_open(), "still resolved");
    assert!(stored.acknowledged_at.is_none());
    // Without a race the same change goes through at once.
    let j = incident("contoso", 60);
    assert!(s.create_incident(&j).await.expect("create"));
    let done = change_incident(s, &j.id, |inc| {
        inc.acknowledge(t0() + Duration::minutes(70), &cal);
        Ok::<_, ()>(inc.version)
    })
    .await
    .expect("change");
    match done {
        Change::Done(stored, read_version) => {
            assert_eq!((read_version, stored.version), (0, 1));
        }
        other => panic!("{other:?}"),
    }
}

pub async fn outbox_claims_each_notification_once<S: Store>(s: &S) {
    let now = t0() + Duration::hours(1);
    let lease = Duration::minutes(5);
    assert!(s.enqueue(&notification("b", 2)).await.expect("enqueue"));
    assert!(s.enqueue(&notification("a", 1)).await.expect("enqueue"));
    assert!(
        !s.enqueue(&notification("a", 9)).await.expect("enqueue"),
        "same key twice"
    );
    let keys = |v: Vec<livesite_core::ports::OutboxEntry>| {
        v.into_iter()
            .map(|e| e.notification.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(s.pending(now, 10).await.expect("pending")),
        vec!["a", "b"],
        "oldest first"
    );
    assert!(s.claim("a", now, now + lease).await.expect("claim"));
    assert!(
        !s.claim("a", now, now + lease).await.expect("claim"),
        "held by the first claimant"
    );
    assert_eq!(keys(s.pending(now, 10).await.expect("pending")), vec!["b"]);
    let retry = now + Duration::seconds(30);
    s.release("a", "smtp said no", Some(retry))
        .await
        .expect("release");
    let a = s.get_entry("a").await.expect("get").expect("present");
    assert_eq!(
        (
            a.status,
            a.attempts,
            a.last_error.as_deref(),
            a.next_attempt_at
        ),
        (
            DeliveryStatus::Pending,
            1,
            Some("smtp said no"),
            Some(retry)
        )
    );
    assert!(
        !s.claim("a", now, now + lease).await.expect("claim"),
        "not due before its retry time"
    );
    assert_eq!(keys(s.pending(now, 10).await.expect("pending")), vec!["b"]);
    assert_eq!(
        keys(s.pending(retry, 10).await.expect("pending")),
        vec!["b", "a"],
        "due entries by due time: b since its recording, a since its retry"
    );
    let now = retry;
    assert!(s
        .claim("a", now, now + lease)
        .await
        .expect("claim again after release"));
    // A claimant that died: its lease runs out and another may take over.
    assert!(!s
        .claim("a", now + Duration::minutes(4), now + lease)
        .await
        .expect("claim"));
    assert!(s
        .claim("a", now + lease, now + lease * 2)
        .await
        .expect("claim after lease"));
    s.mark_sent("a", now).await.expect("sent");
    assert!(
        !s.claim("a", now + lease * 10, now + lease * 11)
            .await
            .expect("claim sent"),
        "sent is final"
    );
    let a = s.get_entry("a").await.expect("get").expect("present");
    assert_eq!((a.status, a.sent_at), (DeliveryStatus::Sent, Some(now)));
    assert_eq!(a.notification, notification("a", 1), "first enqueue kept");
    assert_eq!(keys(s.pending(now, 10).await.expect("pending")), vec!["b"]);
    assert_eq!(s.pending(now, 0).await.expect("pending").len(), 0);
    // Given up: dead, never pending again, never claimable.
    assert!(s.claim("b", now, now + lease).await.expect("claim"));
    s.release("b", "address refused", None)
        .await
        .expect("release");
    let b = s.get_entry("b").await.expect("get").expect("present");
    assert_eq!(
        (b.status, b.last_error.as_deref()),
        (DeliveryStatus::Dead, Some("address refused"))
    );
    assert!(s
        .pending(now + Duration::days(1), 10)
        .await
        .expect("pending")
        .is_empty());
    assert!(!s
        .claim("b", now + Duration::days(1), now + Duration::days(2))
        .await
        .expect("claim"));
}

pub async fn records_are_created_once_and_listed_by_operator<
    S: Store + livesite_core::ports::RecordStore,
>(
    s: &S,
) {
    use serde_json::json;
    let op = OperatorId::new("contoso").expect("id");
    let other = OperatorId::new("fabrikam").expect("id");
    assert!(s
        .create_record("bug", "b2", Some(&op), &json!({"n": 2}))
        .await
        .expect("create"));
    assert!(s
        .create_record("bug", "b1", Some(&op), &json!({"n": 1}))
        .await
        .expect("create"));
    assert!(s
        .create_record("bug", "b3", Some(&other), &json!({"n": 3}))
        .await
        .expect("create"));
    assert!(s
        .create_record("notice", "x", None, &json!({"team": true}))
        .await
        .expect("create"));
    assert!(
        !s.create_record("bug", "b1", Some(&op), &json!({"n": 9}))
            .await
            .expect("again"),
        "second create refused"
    );
    assert_eq!(
        s.get_record("bug", "b1").await.expect("get"),
        Some(json!({"n": 1}))
    );
    assert!(s
        .put_record("bug", "b1", Some(&op), &json!({"n": 10}), &json!({"n": 1}))
        .await
        .expect("put"));
    assert_eq!(
        s.get_record("bug", "b1").await.expect("get"),
        Some(json!({"n": 10}))
    );
    assert!(
        !s.put_record("bug", "b1", Some(&op), &json!({"n": 11}), &json!({"n": 1}))
            .await
            .expect("stale put"),
        "a write from a stale read is refused"
    );
    assert_eq!(
        s.get_record("bug", "b1").await.expect("get"),
        Some(json!({"n": 10}))
    );
    assert!(
        !s.put_record("bug", "nope", None, &json!({}), &json!({}))
            .await
            .expect("put"),
        "put needs an existing record"
    );
    // The comparison is of the whole document as read back: nested maps,
    // lists, nulls, fractions and strings compare equal to themselves.
    let rich = json!({"a": {"b": [1, 2.5, null, "x"], "c": true}, "d": null, "e": 0.1, "f": ""});
    assert!(s
        .create_record("rich", "r1", None, &rich)
        .await
        .expect("create"));
    let read = s
        .get_record("rich", "r1")
        .await
        .expect("get")
        .expect("present");
    assert!(s
        .put_record("rich", "r1", None, &json!({"n": 2}), &read)
        .await
        .expect("put from a rich read"));
    assert_eq!(
        s.list_records("bug", Some(&op)).await.expect("list"),
        vec![json!({"n": 10}), json!({"n": 2})],
        "by id"
    );
    assert_eq!(s.list_records("bug", None).await.expect("list").len(), 3);
    assert_eq!(
        s.list_records("notice", None).await.expect("list"),
        vec![json!({"team": true})]
    );
    assert!(
        s.get_record("notice", "b1").await.expect("get").is_none(),
        "kinds do not mix"
    );
}

pub async fn operators_are_registered_changed_and_retired<
    S: livesite_core::ports::OperatorRegistry,
>(
    s: &S,
) {
    assert!(s.list_operators().await.expect("list").is_empty());
    let mut a = operator("contoso");
    s.put_operator(&a).await.expect("put");
    s.put_operator(&operator("fabrikam")).await.expect("put");
    a.name = "Contoso Mobile Group".into();
    s.put_operator(&a).await.expect("change");
    assert_eq!(s.get_operator(&a.id).await.expect("get"), Some(a.clone()));
    let ids: Vec<String> = s
        .list_operators()
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.id.to_string())
        .collect();
    assert_eq!(ids, vec!["contoso", "fabrikam"]);
    assert!(s.retire_operator(&a.id).await.expect("retire"));
    assert!(!s.retire_operator(&a.id).await.expect("retire again"));
    assert!(s.get_operator(&a.id).await.expect("get").is_none());
}

/// Closed days are stored once (a redelivered batch closes the same day
/// again: the first one stays), per operator, and read by date, half open.
pub async fn days_are_stored_once_and_read_by_date<S: Store>(s: &S) {
    use livesite_core::summary::DaySummary;
    let (contoso, fabrikam) = (
        OperatorId::new("contoso").expect("id"),
        OperatorId::new("fabrikam").expect("id"),
    );
    let day = |date: &str, up_s: u32| DaySummary {
        up_s,
        ..DaySummary::new(date.parse().expect("date"))
    };
    for date in ["2026-11-30", "2026-11-01", "2026-12-01", "2026-10-31"] {
        assert!(s.put_day(&contoso, &day(date, 60)).await.expect("put"));
    }
    assert!(
        !s.put_day(&contoso, &day("2026-11-01", 30))
            .await
            .expect("again"),
        "a day is stored once"
    );
    assert!(s
        .put_day(&fabrikam, &day("2026-11-01", 90))
        .await
        .expect("put"));
    let november = s
        .days(
            &contoso,
            "2026-11-01".parse().expect("date"),
            "2026-12-01".parse().expect("date"),
        )
        .await
        .expect("days");
    let got: Vec<(String, u32)> = november
        .iter()
        .map(|d| (d.date.to_string(), d.up_s))
        .collect();
    assert_eq!(
        got,
        [("2026-11-01".into(), 60), ("2026-11-30".into(), 60)],
        "oldest first, the first write kept, the end excluded, one operator's"
    );
    let none = s
        .days(
            &contoso,
            "2026-12-02".parse().expect("date"),
            "2026-12-02".parse().expect("date"),
        )
        .await
        .expect("empty range");
    assert!(none.is_empty());
}

/// Instantiates the contract for a store: `$make` is an async expression
/// yielding a fresh, empty store.
#[macro_export]
macro_rules! store_contract {
    ($make:expr) => {
        #[tokio::test]
        async fn contract_probes() {
            $crate::contract::probes_are_kept_once_and_ranged_half_open(&$make).await;
        }
        #[tokio::test]
        async fn contract_probes_by_location() {
            $crate::contract::each_locations_result_is_kept_even_in_the_same_millisecond(&$make)
                .await;
        }
        #[tokio::test]
        async fn contract_state() {
            $crate::contract::state_uses_optimistic_concurrency(&$make).await;
        }
        #[tokio::test]
        async fn contract_incidents() {
            $crate::contract::incidents_are_created_once(&$make).await;
        }
        #[tokio::test]
        async fn contract_incident_versions() {
            $crate::contract::incident_writes_are_conditional_on_the_version_read(&$make).await;
        }
        #[tokio::test]
        async fn contract_acknowledgement_races_resolution() {
            $crate::contract::an_acknowledgement_racing_a_resolution_never_reopens_it(&$make).await;
        }
        #[tokio::test]
        async fn contract_outbox() {
            $crate::contract::outbox_claims_each_notification_once(&$make).await;
        }
        #[tokio::test]
        async fn contract_records() {
            $crate::contract::records_are_created_once_and_listed_by_operator(&$make).await;
        }
        #[tokio::test]
        async fn contract_reservations() {
            $crate::contract::records_are_reserved_once_until_they_expire(&$make).await;
        }
        #[tokio::test]
        async fn contract_registry_versions() {
            $crate::contract::operator_entries_change_race_free(&$make).await;
        }
        #[tokio::test]
        async fn contract_rates() {
            $crate::contract::rates_count_to_their_limit_per_window(&$make).await;
        }
        #[tokio::test]
        async fn contract_registry() {
            $crate::contract::operators_are_registered_changed_and_retired(&$make).await;
        }
        #[tokio::test]
        async fn contract_days() {
            $crate::contract::days_are_stored_once_and_read_by_date(&$make).await;
        }
    };
}

// ---- The service's guarantees, over any store --------------------------------

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
    let mut ctx = context(&["contoso"]);
    ctx.policy.locations.expected = vec!["us-east-1".into()];
    let located = |location: &str, secs: i64, up: bool| ProbeResult {
        location: Some(location.into()),
        ..probe("contoso", secs, up)
    };
    let mut batch: Vec<ProbeResult> = (0..=61)
        .map(|i| located("eu-west-1", i * 30, false))
        .collect();
    batch.push(located("us-east-1", 0, true));
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
    // 24th the first 20 minutes down, inside an announced window.
    for day in 0..3 {
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
        async fn service_a_poison_notification_never_delays_a_new_page() {
            $crate::contract::a_poison_notification_never_delays_a_new_page(&$make).await;
        }
    };
}
