//! The partner API handler with crafted API Gateway requests (claims included),
//! over the embedded store and a recording notifier: every resource, the
//! authorization matrix, validation errors, idempotent retries, and the
//! deadline and lead-time edges.

use chrono::{DateTime, Duration, Utc};
use lambda_http::{Body, Response};
use livesite_api_fn::Api;
use livesite_core::ports::{IncidentStore, OperatorRegistry};
use livesite_core::service::evaluate_batch;
use livesite_core::{BusinessCalendar, Policy};
use livesite_local::SqliteStore;
use livesite_tests::contract::context;
use livesite_tests::fixtures::{failures, operator, team};
use livesite_tests::gateway::{admin, client, Call, Format};
use livesite_tests::wrappers::Recorder;
use serde_json::{json, Value};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// Friday 27 November 2026, 10:00 UTC (11:00 in Madrid).
fn now() -> DateTime<Utc> {
    utc("2026-11-27T10:00:00Z")
}

async fn api() -> Api<SqliteStore, Recorder> {
    let store = SqliteStore::in_memory().expect("store");
    let mut contoso = operator("contoso");
    contoso.api_clients = vec!["client-contoso".into()];
    contoso.agents = vec!["agent-contoso-1".into()];
    contoso.timezone = livesite_core::Tz::Europe__Madrid;
    contoso.holidays = ["2026-12-08".parse().expect("date")].into_iter().collect();
    let mut fabrikam = operator("fabrikam");
    fabrikam.api_clients = vec!["client-fabrikam".into()];
    store.put_operator(&contoso).await.expect("register");
    store.put_operator(&fabrikam).await.expect("register");
    Api {
        store,
        notifier: Recorder::default(),
        policy: Policy::default(),
        team: team(),
        local_claims: None,
        team_clients: vec!["dynamo-team".into()],
    }
}

struct Answer {
    status: u16,
    content_type: String,
    replayed: bool,
    body: Value,
}

fn answer(r: Response<Body>) -> Answer {
    let status = r.status().as_u16();
    let header = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let content_type = header("content-type");
    let replayed = header("idempotent-replayed") == "true";
    let body = match r.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Answer {
        status,
        content_type,
        replayed,
        body,
    }
}

async fn call(api: &Api<SqliteStore, Recorder>, c: Call<'_>, at: DateTime<Utc>) -> Answer {
    answer(api.handle(c.request(), at).await)
}

fn high_report(aware: &str) -> Value {
    json!({
        "service": "core_network_services", "severity": "high",
        "started_at": "2026-11-27T09:20:00Z", "aware_at": aware,
        "description": "PGW outage in the north region", "impact": "no data sessions",
        "contact": "noc@contoso.example"
    })
}

#[tokio::test]
async fn requests_without_verified_claims_or_from_unknown_clients_are_refused() {
    let api = api().await;
    let a = call(&api, Call::new("GET", "/v1/incidents"), now()).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.content_type, "application/problem+json");
    let a = call(
        &api,
        Call::new("GET", "/v1/incidents").claims(client("stranger")),
        now(),
    )
    .await;
    assert_eq!(a.status, 403);
}

/// Tenant-safe authorization: the admin scope counts only on the team's own
/// client (it used to be granted on the scope alone), and an API client id
/// acts for exactly one operator (two operators could list the same one, and
/// the first by id won).
#[tokio::test]
async fn admin_needs_the_team_client_and_a_client_id_belongs_to_one_operator() {
    use livesite_core::ports::OperatorRegistry;
    let api = api().await;
    // A partner's client that was given the admin scope by mistake.
    let forged = json!({"scope": "livesite/admin", "client_id": "client-contoso"});
    for (method, path) in [("GET", "/v1/operators"), ("GET", "/v1/incidents")] {
        let a = call(&api, Call::new(method, path).claims(forged.clone()), now()).await;
        assert_eq!(a.status, 403, "{method} {path}: {}", a.body);
    }
    let team = call(
        &api,
        Call::new("GET", "/v1/operators").claims(admin()),
        now(),
    )
    .await;
    assert_eq!(team.status, 200);

    // Onboarding refuses a client id another operator (or the team) holds.
    for (client_id, holder) in [("client-contoso", "contoso"), ("dynamo-team", "team")] {
        let mut northwind = serde_json::to_value(operator("northwind")).expect("json");
        northwind["api_clients"] = json!([client_id]);
        let a = call(
            &api,
            Call::new("PUT", "/v1/operators/northwind")
                .claims(admin())
                .json(northwind),
            now(),
        )
        .await;
        assert_eq!(a.status, 409, "{client_id}: {}", a.body);
        assert!(
            a.body["detail"].as_str().unwrap_or("").contains(holder),
            "{}",
            a.body
        );
    }
    assert!(api
        .store
        .get_operator(&livesite_core::OperatorId::new("northwind").expect("id"))
        .await
        .expect("get")
        .is_none());
    // The same operator keeping its own client is fine.
    let mut contoso = api
        .store
        .get_operator(&livesite_core::OperatorId::new("contoso").expect("id"))
        .await
        .expect("get")
        .expect("contoso");
    contoso.name = "Contoso Mobile S.A.".into();
    let a = call(
        &api,
        Call::new("PUT", "/v1/operators/contoso")
            .claims(admin())
            .json(serde_json::to_value(&contoso).expect("json")),
        now(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);

    // A registry that lists one client twice (written around the API) makes
    // that client act for nobody, not for whichever comes first.
    let mut twin = operator("aardvark");
    twin.api_clients = vec!["client-fabrikam".into()];
    api.store.put_operator(&twin).await.expect("register");
    let a = call(
        &api,
        Call::new("GET", "/v1/incidents").claims(client("client-fabrikam")),
        now(),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
}

/// Agent and location names are one namespace: an operator's agent named
/// like one of the monitor's locations, or like another operator's agent,
/// is refused (it would take that region out of every operator's votes).
#[tokio::test]
async fn an_agent_named_like_a_location_or_anothers_agent_is_refused() {
    let mut api = api().await;
    api.policy.locations.expected = vec!["us-east-1".into(), "eu-west-1".into()];
    let mut fabrikam = operator("fabrikam");
    fabrikam.agents = vec!["agent-fabrikam-1".into()];
    api.store.put_operator(&fabrikam).await.expect("register");
    // (agents, status)
    for (agents, status) in [
        (vec!["us-east-1"], 409),
        (vec!["agent-contoso-1", "agent-fabrikam-1"], 409),
        (vec!["agent-contoso-1"], 200),
    ] {
        let mut contoso = operator("contoso");
        contoso.agents = agents.iter().map(|a| a.to_string()).collect();
        let a = call(
            &api,
            Call::new("PUT", "/v1/operators/contoso")
                .claims(admin())
                .json(serde_json::to_value(&contoso).expect("json")),
            now(),
        )
        .await;
        assert_eq!(a.status, status, "{agents:?}: {}", a.body);
        if status == 409 {
            assert!(a.body.to_string().contains("one namespace"), "{}", a.body);
        }
    }
}

/// One operator looping requests is cut off at its per-minute limit (429
/// with Retry-After), and only that operator: the others and the team go on.
#[tokio::test]
async fn one_operator_over_its_request_rate_does_not_starve_the_others() {
    let mut api = api().await;
    api.policy.api_requests_per_minute = 5;
    let list = |who: Value| Call::new("GET", "/v1/incidents").claims(who);
    let at = utc("2026-11-27T10:00:20Z");
    for i in 0..5 {
        let a = call(&api, list(client("client-contoso")), at).await;
        assert_eq!(a.status, 200, "request {i}");
    }
    let r = api
        .handle(list(client("client-contoso")).request(), at)
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"40"[..]),
        "until the next minute"
    );
    assert_eq!(
        call(&api, list(client("client-fabrikam")), at).await.status,
        200
    );
    assert_eq!(call(&api, list(admin()), at).await.status, 200);
    let next_minute = utc("2026-11-27T10:01:00Z");
    assert_eq!(
        call(&api, list(client("client-contoso")), next_minute)
            .await
            .status,
        200
    );
}

