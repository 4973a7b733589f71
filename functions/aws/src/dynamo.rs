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

/// The last millisecond a 13-digit key holds (the year 2286).
const MAX_KEYED_MS: i64 = 9_999_999_999_999;

/// A probe's sort key: its millisecond in 13 digits, `#`, its location
/// (empty for the single default location), so a range of milliseconds is a
/// range of keys and each location's result in it is its own item. A time
/// the 13 digits cannot order (before 1970, after 2286) is refused.
pub fn probe_sort_key(p: &ProbeResult) -> Result<String, StoreError> {
    let ms = p.probed_at.timestamp_millis();
    if !(0..=MAX_KEYED_MS).contains(&ms) {
        return Err(StoreError::Backend(
            format!(
                "probed_at {} cannot be a probe key (1970 to 2286 only)",
                p.probed_at
            )
            .into(),
        ));
    }
    Ok(format!(
        "{ms:013}#{}",
        p.location.as_deref().unwrap_or_default()
    ))
}

impl ProbeLog for DynamoStore {
    async fn append(&self, probe: &ProbeResult) -> Result<(), StoreError> {
        let item = self.probe_item(probe)?;
        let r = self
            .client
            .put_item()
            .table_name(&self.tables.probes)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(at_location)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn range(
        &self,
        operator: &OperatorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        let (a, b) = (from.timestamp_millis(), to.timestamp_millis() - 1);
        if b < a || b < 0 {
            return Ok(vec![]);
        }
        // Every location's key of a millisecond lies between the bare
        // millisecond and the millisecond followed by `~`, which sorts after
        // every character a location may hold.
        let q = self
            .client
            .query()
            .table_name(&self.tables.probes)
            .key_condition_expression("#o = :o AND at_location BETWEEN :a AND :b")
            .expression_attribute_names("#o", "operator")
            .expression_attribute_values(":o", s(operator.as_str()))
            .expression_attribute_values(":a", s(format!("{:013}", a.max(0))))
            .expression_attribute_values(":b", s(format!("{:013}~", b.min(MAX_KEYED_MS))))
            .consistent_read(true);
        self.query_all(q)
            .await?
            .into_iter()
            .map(|i| {
                serde_dynamo::from_item(i).map_err(|e| StoreError::Corrupt {
                    key: format!("probe {operator}"),
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

impl StateStore for DynamoStore {
    async fn load_state(
        &self,
        operator: &OperatorId,
    ) -> Result<Option<Versioned<MonitorState>>, StoreError> {
        let (pk, sk) = state_key(operator);
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
        let Some(item) = out.item else {
            return Ok(None);
        };
        let key = format!("state {operator}");
        let version = num(&item, "version").ok_or_else(|| StoreError::Corrupt {
            key: key.clone(),
            message: "no version".into(),
        })?;
        Ok(Some(Versioned {
            value: from_doc(&key, &item)?,
            version: Version(version as u64),
        }))
    }

    async fn save_state(
        &self,
        state: &MonitorState,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        let (pk, sk) = state_key(&state.operator);
        let next = expected.map_or(1, |Version(v)| v + 1);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", pk)
            .item("sk", sk)
            .item("entity", s("state"))
            .item("version", n(next))
            .item("doc", doc(state)?);
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(Version(v)) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        match put.send().await {
            Ok(_) => Ok(Version(next)),
            Err(e) if is_condition_failed(&e) => {
                Err(StoreError::Conflict(format!("state {}", state.operator)))
            }
            Err(e) => Err(sdk(e)),
        }
    }
}

/// A closed day: `DAY#<operator>` / `<YYYY-MM-DD>` in the state table, so
/// a month is one query of at most 31 items.
fn day_key(op: &OperatorId, date: NaiveDate) -> (AttributeValue, AttributeValue) {
    (s(format!("DAY#{op}")), s(date.to_string()))
}

impl SummaryStore for DynamoStore {
    async fn put_day(&self, operator: &OperatorId, day: &DaySummary) -> Result<bool, StoreError> {
        let (pk, sk) = day_key(operator, day.date);
        let item = HashMap::from([
            ("pk".to_string(), pk),
            ("sk".to_string(), sk),
            ("entity".to_string(), s("day")),
            ("doc".to_string(), doc(day)?),
        ]);
        self.put_state_item_if(item, "attribute_not_exists(pk)")
            .await
    }

    async fn days(
        &self,
        operator: &OperatorId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySummary>, StoreError> {
        if to <= from {
            return Ok(Vec::new());
        }
        let (pk, _) = day_key(operator, from);
        // Dates as YYYY-MM-DD sort as they compare; the end is exclusive.
        let last = to.pred_opt().unwrap_or(to);
        let q = self
            .client
            .query()
            .table_name(&self.tables.state)
            .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
            .expression_attribute_values(":p", pk)
            .expression_attribute_values(":a", s(from.to_string()))
            .expression_attribute_values(":b", s(last.to_string()));
        self.query_all(q)
            .await?
            .iter()
            .map(|item| {
                let date = text(item, "sk").unwrap_or_default();
                from_doc(&format!("day {operator} {date}"), item)
            })
            .collect()
    }
}

fn incident_item(i: &Incident) -> Result<Item, StoreError> {
    let (pk, sk) = incident_key(&i.id);
    let mut item = HashMap::from([
        ("pk".to_string(), pk),
        ("sk".to_string(), sk),
        ("entity".to_string(), s("incident")),
        ("operator".to_string(), s(i.operator.as_str())),
        ("gsi1pk".to_string(), s(format!("OPINC#{}", i.operator))),
        (
            "gsi1sk".to_string(),
            s(format!(
                "{}#{}",
                padded(i.opened_at.timestamp_millis()),
                i.id
            )),
        ),
        ("open".to_string(), AttributeValue::Bool(i.is_open())),
        ("version".to_string(), n(i.version as i64)),
        ("doc".to_string(), doc(i)?),
    ]);
    if i.is_open() {
        // Open incidents sit in the sparse `pending` index, so the sweep finds
        // them with a Query instead of scanning the table.
        item.insert("pending_pk".into(), s(OPEN_INCIDENTS));
        item.insert(
            "pending_sk".into(),
            s(format!(
                "{}#{}",
                padded(i.opened_at.timestamp_millis()),
                i.id
            )),
        );
    }
    Ok(item)
}

impl IncidentStore for DynamoStore {
    async fn create_incident(&self, incident: &Incident) -> Result<bool, StoreError> {
        self.put_state_item_if(incident_item(incident)?, "attribute_not_exists(pk)")
            .await
    }

    async fn put_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let mut next = incident.clone();
        next.version = incident.version + 1;
        // Items written before versions carry none: they are version 0.
        let condition = if incident.version == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)"
        } else {
            "version = :v"
        };
        let r = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .set_item(Some(incident_item(&next)?))
            .condition_expression(condition)
            .expression_attribute_values(":v", n(incident.version as i64))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(StoreError::Conflict(format!(
                "incident {} changed since it was read (or does not exist)",
                incident.id
            ))),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let (pk, sk) = incident_key(id);
        let item = self.get_state_item(pk, sk).await?;
        item.map(|i| from_doc(id, &i)).transpose()
    }

    async fn list_incidents(
        &self,
        operator: Option<&OperatorId>,
        open_only: bool,
    ) -> Result<Vec<Incident>, StoreError> {
        let items = match operator {
            Some(op) => {
                let mut q = self
                    .client
                    .query()
                    .table_name(&self.tables.state)
                    .index_name(INCIDENTS_BY_OPERATOR)
                    .key_condition_expression("gsi1pk = :p")
                    .expression_attribute_values(":p", s(format!("OPINC#{op}")))
                    .scan_index_forward(false);
                if open_only {
                    q = q
                        .filter_expression("#open = :t")
                        .expression_attribute_names("#open", "open")
                        .expression_attribute_values(":t", AttributeValue::Bool(true));
                }
                self.query_all(q).await?
            }
            None if open_only => {
                let q = self
                    .client
                    .query()
                    .table_name(&self.tables.state)
                    .index_name(PENDING_OUTBOX)
                    .key_condition_expression("pending_pk = :p")
                    .expression_attribute_values(":p", s(OPEN_INCIDENTS));
                self.query_all(q).await?
            }
            None => self.scan_entity("incident", None).await?,
        };
        let mut incidents: Vec<Incident> = items
            .iter()
            .map(|i| from_doc(&text(i, "pk").unwrap_or_default(), i))
            .collect::<Result<_, _>>()?;
        incidents.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| a.id.cmp(&b.id)));
        Ok(incidents)
    }
}

fn entry_from(item: &Item) -> Result<OutboxEntry, StoreError> {
    let key = text(item, "pk").unwrap_or_default();
    Ok(OutboxEntry {
        notification: from_doc(&key, item)?,
        status: match text(item, "status").as_deref() {
            Some("sent") => DeliveryStatus::Sent,
            Some("dead") => DeliveryStatus::Dead,
            _ => DeliveryStatus::Pending,
        },
        attempts: num(item, "attempts").unwrap_or(0) as u32,
        claimed_until: num(item, "claimed_until_ms").and_then(DateTime::from_timestamp_millis),
        sent_at: num(item, "sent_at_ms").and_then(DateTime::from_timestamp_millis),
        last_error: text(item, "last_error"),
        next_attempt_at: num(item, "next_attempt_ms").and_then(DateTime::from_timestamp_millis),
    })
}

impl Outbox for DynamoStore {
    async fn enqueue(&self, notification: &Notification) -> Result<bool, StoreError> {
        let (pk, sk) = outbox_key(&notification.key);
        let item = HashMap::from([
            ("pk".to_string(), pk),
            ("sk".to_string(), sk),
            ("entity".to_string(), s("outbox")),
            ("status".to_string(), s("pending")),
            ("attempts".to_string(), n(0)),
            // Pages and emails wait apart: every due page goes before any
            // email, so no number of failing emails can hold back a page.
            (
                "pending_pk".to_string(),
                s(pending_partition(notification.channel)),
            ),
            (
                "pending_sk".to_string(),
                s(format!(
                    "{}#{}",
                    padded(notification.created_at.timestamp_millis()),
                    notification.key
                )),
            ),
            ("doc".to_string(), doc(notification)?),
        ]);
        self.put_state_item_if(item, "attribute_not_exists(pk)")
            .await
    }

    async fn pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        // In each channel's partition the sort key starts with the time an
        // entry is due, so the due entries are a key range, earliest first;
        // a retry moves its entry later in it. Pages first.
        let mut out = Vec::new();
        for channel in [Channel::Page, Channel::Email] {
            let q = self
                .client
                .query()
                .table_name(&self.tables.state)
                .index_name(PENDING_OUTBOX)
                .key_condition_expression("pending_pk = :p AND pending_sk < :due")
                .filter_expression(
                    "attribute_not_exists(claimed_until_ms) OR claimed_until_ms <= :now",
                )
                .expression_attribute_values(":p", s(pending_partition(channel)))
                .expression_attribute_values(":due", s(padded(now.timestamp_millis() + 1)))
                .expression_attribute_values(":now", n(now.timestamp_millis()));
            let mut pages = q.into_paginator().items().send();
            while out.len() < limit {
                let Some(item) = pages.next().await else {
                    break;
                };
                out.push(entry_from(&item.map_err(sdk)?)?);
            }
        }
        Ok(out)
    }

    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = outbox_key(key);
        let r = self
            .client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET claimed_until_ms = :until, attempts = attempts + :one")
            .condition_expression(
                "#st = :pending AND (attribute_not_exists(claimed_until_ms) OR claimed_until_ms <= :now) \
                 AND (attribute_not_exists(next_attempt_ms) OR next_attempt_ms <= :now)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":until", n(until.timestamp_millis()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s("pending"))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn mark_sent(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (pk, sk) = outbox_key(key);
        self.client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET #st = :sent, sent_at_ms = :at, expires_at = :ttl REMOVE claimed_until_ms, pending_pk, pending_sk, last_error")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":at", n(at.timestamp_millis()))
            .expression_attribute_values(":ttl", n((at + SENT_OUTBOX_KEPT).timestamp()))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn release(
        &self,
        key: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let (pk, sk) = outbox_key(key);
        let error = s(error.chars().take(1000).collect::<String>());
        let req = self
            .client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", pk)
            .key("sk", sk)
            .condition_expression("#st = :pending")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":e", error)
            .expression_attribute_values(":pending", s("pending"));
        let req = match retry_at {
            // Due again later: its place in the pending index moves with it.
            Some(at) => req
                .update_expression("SET last_error = :e, next_attempt_ms = :at, pending_sk = :due REMOVE claimed_until_ms")
                .expression_attribute_values(":at", n(at.timestamp_millis()))
                .expression_attribute_values(
                    ":due",
                    s(format!("{}#{key}", padded(at.timestamp_millis()))),
                ),
            // Given up: out of the pending index, kept as long as sent ones.
            None => req
                .update_expression("SET #st = :dead, last_error = :e, expires_at = :ttl REMOVE claimed_until_ms, pending_pk, pending_sk")
                .expression_attribute_values(":dead", s("dead"))
                .expression_attribute_values(
                    ":ttl",
                    n((Utc::now() + SENT_OUTBOX_KEPT).timestamp()),
                ),
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn get_entry(&self, key: &str) -> Result<Option<OutboxEntry>, StoreError> {
        let (pk, sk) = outbox_key(key);
        let item = self.get_state_item(pk, sk).await?;
        item.as_ref().map(entry_from).transpose()
    }
}

impl OperatorRegistry for DynamoStore {
    /// One Query of the registry partition.
    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.state)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("OPERATORS"));
        let items = self.query_all(q).await?;
        items
            .iter()
            .map(|i| {
                from_doc(
                    &format!("operator {}", text(i, "sk").unwrap_or_default()),
                    i,
                )
            })
            .collect()
    }

    async fn get_operator(&self, id: &OperatorId) -> Result<Option<Operator>, StoreError> {
        let item = self.get_state_item(s("OPERATORS"), s(id.as_str())).await?;
        item.map(|i| from_doc(id.as_str(), &i)).transpose()
    }

    async fn put_operator(&self, op: &Operator) -> Result<(), StoreError> {
        // Unconditional, but the version moves on: a conditional writer
        // that read before this is refused.
        self.client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", s("OPERATORS"))
            .key("sk", s(op.id.as_str()))
            .update_expression("SET entity = :e, doc = :d ADD version :one")
            .expression_attribute_values(":e", s("operator"))
            .expression_attribute_values(":d", doc(op)?)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn get_operator_versioned(
        &self,
        id: &OperatorId,
    ) -> Result<Option<Versioned<Operator>>, StoreError> {
        let item = self.get_state_item(s("OPERATORS"), s(id.as_str())).await?;
        item.map(|i| {
            Ok(Versioned {
                value: from_doc(id.as_str(), &i)?,
                version: Version(num(&i, "version").unwrap_or(0) as u64),
            })
        })
        .transpose()
    }

    async fn put_operator_if(
        &self,
        op: &Operator,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        let next = expected.map_or(1, |v| v.0 + 1);
        let req = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s("OPERATORS"))
            .item("sk", s(op.id.as_str()))
            .item("entity", s("operator"))
            .item("version", n(next as i64))
            .item("doc", doc(op)?);
        let req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            // Entries written before versions carry none: version 0.
            Some(Version(0)) => req
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)",
                )
                .expression_attribute_values(":v", n(0)),
            Some(Version(v)) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v as i64)),
        };
        match req.send().await {
            Ok(_) => Ok(Version(next)),
            Err(e) if is_condition_failed(&e) => Err(StoreError::Conflict(format!(
                "operator {} changed since it was read",
                op.id
            ))),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn retire_operator(&self, id: &OperatorId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.state)
            .key("pk", s("OPERATORS"))
            .key("sk", s(id.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk)?;
        Ok(out.attributes.is_some())
    }
}

