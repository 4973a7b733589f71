//! The team's outage notices (listed, updated, resolved, each step told to
//! every operator told, the operations centre told whom to call) and the
//! seed's channels (each team email to its purpose's mailbox).

use super::*;
use livesite_core::{Channels, EmailAddress, PhoneNumber};

fn addr(a: &str) -> EmailAddress {
    EmailAddress::parse(a).expect("email")
}

/// The API over a team with the seed's three channels and a fallback
/// nobody should receive; contoso has an escalation phone, fabrikam none.
async fn channelled() -> Api<SqliteStore, Recorder> {
    let mut api = api().await;
    api.team.emails = vec![addr("fallback@dynamo.example")];
    api.team.phone = Some(PhoneNumber::parse("+14255389336").expect("phone"));
    api.team.channels = Channels {
        operations: vec![addr("osoc@dynamo.example")],
        programme: vec![addr("dmcellpd@dynamo.example")],
        partner_support: vec![addr("partnersup@dynamo.example")],
    };
    let mut contoso = api
        .store
        .get_operator(&livesite_core::OperatorId::new("contoso").expect("id"))
        .await
        .expect("read")
        .expect("contoso");
    contoso.escalation_phones = vec![PhoneNumber::parse("+34910000000").expect("phone")];
    api.store.put_operator(&contoso).await.expect("register");
    api
}

/// Every email sent since the last call, as (recipients, subject, text).
fn drain(api: &Api<SqliteStore, Recorder>) -> Vec<(Vec<String>, String, String)> {
    let mut sent = api.notifier.sent.lock().expect("lock");
    sent.drain(..)
        .map(|n| {
            let to = n.to.iter().chain(&n.cc).map(|a| a.to_string()).collect();
            (to, n.subject.clone(), n.text.clone())
        })
        .collect()
}

