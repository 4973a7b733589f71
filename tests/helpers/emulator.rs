//! The local AWS emulator (moto_server) and the resources the tests need on it.
//!
//! `tests/run-all.sh` starts one moto_server on a free loopback port and sets
//! `LIVESITE_TEST_AWS_ENDPOINT`; run by hand without it, the first test starts
//! one from `.venv` that stops when the test process ends. Each test creates
//! its own uniquely named tables, topic, queue and sender, so tests run in
//! parallel on one emulator without seeing each other's data.

use crate::template;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use livesite_aws::{DynamoStore, Tables};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

static ENDPOINT: OnceLock<String> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| match std::env::var("LIVESITE_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => start_own(),
    })
}

// The wrapper shell reaps itself when this process ends; nobody waits for it.
#[allow(clippy::zombie_processes)]
fn start_own() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let moto = root.join(".venv/bin/moto_server");
    assert!(
        moto.exists(),
        "{} is missing: run tests/setup-venv.sh (or `make test`, which does)",
        moto.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    // The wrapper stops the emulator when this test process goes away.
    let script = format!(
        "{} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; while kill -0 {} 2>/dev/null; do sleep 1; done; kill $m",
        moto.display(),
        std::process::id()
    );
    std::process::Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("start moto_server");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    format!("http://127.0.0.1:{port}")
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// Everything one test needs on the emulator.
pub struct Stack {
    pub config: SdkConfig,
    pub name: String,
    pub tables: Tables,
    pub stream_arn: String,
    pub topic_arn: String,
    pub queue_url: String,
    /// The evaluate function's on-failure destination.
    pub failure_queue_url: String,
    pub sender: String,
    /// The SES configuration set every email is sent with.
    pub configuration_set: String,
}

/// One table as infra/template.yaml defines it (its keys, attributes,
/// indexes and stream), created under `name`: the emulator's schema is the
/// template's, never a copy that could drift.
fn table_from_template(
    ddb: &aws_sdk_dynamodb::Client,
    logical: &str,
    name: String,
) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    let props = &template::resource(logical)["Properties"];
    let text = |v: &Value| {
        v.as_str()
            .expect("a string in the table's schema")
            .to_string()
    };
    let keys = |list: &Value| -> Vec<KeySchemaElement> {
        list.as_array()
            .expect("KeySchema")
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(text(&k["AttributeName"]))
                    .key_type(KeyType::from(text(&k["KeyType"]).as_str()))
                    .build()
                    .expect("key")
            })
            .collect()
    };
    let mut req = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&props["KeySchema"])));
    for a in props["AttributeDefinitions"]
        .as_array()
        .expect("attributes")
    {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&a["AttributeName"]))
                .attribute_type(ScalarAttributeType::from(
                    text(&a["AttributeType"]).as_str(),
                ))
                .build()
                .expect("attribute"),
        );
    }
    for g in props["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(&g["IndexName"]))
                .set_key_schema(Some(keys(&g["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            text(&g["Projection"]["ProjectionType"]).as_str(),
                        ))
                        .build(),
                )
                .build()
                .expect("gsi"),
        );
    }
    if let Some(view) = props["StreamSpecification"]["StreamViewType"].as_str() {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()
                .expect("stream"),
        );
    }
    req
}

impl Stack {
    /// Creates the tables (from infra/template.yaml's definitions), the page
    /// topic, the second-round queue and a verified sender.
    pub async fn new(test: &str) -> Stack {
        let config = sdk_config().await;
        let name = format!(
            "{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let ddb = aws_sdk_dynamodb::Client::new(&config);
        let probes = table_from_template(&ddb, "ProbesTable", format!("{name}-probes"))
            .send()
            .await
            .expect("create probes table");
        let stream_arn = probes
            .table_description()
            .and_then(|t| t.latest_stream_arn())
            .expect("stream arn")
            .to_string();
        table_from_template(&ddb, "StateTable", format!("{name}-state"))
            .send()
            .await
            .expect("create state table");
        let topic_arn = aws_sdk_sns::Client::new(&config)
            .create_topic()
            .name(format!("{name}-pages"))
            .send()
            .await
            .expect("topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = aws_sdk_sqs::Client::new(&config)
            .create_queue()
            .queue_name(format!("{name}-second-round"))
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("queue url");
        let failure_queue_url = aws_sdk_sqs::Client::new(&config)
            .create_queue()
            .queue_name(format!("{name}-evaluate-failures"))
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("queue url");
        let sender = format!("livesite-{name}@dynamo.example");
        let ses = aws_sdk_ses::Client::new(&config);
        ses.verify_email_identity()
            .email_address(&sender)
            .send()
            .await
            .expect("verify sender");
        let configuration_set = format!("{name}-mail");
        ses.create_configuration_set()
            .configuration_set(
                aws_sdk_ses::types::ConfigurationSet::builder()
                    .name(&configuration_set)
                    .build()
                    .expect("configuration set"),
            )
            .send()
            .await
            .expect("create configuration set");
        Stack {
            tables: Tables {
                probes: format!("{name}-probes"),
                state: format!("{name}-state"),
            },
            config,
            name,
            stream_arn,
            topic_arn,
            queue_url,
            failure_queue_url,
            sender,
            configuration_set,
        }
    }

    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            self.tables.clone(),
        )
    }

