use super::*;
use crate::config::PortalCheck;
use crate::evaluate::OpenRef;
use crate::incident::{Incident, IncidentStatus, Party};
use crate::testing::team;

fn op() -> Operator {
    Operator {
        id: OperatorId::new("contoso").unwrap(),
        name: "Contoso\r\nBcc: evil@x.example Mobile".into(),
        portal: PortalCheck::new("https://portal.contoso.example/".parse().unwrap()),
        contacts: vec![EmailAddress::parse("noc@contoso.example").unwrap()],
        timezone: chrono_tz::Tz::UTC,
        holidays: Default::default(),
        workdays: crate::calendar::default_workdays(),
        maintenance: vec![],
        api_clients: vec![],
        escalation_phones: vec![],
        agents: vec![],
    }
}

fn incident(sev: Severity) -> Incident {
    let t: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
    Incident {
        id: "contoso-20261127T100000Z-portal_down".into(),
        operator: op().id,
        severity: sev,
        kind: IncidentKind::PortalDown,
        raised_by: Party::Team,
        owed_by: Party::Operator,
        status: IncidentStatus::Open,
        started_at: t,
        opened_at: t + chrono::Duration::seconds(1830),
        resolved_at: None,
        summary: "down".into(),
        initial_response_due: t + chrono::Duration::seconds(1830 + 3600),
        acknowledged_at: None,
        last_update_at: None,
        next_update_due: None,
        version: 0,
    }
}

#[test]
fn the_answer_owed_states_the_policys_numbers() {
    let table = [
        (3600, "1 hour"),
        (7200, "2 hours"),
        (5400, "90 minutes"),
        (86_400, "1 day"),
        (7 * 86_400, "1 week"),
        (14 * 86_400, "2 weeks"),
        (30, "1 minute"),
        (0, "0 minutes"),
    ];
    for (secs, text) in table {
        assert_eq!(humane(std::time::Duration::from_secs(secs)), text);
    }
    let p = Policy::default();
    assert_eq!(
            answer_owed(Severity::High, &p),
            "Initial response expected within 1 hour; then an update every business day until resolution."
        );
    assert_eq!(
            answer_owed(Severity::Low, &p),
            "Initial response expected within 1 business day; then an update every week until resolution."
        );
    let slower = Policy {
        high_initial_response: std::time::Duration::from_secs(5400),
        low_initial_response_business_days: 2,
        ..Policy::default()
    };
    assert!(answer_owed(Severity::High, &slower).contains("within 90 minutes;"));
    assert!(answer_owed(Severity::Low, &slower).contains("within 2 business days;"));
    assert_eq!(every_business_days(2), "2 business days");
}

#[test]
fn pages_and_emails_are_built_one_way() {
    let t = team();
    let op = OperatorId::new("contoso").unwrap();
    let at: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
    let page = Notification::page(Page {
        key: "k".into(),
        topic: Topic::Escalation,
        operator: &op,
        incident: Some("i"),
        severity: Severity::High,
        subject: "a\r\nb".into(),
        text: "x".repeat(300),
        at,
    });
    assert_eq!(
        (page.channel, page.from.clone(), page.to.len()),
        (Channel::Page, None, 0)
    );
    assert_eq!(page.text.chars().count(), 160);
    assert_eq!(page.subject, "a b");
    assert_eq!(page.incident_id.as_deref(), Some("i"));
    let mail = Notification::email(
        Email {
            key: "m".into(),
            topic: Topic::MonthlyReport,
            operator: &op,
            incident: None,
            severity: None,
            to: vec![],
            cc: t.emails.clone(),
            subject: "s".into(),
            text: "body".into(),
            at,
        },
        &t,
    )
    .with_html("<p>".into());
    assert_eq!(
        (mail.channel, mail.from.clone()),
        (Channel::Email, Some(t.sender.clone()))
    );
    assert_eq!((mail.html.as_deref(), mail.created_at), (Some("<p>"), at));
    assert_eq!(Topic::MonthlyReport.to_string(), "monthly_report");
}

#[test]
fn a_failed_send_is_retried_doubling_from_30_seconds_to_30_minutes() {
    let t: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
    let waits: Vec<Option<i64>> = (1..=MAX_ATTEMPTS)
        .map(|n| next_attempt(n, t).map(|at| (at - t).num_seconds()))
        .collect();
    assert_eq!(
        waits,
        [
            Some(30),
            Some(60),
            Some(120),
            Some(240),
            Some(480),
            Some(960),
            Some(1800),
            None
        ]
    );
    assert_eq!(next_attempt(0, t), Some(t + chrono::Duration::seconds(30)));
}

#[test]
fn a_header_keeps_200_characters() {
    assert_eq!(header_safe(&"x".repeat(200)), "x".repeat(200));
    let cut = header_safe(&"x".repeat(201));
    assert_eq!(cut.chars().count(), 200);
    assert!(cut.ends_with('…'));
    assert_eq!(
        ts("2026-11-27T10:00:05Z".parse().unwrap()),
        "2026-11-27 10:00:05 UTC"
    );
    assert_eq!(
        (Channel::Page.as_str(), Channel::Email.as_str()),
        ("page", "email")
    );
}

