use super::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Channel;

    #[test]
    fn only_a_registered_contact_may_be_named() {
        let mut op = crate::testing::madrid_operator("contoso");
        op.contacts = vec![
            EmailAddress::parse("noc@contoso.example").unwrap(),
            EmailAddress::parse("ops@contoso.example").unwrap(),
        ];
        for (contact, ok) in [
            ("noc@contoso.example", true),
            ("ops@CONTOSO.example", true),
            ("NOC@contoso.example", false),
            ("noc@fabrikam.example", false),
            ("noc@contoso.example.evil", false),
        ] {
            let r = registered_contact(&op, &EmailAddress::parse(contact).unwrap());
            assert_eq!(r.is_ok(), ok, "{contact}");
            if let Err(e) = r {
                assert_eq!(e.field, "contact");
            }
        }
    }
    use crate::testing::team;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn op() -> Operator {
        crate::testing::madrid_operator("contoso")
    }

    fn report(sev: Severity, aware: &str) -> OutageReportInput {
        OutageReportInput {
            service: Service::CoreNetworkServices,
            severity: sev,
            started_at: utc("2026-11-27T09:00:00Z"),
            aware_at: utc(aware),
            description: "PGW down in region north".into(),
            impact: "no data sessions".into(),
            contact: EmailAddress::parse("noc@contoso.example").unwrap(),
        }
    }

    #[test]
    fn outage_reports_route_by_severity_and_mark_the_30_minutes() {
        let now = utc("2026-11-27T10:00:00Z");
        let p = Policy::default();
        let cases = [
            (
                Severity::High,
                "2026-11-27T09:30:00Z",
                true,
                vec![Channel::Page, Channel::Email],
            ),
            (
                Severity::High,
                "2026-11-27T09:29:59Z",
                false,
                vec![Channel::Page, Channel::Email],
            ),
            (
                Severity::Low,
                "2026-11-27T09:45:00Z",
                true,
                vec![Channel::Email],
            ),
        ];
        for (sev, aware, on_time, channels) in cases {
            let (r, inc, notes) = outage_report(
                &op(),
                report(sev, aware),
                now,
                &p,
                &team(),
                &Default::default(),
            )
            .unwrap();
            assert_eq!(r.reported_within_30_minutes, on_time, "{aware}");
            assert_eq!(
                notes.iter().map(|n| n.channel).collect::<Vec<_>>(),
                channels
            );
            assert_eq!(inc.severity, sev);
            // People read the service's name, never the code's.
            for text in notes
                .iter()
                .flat_map(|n| [&n.subject, &n.text])
                .chain([&inc.summary])
            {
                assert!(!text.contains("CoreNetworkServices"), "{text}");
            }
            assert!(
                inc.summary.starts_with("core network services outage"),
                "{}",
                inc.summary
            );
            assert_eq!(notes.last().unwrap().to, team().emails, "the team is told");
            assert_eq!(
                notes.last().unwrap().text.contains("NOTE: reported"),
                !on_time
            );
        }
    }

    #[test]
    fn outage_report_validation() {
        let now = utc("2026-11-27T10:00:00Z");
        let mut bad = report(Severity::High, "2026-11-27T08:00:00Z");
        assert_eq!(bad.validate(now).unwrap_err().field, "aware_at");
        bad = report(Severity::High, "2026-11-27T11:00:00Z");
        assert_eq!(bad.validate(now).unwrap_err().field, "aware_at");
        bad = report(Severity::High, "2026-11-27T09:10:00Z");
        bad.description = " ".into();
        assert_eq!(bad.validate(now).unwrap_err().field, "description");
    }

    /// An operator's window beyond the policy's bounds (4 h a window, 8 h a
    /// month on its calendar by default) is accepted but needs the team's
    /// approval before it holds back a page or counts as maintenance; the
    /// team's own windows are not bounded (they never excuse an operator).
    #[test]
    fn maintenance_beyond_its_bounds_needs_approval() {
        let cal = op().calendar();
        let p = Policy::default();
        let now = utc("2026-11-02T08:00:00Z");
        let window = |start: &str, hours: i64| MaintenanceInput {
            start: utc(start),
            end: utc(start) + Duration::hours(hours),
            description: "upgrade".into(),
            services: vec![],
        };
        let a = Announcer::Operator(op().id);
        let announce = |input, others: &[Maintenance]| {
            announce_maintenance(a.clone(), input, now, &cal, &p, others).unwrap()
        };
        // Seven hours already announced in December (Madrid), one cancelled.
        let earlier = [
            announce(window("2026-12-01T08:00:00Z", 4), &[]),
            announce(window("2026-12-02T08:00:00Z", 3), &[]),
        ];
        let mut cancelled = announce(window("2026-12-03T08:00:00Z", 4), &[]);
        cancelled.cancel(now).unwrap();
        let mut others = earlier.to_vec();
        others.push(cancelled);
        // (window, others, needs approval)
        let table: [(MaintenanceInput, &[Maintenance], bool); 6] = [
            (window("2026-12-10T08:00:00Z", 4), &[], false),
            (
                MaintenanceInput {
                    end: utc("2026-12-10T12:00:01Z"),
                    ..window("2026-12-10T08:00:00Z", 4)
                },
                &[],
                true,
            ),
            (window("2026-12-10T08:00:00Z", 1), &others, false),
            (window("2026-12-10T08:00:00Z", 2), &others, true),
            // 31 December 22:00 to midnight Madrid is December's; from
            // midnight, January's.
            (window("2026-12-31T21:00:00Z", 2), &others, true),
            (window("2026-12-31T23:00:00Z", 2), &others, false),
        ];
        for (i, (input, others, needs)) in table.into_iter().enumerate() {
            let m = announce(input, others);
            assert!(!m.late, "{i}: announced in time");
            assert_eq!(m.needs_approval(), needs, "{i}: {:?}", m.over_limit);
            assert_eq!(m.suppression_window().is_some(), !needs, "{i}");
            if needs {
                let mut approved = m.clone();
                approved.approve(now).unwrap();
                assert!(approved.suppression_window().is_some(), "{i}: approved");
            } else {
                let refused = m.clone().approve(now);
                assert!(
                    refused
                        .as_ref()
                        .is_err_and(|e| e.0.contains("needs no approval")),
                    "{i}: nothing to approve: {refused:?}"
                );
            }
        }
        let team = announce_maintenance(
            Announcer::DynamoTeam,
            window("2026-12-10T08:00:00Z", 48),
            now,
            &cal,
            &p,
            &others,
        )
        .unwrap();
        assert!(team.over_limit.is_none());
    }

    #[test]
    fn maintenance_lead_time_in_business_days() {
        let cal = op().calendar();
        let p = Policy::default();
        let m = |start: &str| MaintenanceInput {
            start: utc(start),
            end: utc(start) + Duration::hours(2),
            description: "upgrade".into(),
            services: vec![Service::CoreNetworkServices],
        };
        // Announced Wednesday 2 Dec 09:00 Madrid; the 8th is a holiday there.
        let now = utc("2026-12-02T08:00:00Z");
        let a = Announcer::Operator(op().id);
        let late =
            announce_maintenance(a.clone(), m("2026-12-09T08:00:00Z"), now, &cal, &p, &[]).unwrap();
        assert_eq!(
            (late.late, late.lead_business_days),
            (true, 4),
            "the holiday costs a day"
        );
        let ok =
            announce_maintenance(a.clone(), m("2026-12-10T08:00:00Z"), now, &cal, &p, &[]).unwrap();
        assert_eq!((ok.late, ok.lead_business_days), (false, 5));
        // Across a weekend: Friday 27 Nov 10:00 local to Friday 4 Dec 10:00 local is 5.
        let fri = utc("2026-11-27T09:00:00Z");
        let w =
            announce_maintenance(a.clone(), m("2026-12-04T09:00:00Z"), fri, &cal, &p, &[]).unwrap();
        assert!(!w.late);
        let w = announce_maintenance(a, m("2026-12-04T08:59:00Z"), fri, &cal, &p, &[]).unwrap();
        assert!(w.late);
        let n = late.notice(
            MaintenanceEvent::Announced,
            (vec![], vec![]),
            &team(),
            &op(),
            &Policy::default(),
        );
        assert!(
            n.subject.contains("LATE") && n.text.contains("NOTE"),
            "{}",
            n.subject
        );
    }

    /// Beforehand means beforehand: no window starts in the past (a few
    /// minutes of clock difference aside), and a late one holds back pages
    /// only once the team approves it.
    #[test]
    fn a_late_window_suppresses_only_after_approval() {
        let cal = op().calendar();
        let p = Policy::default();
        let now = utc("2026-12-02T08:00:00Z");
        let a = Announcer::Operator(op().id);
        let m = |start: &str| MaintenanceInput {
            start: utc(start),
            end: utc("2026-12-02T12:00:00Z"),
            description: "upgrade".into(),
            services: vec![],
        };
        // (start, refused field)
        let starts = [
            ("2026-12-01T23:00:00Z", Some("start")),
            ("2026-12-02T07:54:59Z", Some("start")),
            ("2026-12-02T07:55:00Z", None),
            ("2026-12-02T09:00:00Z", None),
        ];
        for (start, refused) in starts {
            let got = announce_maintenance(a.clone(), m(start), now, &cal, &p, &[]);
            assert_eq!(got.err().map(|e| e.field).as_deref(), refused, "{start}");
        }
        let mut late =
            announce_maintenance(a.clone(), m("2026-12-02T09:00:00Z"), now, &cal, &p, &[]).unwrap();
        assert!(late.late && late.needs_approval());
        assert_eq!(late.suppression_window(), None, "unapproved: no window");
        let n = late.notice(
            MaintenanceEvent::Announced,
            (vec![], vec![]),
            &team(),
            &op(),
            &p,
        );
        assert!(
            n.text
                .contains(&format!("/v1/maintenance/{}/approval", late.id)),
            "{}",
            n.text
        );
        late.approve(utc("2026-12-02T08:30:00Z")).unwrap();
        let twice = late.clone().approve(utc("2026-12-02T08:31:00Z"));
        assert!(
            twice
                .as_ref()
                .is_err_and(|e| e.0.contains("already approved")),
            "{twice:?}"
        );
        let w = late.suppression_window().expect("approved: a window");
        assert_eq!(
            (w.start, w.end),
            (utc("2026-12-02T09:00:00Z"), utc("2026-12-02T12:00:00Z"))
        );
        // (window, approval refused?)
        let timely = announce_maintenance(
            a.clone(),
            m("2026-12-02T09:00:00Z"),
            utc("2026-11-20T08:00:00Z"),
            &cal,
            &p,
            &[],
        )
        .unwrap();
        let mut cancelled =
            announce_maintenance(a, m("2026-12-02T09:00:00Z"), now, &cal, &p, &[]).unwrap();
        cancelled.cancel(now).unwrap();
        for (mut w, refused) in [(timely, true), (late.clone(), true), (cancelled, true)] {
            assert_eq!(w.approve(now).is_err(), refused, "{}", w.id);
        }
        assert_eq!(
            late.approved_at,
            Some(utc("2026-12-02T08:30:00Z")),
            "the first approval stands"
        );
    }

    #[test]
    fn maintenance_transitions_and_suppression_window() {
        let cal = op().calendar();
        let now = utc("2026-11-27T09:00:00Z");
        let input = MaintenanceInput {
            start: utc("2026-12-10T01:00:00Z"),
            end: utc("2026-12-10T03:00:00Z"),
            description: "x".into(),
            services: vec![],
        };
        let mut m = announce_maintenance(
            Announcer::DynamoTeam,
            input,
            now,
            &cal,
            &Policy::default(),
            &[],
        )
        .unwrap();
        assert_eq!(
            m.suppression_window().unwrap().end,
            utc("2026-12-10T03:00:00Z")
        );
        let before = m.clone();
        let early = m.complete(utc("2026-12-10T00:59:59Z"));
        assert!(
            early
                .as_ref()
                .is_err_and(|e| e.0.contains("once it has started")),
            "{early:?}"
        );
        assert_eq!(m, before, "a refused completion changes nothing");
        m.complete(utc("2026-12-10T01:00:00Z")).unwrap();
        let email = m
            .notices(
                MaintenanceEvent::Completed,
                &[op()],
                &crate::testing::team(),
                &Policy::default(),
            )
            .remove(0);
        assert!(
            email
                .text
                .contains("Completed: 2026-12-10 02:00:00 CET (01:00:00 UTC)"),
            "{}",
            email.text
        );
        assert!(
            email
                .subject
                .contains("COMPLETED] DYNAMO: 2026-12-10 02:00 CET"),
            "{}",
            email.subject
        );
        m = before;
        m.complete(utc("2026-12-10T02:00:00Z")).unwrap();
        assert_eq!(
            m.suppression_window().unwrap().end,
            utc("2026-12-10T02:00:00Z"),
            "completion closes it"
        );
        assert!(m.complete(utc("2026-12-10T02:30:00Z")).is_err());
        assert!(m.cancel(utc("2026-12-10T02:30:00Z")).is_err());
        let mut c = m.clone();
        c.status = MaintenanceStatus::Announced;
        c.cancel(utc("2026-12-01T00:00:00Z")).unwrap();
        assert!(c.suppression_window().is_none());
    }

    #[test]
    fn bug_lifecycle_refuses_invalid_transitions() {
        let now = utc("2026-11-27T09:00:00Z");
        let input = BugInput {
            title: "Plan list empty".into(),
            description: "steps".into(),
            severity: None,
        };
        let mut b = report_bug(&op().id, false, input, now).unwrap();
        assert!(
            b.schedule("2026-12-01".parse().unwrap(), now).is_err(),
            "not before triage"
        );
        assert!(b.deploy(now).is_err());
        let t = Triage {
            approve: true,
            business_justification: "blocks sign-ups".into(),
            impact: "all users".into(),
            concerns: vec![],
        };
        b.triage(t.clone(), now).unwrap();
        assert!(b.triage(t, now).is_err(), "triaged once");
        assert!(
            b.schedule("2026-11-01".parse().unwrap(), now).is_err(),
            "past date"
        );
        b.schedule("2026-12-01".parse().unwrap(), now).unwrap();
        b.deploy(now).unwrap();
        assert_eq!(b.status, BugStatus::Deployed);
        assert!(b.deploy(now).is_err());
        let mut r = report_bug(
            &op().id,
            true,
            BugInput {
                title: "t".into(),
                description: "d".into(),
                severity: None,
            },
            now,
        )
        .unwrap();
        r.triage(
            Triage {
                approve: false,
                business_justification: "by design".into(),
                impact: "none".into(),
                concerns: vec![],
            },
            now,
        )
        .unwrap();
        assert_eq!(r.status, BugStatus::Rejected);
        assert!(r.schedule("2026-12-01".parse().unwrap(), now).is_err());
    }

    #[test]
    fn team_outage_notices_mark_the_30_minutes() {
        let input = |aware: &str| OutageNoticeInput {
            service: "DYNAMO".into(),
            started_at: utc("2026-11-27T09:00:00Z"),
            aware_at: utc(aware),
            description: "eSIM profile service down".into(),
        };
        let now = utc("2026-11-27T10:00:00Z");
        assert!(
            outage_notice(input("2026-11-27T09:30:00Z"), now)
                .unwrap()
                .within_30_minutes
        );
        assert!(
            !outage_notice(input("2026-11-27T09:29:00Z"), now)
                .unwrap()
                .within_30_minutes
        );
    }
}

