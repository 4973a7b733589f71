use super::*;
use crate::incident::{IncidentKind, IncidentStatus};
use crate::probe::{FailureReason, Outcome, ProbeResult};
use crate::MaintenanceWindow;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The days the monitor decides from `probes` (in time order), with
/// `windows` announced, on `tz`'s calendar.
fn decided(
    probes: &[ProbeResult],
    windows: &[crate::MaintenanceWindow],
    tz: chrono_tz::Tz,
) -> Vec<DaySummary> {
    let mut op = crate::testing::madrid_operator("contoso");
    op.timezone = tz;
    op.maintenance = windows.to_vec();
    crate::summary::decide_days(&op, &Policy::default(), &Default::default(), probes)
}

fn probe(t: DateTime<Utc>, up: bool, latency: f64) -> ProbeResult {
    ProbeResult {
        operator: OperatorId::new("contoso").unwrap(),
        probed_at: t,
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: (!up).then_some(FailureReason::Status),
        status: Some(if up { 200 } else { 503 }),
        latency_ms: Some(latency),
        phases: None,
        url: None,
        redirects: 0,
        cert_expires_at: None,
        detail: None,
        cpu_wait_ms: None,
        addresses: vec![],
        location: None,
        slot: None,
    }
}

/// A name with two addresses: each one's share of the probes that
/// listed it, the most probed first.
#[test]
fn each_address_has_its_availability() {
    use crate::probe::AddressResult;
    let addr = |ip: &str, up: bool| AddressResult {
        address: ip.parse().unwrap(),
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: (!up).then_some(FailureReason::Connect),
        latency_ms: Some(100.0),
    };
    let probes: Vec<ProbeResult> = (0..100)
        .map(|i| {
            let mut p = probe(
                utc("2026-02-10T00:00:00Z") + Duration::seconds(30 * i),
                true,
                100.0,
            );
            p.addresses = vec![addr("203.0.113.7", true), addr("2001:db8::7", i % 4 != 0)];
            if i >= 90 {
                p.addresses.pop();
            }
            p
        })
        .collect();
    let days = decided(&probes, &[], chrono_tz::Tz::UTC);
    let lines = address_lines(&days.iter().collect::<Vec<_>>());
    let got: Vec<(String, usize, usize)> = lines
        .iter()
        .map(|l| (l.address.to_string(), l.probes, l.up))
        .collect();
    assert_eq!(
        got,
        [
            ("203.0.113.7".into(), 100, 100),
            ("2001:db8::7".into(), 90, 67)
        ]
    );
    assert!((lines[1].availability_percent - 67.0 * 100.0 / 90.0).abs() < 1e-9);
    assert!(address_lines(&[]).is_empty());
}

#[test]
fn timings_holding_our_own_cpu_wait_are_left_out_of_the_latency_figures() {
    let t = utc("2026-02-10T10:00:00Z");
    let at = |i: i64| t + chrono::Duration::seconds(30 * i);
    let with_wait = |i, latency, wait| ProbeResult {
        cpu_wait_ms: wait,
        ..probe(at(i), true, latency)
    };
    let probes = [
        with_wait(0, 100.0, None),
        with_wait(1, 200.0, Some(0.5)),
        with_wait(2, 300.0, Some(crate::probe::MAX_CPU_WAIT_MS)),
        // Slow only because the prober could not run: not the operator's.
        with_wait(3, 900.0, Some(250.0)),
        with_wait(4, 950.0, Some(10.5)),
        // Down probes never count for latency, trusted or not.
        ProbeResult {
            cpu_wait_ms: Some(99.0),
            ..probe(at(5), false, 5.0)
        },
    ];
    let l = latency_of(&probes);
    let near = |got: Option<f64>, want: f64| {
        got.is_some_and(|g| (g - want).abs() <= want * crate::sketch::RELATIVE_ACCURACY)
    };
    assert_eq!((l.samples, l.untrusted, l.over_sla_percent), (3, 2, 0.0));
    assert!(near(l.p50_ms, 200.0) && near(l.p99_ms, 300.0), "{l:?}");
    // Counting them would have put 40% of the month over the SLA.
    let all: Vec<ProbeResult> = probes
        .iter()
        .map(|p| ProbeResult {
            cpu_wait_ms: None,
            ..p.clone()
        })
        .collect();
    let l = latency_of(&all);
    assert_eq!((l.samples, l.untrusted, l.over_sla_percent), (5, 0, 40.0));
}

