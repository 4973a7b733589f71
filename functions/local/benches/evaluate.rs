//! The evaluator's costs: a 100-record stream batch through the service on
//! the embedded store (state read once and written once per operator), and
//! the pure rules over a month of probes.
//!
//! cargo bench -p livesite-local --bench evaluate

use chrono::{DateTime, Duration, Utc};
use livesite_core::evaluate::{evaluate, Evaluation, MonitorState};
use livesite_core::service::{evaluate_batch, Context};
use livesite_core::{
    EmailAddress, FailureReason, Operator, OperatorId, Outcome, Policy, PortalCheck, ProbeResult,
    Team,
};
use livesite_local::SqliteStore;
use std::time::Instant;

fn operator(id: &str) -> Operator {
    Operator {
        id: OperatorId::new(id).expect("id"),
        name: id.into(),
        portal: PortalCheck::new("https://p.example/".parse().expect("url")),
        contacts: vec![EmailAddress::parse("noc@p.example").expect("email")],
        timezone: livesite_core::Tz::UTC,
        holidays: Default::default(),
        workdays: livesite_core::BusinessCalendar::default().workdays,
        maintenance: vec![],
        api_clients: vec![],
        escalation_phones: vec![],
        agents: vec![],
    }
}

fn probe(op: &str, t: DateTime<Utc>, up: bool) -> ProbeResult {
    ProbeResult {
        operator: OperatorId::new(op).expect("id"),
        probed_at: t,
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: (!up).then_some(FailureReason::Timeout),
        status: up.then_some(200),
        latency_ms: Some(120.0),
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let t0: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().expect("time");
    // 100 operators, one result each: one round's stream batch.
    let ops: Vec<Operator> = (0..100).map(|i| operator(&format!("op-{i}"))).collect();
    let team = Team {
        sender: EmailAddress::parse("l@d.example").expect("email"),
        emails: vec![EmailAddress::parse("t@d.example").expect("email")],
        channels: Default::default(),
        phone: None,
        calendar: Default::default(),
        api_url: None,
    };
    let ctx = Context::new(Policy::default(), team, ops.clone());
    let store = SqliteStore::in_memory().expect("store");
    let rounds = 200;
    let started = Instant::now();
    for r in 0..rounds {
        let at = t0 + Duration::seconds(30 * r);
        let batch: Vec<ProbeResult> = ops
            .iter()
            .map(|o| probe(o.id.as_str(), at, r % 5 != 0))
            .collect();
        let out = evaluate_batch(&store, &ctx, &batch).await;
        assert!(out.failed.is_empty());
    }
    let per_batch = started.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
    println!("evaluate_batch, 100 records (100 operators) on SQLite: {per_batch:.2} ms a batch");

    // A month of one portal's probes through the pure rules.
    let op = operator("contoso");
    let policy = Policy::default();
    let month: Vec<ProbeResult> = (0..86_400)
        .map(|i| probe("contoso", t0 + Duration::seconds(30 * i), i % 97 != 0))
        .collect();
    let started = Instant::now();
    let mut state = MonitorState::new(op.id.clone());
    let mut events = 0;
    for p in &month {
        if let Evaluation::Applied {
            state: s,
            events: e,
        } = evaluate(&state, p, &op, &policy, &ctx.team.calendar)
        {
            state = s;
            events += e.len();
        }
    }
    let took = started.elapsed();
    println!(
        "evaluate (pure), 86,400 probes (a portal-month): {:.0} ms, {:.2} µs a probe, {events} events",
        took.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1e6 / month.len() as f64
    );
}
