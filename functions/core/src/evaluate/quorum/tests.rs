use super::*;
use crate::config::{LocationPolicy, MaintenanceWindow, PortalCheck, Quorum};
use crate::evaluate::{evaluate as evaluate_any, Event};
use crate::ids::{EmailAddress, OperatorId};

const T0: &str = "2026-11-27T10:00:00Z";

fn at_ms(ms: i64) -> DateTime<Utc> {
    T0.parse::<DateTime<Utc>>().unwrap() + Duration::milliseconds(ms)
}

fn operator() -> Operator {
    let mut o = crate::testing::madrid_operator("contoso");
    o.portal = PortalCheck::new("https://portal.contoso.example/".parse().unwrap());
    o.contacts = vec![EmailAddress::parse("noc@contoso.example").unwrap()];
    o
}

fn policy(quorum: Quorum) -> Policy {
    Policy {
        locations: LocationPolicy {
            expected: vec!["eu-west-1".into(), "us-east-1".into(), "agent-1".into()],
            quorum,
            ..LocationPolicy::default()
        },
        ..Policy::default()
    }
}

/// One vote: `location` saw the portal `up` at `ms` after T0.
fn vote(location: &str, ms: i64, up: bool) -> ProbeResult {
    ProbeResult {
        location: Some(location.into()),
        ..crate::testing::probe_at("contoso", at_ms(ms), up)
    }
}

/// Rounds every 30 s for `rounds` rounds: each location in `down` votes
/// down, the others in `up` vote up; the three 137 ms apart.
fn rounds(from_round: i64, rounds: i64, down: &[&str], up: &[&str]) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    for r in from_round..from_round + rounds {
        for (i, loc) in down
            .iter()
            .map(|l| (l, false))
            .chain(up.iter().map(|l| (l, true)))
            .enumerate()
        {
            out.push(vote(loc.0, r * 30_000 + i as i64 * 137, loc.1));
        }
    }
    out
}

/// Runs the votes; the events as (seconds after T0, kind), and how many
/// votes changed nothing.
fn run(
    op: &Operator,
    p: &Policy,
    votes: &[ProbeResult],
) -> (MonitorState, Vec<(f64, String)>, usize) {
    let mut s = MonitorState::new(op.id.clone());
    let (mut out, mut stale) = (Vec::new(), 0);
    for v in votes {
        match evaluate_any(&s, v, op, p, &BusinessCalendar::default()) {
            Evaluation::Stale => stale += 1,
            Evaluation::Applied { state, events } => {
                s = state;
                for e in events
                    .iter()
                    .filter(|e| !matches!(e, Event::BudgetBurn { .. }))
                {
                    let name = crate::evaluate::fixtures::short_name(e);
                    out.push(((e.at() - at_ms(0)).num_milliseconds() as f64 / 1000.0, name));
                }
            }
        }
    }
    (s, out, stale)
}

const ALL: [&str; 3] = ["agent-1", "eu-west-1", "us-east-1"];

