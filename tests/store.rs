//! The embedded SQLite store: the store contract, the service's guarantees on
//! it, and the restart test (an outage clock survives a restart).

use chrono::Duration;
use livesite_core::ports::Outbox;
use livesite_core::service::evaluate_batch;
use livesite_local::SqliteStore;
use livesite_tests::contract::context;
use livesite_tests::fixtures::{failures, t0};
use livesite_tests::{service_contract, store_contract};

fn fresh() -> SqliteStore {
    SqliteStore::in_memory().expect("sqlite")
}

store_contract!(fresh());
service_contract!(fresh());

#[tokio::test]
async fn restart_continues_the_outage_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("livesite.db");
    let ctx = context(&["contoso"]);
    {
        let store = SqliteStore::open(&path).expect("open");
        let out = evaluate_batch(&store, &ctx, &failures("contoso", 0, 1200)).await;
        assert!(out.events.is_empty());
    } // the monitor stops here
    let store = SqliteStore::open(&path).expect("reopen");
    let out = evaluate_batch(&store, &ctx, &failures("contoso", 1230, 1800)).await;
    assert!(
        out.events.is_empty(),
        "30:00 after the first failure before the restart: no page yet"
    );
    let out = evaluate_batch(&store, &ctx, &failures("contoso", 1830, 1830)).await;
    assert_eq!(
        out.events.len(),
        1,
        "30:30 after the first failure, across the restart: page"
    );
    let pending = store
        .pending(t0() + Duration::hours(1), 10)
        .await
        .expect("pending");
    assert_eq!(
        pending.len(),
        2,
        "page and email wait in the outbox, which also survives restarts"
    );
}

#[tokio::test]
async fn unreadable_state_is_reported_not_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("livesite.db");
    {
        let store = SqliteStore::open(&path).expect("open");
        evaluate_batch(&store, &context(&["contoso"]), &failures("contoso", 0, 60)).await;
    }
    assert!(corrupt_state(&path), "corrupted the state row");
    let store = SqliteStore::open(&path).expect("reopen");
    let out = evaluate_batch(&store, &context(&["contoso"]), &failures("contoso", 90, 90)).await;
    assert_eq!(
        out.failed.len(),
        1,
        "a corrupt state fails the operator's batch for a retry"
    );
    assert!(
        out.failed[0].1.to_string().contains("unreadable"),
        "{}",
        out.failed[0].1
    );
}

/// Overwrites the stored state document with something that is not JSON.
fn corrupt_state(path: &std::path::Path) -> bool {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute(
        "UPDATE monitor_state SET doc = '{not json' WHERE operator = 'contoso'",
        [],
    )
    .expect("update")
        == 1
}

/// The monthly report is built once the operator's own month has ended: at
/// 00:05 UTC on 1 December it is still November in New York, and November's
/// last hours would otherwise be reported as unknown, for good (the report
/// is recorded once).
#[tokio::test]
async fn a_report_waits_for_the_end_of_the_operators_own_month() {
    use livesite_core::ports::OperatorRegistry;
    let store = fresh();
    let mut ny = livesite_tests::fixtures::operator("fabrikam");
    ny.timezone = livesite_core::Tz::America__New_York;
    store.put_operator(&ny).await.expect("register");
    let team = livesite_tests::fixtures::team();
    let policy = livesite_core::Policy::default();
    // Rounds on 30 November, evening in New York, decided by the monitor.
    let evening: chrono::DateTime<chrono::Utc> = "2026-11-30T23:00:00Z".parse().expect("t");
    let probes: Vec<_> = (0..10)
        .map(|i| livesite_core::ProbeResult {
            probed_at: evening + Duration::seconds(30 * i),
            ..livesite_tests::fixtures::probe("fabrikam", 0, true)
        })
        .collect();
    let ctx = livesite_core::service::Context::new(policy.clone(), team.clone(), [ny]);
    let out = evaluate_batch(&store, &ctx, &probes).await;
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    // (now, reports recorded)
    let table = [
        ("2026-12-01T00:05:00Z", 0),
        ("2026-12-01T04:55:00Z", 0),
        ("2026-12-01T05:05:00Z", 1),
        ("2026-12-01T05:10:00Z", 0),
    ];
    for (now, want) in table {
        let q =
            livesite_report::queue_monthly_reports(&store, &team, &policy, now.parse().expect("t"))
                .await
                .expect("queue");
        assert_eq!(q.queued.len(), want, "{now}: {:?}", q.queued);
    }
    let key = "fabrikam#report-2026-11";
    assert!(store.get_entry(key).await.expect("get").is_some());
}

