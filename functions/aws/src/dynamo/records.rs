//! Partner records, listed by kind on the `pending` index.

use super::*;

/// Where a lasting record is listed with its kind: the `pending` index.
pub(super) fn record_listing_key(kind: &str, id: &str) -> (AttributeValue, AttributeValue) {
    (s(format!("RECS#{kind}")), s(id))
}

pub(super) fn record_item(
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
