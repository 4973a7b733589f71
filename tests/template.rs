//! What the template must hold for the system to work on AWS, read from the
//! template as CloudFormation deploys it (the SAM transform's output), where
//! neither cfn-lint nor the emulator would notice: alarms that can reach
//! their topic, the alarms a live-site monitor needs on itself, and timeouts
//! that leave the code the room it counts on.

use livesite_tests::template::{
    deployed, function_timeout_in, probe_region, resource, resource_in, resources_of,
    resources_of_in,
};
use serde_json::{json, Value};

fn props(name: &str) -> &'static Value {
    &resource(name)["Properties"]
}

#[test]
fn alarms_can_be_delivered_to_their_encrypted_topic() {
    let topic = props("AlarmsTopic");
    let key_ref = &topic["KmsMasterKeyId"];
    assert_eq!(
        key_ref,
        &json!({"Ref": "AlarmsKey"}),
        "the alarm topic needs a customer-managed key: an AWS-managed key's policy can't let CloudWatch in"
    );
    let key = props("AlarmsKey");
    assert_eq!(key["EnableKeyRotation"], true);
    let statements = key["KeyPolicy"]["Statement"]
        .as_array()
        .expect("statements");
    let cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com")
        .expect("a statement for CloudWatch alarms");
    assert_eq!(cloudwatch["Effect"], "Allow");
    let actions: Vec<&str> = cloudwatch["Action"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for needed in ["kms:Decrypt", "kms:GenerateDataKey*"] {
        assert!(actions.contains(&needed), "{needed} missing: {actions:?}");
    }
    assert_eq!(
        cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!({"Ref": "AWS::AccountId"}),
        "only this account's alarms may use the key"
    );
    // Someone must be able to administer the key, or it can never change.
    assert!(statements.iter().any(|s| s["Action"] == "kms:*"));
}

/// (namespace, metric) of every alarm a live-site monitor needs on itself.
const NEEDED: &[(&str, &str, &str)] = &[
    (
        "AWS/Lambda",
        "IteratorAge",
        "stream lag: probe results wait to be evaluated",
    ),
    (
        "livesite",
        "OldestUnsentNotificationAge",
        "a page or email stuck in the outbox",
    ),
    ("AWS/ApiGateway", "5xx", "the partner API failing"),
    ("AWS/Lambda", "Duration", "the probe round near its timeout"),
    ("AWS/SES", "Bounce", "email bounces"),
    ("AWS/SES", "Complaint", "email complaints"),
    (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "evaluate batches given up",
    ),
    ("livesite", "SweepDutyFailures", "a sweep duty failing"),
    (
        "livesite",
        "InvalidProbeRecords",
        "records skipped as never valid",
    ),
    ("livesite", "ProbeWritesLost", "probe results not stored"),
    ("livesite", "ProbesNotRun", "probes a round had no time for"),
    (
        "livesite",
        "SecondRoundsNotScheduled",
        "a minute's second round lost",
    ),
];

#[test]
fn the_monitor_has_the_alarms_it_needs_and_each_reaches_the_alarm_topic() {
    let alarms = resources_of("AWS::CloudWatch::Alarm");
    for (namespace, metric, why) in NEEDED {
        assert!(
            alarms
                .iter()
                .any(|(_, a)| a["Properties"]["Namespace"] == *namespace
                    && a["Properties"]["MetricName"] == *metric),
            "no alarm on {namespace} {metric} ({why})"
        );
    }
    for (name, a) in &alarms {
        assert_eq!(
            a["Properties"]["AlarmActions"],
            json!([{"Ref": "AlarmsTopic"}]),
            "{name} must notify the alarm topic"
        );
    }
}

#[test]
fn the_probe_function_has_room_for_the_longest_probe_and_the_write() {
    // At home and at every probe location.
    for template in [deployed(), probe_region()] {
        let timeout = function_timeout_in(template, "ProbeFunction");
        let needed = livesite_core::PortalCheck::MAX_TIMEOUT + livesite_probe_fn::WRITE_MARGIN;
        assert!(
            timeout >= needed,
            "ProbeFunction Timeout {timeout:?} < the longest portal timeout plus the write margin {needed:?}"
        );
        // The duration alarm sits at 80% of the timeout.
        let alarm = &resource_in(template, "ProbeDurationAlarm")["Properties"];
        assert_eq!(
            alarm["Threshold"].as_f64(),
            Some(timeout.as_millis() as f64 * 0.8),
            "ProbeDurationAlarm's threshold must follow the function's timeout"
        );
        assert_eq!(
            alarm["Dimensions"][0]["Value"],
            json!({"Ref": "ProbeFunction"})
        );
    }
}

/// A probe location (infra/probe-region.yaml) runs the home stack's probe:
/// the same binary, runtime, memory and timeout, so its votes are measured
/// as the home region's are; it reads the registry from and writes its
/// results to the home region's tables, named by the home stack's outputs,
/// and stamps its region on them; and every alarm the home stack has on the
/// probe (on the function, or on a metric the probe emits) it has too, on
/// its own encrypted topic (alarms notify topics in their own region only).
#[test]
fn a_probe_location_runs_the_home_probe_writes_home_and_has_its_alarms() {
    let region = probe_region();
    let home = &resource("ProbeFunction");
    let there = &resource_in(region, "ProbeFunction");
    for field in [
        "Runtime",
        "Architectures",
        "Handler",
        "MemorySize",
        "Timeout",
    ] {
        assert_eq!(
            there["Properties"][field], home["Properties"][field],
            "{field} differs from the home probe's"
        );
    }
    assert_eq!(
        there["Metadata"]["BuildProperties"],
        home["Metadata"]["BuildProperties"]
    );
    let env = &there["Properties"]["Environment"]["Variables"];
    for (var, want) in [
        ("PROBES_TABLE", json!({"Ref": "ProbesTableName"})),
        ("STATE_TABLE", json!({"Ref": "StateTableName"})),
        ("TABLES_REGION", json!({"Ref": "HomeRegion"})),
        ("PROBE_LOCATION", json!({"Ref": "AWS::Region"})),
        ("SECOND_ROUND_QUEUE_URL", json!({"Ref": "SecondRoundQueue"})),
    ] {
        assert_eq!(env[var], want, "{var}");
    }
    let home_outputs = &deployed()["Outputs"];
    for output in ["ProbesTableName", "StateTableName"] {
        assert!(
            home_outputs[output].is_object(),
            "the home stack outputs {output}"
        );
    }
    let probe_metrics = emitted_by("probe");
    assert!(probe_metrics.contains("ProbesNotRun"), "{probe_metrics:?}");
    let on_probe = |a: &Value| {
        let p = &a["Properties"];
        p["Dimensions"][0]["Value"] == json!({"Ref": "ProbeFunction"})
            || (p["Namespace"] == "livesite"
                && p["MetricName"]
                    .as_str()
                    .is_some_and(|m| probe_metrics.contains(m)))
    };
    let wanted: Vec<_> = resources_of("AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| on_probe(a))
        .collect();
    assert!(wanted.len() >= 6, "{}", wanted.len());
    let alarms = resources_of_in(region, "AWS::CloudWatch::Alarm");
    for (name, a) in &wanted {
        let same = |b: &Value| {
            [
                "Namespace",
                "MetricName",
                "Statistic",
                "Threshold",
                "ComparisonOperator",
                "TreatMissingData",
                "Dimensions",
            ]
            .iter()
            .all(|k| a["Properties"][k] == b["Properties"][k])
        };
        assert!(
            alarms.iter().any(|(_, b)| same(b)),
            "the probe location lacks the home stack's {name}"
        );
    }
    for (name, a) in &alarms {
        assert_eq!(
            a["Properties"]["AlarmActions"],
            json!([{"Ref": "AlarmsTopic"}]),
            "{name} must notify the location's alarm topic"
        );
    }
    let topic = &resource_in(region, "AlarmsTopic")["Properties"];
    assert_eq!(topic["KmsMasterKeyId"], json!({"Ref": "AlarmsKey"}));
    let key = &resource_in(region, "AlarmsKey")["Properties"]["KeyPolicy"];
    assert_eq!(
        key,
        &props("AlarmsKey")["KeyPolicy"],
        "the home key policy, which lets CloudWatch in"
    );
}

#[test]
fn every_email_goes_out_with_the_configuration_set_that_reports_bounces() {
    let globals = &props("ProbeFunction")["Environment"]["Variables"];
    assert_eq!(
        globals["MAIL_CONFIGURATION_SET"],
        json!({"Ref": "MailConfigurationSet"})
    );
    let events = props("MailEvents");
    assert_eq!(
        events["ConfigurationSetName"],
        json!({"Ref": "MailConfigurationSet"})
    );
    let types = &events["EventDestination"]["MatchingEventTypes"];
    for t in ["bounce", "complaint"] {
        assert!(
            types.as_array().expect("types").iter().any(|x| x == t),
            "{t} events must be published: {types}"
        );
    }
    assert!(events["EventDestination"]["CloudWatchDestination"].is_object());
}

/// The metrics (embedded metric format, namespace `livesite`) the code of
/// one crate under functions/ emits, or of every crate (`*`).
fn emitted_by(crate_name: &str) -> std::collections::BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let mut emitted = std::collections::BTreeSet::new();
    for crate_dir in std::fs::read_dir(&root).expect("functions/") {
        let crate_dir = crate_dir.expect("entry").path();
        if crate_name != "*" && !crate_dir.ends_with(crate_name) {
            continue;
        }
        for file in std::fs::read_dir(crate_dir.join("src"))
            .into_iter()
            .flatten()
        {
            let text = std::fs::read_to_string(file.expect("file").path()).unwrap_or_default();
            // The code, not its unit tests.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let text = code.split_whitespace().collect::<Vec<_>>().join(" ");
            // Metrics are (name, unit, value) tuples given to `emf_line`.
            for unit in [r#"", "Count","#, r#"", "Seconds","#] {
                for part in text.split(unit).take(text.matches(unit).count()) {
                    if let Some(name) = part.rsplit('"').next() {
                        emitted.insert(name.to_string());
                    }
                }
            }
        }
    }
    emitted
}

/// Every metric the functions emit (embedded metric format, namespace
/// `livesite`) is either alarmed or listed here as information only.
#[test]
fn every_metric_the_functions_emit_is_alarmed_or_declared_informational() {
    const INFORMATIONAL: &[&str] = &["ProbesWritten", "PortalsDown", "NotificationsFailed"];
    let emitted = emitted_by("*");
    assert!(emitted.contains("SweepDutyFailures"), "{emitted:?}");
    let alarmed: Vec<&str> = resources_of("AWS::CloudWatch::Alarm")
        .iter()
        .filter(|(_, a)| a["Properties"]["Namespace"] == "livesite")
        .filter_map(|(_, a)| a["Properties"]["MetricName"].as_str())
        .collect();
    for m in &emitted {
        assert!(
            alarmed.contains(&m.as_str()) || INFORMATIONAL.contains(&m.as_str()),
            "metric {m} is emitted but has no alarm in infra/template.yaml"
        );
    }
    for a in &alarmed {
        assert!(
            emitted.contains(*a),
            "alarm on {a}, which no function emits"
        );
    }
}

/// The store queries the indexes the template creates, by the names it
/// gives them (the emulator's tables are built from the template too, in
/// tests/helpers/emulator.rs, so a renamed index fails here first).
#[test]
fn the_store_queries_the_indexes_the_template_creates() {
    let indexes: Vec<&str> = livesite_tests::template::resource("StateTable")["Properties"]
        ["GlobalSecondaryIndexes"]
        .as_array()
        .expect("indexes")
        .iter()
        .filter_map(|g| g["IndexName"].as_str())
        .collect();
    for name in [
        livesite_aws::dynamo::INCIDENTS_BY_OPERATOR,
        livesite_aws::dynamo::PENDING_OUTBOX,
    ] {
        assert!(indexes.contains(&name), "{name} not in {indexes:?}");
    }
}

fn overrides(env: &toml::Value) -> std::collections::BTreeMap<String, String> {
    env.get("deploy")
        .and_then(|d| d.get("parameters"))
        .and_then(|p| p.get("parameter_overrides"))
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every probe location samconfig deploys is listed, with the home region,
/// in its home stack's `ProbeLocations`: a location the home stack does not
/// list would vote for rounds nobody counts.
#[test]
fn every_probe_location_deployed_is_listed_by_its_home_stack() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../samconfig.toml");
    let config: toml::Value =
        toml::from_str(&std::fs::read_to_string(path).expect("samconfig")).expect("toml");
    let envs = config.as_table().expect("environments");
    let global = |env: &toml::Value, key: &str| {
        env.get("global")
            .and_then(|g| g.get("parameters"))
            .and_then(|p| p.get(key))
            .and_then(toml::Value::as_str)
            .map(String::from)
    };
    let mut locations = 0;
    for (name, env) in envs {
        if global(env, "template_file").as_deref() != Some("infra/probe-region.yaml") {
            continue;
        }
        locations += 1;
        let region = global(env, "region").expect("a location's region");
        let o = overrides(env);
        let (environment, home_region) = (&o["Environment"], &o["HomeRegion"]);
        let home = envs
            .values()
            .find(|h| {
                global(h, "template_file").as_deref() == Some("infra/template.yaml")
                    && overrides(h).get("Environment") == Some(environment)
            })
            .unwrap_or_else(|| panic!("{name}: no home stack for {environment}"));
        assert_eq!(global(home, "region").as_ref(), Some(home_region), "{name}");
        let listed = overrides(home)
            .get("ProbeLocations")
            .cloned()
            .unwrap_or_default();
        let listed: Vec<&str> = listed.split(',').collect();
        for voter in [region.as_str(), home_region.as_str()] {
            assert!(
                listed.contains(&voter),
                "{name}: the home stack's ProbeLocations {listed:?} lacks {voter}"
            );
        }
    }
    assert!(locations > 0, "samconfig deploys a probe location");
}

/// `infra/openapi.yaml` lists exactly the routes the API answers, each
/// with exactly the query filters its route declares (paging's `limit` and
/// `cursor` aside): a route or a filter added to the table but not to the
/// document (or the reverse) is caught.
#[test]
fn the_openapi_document_lists_exactly_the_route_table_and_its_filters() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = r#"
import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
shared = d.get('components', {}).get('parameters', {})
def query(op):
    names = []
    for p in op.get('parameters', []):
        p = shared[p['$ref'].split('/')[-1]] if '$ref' in p else p
        if p.get('in') == 'query' and p['name'] not in ('limit', 'cursor'):
            names.append(p['name'])
    return sorted(names)
print(json.dumps([[m.upper(), p, query(op)] for p, ops in d['paths'].items()
                  for m, op in ops.items() if m in ('get', 'post', 'put', 'delete', 'patch')]))
"#;
    let out = std::process::Command::new(root.join(".venv/bin/python"))
        .args(["-c", script])
        .arg(root.join("infra/openapi.yaml"))
        .output()
        .expect("python from tests/setup-venv.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    type Row = (String, String, Vec<String>);
    let documented: Vec<Row> = serde_json::from_slice(&out.stdout).expect("method, path, filters");
    let normalise = |path: &str| {
        path.trim_start_matches("/v1/")
            .split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut documented: Vec<Row> = documented
        .into_iter()
        .map(|(m, p, f)| (m, normalise(&p), f))
        .collect();
    let mut answered: Vec<Row> = livesite_api_fn::route_filters()
        .into_iter()
        .map(|(m, p, f)| {
            let mut f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            f.sort();
            (m.to_string(), p.to_string(), f)
        })
        .collect();
    documented.sort();
    answered.sort();
    assert_eq!(documented, answered);
}

/// Every request the docs print against the deployed API works as printed:
/// `$API_URL` is the stack's `PartnerApiUrl`, which already ends in `/v1`,
/// so what follows it is a route of the table (never `/v1/…` again).
#[test]
fn every_request_the_docs_print_names_a_route_of_the_api() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("infra/template.yaml")).expect("template");
    assert!(
        template.contains(".amazonaws.com/v1\n"),
        "PartnerApiUrl ends in /v1"
    );
    let routes = livesite_api_fn::routes();
    let matches = |path: &str| {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        routes.iter().any(|(_, r)| {
            let want: Vec<&str> = r.split('/').collect();
            want.len() == parts.len() && want.iter().zip(&parts).all(|(w, p)| *w == "{}" || w == p)
        })
    };
    let mut seen = 0;
    for doc in ["README.md", "docs/api.md", "docs/deploy.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("doc");
        for (i, _) in text.match_indices("$API_URL/") {
            let rest = &text[i + "$API_URL".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ' ' | '?' | '`' | '\n'))
                .collect();
            assert!(matches(&path), "{doc}: $API_URL{path} is no route");
            seen += 1;
        }
    }
    assert!(seen > 0, "the docs print at least one request");
}

