//! Wrappers that count calls or inject failures around a real store or
//! notifier, to test the service's guarantees (bounded calls, retries, no
//! duplicates) with real adapters underneath.

use chrono::{DateTime, NaiveDate, Utc};
use livesite_core::evaluate::MonitorState;
use livesite_core::incident::Incident;
use livesite_core::notify::Notification;
use livesite_core::ports::*;
use livesite_core::probe::ProbeResult;
use livesite_core::summary::DaySummary;
use livesite_core::OperatorId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counts state reads and writes; can fail the next N state writes.
pub struct Counting<S> {
    pub inner: S,
    pub loads: AtomicUsize,
    pub saves: AtomicUsize,
    pub fail_saves: AtomicUsize,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            loads: AtomicUsize::new(0),
            saves: AtomicUsize::new(0),
            fail_saves: AtomicUsize::new(0),
        }
    }
}

#[derive(Debug)]
pub struct Injected;

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected failure")
    }
}
impl std::error::Error for Injected {}

impl<S: ProbeLog> ProbeLog for Counting<S> {
    async fn append(&self, probe: &ProbeResult) -> Result<(), StoreError> {
        self.inner.append(probe).await
    }
    async fn range(
        &self,
        op: &OperatorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        self.inner.range(op, from, to).await
    }
}

impl<S: StateStore> StateStore for Counting<S> {
    async fn load_state(
        &self,
        op: &OperatorId,
    ) -> Result<Option<Versioned<MonitorState>>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load_state(op).await
    }
    async fn save_state(
        &self,
        state: &MonitorState,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self
            .fail_saves
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::Backend(Box::new(Injected)));
        }
        self.inner.save_state(state, expected).await
    }
}

impl<S: SummaryStore> SummaryStore for Counting<S> {
    async fn put_day(&self, op: &OperatorId, day: &DaySummary) -> Result<bool, StoreError> {
        self.inner.put_day(op, day).await
    }
    async fn days(
        &self,
        op: &OperatorId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySummary>, StoreError> {
        self.inner.days(op, from, to).await
    }
}

impl<S: IncidentStore> IncidentStore for Counting<S> {
    async fn create_incident(&self, i: &Incident) -> Result<bool, StoreError> {
        self.inner.create_incident(i).await
    }
    async fn put_incident(&self, i: &Incident) -> Result<(), StoreError> {
        self.inner.put_incident(i).await
    }
    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        self.inner.get_incident(id).await
    }
    async fn list_incidents(
        &self,
        op: Option<&OperatorId>,
        open_only: bool,
    ) -> Result<Vec<Incident>, StoreError> {
        self.inner.list_incidents(op, open_only).await
    }
}

impl<S: Outbox> Outbox for Counting<S> {
    async fn enqueue(&self, n: &Notification) -> Result<bool, StoreError> {
        self.inner.enqueue(n).await
    }
    async fn pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.pending(now, limit).await
    }
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.claim(key, now, until).await
    }
    async fn mark_sent(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.mark_sent(key, at).await
    }
    async fn release(
        &self,
        key: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.inner.release(key, error, retry_at).await
    }
    async fn get_entry(&self, key: &str) -> Result<Option<OutboxEntry>, StoreError> {
        self.inner.get_entry(key).await
    }
}

/// Records what it delivers; fails the first `fail_first` deliveries, and
/// every delivery to `refused` (an address the mail service never accepts).
#[derive(Default)]
pub struct Recorder {
    pub sent: Mutex<Vec<Notification>>,
    pub fail_first: AtomicUsize,
    pub refused: Option<String>,
    /// Each delivery takes this long (a slow mail service).
    pub delay: Option<std::time::Duration>,
}

impl Recorder {
    pub fn failing(n: usize) -> Self {
        Self {
            fail_first: AtomicUsize::new(n),
            ..Self::default()
        }
    }
    pub fn slow(delay: std::time::Duration) -> Self {
        Self {
            delay: Some(delay),
            ..Self::default()
        }
    }
    pub fn refusing(address: &str) -> Self {
        Self {
            refused: Some(address.to_string()),
            ..Self::default()
        }
    }
    pub fn keys(&self) -> Vec<String> {
        self.sent
            .lock()
            .expect("lock")
            .iter()
            .map(|n| n.key.clone())
            .collect()
    }
}

impl Notifier for Recorder {
    async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        let refused = self
            .refused
            .as_deref()
            .is_some_and(|r| n.to.iter().chain(&n.cc).any(|a| a.as_str() == r));
        if refused {
            return Err(NotifyError {
                key: n.key.clone(),
                source: "Email address is not verified (refused)".into(),
            });
        }
        if self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1))
            .is_ok()
        {
            return Err(NotifyError {
                key: n.key.clone(),
                source: Box::new(Injected),
            });
        }
        self.sent.lock().expect("lock").push(n.clone());
        Ok(())
    }
}

/// An incident store where someone else resolves the incident right after
/// the first read: the evaluator writing between the API's read and write.
pub struct ResolvedMidway<'a, S> {
    inner: &'a S,
    at: DateTime<Utc>,
    reads: AtomicUsize,
}

impl<'a, S> ResolvedMidway<'a, S> {
    pub fn new(inner: &'a S, at: DateTime<Utc>) -> Self {
        Self {
            inner,
            at,
            reads: AtomicUsize::new(0),
        }
    }
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl<S: IncidentStore> IncidentStore for ResolvedMidway<'_, S> {
    async fn create_incident(&self, i: &Incident) -> Result<bool, StoreError> {
        self.inner.create_incident(i).await
    }
    async fn put_incident(&self, i: &Incident) -> Result<(), StoreError> {
        self.inner.put_incident(i).await
    }
    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let read = self.inner.get_incident(id).await?;
        if self.reads.fetch_add(1, Ordering::SeqCst) == 0 {
            if let Some(mut other) = read.clone() {
                other.resolve(self.at);
                self.inner.put_incident(&other).await?;
            }
        }
        Ok(read)
    }
    async fn list_incidents(
        &self,
        operator: Option<&OperatorId>,
        open_only: bool,
    ) -> Result<Vec<Incident>, StoreError> {
        self.inner.list_incidents(operator, open_only).await
    }
}
