use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn incident(severity: Severity, opened: &str, cal: &BusinessCalendar) -> Incident {
    let opened = utc(opened);
    Incident {
        id: "x".into(),
        operator: OperatorId::new("contoso").unwrap(),
        severity,
        kind: IncidentKind::PortalDown,
        raised_by: Party::Team,
        owed_by: Party::Operator,
        status: IncidentStatus::Open,
        started_at: opened,
        opened_at: opened,
        resolved_at: None,
        summary: String::new(),
        initial_response_due: initial_response_due(
            severity,
            opened,
            std::time::Duration::from_secs(3600),
            1,
            cal,
        ),
        acknowledged_at: None,
        last_update_at: None,
        next_update_due: None,
        version: 0,
    }
}

#[test]
fn an_acknowledgement_at_the_deadline_is_on_time() {
    let cal = BusinessCalendar::default();
    let mut i = incident(Severity::High, "2026-11-27T10:00:00Z", &cal);
    assert!(!i.initial_response_overdue(utc("2026-11-27T11:00:00Z")));
    assert!(i.initial_response_overdue(utc("2026-11-27T11:00:01Z")));
    let mut on_time = i.clone();
    on_time.acknowledge(utc("2026-11-27T11:00:00Z"), &cal);
    assert!(!on_time.initial_response_overdue(utc("2026-11-28T00:00:00Z")));
    i.acknowledge(utc("2026-11-27T11:00:01Z"), &cal);
    assert!(i.initial_response_overdue(utc("2026-11-28T00:00:00Z")));
}

#[test]
fn clocks_table() {
    let cal = BusinessCalendar::new(chrono_tz::Europe::Madrid, ["2026-12-08".parse().unwrap()]);
    // (severity, opened, initial due, ack at, next update due after the ack)
    let cases = [
        // High on a Friday evening: 1 hour, whatever the day; the next update
        // is one business day after the ack, i.e. Monday.
        (
            Severity::High,
            "2026-11-27T19:00:00Z",
            "2026-11-27T20:00:00Z",
            "2026-11-27T19:30:00Z",
            "2026-11-30T19:30:00Z",
        ),
        // High acked the evening before a holiday: update due the day after it.
        (
            Severity::High,
            "2026-12-07T17:00:00Z",
            "2026-12-07T18:00:00Z",
            "2026-12-07T17:10:00Z",
            "2026-12-09T17:10:00Z",
        ),
        // Low on a Friday evening: initial response due Monday evening; updates weekly.
        (
            Severity::Low,
            "2026-11-27T17:00:00Z",
            "2026-11-30T17:00:00Z",
            "2026-11-30T09:00:00Z",
            "2026-12-07T09:00:00Z",
        ),
        // Low opened on Saturday: due at the end of Monday, local time.
        (
            Severity::Low,
            "2026-11-28T12:00:00Z",
            "2026-11-30T23:00:00Z",
            "2026-11-30T08:00:00Z",
            "2026-12-07T08:00:00Z",
        ),
    ];
    for (sev, opened, due, ack, next) in cases {
        let mut i = incident(sev, opened, &cal);
        assert_eq!(i.initial_response_due, utc(due), "{sev} {opened}");
        assert!(!i.initial_response_overdue(utc(due)));
        assert!(i.initial_response_overdue(utc(due) + Duration::seconds(1)));
        i.acknowledge(utc(ack), &cal);
        assert_eq!(i.next_update_due, Some(utc(next)), "{sev} {opened} next");
        assert!(!i.initial_response_overdue(utc(due) + Duration::days(30)));
    }
}

