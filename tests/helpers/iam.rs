//! IAM as AWS enforces it, in front of an emulator that enforces none.
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
//! and `?` wildcards. A statement with a `Condition`, or with
//! `NotAction`/`NotResource`, is not modelled: an Allow of that kind grants
//! nothing here and a Deny of that kind always applies, so the check can only
//! be stricter than AWS, never looser.

use crate::emulator::{endpoint, Stack};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

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

/// What a logical id of the template stands for on the emulator.
#[derive(Debug, Clone, Default)]
pub struct Physical {
    pub reference: String,
    pub attributes: HashMap<String, String>,
}

/// The template's names resolved against one test stack.
pub struct Names {
    resources: HashMap<String, Physical>,
    parameters: HashMap<String, String>,
}

impl Names {
    pub fn of(stack: &Stack) -> Names {
        let table = |name: &str, stream: Option<&str>| {
            let arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}");
            let mut attributes = HashMap::from([("Arn".to_string(), arn)]);
            if let Some(s) = stream {
                attributes.insert("StreamArn".into(), s.to_string());
            }
            Physical {
                reference: name.to_string(),
                attributes,
            }
        };
        let queue = |url: &str| {
            let name = url.rsplit('/').next().unwrap_or_default().to_string();
            Physical {
                reference: url.to_string(),
                attributes: HashMap::from([
                    (
                        "Arn".to_string(),
                        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
                    ),
                    ("QueueName".to_string(), name),
                ]),
            }
        };
        let resources = HashMap::from([
            (
                "ProbesTable".to_string(),
                table(&stack.tables.probes, Some(&stack.stream_arn)),
            ),
            ("StateTable".to_string(), table(&stack.tables.state, None)),
            (
                "PagesTopic".to_string(),
                Physical {
                    reference: stack.topic_arn.clone(),
                    attributes: HashMap::from([("TopicArn".into(), stack.topic_arn.clone())]),
                },
            ),
            ("SecondRoundQueue".to_string(), queue(&stack.queue_url)),
            (
                "EvaluateFailureQueue".to_string(),
                queue(&stack.failure_queue_url),
            ),
            (
                "MailConfigurationSet".to_string(),
                Physical {
                    reference: stack.configuration_set.clone(),
                    attributes: HashMap::new(),
                },
            ),
        ]);
        let parameters = HashMap::from([
            ("MailSender".to_string(), stack.sender.clone()),
            ("Environment".to_string(), "staging".to_string()),
            ("AWS::Region".to_string(), REGION.to_string()),
            ("AWS::AccountId".to_string(), ACCOUNT.to_string()),
            ("AWS::Partition".to_string(), "aws".to_string()),
        ]);
        Names {
            resources,
            parameters,
        }
    }

    /// A probe location's stack (infra/probe-region.yaml) in `region`, its
    /// second-round queue at `queue_url`, writing to `home`'s tables.
    pub fn of_location(home: &Stack, region: &str, queue_url: &str) -> Names {
        let name = queue_url.rsplit('/').next().unwrap_or_default().to_string();
        let queue = Physical {
            reference: queue_url.to_string(),
            attributes: HashMap::from([
                (
                    "Arn".to_string(),
                    format!("arn:aws:sqs:{region}:{ACCOUNT}:{name}"),
                ),
                ("QueueName".to_string(), name),
            ]),
        };
        let parameters = [
            ("Environment", "staging"),
            ("HomeRegion", REGION),
            ("ProbesTableName", home.tables.probes.as_str()),
            ("StateTableName", home.tables.state.as_str()),
            ("ProbeConcurrency", "8"),
            ("AWS::Region", region),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::Partition", "aws"),
        ];
        Names {
            resources: HashMap::from([("SecondRoundQueue".to_string(), queue)]),
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn reference(&self, name: &str) -> String {
        if let Some(p) = self.parameters.get(name) {
            return p.clone();
        }
        self.resources
            .get(name)
            .map(|r| r.reference.clone())
            .unwrap_or_else(|| panic!("the test stack has no resource for Ref {name}"))
    }

    fn attribute(&self, name: &str, attr: &str) -> String {
        self.resources
            .get(name)
            .and_then(|r| r.attributes.get(attr))
            .cloned()
            .unwrap_or_else(|| panic!("the test stack has no {name}.{attr}"))
    }

    fn sub(&self, text: &str, vars: &HashMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closed ${") + start;
            let name = &rest[start + 2..end];
            let value = match vars.get(name) {
                Some(v) => v.clone(),
                None => match name.split_once('.') {
                    Some((res, attr)) => self.attribute(res, attr),
                    None => self.reference(name),
                },
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Resolves a template value (a string or an intrinsic function) to text.
    pub fn resolve(&self, v: &Value) -> String {
        if let Some(s) = v.as_str() {
            return s.to_string();
        }
        let obj = v.as_object().expect("a string or an intrinsic");
        if let Some(r) = obj.get("Ref") {
            return self.reference(r.as_str().expect("Ref name"));
        }
        if let Some(g) = obj.get("Fn::GetAtt") {
            let (res, attr) = match g {
                Value::Array(a) => (
                    a[0].as_str().expect("name").to_string(),
                    a[1].as_str().expect("attribute").to_string(),
                ),
                Value::String(s) => {
                    let (r, a) = s.split_once('.').expect("Name.Attribute");
                    (r.to_string(), a.to_string())
                }
                other => panic!("Fn::GetAtt {other}"),
            };
            return self.attribute(&res, &attr);
        }
        if let Some(s) = obj.get("Fn::Sub") {
            return match s {
                Value::String(text) => self.sub(text, &HashMap::new()),
                Value::Array(a) => {
                    let vars = a[1]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), self.resolve(v)))
                                .collect()
                        })
                        .unwrap_or_default();
                    self.sub(a[0].as_str().expect("Sub text"), &vars)
                }
                other => panic!("Fn::Sub {other}"),
            };
        }
        if let Some(j) = obj.get("Fn::Join") {
            let sep = j[0].as_str().expect("separator");
            let parts: Vec<String> = j[1]
                .as_array()
                .expect("parts")
                .iter()
                .map(|p| self.resolve(p))
                .collect();
            return parts.join(sep);
        }
        panic!("intrinsic not modelled in tests/helpers/iam.rs: {v}")
    }
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    /// From an AWS managed policy (its log permissions are the Lambda
    /// service's, so "unused" is not asked of these).
    pub managed: bool,
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Conditions, NotAction, NotResource: not modelled (see the module docs).
    pub unmodelled: bool,
}

