//! IAM: each function's role from the template, and every request's
//! actions and resources evaluated against it.

use super::*;

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
    /// `dynamodb:LeadingKeys` under `ForAllValues:StringEquals` or
    /// `ForAllValues:StringLike`: the partition key values the statement is
    /// limited to (patterns, for `StringLike`).
    pub leading_keys: Option<Vec<String>>,
    /// Any other condition, NotAction, NotResource: not modelled (see the
    /// module docs).
    pub unmodelled: bool,
}

/// The one condition modelled: `dynamodb:LeadingKeys` under
/// `ForAllValues:StringEquals` or `ForAllValues:StringLike` (equality is a
/// pattern without wildcards). `Err` for any other condition.
fn leading_keys_condition(
    condition: Option<&Value>,
    names: &Names,
) -> Result<Option<Vec<String>>, ()> {
    let Some(c) = condition else {
        return Ok(None);
    };
    let c = c.as_object().ok_or(())?;
    let mut keys = None;
    for (operator, tests) in c {
        let tests = tests.as_object().ok_or(())?;
        let like = match operator.as_str() {
            "ForAllValues:StringEquals" => false,
            "ForAllValues:StringLike" => true,
            _ => return Err(()),
        };
        for (key, values) in tests {
            if key != "dynamodb:LeadingKeys" || keys.is_some() {
                return Err(());
            }
            let values = strings(Some(values), names);
            if !like && values.iter().any(|v| v.contains(['*', '?'])) {
                return Err(());
            }
            keys = Some(values);
        }
    }
    Ok(keys)
}

pub(super) fn strings(v: Option<&Value>, names: &Names) -> Vec<String> {
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
            .map(|(managed, s)| {
                let condition = leading_keys_condition(s.get("Condition"), names);
                Statement {
                    managed: *managed,
                    sid: s["Sid"].as_str().map(str::to_string),
                    allow: s["Effect"] == "Allow",
                    actions: strings(s.get("Action"), names),
                    resources: strings(s.get("Resource"), names),
                    unmodelled: condition.is_err()
                        || s.get("NotAction").is_some()
                        || s.get("NotResource").is_some(),
                    leading_keys: condition.unwrap_or(None),
                }
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
        self.allows_keys(action, resource, None)
    }

    /// `allows`, for a request whose partition key values are `keys`
    /// (`None`: not a keyed DynamoDB request). A statement limited to some
    /// leading keys applies only when every key of the request is one of
    /// them; a request without keys meets no such statement (stricter than
    /// AWS, where `ForAllValues` holds for an empty set).
    pub fn allows_keys(&self, action: &str, resource: &str, keys: Option<&[String]>) -> bool {
        let applies = |s: &Statement| {
            let keyed = match (&s.leading_keys, keys) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(allowed), Some(keys)) => {
                    !keys.is_empty() && keys.iter().all(|k| allowed.iter().any(|a| glob(a, k)))
                }
            };
            keyed
                && s.actions
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

pub fn denial_report(denials: &[Decision]) -> String {
    let mut s = String::from("calls that AWS would refuse (infra/template.yaml lacks the grant):");
    for d in denials {
        s.push_str(&format!("\n  {d}"));
    }
    s
}

pub(super) fn arn(service: &str, region: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{region}:{ACCOUNT}:{resource}")
}

pub(super) fn table_arn(name: &str, region: &str) -> String {
    if name.starts_with("arn:") {
        name.to_string()
    } else {
        arn("dynamodb", region, &format!("table/{name}"))
    }
}

pub(super) fn queue_arn(url: &str, region: &str) -> String {
    arn("sqs", region, url.rsplit('/').next().unwrap_or_default())
}

/// The (action, resource) pairs IAM evaluates for one request.
pub(super) fn authorizations(
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

pub(super) fn dynamodb(op: &str, json: &Value, region: &str) -> Vec<(String, String)> {
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

pub(super) fn denied(
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

/// The partition key values a DynamoDB request touches in `table` (its
/// name), for `dynamodb:LeadingKeys`: the state table's `pk`, the probes
/// table's `operator`. `None` when the request names none (a Scan, a
/// stream read) or queries an index, whose keys are not the table's.
pub fn leading_keys(op: &str, json: &Value, table: &str) -> Option<Vec<String>> {
    let partition = |item: &Value| -> Option<String> {
        let v = item.get("pk").or_else(|| item.get("operator"))?;
        v["S"].as_str().map(str::to_string)
    };
    let named = |t: &Value| {
        t.as_str()
            .is_some_and(|n| table_arn(n, REGION).ends_with(&format!("/{table}")) || n == table)
    };
    match op {
        "GetItem" | "DeleteItem" | "UpdateItem" => partition(&json["Key"]).map(|k| vec![k]),
        "PutItem" => partition(&json["Item"]).map(|k| vec![k]),
        "Query" if json.get("IndexName").is_none() => query_partition(json).map(|k| vec![k]),
        "BatchWriteItem" | "BatchGetItem" => {
            let (_, requests) = json["RequestItems"]
                .as_object()?
                .iter()
                .find(|(name, _)| named(&Value::from(name.as_str())))?;
            let items: Vec<&Value> = match requests {
                Value::Array(writes) => writes
                    .iter()
                    .filter_map(|w| {
                        w["PutRequest"]["Item"]
                            .as_object()
                            .map(|_| &w["PutRequest"]["Item"])
                            .or_else(|| {
                                w["DeleteRequest"]["Key"]
                                    .as_object()
                                    .map(|_| &w["DeleteRequest"]["Key"])
                            })
                    })
                    .collect(),
                other => other["Keys"].as_array()?.iter().collect(),
            };
            items.into_iter().map(partition).collect()
        }
        _ => None,
    }
}

/// The partition key value a Query's key condition fixes (`pk = :v`, or
/// through an attribute name).
fn query_partition(json: &Value) -> Option<String> {
    let expression = json["KeyConditionExpression"].as_str()?;
    for clause in expression.split(" AND ").chain(expression.split(" and ")) {
        let Some((name, value)) = clause.split_once('=') else {
            continue;
        };
        let (name, value) = (
            name.trim().trim_start_matches('('),
            value.trim().trim_end_matches(')'),
        );
        let name = if name.starts_with('#') {
            json["ExpressionAttributeNames"][name].as_str()?
        } else {
            name
        };
        if name == "pk" || name == "operator" {
            return json["ExpressionAttributeValues"][value]["S"]
                .as_str()
                .map(str::to_string);
        }
    }
    None
}