/// The edges of the clocks, on the owing side's calendar: holidays,
/// midnight, DST both ways, a Sunday-to-Thursday week.
#[test]
fn clock_edges_table() {
    let madrid = BusinessCalendar::new(chrono_tz::Europe::Madrid, ["2026-12-08".parse().unwrap()]);
    let riyadh = BusinessCalendar {
        workdays: vec![
            chrono::Weekday::Sun,
            chrono::Weekday::Mon,
            chrono::Weekday::Tue,
            chrono::Weekday::Wed,
            chrono::Weekday::Thu,
        ],
        ..BusinessCalendar::new(chrono_tz::Asia::Riyadh, [])
    };
    let new_york = BusinessCalendar::new(chrono_tz::America::New_York, []);
    // (calendar, severity, opened, initial due, acked at, next update due)
    let cases = [
        // Low opened the evening before a holiday (Mon 7 Dec, 18:00 Madrid): Wednesday 18:00.
        (
            &madrid,
            Severity::Low,
            "2026-12-07T17:00:00Z",
            "2026-12-09T17:00:00Z",
            "2026-12-07T18:00:00Z",
            "2026-12-14T18:00:00Z",
        ),
        // Low opened on the holiday itself: from Wednesday 00:00 to Thursday 00:00 Madrid.
        (
            &madrid,
            Severity::Low,
            "2026-12-08T10:00:00Z",
            "2026-12-09T23:00:00Z",
            "2026-12-09T08:00:00Z",
            "2026-12-16T08:00:00Z",
        ),
        // Opened at local midnight on a business day: the day counts, due the next midnight.
        (
            &madrid,
            Severity::Low,
            "2026-12-01T23:00:00Z",
            "2026-12-02T23:00:00Z",
            "2026-12-02T08:00:00Z",
            "2026-12-09T08:00:00Z",
        ),
        // Weekly across the autumn change (25 Oct 2026): 10:00 CEST to 10:00 CET, 169 hours.
        (
            &madrid,
            Severity::Low,
            "2026-10-20T08:00:00Z",
            "2026-10-21T08:00:00Z",
            "2026-10-20T08:00:00Z",
            "2026-10-27T09:00:00Z",
        ),
        // Weekly across the spring change (28 Mar 2027): 10:00 CET to 10:00 CEST, 167 hours.
        (
            &madrid,
            Severity::Low,
            "2027-03-24T09:00:00Z",
            "2027-03-25T09:00:00Z",
            "2027-03-24T09:00:00Z",
            "2027-03-31T08:00:00Z",
        ),
        // Weekly onto a time the spring change skips (02:30 on 14 Mar 2027 in New York): 03:00.
        (
            &new_york,
            Severity::Low,
            "2027-03-05T12:00:00Z",
            "2027-03-08T12:00:00Z",
            "2027-03-07T07:30:00Z",
            "2027-03-14T07:00:00Z",
        ),
        // High update across the autumn change in New York (1 Nov 2026): Friday 09:00 EDT to Monday 09:00 EST.
        (
            &new_york,
            Severity::High,
            "2026-10-30T12:30:00Z",
            "2026-10-30T13:30:00Z",
            "2026-10-30T13:00:00Z",
            "2026-11-02T14:00:00Z",
        ),
        // Sunday-to-Thursday: Low opened Thursday 17:00 Riyadh is due Sunday 17:00.
        (
            &riyadh,
            Severity::Low,
            "2026-12-03T14:00:00Z",
            "2026-12-06T14:00:00Z",
            "2026-12-06T06:00:00Z",
            "2026-12-13T06:00:00Z",
        ),
        // Opened on its Friday: from Sunday 00:00 to Monday 00:00 Riyadh.
        (
            &riyadh,
            Severity::Low,
            "2026-12-04T09:00:00Z",
            "2026-12-06T21:00:00Z",
            "2026-12-06T06:00:00Z",
            "2026-12-13T06:00:00Z",
        ),
        // High acked Thursday 10:00 Riyadh: the next update is Sunday 10:00.
        (
            &riyadh,
            Severity::High,
            "2026-12-03T06:00:00Z",
            "2026-12-03T07:00:00Z",
            "2026-12-03T07:00:00Z",
            "2026-12-06T07:00:00Z",
        ),
    ];
    for (cal, sev, opened, due, ack, next) in cases {
        let mut i = incident(sev, opened, cal);
        assert_eq!(
            i.initial_response_due,
            utc(due),
            "{} {sev} opened {opened}",
            cal.timezone
        );
        i.acknowledge(utc(ack), cal);
        assert_eq!(
            i.next_update_due,
            Some(utc(next)),
            "{} {sev} acked {ack}",
            cal.timezone
        );
    }
}

#[test]
fn resolution_stops_update_clock() {
    let cal = BusinessCalendar::default();
    let mut i = incident(Severity::High, "2026-11-24T10:00:00Z", &cal);
    i.acknowledge(utc("2026-11-24T10:20:00Z"), &cal);
    i.resolve(utc("2026-11-24T12:00:00Z"));
    assert_eq!(i.next_update_due, None);
    i.record_update(utc("2026-11-24T13:00:00Z"), &cal);
    assert_eq!(
        i.next_update_due, None,
        "a closing note on a resolved incident starts no clock"
    );
}