/// Every partner rule at its edge: the value that is still accepted and the
/// one that is not, with the exact field, time or text that results.
#[cfg(test)]
mod edges {
    use super::*;
    use crate::testing::{madrid_operator, team};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const NOW: &str = "2026-11-27T10:00:00Z";

    fn report_input(started: &str, aware: &str) -> OutageReportInput {
        OutageReportInput {
            service: Service::CoreNetworkServices,
            severity: Severity::Low,
            started_at: t(started),
            aware_at: t(aware),
            description: "d".into(),
            impact: String::new(),
            contact: EmailAddress::parse("noc@contoso.example").unwrap(),
        }
    }

    #[test]
    fn free_text_is_bounded_at_max_text_characters() {
        for (len, ok) in [(MAX_TEXT, true), (MAX_TEXT + 1, false)] {
            let got = text("description", &"é".repeat(len), true);
            assert_eq!(got.is_ok(), ok, "{len}");
        }
        assert_eq!(text("impact", "", false), Ok(()));
        assert_eq!(text("x", " ", true).unwrap_err().field, "x");
        assert!(update_message("").is_err() && update_message("m").is_ok());
    }

    #[test]
    fn an_outage_report_is_aware_after_it_started_and_not_in_the_future() {
        let now = t(NOW);
        let table = [
            ("2026-11-27T09:00:00Z", "2026-11-27T09:00:00Z", None),
            (
                "2026-11-27T09:00:01Z",
                "2026-11-27T09:00:00Z",
                Some("aware_at"),
            ),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:05:00Z", None),
            (
                "2026-11-27T09:00:00Z",
                "2026-11-27T10:05:01Z",
                Some("aware_at"),
            ),
        ];
        for (started, aware, refused) in table {
            let got = report_input(started, aware)
                .validate(now)
                .err()
                .map(|e| e.field);
            assert_eq!(got.as_deref(), refused, "{started} {aware}");
        }
        // Told within 30 minutes of awareness, or marked late.
        let op = madrid_operator("contoso");
        for (aware, on_time) in [
            ("2026-11-27T09:30:00Z", true),
            ("2026-11-27T09:29:59Z", false),
        ] {
            let (r, _, notes) = outage_report(
                &op,
                report_input("2026-11-27T09:00:00Z", aware),
                now,
                &Policy::default(),
                &team(),
                &Default::default(),
            )
            .unwrap();
            assert_eq!(r.reported_within_30_minutes, on_time, "{aware}");
            assert_eq!(notes[0].text.contains("the contract asks for 30"), !on_time);
        }
    }

