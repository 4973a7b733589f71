//! The API's edge: who calls, request rates, idempotency, problem answers,
//! both payload formats.

use super::*;

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
    // Another request holds the key (reserved, no answer yet), as long as
    // the function could still be running it.
    let held = json!({"request": "another request's", "expires_at": (now() + livesite_api_fn::RESERVATION_HELD).timestamp()});
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
    // Still held at the last second the function could run; free after:
    // a request that crashed or timed out does not lock its key for a day.
    let soon = now() + livesite_api_fn::RESERVATION_HELD - Duration::seconds(1);
    assert_eq!(
        call(&api, post("busy", "2026-11-27T09:30:00Z"), soon)
            .await
            .status,
        409
    );
    assert!(api.notifier.keys().is_empty(), "nothing acted");
    assert!(api
        .store
        .list_incidents(None, false)
        .await
        .expect("list")
        .is_empty());
    let freed = now() + livesite_api_fn::RESERVATION_HELD;
    let retried = call(&api, post("busy", "2026-11-27T09:30:00Z"), freed).await;
    assert_eq!(
        (retried.status, retried.replayed),
        (201, false),
        "{}",
        retried.body
    );

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
