//! The request-rate counter.

use super::*;

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
