//! The embedded store. Each record is kept as its JSON document (the same
//! schema the DynamoDB store keeps), beside the few columns that queries and
//! conditional writes need. Writes are transactions; WAL mode keeps a crash
//! from losing a committed write, so a restarted monitor continues its clocks.

use chrono::{DateTime, NaiveDate, Utc};
use livesite_core::evaluate::MonitorState;
use livesite_core::ids::OperatorId;
use livesite_core::incident::Incident;
use livesite_core::notify::{Channel, Notification};
use livesite_core::ports::{
    DeliveryStatus, IncidentStore, OperatorRegistry, Outbox, OutboxEntry, ProbeLog, RateLimiter,
    RecordStore, StateStore, StoreError, SummaryStore, Version, Versioned,
};
use livesite_core::probe::ProbeResult;
use livesite_core::summary::DaySummary;
use livesite_core::Operator;
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Mutex;

/// One row per operator, millisecond and location (`''` for the single
/// default location): several locations' results of a round never collide.
const PROBES: &str = "
CREATE TABLE IF NOT EXISTS probes (
    operator TEXT NOT NULL,
    probed_at_ms INTEGER NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    doc TEXT NOT NULL,
    PRIMARY KEY (operator, probed_at_ms, location)
) WITHOUT ROWID;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS monitor_state (
    operator TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    opened_at_ms INTEGER NOT NULL,
    open INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_operator ON incidents (operator, opened_at_ms);
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_until_ms INTEGER,
    sent_at_ms INTEGER,
    last_error TEXT,
    doc TEXT NOT NULL,
    next_attempt_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, created_ms, priority);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    operator TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rates (
    key TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (key, window_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS operators (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS days (
    operator TEXT NOT NULL,
    date TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (operator, date)
) WITHOUT ROWID;
";

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn to_doc<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(backend)
}

fn from_doc<T: DeserializeOwned>(key: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

/// Adds a column that a database made by an older livesite lacks.
fn add_column(conn: &Connection, table: &str, column: &str, kind: &str) -> Result<(), StoreError> {
    let present: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
            params![table, column],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if present == 0 {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))
            .map_err(backend)?;
    }
    Ok(())
}

/// Databases made before several locations voted keyed their probes by
/// operator and millisecond only, so two locations' results in one
/// millisecond were one row; a key cannot change in place, so the table is
/// rebuilt with the location in its key, every row kept (the default
/// location, '', for all of them: they were made by one).
fn rekey_probes(conn: &Connection) -> Result<(), StoreError> {
    let (columns, located): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(name = 'location'), 0) FROM pragma_table_info('probes')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(backend)?;
    if columns == 0 || located > 0 {
        return Ok(());
    }
    let tx = conn.unchecked_transaction().map_err(backend)?;
    tx.execute_batch("ALTER TABLE probes RENAME TO probes_by_millisecond;")
        .map_err(backend)?;
    tx.execute_batch(PROBES).map_err(backend)?;
    tx.execute_batch(
        "INSERT INTO probes (operator, probed_at_ms, location, doc)
             SELECT operator, probed_at_ms, '', doc FROM probes_by_millisecond;
         DROP TABLE probes_by_millisecond;",
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)
}

impl SqliteStore {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        rekey_probes(&conn)?;
        conn.execute_batch(PROBES).map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        // Databases made before retries had a backoff lack the column.
        add_column(&conn, "outbox", "next_attempt_ms", "INTEGER")?;
        // Before registry entries had versions.
        add_column(&conn, "operators", "version", "INTEGER NOT NULL DEFAULT 0")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic elsewhere while holding the lock leaves SQLite consistent
        // (the transaction rolls back), so the poisoned guard is safe to reuse.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    /// Every outbox entry, oldest first (for the CLI and tests).
    pub fn outbox_entries(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM outbox ORDER BY created_ms, priority, key"
                ))
                .map_err(backend)?;
            let rows = stmt.query_map([], row_to_entry).map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(|x| x)).collect()
        })
    }
}

type EntryRow = Result<OutboxEntry, StoreError>;