/// Listings come in pages (default 100, at most 500) with the next page in a
/// `Link` header; following it sees every item once, in the listing's order.
#[tokio::test]
async fn listings_are_paged_and_the_link_header_walks_them_whole() {
    let api = api().await;
    // Seven incidents of contoso, opened at four different times.
    for i in 0..7 {
        let at = utc("2026-11-20T10:00:00Z") + Duration::hours(i % 4) + Duration::minutes(i);
        let mut inc = livesite_tests::contract::incident("contoso", 0);
        inc.id = format!("contoso-inc-{i}");
        inc.opened_at = at;
        api.store.create_incident(&inc).await.expect("create");
    }
    let all = call(
        &api,
        Call::new("GET", "/v1/incidents").claims(admin()),
        now(),
    )
    .await;
    let everything: Vec<String> = all
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(everything.len(), 7, "one page by default");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut c = Call::new("GET", "/v1/incidents")
            .claims(admin())
            .query("limit", "3");
        if let Some(next) = &cursor {
            c = c.query("cursor", next);
        }
        let r = api.handle(c.request(), now()).await;
        assert_eq!(r.status(), 200);
        let body: Value = match r.body() {
            lambda_http::Body::Text(t) => serde_json::from_str(t).expect("json"),
            _ => Value::Null,
        };
        let ids = body.as_array().expect("array");
        assert!(ids.len() <= 3);
        seen.extend(
            ids.iter()
                .map(|i| i["id"].as_str().unwrap_or("").to_string()),
        );
        pages += 1;
        let Some(link) = r.headers().get("link").and_then(|v| v.to_str().ok()) else {
            break;
        };
        assert!(
            link.starts_with("</v1/incidents?limit=3&cursor=") && link.ends_with(">; rel=\"next\""),
            "{link}"
        );
        let next = link
            .split("cursor=")
            .nth(1)
            .and_then(|r| r.split('>').next())
            .expect("cursor");
        cursor = Some(next.to_string());
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, everything, "every item once, newest first");
    for bad in ["limit=0", "limit=501", "cursor=zz"] {
        let (k, v) = bad.split_once('=').expect("pair");
        let a = call(
            &api,
            Call::new("GET", "/v1/incidents")
                .claims(admin())
                .query(k, v),
            now(),
        )
        .await;
        assert_eq!(
            (a.status, a.body["errors"][0]["field"].as_str()),
            (422, Some(k)),
            "{bad}"
        );
    }
}

/// The next page's link repeats every filter of the listing: page 2 of
/// what the team owes lists only what the team owes.
#[tokio::test]
async fn the_next_page_keeps_every_filter() {
    let api = api().await;
    for (i, owed) in [
        livesite_core::incident::Party::Team,
        livesite_core::incident::Party::Operator,
        livesite_core::incident::Party::Team,
        livesite_core::incident::Party::Team,
    ]
    .into_iter()
    .enumerate()
    {
        let mut inc = livesite_tests::contract::incident("contoso", i as i64);
        inc.owed_by = owed;
        assert!(api.store.create_incident(&inc).await.expect("create"));
    }
    let r = api
        .handle(
            Call::new("GET", "/v1/incidents")
                .claims(admin())
                .query("owed_by", "team")
                .query("status", "open")
                .query("limit", "2")
                .request(),
            now(),
        )
        .await;
    let link = r
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .expect("a next page")
        .to_string();
    assert!(
        link.starts_with("</v1/incidents?status=open&owed_by=team&limit=2&cursor="),
        "{link}"
    );
    let cursor = link
        .split("cursor=")
        .nth(1)
        .and_then(|r| r.split('>').next())
        .expect("cursor");
    let next = call(
        &api,
        Call::new("GET", "/v1/incidents")
            .claims(admin())
            .query("owed_by", "team")
            .query("status", "open")
            .query("limit", "2")
            .query("cursor", cursor),
        now(),
    )
    .await;
    let owed: Vec<&str> = next
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["owed_by"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(owed, ["team"], "the second page of what the team owes");
}

#[tokio::test]
async fn a_high_outage_report_pages_once_and_a_retried_post_returns_the_first_answer() {
    let api = api().await;
    let post = || {
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report("2026-11-27T09:30:00Z"))
            .key("report-1")
    };
    let first = call(&api, post(), now()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        first.body["report"]["reported_within_30_minutes"], true,
        "exactly 30 minutes is within"
    );
    assert_eq!(first.body["incident"]["severity"], "high");
    assert_eq!(
        first.body["incident"]["initial_response_due"],
        "2026-11-27T11:00:00Z"
    );
    let again = call(&api, post(), now() + Duration::seconds(5)).await;
    assert_eq!((again.status, again.replayed), (201, true));
    assert_eq!(again.body, first.body);
    let keys = api.notifier.keys();
    // The same key with another body is a client mistake, not a retry.
    let reused = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report("2026-11-27T09:40:00Z"))
            .key("report-1"),
        now(),
    )
    .await;
    assert_eq!(
        (reused.status, reused.body["errors"][0]["field"].as_str()),
        (422, Some("Idempotency-Key"))
    );
    assert_eq!(
        keys,
        vec![
            "contoso-20261127T093000Z-report#page-report",
            "contoso-20261127T093000Z-report#email-report"
        ]
    );
    // A retry without the key still cannot duplicate the incident or the page.
    let third = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report("2026-11-27T09:30:00Z")),
        now(),
    )
    .await;
    assert_eq!(third.status, 201);
    assert_eq!(api.notifier.keys().len(), 2);
    assert_eq!(
        third.body["incident"], first.body["incident"],
        "the stored one"
    );
    // Another outage made aware in the same second is an incident of its
    // own, its text kept; sent again, it is that incident still.
    let other = || {
        let mut body = high_report("2026-11-27T09:30:00Z");
        body["description"] = json!("OCS outage: no top-ups");
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(body)
    };
    let second = call(&api, other(), now()).await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(
        second.body["incident"]["id"],
        "contoso-20261127T093000Z-report-2"
    );
    assert!(second.body["incident"]["summary"]
        .as_str()
        .is_some_and(|s| s.contains("OCS outage")));
    assert_eq!(api.notifier.keys().len(), 4, "its own page and email");
    let again = call(&api, other(), now()).await;
    assert_eq!(again.body["incident"]["id"], second.body["incident"]["id"]);
    assert_eq!(api.notifier.keys().len(), 4);
}