#[test]
fn a_topic_is_stored_and_sent_under_one_name() {
    use Topic::*;
    // Exhaustive: a new topic does not compile here until it is named, and
    // then fails until `Topic::ALL` lists it.
    let name = |t: Topic| match t {
        IncidentOpened => "incident_opened",
        IncidentResolved => "incident_resolved",
        MonitorGap => "monitor_gap",
        BudgetBurn => "budget_burn",
        OutageReported => "outage_reported",
        OutageNotice => "outage_notice",
        OutageNoticeResolved => "outage_notice_resolved",
        InformationRequest => "information_request",
        IncidentRaised => "incident_raised",
        IncidentAnswered => "incident_answered",
        MaintenanceAnnounced => "maintenance_announced",
        MaintenanceApproved => "maintenance_approved",
        MaintenanceCompleted => "maintenance_completed",
        MaintenanceCancelled => "maintenance_cancelled",
        MaintenanceOverrun => "maintenance_overrun",
        BugReported => "bug_reported",
        BugTriaged => "bug_triaged",
        BugScheduled => "bug_scheduled",
        BugDeployed => "bug_deployed",
        MonthlyReport => "monthly_report",
        InitialResponseOverdue => "initial_response_overdue",
        UpdateOverdue => "update_overdue",
        Escalation => "escalation",
        MonitorBlind => "monitor_blind",
        CertificateExpiry => "certificate_expiry",
        Undeliverable => "undeliverable",
    };
    let names: std::collections::BTreeSet<&str> = Topic::ALL.iter().map(|t| name(*t)).collect();
    assert_eq!(names.len(), Topic::ALL.len(), "listed once each");
    for topic in Topic::ALL {
        assert_eq!(topic.as_str(), name(topic));
        assert_eq!(
            serde_json::to_value(topic).unwrap(),
            name(topic),
            "stored as sent"
        );
    }
}

#[test]
fn routing_table() {
    let o = op();
    let high = render(
        &Event::IncidentOpened {
            incident: incident(Severity::High),
            reason: None,
        },
        &o,
        &team(),
        &Policy::default(),
    );
    let chans: Vec<_> = high.iter().map(|n| n.channel).collect();
    assert_eq!(chans, vec![Channel::Page, Channel::Email]);
    let low = render(
        &Event::IncidentOpened {
            incident: incident(Severity::Low),
            reason: None,
        },
        &o,
        &team(),
        &Policy::default(),
    );
    assert_eq!(
        low.iter().map(|n| n.channel).collect::<Vec<_>>(),
        vec![Channel::Email]
    );
    assert_eq!(low[0].to, o.contacts);
    assert_eq!(low[0].cc, team().emails);
    let i = incident(Severity::High);
    let resolved = render(
        &Event::IncidentResolved {
            incident: OpenRef {
                id: i.id.clone(),
                severity: i.severity,
                kind: i.kind,
                started_at: i.started_at,
                opened_at: i.opened_at,
            },
            operator: o.id.clone(),
            resolved_at: i.opened_at + chrono::Duration::minutes(5),
        },
        &o,
        &team(),
        &Policy::default(),
    );
    assert_eq!(resolved.len(), 2);
    let keys: std::collections::HashSet<_> = high
        .iter()
        .chain(&resolved)
        .map(|n| n.key.clone())
        .collect();
    assert_eq!(keys.len(), 4, "every message has its own key");
    let gap = render(
        &Event::MonitorGap {
            operator: o.id.clone(),
            from: i.started_at,
            to: i.opened_at,
        },
        &o,
        &team(),
        &Policy::default(),
    );
    assert_eq!(gap[0].to, team().emails, "gaps go to the team only");
}

#[test]
fn subjects_cannot_carry_headers_and_pages_fit_an_sms() {
    let all = render(
        &Event::IncidentOpened {
            incident: incident(Severity::High),
            reason: None,
        },
        &op(),
        &team(),
        &Policy::default(),
    );
    for n in &all {
        assert!(
            !n.subject.contains('\n') && !n.subject.contains('\r'),
            "{:?}",
            n.subject
        );
    }
    assert!(all[0].text.chars().count() <= 160, "{}", all[0].text);
    assert_eq!(header_safe(&"x".repeat(500)).chars().count(), 200);
}