fn strings(v: Option<&Value>, names: &Names) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(|x| names.resolve(x)).collect(),
        Some(x) => vec![names.resolve(x)],
    }
}

/// One function's permissions, resolved to ARNs.
#[derive(Debug, Clone)]
pub struct Role {
    pub statements: Vec<Statement>,
}

impl Role {
    pub fn from_template(function: &str, names: &Names) -> Role {
        Self::from_template_in(crate::template::deployed(), function, names)
    }

    /// A function's role in another deployed template (a probe location's).
    pub fn from_template_in(template: &'static Value, function: &str, names: &Names) -> Role {
        let (inline, managed) = crate::template::function_role_in(template, function);
        let mut docs: Vec<(bool, Value)> = inline.into_iter().map(|s| (false, s)).collect();
        for arn in &managed {
            docs.extend(
                managed_policy(&names.resolve(arn))
                    .into_iter()
                    .map(|s| (true, s)),
            );
        }
        let statements = docs
            .iter()
            .map(|(managed, s)| Statement {
                managed: *managed,
                sid: s["Sid"].as_str().map(str::to_string),
                allow: s["Effect"] == "Allow",
                actions: strings(s.get("Action"), names),
                resources: strings(s.get("Resource"), names),
                unmodelled: s.get("Condition").is_some()
                    || s.get("NotAction").is_some()
                    || s.get("NotResource").is_some(),
            })
            .collect();
        Role { statements }
    }

