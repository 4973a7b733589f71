//! The probe log: one item per result in the probes table.

use super::*;

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
