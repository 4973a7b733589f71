//! Maintenance windows and the team's outage notices.

use super::*;

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