#[test]
fn records_without_sides_read_with_the_side_their_kind_implies() {
    let cal = BusinessCalendar::default();
    let base =
        serde_json::to_value(incident(Severity::High, "2026-11-27T10:00:00Z", &cal)).unwrap();
    // (stored kind, owed_by, raised_by written or absent, expected owed, expected raised)
    let cases = [
        ("portal_down", None, None, Party::Operator, Party::Team),
        ("flapping", None, None, Party::Operator, Party::Team),
        ("outage_report", None, None, Party::Team, Party::Operator),
        (
            "information_request",
            None,
            None,
            Party::Team,
            Party::Operator,
        ),
        (
            "reporting_failure",
            None,
            None,
            Party::Operator,
            Party::Team,
        ),
        // Written by this version: what is stored wins.
        (
            "information_request",
            Some("operator"),
            Some("team"),
            Party::Operator,
            Party::Team,
        ),
    ];
    for (kind, owed, raised, want_owed, want_raised) in cases {
        let mut v = base.clone();
        let fields = v.as_object_mut().unwrap();
        fields.remove("owed_by");
        fields.remove("raised_by");
        fields.insert("kind".into(), kind.into());
        if let (Some(o), Some(r)) = (owed, raised) {
            fields.insert("owed_by".into(), o.into());
            fields.insert("raised_by".into(), r.into());
        }
        let read: Incident = serde_json::from_value(v).unwrap();
        assert_eq!(
            (read.owed_by, read.raised_by),
            (want_owed, want_raised),
            "{kind}"
        );
        let again: Incident = serde_json::from_value(serde_json::to_value(&read).unwrap()).unwrap();
        assert_eq!(again, read, "{kind} round trip");
    }
    let mut bad = base.clone();
    bad.as_object_mut().unwrap().remove("owed_by");
    bad["kind"] = "nonsense".into();
    assert!(serde_json::from_value::<Incident>(bad).is_err());
}

#[test]
fn the_owing_side_and_the_team_answer() {
    let cal = BusinessCalendar::default();
    let team_cal = BusinessCalendar::new(chrono_tz::Asia::Tokyo, []);
    let mut i = incident(Severity::Low, "2026-11-27T10:00:00Z", &cal);
    // (owed by, may the operator answer, may the team, whose calendar)
    for (owed, operator, team, tz) in [
        (Party::Operator, true, true, chrono_tz::UTC),
        (Party::Team, false, true, chrono_tz::Asia::Tokyo),
    ] {
        i.owed_by = owed;
        assert_eq!(i.answerable_by(Party::Operator), operator, "{owed:?}");
        assert_eq!(i.answerable_by(Party::Team), team, "{owed:?}");
        assert_eq!(i.calendar(&cal, &team_cal).timezone, tz, "{owed:?}");
    }
}

#[test]
fn answers_table() {
    let cal = BusinessCalendar::default();
    let at = utc("2026-11-27T10:30:00Z");
    let open = |owed: Party, kind: IncidentKind| {
        let mut i = incident(Severity::Low, "2026-11-27T10:00:00Z", &cal);
        (i.owed_by, i.kind, i.raised_by) = (owed, kind, owed.other());
        if kind.is_monitored() {
            i.raised_by = Party::Team;
        }
        i
    };
    let mut resolved = open(Party::Team, IncidentKind::OutageReport);
    resolved.resolve(at);
    use Party::{Operator as Op, Team};
    // (incident, side, answer, outcome)
    let cases: Vec<(Incident, Party, Answer, Result<(), Refusal>)> = vec![
        (
            open(Op, IncidentKind::PortalDown),
            Op,
            Answer::Acknowledge,
            Ok(()),
        ),
        (
            open(Op, IncidentKind::PortalDown),
            Team,
            Answer::Acknowledge,
            Ok(()),
        ),
        (
            open(Op, IncidentKind::PortalDown),
            Op,
            Answer::Resolve,
            Err(Refusal::Monitored),
        ),
        (
            open(Op, IncidentKind::PortalDown),
            Team,
            Answer::Resolve,
            Err(Refusal::Monitored),
        ),
        (
            open(Team, IncidentKind::OutageReport),
            Op,
            Answer::Acknowledge,
            Err(Refusal::NotOwed(Team)),
        ),
        // The reporter adds to its own report and may close it, but never
        // answers for the team.
        (
            open(Team, IncidentKind::OutageReport),
            Op,
            Answer::Update,
            Ok(()),
        ),
        (
            open(Team, IncidentKind::OutageReport),
            Op,
            Answer::Resolve,
            Ok(()),
        ),
        (
            open(Team, IncidentKind::InformationRequest),
            Op,
            Answer::Resolve,
            Ok(()),
        ),
        // The monitor's incident the team owes (a location's path): not the operator's.
        (
            open(Team, IncidentKind::LocationPath),
            Op,
            Answer::Update,
            Err(Refusal::NotOwed(Team)),
        ),
        (
            open(Team, IncidentKind::OutageReport),
            Team,
            Answer::Resolve,
            Ok(()),
        ),
        (
            open(Op, IncidentKind::ReportingFailure),
            Op,
            Answer::Resolve,
            Ok(()),
        ),
        (
            open(Op, IncidentKind::ReportingFailure),
            Team,
            Answer::Update,
            Ok(()),
        ),
        (
            resolved.clone(),
            Team,
            Answer::Update,
            Err(Refusal::Resolved),
        ),
        (resolved, Op, Answer::Update, Err(Refusal::Resolved)),
    ];
    for (mut i, side, answer, want) in cases {
        let before = i.clone();
        let got = i.answer(side, answer, at, &cal).map(|_| ());
        assert_eq!(got, want, "{:?} {:?} by {side:?}", i.kind, answer);
        match got {
            Err(_) => assert_eq!(i, before, "a refusal changes nothing"),
            Ok(()) if before.adds_as_raiser(side) => {
                // The owing side's clocks run on: nothing it owes was answered.
                assert_eq!(i.acknowledged_at, None);
                assert_eq!(i.initial_response_due, before.initial_response_due);
                assert_eq!(i.is_open(), answer != Answer::Resolve);
            }
            Ok(()) => {
                assert_eq!(i.acknowledged_at, Some(at));
                assert_eq!(i.is_open(), answer != Answer::Resolve);
            }
        }
    }
}

