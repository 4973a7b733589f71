//! Every kind of message the monitor sends, made the way production makes
//! it (the evaluator over probes, the API's use cases, the sweep, the
//! outbox's delivery), for two operators at once:
//! - no message to one operator carries anything of the other;
//! - each kind's text (and its HTML, parsed as a mail client would) is
//!   pinned by a snapshot in `tests/snapshots/messages.txt`
//!   (`LIVESITE_UPDATE_SNAPSHOTS=1` rewrites it after a deliberate change).

use super::*;
use livesite_core::notify::{render, Notification, Topic};
use livesite_core::ports::Outbox;
use livesite_core::service::deliver_pending;
use livesite_core::{Event, PhoneNumber};

const OPERATORS: [&str; 2] = ["contoso", "fabrikam"];

fn at(s: &str) -> DateTime<Utc> {
    utc(s)
}

/// The API's operators, with escalation phones and their own words in
/// every text they send, so a leak of one into the other shows.
async fn world() -> Api<SqliteStore, Recorder> {
    let api = api().await;
    for op in OPERATORS {
        let id = livesite_core::OperatorId::new(op).expect("id");
        let mut o = api
            .store
            .get_operator(&id)
            .await
            .expect("read")
            .expect("registered");
        o.escalation_phones = vec![PhoneNumber::parse(if op == "contoso" {
            "+34910000000"
        } else {
            "+12125550100"
        })
        .expect("phone")];
        api.store.put_operator(&o).await.expect("register");
    }
    api
}

async fn post(
    api: &Api<SqliteStore, Recorder>,
    who: Value,
    path: &str,
    body: Option<Value>,
    when: DateTime<Utc>,
) -> Value {
    let mut c = Call::new("POST", path).claims(who);
    if let Some(b) = body {
        c = c.json(b);
    }
    let r = call(api, c, when).await;
    assert!(
        (200..300).contains(&r.status),
        "POST {path}: {} {}",
        r.status,
        r.body
    );
    r.body
}

/// The monitor's own messages: an outage opened and resolved, a gap, a
/// certificate about to expire (seen by the sweep later).
async fn monitored(api: &Api<SqliteStore, Recorder>) {
    let ctx = context(&OPERATORS);
    let mut probes = Vec::new();
    for op in OPERATORS {
        probes.extend(failures(op, 0, 1830));
        for secs in [1860, 1890, 2490] {
            let mut up = livesite_tests::fixtures::probe(op, secs, true);
            up.cert_expires_at = Some(at("2026-12-20T00:00:00Z"));
            probes.push(up);
        }
    }
    probes.sort_by_key(|p| p.probed_at);
    let out = evaluate_batch(&api.store, &ctx, &probes).await;
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    deliver(api, at("2026-11-24T11:00:00Z")).await;
}

async fn deliver(api: &Api<SqliteStore, Recorder>, when: DateTime<Utc>) {
    deliver_pending(
        &api.store,
        &api.notifier,
        &api.team,
        when,
        Duration::minutes(5),
        500,
    )
    .await
    .expect("deliver");
}

/// Each operator's side of the partner workflows, in its own words.
async fn partners(api: &Api<SqliteStore, Recorder>) -> Vec<String> {
    let mut raised_ids = Vec::new();
    for op in OPERATORS {
        let me = client(&format!("client-{op}"));
        let contact = format!("noc@{op}.example");
        post(api, me.clone(), "/v1/outage-reports", Some(json!({
            "service": "core_network_services", "severity": "high",
            "started_at": "2026-11-27T09:20:00Z", "aware_at": "2026-11-27T09:45:00Z",
            "description": format!("{op} PGW outage"), "impact": format!("{op} users offline"), "contact": contact
        })), now()).await;
        post(api, me.clone(), "/v1/information-requests", Some(json!({"subject": format!("{op} ICCID range"), "question": format!("Which range is configured for {op}?"), "contact": contact})), now()).await;
        let raised = post(api, admin(), "/v1/incidents", Some(json!({"operator": op, "kind": "reporting_failure", "subject": format!("{op} October report missing"), "text": format!("The {op} report did not arrive."), "links": []})), now()).await;
        let id = raised["id"].as_str().expect("id").to_string();
        post(
            api,
            me.clone(),
            &format!("/v1/incidents/{id}/acknowledgement"),
            None,
            now(),
        )
        .await;
        raised_ids.push(id);
        maintenance(api, op, me.clone()).await;
        bugs(api, op, me).await;
    }
    let notice = post(api, admin(), "/v1/outage-notices", Some(json!({"service": "DYNAMO eSIM service", "started_at": "2026-11-27T09:40:00Z", "aware_at": "2026-11-27T09:45:00Z", "description": "profile downloads failing"})), now()).await;
    let id = notice["notice"]["id"].as_str().expect("id");
    post(
        api,
        admin(),
        &format!("/v1/outage-notices/{id}/resolution"),
        Some(json!({"message": "downloads back"})),
        now() + Duration::hours(1),
    )
    .await;
    raised_ids
}

