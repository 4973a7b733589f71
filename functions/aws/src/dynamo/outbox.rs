//! The outbox: created only if absent, claimed with a conditional update,
//! listed by channel on the `pending` index.

use super::*;

pub(super) fn entry_from(item: &Item) -> Result<OutboxEntry, StoreError> {
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
