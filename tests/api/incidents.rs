//! Outage reports, incidents and their answers, information requests.

use super::*;

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

/// The reporting operator adds to its own outage report and closes it
/// when its network is back; its words reach the team, which still owes
/// the answer until then, and neither counts as the team's response.
#[tokio::test]
async fn a_reporter_adds_to_and_closes_its_own_report() {
    let api = api().await;
    let contoso = || client("client-contoso");
    let r = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(contoso())
            .json(high_report("2026-11-27T09:30:00Z")),
        now(),
    )
    .await;
    let id = r.body["incident"]["id"].as_str().expect("id").to_string();
    let update = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{id}/updates"))
            .claims(contoso())
            .json(json!({"message": "the core network restarts at 10:15"})),
        now(),
    )
    .await;
    assert_eq!(update.status, 201, "{}", update.body);
    assert_eq!(update.body["incident"]["acknowledged_at"], Value::Null);
    let ack = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{id}/acknowledgement")).claims(contoso()),
        now(),
    )
    .await;
    assert_eq!(ack.status, 403, "the team's acknowledgement is the team's");
    let sent = api.notifier.sent.lock().expect("lock").clone();
    let told = sent.last().expect("the team is told");
    assert!(
        told.text.contains("the core network restarts at 10:15"),
        "{}",
        told.text
    );
    assert!(
        told.text.contains("The DYNAMO team still owes the answer."),
        "{}",
        told.text
    );
    let closed = call(
        &api,
        Call::new("POST", &format!("/v1/incidents/{id}/resolution"))
            .claims(contoso())
            .json(json!({"message": "back since 10:20"})),
        now() + Duration::minutes(20),
    )
    .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.body["incident"]["status"], "resolved");
    let thread = api.notifier.sent.lock().expect("lock").clone();
    assert!(!thread.last().expect("told").text.contains("still owes"));
}

/// The requests an email prints, sent exactly as printed (the address
/// after its host, the JSON body as written) by the side the email is to.
async fn send_as_printed(api: &Api<SqliteStore, Recorder>, text: &str, who: Value) -> Vec<u16> {
    let mut statuses = Vec::new();
    for line in text.lines() {
        let Some((_, request)) = line.split_once(": POST ") else {
            continue;
        };
        let (url, body) = match request.split_once(" with the JSON body ") {
            Some((url, body)) => (url, Some(body)),
            None => (request, None),
        };
        let path = url
            .strip_prefix("https://api.livesite.example")
            .unwrap_or_else(|| panic!("the API's own address: {url}"));
        let mut c = Call::new("POST", path).claims(who.clone());
        if let Some(b) = body {
            c = c.json(serde_json::from_str(b).expect("the printed body is JSON"));
        }
        let a = call(api, c, now()).await;
        statuses.push(a.status);
    }
    statuses
}

/// Every answer instruction in an incident email is a full request against
/// the API's own address that succeeds as printed, for the side that owes
/// the answer: the team's raised incident (the operator answers) and an
/// operator's report (the team answers).
#[tokio::test]
async fn the_instructions_in_an_email_work_as_printed() {
    let api = api().await;
    let raised = call(
        &api,
        Call::new("POST", "/v1/incidents")
            .claims(admin())
            .json(json!({"operator": "contoso", "kind": "reporting_failure",
                         "subject": "October report missing", "text": "It did not arrive."})),
        now(),
    )
    .await;
    assert_eq!(raised.status, 201, "{}", raised.body);
    let report = call(
        &api,
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(high_report("2026-11-27T09:30:00Z")),
        now(),
    )
    .await;
    assert_eq!(report.status, 201, "{}", report.body);
    let sent = api.notifier.sent.lock().expect("lock").clone();
    let to_operator = sent
        .iter()
        .find(|n| n.topic.as_str() == "incident_raised")
        .expect("the raised incident's email");
    let to_team = sent
        .iter()
        .find(|n| {
            n.topic.as_str() == "outage_reported" && n.channel == livesite_core::Channel::Email
        })
        .expect("the report's email");
    for (email, who) in [(to_operator, client("client-contoso")), (to_team, admin())] {
        assert!(!email.text.contains("livesite api call"), "{}", email.text);
        let statuses = send_as_printed(&api, &email.text, who).await;
        assert_eq!(statuses.len(), 2, "acknowledge and update: {}", email.text);
        assert!(
            statuses.iter().all(|s| (200..300).contains(s)),
            "{statuses:?}\n{}",
            email.text
        );
    }
}

/// The address an email prints is the gateway's own domain, never a `Host`
/// header the caller chose: a forged one does not reach the mail.
#[tokio::test]
async fn a_forged_host_never_reaches_the_printed_requests() {
    let api = api().await;
    let r = call(
        &api,
        Call::new("POST", "/v1/incidents")
            .claims(admin())
            .host("evil.example")
            .json(json!({"operator": "contoso", "kind": "reporting_failure",
                         "subject": "October report missing", "text": "It did not arrive."})),
        now(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sent = api.notifier.sent.lock().expect("lock").clone();
    let email = sent.last().expect("the raised incident's email");
    assert!(!email.text.contains("evil.example"), "{}", email.text);
    assert!(
        email
            .text
            .contains("POST https://api.livesite.example/v1/incidents/"),
        "{}",
        email.text
    );
}
