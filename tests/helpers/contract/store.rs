//! The store's own guarantees: each port's writes, conditions and reads.

use super::*;

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
