use super::*;
use crate::incident::incident_id;

/// An event's short name in the tests' tables: `open:portal_down`,
/// `resolve:flapping`, `suppressed`, `gap`, `burn:360`.
pub fn short_name(e: &Event) -> String {
    match e {
        Event::IncidentOpened { incident, .. } => format!("open:{}", incident.kind.as_str()),
        Event::IncidentResolved { incident, .. } => {
            format!("resolve:{}", incident.kind.as_str())
        }
        Event::PageSuppressed { .. } => "suppressed".into(),
        Event::MonitorGap { .. } => "gap".into(),
        Event::DayClosed { .. } => "day".into(),
        Event::BudgetBurn { long_minutes, .. } => format!("burn:{long_minutes}"),
    }
}

/// The largest state a day can leave: the longest operator id, every
/// window entry unlike its neighbour, the longest window the policy
/// allows (`MAX_LATENCY_WINDOW`), every incident open, every field set. The stores add their keys to it; tests/limits.rs measures the
/// stored item.
pub fn worst_day_state(day: DateTime<Utc>) -> MonitorState {
    let at = |secs: i64| day + Duration::seconds(secs);
    let id = OperatorId::new("o".repeat(OperatorId::MAX_LEN)).expect("a valid id");
    let open = |kind| OpenRef {
        id: incident_id(&id, at(0), kind),
        severity: Severity::High,
        kind,
        started_at: at(0),
        opened_at: at(1830),
    };
    MonitorState {
        operator: id.clone(),
        last_probe_at: Some(at(86_370)),
        last_outcome: Some(Outcome::Down),
        last_reason: Some(FailureReason::Redirect),
        down_since: Some(at(84_000)),
        consecutive_successes: 0,
        outage: Some(open(IncidentKind::PortalDown)),
        flapping: Some(open(IncidentKind::Flapping)),
        latency: Some(open(IncidentKind::LatencySla)),
        partial: Some(open(IncidentKind::PartialOutage)),
        // A portal behind one address, probed from one location: the
        // fields for several (tests/limits.rs measures that case).
        addresses_down: vec![],
        votes: vec![],
        decided_through: None,
        location_seen: vec![],
        location_runs: vec![],
        path: None,
        suppressed_run: Some(at(84_000)),
        // An hour's window of changing verdicts, one of them late.
        recent: (0..120)
            .map(|i| Sample {
                at: at(82_800 + i * 30 + i64::from(i == 30) * 7),
                up: i % 4 != 0,
                slow: [None, Some(true), Some(false), None][(i % 4) as usize],
            })
            .collect(),
        cert_expires_at: Some(at(90 * 86_400)),
        // 96 buckets, no two neighbours alike.
        buckets: (0..96)
            .map(|i| Bucket {
                start: at(i * BUCKET_MINUTES * 60),
                good: 30 - (i % 7) as u32 - 1,
                bad: (i % 7) as u32 + 1,
            })
            .collect(),
        burn_warned: vec![Some(at(3600)), Some(at(7200))],
        day: Some(worst_day_summary(day)),
        witnesses: vec![],
        garden: None,
    }
}

/// A usual portal's state late in a day: one location, up, answering
/// in 80 to 160 ms, its day's every round counted.
pub fn usual_state(day: DateTime<Utc>) -> MonitorState {
    let op = OperatorId::new("contoso-mobile").unwrap_or_else(|_| unreachable!());
    let policy = Policy::default();
    let operator = Operator {
        id: op.clone(),
        name: "Contoso Mobile".into(),
        portal: crate::PortalCheck::new(
            "https://modirect.contoso.example/"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        ),
        contacts: vec![],
        timezone: chrono_tz::UTC,
        holidays: Default::default(),
        workdays: crate::calendar::default_workdays(),
        maintenance: vec![],
        api_clients: vec![],
        escalation_phones: vec![],
        agents: vec![],
    };
    let mut s = MonitorState::new(op.clone());
    for i in 0..2_879i64 {
        let p = ProbeResult {
            operator: op.clone(),
            probed_at: day + Duration::seconds(30 * i) + Duration::milliseconds(137),
            outcome: Outcome::Up,
            reason: None,
            status: Some(200),
            latency_ms: Some(80.0 * 2f64.powf((i % 97) as f64 / 97.0)),
            phases: None,
            url: None,
            redirects: 0,
            cert_expires_at: Some(day + Duration::days(60)),
            detail: None,
            cpu_wait_ms: Some(0.4),
            addresses: vec![],
            location: None,
            slot: None,
        };
        if let Evaluation::Applied { state, .. } =
            evaluate(&s, &p, &operator, &policy, &Default::default())
        {
            s = state;
        }
    }
    s
}

/// A day's open summary near its end: every round timed, spread over
/// 40 ms to 4 s (far wider than a healthy portal's), a certificate.
pub fn worst_day_summary(day: DateTime<Utc>) -> crate::summary::DaySummary {
    let mut d = crate::summary::DaySummary::new(day.date_naive());
    for i in 0..2_879u32 {
        d.latency
            .add(40.0 * 100f64.powf(f64::from(i % 240) / 240.0));
    }
    (d.up_s, d.down_s, d.rounds, d.rounds_down, d.probes) = (84_000, 2_370, 2_879, 79, 2_879);
    (d.over_sla, d.untrusted) = (1_400, 3);
    d.cert_expires_at = Some(day + Duration::days(90));
    d.last_slot = Some(day + Duration::seconds(86_370));
    d
}
