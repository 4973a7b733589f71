//! The functions end to end on the emulator: probe, stream, evaluate, API,
//! sweep.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_pages_once_even_when_the_batch_is_redelivered_and_recovery_resolves_once() {
    let mut p = Pipeline::new("outage").await;
    p.probe_at((0..=61).map(|i| i * 30)).await; // failing from 0:00 to 30:30
    let batch = p.next_batch().await;
    assert_eq!(batch.records.len(), 62, "one stream record per probe");
    // The first delivery dies between recording its side effects and saving
    // the state (a timeout, say): every record is reported for a retry, and
    // the retry recomputes the same decisions. Only the conditional claims
    // keep it from paging twice.
    let crashing = Counting::new(p.stack.store());
    crashing.fail_saves.store(1, Ordering::SeqCst);
    assert_eq!(
        p.evaluate_on(&crashing, batch.clone()).await.len(),
        62,
        "all reported for retry"
    );
    assert!(p.evaluate(batch.clone()).await.is_empty(), "the retry");
    assert!(p.evaluate(batch).await.is_empty(), "a plain redelivery");

    let pages = p.stack.pages().await;
    assert_eq!(pages.len(), 1, "exactly one page: {pages:?}");
    let (text, subject, attrs) = &pages[0];
    assert!(
        text.starts_with("HIGH contoso: MO Direct portal down 30m"),
        "{text}"
    );
    assert!(text.chars().count() <= 160);
    assert_eq!(subject, "HIGH contoso: portal down");
    assert_eq!(attrs["severity"]["Value"], "high");
    assert_eq!(attrs["operator"]["Value"], "contoso");
    assert_eq!(
        attrs["dedup_key"]["Value"],
        "contoso-20261124T100000Z-portal_down#page-open"
    );
    assert_eq!(
        attrs["incident_id"]["Value"],
        "contoso-20261124T100000Z-portal_down"
    );
    let emails = p.stack.emails().await;
    assert_eq!(emails.len(), 1, "exactly one email: {emails:?}");
    assert_eq!(
        emails[0]["destinations"]["ToAddresses"],
        json!(["noc@contoso.example"])
    );
    assert_eq!(
        emails[0]["destinations"]["CcAddresses"],
        json!(["osoc@dynamo.example"])
    );
    assert!(emails[0]["subject"]
        .as_str()
        .unwrap_or_default()
        .starts_with("[HIGH] contoso Mobile: MO Direct portal unavailable"));

    p.up.store(true, Ordering::SeqCst);
    p.probe_at([1860, 1890]).await;
    let batch = p.next_batch().await;
    assert_eq!(batch.records.len(), 2);
    assert!(p.evaluate(batch.clone()).await.is_empty());
    assert!(p.evaluate(batch).await.is_empty());
    let pages = p.stack.pages().await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[1].0.starts_with("RESOLVED contoso"), "{}", pages[1].0);
    let emails = p.stack.emails().await;
    assert_eq!(emails.len(), 2);
    assert!(emails[1]["subject"]
        .as_str()
        .unwrap_or_default()
        .starts_with("[RESOLVED]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn records_that_can_never_be_valid_are_skipped_not_retried_and_the_others_are_evaluated() {
    let mut p = Pipeline::new("malformed").await;
    p.probe_at([0, 30, 60, 90]).await;
    let mut batch = p.next_batch().await;
    // Unreadable, and readable but invalid (a status an older prober kept).
    batch.records[1].change.new_image.insert(
        "outcome".into(),
        serde_dynamo::AttributeValue::S("sideways".into()),
    );
    batch.records[2].change.new_image.insert(
        "status".into(),
        serde_dynamo::AttributeValue::N("999".into()),
    );
    let failures = p.evaluate(batch).await;
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "a retry would fail the same way and hold up the shard"
    );
    let state = p
        .stack
        .store()
        .load_state(&operator("contoso").id)
        .await
        .expect("load")
        .expect("state");
    assert_eq!(
        state.value.last_probe_at,
        Some(t0() + Duration::seconds(90)),
        "the good records were evaluated"
    );
    assert_eq!(state.value.down_since, Some(t0()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_round_schedules_the_second_and_the_second_does_not() {
    let stack = Stack::new("rounds").await;
    let sqs = aws_sdk_sqs::Client::new(&stack.config);
    let f = ProbeFunction {
        location: None,
        store: stack.store(),
        prober: portal::local_prober(),
        second_round: Some(SecondRound {
            client: sqs.clone(),
            queue_url: stack.queue_url.clone(),
            delay_seconds: 30,
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
    assert_eq!(
        (
            first["round"].as_i64(),
            first["second_round_scheduled"].as_bool()
        ),
        (Some(1), Some(true))
    );
    let sqs_event =
        json!({"Records": [{"messageId": "1", "eventSource": "aws:sqs", "body": "{\"round\":2}"}]});
    let second = f
        .handle(
            &sqs_event,
            t0() + Duration::seconds(30),
            invocation_deadline("ProbeFunction"),
        )
        .await
        .expect("second round");
    assert_eq!(
        (
            second["round"].as_i64(),
            second["second_round_scheduled"].as_bool()
        ),
        (Some(2), Some(false))
    );
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&stack.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("attributes");
    let count = |name: aws_sdk_sqs::types::QueueAttributeName| {
        attrs
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let queued = count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed);
    assert_eq!(queued, 1, "one delayed message per minute");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_high_outage_report_through_the_api_pages_once_even_when_the_post_is_retried() {
    use livesite_tests::gateway::{client, Call};
    let stack = Stack::new("api").await;
    let mut op = operator("contoso");
    op.api_clients = vec!["client-contoso".into()];
    stack.store().put_operator(&op).await.expect("register");
    let api = stack.api(&stack.config, Policy::default());
    let now: chrono::DateTime<chrono::Utc> = "2026-11-27T10:00:00Z".parse().expect("time");
    let report = json!({
        "service": "core_network_services", "severity": "high",
        "started_at": "2026-11-27T09:40:00Z", "aware_at": "2026-11-27T09:45:00Z",
        "description": "PGW outage", "impact": "no data", "contact": "noc@contoso.example"
    });
    let post = || {
        Call::new("POST", "/v1/outage-reports")
            .claims(client("client-contoso"))
            .json(report.clone())
            .key("retry-me")
            .request()
    };
    let first = api.handle(post(), now).await;
    assert_eq!(first.status(), 201);
    let retry = api.handle(post(), now + Duration::seconds(3)).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let pages = stack.pages().await;
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(
        pages[0].2["dedup_key"]["Value"],
        "contoso-20261127T094500Z-report#page-report"
    );
    let emails = stack.emails().await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(
        emails[0]["destinations"]["ToAddresses"],
        json!(["osoc@dynamo.example"])
    );
    assert_eq!(
        emails[0]["destinations"]["CcAddresses"],
        json!(["noc@contoso.example"])
    );
    let stored = stack
        .store()
        .get_incident("contoso-20261127T094500Z-report")
        .await
        .expect("get");
    assert!(stored.is_some(), "the report is stored as an incident");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unacknowledged_high_incident_is_escalated_once_after_an_hour_and_silence_raises_one_blind_alert(
) {
    use livesite_core::service::sweep;
    let mut p = Pipeline::new("sweep").await;
    p.probe_at((0..=61).map(|i| i * 30)).await;
    let batch = p.next_batch().await;
    assert!(p.evaluate(batch).await.is_empty());
    assert_eq!(p.stack.pages().await.len(), 1, "the opening page");
    let (store, notifier, team, policy) = (
        p.stack.store(),
        p.stack.notifier(),
        p.stack.team(),
        livesite_core::Policy::default(),
    );
    let opened = t0() + Duration::seconds(1830);
    // Sweeps every 5 minutes of simulated time. The last probe was at 30:30,
    // so the monitor is blind from 35:30 on (nothing probes any more here).
    let mut due_keys = Vec::new();
    for minutes in (5..=90).step_by(5) {
        let report = sweep(
            &store,
            &notifier,
            &team,
            &policy,
            opened + Duration::minutes(minutes),
            &|| true,
        )
        .await;
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert!(
            report.delivery.failed.is_empty(),
            "{:?}",
            report.delivery.failed
        );
        due_keys.extend(report.enqueued.iter().map(|n| (minutes, n.key.clone())));
    }
    assert_eq!(
        due_keys,
        vec![
            // Its only operator silent: the whole monitor is blind. Exactly 5
            // minutes is not yet; 10 is.
            (10, "fleet#blind-20261124T103030Z".to_string()),
            (
                65,
                "contoso-20261124T100000Z-portal_down#reminder-initial".to_string()
            ),
            (
                65,
                "contoso-20261124T100000Z-portal_down#page-escalate".to_string()
            ),
        ],
        "blind once, escalated once, an hour after the page and not before"
    );
    let pages = p.stack.pages().await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(
        pages[1].0.starts_with("ESCALATION contoso"),
        "{}",
        pages[1].0
    );
    let emails = p.stack.emails().await;
    let blind: Vec<_> = emails
        .iter()
        .filter(|e| {
            e["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with("[MONITOR BLIND]")
        })
        .collect();
    assert_eq!(blind.len(), 1);
    assert_eq!(
        blind[0]["destinations"]["ToAddresses"],
        json!(["osoc@dynamo.example"]),
        "the team, not the operator"
    );
}

/// The second round is scheduled when the first starts, not when its
/// paced probes have all finished: otherwise a round that takes its 10 s
/// spread puts the second 40 s after the first and the next first 20 s after
/// that, instead of every 30 s.
#[tokio::test(flavor = "multi_thread")]
async fn the_second_round_is_scheduled_as_the_first_starts() {
    let stack = Stack::new("schedule-first").await;
    let up = portal::spawn(Behavior::Respond {
        status: 200,
        body: "MO Direct".into(),
    })
    .await;
    // An operator whose place in a 3 s spread is after 2.4 s.
    let id = (0..)
        .map(|i| format!("late-{i}"))
        .find(|id| livesite_core::probe::spread_fraction(id) > 0.8)
        .expect("an id");
    let mut op = operator(&id);
    op.portal = PortalCheck::new(up.http_url("/").parse().expect("url"));
    stack.store().put_operator(&op).await.expect("register");
    let sqs = aws_sdk_sqs::Client::new(&stack.config);
    let f = ProbeFunction {
        location: None,
        store: stack.store(),
        prober: portal::local_prober(),
        second_round: Some(SecondRound {
            client: sqs.clone(),
            queue_url: stack.queue_url.clone(),
            delay_seconds: 0,
        }),
        concurrency: 8,
        pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::from_secs(5)),
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    f.handle(
        &schedule_event(),
        t0(),
        invocation_deadline("ProbeFunction"),
    )
    .await
    .expect("round");
    let got = sqs
        .receive_message()
        .queue_url(&stack.queue_url)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
        )
        .send()
        .await
        .expect("receive");
    let sent: i64 = got.messages()[0]
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
        .and_then(|v| v.parse().ok())
        .expect("sent timestamp");
    // Before this, it went out after the probe, 4.5 s and more into the round.
    assert!(
        sent - started < 3000,
        "sent {} ms after the round started",
        sent - started
    );
}

/// Two probe functions as two locations (each with its own location, as
/// `PROBE_LOCATION` sets it), probing one portal through their own view of
/// its name: 35 minutes with one location seeing it down and the other up
/// page nobody and open one Low location-health incident for the team; both
/// seeing it down page once, at the 30:30 round's time.
#[tokio::test(flavor = "multi_thread")]
async fn two_locations_page_only_when_the_quorum_sees_the_portal_down() {
    use std::net::IpAddr;
    let live: IpAddr = "127.0.0.1".parse().expect("ip");
    let dead: IpAddr = "127.0.0.2".parse().expect("ip");
    // (scenario, what eu-west-1's name resolves to, pages, team-only emails)
    for (scenario, west, pages, team_only) in [("one-path", live, 0, 1), ("both-down", dead, 1, 0)]
    {
        let stack = Stack::new(&format!("locations-{scenario}")).await;
        let portal = portal::spawn(Behavior::Respond {
            status: 200,
            body: "MO Direct".into(),
        })
        .await;
        let mut op = operator("contoso");
        op.portal = PortalCheck::new(
            format!("http://portal.test:{}/modirect", portal.port)
                .parse()
                .expect("url"),
        );
        stack.store().put_operator(&op).await.expect("register");
        let function = |location: &str, ip: IpAddr| ProbeFunction {
            location: Some(location.into()),
            store: stack.store(),
            prober: portal::local_prober().resolving("portal.test", vec![ip]),
            second_round: None,
            concurrency: 8,
            pacing: livesite_probe_fn::Pacing::fixed(std::time::Duration::ZERO),
        };
        let (eu, us) = (function("eu-west-1", west), function("us-east-1", dead));
        for r in 0..=71 {
            let at = t0() + Duration::seconds(r * 30);
            // Every other round both locations' results share their
            // millisecond: each is still its own record.
            for (f, offset) in [(&eu, 0), (&us, 137 * (r % 2))] {
                let out = f
                    .handle(
                        &schedule_event(),
                        at + Duration::milliseconds(offset),
                        invocation_deadline("ProbeFunction"),
                    )
                    .await
                    .expect("round");
                assert_eq!(out["lost"], 0, "{out}");
            }
        }
        let records = stack.stream_records(None).await;
        assert_eq!(
            records.len(),
            144,
            "two locations' records, none overwritten"
        );
        let directory = RegistryDirectory {
            store: stack.store(),
            policy: Policy {
                locations: livesite_core::config::LocationPolicy {
                    expected: vec!["eu-west-1".into(), "us-east-1".into()],
                    ..Default::default()
                },
                ..Policy::default()
            },
            team: stack.team(),
        };
        let event = lambda_event(&records, &stack.stream_arn);
        let now = t0() + Duration::hours(1);
        let response = handle(&stack.store(), &stack.notifier(), &directory, event, now).await;
        assert!(response.batch_item_failures.is_empty(), "{scenario}");
        let sent = stack.pages().await;
        assert_eq!(sent.len(), pages, "{scenario}: {sent:?}");
        let incidents = stack
            .store()
            .list_incidents(Some(&op.id), false)
            .await
            .expect("incidents");
        if pages == 1 {
            assert_eq!(incidents[0].id, "contoso-20261124T100000Z-portal_down");
            assert_eq!(
                incidents[0].opened_at,
                t0() + Duration::seconds(1830),
                "at the round's time"
            );
        }
        let emails = stack.emails().await;
        let to_team: Vec<&Value> = emails
            .iter()
            .filter(|e| e["destinations"]["ToAddresses"] == json!(["osoc@dynamo.example"]))
            .collect();
        assert_eq!(to_team.len(), team_only, "{scenario}: {emails:?}");
        if team_only == 1 {
            assert_eq!(incidents[0].kind.as_str(), "location_path");
            assert!(
                incidents[0].summary.contains("us-east-1"),
                "{}",
                incidents[0].summary
            );
        }
    }
}