#[test]
fn a_round_is_down_when_the_quorum_of_those_that_voted_saw_it_down() {
    let op = operator();
    let majority = policy(Quorum::Share(0.5));
    let all_three = policy(Quorum::Count(3));
    // (name, policy, votes, events)
    type Case = (
        &'static str,
        Policy,
        Vec<ProbeResult>,
        Vec<(f64, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        // 62 rounds: 0:00 to 30:30, and one more that decides 30:30.
        (
            // Never a page: the path from there is the team's Low incident.
            "1 of 3 down never pages",
            majority.clone(),
            rounds(0, 72, &["eu-west-1"], &["us-east-1", "agent-1"]),
            vec![(1830.0, "open:location_path")],
        ),
        (
            "2 of 3 down pages at the 30:30 round's time",
            majority.clone(),
            rounds(0, 62, &["eu-west-1", "us-east-1"], &["agent-1"]),
            vec![(1830.0, "open:portal_down")],
        ),
        (
            "3 of 3 down pages at 30:30",
            majority.clone(),
            rounds(0, 62, &ALL, &[]),
            vec![(1830.0, "open:portal_down")],
        ),
        (
            "exactly 30:00 of down rounds does not page",
            majority.clone(),
            rounds(0, 61, &ALL, &[]),
            vec![],
        ),
        (
            "2 of 3 is not all three",
            all_three.clone(),
            rounds(0, 72, &["eu-west-1", "us-east-1"], &["agent-1"]),
            vec![(1830.0, "open:location_path")],
        ),
        // One location silent: two reporting, both down, is more than half of those that voted.
        (
            "a silent location is no vote",
            majority.clone(),
            {
                let mut v = rounds(0, 62, &["eu-west-1", "us-east-1"], &[]);
                v.extend(rounds(62, 2, &["eu-west-1", "us-east-1"], &[]));
                v
            },
            vec![(1830.0, "open:portal_down")],
        ),
        // Only one location reporting: fewer than min_locations, every round unknown.
        (
            "one location alone decides nothing",
            majority.clone(),
            rounds(0, 80, &["agent-1"], &[]),
            vec![],
        ),
        (
            "recovery on two up rounds",
            majority.clone(),
            [
                rounds(0, 62, &ALL, &[]),
                rounds(62, 3, &["agent-1"], &["eu-west-1", "us-east-1"]),
            ]
            .concat(),
            vec![
                (1830.0, "open:portal_down"),
                (1890.0, "resolve:portal_down"),
            ],
        ),
    ];
    for (name, p, votes, want) in cases {
        let (_, got, _) = run(&op, &p, &votes);
        let want: Vec<(f64, String)> = want.iter().map(|(t, n)| (*t, n.to_string())).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// A location that disagrees with the others for longer than the outage
/// limit is the team's Low incident, on the team's calendar, emailed to
/// the team only; it is resolved when the location agrees again.
#[test]
fn a_location_that_disagrees_is_the_teams_low_incident() {
    let op = operator();
    let p = policy(Quorum::Share(0.5));
    let tokyo = BusinessCalendar::new(chrono_tz::Asia::Tokyo, []);
    let votes = [
        rounds(0, 62, &["eu-west-1"], &["us-east-1", "agent-1"]),
        rounds(62, 1, &[], &ALL),
    ]
    .concat();
    let mut s = MonitorState::new(op.id.clone());
    let mut events = Vec::new();
    for v in &votes {
        if let Evaluation::Applied { state, events: e } = evaluate_any(&s, v, &op, &p, &tokyo) {
            s = state;
            events.extend(e);
        }
    }
    let Some(Event::IncidentOpened { incident, .. }) = events.first() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (incident.kind, incident.severity, incident.owed_by),
        (IncidentKind::LocationPath, Severity::Low, Party::Team)
    );
    assert!(
        incident.summary.contains("eu-west-1"),
        "{}",
        incident.summary
    );
    // Friday 10:30:30 UTC is 19:30 in Tokyo: due Monday 19:30 Tokyo.
    assert_eq!(
        incident.initial_response_due,
        "2026-11-30T10:30:30Z".parse::<DateTime<Utc>>().unwrap()
    );
    let mail = crate::notify::render(&events[0], &op, &crate::testing::team(), &p);
    assert_eq!(mail.len(), 1, "no page");
    assert_eq!(
        mail[0].to,
        crate::testing::team().emails,
        "the team's, not the operator's"
    );
    assert!(
        matches!(events.last(), Some(Event::IncidentResolved { .. })),
        "{events:?}"
    );
    assert!(s.path.is_none() && s.location_runs.is_empty());
}

#[test]
fn late_duplicate_and_unexpected_votes_change_nothing() {
    let op = operator();
    let p = policy(Quorum::Share(0.5));
    let mut votes = rounds(0, 62, &ALL, &[]);
    let pages = run(&op, &p, &votes).1;
    // A redelivered vote, a vote for a round already decided, and a vote
    // from a location nobody expects.
    votes.push(vote("eu-west-1", 1_830_000, false));
    votes.push(vote("us-east-1", 60_000, true));
    votes.push(vote("ap-south-1", 1_860_000, false));
    let (s, again, stale) = run(&op, &p, &votes);
    assert_eq!(again, pages);
    assert_eq!(stale, 3);
    assert!(s.outage.is_some());
}

/// A private agent's backlog, pushed after a 10-minute API outage: the
/// rounds it missed were decided without it (by the others' votes), so
/// its late votes change nothing; its fresh ones vote again.
#[test]
fn an_agents_backlog_arriving_late_changes_nothing_decided() {
    let op = operator();
    let p = policy(Quorum::Share(0.5));
    let regions = ["eu-west-1", "us-east-1"];
    // 40 rounds: the regions vote up every round; the agent's first 20
    // votes arrive only after round 40, then it votes on time.
    let mut votes = rounds(0, 40, &[], &regions);
    let backlog: Vec<ProbeResult> = (0..20)
        .map(|r| vote("agent-1", r * 30_000, false))
        .collect();
    let (before, events_before, _) = run(&op, &p, &votes);
    votes.extend(backlog);
    votes.push(vote("agent-1", 40 * 30_000, true));
    votes.extend(rounds(40, 1, &[], &regions));
    let (after, events_after, stale) = run(&op, &p, &votes);
    assert_eq!(stale, 20, "every late vote");
    // Each location's latest vote, for the sweep's silent-location alert.
    let mut seen: Vec<(String, DateTime<Utc>)> = after
        .location_seen
        .iter()
        .map(|r| (r.location.clone(), r.since))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("agent-1".to_string(), at_ms(40 * 30_000)),
            ("eu-west-1".to_string(), at_ms(40 * 30_000)),
            ("us-east-1".to_string(), at_ms(40 * 30_000 + 137)),
        ]
    );
    assert_eq!(events_before, events_after, "nothing re-decided");
    assert_eq!(before.outage, after.outage);
    // Rounds are decided in order: round 39 (two votes of three) waits for
    // its grace, and round 40, complete, waits behind it.
    assert_eq!(after.decided_through, Some(at_ms(38 * 30_000)));
}