    pub fn notifier(&self) -> livesite_aws::AwsNotifier {
        livesite_aws::AwsNotifier {
            pager: livesite_aws::SnsPager::new(
                aws_sdk_sns::Client::new(&self.config),
                self.topic_arn.clone(),
            ),
            mailer: livesite_aws::SesMailer::new(
                aws_sdk_ses::Client::new(&self.config),
                self.sender.clone(),
            )
            .with_configuration_set(Some(self.configuration_set.clone())),
        }
    }

    /// The store and notifier a function builds from its SDK configuration
    /// (for a function running under its own identity, see `iam`).
    pub fn store_with(&self, config: &SdkConfig) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(config), self.tables.clone())
    }

    pub fn notifier_with(&self, config: &SdkConfig) -> livesite_aws::AwsNotifier {
        livesite_aws::AwsNotifier {
            pager: livesite_aws::SnsPager::new(
                aws_sdk_sns::Client::new(config),
                self.topic_arn.clone(),
            ),
            mailer: livesite_aws::SesMailer::new(
                aws_sdk_ses::Client::new(config),
                self.sender.clone(),
            )
            .with_configuration_set(Some(self.configuration_set.clone())),
        }
    }

    /// The partner API as its function builds it over this stack, with
    /// `config`'s identity (an enforcing proxy's, see `iam`) and `policy`.
    pub fn api(
        &self,
        config: &SdkConfig,
        policy: livesite_core::Policy,
    ) -> livesite_api_fn::Api<DynamoStore, livesite_aws::AwsNotifier> {
        livesite_api_fn::Api {
            store: self.store_with(config),
            notifier: self.notifier_with(config),
            policy,
            team: self.team(),
            local_claims: None,
            team_clients: vec!["dynamo-team".into()],
        }
    }

    pub fn team(&self) -> livesite_core::Team {
        livesite_core::Team {
            sender: livesite_core::EmailAddress::parse(self.sender.clone()).expect("sender"),
            emails: vec![livesite_core::EmailAddress::parse("osoc@dynamo.example").expect("email")],
            channels: Default::default(),
            phone: None,
            calendar: Default::default(),
            api_url: None,
        }
    }

    /// The emulator's record of what was published to this stack's topic:
    /// (message, subject, attributes).
    pub async fn pages(&self) -> Vec<(String, String, Value)> {
        let data = data_json().await;
        let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
        topics
            .iter()
            .filter(|t| t["arn"] == self.topic_arn.as_str())
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| {
                (
                    n[1].as_str().unwrap_or_default().to_string(),
                    n[2].as_str().unwrap_or_default().to_string(),
                    n[3].clone(),
                )
            })
            .collect()
    }

    /// The emulator's record of email sent from this stack's sender: sent
    /// with SendEmail (`subject`, `body`), or as MIME with SendRawEmail
    /// (`raw_data`, its `subject` read from the MIME headers as a client
    /// reads them).
    pub async fn emails(&self) -> Vec<Value> {
        let data = data_json().await;
        let of = |kind: &str| data["ses"][kind].as_array().cloned().unwrap_or_default();
        let raw = of("RawMessage").into_iter().map(|mut m| {
            let subject = m["raw_data"]
                .as_str()
                .and_then(|r| mail_parser::MessageParser::default().parse(r.as_bytes()))
                .and_then(|p| p.subject().map(str::to_string));
            m["subject"] = subject.map_or(Value::Null, Value::String);
            m
        });
        of("Message")
            .into_iter()
            .chain(raw)
            .filter(|m| m["source"] == self.sender.as_str())
            .collect()
    }

    /// Reads the probes table's stream from the emulator, after the given
    /// sequence number (or from the start), as raw stream records.
    pub async fn stream_records(&self, after: Option<&str>) -> Vec<Value> {
        self.stream_records_as(endpoint(), "testing", after).await
    }

    /// The same, as the Lambda service reads it for a function: through
    /// `url` (an IAM-enforcing proxy) with the function's access key.
    pub async fn stream_records_as(&self, url: &str, key: &str, after: Option<&str>) -> Vec<Value> {
        let streams = |action: &str, body: Value| {
            post(
                url.to_string(),
                key.to_string(),
                format!("DynamoDBStreams_20120810.{action}"),
                body,
            )
        };
        let d = streams("DescribeStream", json!({"StreamArn": self.stream_arn})).await;
        let mut out = Vec::new();
        for shard in d["StreamDescription"]["Shards"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let mut req = json!({"StreamArn": self.stream_arn, "ShardId": shard["ShardId"]});
            match after {
                Some(seq) => {
                    req["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                    req["SequenceNumber"] = json!(seq);
                }
                None => req["ShardIteratorType"] = json!("TRIM_HORIZON"),
            }
            let mut iterator = streams("GetShardIterator", req).await["ShardIterator"].clone();
            while let Some(it) = iterator.as_str().map(str::to_string) {
                let page = streams("GetRecords", json!({"ShardIterator": it})).await;
                let records = page["Records"].as_array().cloned().unwrap_or_default();
                if records.is_empty() {
                    break;
                }
                out.extend(records);
                iterator = page["NextShardIterator"].clone();
            }
        }
        out
    }
}

