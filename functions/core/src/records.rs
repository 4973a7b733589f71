//! Typed partner records over the `RecordStore` port: each stored kind
//! states its kind name, id and owner once, here or beside its type, and
//! every caller reads and writes the domain type, never a kind string or a
//! `serde_json::Value`. The stored documents are the types' serde forms,
//! as they always were.

use crate::ids::OperatorId;
use crate::incident::Party;
use crate::partner::{Announcer, Bug, Maintenance, OutageNotice, OutageReport};
use crate::ports::{RecordStore, StoreError};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A kind of stored partner record.
pub trait Record: Serialize + DeserializeOwned + Send + Sync {
    /// The kind's name in the store; stated nowhere else.
    const KIND: &'static str;
    /// The record's id within its kind.
    fn id(&self) -> String;
    /// The operator whose record it is (listed under it); `None` for the team's.
    fn owner(&self) -> Option<OperatorId>;
}

impl Record for Maintenance {
    const KIND: &'static str = "maintenance";
    fn id(&self) -> String {
        self.id.clone()
    }
    fn owner(&self) -> Option<OperatorId> {
        match &self.announcer {
            Announcer::Operator(op) => Some(op.clone()),
            Announcer::DynamoTeam => None,
        }
    }
}

impl Record for Bug {
    const KIND: &'static str = "bug";
    fn id(&self) -> String {
        self.id.clone()
    }
    fn owner(&self) -> Option<OperatorId> {
        Some(self.operator.clone())
    }
}

impl Record for OutageNotice {
    const KIND: &'static str = "outage-notice";
    fn id(&self) -> String {
        self.id.clone()
    }
    fn owner(&self) -> Option<OperatorId> {
        None
    }
}

impl Record for OutageReport {
    const KIND: &'static str = "outage-report";
    fn id(&self) -> String {
        self.incident_id.clone()
    }
    fn owner(&self) -> Option<OperatorId> {
        Some(self.operator.clone())
    }
}

/// A message posted on an incident (an update, or a resolution's words):
/// the incident keeps its clocks, the thread keeps what was said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    pub incident_id: String,
    pub at: DateTime<Utc>,
    pub by: Party,
    pub message: String,
    /// The incident's operator; absent in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorId>,
}

impl Record for IncidentUpdate {
    const KIND: &'static str = "incident-update";
    /// The incident's id and the millisecond of the message: one message a
    /// millisecond, and a retried write is the same record.
    fn id(&self) -> String {
        format!("{}#{}", self.incident_id, crate::ids::key_time_ms(self.at))
    }
    fn owner(&self) -> Option<OperatorId> {
        self.operator.clone()
    }
}

fn corrupt<R: Record>(id: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        key: format!("{} {id}", R::KIND),
        message: e.to_string(),
    }
}

pub(crate) fn to_doc<R: Record>(r: &R) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(r).map_err(|e| corrupt::<R>(&r.id(), e))
}

pub(crate) fn from_doc<R: Record>(id: &str, doc: serde_json::Value) -> Result<R, StoreError> {
    serde_json::from_value(doc).map_err(|e| corrupt::<R>(id, e))
}

/// The typed face of every `RecordStore`.
pub trait Records: RecordStore {
    /// Creates the record unless one with its id exists; `false` when it did.
    fn create<R: Record>(&self, r: &R) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move {
            let doc = to_doc(r)?;
            self.create_record(R::KIND, &r.id(), r.owner().as_ref(), &doc)
                .await
        }
    }

    fn get<R: Record>(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<R>, StoreError>> + Send {
        async move {
            match self.get_record(R::KIND, id).await? {
                Some(doc) => Ok(Some(from_doc(id, doc)?)),
                None => Ok(None),
            }
        }
    }

    /// Every record of the kind, by id, optionally of one operator.
    fn list<R: Record>(
        &self,
        owner: Option<&OperatorId>,
    ) -> impl Future<Output = Result<Vec<R>, StoreError>> + Send {
        async move {
            let docs = self.list_records(R::KIND, owner).await?;
            docs.into_iter().map(|doc| from_doc(R::KIND, doc)).collect()
        }
    }
}

impl<S: RecordStore + ?Sized> Records for S {}