/// The team sends `notice`; its id.
async fn send(api: &Api<SqliteStore, Recorder>, notice: Value) -> String {
    let n = call(
        api,
        Call::new("POST", "/v1/outage-notices")
            .claims(admin())
            .json(notice),
        now(),
    )
    .await;
    assert_eq!(n.status, 201, "{}", n.body);
    n.body["notice"]["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn an_outage_notice_is_listed_updated_and_resolved_with_a_notice_each_time() {
    let api = channelled().await;
    let notice = json!({"service": "DYNAMO eSIM service", "started_at": "2026-11-27T09:40:00Z", "aware_at": "2026-11-27T09:45:00Z", "description": "profile downloads failing"});
    let id = send(&api, notice).await;
    let sent = drain(&api);
    let to_operators: Vec<&Vec<String>> = sent
        .iter()
        .map(|(to, ..)| to)
        .filter(|to| !to.contains(&"osoc@dynamo.example".to_string()))
        .collect();
    assert_eq!(
        to_operators,
        [
            &vec!["noc@contoso.example".to_string()],
            &vec!["noc@fabrikam.example".to_string()]
        ],
        "one email each, no team copy: {sent:?}"
    );
    let calls = sent
        .iter()
        .find(|(to, ..)| to == &vec!["osoc@dynamo.example".to_string()])
        .expect("the operations centre's copy");
    assert!(
        calls.2.contains("(contoso): Call +34910000000"),
        "{}",
        calls.2
    );
    assert!(
        calls
            .2
            .contains("(fabrikam): No escalation phone on record"),
        "{}",
        calls.2
    );
    assert!(sent
        .iter()
        .all(|(to, ..)| !to.contains(&"fallback@dynamo.example".to_string())));

    let listed = call(
        &api,
        Call::new("GET", "/v1/outage-notices").claims(client("client-fabrikam")),
        now(),
    )
    .await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );

    let later = now() + Duration::minutes(20);
    let path = format!("/v1/outage-notices/{id}/updates");
    let u = call(
        &api,
        Call::new("POST", &path)
            .claims(admin())
            .json(json!({"message": "a fix is rolling out"})),
        later,
    )
    .await;
    assert_eq!(u.status, 200, "{}", u.body);
    let sent = drain(&api);
    assert_eq!(
        sent.len(),
        3,
        "both operators and the operations centre: {sent:?}"
    );
    assert!(
        sent.iter().all(|(_, subject, text)| subject
            .starts_with("[OUTAGE UPDATE] DYNAMO eSIM service")
            && text.contains("a fix is rolling out")),
        "{sent:?}"
    );

    let done = now() + Duration::minutes(50);
    let path = format!("/v1/outage-notices/{id}/resolution");
    let r = call(
        &api,
        Call::new("POST", &path)
            .claims(admin())
            .json(json!({"message": "downloads back to normal"})),
        done,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = drain(&api);
    assert_eq!(sent.len(), 3, "{sent:?}");
    for (_, subject, text) in &sent {
        assert!(subject.starts_with("[OUTAGE RESOLVED]"), "{subject}");
        assert!(
            text.contains("Resolved: 2026-11-27 ")
                && text.contains("10:50:00 UTC")
                && text.contains("downloads back to normal"),
            "{text}"
        );
        assert!(
            !text.contains("High incidents by phone"),
            "a resolution asks nobody to call: {text}"
        );
    }
    let again = call(&api, Call::new("POST", &path).claims(admin()), done).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let path = format!("/v1/outage-notices/{id}/updates");
    let late = call(
        &api,
        Call::new("POST", &path)
            .claims(admin())
            .json(json!({"message": "x"})),
        done,
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.body);
    let one = call(
        &api,
        Call::new("GET", &format!("/v1/outage-notices/{id}")).claims(client("client-contoso")),
        done,
    )
    .await;
    assert_eq!(
        (
            one.body["updates"].as_array().map(Vec::len),
            one.body["resolved_at"].as_str()
        ),
        (Some(2), Some("2026-11-27T10:50:00Z")),
        "{}",
        one.body
    );
}

/// Each team email goes to its purpose's mailbox, never the fallback list:
/// a High report to the operations centre, a question to the programme
/// mailbox, a bug to partner support.
#[tokio::test]
async fn each_team_email_goes_to_the_channel_of_its_purpose() {
    let api = channelled().await;
    let cases = [
        (
            "/v1/outage-reports",
            high_report("2026-11-27T09:45:00Z"),
            "osoc@dynamo.example",
        ),
        (
            "/v1/information-requests",
            json!({"subject": "ICCID range", "question": "Which range is configured?", "contact": "noc@contoso.example"}),
            "dmcellpd@dynamo.example",
        ),
        (
            "/v1/bugs",
            json!({"title": "eSIM profile stuck", "description": "Download stops at 90%."}),
            "partnersup@dynamo.example",
        ),
    ];
    for (path, body, mailbox) in cases {
        let r = call(
            &api,
            Call::new("POST", path)
                .claims(client("client-contoso"))
                .json(body),
            now(),
        )
        .await;
        assert_eq!(r.status, 201, "{path}: {}", r.body);
        let sent = drain(&api);
        let team_mail: Vec<&Vec<String>> = sent
            .iter()
            .map(|(to, ..)| to)
            .filter(|to| to.iter().any(|a| a.ends_with("@dynamo.example")))
            .collect();
        assert!(!team_mail.is_empty(), "{path}: {sent:?}");
        for to in team_mail {
            let team: Vec<&String> = to
                .iter()
                .filter(|a| a.ends_with("@dynamo.example"))
                .collect();
            assert_eq!(team, [mailbox], "{path}");
        }
    }
}

/// A notice is told to the operators registered when it was sent: one
/// registered later neither reads it nor hears of its updates.
#[tokio::test]
async fn a_notice_reaches_only_the_operators_it_was_told_to() {
    let api = channelled().await;
    let notice = json!({"service": "DYNAMO", "started_at": "2026-11-27T09:40:00Z", "aware_at": "2026-11-27T09:45:00Z", "description": "down"});
    let id = send(&api, notice).await;
    let mut woodgrove = operator("woodgrove");
    woodgrove.api_clients = vec!["client-woodgrove".into()];
    api.store.put_operator(&woodgrove).await.expect("register");
    drain(&api);
    let later = client("client-woodgrove");
    let one = call(
        &api,
        Call::new("GET", &format!("/v1/outage-notices/{id}")).claims(later.clone()),
        now(),
    )
    .await;
    assert_eq!(one.status, 404, "{}", one.body);
    let all = call(
        &api,
        Call::new("GET", "/v1/outage-notices").claims(later),
        now(),
    )
    .await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(0), "{}", all.body);
    let path = format!("/v1/outage-notices/{id}/updates");
    call(
        &api,
        Call::new("POST", &path)
            .claims(admin())
            .json(json!({"message": "m"})),
        now(),
    )
    .await;
    assert!(drain(&api)
        .iter()
        .all(|(to, ..)| !to.iter().any(|a| a.ends_with("@woodgrove.example"))));
}