/// The latency figures of a month made of `probes`.
fn latency_of(probes: &[ProbeResult]) -> Latency {
    let days = decided(probes, &[], chrono_tz::Tz::UTC);
    report_of(&days, "2026-02", chrono_tz::Tz::UTC).latency
}

fn report_of(days: &[DaySummary], month: &str, tz: chrono_tz::Tz) -> MonthlyReport {
    monthly(ReportInput {
        operator: OperatorId::new("contoso").unwrap(),
        month: month.parse().unwrap(),
        policy: &Policy::default(),
        days,
        incidents: &[],
        notices: &[],
        timezone: tz,
        now: chrono::DateTime::<chrono::Utc>::MAX_UTC,
    })
}

#[test]
fn a_month_has_its_days_and_its_predecessor() {
    let june: Month = "2026-06".parse().unwrap();
    let days = june.day_bounds(chrono_tz::Tz::UTC);
    assert_eq!(
        days.len(),
        31,
        "30 days and the next month's first midnight"
    );
    assert_eq!(
        (days[0], days[30]),
        (utc("2026-06-01T00:00:00Z"), utc("2026-07-01T00:00:00Z"))
    );
    assert_eq!(
        june.bounds_in(chrono_tz::Europe::Madrid),
        (utc("2026-05-31T22:00:00Z"), utc("2026-06-30T22:00:00Z"))
    );
    let december: Month = "2026-12".parse().unwrap();
    let days = december.day_bounds(chrono_tz::Tz::UTC);
    assert_eq!((days.len(), days[31]), (32, utc("2027-01-01T00:00:00Z")));
    let prev = |t: &str| Month::previous(utc(t)).to_string();
    assert_eq!(prev("2026-03-01T00:00:00Z"), "2026-02");
    assert_eq!(prev("2026-01-15T12:00:00Z"), "2025-12");
    // The last month ended on the operator's calendar: (now, zone, month).
    let table = [
        (
            "2026-12-01T00:05:00Z",
            chrono_tz::America::New_York,
            "2026-10",
        ),
        (
            "2026-12-01T04:59:59Z",
            chrono_tz::America::New_York,
            "2026-10",
        ),
        (
            "2026-12-01T05:00:00Z",
            chrono_tz::America::New_York,
            "2026-11",
        ),
        ("2026-11-30T23:00:00Z", chrono_tz::Europe::Madrid, "2026-11"),
        ("2026-11-30T22:59:59Z", chrono_tz::Europe::Madrid, "2026-10"),
        (
            "2027-01-01T04:59:59Z",
            chrono_tz::America::New_York,
            "2026-11",
        ),
        (
            "2027-01-01T05:00:00Z",
            chrono_tz::America::New_York,
            "2026-12",
        ),
        ("2026-12-01T00:00:00Z", chrono_tz::Tz::UTC, "2026-11"),
    ];
    for (now, tz, month) in table {
        assert_eq!(
            Month::previous_in(utc(now), tz).to_string(),
            month,
            "{now} {tz}"
        );
    }
}

#[test]
fn a_latency_at_the_sla_is_within_it_and_the_month_ends_where_it_ends() {
    let t = utc("2026-02-10T10:00:00Z");
    assert_eq!(latency_of(&[probe(t, true, 400.0)]).over_sla_percent, 0.0);
    assert_eq!(
        latency_of(&[probe(t, true, 400.001)]).over_sla_percent,
        100.0
    );
    // Rounds just outside the month are not the month's.
    let probes = [
        probe(utc("2026-01-31T23:59:30Z"), false, 5.0),
        probe(utc("2026-02-01T00:00:00Z"), true, 100.0),
        probe(utc("2026-03-01T00:00:00Z"), false, 5.0),
    ];
    let days = decided(&probes, &[], chrono_tz::Tz::UTC);
    let r = report_of(&days, "2026-02", chrono_tz::Tz::UTC);
    assert_eq!((r.probes, r.rounds, r.rounds_down), (1, 1, 0));
}

#[test]
fn months_parse_and_bound() {
    let m: Month = "2026-02".parse().unwrap();
    assert_eq!(
        (m.start(), m.end()),
        (utc("2026-02-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"))
    );
    let d: Month = "2026-12".parse().unwrap();
    assert_eq!(d.end(), utc("2027-01-01T00:00:00Z"));
    for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
        assert!(bad.parse::<Month>().is_err(), "{bad}");
    }
    assert_eq!(
        Month::previous(utc("2027-01-01T00:05:00Z")).to_string(),
        "2026-12"
    );
}

