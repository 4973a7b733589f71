//! The DynamoDB store: every store port, over two tables (docs/data-model.md).
//!
//! * The probes table holds one item per probe result, keyed by `operator`
//!   and `at_location` (the millisecond, then the location: several
//!   locations' results in one millisecond are distinct items), flattened so
//!   it reads well in the console, with a TTL. Its stream feeds the
//!   evaluator.
//! * The state table holds everything else under `pk`/`sk`: monitor state
//!   (optimistic concurrency on `version`), incidents (created only if absent),
//!   the outbox (created only if absent, claimed with a conditional update),
//!   the decided days (created only if absent), and the operator registry. Domain objects are kept whole in `doc`.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
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
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

type Item = HashMap<String, AttributeValue>;

/// BatchWriteItem takes at most 25 requests.
pub const BATCH_WRITE_LIMIT: usize = 25;
/// Retries of throttled or failed batch writes (backoff 100 ms .. 1.6 s).
const BATCH_WRITE_RETRIES: u32 = 4;

/// The attribute marking a probe item copied from an older table.
pub const MIGRATED: &str = "migrated";

/// Whether a probe item is a new result or a copied one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Probed,
    Migrated,
}

/// How one BatchWriteItem request ended.
enum Batch {
    /// Accepted; these items stayed unprocessed through every retry.
    Written {
        unwritten: Vec<(ProbeResult, String)>,
    },
    /// Refused whole as invalid: retrying the same request cannot succeed.
    Refused(String),
}

/// A client error the service will give again for the same request (a
/// validation error), as opposed to throttling or a server fault.
fn refused<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(s) => !matches!(
            s.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            ) | None
        ),
        _ => false,
    }
}

pub const INCIDENTS_BY_OPERATOR: &str = "by-operator";
pub const PENDING_OUTBOX: &str = "pending";
/// The `pending` index's partition of a channel's unsent notifications.
fn pending_partition(channel: Channel) -> &'static str {
    match channel {
        Channel::Page => "PENDING#PAGE",
        Channel::Email => "PENDING#EMAIL",
    }
}

/// The `pending` index's partition for open incidents.
const OPEN_INCIDENTS: &str = "OPEN_INCIDENT";
/// Sent notifications leave the table after this long (DynamoDB TTL); stream
/// records are dropped after an hour, so no redelivery can need them then.
const SENT_OUTBOX_KEPT: chrono::Duration = chrono::Duration::days(90);

#[derive(Debug, Clone)]
pub struct Tables {
    pub probes: String,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    /// How long probe results are kept before DynamoDB's TTL removes them.
    probe_ttl: Duration,
}

fn backend<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn sdk<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // DisplayErrorContext keeps the service's error code and message.
    StoreError::Backend(
        aws_sdk_dynamodb::error::DisplayErrorContext(e)
            .to_string()
            .into(),
    )
}

fn is_condition_failed<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn doc<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(backend)
}

fn from_doc<T: DeserializeOwned>(key: &str, item: &Item) -> Result<T, StoreError> {
    let v = item
        .get("doc")
        .cloned()
        .ok_or_else(|| StoreError::Corrupt {
            key: key.into(),
            message: "no doc attribute".into(),
        })?;
    serde_dynamo::from_attribute_value(v).map_err(|e| StoreError::Corrupt {
        key: key.into(),
        message: e.to_string(),
    })
}

fn num(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

/// Sort keys that order as numbers when compared as strings.
fn padded(ms: i64) -> String {
    format!("{ms:015}")
}

fn state_key(op: &OperatorId) -> (AttributeValue, AttributeValue) {
    (s(format!("STATE#{op}")), s("STATE"))
}

fn incident_key(id: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("INCIDENT#{id}")), s("INCIDENT"))
}

