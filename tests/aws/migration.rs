//! Data written before: the millisecond-keyed probes, the listing index.

use super::*;

/// The probes table before several locations voted: keyed by the operator
/// and the millisecond, as livesite-<env>-probes was made.
async fn millisecond_keyed_table(stack: &Stack) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let name = format!("{}-old-probes", stack.name);
    let attr = |n: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
            .expect("attribute")
    };
    let key = |n: &str, k: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .expect("key")
    };
    aws_sdk_dynamodb::Client::new(&stack.config)
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("operator", ScalarAttributeType::S))
        .attribute_definitions(attr("at_ms", ScalarAttributeType::N))
        .key_schema(key("operator", KeyType::Hash))
        .key_schema(key("at_ms", KeyType::Range))
        .send()
        .await
        .expect("create the old probes table");
    name
}

#[tokio::test(flavor = "multi_thread")]
async fn history_copied_from_the_millisecond_keyed_table_is_kept_and_never_evaluated_again() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use livesite_core::ports::ProbeLog;
    let mut p = Pipeline::new("migration").await;
    let old = millisecond_keyed_table(&p.stack).await;
    let ddb = aws_sdk_dynamodb::Client::new(&p.stack.config);
    // 30:30 of failures, as the old probe function wrote them.
    let history = livesite_tests::fixtures::failures("contoso", 0, 1830);
    for probe in &history {
        let mut item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(probe).expect("item");
        let ms = probe.probed_at.timestamp_millis();
        item.insert("at_ms".into(), AttributeValue::N(ms.to_string()));
        item.insert(
            "ttl".into(),
            AttributeValue::N((ms / 1000 + 86_400).to_string()),
        );
        ddb.put_item()
            .table_name(&old)
            .set_item(Some(item))
            .send()
            .await
            .expect("old item");
    }
    ddb.put_item()
        .table_name(&old)
        .item("operator", AttributeValue::S("contoso".into()))
        .item("at_ms", AttributeValue::N("1".into()))
        .item("outcome", AttributeValue::S("sideways".into()))
        .send()
        .await
        .expect("an unreadable old item");

    let store = p.stack.store();
    let since = t0() + Duration::minutes(15);
    let part = livesite_aws::migrate::copy_probes(&store, &old, Some(since))
        .await
        .expect("copy since");
    assert_eq!(part.copied, 32, "15:00 to 30:30: {part:?}");
    let done = livesite_aws::migrate::copy_probes(&store, &old, None)
        .await
        .expect("copy all");
    assert_eq!((done.copied, done.lost.len()), (62, 0), "{done:?}");
    assert_eq!(done.unreadable.len(), 1, "left in place, named: {done:?}");
    let kept = store
        .range(&history[0].operator, t0(), t0() + Duration::hours(1))
        .await
        .expect("range");
    assert_eq!(
        kept, history,
        "every result once, whole, in order, after a re-run"
    );

    let records = p.stack.stream_records(None).await;
    assert!(records.len() >= 62, "the copies are on the stream");
    assert!(
        p.next_batch().await.records.is_empty(),
        "the template's stream filter passes every copy by"
    );
    // Were one to reach the evaluator anyway, it changes nothing.
    let unfiltered: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(json!({ "Records": records })).expect("event");
    assert!(p.evaluate(unfiltered).await.is_empty());
    let state = store.load_state(&history[0].operator).await.expect("state");
    assert!(state.is_none(), "no state from history: {state:?}");
    assert!(
        p.stack.pages().await.is_empty(),
        "30:30 of old failures page nobody"
    );
}

/// Records written before kinds were listed through the `pending` index
/// (listed by a scan then) are indexed by `index_records`, once: a kind's
/// listing then finds them by query, the team's and every operator's.
#[tokio::test(flavor = "multi_thread")]
async fn records_written_before_the_listing_index_are_indexed_once() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use livesite_core::ports::RecordStore;
    let store = fresh().await;
    let s = |v: &str| AttributeValue::S(v.into());
    for (id, operator) in [("w-team", None), ("w-contoso", Some("contoso"))] {
        let mut put = store
            .client()
            .put_item()
            .table_name(&store.tables().state)
            .item("pk", s(&format!("REC#maintenance#{id}")))
            .item("sk", s("REC"))
            .item("entity", s("record"))
            .item("kind", s("maintenance"))
            .item("id", s(id))
            .item("doc", AttributeValue::M([("id".to_string(), s(id))].into()));
        if let Some(op) = operator {
            put = put
                .item("operator", s(op))
                .item("gsi1pk", s(&format!("OPREC#maintenance#{op}")))
                .item("gsi1sk", s(id));
        }
        put.send().await.expect("an old record");
    }
    let op = livesite_core::OperatorId::new("fabrikam").expect("id");
    store
        .create_record("maintenance", "w-new", Some(&op), &json!({"id": "w-new"}))
        .await
        .expect("a new record");
    let listed = |v: Vec<Value>| {
        let mut ids: Vec<String> = v
            .iter()
            .map(|d| d["id"].as_str().unwrap_or("?").to_string())
            .collect();
        ids.sort();
        ids
    };
    let before = store.list_records("maintenance", None).await.expect("list");
    assert_eq!(
        listed(before),
        ["w-new"],
        "old records lack the index's key"
    );
    assert_eq!(store.index_records().await.expect("index"), 2);
    assert_eq!(store.index_records().await.expect("again"), 0, "once");
    let after = store.list_records("maintenance", None).await.expect("list");
    assert_eq!(listed(after), ["w-contoso", "w-new", "w-team"]);
}