/// February 2026 (28 days, 40,320 minutes), hand-computed:
/// * probes every 30 s, 100 ms, except the first 1,000 of the month at 500 ms;
/// * down 10 Feb 10:00–10:30 (60 probes): 30 minutes of downtime;
/// * announced maintenance 14 Feb 02:00–03:00, down throughout: 60 minutes
///   down inside maintenance, not counted against the SLA;
/// * no probes 20 Feb 00:00–02:00: 120 minutes unknown (the probe at
///   23:59:30 speaks for its slot, 30 s);
/// * no probes 22 Feb 10:00:30–10:04:30: 9 slots, 4.5 minutes unknown.
///
/// Up = 40,320 − 30 − 60 − 120 − 4.5 = 40,105.5 minutes.
/// Raw = 40,105.5 / 40,320. SLA = (40,105.5 − 30) / (40,105.5 − 30 + 30).
/// Budget = 40,320 × 0.1 % = 40.32 minutes; left 10.32.
/// Rounds = 28 × 2,880 − 240 − 9 = 80,391; down 180; up 80,211, of which
/// 1,000 over 400 ms = 1.2467 %, so p99 is 500 ms and p95 100 ms (each
/// within the sketch's 1%).
#[test]
fn fixture_month_matches_the_hand_computation() {
    let month: Month = "2026-02".parse().unwrap();
    let mut probes = Vec::new();
    let mut t = month.start();
    let mut n = 0;
    while t < month.end() {
        let in_gap = t >= utc("2026-02-20T00:00:00Z") && t < utc("2026-02-20T02:00:00Z");
        // Five minutes without a probe, exactly `blind_after`: still observed.
        let short_gap = t > utc("2026-02-22T10:00:00Z") && t < utc("2026-02-22T10:05:00Z");
        if !in_gap && !short_gap {
            let down = (t >= utc("2026-02-10T10:00:00Z") && t < utc("2026-02-10T10:30:00Z"))
                || (t >= utc("2026-02-14T02:00:00Z") && t < utc("2026-02-14T03:00:00Z"));
            probes.push(probe(t, !down, if n < 1000 { 500.0 } else { 100.0 }));
            n += 1;
        }
        t += Duration::seconds(30);
    }
    // Down 02:00-03:00 inside a window to 03:30: half an hour of it up.
    let windows = [MaintenanceWindow {
        start: utc("2026-02-14T02:00:00Z"),
        end: utc("2026-02-14T03:30:00Z"),
        announced_at: None,
        description: None,
    }];
    let op = OperatorId::new("contoso").unwrap();
    let incident = |id: &str, opened: &str, ack: Option<&str>| Incident {
        id: id.into(),
        operator: op.clone(),
        severity: Severity::High,
        kind: IncidentKind::PortalDown,
        raised_by: crate::incident::Party::Team,
        owed_by: crate::incident::Party::Operator,
        status: IncidentStatus::Resolved,
        started_at: utc(opened),
        opened_at: utc(opened),
        resolved_at: None,
        summary: String::new(),
        initial_response_due: utc(opened) + Duration::hours(1),
        acknowledged_at: ack.map(utc),
        last_update_at: None,
        next_update_due: None,
        version: 0,
    };
    let mut slow = incident("e", "2026-02-20T12:00:00Z", None);
    slow.kind = IncidentKind::LatencySla;
    let mut slow_in_march = incident("f", "2026-03-02T12:00:00Z", None);
    slow_in_march.kind = IncidentKind::LatencySla;
    let incidents = [
        incident("a", "2026-02-10T10:30:30Z", Some("2026-02-10T10:50:00Z")),
        incident("b", "2026-02-14T03:00:00Z", Some("2026-02-14T04:30:00Z")),
        incident("c", "2026-01-31T23:00:00Z", None),
        incident("d", "2026-03-01T00:00:00Z", None),
        slow,
        slow_in_march,
    ];
    let notice = |start: &str, late: bool| Maintenance {
        id: start.into(),
        announcer: crate::partner::Announcer::Operator(op.clone()),
        start: utc(start),
        end: utc(start) + Duration::hours(1),
        description: "d".into(),
        services: vec![],
        announced_at: utc("2026-01-01T00:00:00Z"),
        lead_business_days: if late { 2 } else { 9 },
        late,
        approved_at: None,
        over_limit: None,
        status: crate::partner::MaintenanceStatus::Completed,
        completed_at: None,
        cancelled_at: None,
    };
    let notices = [
        notice("2026-01-31T23:59:59Z", false),
        notice("2026-02-01T00:00:00Z", true),
        notice("2026-02-14T02:00:00Z", false),
        notice("2026-02-20T10:00:00Z", false),
        notice("2026-03-01T00:00:00Z", true),
    ];
    let policy = Policy::default();
    let days = decided(&probes, &windows, chrono_tz::Tz::UTC);
    let r = monthly(ReportInput {
        operator: op,
        month,
        policy: &policy,
        days: &days,
        incidents: &incidents,
        notices: &notices,
        timezone: chrono_tz::Tz::UTC,
        now: chrono::DateTime::<chrono::Utc>::MAX_UTC,
    });
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(close(r.minutes_in_month, 40_320.0));
    assert!(close(r.downtime_minutes, 30.0), "{}", r.downtime_minutes);
    assert!(close(r.down_in_maintenance_minutes, 60.0));
    assert!(close(r.unknown_minutes, 124.5), "{}", r.unknown_minutes);
    assert!(close(r.up_minutes, 40_105.5), "{}", r.up_minutes);
    assert!(close(
        r.availability_raw_percent,
        40_105.5 * 100.0 / 40_320.0
    ));
    assert!(close(
        r.availability_percent.unwrap(),
        40_075.5 * 100.0 / 40_105.5
    ));
    assert!(close(r.maintenance_minutes, 90.0));
    let lines: Vec<&str> = r.maintenance.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        lines,
        [
            "2026-02-01T00:00:00Z",
            "2026-02-14T02:00:00Z",
            "2026-02-20T10:00:00Z"
        ]
    );
    assert_eq!((r.maintenance_on_time, r.maintenance_late), (2, 1));
    assert!(r.met_target);
    assert!(close(r.error_budget_minutes, 40.32));
    assert!(close(r.error_budget_left_minutes, 10.32));
    assert_eq!((r.probes, r.rounds, r.rounds_down), (80_391, 80_391, 180));
    let near = |got: Option<f64>, want: f64| {
        got.is_some_and(|g| (g - want).abs() <= want * crate::sketch::RELATIVE_ACCURACY)
    };
    assert!(
        near(r.latency.p50_ms, 100.0)
            && near(r.latency.p95_ms, 100.0)
            && near(r.latency.p99_ms, 500.0),
        "{:?}",
        r.latency
    );
    assert!(close(r.latency.over_sla_percent, 1000.0 * 100.0 / 80_211.0));
    assert_eq!(
        r.incidents.len(),
        3,
        "January's and March's incidents are not February's"
    );
    assert_eq!(
        r.latency.incidents, 1,
        "February's latency SLA incident counted"
    );
    assert_eq!(r.incidents[0].minutes_to_acknowledge, Some(19.5));
    assert!(r.incidents[0].acknowledged_on_time && !r.incidents[1].acknowledged_on_time);
    assert_eq!(r.days.len(), 28);
    let d20 = &r.days[19];
    assert!(close(d20.unknown_minutes, 120.0) && d20.availability_percent == Some(100.0));
    let d10 = &r.days[9];
    assert!(close(d10.down_minutes, 30.0) && close(d10.unknown_minutes, 0.0));
    assert_eq!(
        (d10.latency.samples, r.days[19].latency.samples),
        (2820, 2640)
    );
    let d14 = &r.days[13];
    assert!(close(d14.unknown_minutes, 0.0) && close(d14.down_minutes, 0.0));
    assert_eq!(d14.availability_percent, Some(100.0));
    assert!(
        close(r.days[21].unknown_minutes, 4.5),
        "nine slots without a round are unknown"
    );
    assert!(close(
        d10.availability_percent.unwrap(),
        (1440.0 - 30.0) * 100.0 / 1440.0
    ));
}

