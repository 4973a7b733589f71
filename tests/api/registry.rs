//! The operator registry and the monthly reports.

use super::*;

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
