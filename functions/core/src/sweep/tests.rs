use super::*;
use crate::incident::{initial_response_due, IncidentKind, IncidentStatus};
use crate::notify::Channel;
use crate::testing::team;
use crate::BusinessCalendar;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn op(id: &str) -> Operator {
    crate::testing::madrid_operator(id)
}

fn incident(sev: Severity, opened: &str) -> Incident {
    let o = op("contoso");
    let opened = utc(opened);
    Incident {
        id: format!("contoso-{}", sev),
        operator: o.id.clone(),
        severity: sev,
        kind: IncidentKind::PortalDown,
        raised_by: Party::Team,
        owed_by: Party::Operator,
        status: IncidentStatus::Open,
        started_at: opened,
        opened_at: opened,
        resolved_at: None,
        summary: "s".into(),
        initial_response_due: initial_response_due(
            sev,
            opened,
            std::time::Duration::from_secs(3600),
            1,
            &o.calendar(),
        ),
        acknowledged_at: None,
        last_update_at: None,
        next_update_due: None,
        version: 0,
    }
}

fn keys(n: &[Notification]) -> Vec<String> {
    n.iter().map(|n| n.key.clone()).collect()
}

#[test]
fn high_initial_response_reminder_and_escalation_are_due_after_one_hour_only() {
    let ops = [op("contoso")];
    let i = incident(Severity::High, "2026-11-27T10:00:00Z");
    assert!(
        incident_reminders(
            std::slice::from_ref(&i),
            &ops,
            &team(),
            utc("2026-11-27T11:00:00Z")
        )
        .is_empty(),
        "exactly 1 h: not yet"
    );
    let due = incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-27T11:00:01Z"),
    );
    assert_eq!(
        keys(&due),
        vec![
            "contoso-high#reminder-initial",
            "contoso-high#page-escalate"
        ]
    );
    assert_eq!(due[1].channel, Channel::Page);
    let later = incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-27T15:00:00Z"),
    );
    assert_eq!(
        keys(&later),
        keys(&due),
        "same keys later: the outbox sends them once"
    );
    let mut acked = i;
    acked.acknowledge(utc("2026-11-27T10:59:00Z"), &ops[0].calendar());
    assert!(
        incident_reminders(&[acked], &ops, &team(), utc("2026-11-27T11:30:00Z")).is_empty(),
        "not after the acknowledgement"
    );
}

#[test]
fn low_clocks_run_on_business_days_across_weekends_holidays_and_zones() {
    let ops = [op("contoso")];
    // Low opened Friday 27 Nov 18:00 Madrid: due Monday 30 Nov 18:00 Madrid (17:00Z).
    let i = incident(Severity::Low, "2026-11-27T17:00:00Z");
    assert!(incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-30T17:00:00Z")
    )
    .is_empty());
    let due = incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-30T17:00:01Z"),
    );
    assert_eq!(
        keys(&due),
        vec!["contoso-low#reminder-initial"],
        "Low never pages"
    );
    // Opened Monday 7 Dec 18:00 Madrid, the 8th a holiday: due Wednesday 9th.
    let h = incident(Severity::Low, "2026-12-07T17:00:00Z");
    assert!(incident_reminders(
        std::slice::from_ref(&h),
        &ops,
        &team(),
        utc("2026-12-08T17:00:01Z")
    )
    .is_empty());
    assert_eq!(
        incident_reminders(&[h], &ops, &team(), utc("2026-12-09T17:00:01Z")).len(),
        1
    );
}

#[test]
fn update_reminders_once_per_missed_deadline() {
    let ops = [op("contoso")];
    let cal = ops[0].calendar();
    let mut i = incident(Severity::High, "2026-11-27T10:00:00Z");
    i.acknowledge(utc("2026-11-27T10:30:00Z"), &cal);
    // Friday 11:30 Madrid + 1 business day = Monday 11:30 Madrid (10:30Z).
    assert!(incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-30T10:30:00Z")
    )
    .is_empty());
    let first = incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-30T10:30:01Z"),
    );
    assert_eq!(
        keys(&first),
        vec!["contoso-high#reminder-update-20261130T103000Z"]
    );
    i.record_update(utc("2026-11-30T12:00:00Z"), &cal);
    assert!(incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-30T13:00:00Z")
    )
    .is_empty());
    let second = incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-12-01T12:00:01Z"),
    );
    assert_eq!(
        keys(&second),
        vec!["contoso-high#reminder-update-20261201T120000Z"],
        "a new deadline, a new key"
    );
    i.resolve(utc("2026-12-01T12:30:00Z"));
    assert!(
        incident_reminders(&[i], &ops, &team(), utc("2026-12-05T00:00:00Z")).is_empty(),
        "resolved: no clocks"
    );
}