#[test]
fn days_and_month_are_the_operators_local_ones() {
    let month: Month = "2026-03".parse().unwrap();
    let madrid = chrono_tz::Europe::Madrid;
    let b = month.day_bounds(madrid);
    assert_eq!(b.len(), 32);
    assert_eq!(b[0], utc("2026-02-28T23:00:00Z"), "1 March 00:00 CET");
    assert_eq!(b[31], utc("2026-03-31T22:00:00Z"), "1 April 00:00 CEST");
    // 29 March has 23 hours in Madrid.
    assert_eq!(b[29] - b[28], Duration::hours(23));
    let policy = Policy::default();
    let probes: Vec<ProbeResult> = (0..)
        .map(|i| b[0] + Duration::seconds(30 * i))
        .take_while(|t| *t < b[31])
        .map(|t| probe(t, true, 100.0))
        .collect();
    let days = decided(&probes, &[], madrid);
    let r = monthly(ReportInput {
        operator: OperatorId::new("contoso").unwrap(),
        month,
        policy: &policy,
        days: &days,
        incidents: &[],
        notices: &[],
        timezone: madrid,
        now: chrono::DateTime::<chrono::Utc>::MAX_UTC,
    });
    assert_eq!(r.days.len(), 31);
    assert_eq!(r.days[28].date.to_string(), "2026-03-29");
    assert!(
        r.days.iter().all(|d| d.unknown_minutes.abs() < 1e-9),
        "every local day fully observed"
    );
    assert!(
        (r.minutes_in_month - (31.0 * 1440.0 - 60.0)).abs() < 1e-9,
        "a month an hour short"
    );
}