/// Three windows of `op`'s: late and approved (then left to overrun),
/// completed once started, and called off.
async fn maintenance(api: &Api<SqliteStore, Recorder>, op: &str, me: Value) {
    let steps = [
        (
            "2026-11-30T08:00:00Z",
            "core upgrade",
            "approval",
            admin(),
            now(),
        ),
        (
            "2026-11-27T10:30:00Z",
            "PGW patch",
            "completion",
            me.clone(),
            now() + Duration::minutes(45),
        ),
        (
            "2026-12-20T08:00:00Z",
            "OCS migration",
            "cancellation",
            me.clone(),
            now(),
        ),
    ];
    for (start, what, step, by, when) in steps {
        let window = json!({"start": start, "end": (utc(start) + Duration::hours(1)).to_rfc3339(), "description": format!("{op} {what}"), "services": ["core_network_services"]});
        let m = post(api, me.clone(), "/v1/maintenance", Some(window), now()).await;
        let id = m["maintenance"]["id"].as_str().expect("id").to_string();
        post(api, by, &format!("/v1/maintenance/{id}/{step}"), None, when).await;
    }
}

async fn bugs(api: &Api<SqliteStore, Recorder>, op: &str, me: Value) {
    let other = OPERATORS.iter().find(|o| **o != op).expect("other");
    let bug = post(api, me, "/v1/bugs", Some(json!({"title": format!("{op} eSIM profile stuck"), "description": format!("{op} downloads stop at 90%.")})), now()).await;
    let id = bug["id"].as_str().expect("id").to_string();
    post(api, admin(), &format!("/v1/bugs/{id}/triage"), Some(json!({"approve": true, "business_justification": format!("{op} launch"), "impact": format!("{op} activations"), "concerns": [other]})), now()).await;
    post(
        api,
        admin(),
        &format!("/v1/bugs/{id}/schedule"),
        Some(json!({"tentative_deployment": "2026-12-03"})),
        now(),
    )
    .await;
    post(
        api,
        admin(),
        &format!("/v1/bugs/{id}/deployment"),
        None,
        now(),
    )
    .await;
}

/// What only the evaluator's rules or a failing mailbox produce, rendered
/// by the same functions: a burning error budget, an undeliverable email.
async fn rendered(api: &Api<SqliteStore, Recorder>) -> Vec<Notification> {
    let mut out = Vec::new();
    for op in OPERATORS {
        let id = livesite_core::OperatorId::new(op).expect("id");
        let o = api
            .store
            .get_operator(&id)
            .await
            .expect("read")
            .expect("registered");
        let burn = Event::BudgetBurn {
            operator: id,
            at: at("2026-11-25T16:00:00Z"),
            long_minutes: 360,
            short_minutes: 30,
            factor: 6.0,
            long_burn: 7.5,
            short_burn: 9.0,
        };
        out.extend(render(&burn, &o, &api.team, &api.policy));
    }
    // A mailbox that refuses: the team hears of what could not be sent.
    let refusing = Recorder::refusing("noc@contoso.example");
    let original = out
        .iter()
        .find(|n| n.operator.as_str() == "contoso")
        .expect("contoso's")
        .clone();
    api.store
        .enqueue(&Notification {
            key: "refused-probe".into(),
            ..original
        })
        .await
        .expect("enqueue");
    // Retried with backoff until given up, then the notice to the team.
    for day in 0..10 {
        let when = at("2026-11-25T16:05:00Z") + Duration::days(day);
        deliver_pending(
            &api.store,
            &refusing,
            &api.team,
            when,
            Duration::minutes(5),
            500,
        )
        .await
        .expect("deliver");
    }
    out.extend(
        refusing
            .sent
            .lock()
            .expect("lock")
            .iter()
            .filter(|n| n.topic == Topic::Undeliverable)
            .cloned(),
    );
    out
}