/// High means a phone call: the page names the operator's number, and
/// every High email to an operator names the operations centre's line.
#[test]
fn a_high_incident_names_whom_to_call() {
    let phone = crate::PhoneNumber::parse("+34912345678").unwrap();
    let centre = crate::PhoneNumber::parse("+14255389336").unwrap();
    let mut longest = op();
    longest.id = OperatorId::new("o".repeat(OperatorId::MAX_LEN)).unwrap();
    // (operator phones, team line, severity, page says, email says the line)
    let cases = [
        (
            vec![phone.clone()],
            Some(centre.clone()),
            Severity::High,
            Some("Call +34912345678."),
            true,
        ),
        (
            vec![],
            Some(centre.clone()),
            Severity::High,
            Some("No escalation phone on record"),
            true,
        ),
        (
            vec![phone.clone()],
            None,
            Severity::High,
            Some("Call +34912345678."),
            false,
        ),
        (
            vec![phone.clone()],
            Some(centre.clone()),
            Severity::Low,
            None,
            false,
        ),
    ];
    for (phones, line, sev, page, footer) in cases {
        for base in [op(), longest.clone()] {
            let mut o = base;
            o.escalation_phones = phones.clone();
            let mut i = incident(sev);
            i.operator = o.id.clone();
            i.id = format!("{}-20261127T100000Z-portal_down", o.id);
            let t = Team {
                phone: line.clone(),
                ..team()
            };
            let out = render(
                &Event::IncidentOpened {
                    incident: i,
                    reason: None,
                },
                &o,
                &t,
                &Policy::default(),
            );
            let paged = out.iter().find(|n| n.channel == Channel::Page);
            assert_eq!(paged.is_some(), page.is_some());
            if let (Some(n), Some(says)) = (paged, page) {
                assert!(n.text.contains(says), "{}", n.text);
                assert!(n.text.chars().count() <= 160, "{}", n.text);
            }
            let mail = out.iter().find(|n| n.channel == Channel::Email).unwrap();
            assert_eq!(
                mail.text.contains("operations centre, +14255389336"),
                footer,
                "{}",
                mail.text
            );
        }
    }
    // The team's own High mail does not tell the team its own number.
    let t = Team {
        phone: Some(centre),
        ..team()
    };
    let own = Notification::email(
        Email {
            key: "k".into(),
            topic: Topic::OutageReported,
            operator: &op().id,
            incident: None,
            severity: Some(Severity::High),
            to: t.emails.clone(),
            cc: vec![],
            subject: "s".into(),
            text: "t".into(),
            at: "2026-11-27T10:00:00Z".parse().unwrap(),
        },
        &t,
    );
    assert_eq!(own.text, "t");
    // (topic, to the operator or to the team with the operator in copy,
    // footer): only what asks the operator to act now names the line.
    let operator = vec![EmailAddress::parse("noc@contoso.example").unwrap()];
    let cases = [
        (Topic::IncidentOpened, true, true),
        (Topic::Escalation, true, true),
        (Topic::IncidentAnswered, true, false),
        (Topic::IncidentResolved, true, false),
        (Topic::IncidentOpened, false, false),
    ];
    for (topic, to_operator, footer) in cases {
        let (to, cc) = if to_operator {
            (operator.clone(), t.emails.clone())
        } else {
            (t.emails.clone(), operator.clone())
        };
        let n = Notification::email(
            Email {
                key: "k".into(),
                topic,
                operator: &op().id,
                incident: None,
                severity: Some(Severity::High),
                to,
                cc,
                subject: "s".into(),
                text: "t".into(),
                at: "2026-11-27T10:00:00Z".parse().unwrap(),
            },
            &t,
        );
        assert_eq!(n.text != "t", footer, "{topic} to operator {to_operator}");
    }
}

#[test]
fn a_page_cut_to_one_sms_keeps_its_incident_id_whole() {
    let id = "contoso-20261127T094500Z-report";
    let long = format!("ESCALATION contoso: {} {id}", "word ".repeat(40));
    let cut = page_text_keeping(&long, Some(id));
    assert!(cut.chars().count() <= 160, "{cut}");
    assert!(cut.ends_with(&format!("… {id}")), "{cut}");
    assert_eq!(
        page_text_keeping("short page x-1", Some("x-1")),
        "short page x-1"
    );
    assert!(page_text_keeping(&long, None).ends_with('…'));
}

#[test]
fn times_read_in_the_readers_zone_with_utc_beside_and_spans_as_people_say_them() {
    let t: DateTime<Utc> = "2026-11-27T23:30:00Z".parse().unwrap();
    assert_eq!(when(t, chrono_tz::Tz::UTC), "2026-11-27 23:30:00 UTC");
    assert_eq!(
        when(t, chrono_tz::Europe::Madrid),
        "2026-11-28 00:30:00 CET (2026-11-27 23:30:00 UTC)"
    );
    assert_eq!(
        when(t - chrono::Duration::hours(5), chrono_tz::Europe::Madrid),
        "2026-11-27 19:30:00 CET (18:30:00 UTC)"
    );
    for (minutes, said) in [
        (0, "under a minute"),
        (1, "1 minute"),
        (119, "119 minutes"),
        (125, "2 hours 5 minutes"),
        (15900, "11 days 1 hour"),
        (2880, "2 days 0 hours"),
    ] {
        assert_eq!(span(chrono::Duration::minutes(minutes)), said);
    }
}
