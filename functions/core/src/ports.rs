//! The ports: what the core needs from the outside world, stated narrowly.
//! The embedded store (SQLite), the DynamoDB store, the console notifier, SNS
//! and SES implement these; one contract test suite checks every store.

use crate::config::Operator;
use crate::evaluate::MonitorState;
use crate::ids::OperatorId;
use crate::incident::Incident;
use crate::notify::Notification;
use crate::probe::ProbeResult;
use crate::summary::DaySummary;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: someone else changed the item first.
    #[error("conflicting update of {0}")]
    Conflict(String),
    /// A stored item that no longer reads as what it should be.
    #[error("stored item {key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
    #[error("store unavailable: {0}")]
    Backend(#[source] BoxError),
}

#[derive(Debug, thiserror::Error)]
#[error("delivery of {key} failed: {source}")]
pub struct NotifyError {
    pub key: String,
    #[source]
    pub source: BoxError,
}

/// Optimistic-concurrency token of a stored item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version(pub u64);

#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sent,
    /// Given up after `notify::MAX_ATTEMPTS` failed sends; the team was told.
    Dead,
}

/// A notification as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub notification: Notification,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// A sender holds the entry until then; another may take it after.
    pub claimed_until: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When a failed send is due again (absent: due since it was recorded).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

pub trait ProbeLog: Send + Sync {
    /// Stores one probe result. Storing the same (operator, probed_at) twice
    /// keeps one record.
    fn append(&self, probe: &ProbeResult) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Probe results of one operator with `from <= probed_at < to`, oldest first.
    fn range(
        &self,
        operator: &OperatorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ProbeResult>, StoreError>> + Send;
}

pub trait StateStore: Send + Sync {
    fn load_state(
        &self,
        operator: &OperatorId,
    ) -> impl Future<Output = Result<Option<Versioned<MonitorState>>, StoreError>> + Send;
    /// Writes the state if its stored version is still `expected` (`None`: it
    /// must not exist yet). Returns the new version, or `StoreError::Conflict`.
    fn save_state(
        &self,
        state: &MonitorState,
        expected: Option<Version>,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;
}

pub trait IncidentStore: Send + Sync {
    /// Creates the incident unless one with its id exists; `false` when it did.
    fn create_incident(
        &self,
        incident: &Incident,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Replaces an existing incident if it is still at `incident.version`
    /// (nobody wrote it since it was read), storing it as the next version;
    /// `StoreError::Conflict` otherwise. `service::change_incident` is the
    /// read-modify-write loop over this.
    fn put_incident(
        &self,
        incident: &Incident,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_incident(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;
    /// Incidents, newest first, optionally of one operator and only open ones.
    fn list_incidents(
        &self,
        operator: Option<&OperatorId>,
        open_only: bool,
    ) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;
}

pub trait Outbox: Send + Sync {
    /// Records a notification to send, unless one with its key exists: the
    /// conditional write that makes every side effect happen at most once per
    /// decision. `false` when the key was already there.
    fn enqueue(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Pending entries due at `now` (recorded, or their retry time reached)
    /// and not claimed: every due page before any email, each channel
    /// earliest due first. No number of emails can hold back a page, and an
    /// entry that keeps failing is due later and later behind new ones.
    fn pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;
    /// Takes a pending, unclaimed entry for sending until `until`; `false` if
    /// it was sent or someone else holds it.
    fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn mark_sent(
        &self,
        key: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Gives a claimed entry back after a failed send: due again at
    /// `retry_at`, or, with `None`, given up for good (`Dead`).
    fn release(
        &self,
        key: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_entry(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<OutboxEntry>, StoreError>> + Send;
}

/// The decided days (`summary`): what every figure is computed from.
pub trait SummaryStore: Send + Sync {
    /// Stores a closed day unless that operator's day is stored already
    /// (a redelivered batch closes the same day again): `false` then, and
    /// the stored one stays.
    fn put_day(
        &self,
        operator: &OperatorId,
        day: &DaySummary,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The operator's stored days with `from <= date < to`, oldest first:
    /// one read of at most as many items as days.
    fn days(
        &self,
        operator: &OperatorId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DaySummary>, StoreError>> + Send;
}

/// Everything the monitor keeps.
pub trait Store: ProbeLog + StateStore + IncidentStore + Outbox + SummaryStore {}
impl<T: ProbeLog + StateStore + IncidentStore + Outbox + SummaryStore> Store for T {}

pub trait Notifier: Send + Sync {
    fn deliver(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

pub trait Prober: Send + Sync {
    fn probe(
        &self,
        operator: &Operator,
        at: DateTime<Utc>,
    ) -> impl Future<Output = ProbeResult> + Send;
}

/// Partner records (outage reports, maintenance notices, outage notices, bug
/// reports, information requests, idempotency entries): JSON documents kept
/// by kind and id, optionally tied to an operator.
pub trait RecordStore: Send + Sync {
    /// Creates the record unless one with its kind and id exists; `false` when it did.
    fn create_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&OperatorId>,
        doc: &serde_json::Value,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Replaces a record only if it is still `expected` (the document as
    /// read), in one conditional write; `false` when it changed meanwhile or
    /// is gone. Read, change, `put_record`: two changes from the same read
    /// can't both be written (`service::change_record` retries the loser).
    fn put_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&OperatorId>,
        doc: &serde_json::Value,
        expected: &serde_json::Value,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn get_record(
        &self,
        kind: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, StoreError>> + Send;
    /// Records of a kind, by id, optionally of one operator.
    fn list_records(
        &self,
        kind: &str,
        operator: Option<&OperatorId>,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, StoreError>> + Send;
    /// Creates the record unless a live one with its kind and id exists, in
    /// one conditional write. A record whose `expires_at` (seconds since the
    /// epoch, in the document) is at or before `now` counts as absent: the
    /// store's TTL removes such records, but only eventually. `false` when a
    /// live record exists. This is how an idempotency key is taken before
    /// its request acts.
    fn reserve_record(
        &self,
        kind: &str,
        id: &str,
        doc: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Removes a record (a reservation whose request could not act).
    fn delete_record(
        &self,
        kind: &str,
        id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Who is monitored: the registry the probe reads and the API manages.
pub trait OperatorRegistry: Send + Sync {
    fn list_operators(&self) -> impl Future<Output = Result<Vec<Operator>, StoreError>> + Send;
    fn get_operator(
        &self,
        id: &OperatorId,
    ) -> impl Future<Output = Result<Option<Operator>, StoreError>> + Send;
    /// Registers or replaces the operator unconditionally (a configuration
    /// file being applied); its version moves on, so a conditional writer
    /// that read before this is refused.
    fn put_operator(
        &self,
        operator: &Operator,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The operator with the version of its registry entry.
    fn get_operator_versioned(
        &self,
        id: &OperatorId,
    ) -> impl Future<Output = Result<Option<Versioned<Operator>>, StoreError>> + Send;
    /// Writes the operator only if its entry is still at `expected` (`None`:
    /// only if there is none), returning the new version;
    /// `StoreError::Conflict` otherwise. `service::change_operator` is the
    /// read-modify-write loop over this.
    fn put_operator_if(
        &self,
        operator: &Operator,
        expected: Option<Version>,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;
    /// Removes the operator from monitoring; its records stay.
    fn retire_operator(
        &self,
        id: &OperatorId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Request counting shared by every instance of a function.
pub trait RateLimiter: Send + Sync {
    /// Counts one request of `key` in the window that starts at `window`,
    /// unless `limit` were already counted there: then `false`, and nothing
    /// is counted. One conditional write; windows expire on their own.
    fn take(
        &self,
        key: &str,
        window: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