    /// The same role less `action` on `resource` (a negative control).
    pub fn without(mut self, action: &str, resource: &str) -> Role {
        for s in &mut self.statements {
            if s.actions.iter().any(|a| a.eq_ignore_ascii_case(action)) {
                s.resources.retain(|r| r != resource);
            }
        }
        self.statements.retain(|s| !s.resources.is_empty());
        self
    }

    pub fn allows(&self, action: &str, resource: &str) -> bool {
        let applies = |s: &Statement| {
            s.actions
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && s.resources.iter().any(|r| glob(r, resource))
        };
        let denied = self
            .statements
            .iter()
            .any(|s| !s.allow && (s.unmodelled || applies(s)));
        let allowed = self
            .statements
            .iter()
            .any(|s| s.allow && !s.unmodelled && applies(s));
        allowed && !denied
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// One authorization the proxy decided.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decision {
    pub function: String,
    pub action: String,
    pub resource: String,
    pub allowed: bool,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} on {}",
            self.function,
            if self.allowed {
                "may call"
            } else {
                "is NOT allowed"
            },
            self.action,
            self.resource
        )
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

/// What an injected fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// DynamoDB's ThrottlingException (400, retryable).
    Throttle,
    /// A server error (500; InternalServerError / InternalError).
    ServerError,
    /// A refusal no retry can change (400 ValidationException).
    Invalid,
}

/// A fault injected into the next `count` calls of `action` on a resource
/// containing `resource` whose request body contains `body` (if given).
#[derive(Debug, Clone)]
pub struct Fault {
    pub action: String,
    pub resource: String,
    pub body: Option<String>,
    pub count: usize,
    pub kind: FaultKind,
}

impl Fault {
    pub fn new(action: &str, resource: &str, count: usize, kind: FaultKind) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            body: None,
            count,
            kind,
        }
    }

    pub fn when_body_has(mut self, text: &str) -> Self {
        self.body = Some(text.into());
        self
    }
}