async fn every_message() -> Vec<Notification> {
    let api = world().await;
    monitored(&api).await;
    let mut extra = rendered(&api).await;
    partners(&api).await;
    // A week later: clocks overdue, windows overrun, the monitor blind,
    // a certificate close to expiry, November's reports.
    livesite_report::sweep_with_reports(
        &api.store,
        &api.notifier,
        &api.team,
        &api.policy,
        at("2026-12-08T12:00:00Z"),
    )
    .await;
    deliver(&api, at("2026-12-08T12:05:00Z")).await;
    let mut all = api.notifier.sent.lock().expect("lock").clone();
    all.append(&mut extra);
    all
}

/// Whose mailbox a message reaches: each operator's contacts end in its
/// own domain; the team's in dynamo.example.
fn readers(n: &Notification) -> Vec<&'static str> {
    OPERATORS
        .into_iter()
        .filter(|op| {
            n.to.iter()
                .chain(&n.cc)
                .any(|a| a.as_str().ends_with(&format!("@{op}.example")))
        })
        .collect()
}

#[tokio::test]
async fn no_message_to_one_operator_carries_anything_of_another() {
    let all = every_message().await;
    let kinds: std::collections::BTreeSet<&str> = all.iter().map(|n| n.topic.as_str()).collect();
    let missing: Vec<&str> = Topic::ALL
        .iter()
        .map(|t| t.as_str())
        .filter(|t| !kinds.contains(t))
        .collect();
    assert!(missing.is_empty(), "kinds never produced: {missing:?}");
    for n in &all {
        // A message about an operator names it in its subject (the team's
        // outage notices are about the team's own services).
        let teams_own = matches!(n.topic, Topic::OutageNotice | Topic::OutageNoticeResolved);
        if n.channel == livesite_core::Channel::Email
            && !teams_own
            && n.operator.as_str() != "fleet"
        {
            assert!(
                n.subject.to_lowercase().contains(n.operator.as_str())
                    || n.operator.as_str() == "dynamo",
                "{}: {}",
                n.key,
                n.subject
            );
        }
        for reader in readers(n) {
            for other in OPERATORS.iter().filter(|o| **o != reader) {
                let seen = format!(
                    "{} {} {}",
                    n.subject,
                    n.text,
                    n.html.as_deref().unwrap_or_default()
                )
                .to_lowercase();
                assert!(
                    !seen.contains(other),
                    "{} to {reader} mentions {other}:\n{}\n{}",
                    n.key,
                    n.subject,
                    n.text
                );
            }
        }
    }
}

/// The HTML part as a mail client shows it: parsed (html5ever, as
/// browsers do), with nothing a client would block or that needs the web
/// (no script, no external image), reduced to its visible text.
fn html_as_read(key: &str, html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    assert!(
        doc.errors.is_empty() || !html.is_empty(),
        "{key}: {:?}",
        doc.errors
    );
    let select = |s: &str| scraper::Selector::parse(s).expect("selector");
    assert_eq!(doc.select(&select("script")).count(), 0, "{key}: a script");
    for img in doc.select(&select("img")) {
        let src = img.value().attr("src").unwrap_or_default();
        assert!(
            src.starts_with("cid:") || src.starts_with("data:"),
            "{key}: an image from the web: {src}"
        );
    }
    assert!(
        doc.select(&select("title")).next().is_some(),
        "{key}: no title"
    );
    let body = doc.select(&select("body")).next().expect("body");
    let mut lines = Vec::new();
    for chunk in body.text() {
        let t = chunk.split_whitespace().collect::<Vec<_>>().join(" ");
        if !t.is_empty() {
            lines.push(t);
        }
    }
    lines.join("\n")
}

