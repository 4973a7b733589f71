//! Monitor states (optimistic concurrency on `version`) and decided days.

use super::*;

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
pub(super) fn day_key(op: &OperatorId, date: NaiveDate) -> (AttributeValue, AttributeValue) {
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
