//! AWS as it refuses, in front of an emulator that refuses nothing: IAM
//! (`iam`), DynamoDB's request limits (`limits`) and injected faults
//! (`faults`), in one proxy.
//!
//! moto accepts any call from anyone. This module puts a small HTTP proxy in
//! front of it that, for every request a function makes, works out the IAM
//! action and the resource ARN(s) the request touches (from the protocol:
//! `X-Amz-Target` and the JSON body, or the query `Action` and its form
//! fields), and evaluates them against that function's role as the SAM
//! transform of `infra/template.yaml` produces it (`crate::template`). A
//! call the role does not allow is answered as AWS answers it (AccessDenied)
//! and recorded, so the function fails here exactly where it would fail in
//! production, and the test names the function, the action and the resource.
//!
//! Each function is identified by its access key id, which is its logical id
//! in the template (`ProbeFunction`, ...). Requests signed with any other key
//! (the test harness setting things up) pass unchecked.
//!
//! The proxy also holds DynamoDB's request limits that moto does not: an item
//! over 400 KB, or a BatchWriteItem of more than 25 requests, is refused with
//! the ValidationException AWS gives, for the whole request, as AWS does.
//!
//! Evaluation follows IAM's order for identity policies in one account:
//! an explicit Deny wins, then any Allow, else the implicit deny. Action
//! names match case-insensitively, resources case-sensitively, both with `*`
//! and `?` wildcards. One condition is modelled, `dynamodb:LeadingKeys` under
//! `ForAllValues:StringEquals`/`StringLike` (`iam::leading_keys`); any other
//! `Condition`, or `NotAction`/`NotResource`, is not: an Allow of that kind
//! grants nothing here and a Deny of that kind always applies, so the check
//! can only be stricter than AWS, never looser.

use crate::emulator::{endpoint, Stack};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

mod faults;
mod iam;
mod limits;

pub use faults::*;
pub use iam::*;
pub use limits::*;

pub const REGION: &str = "us-east-1";

/// moto's account.
pub const ACCOUNT: &str = "123456789012";

/// The four functions of the template, by logical id.
pub const FUNCTIONS: [&str; 4] = [
    "ProbeFunction",
    "EvaluateFunction",
    "SweepFunction",
    "ApiFunction",
];