/// An idempotency key is held while its request may still run: the API
/// function's timeout stays below that, so a request killed by its timeout
/// has freed nothing early and locks its key no longer than the hold.
#[test]
fn the_api_function_times_out_before_an_idempotency_key_is_freed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("infra/template.yaml")).expect("template");
    let api = text
        .split("FunctionName: !Sub livesite-${Environment}-api")
        .nth(1)
        .expect("the API function");
    let timeout: i64 = api
        .lines()
        .find_map(|l| l.trim().strip_prefix("Timeout: "))
        .and_then(|t| t.trim().parse().ok())
        .expect("its Timeout");
    assert!(
        chrono::Duration::seconds(timeout) < livesite_api_fn::RESERVATION_HELD,
        "API timeout {timeout}s"
    );
}

/// The stage's shared throttle answers a flood only after every operator's
/// own limit has: its rate is at least 250 operators at their
/// `api_requests_per_minute`, and below the 1,000 writes a second one
/// DynamoDB item takes (the flooding operator's counter).
#[test]
fn the_stage_throttle_leaves_every_operator_its_own_limit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("infra/template.yaml")).expect("template");
    let param = text.split("  ApiRateLimit:").nth(1).expect("ApiRateLimit");
    let rate: f64 = param
        .lines()
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .and_then(|v| v.parse().ok())
        .expect("its default");
    let per_operator = f64::from(livesite_core::Policy::default().api_requests_per_minute) / 60.0;
    assert!(
        rate >= 250.0 * per_operator,
        "{rate}/s leaves 250 operators less than their own limit"
    );
    assert!(
        rate < 1000.0,
        "{rate}/s can throttle one operator's counter"
    );
    assert!(text.contains("ThrottlingBurstLimit: 1000"));
}