/// An Idempotency-Key is taken with one conditional write before the request
/// acts: a second request with the key while the first still acts is told
/// to retry (it used to act too); a request that failed frees its key; a key
/// is remembered for 24 hours.
#[tokio::test]
async fn idempotency_keys_are_reserved_before_acting_released_on_failure_and_expire() {
    use livesite_core::ports::RecordStore;
    let api = api().await;
    let post = |key: &'static str, aware: &str| {
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report(aware))
            .key(key)
    };
    // Another request holds the key (reserved, no answer yet).
    let held = json!({"request": "another request's", "expires_at": (now() + Duration::hours(24)).timestamp()});
    assert!(api
        .store
        .reserve_record(
            "idempotency",
            "contoso#/v1/outage-reports#busy",
            &held,
            now()
        )
        .await
        .expect("reserve"));
    let busy = call(&api, post("busy", "2026-11-27T09:30:00Z"), now()).await;
    assert_eq!(busy.status, 409, "{}", busy.body);
    assert!(api.notifier.keys().is_empty(), "nothing acted");
    assert!(api
        .store
        .list_incidents(None, false)
        .await
        .expect("list")
        .is_empty());

    // A refused request frees its key: the corrected retry acts.
    let bad = Call::new("POST", "/v1/outage-reports")
        .claims(client("client-contoso"))
        .json(json!({"severity": "high"}))
        .key("fix-me");
    assert_eq!(call(&api, bad, now()).await.status, 422);
    let fixed = call(&api, post("fix-me", "2026-11-27T09:30:00Z"), now()).await;
    assert_eq!(
        (fixed.status, fixed.replayed),
        (201, false),
        "{}",
        fixed.body
    );

    // Within 24 hours the key replays; after, it is free again.
    let again = call(
        &api,
        post("fix-me", "2026-11-27T09:30:00Z"),
        now() + Duration::hours(23),
    )
    .await;
    assert_eq!((again.status, again.replayed), (201, true));
    let later = now() + Duration::hours(24);
    let anew = call(&api, post("fix-me", "2026-11-28T09:50:00Z"), later).await;
    assert_eq!((anew.status, anew.replayed), (201, false), "{}", anew.body);
}

/// A slow mail service doesn't make a slow answer: the request records its
/// messages, sends for at most the inline budget, and leaves the rest in the
/// outbox for the next pass (it used to send up to 100 inline, inside the
/// function's 15 s).
#[tokio::test]
async fn a_slow_mail_service_does_not_slow_the_answer() {
    use livesite_api_fn::INLINE_DELIVERY_BUDGET;
    use livesite_core::ports::Outbox;
    let mut api = api().await;
    api.notifier = Recorder::slow(std::time::Duration::from_millis(700));
    for i in 0..10 {
        let mut n = livesite_tests::contract::notification(&format!("waiting-{i}"), 0);
        n.created_at = now() - Duration::minutes(1);
        api.store.enqueue(&n).await.expect("enqueue");
    }
    let started = std::time::Instant::now();
    let a = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report("2026-11-27T09:30:00Z")),
        now(),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        took < INLINE_DELIVERY_BUDGET + std::time::Duration::from_millis(900),
        "{took:?}: the budget plus at most one send in flight"
    );
    let sent = api.notifier.keys();
    assert!(
        sent.len() < 12 && sent[0].ends_with("#page-report"),
        "the page first, then what the budget allowed: {sent:?}"
    );
    let left = api.store.pending(now(), 100).await.expect("pending");
    assert_eq!(left.len(), 12 - sent.len(), "nothing lost: the rest waits");
}

#[tokio::test]
async fn outage_reports_say_whether_they_came_within_30_minutes_and_route_by_severity() {
    let api = api().await;
    let late = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report("2026-11-27T09:29:59Z")),
        now(),
    )
    .await;
    assert_eq!(late.body["report"]["reported_within_30_minutes"], false);
    let mut low = high_report("2026-11-27T09:50:00Z");
    low["severity"] = json!("low");
    let a = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(low),
        now(),
    )
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(
        a.body["incident"]["initial_response_due"], "2026-11-30T10:00:00Z",
        "Low: one business day on Madrid's calendar"
    );
    let sent = api.notifier.sent.lock().expect("lock").clone();
    let channels: Vec<_> = sent
        .iter()
        .map(|n| (n.severity.map(|s| s.to_string()), n.channel.as_str()))
        .collect();
    assert_eq!(
        channels,
        vec![
            (Some("high".into()), "page"),
            (Some("high".into()), "email"),
            (Some("low".into()), "email")
        ]
    );
    assert!(
        sent[1].text.contains("NOTE: reported 30 minutes after"),
        "{}",
        sent[1].text
    );
}

#[tokio::test]
async fn validation_errors_are_problem_json_with_the_field() {
    let api = api().await;
    let c = || Call::new("POST", "/v1/outage-reports").claims(client("client-contoso"));
    let mut missing = high_report("2026-11-27T09:30:00Z");
    missing.as_object_mut().expect("object").remove("severity");
    let mut unknown = high_report("2026-11-27T09:30:00Z");
    unknown["sevrity"] = json!("high");
    let mut bad_time = high_report("2026-11-27T09:30:00Z");
    bad_time["aware_at"] = json!("27/11/2026 09:30");
    let mut bad_enum = high_report("2026-11-27T09:30:00Z");
    bad_enum["service"] = json!("toaster");
    let mut order = high_report("2026-11-27T09:00:00Z");
    order["started_at"] = json!("2026-11-27T09:10:00Z");
    let mut bad_mail = high_report("2026-11-27T09:30:00Z");
    bad_mail["contact"] = json!("noc@contoso.example\r\nBcc: x@y.example");
    let cases: Vec<(&str, Call, u16, &str)> = vec![
        ("not json", c().raw("{"), 422, "body"),
        ("missing field", c().json(missing), 422, "severity"),
        ("unknown field", c().json(unknown), 422, "sevrity"),
        // serde_path_to_error names a bad value's field too (it was `body`).
        ("bad timestamp", c().json(bad_time), 422, "aware_at"),
        ("bad enum", c().json(bad_enum), 422, "service"),
        ("aware before start", c().json(order), 422, "aware_at"),
        ("header injection", c().json(bad_mail), 422, "contact"),
        (
            "empty body",
            Call::new("POST", "/v1/outage-reports").claims(client("client-contoso")),
            422,
            "body",
        ),
        (
            "too large",
            c().raw(&format!("{{\"description\":\"{}\"}}", "x".repeat(70_000))),
            413,
            "",
        ),
    ];
    for (name, call_, status, field) in cases {
        let a = call(&api, call_, now()).await;
        assert_eq!(a.status, status, "{name}: {}", a.body);
        assert_eq!(a.content_type, "application/problem+json", "{name}");
        assert_eq!(a.body["status"], status, "{name}");
        if !field.is_empty() {
            assert_eq!(a.body["errors"][0]["field"], field, "{name}: {}", a.body);
        }
    }
    assert!(api.notifier.keys().is_empty(), "nothing sent for bad input");
}

