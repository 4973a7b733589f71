use super::*;
use crate::config::{MaintenanceWindow, PortalCheck};

const T0: &str = "2026-11-27T10:00:00Z";

fn operator() -> Operator {
    Operator {
        id: OperatorId::new("contoso").unwrap(),
        name: "Contoso Mobile".into(),
        portal: PortalCheck::new("https://portal.contoso.example/".parse().unwrap()),
        contacts: vec![crate::ids::EmailAddress::parse("noc@contoso.example").unwrap()],
        timezone: chrono_tz::Tz::UTC,
        holidays: Default::default(),
        workdays: crate::calendar::default_workdays(),
        maintenance: vec![],
        api_clients: vec![],
        escalation_phones: vec![],
        agents: vec![],
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    T0.parse::<DateTime<Utc>>().unwrap() + Duration::seconds(secs)
}

fn probe(secs: i64, up: bool) -> ProbeResult {
    crate::testing::probe_at("contoso", at(secs), up)
}

/// Runs a script of (seconds after T0, up?) and returns the state and the
/// events as (seconds, short name) pairs.
fn run(
    op: &Operator,
    policy: &Policy,
    script: &[(i64, bool)],
) -> (MonitorState, Vec<(i64, String)>) {
    let probes: Vec<ProbeResult> = script.iter().map(|&(secs, up)| probe(secs, up)).collect();
    run_probes(op, policy, &probes)
}

fn run_probes(
    op: &Operator,
    policy: &Policy,
    probes: &[ProbeResult],
) -> (MonitorState, Vec<(i64, String)>) {
    let mut s = MonitorState::new(op.id.clone());
    let mut out = Vec::new();
    for p in probes {
        if let Evaluation::Applied { state, events } =
            evaluate(&s, p, op, policy, &crate::BusinessCalendar::default())
        {
            s = state;
            for e in events {
                out.push(((e.at() - at(0)).num_seconds(), fixtures::short_name(&e)));
            }
        }
    }
    (s, out)
}

/// Failures every 30 s from 0 through `last` seconds inclusive.
fn failing(last: i64) -> Vec<(i64, bool)> {
    (0..=last / 30).map(|i| (i * 30, false)).collect()
}

fn ev(list: &[(i64, &str)]) -> Vec<(i64, String)> {
    list.iter().map(|(s, n)| (*s, n.to_string())).collect()
}

#[test]
fn the_thirty_minute_rule() {
    let op = operator();
    let p = Policy::default();
    type Case = (&'static str, Vec<(i64, bool)>, Vec<(i64, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "29:59 of failures does not page",
            {
                let mut s = failing(1770);
                s.push((1799, false));
                s
            },
            vec![],
        ),
        ("exactly 30:00 does not page", failing(1800), vec![]),
        (
            "30:30 pages",
            failing(1830),
            vec![(1830, "open:portal_down")],
        ),
        (
            "a result at 30:01 answers the 30:00 slot: no page",
            {
                let mut s = failing(1770);
                s.push((1801, false));
                s
            },
            vec![],
        ),
        (
            "the 30:30 slot pages, even stamped a second into it",
            {
                let mut s = failing(1800);
                s.push((1831, false));
                s
            },
            vec![(1830, "open:portal_down")],
        ),
        (
            "one success breaks the run",
            {
                let mut s = failing(1200);
                s.push((1230, true));
                s.extend((42..=103).map(|i| (i * 30, false)));
                s
            },
            vec![(3090, "open:portal_down")],
        ),
        (
            "pages once for a long outage",
            failing(7200),
            vec![(1830, "open:portal_down")],
        ),
    ];
    for (name, script, want) in cases {
        let (_, got) = run(&op, &p, &script);
        assert_eq!(got, ev(&want), "{name}");
    }
}

#[test]
fn recovery_needs_consecutive_successes() {
    let op = operator();
    let p = Policy::default();
    let mut script = failing(1830);
    script.push((1860, true));
    script.push((1890, false)); // a lucky probe does not close it
    script.push((1920, true));
    script.push((1950, true)); // second in a row: resolved
    script.push((1980, false)); // a fresh failure starts a new run, no page
    let (s, got) = run(&op, &p, &script);
    assert_eq!(
        got,
        ev(&[(1830, "open:portal_down"), (1950, "resolve:portal_down")])
    );
    assert_eq!(s.down_since, Some(at(1980)));

    let three = Policy {
        recovery_successes: 3,
        ..Policy::default()
    };
    let mut script = failing(1830);
    script.extend([(1860, true), (1890, true), (1920, true)]);
    let (_, got) = run(&op, &three, &script);
    assert_eq!(
        got,
        ev(&[(1830, "open:portal_down"), (1920, "resolve:portal_down")])
    );
}