fn outbox_key(key: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("OUTBOX#{key}")), s("OUTBOX"))
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        Self {
            client,
            tables,
            probe_ttl: Duration::from_secs(90 * 24 * 3600),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The probe item: the record flattened, plus the sort key, its
    /// millisecond on its own (what the console and a migration read) and
    /// the TTL.
    pub fn probe_item(&self, p: &ProbeResult) -> Result<Item, StoreError> {
        self.probe_item_as(p, Written::Probed)
    }

    fn probe_item_as(&self, p: &ProbeResult, how: Written) -> Result<Item, StoreError> {
        let key = probe_sort_key(p)?;
        let mut item: Item = serde_dynamo::to_item(p).map_err(backend)?;
        item.insert("at_location".into(), s(&key));
        item.insert("at_ms".into(), n(p.probed_at.timestamp_millis()));
        let expires = p.probed_at.timestamp() + self.probe_ttl.as_secs() as i64;
        item.insert("ttl".into(), n(expires));
        if how == Written::Migrated {
            item.insert(MIGRATED.into(), AttributeValue::Bool(true));
        }
        Ok(item)
    }

    /// Writes many probe results with BatchWriteItem (25 a call, the
    /// service's limit), retrying unprocessed items and throttled or failed
    /// calls with backoff. DynamoDB refuses a whole request when one item is
    /// invalid (over the 400 KB item limit, say): then each item of that
    /// request is written on its own, so only the bad one is lost, never its
    /// 24 neighbours. Returns the results that could not be written, with
    /// why, so the caller can log and count them: a missing result shows up
    /// downstream as an unknown gap, never as down.
    pub async fn append_many(&self, probes: &[ProbeResult]) -> Vec<(ProbeResult, String)> {
        self.write_probes(probes, Written::Probed).await
    }

    /// Writes results copied from an older probes table (`crate::migrate`),
    /// marked `migrated`: the evaluator's stream filter passes them by, so
    /// history never replays through the outage rules.
    pub async fn append_migrated(&self, probes: &[ProbeResult]) -> Vec<(ProbeResult, String)> {
        self.write_probes(probes, Written::Migrated).await
    }

    async fn write_probes(
        &self,
        probes: &[ProbeResult],
        how: Written,
    ) -> Vec<(ProbeResult, String)> {
        let mut lost = Vec::new();
        for chunk in probes.chunks(BATCH_WRITE_LIMIT) {
            let mut batch = Vec::new();
            for p in chunk {
                match self.probe_request(p, how) {
                    Ok(r) => batch.push((p, r)),
                    Err(e) => lost.push((p.clone(), e.to_string())),
                }
            }
            match self.write_batch(&batch).await {
                Batch::Written { unwritten } => lost.extend(unwritten),
                Batch::Refused(why) if batch.len() > 1 => {
                    tracing::warn!(error = %why, items = batch.len(), "batch refused; writing its items one by one");
                    for one in &batch {
                        match self.write_batch(std::slice::from_ref(one)).await {
                            Batch::Written { unwritten } => lost.extend(unwritten),
                            Batch::Refused(why) => lost.push((one.0.clone(), why)),
                        }
                    }
                }
                Batch::Refused(why) => {
                    lost.extend(batch.iter().map(|(p, _)| ((*p).clone(), why.clone())))
                }
            }
        }
        lost
    }

    fn probe_request(&self, p: &ProbeResult, how: Written) -> Result<WriteRequest, StoreError> {
        let put = PutRequest::builder()
            .set_item(Some(self.probe_item_as(p, how)?))
            .build()
            .map_err(backend)?;
        Ok(WriteRequest::builder().put_request(put).build())
    }

    /// One BatchWriteItem request, with its retries.
    async fn write_batch(&self, batch: &[(&ProbeResult, WriteRequest)]) -> Batch {
        let by_key: HashMap<(String, String), &ProbeResult> = batch
            .iter()
            .filter_map(|(p, _)| Some(((p.operator.to_string(), probe_sort_key(p).ok()?), *p)))
            .collect();
        let mut requests: Vec<WriteRequest> = batch.iter().map(|(_, r)| r.clone()).collect();
        let mut error = String::new();
        for attempt in 0..=BATCH_WRITE_RETRIES {
            if requests.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let result = self
                .client
                .batch_write_item()
                .request_items(&self.tables.probes, requests.clone())
                .send()
                .await;
            match result {
                Ok(out) => {
                    requests = out
                        .unprocessed_items
                        .and_then(|mut m| m.remove(&self.tables.probes))
                        .unwrap_or_default();
                    error = "unprocessed after retries".into();
                }
                Err(e) if refused(&e) => {
                    return Batch::Refused(
                        aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
                    )
                }
                Err(e) => error = aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
            }
        }
        let unwritten = requests
            .iter()
            .filter_map(|r| {
                let item = &r.put_request.as_ref()?.item;
                let p = by_key.get(&(text(item, "operator")?, text(item, "at_location")?))?;
                Some(((*p).clone(), error.clone()))
            })
            .collect();
        Batch::Written { unwritten }
    }

    /// A strongly consistent read of one state-table item.
    async fn get_state_item(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        Ok(out.item)
    }

    /// A conditional put into the state table: `false` when the condition
    /// (`attribute_not_exists(pk)` or `attribute_exists(pk)`) did not hold.
    async fn put_state_item_if(&self, item: Item, condition: &str) -> Result<bool, StoreError> {
        self.put_state_item_when(item, condition, None).await
    }

    /// Puts the item if `condition` holds (with its one value, `value`, when
    /// it names one); `false` when it does not.
    async fn put_state_item_when(
        &self,
        item: Item,
        condition: &str,
        value: Option<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some((name, v)) = value {
            put = put.expression_attribute_values(name, v);
        }
        let r = put.send().await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn query_all(
        &self,
        q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        q.into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(sdk)
    }

    /// Lists every lasting record by its kind in the `pending` index, as
    /// records written since are: records written before were listed by a
    /// scan and lack the index's key. Idempotent (a record already listed is
    /// left alone); how many were added. An upgrade runs it once
    /// (`livesite-index-records`).
    pub async fn index_records(&self) -> Result<usize, StoreError> {
        let mut added = 0;
        for item in self.scan_entity("record", None).await? {
            let listed = item.contains_key("pending_pk") || item.contains_key("expires_at");
            let (Some(kind), Some(id)) = (text(&item, "kind"), text(&item, "id")) else {
                continue;
            };
            if listed {
                continue;
            }
            let (pk, sk) = record_listing_key(&kind, &id);
            let r = self
                .client
                .update_item()
                .table_name(&self.tables.state)
                .key("pk", s(format!("REC#{kind}#{id}")))
                .key("sk", s("REC"))
                .update_expression("SET pending_pk = :p, pending_sk = :s")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(pending_pk)")
                .expression_attribute_values(":p", pk)
                .expression_attribute_values(":s", sk)
                .send()
                .await;
            match r {
                Ok(_) => added += 1,
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(sdk(e)),
            }
        }
        Ok(added)
    }

    /// Every state-table item of one entity kind (`entity = :e`, plus an
    /// optional `kind`): the admin views, rare enough for a scan.
    async fn scan_entity(&self, entity: &str, kind: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut scan = self
            .client
            .scan()
            .table_name(&self.tables.state)
            .filter_expression("entity = :e")
            .expression_attribute_values(":e", s(entity));
        if let Some(k) = kind {
            scan = scan
                .filter_expression("entity = :e AND #k = :k")
                .expression_attribute_names("#k", "kind")
                .expression_attribute_values(":k", s(k));
        }
        scan.into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(sdk)
    }
}

mod incidents;
mod limits;
mod outbox;
mod probes;
mod records;
mod registry;
mod state;

pub use probes::probe_sort_key;
use records::record_listing_key;