#[tokio::test]
async fn the_authorization_matrix() {
    let api = api().await;
    // An incident of contoso's, opened by the monitor.
    let out = evaluate_batch(
        &api.store,
        &context(&["contoso"]),
        &failures("contoso", 0, 1830),
    )
    .await;
    assert_eq!(out.events.len(), 1);
    let incident = "contoso-20261124T100000Z-portal_down";
    let path = format!("/v1/incidents/{incident}");
    let ack = format!("{path}/acknowledgement");
    let contoso = || client("client-contoso");
    let fabrikam = || client("client-fabrikam");
    let operator_body = serde_json::to_value(operator("northwind")).expect("json");
    type Case = (
        &'static str,
        Value,
        &'static str,
        String,
        Option<Value>,
        u16,
    );
    let cases: Vec<Case> = vec![
        ("own incident", contoso(), "GET", path.clone(), None, 200),
        (
            "foreign incident looks missing",
            fabrikam(),
            "GET",
            path.clone(),
            None,
            404,
        ),
        (
            "missing incident",
            contoso(),
            "GET",
            "/v1/incidents/nope".into(),
            None,
            404,
        ),
        ("admin reads any", admin(), "GET", path.clone(), None, 200),
        (
            "foreign ack looks missing",
            fabrikam(),
            "POST",
            ack.clone(),
            None,
            404,
        ),
        (
            "the team may always act",
            admin(),
            "POST",
            ack.clone(),
            None,
            200,
        ),
        (
            "operators are admin only",
            contoso(),
            "GET",
            "/v1/operators".into(),
            None,
            403,
        ),
        (
            "admin lists operators",
            admin(),
            "GET",
            "/v1/operators".into(),
            None,
            200,
        ),
        (
            "operator cannot onboard",
            contoso(),
            "PUT",
            "/v1/operators/northwind".into(),
            Some(operator_body.clone()),
            403,
        ),
        (
            "admin onboards",
            admin(),
            "PUT",
            "/v1/operators/northwind".into(),
            Some(operator_body),
            201,
        ),
        (
            "team notices are admin only",
            contoso(),
            "POST",
            "/v1/outage-notices".into(),
            Some(
                json!({"service": "x", "started_at": "2026-11-27T09:00:00Z", "aware_at": "2026-11-27T09:40:00Z", "description": "d"}),
            ),
            403,
        ),
        (
            "admin cannot report as an operator",
            admin(),
            "POST",
            "/v1/outage-reports".into(),
            Some(high_report("2026-11-27T09:30:00Z")),
            403,
        ),
        (
            "unknown path",
            admin(),
            "GET",
            "/v1/nothing".into(),
            None,
            404,
        ),
        (
            "wrong method",
            admin(),
            "DELETE",
            "/v1/incidents".into(),
            None,
            405,
        ),
        ("own ack", contoso(), "POST", ack.clone(), None, 200),
    ];
    for (name, claims, method, p, body, status) in cases {
        let mut c = Call::new(method, &p).claims(claims);
        if let Some(b) = body {
            c = c.json(b);
        }
        let a = call(&api, c, now()).await;
        assert_eq!(a.status, status, "{name}: {}", a.body);
    }
    let own = call(
        &api,
        Call::new("GET", "/v1/incidents").claims(client("client-fabrikam")),
        now(),
    )
    .await;
    assert_eq!(own.body, json!([]), "an operator lists only its own");
    let all = call(
        &api,
        Call::new("GET", "/v1/incidents")
            .claims(admin())
            .query("operator", "contoso"),
        now(),
    )
    .await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn both_payload_formats_work() {
    let api = api().await;
    for format in [Format::HttpV2, Format::RestV1] {
        let a = call(
            &api,
            Call::new("GET", "/v1/operators")
                .claims(admin())
                .format(format),
            now(),
        )
        .await;
        assert_eq!(a.status, 200, "{format:?}");
        assert_eq!(a.body.as_array().map(Vec::len), Some(2), "{format:?}");
        let a = call(
            &api,
            Call::new("GET", "/v1/incidents")
                .claims(client("client-fabrikam"))
                .format(format),
            now(),
        )
        .await;
        assert_eq!(a.status, 200, "{format:?}");
    }
}

#[tokio::test]
async fn acknowledgements_and_updates_drive_the_clocks() {
    let api = api().await;
    evaluate_batch(
        &api.store,
        &context(&["contoso"]),
        &failures("contoso", 0, 1830),
    )
    .await;
    let id = "contoso-20261124T100000Z-portal_down";
    // The page went at 10:30:30 on Tuesday 24 Nov; ack 50 minutes later: on time.
    let at = utc("2026-11-24T11:20:30Z");
    let a = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{id}/acknowledgement"))
            .claims(client("client-contoso")),
        at,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (
            a.body["first_acknowledgement"].as_bool(),
            a.body["initial_response_late"].as_bool()
        ),
        (Some(true), Some(false))
    );
    // High: next update one business day later on Madrid's calendar.
    assert_eq!(
        a.body["incident"]["next_update_due"],
        "2026-11-25T11:20:30Z"
    );
    let u = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{id}/updates"))
            .claims(client("client-contoso"))
            .json(json!({"message": "vendor engaged"})),
        utc("2026-11-25T12:00:00Z"),
    )
    .await;
    assert_eq!(u.status, 201, "{}", u.body);
    assert_eq!(u.body["update_was_overdue"], true);
    assert_eq!(
        u.body["incident"]["next_update_due"],
        "2026-11-26T12:00:00Z"
    );
    let mut resolved = api
        .store
        .get_incident(id)
        .await
        .expect("get")
        .expect("present");
    resolved.resolve(utc("2026-11-26T09:00:00Z"));
    api.store.put_incident(&resolved).await.expect("put");
    let late = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{id}/acknowledgement"))
            .claims(client("client-contoso")),
        utc("2026-11-26T10:00:00Z"),
    )
    .await;
    assert_eq!(late.status, 409);
}

fn window(start: &str, hours: i64) -> Value {
    json!({"start": start, "end": (utc(start) + Duration::hours(hours)).to_rfc3339(), "description": "core upgrade", "services": ["core_network_services"]})
}