#[test]
fn an_opening_is_owed_by_the_side_that_did_not_raise_it() {
    let op = OperatorId::new("contoso").unwrap();
    for raised in [Party::Team, Party::Operator] {
        let i = Incident::open(
            Opening {
                form: IdForm::Raised,
                operator: &op,
                severity: Severity::Low,
                kind: IncidentKind::InformationRequest,
                raised_by: raised,
                started_at: utc("2026-11-27T10:00:00Z"),
                opened_at: utc("2026-11-27T10:00:00Z"),
                summary: String::new(),
            },
            &Policy::default(),
            &BusinessCalendar::default(),
        );
        assert_eq!((i.raised_by, i.owed_by), (raised, raised.other()));
    }
}

#[test]
fn ids_are_deterministic() {
    let op = OperatorId::new("contoso").unwrap();
    assert_eq!(
        incident_id(&op, utc("2026-11-27T10:00:30Z"), IncidentKind::PortalDown),
        "contoso-20261127T100030Z-portal_down"
    );
}

#[test]
fn each_way_an_incident_opens_has_its_id_form() {
    let op = OperatorId::new("contoso").unwrap();
    let aware = utc("2026-11-27T09:59:00Z");
    let rows = [
        (
            IdForm::Monitored,
            IncidentKind::PortalDown,
            Party::Team,
            "contoso-20261127T100000Z-portal_down",
        ),
        (
            IdForm::Report {
                aware_at: aware,
                n: 0,
            },
            IncidentKind::OutageReport,
            Party::Operator,
            "contoso-20261127T095900Z-report",
        ),
        (
            IdForm::Report {
                aware_at: aware,
                n: 1,
            },
            IncidentKind::OutageReport,
            Party::Operator,
            "contoso-20261127T095900Z-report-2",
        ),
        (
            IdForm::Raised,
            IncidentKind::ReportingFailure,
            Party::Team,
            "contoso-20261127T100005250Z-team_reporting_failure",
        ),
        (
            IdForm::Raised,
            IncidentKind::InformationRequest,
            Party::Operator,
            "contoso-20261127T100005250Z-information_request",
        ),
    ];
    for (form, kind, raised_by, id) in rows {
        let opening = Opening {
            form,
            operator: &op,
            severity: Severity::Low,
            kind,
            raised_by,
            started_at: utc("2026-11-27T10:00:00Z"),
            opened_at: utc("2026-11-27T10:00:05.250Z"),
            summary: String::new(),
        };
        assert_eq!(opening.id(), id, "{form:?}");
    }
}

/// An update is overdue only after its deadline: one at the deadline is on
/// time, one a second later is late, and the answer says which.
#[test]
fn an_update_at_its_deadline_is_on_time() {
    let cal = BusinessCalendar::default();
    let mut i = incident(Severity::Low, "2026-11-27T10:00:00Z", &cal);
    i.owed_by = Party::Operator;
    i.answer(
        Party::Operator,
        Answer::Acknowledge,
        utc("2026-11-27T10:30:00Z"),
        &cal,
    )
    .unwrap();
    let due = i.next_update_due.expect("an update clock");
    for (at, late) in [
        (due - Duration::seconds(1), false),
        (due, false),
        (due + Duration::seconds(1), true),
    ] {
        let mut j = i.clone();
        let answered = j.answer(Party::Operator, Answer::Update, at, &cal).unwrap();
        assert_eq!(answered.update_was_overdue, late, "{at}");
    }
}
