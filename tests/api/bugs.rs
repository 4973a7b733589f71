//! Bugs: the queue and each step.

use super::*;

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
