//! Who may call what: every route, as the team, its owner and another
//! operator.

use super::*;

/// Listings hold only what the caller may see: another operator's look
/// like none at all; the team filters by operator.
#[tokio::test]
async fn an_operator_lists_only_its_own() {
    let api = api().await;
    let out = evaluate_batch(
        &api.store,
        &context(&["contoso"]),
        &failures("contoso", 0, 1830),
    )
    .await;
    assert_eq!(out.events.len(), 1);
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
    let n = call(
        &api,
        Call::new("POST", "/v1/outage-notices")
            .claims(admin())
            .json(json!({"service": "DYNAMO", "started_at": "2026-11-27T09:00:00Z", "aware_at": "2026-11-27T09:40:00Z", "description": "eSIM downloads failing"})),
        now(),
    )
    .await;
    let notice = n.body["notice"]["id"]
        .as_str()
        .expect("notice id")
        .to_string();
    let ids = vec![
        ("{i}", incident),
        ("{r}", report),
        ("{q}", raised_id),
        ("{m}", maintenance),
        ("{b}", bug),
        ("{n}", notice),
    ];
    (api, ids)
}

/// (method, path template, body, bug stage, [team, contoso, fabrikam]).
type Row = (
    &'static str,
    &'static str,
    Option<Value>,
    &'static str,
    [u16; 3],
);