#[test]
fn a_round_missing_a_vote_is_decided_after_its_grace() {
    let op = operator();
    let p = policy(Quorum::Share(0.5));
    // Round 0 gets two of three votes; nothing more arrives for it. The
    // next round's first vote (30 s later) is before the grace ends (30 + 20 s).
    let mut votes = vec![vote("eu-west-1", 0, false), vote("us-east-1", 100, false)];
    votes.push(vote("eu-west-1", 30_000, false));
    let (s, _, _) = run(&op, &p, &votes);
    assert_eq!(
        (s.decided_through, s.votes.len()),
        (None, 3),
        "still waiting for agent-1"
    );
    votes.push(vote("eu-west-1", 60_000, false));
    let (s, _, _) = run(&op, &p, &votes);
    assert_eq!(s.decided_through, Some(at_ms(0)), "decided once past 50 s");
    assert_eq!(s.down_since, Some(at_ms(0)), "at the slot's time");
}

/// Three locations, a name with two addresses of which the second has
/// failed for every location since 10:00, and certificates seen expiring
/// on two dates: the verdicts carry the addresses, so the partial-outage
/// rule opens its Low incident at 30:30 as with one location, and the
/// earliest certificate expiry reaches the state for its warning. One
/// location alone failing on an address is its path's, not the name's.
#[test]
fn verdicts_keep_addresses_and_certificates_for_their_rules() {
    use crate::probe::AddressResult;
    let op = operator();
    let p = policy(Quorum::Share(0.5));
    let addr = |ip: &str, up: bool| AddressResult {
        address: ip.parse().unwrap(),
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: (!up).then_some(FailureReason::Connect),
        latency_ms: Some(90.0),
    };
    let soon = at_ms(0) + Duration::days(10);
    let votes_with = |second_up_at: &dyn Fn(usize) -> bool| -> Vec<ProbeResult> {
        rounds(0, 64, &[], &ALL)
            .into_iter()
            .enumerate()
            .map(|(i, mut v)| {
                v.addresses = vec![
                    addr("203.0.113.7", true),
                    addr("2001:db8::7", second_up_at(i % 3)),
                ];
                v.url = Some("https://portal.contoso.example/".into());
                v.cert_expires_at = Some(if i % 3 == 1 {
                    soon
                } else {
                    soon + Duration::days(30)
                });
                v
            })
            .collect()
    };
    let (s, got, _) = run(&op, &p, &votes_with(&|_| false));
    assert_eq!(got, vec![(1830.0, "open:partial_outage".to_string())]);
    assert_eq!(
        s.cert_expires_at,
        Some(soon),
        "the earliest any location saw"
    );
    let day = s.day.as_ref().unwrap();
    assert_eq!((day.addresses[1].rounds, day.addresses[1].up), (64, 0));
    // Only the first location fails on the address: no partial outage.
    let (s, got, _) = run(&op, &p, &votes_with(&|loc| loc != 0));
    assert_eq!(got, vec![]);
    assert!(s.addresses_down.is_empty());
}

