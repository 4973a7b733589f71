//! Least privilege, proven: each of the four functions runs its real handler
//! under an identity whose permissions are exactly its role in
//! infra/template.yaml (through the SAM transform, see tests/iam/roles.py),
//! behind a proxy that refuses, as AWS would, every call the role does not
//! allow (tests/helpers/iam.rs). The scenarios are the ones the functions
//! really run: both probe rounds and the Lambda service's queue poll, a stream
//! batch read with the evaluate role and its on-failure record, the sweep on
//! the first of a month (monthly reports, reminders, escalation), and every
//! route family of the partner API as the team and as an operator.
//!
//! The negative control is a test too: with the sweep's grant to Query the
//! probes table removed, the same sweep is refused, the failure names the
//! function, the action and the resource, and (each duty being isolated) the
//! reminders and the escalation page still go out.

use chrono::{DateTime, Duration, Utc};
use livesite_core::ports::{OperatorRegistry, StateStore};
use livesite_core::{Policy, PortalCheck};
use livesite_evaluate_fn::RegistryDirectory;
use livesite_probe_fn::{ProbeFunction, SecondRound};
use livesite_tests::emulator::{lambda_event, Stack};
use livesite_tests::fixtures::{operator, t0};
use livesite_tests::gateway::{admin, answer, client, Call};
use livesite_tests::portal::{self, Behavior};
use livesite_tests::proxy::{denial_report, glob, leading_keys, Enforcer, Names, Role, FUNCTIONS};
use livesite_tests::template::{invocation_deadline, probe_region, resource_in, LOCATION_REGION};
use serde_json::{json, Value};
use std::collections::HashMap;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn schedule_event() -> Value {
    json!({"version": "0", "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
}

/// Registers contoso, its portal answering 503.
async fn register(stack: &Stack, portal: &portal::Portal) {
    let mut contoso = operator("contoso");
    contoso.portal = PortalCheck::new(portal.http_url("/modirect").parse().expect("url"));
    contoso.api_clients = vec!["client-contoso".into()];
    contoso.agents = vec!["agent-contoso-1".into()];
    stack
        .store()
        .put_operator(&contoso)
        .await
        .expect("register");
}

/// The probe function for 31 minutes of an outage: the first round from the
/// schedule, the second from the delay queue as the Lambda service polls it
/// with the function's role, then a round every 30 s.
async fn probe_an_outage(stack: &Stack, iam: &Enforcer) {
    let cfg = iam.config("ProbeFunction").await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let f = ProbeFunction {
        location: None,
        store: stack.store_with(&cfg),
        prober: portal::local_prober(),
        second_round: Some(SecondRound {
            client: sqs.clone(),
            queue_url: stack.queue_url.clone(),
            delay_seconds: 0,
        }),
        concurrency: 8,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
    };
    let first = f
        .handle(
            &schedule_event(),
            t0(),
            invocation_deadline("ProbeFunction"),
        )
        .await
        .expect("first round");
    assert_eq!(first["second_round_scheduled"], true, "{first}");
    // The Lambda service's SQS poller, with the function's role.
    let got = sqs
        .receive_message()
        .queue_url(&stack.queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("poll the second-round queue");
    let message = got.messages().first().expect("the second round's message");
    sqs.delete_message()
        .queue_url(&stack.queue_url)
        .receipt_handle(message.receipt_handle().expect("receipt"))
        .send()
        .await
        .expect("delete the message");
    let body: Value = serde_json::from_str(message.body().expect("body")).expect("json");
    assert_eq!(body["slot"], json!(t0() + Duration::seconds(30)), "{body}");
    for i in 1..=61 {
        // Each later round's message as the round before it leaves it.
        let body = json!({"round": 2, "slot": t0() + Duration::seconds(30 * i)}).to_string();
        let sqs_event = json!({"Records": [{"messageId": message.message_id(), "eventSource": "aws:sqs", "body": body}]});
        let out = f
            .handle(
                &sqs_event,
                t0() + Duration::seconds(30 * i),
                invocation_deadline("ProbeFunction"),
            )
            .await
            .expect("second round");
        assert_eq!(out["lost"], 0, "{out}");
    }
}

/// The evaluate function on the stream, read with its role as the Lambda
/// service reads it; then the service's on-failure record.
async fn evaluate_the_stream(stack: &Stack, iam: &Enforcer) {
    let cfg = iam.config("EvaluateFunction").await;
    let records = stack
        .stream_records_as(iam.url(), "EvaluateFunction", None)
        .await;
    assert_eq!(records.len(), 62, "every probe result is on the stream");
    let store = stack.store_with(&cfg);
    let directory = RegistryDirectory {
        store: store.clone(),
        policy: Policy::default(),
        team: stack.team(),
    };
    let response = livesite_evaluate_fn::handle(
        &store,
        &stack.notifier_with(&cfg),
        &directory,
        lambda_event(&records, &stack.stream_arn),
        t0() + Duration::minutes(31),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(stack.pages().await.len(), 1, "the outage paged");
    aws_sdk_sqs::Client::new(&cfg)
        .send_message()
        .queue_url(&stack.failure_queue_url)
        .message_body(
            json!({"requestContext": {"condition": "RetryAttemptsExhausted"}}).to_string(),
        )
        .send()
        .await
        .expect("the on-failure destination");
}

fn window(start: &str, hours: i64) -> Value {
    json!({"start": start, "end": (utc(start) + Duration::hours(hours)).to_rfc3339(), "description": "core upgrade", "services": ["core_network_services"]})
}

/// Every route family of the partner API, as the team and as an operator.
async fn walk_the_api(stack: &Stack, iam: &Enforcer) {
    let mut fabrikam = operator("fabrikam");
    fabrikam.api_clients = vec!["client-fabrikam".into()];
    stack
        .store()
        .put_operator(&fabrikam)
        .await
        .expect("register");
    let api = stack.api(&iam.config("ApiFunction").await, Policy::default());
    let now = utc("2026-11-27T10:00:00Z");
    let contoso = client("client-contoso");
    let call = |c: Call<'_>| answer(&api, c, now);
    let ok = |what: &str, (status, body): (u16, Value)| {
        assert!(
            (200..300).contains(&status),
            "{what}: {status} {body}\n{}",
            denial_report(&iam.denials())
        );
        body
    };
    // A private agent's results, stored in the probes table.
    let pushed = json!({"results": [{"operator": "contoso", "probed_at": "2026-11-27T09:59:30Z",
        "outcome": "up", "status": 200, "latency_ms": 80.0, "location": "agent-contoso-1"}]});
    ok(
        "agent results",
        call(
            Call::new("POST", "/v1/probe-results")
                .claims(contoso.clone())
                .json(pushed),
        )
        .await,
    );
    let report = json!({
        "service": "core_network_services", "severity": "high",
        "started_at": "2026-11-27T09:20:00Z", "aware_at": "2026-11-27T09:45:00Z",
        "description": "PGW outage", "impact": "no data", "contact": "noc@contoso.example"
    });
    let created = ok(
        "outage report",
        call(
            Call::new("POST", "/v1/outage-reports")
                .claims(contoso.clone())
                .json(report)
                .key("k1"),
        )
        .await,
    );
    let incident = created["incident"]["id"]
        .as_str()
        .expect("incident id")
        .to_string();
    for who in [admin(), contoso.clone()] {
        ok(
            "incidents",
            call(Call::new("GET", "/v1/incidents").claims(who.clone())).await,
        );
        let path = format!("/v1/incidents/{incident}");
        ok("incident", call(Call::new("GET", &path).claims(who)).await);
    }
    // Contoso's report is the team's to answer; what the team raises is contoso's.
    let raised = ok(
        "raise",
        call(
            Call::new("POST", "/v1/incidents")
                .claims(admin())
                .json(json!({
                    "operator": "contoso", "kind": "information_request",
                    "subject": "s", "text": "t", "links": ["https://x.example/a"]
                })),
        )
        .await,
    );
    let raised = raised["id"].as_str().expect("raised id").to_string();
    for (id, who) in [(&incident, admin()), (&raised, contoso.clone())] {
        let ack = format!("/v1/incidents/{id}/acknowledgement");
        ok(
            "ack",
            call(Call::new("POST", &ack).claims(who.clone())).await,
        );
        let upd = format!("/v1/incidents/{id}/updates");
        ok(
            "update",
            call(
                Call::new("POST", &upd)
                    .claims(who.clone())
                    .json(json!({"message": "m"})),
            )
            .await,
        );
        let done = format!("/v1/incidents/{id}/resolution");
        ok(
            "resolution",
            call(Call::new("POST", &done).claims(who)).await,
        );
    }
    // A late window, approved by the team.
    let late = ok(
        "late maintenance",
        call(
            Call::new("POST", "/v1/maintenance")
                .claims(contoso.clone())
                .json(window("2026-11-28T08:00:00Z", 2)),
        )
        .await,
    );
    let late = late["maintenance"]["id"].as_str().expect("maintenance id");
    let p = format!("/v1/maintenance/{late}/approval");
    ok(
        "approval",
        call(Call::new("POST", &p).claims(admin())).await,
    );
    for (n, verb) in [(1, "completion"), (2, "cancellation")] {
        let start = format!("2026-12-1{n}T08:00:00Z");
        let m = ok(
            "maintenance",
            call(
                Call::new("POST", "/v1/maintenance")
                    .claims(contoso.clone())
                    .json(window(&start, 2)),
            )
            .await,
        );
        let id = m["maintenance"]["id"].as_str().expect("maintenance id");
        let p = format!("/v1/maintenance/{id}/{verb}");
        // A window is completed once it has started.
        let during = utc(&start) + Duration::minutes(30);
        ok(
            verb,
            answer(&api, Call::new("POST", &p).claims(contoso.clone()), during).await,
        );
    }
    for who in [admin(), contoso.clone()] {
        ok(
            "maintenance list",
            call(Call::new("GET", "/v1/maintenance").claims(who)).await,
        );
    }
    let notice = json!({"service": "DYNAMO", "started_at": "2026-11-27T09:00:00Z", "aware_at": "2026-11-27T09:50:00Z", "description": "d"});
    ok(
        "outage notice",
        call(
            Call::new("POST", "/v1/outage-notices")
                .claims(admin())
                .json(notice),
        )
        .await,
    );
    let bug = ok(
        "bug",
        call(
            Call::new("POST", "/v1/bugs")
                .claims(contoso.clone())
                .json(json!({"title": "t", "description": "d"})),
        )
        .await,
    );
    let bug = bug["id"].as_str().expect("bug id").to_string();
    ok(
        "bug read",
        call(Call::new("GET", &format!("/v1/bugs/{bug}")).claims(contoso.clone())).await,
    );
    for who in [admin(), contoso.clone()] {
        ok(
            "bug queue",
            call(Call::new("GET", "/v1/bugs").claims(who)).await,
        );
    }
    for (step, body) in [
        (
            "triage",
            json!({"approve": true, "business_justification": "j", "impact": "i"}),
        ),
        ("schedule", json!({"tentative_deployment": "2026-12-03"})),
    ] {
        let p = format!("/v1/bugs/{bug}/{step}");
        ok(
            step,
            call(Call::new("POST", &p).claims(admin()).json(body)).await,
        );
    }
    let p = format!("/v1/bugs/{bug}/deployment");
    ok(
        "deployment",
        call(Call::new("POST", &p).claims(admin())).await,
    );
    let info = json!({"subject": "s", "question": "q", "contact": "noc@contoso.example"});
    ok(
        "information request",
        call(
            Call::new("POST", "/v1/information-requests")
                .claims(contoso.clone())
                .json(info),
        )
        .await,
    );
    for who in [admin(), contoso.clone()] {
        ok(
            "report",
            call(
                Call::new("GET", "/v1/reports/2026-11")
                    .claims(who)
                    .query("operator", "contoso"),
            )
            .await,
        );
    }
    ok(
        "operators",
        call(Call::new("GET", "/v1/operators").claims(admin())).await,
    );
    let fabrikam = "/v1/operators/fabrikam";
    let doc = ok(
        "operator",
        call(Call::new("GET", fabrikam).claims(admin())).await,
    );
    ok(
        "operator update",
        call(Call::new("PUT", fabrikam).claims(admin()).json(doc)).await,
    );
    ok(
        "retire",
        call(Call::new("DELETE", fabrikam).claims(admin())).await,
    );
}

/// The sweep on the first of December, with the given identity's role.
/// An email with an image waiting in the outbox, as a report email whose
/// first send failed waits for the next delivery pass.
async fn left_with_images(stack: &Stack, key: &str) {
    use livesite_core::ports::Outbox;
    let mut n = livesite_tests::contract::notification(key, 0);
    n.to = stack.team().emails;
    n.created_at = utc("2026-11-24T10:00:00Z");
    let n = n
        .with_html("<img src=\"cid:a.png\">".into())
        .with_images(vec![livesite_core::notify::InlineImage {
            content_id: "a.png".into(),
            content_type: "image/png".into(),
            base64: "iVBORw0KGgo=".into(),
        }]);
    assert!(stack.store().enqueue(&n).await.expect("enqueue"));
}

async fn sweep_at_month_start(stack: &Stack, iam: &Enforcer) -> Value {
    let cfg = iam.config("SweepFunction").await;
    livesite_sweep_fn::handle(
        &stack.store_with(&cfg),
        &stack.notifier_with(&cfg),
        &stack.team(),
        &Policy::default(),
        utc("2026-12-01T00:05:00Z"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_runs_on_exactly_the_permissions_the_template_grants() {
    let stack = Stack::new("iam").await;
    let iam = Enforcer::start(&stack).await;
    let portal = portal::spawn(Behavior::Respond {
        status: 503,
        body: "down".into(),
    })
    .await;
    register(&stack, &portal).await;
    probe_an_outage(&stack, &iam).await;
    // Every function delivers whatever the outbox holds, a report email
    // whose first send failed included: with its charts, that is MIME.
    left_with_images(&stack, "left-for-the-evaluator").await;
    evaluate_the_stream(&stack, &iam).await;
    left_with_images(&stack, "left-for-the-api").await;
    walk_the_api(&stack, &iam).await;
    let swept = sweep_at_month_start(&stack, &iam).await;
    iam.assert_no_denials();
    assert_eq!(swept["failed_duties"], json!([]), "{swept}");
    assert_eq!(swept["monthly_reports"], 1, "{swept}");
    let emails = stack.emails().await;
    assert!(
        emails.iter().any(|e| e["subject"]
            .as_str()
            .unwrap_or("")
            .starts_with("[SLA REPORT]")),
        "the monthly report was sent"
    );
    // Every grant is used by some scenario: nothing is granted "just in case".
    let unused = iam.unused_statements();
    assert!(
        unused.is_empty(),
        "grants no scenario needed:\n  {}",
        unused.join("\n  ")
    );
    let functions: std::collections::BTreeSet<String> =
        iam.decisions().into_iter().map(|d| d.function).collect();
    assert_eq!(functions.len(), FUNCTIONS.len(), "{functions:?}");
}

/// A report that always fails (here: a decided day of the month that no
/// longer reads) is counted and alarmed on as the `reports` duty, and holds
/// back nothing else: the escalation page and the overdue reminder still go
/// out, on exactly the template's permissions.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_that_always_fails_is_counted_and_the_sweep_still_escalates() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = Stack::new("iam-report-fails").await;
    let iam = Enforcer::start(&stack).await;
    let portal = portal::spawn(Behavior::Respond {
        status: 503,
        body: "down".into(),
    })
    .await;
    register(&stack, &portal).await;
    probe_an_outage(&stack, &iam).await;
    evaluate_the_stream(&stack, &iam).await;
    stack
        .store()
        .client()
        .put_item()
        .table_name(&stack.tables.state)
        .item("pk", AttributeValue::S("DAY#contoso".into()))
        .item("sk", AttributeValue::S("2026-11-15".into()))
        .item("entity", AttributeValue::S("day".into()))
        .item("doc", AttributeValue::S("not a day".into()))
        .send()
        .await
        .expect("plant an unreadable day");
    let pages_before = stack.pages().await.len();
    let swept = sweep_at_month_start(&stack, &iam).await;
    iam.assert_no_denials();
    assert_eq!(swept["failed_duties"], json!(["reports"]), "{swept}");
    assert_eq!(swept["monthly_reports"], 0, "{swept}");
    let pages = stack.pages().await;
    assert_eq!(
        pages.len(),
        pages_before + 1,
        "the escalation page still went out"
    );
    assert!(pages
        .last()
        .expect("page")
        .0
        .starts_with("ESCALATION contoso"));
    let emails = stack.emails().await;
    assert!(
        emails.iter().any(|e| e["subject"]
            .as_str()
            .unwrap_or("")
            .contains("Response overdue")),
        "the overdue-response reminder still went out: {:?}",
        emails
            .iter()
            .map(|e| e["subject"].clone())
            .collect::<Vec<_>>()
    );
    // Nothing left half-done: contoso's state is intact.
    let state = stack
        .store()
        .load_state(&livesite_core::OperatorId::new("contoso").expect("id"))
        .await
        .expect("state");
    assert!(state.is_some());
}

#[test]
fn iam_wildcards_match_as_aws_does() {
    for (p, t, want) in [
        (
            "arn:aws:dynamodb:r:a:table/x",
            "arn:aws:dynamodb:r:a:table/x",
            true,
        ),
        (
            "arn:aws:dynamodb:r:a:table/x",
            "arn:aws:dynamodb:r:a:table/x/index/i",
            false,
        ),
        (
            "arn:aws:dynamodb:r:a:table/x/index/*",
            "arn:aws:dynamodb:r:a:table/x/index/i",
            true,
        ),
        (
            "arn:aws:dynamodb:r:a:table/x/index/*",
            "arn:aws:dynamodb:r:a:table/x",
            false,
        ),
        ("*", "anything", true),
        ("dynamodb:*", "dynamodb:query", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false),
    ] {
        assert_eq!(glob(p, t), want, "{p} vs {t}");
    }
}

/// A grant limited by `dynamodb:LeadingKeys` reaches its partitions only:
/// the probe function reads the registry and nothing else of the state
/// table; a keyed request outside the listed partitions, and a request the
/// proxy cannot key (a scan), are refused.
#[test]
fn a_leading_keys_condition_limits_a_grant_to_its_partitions() {
    let stack = Stack {
        config: aws_config::SdkConfig::builder().build(),
        name: "t".into(),
        tables: livesite_aws::dynamo::Tables {
            probes: "t-probes".into(),
            state: "t-state".into(),
        },
        stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/t-probes/stream/x".into(),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:t-pages".into(),
        queue_url: "http://127.0.0.1/123456789012/t-round".into(),
        failure_queue_url: "http://127.0.0.1/123456789012/t-failed".into(),
        sender: "monitor@dynamo.example".into(),
        configuration_set: "t-mail".into(),
    };
    let names = Names::of(&stack);
    let role = Role::from_template("ProbeFunction", &names);
    let state = "t-state".to_string();
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/t-state".to_string();
    let query = |pk: &str| {
        json!({"TableName": "t-state", "KeyConditionExpression": "pk = :pk",
               "ExpressionAttributeValues": {":pk": {"S": pk}}})
    };
    for (request, want) in [
        (query("OPERATORS"), true),
        (query("STATE#contoso"), false),
        (query("INCIDENT#x"), false),
        (
            json!({"TableName": state, "KeyConditionExpression": "#p = :v AND sk BETWEEN :a AND :b",
                "ExpressionAttributeNames": {"#p": "pk"}, "ExpressionAttributeValues": {":v": {"S": "DAY#contoso"}}}),
            false,
        ),
    ] {
        let keys = leading_keys("Query", &request, &state);
        assert_eq!(
            role.allows_keys("dynamodb:Query", &table, keys.as_deref()),
            want,
            "{request}"
        );
    }
    assert!(
        !role.allows_keys("dynamodb:Query", &table, None),
        "an unkeyed query"
    );
    let evaluate = Role::from_template("EvaluateFunction", &names);
    let get = |pk: &str| json!({"TableName": state, "Key": {"pk": {"S": pk}, "sk": {"S": "x"}}});
    for (pk, want) in [
        ("STATE#contoso", true),
        ("OUTBOX#k", true),
        ("OPERATORS", false),
        ("RATE#api", false),
    ] {
        let keys = leading_keys("GetItem", &get(pk), &state);
        assert_eq!(
            evaluate.allows_keys("dynamodb:GetItem", &table, keys.as_deref()),
            want,
            "{pk}"
        );
    }
}

/// The probe function's environment in a probe location's stack
/// (infra/probe-region.yaml), resolved against this test's resources.
fn location_env(names: &Names) -> HashMap<String, String> {
    resource_in(probe_region(), "ProbeFunction")["Properties"]["Environment"]["Variables"]
        .as_object()
        .expect("the location's probe has an environment")
        .iter()
        .map(|(k, v)| (k.clone(), names.resolve(v)))
        .collect()
}

/// The probe as a probe location's stack deploys it, run with its settings
/// read from that template's environment, both rounds and the queue poll.
async fn probe_from_a_location(
    iam: &Enforcer,
    env: &HashMap<String, String>,
) -> Result<(), String> {
    let settings = livesite_aws::settings::ProbeSettings::from_lookup(&|n| env.get(n).cloned())
        .expect("the template's environment reads");
    let cfg = iam
        .config_in("LocationProbeFunction", LOCATION_REGION)
        .await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let queue_url = settings.second_round_queue_url.clone().expect("queue");
    let f = ProbeFunction {
        location: settings.location.clone(),
        store: settings.store(&cfg),
        prober: portal::local_prober(),
        second_round: Some(SecondRound {
            client: sqs.clone(),
            queue_url: queue_url.clone(),
            delay_seconds: 0,
        }),
        concurrency: 8,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
    };
    let deadline = || invocation_deadline("ProbeFunction");
    let first = f
        .handle(&schedule_event(), t0(), deadline())
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(first["second_round_scheduled"], true, "{first}");
    let got = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("poll the location's second-round queue");
    let message = got.messages().first().expect("the second round's message");
    sqs.delete_message()
        .queue_url(&queue_url)
        .receipt_handle(message.receipt_handle().expect("receipt"))
        .send()
        .await
        .expect("delete the message");
    let event = json!({"Records": [{"messageId": message.message_id(), "eventSource": "aws:sqs", "body": message.body()}]});
    let second = f
        .handle(&event, t0() + Duration::seconds(30), deadline())
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(second["lost"], 0, "{second}");
    Ok(())
}

/// A probe location in another region (infra/probe-region.yaml) reads the
/// registry from and writes its votes to the home region's tables, on
/// exactly its stack's permissions: every call allowed, every grant used.
/// The proxy takes each call's region from its signature, so a client left
/// in the location's region would ask for tables IAM knows by other ARNs:
/// the negative control drops `TABLES_REGION` and is refused by name.
#[tokio::test(flavor = "multi_thread")]
async fn a_probe_location_in_another_region_writes_home_on_exactly_its_stacks_permissions() {
    let stack = Stack::new("iam-location").await;
    let here = aws_sdk_sqs::config::Builder::from(&stack.config)
        .region(aws_sdk_sqs::config::Region::new(LOCATION_REGION))
        .build();
    let queue_url = aws_sdk_sqs::Client::from_conf(here)
        .create_queue()
        .queue_name(format!("{}-second-round", stack.name))
        .send()
        .await
        .expect("the location's queue")
        .queue_url
        .expect("queue url");
    let names = Names::of_location(&stack, LOCATION_REGION, &queue_url);
    let role = Role::from_template_in(probe_region(), "ProbeFunction", &names);
    let iam = Enforcer::with_roles(HashMap::from([("LocationProbeFunction".into(), role)])).await;
    let portal = portal::spawn(Behavior::Respond {
        status: 503,
        body: "down".into(),
    })
    .await;
    register(&stack, &portal).await;
    let env = location_env(&names);
    probe_from_a_location(&iam, &env)
        .await
        .expect("both rounds");
    iam.assert_no_denials();
    let unused = iam.unused_statements();
    assert!(
        unused.is_empty(),
        "grants no scenario needed:\n  {}",
        unused.join("\n  ")
    );
    let votes = livesite_core::ports::ProbeLog::range(
        &stack.store(),
        &livesite_core::OperatorId::new("contoso").expect("id"),
        t0(),
        t0() + Duration::minutes(1),
    )
    .await
    .expect("home probes");
    let places: Vec<Option<&str>> = votes.iter().map(|p| p.location.as_deref()).collect();
    assert_eq!(
        places,
        [Some(LOCATION_REGION); 2],
        "both rounds, home, stamped"
    );

    let mut astray = env.clone();
    astray.remove("TABLES_REGION");
    let error = probe_from_a_location(&iam, &astray)
        .await
        .expect_err("the registry is not in the location's region");
    let report = denial_report(&iam.denials());
    assert!(
        report.contains(&format!(
            "LocationProbeFunction is NOT allowed dynamodb:Query on arn:aws:dynamodb:{LOCATION_REGION}:"
        )),
        "{report}\n(the round said: {error})"
    );
}