/// Where a lasting record is listed with its kind: the `pending` index.
fn record_listing_key(kind: &str, id: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("RECS#{kind}")), s(id))
}

fn record_item(
    kind: &str,
    id: &str,
    operator: Option<&OperatorId>,
    value: &serde_json::Value,
) -> Result<Item, StoreError> {
    let mut item = HashMap::from([
        ("pk".to_string(), s(format!("REC#{kind}#{id}"))),
        ("sk".to_string(), s("REC")),
        ("entity".to_string(), s("record")),
        ("kind".to_string(), s(kind)),
        ("id".to_string(), s(id)),
        ("doc".to_string(), doc(value)?),
    ]);
    if let Some(op) = operator {
        item.insert("operator".into(), s(op.as_str()));
        item.insert("gsi1pk".into(), s(format!("OPREC#{kind}#{op}")));
        item.insert("gsi1sk".into(), s(id));
    }
    // A record that expires leaves the table by its TTL; one that stays is
    // listed by kind through the `pending` index (`RECS#<kind>`), so a
    // kind's listing is a query, never a scan.
    match value.get("expires_at").and_then(serde_json::Value::as_i64) {
        Some(at) => {
            item.insert("expires_at".into(), n(at));
        }
        None => {
            let (pk, sk) = record_listing_key(kind, id);
            item.insert("pending_pk".into(), pk);
            item.insert("pending_sk".into(), sk);
        }
    }
    Ok(item)
}