fn fault_response(kind: FaultKind, json_protocol: bool) -> Response<Full<Bytes>> {
    let (status, code) = match kind {
        FaultKind::Throttle => (400, "ThrottlingException"),
        FaultKind::ServerError if json_protocol => (500, "InternalServerError"),
        FaultKind::ServerError => (500, "InternalError"),
        FaultKind::Invalid => (400, "ValidationException"),
    };
    let (content_type, body) = if json_protocol {
        (
            "application/x-amz-json-1.0",
            json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": "injected fault"}).to_string(),
        )
    } else {
        (
            "text/xml",
            format!("<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>injected fault</Message></Error><RequestId>fault</RequestId></ErrorResponse>"),
        )
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
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

pub fn denial_report(denials: &[Decision]) -> String {
    let mut s = String::from("calls that AWS would refuse (infra/template.yaml lacks the grant):");
    for d in denials {
        s.push_str(&format!("\n  {d}"));
    }
    s
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

fn arn(service: &str, region: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{region}:{ACCOUNT}:{resource}")
}

fn table_arn(name: &str, region: &str) -> String {
    if name.starts_with("arn:") {
        name.to_string()
    } else {
        arn("dynamodb", region, &format!("table/{name}"))
    }
}

fn queue_arn(url: &str, region: &str) -> String {
    arn("sqs", region, url.rsplit('/').next().unwrap_or_default())
}

/// The (action, resource) pairs IAM evaluates for one request.
fn authorizations(
    service: &str,
    region: &str,
    target: Option<&str>,
    body: &[u8],
    iterators: &HashMap<String, String>,
) -> Vec<(String, String)> {
    if let Some(target) = target {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        return match prefix {
            p if p.starts_with("DynamoDBStreams") => {
                let stream = json["StreamArn"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| {
                        json["ShardIterator"]
                            .as_str()
                            .and_then(|i| iterators.get(i).cloned())
                    })
                    .unwrap_or_else(|| "*".into());
                vec![(format!("dynamodb:{op}"), stream)]
            }
            p if p.starts_with("DynamoDB") => dynamodb(op, &json, region),
            "AmazonSQS" => {
                let q = json["QueueUrl"].as_str().map(|u| queue_arn(u, region));
                vec![(format!("sqs:{op}"), q.unwrap_or_else(|| "*".into()))]
            }
            other => vec![(format!("{other}:{op}"), "unmodelled".into())],
        };
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let action = form.get("Action").cloned().unwrap_or_default();
    match service {
        "sns" => {
            let topic = form
                .get("TopicArn")
                .or_else(|| form.get("TargetArn"))
                .cloned()
                .unwrap_or_else(|| "*".into());
            vec![(format!("sns:{action}"), topic)]
        }
        "ses" | "email" => {
            let mut out = Vec::new();
            if let Some(source) = form.get("Source") {
                // The sender's own identity (an address verified as such).
                let addr = source
                    .rsplit('<')
                    .next()
                    .unwrap_or(source)
                    .trim_end_matches('>');
                out.push((
                    format!("ses:{action}"),
                    arn("ses", region, &format!("identity/{addr}")),
                ));
            }
            if let Some(set) = form.get("ConfigurationSetName") {
                out.push((
                    format!("ses:{action}"),
                    arn("ses", region, &format!("configuration-set/{set}")),
                ));
            }
            if out.is_empty() {
                out.push((format!("ses:{action}"), "*".into()));
            }
            out
        }
        other => vec![(format!("{other}:{action}"), "unmodelled".into())],
    }
}

fn dynamodb(op: &str, json: &Value, region: &str) -> Vec<(String, String)> {
    let keys = |field: &str| -> Vec<String> {
        json[field]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    match op {
        "BatchWriteItem" | "BatchGetItem" => keys("RequestItems")
            .iter()
            .map(|t| (format!("dynamodb:{op}"), table_arn(t, region)))
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => json["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, inner) = item.as_object()?.iter().next()?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    _ => "Unmodelled",
                };
                Some((
                    format!("dynamodb:{action}"),
                    table_arn(inner["TableName"].as_str()?, region),
                ))
            })
            .collect(),
        _ => {
            let table = table_arn(json["TableName"].as_str().unwrap_or("*"), region);
            let resource = match json["IndexName"].as_str() {
                Some(index) => format!("{table}/index/{index}"),
                None => table,
            };
            vec![(format!("dynamodb:{op}"), resource)]
        }
    }
}

/// The first recipient of an SES send that the sandbox does not allow.
fn sandboxed(state: &Mutex<State>, target: Option<&str>, body: &[u8]) -> Option<String> {
    if target.is_some() {
        return None;
    }
    let verified = state.lock().expect("state").ses_verified.clone()?;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let is_send = form
        .iter()
        .any(|(k, v)| k == "Action" && (v == "SendEmail" || v == "SendRawEmail"));
    if !is_send {
        return None;
    }
    form.into_iter()
        .filter(|(k, _)| k.starts_with("Destination."))
        .map(|(_, v)| v)
        .find(|address| !verified.iter().any(|ok| ok.eq_ignore_ascii_case(address)))
}

/// DynamoDB's item size limit: 400 KB, names and values counted.
pub const ITEM_LIMIT: usize = 400 * 1024;

/// An attribute value's size as DynamoDB counts it (close enough to hold the
/// limit: strings and binaries by their bytes, numbers by their digits,
/// containers with their 3-byte overhead plus one byte an element).
pub fn attribute_size(v: &Value) -> usize {
    let Some((kind, x)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let text = |x: &Value| x.as_str().map_or(0, str::len);
    match kind.as_str() {
        "S" | "N" => text(x),
        "B" => text(x) * 3 / 4,
        "BOOL" | "NULL" => 1,
        "SS" | "NS" | "BS" => x.as_array().map_or(0, |a| a.iter().map(text).sum()),
        "L" => {
            3 + x.as_array().map_or(0, |a| {
                a.iter().map(|e| 1 + attribute_size(e)).sum::<usize>()
            })
        }
        "M" => {
            3 + x.as_object().map_or(0, |m| {
                m.iter()
                    .map(|(k, e)| 1 + k.len() + attribute_size(e))
                    .sum::<usize>()
            })
        }
        _ => 0,
    }
}

pub fn item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |m| {
        m.iter().map(|(k, v)| k.len() + attribute_size(v)).sum()
    })
}

/// The items a DynamoDB write request puts, with their tables; or the
/// limit the request breaks.
fn written_items(target: Option<&str>, body: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let Some(op) = target.and_then(|t| t.strip_prefix("DynamoDB_20120810.")) else {
        return Ok(Vec::new());
    };
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Ok(Vec::new());
    };
    let table = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut items: Vec<(String, Value)> = Vec::new();
    match op {
        "PutItem" => items.push((table(&json["TableName"]), json["Item"].clone())),
        "BatchWriteItem" => {
            let empty = serde_json::Map::new();
            let by_table = json["RequestItems"].as_object().unwrap_or(&empty);
            if by_table
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .count()
                > 25
            {
                return Err("Too many items requested for the BatchWriteItem call".into());
            }
            for (name, requests) in by_table {
                for r in requests.as_array().into_iter().flatten() {
                    items.push((name.clone(), r["PutRequest"]["Item"].clone()));
                }
            }
        }
        "TransactWriteItems" => {
            for t in json["TransactItems"].as_array().into_iter().flatten() {
                items.push((table(&t["Put"]["TableName"]), t["Put"]["Item"].clone()));
            }
        }
        _ => {}
    }
    items.retain(|(_, i)| !i.is_null());
    if items.iter().any(|(_, i)| item_size(i) > ITEM_LIMIT) {
        return Err("Item size has exceeded the maximum allowed size".to_string());
    }
    Ok(items)
}

fn validation(message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(400)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(
            json!({"__type": "com.amazon.coral.validate#ValidationException", "message": message})
                .to_string(),
        )))
        .expect("response")
}