/// The statements of the AWS managed policies SAM attaches, as AWS publishes
/// them (only the parts that concern the services livesite calls; the log
/// permissions are the Lambda service's, not the code's). An unknown managed
/// policy fails the test: its permissions must be written down here first.
fn managed_policy(arn: &str) -> Vec<Value> {
    let logs = json!({"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"});
    match arn.rsplit('/').next().unwrap_or_default() {
        "AWSLambdaBasicExecutionRole" => vec![logs],
        "AWSLambdaDynamoDBExecutionRole" => vec![
            json!({"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"], "Resource": "*"}),
            logs,
        ],
        "AWSLambdaSQSQueueExecutionRole" => vec![
            json!({"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], "Resource": "*"}),
            logs,
        ],
        other => panic!("managed policy {other} ({arn}) is not modelled in tests/helpers/iam.rs"),
    }
}

#[derive(Default)]
struct State {
    roles: HashMap<String, Role>,
    decisions: Vec<Decision>,
    /// Shard iterators handed out, and the stream each one reads.
    iterators: HashMap<String, String>,
    /// Requests refused for breaking a service limit.
    refusals: Vec<String>,
    /// The SES sandbox: when set, mail to any other recipient is rejected.
    ses_verified: Option<Vec<String>>,
    /// Faults to inject, first match first.
    faults: Vec<Fault>,
    /// Faults injected so far: (action, resource).
    injected: Vec<(String, String)>,
    /// Items sent to DynamoDB writes (whether or not they were then
    /// written): (table, item in the wire format).
    written: Vec<(String, Value)>,
}

/// The enforcing proxy for one test stack.
pub struct Enforcer {
    url: String,
    state: Arc<Mutex<State>>,
    _server: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Enforcer {
    /// Every function of the template, with its role from the template.
    pub async fn start(stack: &Stack) -> Enforcer {
        let names = Names::of(stack);
        let roles = FUNCTIONS
            .iter()
            .map(|f| (f.to_string(), Role::from_template(f, &names)))
            .collect();
        Self::with_roles(roles).await
    }

    pub async fn with_roles(roles: HashMap<String, Role>) -> Enforcer {
        let state = Arc::new(Mutex::new(State {
            roles,
            ..State::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the IAM proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let upstream = endpoint().to_string();
        let client = reqwest::Client::new();
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (state, client, upstream) = (shared.clone(), client.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, state.clone(), client.clone(), upstream.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Enforcer {
            url,
            state,
            _server: AbortOnDrop(server),
        }
    }

    /// The SDK configuration a function runs with: this proxy, its identity.
    pub async fn config(&self, function: &str) -> aws_config::SdkConfig {
        self.config_in(function, REGION).await
    }

    /// The same, for a function running in `region`.
    pub async fn config_in(&self, function: &str, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(aws_config::Region::new(region.to_string()))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                function, "secret", None, None, "iam-test",
            ))
            .load()
            .await
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Injects a fault (see `Fault`).
    pub fn inject(&self, fault: Fault) {
        self.state.lock().expect("state").faults.push(fault);
    }

    /// The faults injected so far, as (action, resource).
    pub fn injected(&self) -> Vec<(String, String)> {
        self.state.lock().expect("state").injected.clone()
    }

    /// Puts the account in the SES sandbox: sending to a recipient that is not
    /// one of `verified` is rejected (MessageRejected), as SES does.
    pub fn with_ses_sandbox(self, verified: &[&str]) -> Self {
        self.state.lock().expect("state").ses_verified =
            Some(verified.iter().map(|v| v.to_string()).collect());
        self
    }

    /// Requests refused for breaking a DynamoDB limit, with AWS's message.
    /// The items write requests put into `table`, as sent (DynamoDB JSON):
    /// what the write units are billed by.
    pub fn items_written_to(&self, table: &str) -> Vec<Value> {
        let s = self.state.lock().expect("state");
        s.written
            .iter()
            .filter(|(t, _)| t == table)
            .map(|(_, i)| i.clone())
            .collect()
    }

    pub fn refusals(&self) -> Vec<String> {
        self.state.lock().expect("state").refusals.clone()
    }

    pub fn decisions(&self) -> Vec<Decision> {
        self.state.lock().expect("state").decisions.clone()
    }

    pub fn denials(&self) -> Vec<Decision> {
        let mut d: Vec<Decision> = self
            .decisions()
            .into_iter()
            .filter(|d| !d.allowed)
            .collect();
        d.sort();
        d.dedup();
        d
    }

    /// Statements (function, sid or actions) that no call needed.
    pub fn unused_statements(&self) -> Vec<String> {
        let state = self.state.lock().expect("state");
        let used: BTreeSet<(String, String, String)> = state
            .decisions
            .iter()
            .filter(|d| d.allowed)
            .map(|d| (d.function.clone(), d.action.clone(), d.resource.clone()))
            .collect();
        let mut unused = Vec::new();
        for (function, role) in &state.roles {
            for s in role.statements.iter().filter(|s| s.allow && !s.managed) {
                for a in &s.actions {
                    for r in &s.resources {
                        let hit = used.iter().any(|(f, ua, ur)| {
                            f == function
                                && glob(&a.to_ascii_lowercase(), &ua.to_ascii_lowercase())
                                && glob(r, ur)
                        });
                        if !hit {
                            unused.push(format!(
                                "{function} {} {a} on {r}",
                                s.sid.as_deref().unwrap_or("-")
                            ));
                        }
                    }
                }
            }
        }
        unused.sort();
        unused
    }

    /// Panics naming every call a role refused.
    pub fn assert_no_denials(&self) {
        let denials = self.denials();
        assert!(denials.is_empty(), "{}", denial_report(&denials));
    }
}

/// Who signed a request (its access key id), for which region and service:
/// the SigV4 credential scope, `KEY/DATE/REGION/SERVICE/aws4_request`. The
/// region is the one the call goes to, so it is the region of every ARN the
/// call touches (a client left in the wrong region asks for a resource IAM
/// knows by another ARN).
fn caller(req: &Request<Incoming>) -> Option<(String, String, String)> {
    let auth = req.headers().get("authorization")?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let mut parts = cred.split(',').next()?.split('/');
    let key = parts.next()?.to_string();
    let region = parts.nth(1)?.to_string();
    let service = parts.next()?.to_string();
    Some((key, region, service))
}

async fn forward(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    client: reqwest::Client,
    upstream: String,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let who = caller(&req);
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Some((key, region, service)) = &who {
        let mut s = state.lock().expect("state");
        if let Some(role) = s.roles.get(key).cloned() {
            let checks = authorizations(service, region, target.as_deref(), &body, &s.iterators);
            let text = String::from_utf8_lossy(&body).to_string();
            let hit = checks.iter().find_map(|(action, resource)| {
                let i = s.faults.iter().position(|f| {
                    f.count > 0
                        && f.action == *action
                        && resource.contains(&f.resource)
                        && f.body.as_ref().is_none_or(|b| text.contains(b.as_str()))
                })?;
                Some((i, action.clone(), resource.clone()))
            });
            if let Some((i, action, resource)) = hit {
                s.faults[i].count -= 1;
                let kind = s.faults[i].kind;
                s.injected.push((action, resource));
                return Ok(fault_response(kind, target.is_some()));
            }
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            for (action, resource) in checks {
                let keys = target.as_deref().and_then(|t| {
                    let op = t.strip_prefix("DynamoDB_20120810.")?;
                    let table = resource.split_once(":table/")?.1;
                    leading_keys(op, &json, table)
                });
                let allowed = role.allows_keys(&action, &resource, keys.as_deref());
                s.decisions.push(Decision {
                    function: key.clone(),
                    action: action.clone(),
                    resource: resource.clone(),
                    allowed,
                });
                if !allowed {
                    return Ok(denied(target.is_some(), key, &action, &resource));
                }
            }
        }
    }
    if let Some(unverified) = sandboxed(&state, target.as_deref(), &body) {
        let message = format!("Email address is not verified. The following identities failed the check in region US-EAST-1: {unverified}");
        state.lock().expect("state").refusals.push(message.clone());
        return Ok(Response::builder()
            .status(400)
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from(format!("<ErrorResponse><Error><Type>Sender</Type><Code>MessageRejected</Code><Message>{message}</Message></Error><RequestId>sandbox</RequestId></ErrorResponse>"))))
            .expect("response"));
    }
    match written_items(target.as_deref(), &body) {
        Ok(items) => state.lock().expect("state").written.extend(items),
        Err(message) => {
            state.lock().expect("state").refusals.push(message.clone());
            return Ok(validation(&message));
        }
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut up = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            up = up.header(name, value);
        }
    }
    let _one_write = match is_dynamo_write(target.as_deref()) {
        true => Some(DYNAMO_WRITES.lock().await),
        false => None,
    };
    let answer = match up.body(body.to_vec()).send().await {
        Ok(a) => a,
        Err(e) => {
            return Ok(Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(e.to_string())))
                .expect("response"))
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    if target.as_deref() == Some("DynamoDBStreams_20120810.GetShardIterator") {
        let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let got: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let (Some(it), Some(stream)) =
            (got["ShardIterator"].as_str(), asked["StreamArn"].as_str())
        {
            state
                .lock()
                .expect("state")
                .iterators
                .insert(it.to_string(), stream.to_string());
        }
    }
    if target.as_deref() == Some("DynamoDBStreams_20120810.GetRecords") {
        let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let got: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut s = state.lock().expect("state");
        if let (Some(next), Some(stream)) = (
            got["NextShardIterator"].as_str(),
            asked["ShardIterator"]
                .as_str()
                .and_then(|i| s.iterators.get(i).cloned()),
        ) {
            s.iterators.insert(next.to_string(), stream);
        }
    }
    let mut response = Response::builder().status(status.as_u16());
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    Ok(response.body(Full::new(bytes)).expect("response"))
}