/// Stream records as the Lambda service delivers them to the evaluator: only
/// those the template's event filter lets through (the emulator runs no
/// event source mapping, so without this a filter mistake would show only on
/// AWS). The emulator's records lack `eventSourceARN`; the rest is the same
/// wire format.
pub fn lambda_event(
    records: &[Value],
    stream_arn: &str,
) -> aws_lambda_events::event::dynamodb::Event {
    let patterns = stream_filters();
    let records: Vec<Value> = records
        .iter()
        .filter(|r| patterns.iter().any(|p| filter_matches(p, Some(r))))
        .map(|r| {
            let mut r = r.clone();
            r["eventSourceARN"] = json!(stream_arn);
            r
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a DynamoDB stream event")
}

/// The filter patterns of the evaluator's mapping on the probes stream, as
/// deployed (an empty list would pass every record: Lambda's default).
pub fn stream_filters() -> Vec<Value> {
    let mappings = template::resources_of("AWS::Lambda::EventSourceMapping");
    let (_, mapping) = mappings
        .iter()
        .find(|(_, m)| m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] == "ProbesTable")
        .expect("a mapping on the probes table's stream");
    let filters = mapping["Properties"]["FilterCriteria"]["Filters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if filters.is_empty() {
        return vec![json!({})];
    }
    filters
        .iter()
        .map(|f| {
            let text = f["Pattern"].as_str().expect("a pattern is JSON text");
            serde_json::from_str(text).expect("a pattern parses")
        })
        .collect()
}

/// Lambda's event filter, the part the template uses: every key of the
/// pattern must match; a list matches when any of its values equals the
/// event's (a string, number, boolean) or `{"exists": b}` holds of it.
/// Anything else is not modelled and fails the test rather than guess.
pub fn filter_matches(pattern: &Value, event: Option<&Value>) -> bool {
    let Some(fields) = pattern.as_object() else {
        panic!("a filter pattern is an object: {pattern}");
    };
    fields.iter().all(|(key, p)| {
        let value = event.and_then(|e| e.get(key));
        match p {
            Value::Object(_) => filter_matches(p, value),
            Value::Array(choices) => choices.iter().any(|c| match c {
                Value::Object(op) => match op.get("exists").and_then(Value::as_bool) {
                    Some(true) => value.is_some_and(|v| !v.is_object() && !v.is_array()),
                    Some(false) => value.is_none(),
                    None => panic!("filter operator not modelled: {c}"),
                },
                literal => value == Some(literal),
            }),
            other => panic!("a filter pattern's leaf is a list: {other}"),
        }
    })
}

async fn post(url: String, key: String, target: String, body: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .header("X-Amz-Target", target)
        .header("Content-Type", "application/x-amz-json-1.0")
        .header(
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .json(&body)
        .send()
        .await
        .expect("emulator reachable")
        .json()
        .await
        .expect("json answer")
}

/// Everything the emulator holds. Its dump races the other tests' writes
/// (it checks each attribute serialises, then serialises them all: a stream
/// record appended in between makes it answer 500), so a failed dump is
/// asked for again, a few times.
pub async fn data_json() -> Value {
    let url = format!("{}/moto-api/data.json", endpoint());
    let mut last = String::new();
    for _ in 0..10 {
        let r = reqwest::get(&url).await.expect("emulator reachable");
        let status = r.status();
        let body = r.text().await.expect("body");
        match serde_json::from_str(&body) {
            Ok(v) if status.is_success() => return v,
            _ => last = format!("{status}: {}", body.chars().take(200).collect::<String>()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the emulator's data.json kept failing: {last}");
}