impl RecordStore for DynamoStore {
    async fn create_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&OperatorId>,
        value: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        self.put_state_item_if(
            record_item(kind, id, operator, value)?,
            "attribute_not_exists(pk)",
        )
        .await
    }

    async fn put_record(
        &self,
        kind: &str,
        id: &str,
        operator: Option<&OperatorId>,
        value: &serde_json::Value,
        expected: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        // DynamoDB compares the stored map with the one read, whole.
        self.put_state_item_when(
            record_item(kind, id, operator, value)?,
            "attribute_exists(pk) AND doc = :expected",
            Some((":expected", doc(expected)?)),
        )
        .await
    }

    async fn reserve_record(
        &self,
        kind: &str,
        id: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // TTL deletes lazily: an expired record still there is free.
        self.put_state_item_when(
            record_item(kind, id, None, value)?,
            "attribute_not_exists(pk) OR expires_at <= :now",
            Some((":now", n(now.timestamp()))),
        )
        .await
    }

    async fn delete_record(&self, kind: &str, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.state)
            .key("pk", s(format!("REC#{kind}#{id}")))
            .key("sk", s("REC"))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn get_record(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let item = self
            .get_state_item(s(format!("REC#{kind}#{id}")), s("REC"))
            .await?;
        item.map(|i| from_doc(id, &i)).transpose()
    }

    async fn list_records(
        &self,
        kind: &str,
        operator: Option<&OperatorId>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let items = match operator {
            Some(op) => {
                let q = self
                    .client
                    .query()
                    .table_name(&self.tables.state)
                    .index_name(INCIDENTS_BY_OPERATOR)
                    .key_condition_expression("gsi1pk = :p")
                    .expression_attribute_values(":p", s(format!("OPREC#{kind}#{op}")));
                self.query_all(q).await?
            }
            None => {
                let (pk, _) = record_listing_key(kind, "");
                let q = self
                    .client
                    .query()
                    .table_name(&self.tables.state)
                    .index_name(PENDING_OUTBOX)
                    .key_condition_expression("pending_pk = :p")
                    .expression_attribute_values(":p", pk);
                self.query_all(q).await?
            }
        };
        let mut out: Vec<(String, serde_json::Value)> = items
            .iter()
            .map(|i| {
                let id = text(i, "id").unwrap_or_default();
                from_doc(&id, i).map(|d| (id, d))
            })
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().map(|(_, d)| d).collect())
    }
}

impl RateLimiter for DynamoStore {
    /// One conditional UpdateItem on `RATE#<key>` / `<window ms>`; the item
    /// leaves the table by its TTL an hour after its window.
    async fn take(&self, key: &str, window: DateTime<Utc>, limit: u32) -> Result<bool, StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", s(format!("RATE#{key}")))
            .key("sk", s(padded(window.timestamp_millis())))
            .update_expression("SET entity = :e, expires_at = :ttl ADD n :one")
            .condition_expression("attribute_not_exists(n) OR n < :limit")
            .expression_attribute_values(":e", s("rate"))
            .expression_attribute_values(":ttl", n(window.timestamp() + 3600))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk(e)),
        }
    }
}