    #[test]
    fn an_outage_notice_has_the_same_edges() {
        let now = t(NOW);
        let input = |started: &str, aware: &str| OutageNoticeInput {
            service: "dynamo".into(),
            started_at: t(started),
            aware_at: t(aware),
            description: "d".into(),
        };
        let table = [
            ("2026-11-27T09:00:00Z", "2026-11-27T09:00:00Z", true),
            ("2026-11-27T09:00:01Z", "2026-11-27T09:00:00Z", false),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:05:00Z", true),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:05:01Z", false),
        ];
        for (started, aware, ok) in table {
            assert_eq!(
                outage_notice(input(started, aware), now).is_ok(),
                ok,
                "{started} {aware}"
            );
        }
        let late =
            outage_notice(input("2026-11-27T09:00:00Z", "2026-11-27T09:29:59Z"), now).unwrap();
        assert!(!late.within_30_minutes);
        let contoso = madrid_operator("contoso");
        let mail = &late.emails(NoticeEvent::Sent, &[&contoso], &team())[0];
        assert!(
            mail.text.contains("later than the 30 minutes"),
            "{}",
            mail.text
        );
        assert_eq!(mail.created_at, now);
    }

    fn window(start: &str, end: &str) -> MaintenanceInput {
        MaintenanceInput {
            start: t(start),
            end: t(end),
            description: "upgrade".into(),
            services: vec![],
        }
    }

    #[test]
    fn a_maintenance_window_is_future_ordered_and_at_most_a_week() {
        let now = t(NOW);
        let table = [
            ("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z", None),
            ("2026-12-10T08:00:00Z", "2026-12-10T08:00:00Z", Some("end")),
            ("2026-12-10T08:00:00Z", "2026-12-17T08:00:00Z", None),
            ("2026-12-10T08:00:00Z", "2026-12-17T08:00:01Z", Some("end")),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:00:00Z", Some("end")),
            // Under way already: announced afterwards, refused (5 minutes of skew aside).
            (
                "2026-11-27T09:00:00Z",
                "2026-11-27T10:00:01Z",
                Some("start"),
            ),
            ("2026-11-27T09:55:00Z", "2026-11-27T10:30:00Z", None),
            (
                "2026-11-27T09:54:59Z",
                "2026-11-27T10:30:00Z",
                Some("start"),
            ),
        ];
        for (start, end, refused) in table {
            let got = window(start, end).validate(now).err().map(|e| e.field);
            assert_eq!(got.as_deref(), refused, "{start} {end}");
        }
        let mut empty = window("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        empty.description = " ".into();
        assert_eq!(empty.validate(now).unwrap_err().field, "description");
    }

    fn announced(start: &str, end: &str) -> Maintenance {
        announce_maintenance(
            Announcer::Operator(OperatorId::new("contoso").unwrap()),
            window(start, end),
            t(NOW),
            &madrid_operator("contoso").calendar(),
            &Policy::default(),
            &[],
        )
        .unwrap()
    }

    #[test]
    fn a_window_is_cancelled_before_its_end_and_suppresses_until_done() {
        let m = announced("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        assert!(m.clone().cancel(t("2026-12-10T08:59:59Z")).is_ok());
        assert!(
            m.clone().cancel(t("2026-12-10T09:00:00Z")).is_err(),
            "ended: complete it"
        );
        // Completed early, the window shrinks to the completion; completed at
        // its very start, there is nothing left to suppress.
        let mut done = m.clone();
        done.complete(t("2026-12-10T08:30:00Z")).unwrap();
        assert_eq!(
            done.suppression_window().map(|w| w.end),
            Some(t("2026-12-10T08:30:00Z"))
        );
        let mut at_once = m.clone();
        at_once.complete(t("2026-12-10T08:00:00Z")).unwrap();
        assert_eq!(at_once.suppression_window(), None);
        let mut cancelled = m;
        cancelled.cancel(t("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(cancelled.suppression_window(), None);
    }

    /// Who may move a window: its announcer and the team; the team's own
    /// is not an operator's to move (403), another operator's is missing.
    #[test]
    fn who_may_move_a_window() {
        let contoso = Actor::Operator(OperatorId::new("contoso").unwrap());
        let fabrikam = Actor::Operator(OperatorId::new("fabrikam").unwrap());
        let mine = announced("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        let mut teams = mine.clone();
        teams.announcer = Announcer::DynamoTeam;
        for (m, who, want) in [
            (&mine, &contoso, Ok(())),
            (&mine, &Actor::Team, Ok(())),
            (&mine, &fabrikam, Err(Access::Missing)),
            (&teams, &Actor::Team, Ok(())),
            (&teams, &contoso, Err(Access::Forbidden)),
        ] {
            assert_eq!(m.may_move(who), want, "{:?} by {who:?}", m.announcer);
        }
    }

    /// The windows in force: announced, completed early or approved, and
    /// ended less than `WINDOWS_KEPT` ago; exactly that long ago is gone.
    #[test]
    fn windows_in_force_are_those_that_can_still_matter() {
        let m = announced("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        let mut cancelled = announced("2026-12-11T08:00:00Z", "2026-12-11T09:00:00Z");
        cancelled.cancel(t(NOW)).unwrap();
        let ended = t("2026-12-10T09:00:00Z");
        for (now, kept) in [
            (t(NOW), 1),
            (ended + WINDOWS_KEPT - Duration::seconds(1), 1),
            (ended + WINDOWS_KEPT, 0),
        ] {
            let w = windows_in_force(&[m.clone(), cancelled.clone()], now);
            assert_eq!(w.len(), kept, "at {now}");
            if kept == 1 {
                assert_eq!((w[0].start, w[0].end), (m.start, m.end));
            }
        }
    }

    #[test]
    fn maintenance_notices_say_late_only_when_announced_late() {
        let policy = Policy::default();
        // Announced Friday for the next Tuesday: 2 business days, not 5.
        let mut late = announced("2026-12-01T08:00:00Z", "2026-12-01T09:00:00Z");
        let mut timely = announced("2026-12-14T08:00:00Z", "2026-12-14T09:00:00Z");
        assert!(late.late && !timely.late);
        let subject = |m: &Maintenance, e| {
            m.notice(e, (vec![], vec![]), &team(), &m.id_owner(), &policy)
                .subject
        };
        assert!(subject(&late, MaintenanceEvent::Announced).contains(", LATE"));
        assert!(!subject(&timely, MaintenanceEvent::Announced).contains("LATE"));
        let note = late.notice(
            MaintenanceEvent::Announced,
            (vec![], vec![]),
            &team(),
            &late.id_owner(),
            &policy,
        );
        assert!(note.text.contains("asks for at least 5"), "{}", note.text);
        late.complete(t("2026-12-01T08:40:00Z")).unwrap();
        assert!(!subject(&late, MaintenanceEvent::Completed).contains("LATE"));
        let done = late.notice(
            MaintenanceEvent::Completed,
            (vec![], vec![]),
            &team(),
            &late.id_owner(),
            &policy,
        );
        assert!(
            !done.text.contains("NOTE"),
            "only the announcement says late"
        );
        assert_eq!(done.created_at, t("2026-12-01T08:40:00Z"));
        timely.cancel(t("2026-12-02T00:00:00Z")).unwrap();
        let off = timely.notice(
            MaintenanceEvent::Cancelled,
            (vec![], vec![]),
            &team(),
            &timely.id_owner(),
            &policy,
        );
        assert_eq!(off.created_at, t("2026-12-02T00:00:00Z"));
        assert_eq!(off.topic, Topic::MaintenanceCancelled);
    }

    #[test]
    fn an_operator_sees_its_own_windows_and_the_teams() {
        let contoso = OperatorId::new("contoso").unwrap();
        let fabrikam = OperatorId::new("fabrikam").unwrap();
        let own = announced("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        let mut teams = own.clone();
        teams.announcer = Announcer::DynamoTeam;
        let table = [
            (&own, Some(&contoso), true),
            (&own, Some(&fabrikam), false),
            (&own, None, true),
            (&teams, Some(&fabrikam), true),
            (&teams, None, true),
        ];
        for (m, viewer, sees) in table {
            assert_eq!(m.visible_to(viewer), sees, "{:?} {viewer:?}", m.announcer);
        }
        assert_eq!(
            [
                MaintenanceEvent::Announced,
                MaintenanceEvent::Completed,
                MaintenanceEvent::Cancelled
            ]
            .map(MaintenanceEvent::as_str),
            ["announced", "completed", "cancelled"]
        );
    }

    #[test]
    fn an_information_request_is_bounded_and_owed_by_the_team() {
        let op = madrid_operator("contoso");
        let ask = |subject: &str, question: &str| InformationRequestInput {
            subject: subject.into(),
            question: question.into(),
            contact: EmailAddress::parse("noc@contoso.example").unwrap(),
        };
        let table = [
            (ask(&"s".repeat(MAX_SUBJECT), "q"), None),
            (ask(&"s".repeat(MAX_SUBJECT + 1), "q"), Some("subject")),
            (ask(" ", "q"), Some("subject")),
            (ask("s", &"q".repeat(MAX_TEXT)), None),
            (ask("s", &"q".repeat(MAX_TEXT + 1)), Some("question")),
            (ask("s", ""), Some("question")),
        ];
        let calendar = crate::BusinessCalendar::default();
        for (input, refused) in table {
            let got =
                information_request(&op, input, t(NOW), &Policy::default(), &team(), &calendar);
            assert_eq!(got.err().map(|e| e.field).as_deref(), refused);
        }
        let (incident, mail) = information_request(
            &op,
            ask("s", "q"),
            t(NOW),
            &Policy::default(),
            &team(),
            &calendar,
        )
        .unwrap();
        // Friday 10:00 on the team's calendar: due Monday 10:00.
        assert_eq!(incident.initial_response_due, t("2026-11-30T10:00:00Z"));
        assert_eq!(
            (mail.to.clone(), incident.kind),
            (team().emails, IncidentKind::InformationRequest)
        );
    }

    impl Maintenance {
        fn id_owner(&self) -> Operator {
            madrid_operator("contoso")
        }
    }

    fn bug() -> Bug {
        report_bug(
            &OperatorId::new("contoso").unwrap(),
            false,
            BugInput {
                title: "t".into(),
                description: "d".into(),
                severity: None,
            },
            t(NOW),
        )
        .unwrap()
    }

    #[test]
    fn a_bug_moves_report_triage_schedule_deploy_at_its_edges() {
        let op = OperatorId::new("contoso").unwrap();
        let titled = |n: usize| BugInput {
            title: "t".repeat(n),
            description: "d".into(),
            severity: None,
        };
        assert!(report_bug(&op, false, titled(MAX_SUBJECT), t(NOW)).is_ok());
        assert_eq!(
            report_bug(&op, false, titled(MAX_SUBJECT + 1), t(NOW))
                .unwrap_err()
                .field,
            "title"
        );
        let triage = |j: &str, i: &str| Triage {
            approve: true,
            business_justification: j.into(),
            impact: i.into(),
            concerns: vec![],
        };
        for (j, i) in [("", "i"), ("j", " "), (" ", "")] {
            assert!(bug().triage(triage(j, i), t(NOW)).is_err(), "{j:?} {i:?}");
        }
        let mut b = bug();
        b.triage(triage("j", "i"), t(NOW)).unwrap();
        // The deployment date may be today, not yesterday.
        assert!(b
            .clone()
            .schedule("2026-11-26".parse().unwrap(), t(NOW))
            .is_err());
        b.schedule("2026-11-27".parse().unwrap(), t(NOW)).unwrap();
        let n = &b.notices(BugEvent::Scheduled, &[madrid_operator("contoso")], &team())[0];
        assert!(
            n.text.contains("Tentative deployment: 2026-11-27"),
            "{}",
            n.text
        );
        assert_eq!(
            (n.key.as_str(), n.topic),
            (
                format!("{}#email-scheduled#2026-11-27", b.id).as_str(),
                Topic::BugScheduled
            )
        );
        b.deploy(t("2026-11-27T12:00:00Z")).unwrap();
        let n = &b.notices(BugEvent::Deployed, &[madrid_operator("contoso")], &team())[0];
        assert!(
            n.text.contains("Deployed: 2026-11-27 12:00:00 UTC"),
            "{}",
            n.text
        );
        assert_eq!(n.created_at, t("2026-11-27T12:00:00Z"));
    }

    /// Bugs as a queue: each step tells whom it concerns.
    #[test]
    fn bug_notices_go_to_the_reporter_and_every_operator_concerned() {
        let contoso = madrid_operator("contoso");
        let fabrikam = madrid_operator("fabrikam");
        let ops = [contoso.clone(), fabrikam.clone()];
        let by_team = report_bug(
            &contoso.id,
            true,
            BugInput {
                title: "t".into(),
                description: "d".into(),
                severity: None,
            },
            t(NOW),
        )
        .unwrap();
        let mut b = bug();
        let reported = b.notices(BugEvent::Reported, &ops, &team());
        let team_reported = by_team.notices(BugEvent::Reported, &ops, &team());
        b.triage(
            Triage {
                approve: true,
                business_justification: "j".into(),
                impact: "i".into(),
                concerns: vec![
                    fabrikam.id.clone(),
                    contoso.id.clone(),
                    OperatorId::new("retired").unwrap(),
                ],
            },
            t(NOW),
        )
        .unwrap();
        let triaged = b.notices(BugEvent::Triaged, &ops, &team());
        b.schedule("2026-12-01".parse().unwrap(), t(NOW)).unwrap();
        let scheduled = b.notices(BugEvent::Scheduled, &ops, &team());
        b.deploy(t("2026-12-01T10:00:00Z")).unwrap();
        let deployed = b.notices(BugEvent::Deployed, &ops, &team());
        let to = |ns: &[Notification]| ns.iter().map(|n| n.to.clone()).collect::<Vec<_>>();
        // (notices, recipients, topic)
        let cases = [
            (&reported, vec![team().emails], Topic::BugReported),
            (
                &team_reported,
                vec![contoso.contacts.clone()],
                Topic::BugReported,
            ),
            (&triaged, vec![contoso.contacts.clone()], Topic::BugTriaged),
            (
                &scheduled,
                vec![contoso.contacts.clone()],
                Topic::BugScheduled,
            ),
            // The retired operator is not in the registry: skipped, never an error.
            (
                &deployed,
                vec![contoso.contacts.clone(), fabrikam.contacts.clone()],
                Topic::BugDeployed,
            ),
        ];
        for (ns, recipients, topic) in cases {
            assert_eq!(to(ns), recipients, "{topic}");
            assert!(ns.iter().all(|n| n.topic == topic));
        }
        assert!(
            triaged[0].text.contains("Business justification: j"),
            "{}",
            triaged[0].text
        );
        let keys: std::collections::HashSet<_> = deployed.iter().map(|n| n.key.clone()).collect();
        assert_eq!(keys.len(), 2, "one key per operator told");
        // Fabrikam is told of the deployment, and of nothing of contoso's bug.
        let theirs = &deployed[1];
        assert_eq!(theirs.operator, fabrikam.id);
        for leak in [b.id.as_str(), "contoso", "Follow it"] {
            assert!(
                !theirs.text.contains(leak) && !theirs.subject.contains(leak),
                "{leak}: {} / {}",
                theirs.subject,
                theirs.text
            );
        }
        assert!(
            theirs.text.contains("2026-12-01 10:00:00 UTC"),
            "{}",
            theirs.text
        );
        let mut rejected = bug();
        rejected
            .triage(
                Triage {
                    approve: false,
                    business_justification: "j".into(),
                    impact: "i".into(),
                    concerns: vec![],
                },
                t(NOW),
            )
            .unwrap();
        let n = &rejected.notices(BugEvent::Triaged, &ops, &team())[0];
        assert!(n.subject.starts_with("[BUG REJECTED]"), "{}", n.subject);
        let too_many = Triage {
            approve: true,
            business_justification: "j".into(),
            impact: "i".into(),
            concerns: vec![contoso.id.clone(); MAX_CONCERNED + 1],
        };
        assert!(bug().triage(too_many, t(NOW)).is_err());
    }
}
