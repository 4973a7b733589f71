//! Copying probe results from the table keyed by the operator and the
//! millisecond (`livesite-<env>-probes`, before several locations voted) into
//! the table keyed by the operator, the millisecond and the location
//! (docs/data-model.md, "Migrating from the millisecond key").
//!
//! DynamoDB cannot change a table's key, so the new key is a new table; the
//! old one is kept by the template's `UpdateReplacePolicy` until this copy
//! has run. The copies are marked `migrated`: the evaluator's stream filter
//! passes them by (and the evaluator skips any that reach it), so months of
//! history never replay through the outage rules or delay live results. A
//! re-run writes the same items again: the copy is idempotent.

use crate::dynamo::DynamoStore;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use livesite_core::ports::StoreError;
use livesite_core::ProbeResult;

/// What one copy did.
#[derive(Debug, Default)]
pub struct Migration {
    /// Results written to the new table.
    pub copied: usize,
    /// Old items that do not read as a probe result: (their keys, why).
    /// They are left where they are, never guessed at.
    pub unreadable: Vec<(String, String)>,
    /// Results the new table did not take, with why (rerun to retry them).
    pub lost: Vec<(ProbeResult, String)>,
}

/// Copies every result of `from` probed at or after `since` (all of them
/// without it) into `store`'s probes table, one scanned page at a time.
pub async fn copy_probes(
    store: &DynamoStore,
    from: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Migration, StoreError> {
    let mut scan = store.client().scan().table_name(from).consistent_read(true);
    if let Some(since) = since {
        scan = scan
            .filter_expression("at_ms >= :since")
            .expression_attribute_values(
                ":since",
                AttributeValue::N(since.timestamp_millis().to_string()),
            );
    }
    let mut pages = scan.into_paginator().send();
    let mut done = Migration::default();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            StoreError::Backend(
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
                    .to_string()
                    .into(),
            )
        })?;
        let mut probes = Vec::new();
        for item in page.items.unwrap_or_default() {
            let keys = format!("{:?}/{:?}", item.get("operator"), item.get("at_ms"));
            match serde_dynamo::from_item::<_, ProbeResult>(item) {
                Ok(p) => probes.push(p),
                Err(e) => done.unreadable.push((keys, e.to_string())),
            }
        }
        let lost = store.append_migrated(&probes).await;
        done.copied += probes.len() - lost.len();
        done.lost.extend(lost);
    }
    Ok(done)
}