/// Locations meet in the slot their schedules fired for: eu-west-1's
/// invocations run 31.4 s late, every one of them, yet each of its votes
/// lands in its own round, none is stale, and the rounds are decided
/// with three votes. Three locations failing from 10:00:00 page with the
/// 10:30:30 round, exactly 30:00 after the first failure not.
#[test]
fn jittered_schedules_vote_in_their_slots_and_thirty_minutes_is_between_slots() {
    let op = operator();
    let p = policy(Quorum::Share(0.5));
    let late = |mut v: ProbeResult| {
        let slot = v.probed_at;
        v.slot = Some(slot);
        if v.location.as_deref() == Some("eu-west-1") {
            v.probed_at = slot + Duration::milliseconds(31_400);
        }
        v
    };
    let votes: Vec<ProbeResult> = rounds(0, 62, &ALL, &[]).into_iter().map(late).collect();
    let (s, got, stale) = run(&op, &p, &votes);
    assert_eq!(stale, 0, "no vote fell into another round");
    assert_eq!(got, vec![(1830.0, "open:portal_down".to_string())]);
    let day = s.day.as_ref().unwrap();
    assert_eq!((day.rounds, day.probes, day.rounds_unknown), (62, 186, 0));
    // Up to 10:30:00 (61 rounds, 30:00 of failures): no page yet.
    let (_, got, _) = run(&op, &p, &votes[..61 * 3]);
    assert_eq!(got, vec![]);
}

/// A pending vote reads back as written, its addresses in their short
/// form and its free text cut to `VOTE_TEXT_BYTES`.
#[test]
fn a_pending_vote_round_trips_compactly() {
    use crate::probe::AddressResult;
    let mut p = vote("eu-west-1", 0, false);
    p.addresses = vec![
        AddressResult {
            address: "2001:db8::7".parse().unwrap(),
            outcome: Outcome::Down,
            reason: Some(FailureReason::Tls),
            latency_ms: Some(12.0),
        },
        AddressResult {
            address: "203.0.113.7".parse().unwrap(),
            outcome: Outcome::Up,
            reason: None,
            latency_ms: Some(10.0),
        },
    ];
    p.detail = Some("é".repeat(200));
    let v = Vote::of(&p, at_ms(0), "eu-west-1".into());
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        json.contains(r#""addresses":["2001:db8::7!tls","203.0.113.7"]"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Vote>(&json).unwrap(), v);
    assert!(v.detail.as_ref().unwrap().len() <= VOTE_TEXT_BYTES);
    assert!(serde_json::from_str::<Vote>(&json.replace("!tls", "!nope")).is_err());
}

#[test]
fn maintenance_holds_back_a_quorum_page() {
    let mut op = operator();
    op.maintenance = vec![MaintenanceWindow {
        start: at_ms(0),
        end: at_ms(7_200_000),
        announced_at: None,
        description: None,
    }];
    let (_, got, _) = run(&op, &policy(Quorum::Share(0.5)), &rounds(0, 62, &ALL, &[]));
    assert_eq!(got, vec![(1830.0, "suppressed".to_string())]);
}

/// An up round's timing is the median of those that saw it up (the lower
/// of the two middle ones): one slow path does not make the portal slow.
#[test]
fn an_up_rounds_timing_is_the_median_of_the_up_votes() {
    let p = policy(Quorum::Share(0.5));
    let s = MonitorState::new(OperatorId::new("contoso").unwrap());
    let timed = |location: &str, ms: f64, up: bool| Vote {
        slot: at_ms(0),
        location: location.into(),
        up,
        reason: (!up).then_some(FailureReason::Timeout),
        status: None,
        latency_ms: Some(ms),
        ..Vote::default()
    };
    // (votes, the round's latency)
    let cases = [
        (
            vec![
                timed("a", 900.0, true),
                timed("b", 100.0, true),
                timed("c", 300.0, true),
            ],
            300.0,
        ),
        (
            vec![timed("a", 900.0, true), timed("b", 100.0, true)],
            100.0,
        ),
        (
            vec![
                timed("a", 900.0, true),
                timed("b", 100.0, true),
                timed("c", 5.0, false),
            ],
            100.0,
        ),
    ];
    for (votes, ms) in cases {
        let round = verdict(&votes, at_ms(0), &p, &s).expect("a verdict");
        assert_eq!(
            (round.outcome, round.latency_ms),
            (Outcome::Up, Some(ms)),
            "{votes:?}"
        );
    }
}

#[test]
fn slots_are_the_interval_grid() {
    let i = Duration::seconds(30);
    assert_eq!(slot_of(at_ms(29_999), i), at_ms(0));
    assert_eq!(slot_of(at_ms(30_000), i), at_ms(30_000));
    assert_eq!(slot_of(at_ms(30_137), i), at_ms(30_000));
}