/// One message as the reader gets it: envelope, subject, text, and the
/// HTML's visible text.
fn as_received(n: &Notification) -> String {
    let list = |a: &[livesite_core::EmailAddress]| {
        a.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
    };
    let mut s = format!(
        "=== {} ({}) ===\nTo: {}\nCc: {}\nSubject: {}\n\n{}\n",
        n.topic,
        n.channel.as_str(),
        list(&n.to),
        list(&n.cc),
        n.subject,
        n.text.trim_end()
    );
    if let Some(html) = &n.html {
        s += &format!("--- HTML, as read ---\n{}\n", html_as_read(&n.key, html));
    }
    s + "\n"
}

#[tokio::test]
async fn every_kind_of_message_reads_as_pinned() {
    let all = every_message().await;
    let mut snapshot = String::from(
        "# Every kind of message livesite sends, one each (contoso's when it gets one).\n\
         # Written by tests/api/messages.rs; LIVESITE_UPDATE_SNAPSHOTS=1 rewrites it.\n\n",
    );
    for topic in Topic::ALL {
        let of_kind: Vec<&Notification> = all.iter().filter(|n| n.topic == topic).collect();
        let pick = of_kind
            .iter()
            .find(|n| readers(n) == ["contoso"])
            .or_else(|| of_kind.first())
            .unwrap_or_else(|| panic!("no {topic} message"));
        snapshot += &as_received(pick);
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/messages.txt");
    if std::env::var_os("LIVESITE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, &snapshot).expect("write");
    }
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    if pinned != snapshot {
        let first = pinned
            .lines()
            .zip(snapshot.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(pinned.lines().count().min(snapshot.lines().count()));
        panic!(
            "messages differ from {} at line {}:\n  pinned: {:?}\n  now:    {:?}\n(LIVESITE_UPDATE_SNAPSHOTS=1 after a deliberate change)",
            path.display(),
            first + 1,
            pinned.lines().nth(first),
            snapshot.lines().nth(first)
        );
    }
}

/// The monthly report email as SES receives it (SendRawEmail) and a mail
/// client reads it: the text, and as its alternative the HTML related to
/// two PNG charts, each shown by its Content-ID, each a real 640×200 image.
#[tokio::test]
async fn the_report_email_is_mime_with_its_charts_as_images() {
    use base64::Engine;
    use mail_parser::MimeHeaders;
    let all = every_message().await;
    let report = all
        .iter()
        .find(|n| n.topic == Topic::MonthlyReport && readers(n) == ["contoso"])
        .expect("contoso's report");
    let raw = livesite_aws::notify::mime(report, "livesite@dynamo.example").expect("mime");
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("parses");
    assert_eq!(parsed.subject(), Some(report.subject.as_str()));
    assert!(parsed
        .body_text(0)
        .is_some_and(|t| t.contains("Availability (SLA")));
    let html = parsed.body_html(0).expect("an HTML part").to_string();
    assert!(
        !html.contains("<svg"),
        "no inline SVG: mail clients drop it"
    );
    let images: Vec<(String, Vec<u8>)> = parsed
        .parts
        .iter()
        .filter(|p| p.content_type().is_some_and(|c| c.ctype() == "image"))
        .map(|p| {
            (
                p.content_id().unwrap_or_default().to_string(),
                p.contents().to_vec(),
            )
        })
        .collect();
    let ids: Vec<&str> = images.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["availability.png", "latency.png"]);
    for (id, bytes) in &images {
        assert!(html.contains(&format!("src=\"cid:{id}\"")), "{id} is shown");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().expect("a PNG");
        assert_eq!(
            (reader.info().width, reader.info().height),
            (640, 200),
            "{id}"
        );
    }
    let stored: usize = report.images.iter().map(|i| i.base64.len()).sum();
    assert!(
        stored < livesite_core::notify::MAX_IMAGE_BYTES,
        "{stored} bytes in the outbox item"
    );
    let first = base64::engine::general_purpose::STANDARD
        .decode(&report.images[0].base64)
        .expect("base64");
    assert_eq!(first, images[0].1, "the bytes sent are the bytes drawn");
    if let Some(dir) = std::env::var_os("LIVESITE_DUMP_CHARTS") {
        for (id, bytes) in &images {
            std::fs::write(std::path::Path::new(&dir).join(id), bytes).expect("dump");
        }
    }
}