fn denied(
    json_protocol: bool,
    function: &str,
    action: &str,
    resource: &str,
) -> Response<Full<Bytes>> {
    let message = format!(
        "User: arn:aws:sts::{ACCOUNT}:assumed-role/{function}Role/{function} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    );
    let (status, content_type, body) = if json_protocol {
        (
            400,
            "application/x-amz-json-1.0",
            json!({"__type": "com.amazon.coral.service#AccessDeniedException", "message": message})
                .to_string(),
        )
    } else {
        let code = if action.starts_with("sns:") {
            "AuthorizationError"
        } else {
            "AccessDenied"
        };
        (
            403,
            "text/xml",
            format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>iam-test</RequestId></ErrorResponse>"),
        )
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

/// DynamoDB decides a condition and applies the write as one step per item;
/// moto checks and writes without a lock, so concurrent conditional writes
/// (a rate counter, a version) can all pass their conditions. The proxy
/// sends one DynamoDB write at a time, so what AWS would refuse under a race
/// is refused here too.
static DYNAMO_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn is_dynamo_write(target: Option<&str>) -> bool {
    target.is_some_and(|t| {
        t.strip_prefix("DynamoDB_20120810.").is_some_and(|op| {
            matches!(
                op,
                "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem"
            )
        })
    })
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
            for (action, resource) in checks {
                let allowed = role.allows(&action, &resource);
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