#[test]
fn a_month_without_probes_is_unknown_not_down() {
    let policy = Policy::default();
    let r = monthly(ReportInput {
        operator: OperatorId::new("contoso").unwrap(),
        month: "2026-04".parse().unwrap(),
        policy: &policy,
        days: &[],
        incidents: &[],
        notices: &[],
        timezone: chrono_tz::Tz::UTC,
        now: chrono::DateTime::<chrono::Utc>::MAX_UTC,
    });
    assert_eq!(r.availability_percent, None);
    assert!(!r.met_target);
    assert_eq!(r.downtime_minutes, 0.0);
    assert_eq!(r.unknown_minutes, 30.0 * 1440.0);
    assert!(
        r.days.iter().all(|d| d.availability_percent.is_none()),
        "a day nobody watched has no availability"
    );
    assert!(
        (r.error_budget_minutes - 43.2).abs() < 1e-9,
        "43.2 minutes in a 30-day month at 99.9%"
    );
}

/// A month is judged once it has ended: before, three good probes read
/// "so far", and only the time gone by can be unknown; a month nothing
/// was observed in reads "no data", never MISSED.
#[test]
fn a_month_is_judged_when_it_ends_and_an_empty_one_has_no_data() {
    let t = utc("2026-12-02T10:00:00Z");
    let probes: Vec<ProbeResult> = (0..3)
        .map(|i| probe(t + chrono::Duration::seconds(30 * i), true, 50.0))
        .collect();
    let days = decided(&probes, &[], chrono_tz::Tz::UTC);
    let at = |now: &str| {
        monthly(ReportInput {
            operator: OperatorId::new("contoso").unwrap(),
            month: "2026-12".parse().unwrap(),
            policy: &Policy::default(),
            days: &days,
            incidents: &[],
            notices: &[],
            timezone: chrono_tz::Tz::UTC,
            now: utc(now),
        })
    };
    let r = at("2026-12-03T00:00:00Z");
    assert_eq!((r.standing, r.met_target), (Standing::InProgress, false));
    assert_eq!(r.elapsed_minutes, 2.0 * 1440.0);
    assert!(
        r.unknown_minutes > 2.0 * 1440.0 - 5.0 && r.unknown_minutes < 2.0 * 1440.0,
        "the two days gone by, less the rounds observed: {}",
        r.unknown_minutes
    );
    let ended = at("2027-01-01T00:00:00Z");
    assert_eq!((ended.standing, ended.met_target), (Standing::Met, true));
    assert_eq!(ended.elapsed_minutes, ended.minutes_in_month);
    for now in ["2026-11-30T00:00:00Z", "2027-02-01T00:00:00Z"] {
        let empty = monthly(ReportInput {
            operator: OperatorId::new("contoso").unwrap(),
            month: "2026-12".parse().unwrap(),
            policy: &Policy::default(),
            days: &[],
            incidents: &[],
            notices: &[],
            timezone: chrono_tz::Tz::UTC,
            now: utc(now),
        });
        assert_eq!(empty.standing, Standing::NoData, "{now}");
        assert_eq!(empty.standing.label(), "no data (nothing was observed)");
    }
}