/// The one authorization matrix: every route of the table (and the
/// answers around it: a missing id, an unknown path, a wrong method), one
/// row per line, as the team, contoso (the owner) and fabrikam (another
/// operator), each case in a fresh store. `{i}` is the monitor's incident
/// (the team owes it), `{r}` contoso's outage report (the team owes it),
/// `{q}` a reporting failure the team raised (contoso owes it), `{m}` the
/// window, `{b}` the bug.
#[rustfmt::skip]
fn rows() -> Vec<Row> {
    let report = high_report("2026-11-27T09:30:00Z");
    let notice = json!({"service": "DYNAMO", "started_at": "2026-11-27T09:00:00Z", "aware_at": "2026-11-27T09:50:00Z", "description": "d"});
    let info = json!({"subject": "s", "question": "q", "contact": "noc@contoso.example"});
    let operator_doc = serde_json::to_value(operator("contoso")).expect("json");
    let bug = json!({"title": "t", "description": "d"});
    let reject = json!({"approve": false, "business_justification": "j", "impact": "i"});
    let schedule = json!({"tentative_deployment": "2026-12-03"});
    let message = json!({"message": "m"});
    vec![
        // fabrikam may not name contoso's contact (copied on the email), nor push its results.
        ("POST", "/v1/outage-reports", Some(report), "reported", [403, 201, 422]),
        ("POST", "/v1/probe-results", Some(pushed()), "reported", [403, 202, 422]),
        ("GET", "/v1/incidents", None, "reported", [200, 200, 200]),
        ("GET", "/v1/incidents/{i}", None, "reported", [200, 200, 404]),
        ("GET", "/v1/incidents/nope", None, "reported", [404, 404, 404]),
        // The side that owes the answer, and the team always.
        ("POST", "/v1/incidents/{i}/acknowledgement", None, "reported", [200, 200, 404]),
        ("POST", "/v1/incidents/{i}/updates", Some(message.clone()), "reported", [201, 201, 404]),
        // The monitor resolves its own incidents.
        ("POST", "/v1/incidents/{i}/resolution", None, "reported", [409, 409, 404]),
        ("POST", "/v1/incidents", Some(raised("contoso")), "reported", [201, 403, 403]),
        ("POST", "/v1/incidents/{r}/acknowledgement", None, "reported", [200, 403, 404]),
        // Its reporter adds to it and may close it, but the team owes the answer.
        ("POST", "/v1/incidents/{r}/updates", Some(message), "reported", [201, 201, 404]),
        ("POST", "/v1/incidents/{r}/resolution", Some(json!({"message": "answered by phone"})), "reported", [200, 200, 404]),
        ("POST", "/v1/incidents/{q}/acknowledgement", None, "reported", [200, 200, 404]),
        ("POST", "/v1/incidents/{q}/resolution", None, "reported", [200, 200, 404]),
        ("POST", "/v1/information-requests", Some(info), "reported", [403, 201, 422]),
        ("POST", "/v1/maintenance", Some(window("2026-12-11T08:00:00Z", 1)), "reported", [201, 201, 201]),
        ("GET", "/v1/maintenance", None, "reported", [200, 200, 200]),
        // A timely window needs no approval; only the team approves.
        ("POST", "/v1/maintenance/{m}/approval", None, "reported", [409, 403, 403]),
        // Not started yet: a window is completed once it has started.
        ("POST", "/v1/maintenance/{m}/completion", None, "reported", [409, 409, 404]),
        ("POST", "/v1/maintenance/{m}/cancellation", None, "reported", [200, 200, 404]),
        ("POST", "/v1/outage-notices", Some(notice), "reported", [201, 403, 403]),
        // Every operator told reads the team's notices; the team moves them.
        ("GET", "/v1/outage-notices", None, "reported", [200, 200, 200]),
        ("GET", "/v1/outage-notices/{n}", None, "reported", [200, 200, 200]),
        ("GET", "/v1/outage-notices/nope", None, "reported", [404, 404, 404]),
        ("POST", "/v1/outage-notices/{n}/updates", Some(json!({"message": "m"})), "reported", [200, 403, 403]),
        ("POST", "/v1/outage-notices/{n}/resolution", None, "reported", [200, 403, 403]),
        // The team names the operator a bug concerns.
        ("POST", "/v1/bugs", Some(bug), "reported", [422, 201, 201]),
        ("GET", "/v1/bugs", None, "reported", [200, 200, 200]),
        ("GET", "/v1/bugs/{b}", None, "reported", [200, 200, 404]),
        ("POST", "/v1/bugs/{b}/triage", Some(reject), "reported", [200, 403, 404]),
        ("POST", "/v1/bugs/{b}/schedule", Some(schedule), "approved", [200, 403, 404]),
        ("POST", "/v1/bugs/{b}/deployment", None, "scheduled", [200, 403, 404]),
        ("GET", "/v1/reports/2026-11?operator=contoso", None, "reported", [200, 200, 404]),
        ("GET", "/v1/operators", None, "reported", [200, 403, 403]),
        ("GET", "/v1/operators/contoso", None, "reported", [200, 403, 403]),
        ("PUT", "/v1/operators/contoso", Some(operator_doc), "reported", [200, 403, 403]),
        ("DELETE", "/v1/operators/contoso", None, "reported", [200, 403, 403]),
        ("GET", "/v1/nothing", None, "reported", [404, 404, 404]),
        ("DELETE", "/v1/incidents", None, "reported", [405, 405, 405]),
    ]
}

/// Every route of the API's table has a row in the matrix: a route added
/// without deciding who may call it fails here.
#[test]
fn every_route_has_a_row_in_the_matrix() {
    let rows = rows();
    for (method, path) in livesite_api_fn::routes() {
        let covered = rows.iter().any(|(m, template, ..)| {
            let template = template.split('?').next().unwrap_or(template);
            let segments: Vec<&str> = template.trim_start_matches("/v1/").split('/').collect();
            let route: Vec<&str> = path.split('/').collect();
            *m == method
                && segments.len() == route.len()
                && route
                    .iter()
                    .zip(&segments)
                    .all(|(r, s)| *r == "{}" || r == s)
        });
        assert!(
            covered,
            "{method} /v1/{path} has no row in the authorization matrix"
        );
    }
}

#[tokio::test]
async fn the_authorization_matrix() {
    for (method, template, body, stage, expected) in rows() {
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