#[test]
fn blindness_is_told_to_the_team_once_per_silence() {
    let ops = [op("contoso"), op("fabrikam")];
    let state = |id: &str, last: &str| {
        let mut s = MonitorState::new(OperatorId::new(id).unwrap());
        s.last_probe_at = Some(utc(last));
        s
    };
    let p = crate::config::Policy::default();
    let states = [
        state("contoso", "2026-11-27T10:00:00Z"),
        state("fabrikam", "2026-11-27T10:09:30Z"),
    ];
    let now = utc("2026-11-27T10:05:00Z");
    assert!(
        blindness(&ops, &states, &team(), &p, now).is_empty(),
        "exactly 5 minutes is not blind"
    );
    let one = blindness(&ops, &states, &team(), &p, utc("2026-11-27T10:10:00Z"));
    assert_eq!(keys(&one), vec!["contoso#blind-20261127T100000Z"]);
    assert_eq!(one[0].to, team().emails, "the team, not the operator");
    let all = blindness(&ops, &states, &team(), &p, utc("2026-11-27T10:20:00Z"));
    assert_eq!(
        keys(&all),
        vec!["fleet#blind-20261127T100930Z"],
        "one alert when the whole monitor is blind"
    );
}

/// contoso's window of 10 December, 01:00 to 03:00 UTC.
fn window(op: &OperatorId) -> Maintenance {
    Maintenance {
        id: "contoso-20261210T010000Z-maintenance".into(),
        announcer: Announcer::Operator(op.clone()),
        start: utc("2026-12-10T01:00:00Z"),
        end: utc("2026-12-10T03:00:00Z"),
        description: "d".into(),
        services: vec![],
        announced_at: utc("2026-12-01T00:00:00Z"),
        lead_business_days: 6,
        late: false,
        approved_at: None,
        over_limit: None,
        status: MaintenanceStatus::Announced,
        completed_at: None,
        cancelled_at: None,
    }
}

#[test]
fn reminders_name_the_deadline_and_go_to_the_right_contacts() {
    let ops = [op("fabrikam"), op("contoso")];
    let i = incident(Severity::High, "2026-11-27T10:00:00Z");
    let due = incident_reminders(
        std::slice::from_ref(&i),
        &ops,
        &team(),
        utc("2026-11-27T11:00:01Z"),
    );
    assert!(
        due[0]
            .text
            .contains("was due at 2026-11-27 12:00:00 CET (11:00:00 UTC)"),
        "{}",
        due[0].text
    );
    assert_eq!(due[0].to, ops[1].contacts);
    assert_eq!(due[0].from, Some(team().sender));
    assert_eq!((due[1].from.clone(), due[1].to.len()), (None, 0), "a page");
    // What the operator raised is the team's to answer: reminders go to
    // the team only, and the escalation says to answer the operator.
    let mut report = i.clone();
    report.owed_by = Party::Team;
    let due = incident_reminders(&[report], &ops, &team(), utc("2026-11-27T11:00:01Z"));
    assert_eq!((due[0].to.clone(), due[0].cc.len()), (team().emails, 0));
    assert!(
        due[0].subject.contains("from the DYNAMO team"),
        "{}",
        due[0].subject
    );
    assert!(due[1].text.contains("answer contoso"), "{}", due[1].text);
    let mut later = i.clone();
    later.owed_by = Party::Team;
    later.acknowledge(utc("2026-11-27T10:30:00Z"), &BusinessCalendar::default());
    let due = incident_reminders(&[later], &ops, &team(), utc("2026-11-30T10:30:01Z"));
    assert_eq!(
        (due.len(), due[0].to.clone()),
        (1, team().emails),
        "update overdue"
    );
    let m = window(&ops[1].id);
    let overrun = maintenance_overruns(&[m], &ops, &team(), utc("2026-12-10T04:00:00Z"));
    assert_eq!(overrun[0].to, ops[1].contacts, "the announcing operator's");
    assert!(
        overrun[0]
            .text
            .contains("to end at 2026-12-10 04:00:00 CET (03:00:00 UTC)"),
        "in the announcing operator's zone: {}",
        overrun[0].text
    );
}