#[test]
fn duplicates_and_out_of_order_change_nothing() {
    let op = operator();
    let p = Policy::default();
    let (s, _) = run(&op, &p, &failing(1830));
    for secs in [1830, 1800, 0] {
        assert_eq!(
            evaluate(
                &s,
                &probe(secs, true),
                &op,
                &p,
                &crate::BusinessCalendar::default()
            ),
            Evaluation::Stale,
            "{secs}"
        );
        assert_eq!(
            evaluate(
                &s,
                &probe(secs, false),
                &op,
                &p,
                &crate::BusinessCalendar::default()
            ),
            Evaluation::Stale,
            "{secs}"
        );
    }
    // A replayed sequence on the same state adds no second page.
    let mut script = failing(1830);
    script.extend(failing(1830));
    let (_, got) = run(&op, &p, &script);
    assert_eq!(got, ev(&[(1830, "open:portal_down")]));
}

#[test]
fn a_gap_is_unknown_not_down() {
    let op = operator();
    let p = Policy::default();
    // 10 minutes of failures, 25 minutes of silence, then failures: the run
    // restarts after the gap, so no page until 30 minutes after it.
    let mut script = failing(600);
    script.extend((0..=61).map(|i| (2100 + i * 30, false)));
    let (_, got) = run(&op, &p, &script);
    assert_eq!(got, ev(&[(2100, "gap"), (3930, "open:portal_down")]));
    // A silence no longer than blind_after (5 min) between slots is not
    // a gap; 5:30 is.
    let (_, got) = run(&op, &p, &[(0, true), (300, true), (601, true)]);
    assert_eq!(got, ev(&[]));
    let (_, got) = run(&op, &p, &[(0, true), (300, true), (631, true)]);
    assert_eq!(got, ev(&[(630, "gap")]));
}

#[test]
fn maintenance_suppresses_pages_inside_the_window_only() {
    let mut op = operator();
    op.maintenance.push(MaintenanceWindow {
        start: at(0),
        end: at(3600),
        announced_at: None,
        description: None,
    });
    let p = Policy::default();
    // Down for 50 minutes inside the window, recovering inside it: never paged.
    let mut script = failing(3000);
    script.extend([(3030, true), (3060, true)]);
    let (_, got) = run(&op, &p, &script);
    assert_eq!(got, ev(&[(1830, "suppressed")]));
    // Overrunning the window: the first failure at its end pages at once.
    let (_, got) = run(&op, &p, &failing(3700));
    assert_eq!(got, ev(&[(1830, "suppressed"), (3600, "open:portal_down")]));
    // A window elsewhere in time changes nothing.
    let mut later = operator();
    later.maintenance.push(MaintenanceWindow {
        start: at(7200),
        end: at(9000),
        announced_at: None,
        description: None,
    });
    let (_, got) = run(&later, &p, &failing(1830));
    assert_eq!(got, ev(&[(1830, "open:portal_down")]));
}

#[test]
fn flapping_opens_a_low_incident_and_closes_with_hysteresis() {
    let op = operator();
    let p = Policy::default();
    // Two failures, one success, for an hour: 67% failed, never 30 minutes in a row.
    let mut script: Vec<(i64, bool)> = (0..120).map(|i| (i * 30, i % 3 == 2)).collect();
    let (s, got) = run(&op, &p, &script);
    // The 20th probe (at 570 s) is the first with enough samples.
    assert_eq!(got, ev(&[(570, "open:flapping")]));
    assert!(s.outage.is_none());
    // Healthy for 30 minutes: the share falls to 10% or below and it closes.
    script.extend((120..200).map(|i| (i * 30, true)));
    let (s, got) = run(&op, &p, &script);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].1, "resolve:flapping");
    assert!(s.flapping.is_none());
    // A solid outage is an outage, not flapping, however many probes failed.
    assert_eq!(run(&op, &p, &failing(1500)).1, vec![]);
    // Exactly half failing is not more than half: not flapping.
    let half: Vec<(i64, bool)> = (0..120).map(|i| (i * 30, i % 2 == 0)).collect();
    // (Half the probes failing is still a budget burn, warned about once.)
    let got = run(&op, &p, &half).1;
    assert!(got.iter().all(|(_, n)| n.starts_with("burn")), "{got:?}");
}