/// The columns `row_to_entry` reads, in its order.
const ENTRY_COLUMNS: &str =
    "key, status, attempts, claimed_until_ms, sent_at_ms, last_error, doc, next_attempt_ms";

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
    let key: String = r.get(0)?;
    let status: String = r.get(1)?;
    let attempts: u32 = r.get(2)?;
    let claimed: Option<i64> = r.get(3)?;
    let sent: Option<i64> = r.get(4)?;
    let last_error: Option<String> = r.get(5)?;
    let doc: String = r.get(6)?;
    let next: Option<i64> = r.get(7)?;
    Ok(
        from_doc::<Notification>(&key, &doc).map(|notification| OutboxEntry {
            notification,
            status: match status.as_str() {
                "sent" => DeliveryStatus::Sent,
                "dead" => DeliveryStatus::Dead,
                _ => DeliveryStatus::Pending,
            },
            attempts,
            claimed_until: from_millis(claimed),
            sent_at: from_millis(sent),
            last_error,
            next_attempt_at: from_millis(next),
        }),
    )
}

impl ProbeLog for SqliteStore {
    async fn append(&self, probe: &ProbeResult) -> Result<(), StoreError> {
        let doc = to_doc(probe)?;
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO probes (operator, probed_at_ms, location, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    probe.operator.as_str(),
                    millis(probe.probed_at),
                    probe.location.as_deref().unwrap_or_default(),
                    doc
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn range(
        &self,
        operator: &OperatorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT probed_at_ms, doc FROM probes WHERE operator = ?1 AND probed_at_ms >= ?2 AND probed_at_ms < ?3 ORDER BY probed_at_ms, location")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![operator.as_str(), millis(from), millis(to)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(backend)?;
            rows.map(|r| {
                r.map_err(backend)
                    .and_then(|(ms, d)| from_doc(&format!("probe {operator}@{ms}"), &d))
            })
            .collect()
        })
    }
}

impl SummaryStore for SqliteStore {
    async fn put_day(&self, operator: &OperatorId, day: &DaySummary) -> Result<bool, StoreError> {
        let doc = to_doc(day)?;
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO days (operator, date, doc) VALUES (?1, ?2, ?3)",
                    params![operator.as_str(), day.date.to_string(), doc],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn days(
        &self,
        operator: &OperatorId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySummary>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT date, doc FROM days WHERE operator = ?1 AND date >= ?2 AND date < ?3 ORDER BY date")
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![operator.as_str(), from.to_string(), to.to_string()],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .map_err(backend)?;
            rows.map(|r| {
                r.map_err(backend)
                    .and_then(|(d, doc)| from_doc(&format!("day {operator} {d}"), &doc))
            })
            .collect()
        })
    }
}

impl StateStore for SqliteStore {
    async fn load_state(
        &self,
        operator: &OperatorId,
    ) -> Result<Option<Versioned<MonitorState>>, StoreError> {
        self.with(|c| {
            let row: Option<(i64, String)> = c
                .query_row(
                    "SELECT version, doc FROM monitor_state WHERE operator = ?1",
                    params![operator.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            row.map(|(v, doc)| {
                Ok(Versioned {
                    value: from_doc(&format!("state {operator}"), &doc)?,
                    version: Version(v as u64),
                })
            })
            .transpose()
        })
    }

    async fn save_state(
        &self,
        state: &MonitorState,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        let doc = to_doc(state)?;
        let op = state.operator.as_str();
        self.with(|c| {
            let changed = match expected {
                None => c
                    .execute(
                        "INSERT OR IGNORE INTO monitor_state (operator, version, doc) VALUES (?1, 1, ?2)",
                        params![op, doc],
                    )
                    .map_err(backend)?,
                Some(Version(v)) => c
                    .execute(
                        "UPDATE monitor_state SET version = version + 1, doc = ?2 WHERE operator = ?1 AND version = ?3",
                        params![op, doc, v as i64],
                    )
                    .map_err(backend)?,
            };
            if changed == 0 {
                return Err(StoreError::Conflict(format!("state {op}")));
            }
            Ok(Version(expected.map_or(1, |Version(v)| v + 1)))
        })
    }
}

impl IncidentStore for SqliteStore {
    async fn create_incident(&self, incident: &Incident) -> Result<bool, StoreError> {
        let doc = to_doc(incident)?;
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO incidents (id, operator, opened_at_ms, open, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![incident.id, incident.operator.as_str(), millis(incident.opened_at), incident.is_open(), doc],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn put_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let mut next = incident.clone();
        next.version = incident.version + 1;
        let doc = to_doc(&next)?;
        self.with(|c| {
            // Records written before versions carry none: they are version 0.
            let n = c
                .execute(
                    "UPDATE incidents SET open = ?2, doc = ?3
                     WHERE id = ?1 AND COALESCE(json_extract(doc, '$.version'), 0) = ?4",
                    params![incident.id, next.is_open(), doc, incident.version as i64],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(format!(
                    "incident {} changed since it was read (or does not exist)",
                    incident.id
                )));
            }
            Ok(())
        })
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        self.with(|c| {
            let doc: Option<String> = c
                .query_row(
                    "SELECT doc FROM incidents WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            doc.map(|d| from_doc(id, &d)).transpose()
        })
    }

    async fn list_incidents(
        &self,
        operator: Option<&OperatorId>,
        open_only: bool,
    ) -> Result<Vec<Incident>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT id, doc FROM incidents WHERE (?1 IS NULL OR operator = ?1) AND (?2 = 0 OR open = 1) ORDER BY opened_at_ms DESC, id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![operator.map(|o| o.as_str()), open_only], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(|(id, d)| from_doc(&id, &d))).collect()
        })
    }
}