#[test]
fn a_location_silent_for_every_portal_is_told_once() {
    let seen = |op: &str, loc: &str, at: &str| {
        let mut s = MonitorState::new(OperatorId::new(op).unwrap());
        s.location_seen = vec![crate::evaluate::quorum::LocationRun {
            location: loc.into(),
            since: utc(at),
        }];
        s
    };
    let states = [
        seen("contoso", "agent-1", "2026-11-27T10:00:00Z"),
        seen("fabrikam", "agent-1", "2026-11-27T10:02:00Z"),
        seen("contoso", "eu-west-1", "2026-11-27T10:09:30Z"),
    ];
    let p = crate::config::Policy::default();
    // 5 minutes after agent-1's latest vote (for any portal): not yet.
    assert!(silent_locations(&states, &[], &team(), &p, utc("2026-11-27T10:07:00Z")).is_empty());
    let due = silent_locations(&states, &[], &team(), &p, utc("2026-11-27T10:07:01Z"));
    assert_eq!(due.len(), 1, "agent-1 alone");
    assert!(due[0].subject.contains("agent-1") && due[0].key.ends_with("20261127T100200Z"));
    assert_eq!(due[0].to, team().emails);
}

#[test]
fn a_listed_location_never_heard_from_is_told_once_a_day_while_the_others_vote() {
    let seen = |loc: &str, at: &str| {
        let mut s = MonitorState::new(OperatorId::new("contoso").unwrap());
        s.location_seen = vec![crate::evaluate::quorum::LocationRun {
            location: loc.into(),
            since: utc(at),
        }];
        s
    };
    let expected: Vec<String> = ["us-east-1", "eu-west-1", "ap-southeast-2"]
        .map(String::from)
        .to_vec();
    let p = crate::config::Policy::default();
    let never = |states: &[MonitorState], now: &str| -> Vec<String> {
        silent_locations(states, &expected, &team(), &p, utc(now))
            .into_iter()
            .filter(|n| n.key.contains("#never-"))
            .map(|n| n.key)
            .collect()
    };
    let states = [
        seen("us-east-1", "2026-11-27T10:00:00Z"),
        seen("eu-west-1", "2026-11-27T09:00:00Z"),
    ];
    assert_eq!(
        never(&states, "2026-11-27T10:05:00Z"),
        vec!["location-ap-southeast-2#never-20261127"],
        "us-east-1 voted within 5 minutes; ap-southeast-2 never has (eu-west-1 has, once)"
    );
    assert!(
        never(&states, "2026-11-27T10:05:01Z").is_empty(),
        "no location voted within 5 minutes: that is blindness, told on its own"
    );
    let fresh = [
        seen("us-east-1", "2026-11-28T10:00:00Z"),
        seen("eu-west-1", "2026-11-28T10:00:00Z"),
    ];
    assert_eq!(
        never(&fresh, "2026-11-28T10:00:30Z"),
        vec!["location-ap-southeast-2#never-20261128"],
        "the next day, told again"
    );
    let all = [
        fresh[0].clone(),
        fresh[1].clone(),
        seen("ap-southeast-2", "2026-11-28T10:00:00Z"),
    ];
    assert!(
        never(&all, "2026-11-28T10:00:30Z").is_empty(),
        "once it votes"
    );
    let due = silent_locations(&fresh, &expected, &team(), &p, utc("2026-11-28T10:00:30Z"));
    assert_eq!(due.len(), 1);
    assert!(due[0]
        .subject
        .contains("ap-southeast-2 is expected and has never voted"));
    assert_eq!(due[0].to, team().emails);
}

#[test]
fn overruns_and_certificates() {
    let ops = [op("contoso")];
    let m = window(&ops[0].id);
    assert!(maintenance_overruns(
        std::slice::from_ref(&m),
        &ops,
        &team(),
        utc("2026-12-10T03:00:00Z")
    )
    .is_empty());
    assert_eq!(
        maintenance_overruns(
            std::slice::from_ref(&m),
            &ops,
            &team(),
            utc("2026-12-10T03:00:01Z")
        )
        .len(),
        1
    );
    let mut done = m;
    done.complete(utc("2026-12-10T02:30:00Z")).unwrap();
    assert!(maintenance_overruns(&[done], &ops, &team(), utc("2026-12-11T00:00:00Z")).is_empty());

    let mut s = MonitorState::new(ops[0].id.clone());
    s.cert_expires_at = Some(utc("2026-12-20T00:00:00Z"));
    let p = crate::config::Policy::default();
    assert!(certificate_warnings(
        &ops,
        std::slice::from_ref(&s),
        &team(),
        &p,
        utc("2026-11-28T00:00:00Z")
    )
    .is_empty());
    let w = certificate_warnings(&ops, &[s], &team(), &p, utc("2026-11-29T00:00:00Z"));
    assert_eq!(keys(&w), vec!["contoso#cert-20261220T000000Z"]);
}