#[test]
fn a_percentile_is_above_the_sla_when_enough_timings_are() {
    // (slow, of n, percentile, above)
    let table = [
        (0, 0, 95.0, false),
        (3, 60, 95.0, false),
        (4, 60, 95.0, true),
        (1, 20, 95.0, false),
        (2, 20, 95.0, true),
        (1, 1, 95.0, true),
        (30, 60, 50.0, false),
        (31, 60, 50.0, true),
        (1, 100, 99.0, false),
        (2, 100, 99.0, true),
    ];
    for (slow, n, q, above) in table {
        assert_eq!(
            percentile_above_sla(slow, n, q),
            above,
            "{slow} of {n} at p{q}"
        );
    }
}

/// Up probes every 30 s from `from` for `count` probes, each `ms` long
/// (with `cpu_wait` of the prober's own CPU wait).
fn timed(from: i64, count: i64, ms: f64, cpu_wait: Option<f64>) -> Vec<ProbeResult> {
    (0..count)
        .map(|i| {
            let mut p = probe(from + i * 30, true);
            p.latency_ms = Some(ms);
            p.cpu_wait_ms = cpu_wait;
            p
        })
        .collect()
}

/// The latency SLA as an alert: a portal up but slow for long enough
/// opens one Low incident, resolved when the percentile holds again.
#[test]
fn a_slow_portal_opens_a_low_latency_incident_and_recovers() {
    let op = operator();
    let p = Policy::default();
    let cat = |parts: &[Vec<ProbeResult>]| parts.concat();
    let mut in_maintenance = op.clone();
    in_maintenance.maintenance = vec![MaintenanceWindow {
        start: at(0),
        end: at(7200),
        announced_at: None,
        description: None,
    }];
    let mut off = p.clone();
    off.latency.enabled = false;
    // (name, operator, policy, probes, events)
    type Case = (
        &'static str,
        Operator,
        Policy,
        Vec<ProbeResult>,
        Vec<(i64, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        // The 20th slow probe (570 s) is the first with enough timings.
        (
            "slow from the start",
            op.clone(),
            p.clone(),
            timed(0, 40, 900.0, None),
            vec![(570, "open:latency_sla")],
        ),
        (
            "at the SLA is within it",
            op.clone(),
            p.clone(),
            timed(0, 40, 400.0, None),
            vec![],
        ),
        // 3 of 60 slow is within a p95; the 4th slow breaks it.
        (
            "3 slow in the window hold, 4 do not",
            op.clone(),
            p.clone(),
            cat(&[
                timed(0, 57, 100.0, None),
                timed(1710, 3, 900.0, None),
                timed(1800, 1, 900.0, None),
            ]),
            vec![(1800, "open:latency_sla")],
        ),
        // Timings holding the prober's own CPU wait prove nothing.
        (
            "untrusted timings do not count",
            op.clone(),
            p.clone(),
            timed(0, 40, 900.0, Some(50.0)),
            vec![],
        ),
        (
            "not during maintenance",
            in_maintenance,
            p.clone(),
            timed(0, 40, 900.0, None),
            vec![],
        ),
        (
            "off when disabled",
            op.clone(),
            off,
            timed(0, 40, 900.0, None),
            vec![],
        ),
        // Slow for 20 minutes, then fast: at 2880 s the last 30 minutes
        // hold 3 slow of 60 timings, within a p95, and it is resolved.
        (
            "recovery",
            op.clone(),
            p.clone(),
            cat(&[timed(0, 40, 900.0, None), timed(1200, 60, 100.0, None)]),
            vec![(570, "open:latency_sla"), (2880, "resolve:latency_sla")],
        ),
    ];
    for (name, o, policy, probes, want) in cases {
        let (s, got) = run_probes(&o, &policy, &probes);
        let got: Vec<(i64, String)> = got
            .into_iter()
            .filter(|(_, n)| !n.starts_with("burn"))
            .collect();
        assert_eq!(got, ev(&want), "{name}");
        assert_eq!(s.latency.is_some(), want.len() % 2 == 1, "{name}");
    }
    // The incident says what was broken and is the operator's to answer.
    let (_, events) = match evaluate(
        &MonitorState::new(op.id.clone()),
        &timed(0, 1, 900.0, None)[0],
        &op,
        &p,
        &crate::BusinessCalendar::default(),
    ) {
        Evaluation::Applied { state, events } => (state, events),
        Evaluation::Stale => unreachable!(),
    };
    assert!(events.is_empty(), "one slow probe is no incident");
}

/// The windows are half-open: a sample exactly one window old has left it,
/// for flapping and for latency; and only timed up samples are latency's.
#[test]
fn a_sample_exactly_one_window_old_has_left_the_window() {
    let op = operator();
    // No gap resets the windows here: the first sample stays until it ages out.
    let p = Policy {
        blind_after: std::time::Duration::from_secs(7200),
        ..Policy::default()
    };
    let no_burn = |events: Vec<(i64, String)>| -> Vec<(i64, String)> {
        events
            .into_iter()
            .filter(|(_, n)| !n.starts_with("burn"))
            .collect()
    };
    // Flapping: a failure at 0, then 20 alternating probes from 1230 s. At
    // 1800 s the window holds 10 failures of 20 (not above half) once the
    // failure at 0 (exactly 30 minutes old) has left it.
    // (The state keeps the longer window's samples: latency's is an hour
    // here, so only flapping's own window leaves the failure out.)
    let mut script = vec![(0, false)];
    script.extend((0..20).map(|i| (1230 + i * 30, i % 2 == 0)));
    let mut longer = p.clone();
    longer.latency.window = std::time::Duration::from_secs(3600);
    let (_, got) = run(&op, &longer, &script);
    assert_eq!(no_burn(got), ev(&[]), "flapping's window");
    // Latency: 19 slow timings from 0 s and one at 1800 s: the one at 0 has
    // left the window, 19 timings are too few to judge.
    let probes = [timed(0, 19, 900.0, None), timed(1800, 1, 900.0, None)].concat();
    let mut longer = p.clone();
    longer.flapping.window = std::time::Duration::from_secs(3600);
    let (s, got) = run_probes(&op, &longer, &probes);
    assert_eq!(no_burn(got), ev(&[]), "latency's window");
    assert!(s.latency.is_none());
    // Failures carry no timing: 19 slow timings and two failures are still
    // too few timings to judge.
    let mut probes = timed(0, 19, 900.0, None);
    probes.extend([probe(570, false), probe(600, false)]);
    let (s, _) = run_probes(&op, &p, &probes);
    assert!(s.latency.is_none(), "failures are no timings");
}

/// Probes every 30 s from `from` for `count` probes of a name with two
/// addresses, the first answering, the second `second_up`.
fn two_addresses(from: i64, count: i64, second_up: bool) -> Vec<ProbeResult> {
    use crate::probe::AddressResult;
    (0..count)
        .map(|i| {
            let mut p = probe(from + i * 30, true);
            p.addresses = vec![
                AddressResult {
                    address: "203.0.113.7".parse().unwrap(),
                    outcome: Outcome::Up,
                    reason: None,
                    latency_ms: Some(100.0),
                },
                AddressResult {
                    address: "2001:db8::7".parse().unwrap(),
                    outcome: if second_up {
                        Outcome::Up
                    } else {
                        Outcome::Down
                    },
                    reason: (!second_up).then_some(FailureReason::Connect),
                    latency_ms: Some(100.0),
                },
            ];
            p
        })
        .collect()
}

/// A portal down for half its users (one address of two dead) answers
/// every probe: after the outage limit on that address, a Low incident
/// names it; it is resolved when the address answers again.
/// Without voting locations, an operator's agent results count for
/// nothing: pushed "up" between the monitor's failures, they would break
/// the run and hide the outage. The monitor's own results still count.
#[test]
fn an_operators_agent_cannot_break_the_monitors_run_of_failures() {
    let mut op = operator();
    op.agents = vec!["agent-contoso-1".into()];
    let p = Policy::default();
    let mut probes = Vec::new();
    for i in 0..=61 {
        let mut down = probe(i * 30, false);
        down.location = Some("us-east-1".into());
        let mut fake = probe(i * 30 + 1, true);
        fake.location = Some("agent-contoso-1".into());
        probes.extend([down, fake]);
    }
    let (s, got) = run_probes(&op, &p, &probes);
    assert_eq!(got, ev(&[(1830, "open:portal_down")]));
    assert!(s.outage.is_some());
}

#[test]
fn a_dead_address_behind_a_live_name_is_a_partial_outage() {
    let op = operator();
    let p = Policy::default();
    let cat = |parts: &[Vec<ProbeResult>]| parts.concat();
    let mut in_maintenance = op.clone();
    in_maintenance.maintenance = vec![MaintenanceWindow {
        start: at(0),
        end: at(7200),
        announced_at: None,
        description: None,
    }];
    let mut one_address = two_addresses(1830, 3, true);
    for p in &mut one_address {
        p.addresses.clear();
    }
    // (name, operator, probes, events)
    type Case = (
        &'static str,
        Operator,
        Vec<ProbeResult>,
        Vec<(i64, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        (
            "exactly 30:00 is not yet",
            op.clone(),
            two_addresses(0, 61, false),
            vec![],
        ),
        (
            "30:30 opens it",
            op.clone(),
            two_addresses(0, 62, false),
            vec![(1830, "open:partial_outage")],
        ),
        (
            "the address answers again",
            op.clone(),
            cat(&[two_addresses(0, 62, false), two_addresses(1860, 2, true)]),
            vec![
                (1830, "open:partial_outage"),
                (1860, "resolve:partial_outage"),
            ],
        ),
        (
            "the name stops listing the dead address",
            op.clone(),
            cat(&[two_addresses(0, 62, false), one_address]),
            vec![
                (1830, "open:partial_outage"),
                (1830 + 30, "resolve:partial_outage"),
            ],
        ),
        (
            "an address failing on and off is never 30 minutes in a row",
            op.clone(),
            (0..120)
                .flat_map(|i| two_addresses(i * 30, 1, i % 10 == 9))
                .collect(),
            vec![],
        ),
        (
            "not during maintenance",
            in_maintenance,
            two_addresses(0, 62, false),
            vec![],
        ),
    ];
    for (name, o, probes, want) in cases {
        let (s, got) = run_probes(&o, &p, &probes);
        let got: Vec<(i64, String)> = got
            .into_iter()
            .filter(|(_, n)| !n.starts_with("burn"))
            .collect();
        assert_eq!(got, ev(&want), "{name}");
        assert_eq!(s.partial.is_some(), want.len() % 2 == 1, "{name}");
    }
    // The incident names the failing address and starts at its first failure.
    let mut s = MonitorState::new(op.id.clone());
    let mut opened = None;
    for pr in two_addresses(0, 62, false) {
        if let Evaluation::Applied { state, events } =
            evaluate(&s, &pr, &op, &p, &crate::BusinessCalendar::default())
        {
            s = state;
            opened = opened.or(events.into_iter().find_map(|e| match e {
                Event::IncidentOpened { incident, .. } => Some(incident),
                _ => None,
            }));
        }
    }
    let incident = opened.expect("opened");
    assert_eq!(
        (incident.severity, incident.started_at),
        (Severity::Low, at(0))
    );
    assert!(
        incident.summary.contains("2001:db8::7 (connect)"),
        "{}",
        incident.summary
    );
    // Written and read back, the addresses and the incident stay.
    let back: MonitorState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}

/// The burn events of a script, each as (seconds, long window minutes,
/// long burn, short burn).
fn burns(op: &Operator, p: &Policy, script: &[(i64, bool)]) -> Vec<(i64, i64, f64, f64)> {
    let mut s = MonitorState::new(op.id.clone());
    let mut out = Vec::new();
    for &(secs, up) in script {
        if let Evaluation::Applied { state, events } = evaluate(
            &s,
            &probe(secs, up),
            op,
            p,
            &crate::BusinessCalendar::default(),
        ) {
            s = state;
            for e in events {
                if let Event::BudgetBurn {
                    at: when,
                    long_minutes,
                    long_burn,
                    short_burn,
                    ..
                } = e
                {
                    out.push((
                        (when - at(0)).num_seconds(),
                        long_minutes,
                        long_burn,
                        short_burn,
                    ));
                }
            }
        }
    }
    out
}

fn only_burns() -> Policy {
    Policy {
        flapping: crate::config::FlappingPolicy {
            open_above: 0.9,
            ..Default::default()
        },
        ..Policy::default()
    }
}

#[test]
fn burn_rates_are_the_failed_share_over_what_the_target_allows() {
    let op = operator();
    // 3 failures in every 30 probes (10%) against 99.9% (0.1% allowed):
    // a burn of exactly 100 in both windows of both tiers, at the 60th
    // probe (the minimum), and again exactly a day later, not before.
    let script: Vec<(i64, bool)> = (0..=3000).map(|i| (i * 30, i % 10 != 5)).collect();
    let got = burns(&op, &only_burns(), &script);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let when: Vec<(i64, i64)> = got.iter().map(|&(t, m, _, _)| (t, m)).collect();
    assert_eq!(
        when,
        [
            (1770, 360),
            (1770, 1440),
            (1770 + 86_400, 360),
            (1770 + 86_400, 1440)
        ],
        "{got:?}"
    );
    assert!(
        got.iter()
            .all(|&(_, _, l, s)| close(l, 100.0) && close(s, 100.0)),
        "{got:?}"
    );
    // A 99% target allows 1%: the same failures burn at 10.
    let lax = Policy {
        availability_target_percent: 99.0,
        ..only_burns()
    };
    let got = burns(&op, &lax, &script[..60]);
    assert!(close(got[0].2, 10.0) && close(got[0].3, 10.0), "{got:?}");
}

#[test]
fn a_burn_needs_both_windows_and_counts_whole_buckets() {
    let op = operator();
    // 10 failures in the first 15 minutes, healthy after; a burn is
    // judged only from the 90th probe (10:44:30). The 6-hour tier's long
    // window burns (10/90 = 111x), its 30-minute short window (the
    // buckets from 10:15) holds no failure: no warning from it. The day
    // tier's 2-hour short window holds them all: it warns, at 111x.
    let p = Policy {
        burn_min_probes: 90,
        ..only_burns()
    };
    let script: Vec<(i64, bool)> = (0..100)
        .map(|i| (i * 30, !(i < 30 && i % 3 == 0)))
        .collect();
    let got = burns(&op, &p, &script);
    assert_eq!(got.len(), 1, "{got:?}");
    let (t, minutes, long, short) = got[0];
    assert_eq!((t, minutes), (2670, 1440));
    assert!(
        (long - 1000.0 / 9.0).abs() < 1e-9 && (short - long).abs() < 1e-9,
        "{got:?}"
    );
    // One probe fewer than the minimum: nothing yet.
    assert!(burns(&op, &p, &script[..89]).is_empty());
}

#[test]
fn buckets_hold_a_quarter_hour_each_for_a_day() {
    let op = operator();
    let p = only_burns();
    // From 09:45 to the next day's 10:00, 3 failures in every 30 probes.
    let script: Vec<(i64, bool)> = (-30..=2880).map(|i| (i * 30, i % 10 != 5)).collect();
    let (s, _) = run(&op, &p, &script);
    // The 09:45 bucket ended exactly a day before the last probe: gone.
    assert_eq!(s.buckets.len(), 97);
    assert_eq!(s.buckets[0].start, at(0));
    assert!(
        s.buckets[..96].iter().all(|b| (b.good, b.bad) == (27, 3)),
        "{:?}",
        &s.buckets[..3]
    );
    assert_eq!((s.buckets[96].good, s.buckets[96].bad), (1, 0));
}

#[test]
fn a_flapping_incident_starts_at_the_windows_first_failure() {
    let op = operator();
    let p = Policy::default();
    // Up, up, then two failures and a success, over and over.
    let script: Vec<(i64, bool)> = (0..40).map(|i| (i * 30, i < 2 || i % 3 == 1)).collect();
    let mut s = MonitorState::new(op.id.clone());
    let mut opened = None;
    for &(secs, up) in &script {
        if let Evaluation::Applied { state, events } = evaluate(
            &s,
            &probe(secs, up),
            &op,
            &p,
            &crate::BusinessCalendar::default(),
        ) {
            s = state;
            for e in events {
                if let Event::IncidentOpened { incident, .. } = e {
                    opened.get_or_insert(incident);
                }
            }
        }
    }
    let incident = opened.expect("flapping");
    assert_eq!(incident.kind, IncidentKind::Flapping);
    assert_eq!(
        incident.started_at,
        at(60),
        "the first failure, not the first probe"
    );
}

#[test]
fn scattered_failures_warn_once_per_tier_when_the_budget_burns() {
    let op = operator();
    let p = Policy::default();
    // One failure every 5 minutes (10% of probes): 100x the 0.1% a month
    // allows, yet never 30 minutes down and well under half failing, so
    // neither an outage nor flapping; the bar is raised anyway to look
    // at burn rates alone.
    let p = Policy {
        flapping: crate::config::FlappingPolicy {
            open_above: 0.9,
            ..Default::default()
        },
        ..p
    };
    let script: Vec<(i64, bool)> = (0..240).map(|i| (i * 30, i % 10 != 5)).collect();
    let (s, got) = run(&op, &p, &script);
    let burns: Vec<_> = got
        .iter()
        .filter(|(_, n)| n.starts_with("burn"))
        .cloned()
        .collect();
    // 60 probes are needed first (30 minutes); then both tiers fire, once.
    assert_eq!(
        burns,
        ev(&[(1770, "burn:360"), (1770, "burn:1440")]),
        "{got:?}"
    );
    assert!(s.buckets.len() <= 97);
    // Healthy probes only: nothing.
    let healthy: Vec<(i64, bool)> = (0..240).map(|i| (i * 30, true)).collect();
    assert!(run(&op, &p, &healthy).1.is_empty());
    // Inside maintenance: not counted.
    let mut quiet = operator();
    quiet.maintenance.push(MaintenanceWindow {
        start: at(0),
        end: at(7200),
        announced_at: None,
        description: None,
    });
    assert!(run(&quiet, &p, &script)
        .1
        .iter()
        .all(|(_, n)| !n.starts_with("burn")));
}

#[test]
fn state_round_trips_compactly() {
    let op = operator();
    let script: Vec<(i64, bool)> = (0..2880).map(|i| (i * 30, i % 7 != 3)).collect();
    let (s, _) = run(&op, &Policy::default(), &script);
    let json = serde_json::to_string(&s).unwrap();
    let back: MonitorState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert!(
        json.len() < 3000,
        "a day of probes keeps the state small: {} bytes",
        json.len()
    );
    eprintln!("state after a day: {} bytes of JSON: {json}", json.len());
}

#[test]
fn a_state_in_the_first_format_still_reads() {
    let old = r#"{"operator":"contoso","last_probe_at":"2026-11-27T10:30:30Z","last_outcome":"down","last_reason":"timeout","down_since":"2026-11-27T10:00:00Z","consecutive_successes":0,"outage":{"id":"contoso-20261127T100000Z-portal_down","severity":"high","kind":"portal_down","started_at":"2026-11-27T10:00:00Z","opened_at":"2026-11-27T10:30:30Z"},"flapping":null,"suppressed_run":null,"recent":"1795773600d,1795773630d","cert_expires_at":null,"buckets":"1795773600:0:2","burn_warned":[null,null]}"#;
    let s: MonitorState = serde_json::from_str(old).unwrap();
    assert_eq!(
        s.outage.as_ref().map(|o| o.id.as_str()),
        Some("contoso-20261127T100000Z-portal_down")
    );
    assert_eq!(s.recent.len(), 2);
    assert_eq!((s.buckets[0].good, s.buckets[0].bad), (0, 2));
    // Written again, it takes the short form and reads back the same.
    let again = serde_json::to_string(&s).unwrap();
    assert!(
        again.contains(r#""outage":"portal_down/high/1795773600/1795775430""#),
        "{again}"
    );
    assert_eq!(serde_json::from_str::<MonitorState>(&again).unwrap(), s);
}

/// The worst day's state, its open day's timings spread over two
/// decades, takes two write units; a usual portal's (timings within
/// a factor of two, one location, no incident) stays within one.
#[test]
fn the_worst_day_stays_within_two_write_units_and_a_usual_one_within_one() {
    let s = fixtures::worst_day_state(at(0));
    let json = serde_json::to_string(&s).unwrap();
    let back: MonitorState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    // The store adds its keys (tests/limits.rs measures the items).
    assert!(json.len() <= 1_900, "{} bytes: {json}", json.len());
    eprintln!("the worst day: {} bytes of JSON", json.len());
    let usual = fixtures::usual_state(at(0));
    let json = serde_json::to_string(&usual).unwrap();
    let back: MonitorState = serde_json::from_str(&json).unwrap();
    assert_eq!(back.day, usual.day);
    assert!(json.len() <= 900, "{} bytes: {json}", json.len());
    eprintln!("a usual day: {} bytes of JSON", json.len());
}

#[test]
fn incidents_carry_their_deadlines() {
    let op = operator();
    let p = Policy::default();
    let s = run(&op, &p, &failing(1800)).0;
    match evaluate(
        &s,
        &probe(1830, false),
        &op,
        &p,
        &crate::BusinessCalendar::default(),
    ) {
        Evaluation::Applied { events, .. } => match &events[..] {
            [Event::IncidentOpened { incident, reason }] => {
                assert_eq!(incident.severity, Severity::High);
                assert_eq!(incident.started_at, at(0));
                assert_eq!(incident.opened_at, at(1830));
                assert_eq!(incident.initial_response_due, at(1830 + 3600));
                assert_eq!(incident.id, "contoso-20261127T100000Z-portal_down");
                assert_eq!(*reason, Some(FailureReason::Timeout));
                // Opened at 30:30: "more than", never "for 30 minutes".
                assert!(
                    incident
                        .summary
                        .contains("missing for more than 30 minutes"),
                    "{}",
                    incident.summary
                );
            }
            other => panic!("unexpected {other:?}"),
        },
        Evaluation::Stale => panic!("stale"),
    }
    // Low on a Friday (T0 is Friday 10:00 UTC): due Monday 10:00-ish.
    let script: Vec<(i64, bool)> = (0..20).map(|i| (i * 30, i % 3 == 2)).collect();
    let mut st = MonitorState::new(op.id.clone());
    let mut opened = None;
    for (secs, up) in script {
        if let Evaluation::Applied { state, events } = evaluate(
            &st,
            &probe(secs, up),
            &op,
            &p,
            &crate::BusinessCalendar::default(),
        ) {
            st = state;
            for e in events {
                if let Event::IncidentOpened { incident, .. } = e {
                    opened = Some(incident);
                }
            }
        }
    }
    let low = opened.expect("flapping incident");
    assert_eq!(low.severity, Severity::Low);
    assert_eq!(
        low.initial_response_due,
        "2026-11-30T10:09:30Z".parse::<DateTime<Utc>>().unwrap()
    );
}

/// Each kind of incident the monitor opens says what it is, in its own
/// words: none reads as another's.
#[test]
fn each_incident_kind_has_its_own_summary() {
    let op = operator();
    let p = Policy::default();
    for (kind, says) in [
        (
            IncidentKind::PortalDown,
            "expected response missing for more than 30 minutes",
        ),
        (IncidentKind::PartialOutage, "not on every address"),
        (
            IncidentKind::WalledGarden,
            "inside the operator's walled garden",
        ),
        (IncidentKind::LatencySla, "above the 400 ms SLA"),
        (IncidentKind::Flapping, "is flapping"),
    ] {
        let i = open_incident(
            &op,
            &p,
            Severity::Low,
            kind,
            at(0),
            at(1830),
            &probe(1830, false),
        );
        assert!(i.summary.contains(says), "{kind:?}: {}", i.summary);
    }
}

/// A latency incident starts at the first slow timing of its window, and
/// an address failing round after round is one entry, since its first.
#[test]
fn a_latency_incident_starts_at_its_first_slow_timing_and_an_address_is_down_once() {
    let op = operator();
    let p = Policy::default();
    let probes = [timed(0, 57, 100.0, None), timed(1710, 4, 900.0, None)].concat();
    let mut s = MonitorState::new(op.id.clone());
    let mut started = None;
    for pr in &probes {
        if let Evaluation::Applied { state, events } =
            evaluate(&s, pr, &op, &p, &crate::BusinessCalendar::default())
        {
            s = state;
            for e in events {
                if let Event::IncidentOpened { incident, .. } = e {
                    started = Some(incident.started_at);
                }
            }
        }
    }
    assert_eq!(started, Some(at(1710)), "the first slow timing");
    let (s, _) = run_probes(&op, &p, &two_addresses(0, 3, false));
    assert_eq!(s.addresses_down.len(), 1, "{:?}", s.addresses_down);
    assert_eq!(s.addresses_down[0].since, at(0));
}