impl Outbox for SqliteStore {
    async fn enqueue(&self, n: &Notification) -> Result<bool, StoreError> {
        let doc = to_doc(n)?;
        self.with(|c| {
            let inserted = c
                .execute(
                    "INSERT OR IGNORE INTO outbox (key, created_ms, priority, status, doc) VALUES (?1, ?2, ?3, 'pending', ?4)",
                    // Pages before emails of the same moment: the phone call comes first.
                    params![n.key, millis(n.created_at), i64::from(n.channel != Channel::Page), doc],
                )
                .map_err(backend)?;
            Ok(inserted == 1)
        })
    }

    async fn pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM outbox
                     WHERE status = 'pending' AND COALESCE(next_attempt_ms, created_ms) <= ?1
                       AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?1)
                     ORDER BY priority, COALESCE(next_attempt_ms, created_ms), key LIMIT ?2"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![millis(now), limit as i64], row_to_entry)
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(|x| x)).collect()
        })
    }

    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c
                .execute(
                    "UPDATE outbox SET claimed_until_ms = ?3, attempts = attempts + 1
                     WHERE key = ?1 AND status = 'pending' AND COALESCE(next_attempt_ms, created_ms) <= ?2
                       AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?2)",
                    params![key, millis(now), millis(until)],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn mark_sent(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET status = 'sent', sent_at_ms = ?2, claimed_until_ms = NULL, last_error = NULL WHERE key = ?1",
                params![key, millis(at)],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn release(
        &self,
        key: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET claimed_until_ms = NULL, last_error = ?2, next_attempt_ms = ?3,
                    status = CASE WHEN ?3 IS NULL THEN 'dead' ELSE 'pending' END
                 WHERE key = ?1 AND status = 'pending'",
                params![key, error, retry_at.map(millis)],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn get_entry(&self, key: &str) -> Result<Option<OutboxEntry>, StoreError> {
        self.with(|c| {
            let row = c
                .query_row(
                    &format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE key = ?1"),
                    params![key],
                    row_to_entry,
                )
                .optional()
                .map_err(backend)?;
            row.transpose()
        })
    }
}

impl RecordStore for SqliteStore {
    async fn create_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&OperatorId>,
        doc: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let doc = to_doc(doc)?;
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO records (kind, id, operator, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![kind, id, operator.map(|o| o.as_str()), doc],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn put_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&OperatorId>,
        doc: &serde_json::Value,
        expected: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let (doc, expected) = (to_doc(doc)?, to_doc(expected)?);
        self.with(|c| {
            let n = c
                .execute(
                    "UPDATE records SET operator = ?3, doc = ?4 WHERE kind = ?1 AND id = ?2 AND doc = ?5",
                    params![kind, id, operator.map(|o| o.as_str()), doc, expected],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn get_record(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        self.with(|c| {
            let doc: Option<String> = c
                .query_row(
                    "SELECT doc FROM records WHERE kind = ?1 AND id = ?2",
                    params![kind, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            doc.map(|d| from_doc(id, &d)).transpose()
        })
    }

    async fn reserve_record(
        &self,
        kind: &str,
        id: &str,
        doc: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let doc = to_doc(doc)?;
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT INTO records (kind, id, operator, doc) VALUES (?1, ?2, NULL, ?3)
                     ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc
                     WHERE json_extract(records.doc, '$.expires_at') <= ?4",
                    params![kind, id, doc, now.timestamp()],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn delete_record(&self, kind: &str, id: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM records WHERE kind = ?1 AND id = ?2",
                params![kind, id],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn list_records(
        &self,
        kind: &str,
        operator: Option<&OperatorId>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT id, doc FROM records WHERE kind = ?1 AND (?2 IS NULL OR operator = ?2) ORDER BY id")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![kind, operator.map(|o| o.as_str())], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(|(id, d)| from_doc(&id, &d))).collect()
        })
    }
}

impl OperatorRegistry for SqliteStore {
    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT id, doc FROM operators ORDER BY id")
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(|(id, d)| from_doc(&id, &d)))
                .collect()
        })
    }

    async fn get_operator(&self, id: &OperatorId) -> Result<Option<Operator>, StoreError> {
        self.with(|c| {
            let doc: Option<String> = c
                .query_row(
                    "SELECT doc FROM operators WHERE id = ?1",
                    params![id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            doc.map(|d| from_doc(id.as_str(), &d)).transpose()
        })
    }

    async fn put_operator(&self, operator: &Operator) -> Result<(), StoreError> {
        let doc = to_doc(operator)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO operators (id, doc, version) VALUES (?1, ?2, 1)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = version + 1",
                params![operator.id.as_str(), doc],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn get_operator_versioned(
        &self,
        id: &OperatorId,
    ) -> Result<Option<Versioned<Operator>>, StoreError> {
        self.with(|c| {
            let row: Option<(String, i64)> = c
                .query_row(
                    "SELECT doc, version FROM operators WHERE id = ?1",
                    params![id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            row.map(|(d, v)| {
                from_doc(id.as_str(), &d).map(|value| Versioned {
                    value,
                    version: Version(v as u64),
                })
            })
            .transpose()
        })
    }

    async fn put_operator_if(
        &self,
        operator: &Operator,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        let doc = to_doc(operator)?;
        self.with(|c| {
            let (n, next) = match expected {
                None => (
                    c.execute(
                        "INSERT OR IGNORE INTO operators (id, doc, version) VALUES (?1, ?2, 1)",
                        params![operator.id.as_str(), doc],
                    ),
                    1,
                ),
                Some(Version(v)) => (
                    c.execute(
                        "UPDATE operators SET doc = ?2, version = ?3 WHERE id = ?1 AND version = ?4",
                        params![operator.id.as_str(), doc, (v + 1) as i64, v as i64],
                    ),
                    v + 1,
                ),
            };
            if n.map_err(backend)? == 1 {
                Ok(Version(next))
            } else {
                Err(StoreError::Conflict(format!(
                    "operator {} changed since it was read",
                    operator.id
                )))
            }
        })
    }

    async fn retire_operator(&self, id: &OperatorId) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c
                .execute("DELETE FROM operators WHERE id = ?1", params![id.as_str()])
                .map_err(backend)?;
            Ok(n == 1)
        })
    }
}

impl RateLimiter for SqliteStore {
    async fn take(&self, key: &str, window: DateTime<Utc>, limit: u32) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT INTO rates (key, window_ms, n) VALUES (?1, ?2, 1)
                     ON CONFLICT (key, window_ms) DO UPDATE SET n = n + 1 WHERE n < ?3",
                    params![key, millis(window), i64::from(limit)],
                )
                .map_err(backend)?;
            // Old windows are of no use: keep the table to the last hour.
            c.execute(
                "DELETE FROM rates WHERE window_ms < ?1",
                params![millis(window) - 3_600_000],
            )
            .map_err(backend)?;
            Ok(n == 1)
        })
    }
}