/// A record store where another writer gets in once, between this writer's
/// read and its write: it moves the record first.
struct Interloper {
    inner: SqliteStore,
    theirs: serde_json::Value,
    done: std::sync::atomic::AtomicBool,
}

impl livesite_core::ports::RecordStore for Interloper {
    async fn create_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&livesite_core::OperatorId>,
        doc: &serde_json::Value,
    ) -> Result<bool, livesite_core::ports::StoreError> {
        self.inner.create_record(kind, id, operator, doc).await
    }
    async fn put_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&livesite_core::OperatorId>,
        doc: &serde_json::Value,
        expected: &serde_json::Value,
    ) -> Result<bool, livesite_core::ports::StoreError> {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let theirs = self
                .inner
                .put_record(kind, id, operator, &self.theirs, expected);
            assert!(theirs.await.expect("their write"));
        }
        self.inner
            .put_record(kind, id, operator, doc, expected)
            .await
    }
    async fn get_record(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, livesite_core::ports::StoreError> {
        self.inner.get_record(kind, id).await
    }
    async fn list_records(
        &self,
        kind: &str,
        operator: Option<&livesite_core::OperatorId>,
    ) -> Result<Vec<serde_json::Value>, livesite_core::ports::StoreError> {
        self.inner.list_records(kind, operator).await
    }
    async fn reserve_record(
        &self,
        kind: &str,
        id: &str,
        doc: &serde_json::Value,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, livesite_core::ports::StoreError> {
        self.inner.reserve_record(kind, id, doc, now).await
    }
    async fn delete_record(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<(), livesite_core::ports::StoreError> {
        self.inner.delete_record(kind, id).await
    }
}

/// A record changed between a read and its write is never overwritten: the
/// change is decided again on what the other writer left. An approval that
/// loses to a cancellation is refused; it used to write the window back
/// approved and announced.
#[tokio::test]
async fn a_record_change_is_decided_on_what_another_writer_left() {
    use livesite_core::partner::{announce_maintenance, Announcer, Maintenance, MaintenanceInput};
    use livesite_core::records::Records;
    use livesite_core::service::{change_record, Change};
    let at: chrono::DateTime<chrono::Utc> = "2026-12-02T08:00:00Z".parse().expect("t");
    let op = livesite_tests::fixtures::operator("contoso");
    let input = MaintenanceInput {
        start: at + Duration::hours(1),
        end: at + Duration::hours(3),
        description: "upgrade".into(),
        services: vec![],
    };
    let late = announce_maintenance(
        Announcer::Operator(op.id.clone()),
        input,
        at,
        &op.calendar(),
        &livesite_core::Policy::default(),
        &[],
    )
    .expect("late window");
    let mut cancelled = late.clone();
    cancelled.cancel(at).expect("cancel");
    let store = Interloper {
        inner: fresh(),
        theirs: serde_json::to_value(&cancelled).expect("json"),
        done: Default::default(),
    };
    assert!(store.create(&late).await.expect("create"));
    let got = change_record(&store, &late.id, |m: &mut Maintenance| m.approve(at))
        .await
        .expect("change");
    assert!(matches!(got, Change::Refused(_)), "{got:?}");
    let stored: Maintenance = store
        .get::<Maintenance>(&late.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored, cancelled, "the cancellation stands");
}

#[tokio::test]
async fn a_database_keyed_by_the_millisecond_is_rekeyed_by_location_keeping_every_probe() {
    use livesite_core::ports::ProbeLog;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("livesite.db");
    let old = livesite_tests::fixtures::probe("contoso", 30, false);
    {
        // The probes table as livesite made it before locations voted.
        let c = rusqlite::Connection::open(&path).expect("open");
        c.execute_batch(
            "CREATE TABLE probes (operator TEXT NOT NULL, probed_at_ms INTEGER NOT NULL,
             doc TEXT NOT NULL, PRIMARY KEY (operator, probed_at_ms)) WITHOUT ROWID;",
        )
        .expect("old schema");
        c.execute(
            "INSERT INTO probes VALUES ('contoso', ?1, ?2)",
            rusqlite::params![
                old.probed_at.timestamp_millis(),
                serde_json::to_string(&old).expect("json")
            ],
        )
        .expect("old row");
    }
    let store = SqliteStore::open(&path).expect("open and rekey");
    let other = livesite_core::ProbeResult {
        location: Some("eu-west-1".into()),
        ..livesite_tests::fixtures::probe("contoso", 30, true)
    };
    store
        .append(&other)
        .await
        .expect("same millisecond, another location");
    let op = old.operator.clone();
    let got = store
        .range(&op, t0(), t0() + Duration::minutes(1))
        .await
        .expect("range");
    assert_eq!(
        got,
        vec![old, other],
        "the old row kept, the new one beside it"
    );
    drop(store);
    SqliteStore::open(&path).expect("a rekeyed database opens as it is");
}

/// The sweep's delivery stops claiming once its time budget is spent: what
/// is due waits, counted as deferred and as the oldest unsent, for the next
/// sweep, which sends it.
#[tokio::test]
async fn the_sweeps_delivery_keeps_to_its_time_budget() {
    use livesite_core::service::sweep;
    let store = fresh();
    let n = livesite_tests::contract::notification("due", 0);
    assert!(store.enqueue(&n).await.expect("enqueue"));
    let team = livesite_tests::fixtures::team();
    let policy = livesite_core::Policy::default();
    let notifier = livesite_tests::wrappers::Recorder::default();
    let at = t0() + Duration::minutes(1);
    let spent = sweep(&store, &notifier, &team, &policy, at, &|| false).await;
    assert_eq!(spent.delivery.deferred, 1);
    assert!(spent.delivery.sent.is_empty() && notifier.keys().is_empty());
    assert_eq!(spent.delivery.oldest_unsent, Some(n.created_at));
    let next = sweep(&store, &notifier, &team, &policy, at, &|| true).await;
    assert_eq!((next.delivery.sent.len(), notifier.keys().len()), (1, 1));
}

/// A sweep whose incidents cannot be read runs every other duty and names
/// the one that failed as the logs and the metric name it.
#[tokio::test]
async fn a_sweep_names_the_duty_an_unreadable_incident_failed() {
    use livesite_core::ports::OperatorRegistry;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("livesite.db");
    {
        let store = SqliteStore::open(&path).expect("open");
        store
            .put_operator(&livesite_tests::fixtures::operator("contoso"))
            .await
            .expect("register");
        evaluate_batch(
            &store,
            &context(&["contoso"]),
            &failures("contoso", 0, 1830),
        )
        .await;
    }
    let conn = rusqlite::Connection::open(&path).expect("open");
    let n = conn
        .execute("UPDATE incidents SET doc = '{not json'", [])
        .expect("update");
    assert_eq!(n, 1, "the outage's incident");
    let store = SqliteStore::open(&path).expect("reopen");
    let recorder = livesite_tests::wrappers::Recorder::default();
    let report = livesite_core::service::sweep(
        &store,
        &recorder,
        &livesite_tests::fixtures::team(),
        &livesite_core::Policy::default(),
        t0() + Duration::hours(3),
        &|| true,
    )
    .await;
    let failed: Vec<String> = report.failed.iter().map(|(d, _)| d.to_string()).collect();
    assert!(failed.contains(&"reminders".to_string()), "{failed:?}");
    assert!(
        report
            .failed
            .iter()
            .all(|(d, _)| d.as_str() == d.to_string()),
        "{failed:?}"
    );
    assert!(
        report.failed.iter().any(|(_, e)| e.contains("unreadable")),
        "{:?}",
        report.failed
    );
}