/// The operator's registry entry holds the windows the evaluator honours.
/// It used to be rewritten whole by every announcement and every team edit
/// (each undoing the other) and to keep every window ever announced.
#[tokio::test]
async fn a_team_edit_keeps_announced_windows_and_ended_windows_leave_the_registry() {
    use livesite_core::ports::OperatorRegistry;
    let api = api().await;
    let contoso = livesite_core::OperatorId::new("contoso").expect("id");
    // The team reads the entry, then contoso announces, then the team saves
    // what it read (with a new name).
    let read = call(
        &api,
        Call::new("GET", "/v1/operators/contoso").claims(admin()),
        now(),
    )
    .await;
    let announce = |start: &str, at: DateTime<Utc>| {
        let api = &api;
        let body = window(start, 2);
        async move {
            call(
                api,
                Call::new("POST", "/v1/maintenance")
                    .claims(client("client-contoso"))
                    .json(body),
                at,
            )
            .await
        }
    };
    assert_eq!(announce("2026-12-10T08:00:00Z", now()).await.status, 201);
    let mut edited = read.body.clone();
    edited["name"] = json!("Contoso Mobile S.A.");
    let put = call(
        &api,
        Call::new("PUT", "/v1/operators/contoso")
            .claims(admin())
            .json(edited),
        now(),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let stored = api
        .store
        .get_operator(&contoso)
        .await
        .expect("get")
        .expect("contoso");
    assert_eq!(stored.name, "Contoso Mobile S.A.");
    assert_eq!(
        stored.maintenance.len(),
        1,
        "the announcement survived the edit"
    );

    // Long after that window ended, a new announcement: the registry keeps
    // only the window that can still matter, the records keep both.
    let later = utc("2027-01-04T09:00:00Z");
    assert_eq!(announce("2027-01-12T08:00:00Z", later).await.status, 201);
    let stored = api
        .store
        .get_operator(&contoso)
        .await
        .expect("get")
        .expect("contoso");
    assert_eq!(
        stored
            .maintenance
            .iter()
            .map(|w| w.start)
            .collect::<Vec<_>>(),
        vec![utc("2027-01-12T08:00:00Z")]
    );
    let listed = call(
        &api,
        Call::new("GET", "/v1/maintenance").claims(admin()),
        later,
    )
    .await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn maintenance_lead_time_is_counted_in_business_days_and_feeds_page_suppression() {
    let api = api().await;
    let post = |body: Value| {
        Call::new("POST", "/v1/maintenance")
            .claims(client("client-contoso"))
            .json(body)
    };
    // Announced Wednesday 2 Dec, 09:00 Madrid; Tuesday 8 Dec is a holiday there.
    let at = utc("2026-12-02T08:00:00Z");
    let late = call(&api, post(window("2026-12-09T08:00:00Z", 2)), at).await;
    assert_eq!(late.status, 201, "{}", late.body);
    assert_eq!(
        (
            late.body["late"].as_bool(),
            late.body["lead_business_days"].as_u64()
        ),
        (Some(true), Some(4))
    );
    let ok = call(&api, post(window("2026-12-10T08:00:00Z", 2)), at).await;
    assert_eq!(
        (
            ok.body["late"].as_bool(),
            ok.body["lead_business_days"].as_u64()
        ),
        (Some(false), Some(5))
    );
    // Across a weekend: Friday 27 Nov 11:00 Madrid to Friday 4 Dec 11:00 is five.
    let weekend = call(&api, post(window("2026-12-04T10:00:00Z", 1)), now()).await;
    assert_eq!(weekend.body["late"], false, "{}", weekend.body);
    let short = call(&api, post(window("2026-12-04T09:59:00Z", 1)), now()).await;
    assert_eq!(short.body["late"], true);
    let sent = api.notifier.sent.lock().expect("lock").clone();
    assert!(sent[0].subject.contains("LATE"), "{}", sent[0].subject);
    assert_eq!(
        sent[0].to,
        team().emails,
        "an operator's notice goes to the team"
    );

    // The registry now carries the windows the evaluator holds pages in:
    // the timely ones; a late one only once the team approves it.
    let registry = || async {
        api.store
            .get_operator(&operator("contoso").id)
            .await
            .expect("get")
            .expect("present")
    };
    let contoso = registry().await;
    assert_eq!(contoso.maintenance.len(), 2);
    assert!(!contoso.in_maintenance(utc("2026-12-09T09:00:00Z")));
    let id = late.body["maintenance"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let approval = format!("/v1/maintenance/{id}/approval");
    let by_operator = call(
        &api,
        Call::new("POST", &approval).claims(client("client-contoso")),
        at,
    )
    .await;
    assert_eq!(
        by_operator.status, 403,
        "an operator cannot approve its own late window"
    );
    let approved = call(&api, Call::new("POST", &approval).claims(admin()), at).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["approved_at"], "2026-12-02T08:00:00Z");
    let told = api
        .notifier
        .sent
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("email");
    assert!(told.subject.contains("APPROVED"), "{}", told.subject);
    let twice = call(&api, Call::new("POST", &approval).claims(admin()), at).await;
    assert_eq!(twice.status, 409);
    let timely = ok.body["maintenance"]["id"].as_str().expect("id");
    let needless = call(
        &api,
        Call::new("POST", &format!("/v1/maintenance/{timely}/approval")).claims(admin()),
        at,
    )
    .await;
    assert_eq!(needless.status, 409, "a timely window needs no approval");
    let contoso = registry().await;
    assert_eq!(contoso.maintenance.len(), 3);
    assert!(contoso.in_maintenance(utc("2026-12-09T09:00:00Z")));
    let done = call(
        &api,
        Call::new("POST", &format!("/v1/maintenance/{id}/completion"))
            .claims(client("client-contoso")),
        utc("2026-12-09T08:30:00Z"),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let contoso = api
        .store
        .get_operator(&operator("contoso").id)
        .await
        .expect("get")
        .expect("present");
    assert!(
        !contoso.in_maintenance(utc("2026-12-09T09:00:00Z")),
        "completion closes the window"
    );
    let again = call(
        &api,
        Call::new("POST", &format!("/v1/maintenance/{id}/cancellation"))
            .claims(client("client-contoso")),
        utc("2026-12-09T08:40:00Z"),
    )
    .await;
    assert_eq!(again.status, 409);
    let foreign = call(
        &api,
        Call::new("POST", &format!("/v1/maintenance/{id}/completion"))
            .claims(client("client-fabrikam")),
        utc("2026-12-09T08:30:00Z"),
    )
    .await;
    assert_eq!(foreign.status, 404);
    let bad = call(&api, post(json!({"start": "2026-12-10T08:00:00Z", "end": "2026-12-10T07:00:00Z", "description": "x"})), at).await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (422, Some("end"))
    );
    // Yesterday's outage cannot become maintenance after the fact.
    let past = call(&api, post(window("2026-12-01T08:00:00Z", 30)), at).await;
    assert_eq!(
        (past.status, past.body["errors"][0]["field"].as_str()),
        (422, Some("start"))
    );
}

#[tokio::test]
async fn the_team_announces_maintenance_and_outages_to_every_operator() {
    let api = api().await;
    let m = call(
        &api,
        Call::new("POST", "/v1/maintenance")
            .claims(admin())
            .json(window("2026-12-11T01:00:00Z", 2)),
        now(),
    )
    .await;
    assert_eq!(m.status, 201, "{}", m.body);
    let notice = json!({"service": "DYNAMO eSIM service", "started_at": "2026-11-27T09:00:00Z", "aware_at": "2026-11-27T09:20:00Z", "description": "profile downloads failing"});
    let n = call(
        &api,
        Call::new("POST", "/v1/outage-notices")
            .claims(admin())
            .json(notice),
        now(),
    )
    .await;
    assert_eq!(n.status, 201, "{}", n.body);
    assert_eq!(n.body["late"], true, "40 minutes after awareness");
    let sent = api.notifier.sent.lock().expect("lock").clone();
    let recipients: Vec<String> = sent
        .iter()
        .flat_map(|n| n.to.iter().map(|a| a.to_string()))
        .collect();
    assert_eq!(
        recipients
            .iter()
            .filter(|r| r.as_str() == "noc@contoso.example")
            .count(),
        2
    );
    assert_eq!(
        recipients
            .iter()
            .filter(|r| r.as_str() == "noc@fabrikam.example")
            .count(),
        2
    );
    let list = call(
        &api,
        Call::new("GET", "/v1/maintenance").claims(client("client-fabrikam")),
        now(),
    )
    .await;
    assert_eq!(
        list.body.as_array().map(Vec::len),
        Some(1),
        "operators see the team's windows"
    );
}

#[tokio::test]
async fn bug_reports_follow_their_lifecycle_and_refuse_invalid_transitions() {
    let api = api().await;
    let r = call(
        &api,
        Call::new("POST", "/v1/bugs")
            .claims(client("client-contoso"))
            .json(json!({"title": "Plan list empty", "description": "steps to reproduce"})),
        now(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    let step = |action: &str, body: Option<Value>, who: Value| {
        let p = format!("/v1/bugs/{id}/{action}");
        let mut c = Call::new("POST", Box::leak(p.into_boxed_str())).claims(who);
        if let Some(b) = body {
            c = c.json(b);
        }
        c
    };
    let triage = json!({"approve": true, "business_justification": "blocks sign-ups", "impact": "all users"});
    assert_eq!(
        call(&api, step("deployment", None, admin()), now())
            .await
            .status,
        409,
        "not before triage"
    );
    assert_eq!(
        call(
            &api,
            step("triage", Some(triage.clone()), client("client-contoso")),
            now()
        )
        .await
        .status,
        403
    );
    assert_eq!(
        call(
            &api,
            step("triage", Some(triage.clone()), client("client-fabrikam")),
            now()
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(&api, step("triage", Some(triage.clone()), admin()), now())
            .await
            .status,
        200
    );
    assert_eq!(
        call(&api, step("triage", Some(triage), admin()), now())
            .await
            .status,
        409,
        "triaged once"
    );
    let s = call(
        &api,
        step(
            "schedule",
            Some(json!({"tentative_deployment": "2026-12-03"})),
            admin(),
        ),
        now(),
    )
    .await;
    assert_eq!(
        (s.status, s.body["status"].as_str()),
        (200, Some("scheduled"))
    );
    let d = call(&api, step("deployment", None, admin()), now()).await;
    assert_eq!(
        (d.status, d.body["status"].as_str()),
        (200, Some("deployed"))
    );
    let keys = api.notifier.keys();
    assert_eq!(
        keys.len(),
        4,
        "emailed when reported (to the team), triaged, scheduled and deployed: {keys:?}"
    );
    let sent = api.notifier.sent.lock().expect("lock").clone();
    assert_eq!(sent[0].to, team().emails);
    assert_eq!(sent[1].to[0].as_str(), "noc@contoso.example");
    let own = call(
        &api,
        Call::new("GET", Box::leak(format!("/v1/bugs/{id}").into_boxed_str()))
            .claims(client("client-contoso")),
        now(),
    )
    .await;
    assert_eq!(own.body["status"], "deployed");
}

#[tokio::test]
async fn information_requests_are_low_incidents_emailed_to_the_team() {
    let api = api().await;
    let ask = |contact: &str| {
        Call::new("POST", "/v1/information-requests")
            .claims(client("client-fabrikam"))
            .json(json!({"subject": "xDR format", "question": "Which TDR fields are mandatory?", "contact": contact}))
    };
    // The contact is copied on the email: only a registered one is accepted
    // (another operator's, or any other address, is refused).
    for stranger in ["oncall@fabrikam.example", "noc@contoso.example"] {
        let refused = call(&api, ask(stranger), now()).await;
        assert_eq!(
            (refused.status, refused.body["errors"][0]["field"].as_str()),
            (422, Some("contact")),
            "{stranger}: {}",
            refused.body
        );
    }
    assert!(api.notifier.sent.lock().expect("lock").is_empty());
    let a = call(&api, ask("NOC@Fabrikam.Example"), now()).await;
    assert_eq!(a.status, 422, "the local part is case-sensitive");
    let a = call(&api, ask("noc@FABRIKAM.example"), now()).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.body["severity"].as_str(), a.body["kind"].as_str()),
        (Some("low"), Some("information_request"))
    );
    assert_eq!(a.body["initial_response_due"], "2026-11-30T10:00:00Z");
    let sent = api.notifier.sent.lock().expect("lock").clone();
    assert_eq!((sent.len(), sent[0].channel.as_str()), (1, "email"));
}

#[tokio::test]
async fn onboarding_validates_and_retiring_removes_from_monitoring() {
    let api = api().await;
    let mut op = serde_json::to_value(operator("northwind")).expect("json");
    op["portal"]["url"] = json!("ftp://portal.northwind.example/");
    let bad = call(
        &api,
        Call::new("PUT", "/v1/operators/northwind")
            .claims(admin())
            .json(op.clone()),
        now(),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (422, Some("portal.url")),
        "{}",
        bad.body
    );
    op["portal"]["url"] = json!("https://portal.northwind.example/");
    let mismatch = call(
        &api,
        Call::new("PUT", "/v1/operators/other")
            .claims(admin())
            .json(op.clone()),
        now(),
    )
    .await;
    assert_eq!(mismatch.status, 422);
    assert_eq!(
        call(
            &api,
            Call::new("PUT", "/v1/operators/northwind")
                .claims(admin())
                .json(op.clone()),
            now()
        )
        .await
        .status,
        201
    );
    assert_eq!(
        call(
            &api,
            Call::new("PUT", "/v1/operators/northwind")
                .claims(admin())
                .json(op),
            now()
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(
            &api,
            Call::new("DELETE", "/v1/operators/northwind").claims(admin()),
            now()
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(
            &api,
            Call::new("DELETE", "/v1/operators/northwind").claims(admin()),
            now()
        )
        .await
        .status,
        404
    );
    assert_eq!(api.store.list_operators().await.expect("list").len(), 2);
}

#[tokio::test]
async fn monthly_reports_are_an_operators_own() {
    let api = api().await;
    evaluate_batch(
        &api.store,
        &context(&["contoso"]),
        &failures("contoso", 0, 1830),
    )
    .await;
    for p in failures("contoso", 0, 1830) {
        livesite_core::ports::ProbeLog::append(&api.store, &p)
            .await
            .expect("append");
    }
    let own = call(
        &api,
        Call::new("GET", "/v1/reports/2026-11").claims(client("client-contoso")),
        now(),
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["operator"], "contoso");
    assert_eq!(own.body["probes"], 62);
    assert_eq!(own.body["incidents"].as_array().map(Vec::len), Some(1));
    let foreign = call(
        &api,
        Call::new("GET", "/v1/reports/2026-11")
            .claims(client("client-fabrikam"))
            .query("operator", "contoso"),
        now(),
    )
    .await;
    assert_eq!(foreign.status, 404);
    let bad = call(
        &api,
        Call::new("GET", "/v1/reports/2026-13").claims(client("client-contoso")),
        now(),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (422, Some("month"))
    );
    let all = call(
        &api,
        Call::new("GET", "/v1/reports/2026-11").claims(admin()),
        now(),
    )
    .await;
    assert_eq!(
        all.body.as_array().map(Vec::len),
        Some(2),
        "the team gets every operator's"
    );
}

/// Contoso's incidents, maintenance window and bug, in a fresh store; the
/// bug advanced to `stage` ("reported", "approved" or "scheduled"). The ids
/// are named as the matrix's templates name them: `{i}` the monitor's
/// incident (contoso owes it), `{r}` contoso's outage report (the team owes
/// it), `{q}` a reporting failure the team raised (contoso owes it), `{m}`
/// the window, `{b}` the bug.
async fn contoso_world(stage: &str) -> (Api<SqliteStore, Recorder>, Vec<(&'static str, String)>) {
    let api = api().await;
    let r = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report("2026-11-27T09:30:00Z")),
        now(),
    )
    .await;
    let report = r.body["incident"]["id"]
        .as_str()
        .expect("report id")
        .to_string();
    let q = call(
        &api,
        Call::new("POST", "/v1/incidents")
            .claims(admin())
            .json(raised("contoso")),
        now(),
    )
    .await;
    let raised_id = q.body["id"].as_str().expect("raised id").to_string();
    evaluate_batch(
        &api.store,
        &context(&["contoso"]),
        &failures("contoso", 0, 1830),
    )
    .await;
    let incident = "contoso-20261124T100000Z-portal_down".to_string();
    let m = call(
        &api,
        Call::new("POST", "/v1/maintenance")
            .claims(client("client-contoso"))
            .json(window("2026-12-10T08:00:00Z", 2)),
        now(),
    )
    .await;
    let maintenance = m.body["maintenance"]["id"]
        .as_str()
        .expect("maintenance id")
        .to_string();
    let b = call(
        &api,
        Call::new("POST", "/v1/bugs")
            .claims(client("client-contoso"))
            .json(json!({"title": "t", "description": "d"})),
        now(),
    )
    .await;
    let bug = b.body["id"].as_str().expect("bug id").to_string();
    let triage = json!({"approve": true, "business_justification": "j", "impact": "i"});
    if stage != "reported" {
        let p = format!("/v1/bugs/{bug}/triage");
        assert_eq!(
            call(
                &api,
                Call::new("POST", &p).claims(admin()).json(triage),
                now()
            )
            .await
            .status,
            200
        );
    }
    if stage == "scheduled" {
        let p = format!("/v1/bugs/{bug}/schedule");
        let body = json!({"tentative_deployment": "2026-12-03"});
        assert_eq!(
            call(
                &api,
                Call::new("POST", &p).claims(admin()).json(body),
                now()
            )
            .await
            .status,
            200
        );
    }
    let ids = vec![
        ("{i}", incident),
        ("{r}", report),
        ("{q}", raised_id),
        ("{m}", maintenance),
        ("{b}", bug),
    ];
    (api, ids)
}

/// One result of contoso's agent.
fn pushed() -> Value {
    json!({"results": [{"operator": "contoso", "probed_at": "2026-11-27T09:59:30Z", "outcome": "up",
        "status": 200, "latency_ms": 80.0, "location": "agent-contoso-1"}]})
}

/// A Low incident the team raises against `operator`.
fn raised(operator: &str) -> Value {
    json!({"operator": operator, "kind": "reporting_failure", "subject": "October report missing",
           "text": "The monthly report did not arrive.", "links": ["https://share.dynamo.example/r/10"]})
}

/// Every endpoint × every role × contoso's (own or foreign) resources, each
/// case in a fresh store. Columns: the team, contoso (owner), fabrikam (foreign).
#[tokio::test]
async fn the_whole_authorization_matrix() {
    let report = high_report("2026-11-27T09:30:00Z");
    let notice = json!({"service": "DYNAMO", "started_at": "2026-11-27T09:00:00Z", "aware_at": "2026-11-27T09:50:00Z", "description": "d"});
    let info = json!({"subject": "s", "question": "q", "contact": "noc@contoso.example"});
    let operator_doc = serde_json::to_value(operator("contoso")).expect("json");
    // (method, path template, body, bug stage, [team, contoso, fabrikam])
    type Row = (
        &'static str,
        &'static str,
        Option<Value>,
        &'static str,
        [u16; 3],
    );
    let rows: Vec<Row> = vec![
        // fabrikam may not name contoso's contact (copied on the email).
        (
            "POST",
            "/v1/outage-reports",
            Some(report),
            "reported",
            [403, 201, 422],
        ),
        ("GET", "/v1/incidents", None, "reported", [200, 200, 200]),
        // fabrikam may not push contoso's results.
        (
            "POST",
            "/v1/probe-results",
            Some(pushed()),
            "reported",
            [403, 202, 422],
        ),
        (
            "GET",
            "/v1/incidents/{i}",
            None,
            "reported",
            [200, 200, 404],
        ),
        // The side that owes the answer, and the team always.
        (
            "POST",
            "/v1/incidents/{i}/acknowledgement",
            None,
            "reported",
            [200, 200, 404],
        ),
        (
            "POST",
            "/v1/incidents/{i}/updates",
            Some(json!({"message": "m"})),
            "reported",
            [201, 201, 404],
        ),
        // The monitor resolves its own incidents.
        (
            "POST",
            "/v1/incidents/{i}/resolution",
            None,
            "reported",
            [409, 409, 404],
        ),
        (
            "POST",
            "/v1/incidents",
            Some(raised("contoso")),
            "reported",
            [201, 403, 403],
        ),
        (
            "POST",
            "/v1/incidents/{r}/acknowledgement",
            None,
            "reported",
            [200, 403, 404],
        ),
        (
            "POST",
            "/v1/incidents/{r}/updates",
            Some(json!({"message": "m"})),
            "reported",
            [201, 403, 404],
        ),
        (
            "POST",
            "/v1/incidents/{r}/resolution",
            Some(json!({"message": "answered by phone"})),
            "reported",
            [200, 403, 404],
        ),
        (
            "POST",
            "/v1/incidents/{q}/acknowledgement",
            None,
            "reported",
            [200, 200, 404],
        ),
        (
            "POST",
            "/v1/incidents/{q}/resolution",
            None,
            "reported",
            [200, 200, 404],
        ),
        (
            "POST",
            "/v1/maintenance",
            Some(window("2026-12-11T08:00:00Z", 1)),
            "reported",
            [201, 201, 201],
        ),
        ("GET", "/v1/maintenance", None, "reported", [200, 200, 200]),
        // A timely window needs no approval; only the team approves.
        (
            "POST",
            "/v1/maintenance/{m}/approval",
            None,
            "reported",
            [409, 403, 403],
        ),
        (
            "POST",
            "/v1/maintenance/{m}/completion",
            None,
            "reported",
            [200, 200, 404],
        ),
        (
            "POST",
            "/v1/maintenance/{m}/cancellation",
            None,
            "reported",
            [200, 200, 404],
        ),
        (
            "POST",
            "/v1/outage-notices",
            Some(notice),
            "reported",
            [201, 403, 403],
        ),
        (
            "POST",
            "/v1/bugs",
            Some(json!({"title": "t", "description": "d"})),
            "reported",
            [422, 201, 201],
        ),
        ("GET", "/v1/bugs/{b}", None, "reported", [200, 200, 404]),
        ("GET", "/v1/bugs", None, "reported", [200, 200, 200]),
        (
            "POST",
            "/v1/bugs/{b}/triage",
            Some(json!({"approve": false, "business_justification": "j", "impact": "i"})),
            "reported",
            [200, 403, 404],
        ),
        (
            "POST",
            "/v1/bugs/{b}/schedule",
            Some(json!({"tentative_deployment": "2026-12-03"})),
            "approved",
            [200, 403, 404],
        ),
        (
            "POST",
            "/v1/bugs/{b}/deployment",
            None,
            "scheduled",
            [200, 403, 404],
        ),
        (
            "POST",
            "/v1/information-requests",
            Some(info),
            "reported",
            [403, 201, 422],
        ),
        (
            "GET",
            "/v1/reports/2026-11?operator=contoso",
            None,
            "reported",
            [200, 200, 404],
        ),
        ("GET", "/v1/operators", None, "reported", [200, 403, 403]),
        (
            "GET",
            "/v1/operators/contoso",
            None,
            "reported",
            [200, 403, 403],
        ),
        (
            "PUT",
            "/v1/operators/contoso",
            Some(operator_doc),
            "reported",
            [200, 403, 403],
        ),
        (
            "DELETE",
            "/v1/operators/contoso",
            None,
            "reported",
            [200, 403, 403],
        ),
    ];
    for (method, template, body, stage, expected) in rows {
        for (who, want) in [admin(), client("client-contoso"), client("client-fabrikam")]
            .into_iter()
            .zip(expected)
        {
            let (api, ids) = contoso_world(stage).await;
            let full = ids
                .iter()
                .fold(template.to_string(), |t, (name, id)| t.replace(name, id));
            let (path, query) = full
                .split_once('?')
                .map_or((full.as_str(), None), |(p, q)| (p, q.split_once('=')));
            let mut c = Call::new(method, path).claims(who.clone());
            if let Some((k, v)) = query {
                c = c.query(k, v);
            }
            if let Some(b) = &body {
                c = c.json(b.clone());
            }
            let a = call(&api, c, now()).await;
            assert_eq!(
                a.status, want,
                "{method} {template} as {}: {}",
                who["client_id"], a.body
            );
        }
    }
}

/// The contract both ways: the team raises a Low incident that contoso owes
/// (on contoso's calendar), and answers contoso's own report (on the team's
/// calendar); each answer is told to the other side, by email, never "reply".
#[tokio::test]
async fn incidents_run_both_ways_and_each_answer_reaches_the_other_side() {
    let mut api = api().await;
    // The team's calendar: Tokyo, so its clock differs from contoso's (Madrid).
    api.team.calendar = BusinessCalendar::new(livesite_core::Tz::Asia__Tokyo, []);
    let contoso = || client("client-contoso");
    let q = call(
        &api,
        Call::new("POST", "/v1/incidents")
            .claims(admin())
            .json(raised("contoso")),
        now(),
    )
    .await;
    assert_eq!(q.status, 201, "{}", q.body);
    assert_eq!(
        (q.body["owed_by"].as_str(), q.body["raised_by"].as_str()),
        (Some("operator"), Some("team"))
    );
    // Friday 11:00 in Madrid: due Monday 11:00 Madrid (10:00 UTC).
    assert_eq!(q.body["initial_response_due"], "2026-11-30T10:00:00Z");
    let id = q.body["id"].as_str().expect("id").to_string();
    let mail = api
        .notifier
        .sent
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("email");
    assert_eq!(mail.to, operator("contoso").contacts);
    assert!(mail.text.contains("https://share.dynamo.example/r/10"));
    assert!(!mail.text.to_lowercase().contains("reply"), "{}", mail.text);
    // Contoso answers: the team hears of it.
    let a = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{id}/updates"))
            .claims(contoso())
            .json(json!({"message": "resent today"})),
        now(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let told = api
        .notifier
        .sent
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("answer");
    assert_eq!(
        (told.to.clone(), told.text.contains("resent today")),
        (team().emails, true)
    );
    // Another operator's id, a stranger operator and bad input.
    let bad = call(
        &api,
        Call::new("POST", "/v1/incidents")
            .claims(admin())
            .json(raised("northwind")),
        now(),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (422, Some("operator"))
    );

    // Contoso's report: the team owes it, on the team's calendar (Tokyo).
    let r = call(&api, Call::new("POST", "/v1/outage-reports").claims(contoso()).json(json!({
        "service": "xdr", "severity": "low", "started_at": "2026-11-27T09:20:00Z",
        "aware_at": "2026-11-27T09:40:00Z", "description": "late XDR files", "contact": "noc@contoso.example"
    })), now()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Friday 19:00 in Tokyo + 1 business day: Monday 19:00 Tokyo (10:00 UTC).
    assert_eq!(r.body["incident"]["owed_by"], "team");
    assert_eq!(
        r.body["incident"]["initial_response_due"],
        "2026-11-30T10:00:00Z"
    );
    let rid = r.body["incident"]["id"].as_str().expect("id").to_string();
    let own = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{rid}/acknowledgement")).claims(contoso()),
        now(),
    )
    .await;
    assert_eq!(
        own.status, 403,
        "contoso cannot answer its own report: {}",
        own.body
    );
    let done = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{rid}/resolution"))
            .claims(admin())
            .json(json!({"message": "files resent"})),
        now(),
    )
    .await;
    assert_eq!(
        (done.status, done.body["incident"]["status"].as_str()),
        (200, Some("resolved")),
        "{}",
        done.body
    );
    let told = api
        .notifier
        .sent
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("answer");
    assert_eq!(told.to, operator("contoso").contacts);
    assert!(told.text.contains("files resent"));
    let again = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{rid}/updates"))
            .claims(admin())
            .json(json!({"message": "m"})),
        now(),
    )
    .await;
    assert_eq!(
        again.status, 409,
        "a resolved incident takes no more answers"
    );
}

/// Both sides acknowledge the same incident at once, and a resolution races
/// an update: exactly one acknowledgement is the first, and nothing writes a
/// resolved incident back open.
#[tokio::test]
async fn an_acknowledgement_race_by_both_sides_has_one_first() {
    let api = api().await;
    let q = call(
        &api,
        Call::new("POST", "/v1/incidents")
            .claims(admin())
            .json(raised("contoso")),
        now(),
    )
    .await;
    let id = q.body["id"].as_str().expect("id").to_string();
    let ack = format!("/v1/incidents/{id}/acknowledgement");
    let mut firsts = 0;
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            call(&api, Call::new("POST", &ack).claims(admin()), now()),
            call(
                &api,
                Call::new("POST", &ack).claims(client("client-contoso")),
                now()
            ),
        );
        assert_eq!((a.status, b.status), (200, 200));
        firsts += [a, b]
            .iter()
            .filter(|x| x.body["first_acknowledgement"] == true)
            .count();
    }
    assert_eq!(firsts, 1, "one first acknowledgement among ten");
    let stored = api
        .store
        .get_incident(&id)
        .await
        .expect("get")
        .expect("incident");
    assert_eq!(
        stored.version, 10,
        "every acknowledgement written once, none lost"
    );
    let (resolution, updates) = (
        format!("/v1/incidents/{id}/resolution"),
        format!("/v1/incidents/{id}/updates"),
    );
    let (resolve, update) = tokio::join!(
        call(
            &api,
            Call::new("POST", &resolution).claims(client("client-contoso")),
            now()
        ),
        call(
            &api,
            Call::new("POST", &updates)
                .claims(admin())
                .json(json!({"message": "m"})),
            now()
        ),
    );
    assert_eq!(resolve.status, 200);
    assert!([201, 409].contains(&update.status), "{}", update.body);
    let stored = api
        .store
        .get_incident(&id)
        .await
        .expect("get")
        .expect("incident");
    assert!(!stored.is_open(), "the resolution stands");
}

/// Bugs as a queue: a report emails the team, the team finds it in the
/// listing (filtered), the triage outcome and the schedule reach the
/// reporter, and the deployment every operator the bug concerns.
#[tokio::test]
async fn bugs_are_a_queue_and_each_step_reaches_whom_it_concerns() {
    let api = api().await;
    let contoso = || client("client-contoso");
    let last = |n: usize| {
        let sent = api.notifier.sent.lock().expect("lock");
        sent[sent.len() - n..].to_vec()
    };
    let report = |who: Value, body: Value| Call::new("POST", "/v1/bugs").claims(who).json(body);
    let b = call(
        &api,
        report(
            contoso(),
            json!({"title": "MSISDN lookup times out", "description": "d"}),
        ),
        now(),
    )
    .await;
    assert_eq!(b.status, 201, "{}", b.body);
    let id = b.body["id"].as_str().expect("id").to_string();
    let told = last(1);
    assert_eq!(
        (told[0].to.clone(), told[0].topic.as_str()),
        (team().emails, "bug_reported")
    );
    let f = call(
        &api,
        report(
            client("client-fabrikam"),
            json!({"title": "other", "description": "d"}),
        ),
        now(),
    )
    .await;
    assert_eq!(f.status, 201);
    // (who, query, ids listed)
    let list = |who: Value, query: Vec<(&'static str, &'static str)>| {
        let mut c = Call::new("GET", "/v1/bugs").claims(who);
        for (k, v) in query {
            c = c.query(k, v);
        }
        c
    };
    let count = |a: &Answer| a.body.as_array().map(Vec::len);
    assert_eq!(
        count(&call(&api, list(admin(), vec![]), now()).await),
        Some(2)
    );
    assert_eq!(
        count(&call(&api, list(admin(), vec![("operator", "contoso")]), now()).await),
        Some(1)
    );
    assert_eq!(
        count(&call(&api, list(admin(), vec![("status", "reported")]), now()).await),
        Some(2)
    );
    assert_eq!(
        count(&call(&api, list(admin(), vec![("status", "approved")]), now()).await),
        Some(0)
    );
    assert_eq!(
        count(&call(&api, list(contoso(), vec![]), now()).await),
        Some(1)
    );
    assert_eq!(
        count(&call(&api, list(contoso(), vec![("operator", "fabrikam")]), now()).await),
        Some(0)
    );
    let bad = call(&api, list(admin(), vec![("status", "lost")]), now()).await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (422, Some("status"))
    );
    // Triage names fabrikam as concerned too; contoso hears the outcome.
    let path = |step: &str| format!("/v1/bugs/{id}/{step}");
    let t = call(&api, Call::new("POST", &path("triage")).claims(admin()).json(json!({
        "approve": true, "business_justification": "blocks activations", "impact": "2% of lookups", "concerns": ["fabrikam"]
    })), now()).await;
    assert_eq!(t.status, 200, "{}", t.body);
    let told = last(1);
    assert_eq!(
        (told[0].to.clone(), told[0].topic.as_str()),
        (operator("contoso").contacts, "bug_triaged")
    );
    assert!(told[0].text.contains("blocks activations"));
    let s = call(
        &api,
        Call::new("POST", &path("schedule"))
            .claims(admin())
            .json(json!({"tentative_deployment": "2026-12-03"})),
        now(),
    )
    .await;
    assert_eq!(s.status, 200);
    let d = call(
        &api,
        Call::new("POST", &path("deployment")).claims(admin()),
        now(),
    )
    .await;
    assert_eq!(d.status, 200);
    let told = last(2);
    assert_eq!(
        told.iter().map(|n| n.to.clone()).collect::<Vec<_>>(),
        vec![operator("contoso").contacts, operator("fabrikam").contacts]
    );
    assert_eq!(
        count(&call(&api, list(admin(), vec![("status", "deployed")]), now()).await),
        Some(1)
    );
}
