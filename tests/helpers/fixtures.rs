//! Operators, policies and probe records shared by the test binaries.

use chrono::{DateTime, Duration, Utc};
use livesite_core::{
    EmailAddress, FailureReason, Operator, OperatorId, Outcome, PortalCheck, ProbeResult, Team,
};

pub fn t0() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().expect("static time")
}

pub fn operator(id: &str) -> Operator {
    Operator {
        id: OperatorId::new(id).expect("operator id"),
        name: format!("{id} Mobile"),
        portal: PortalCheck::new(
            url::Url::parse(&format!("https://portal.{id}.example/")).expect("url"),
        ),
        contacts: vec![EmailAddress::parse(format!("noc@{id}.example")).expect("email")],
        timezone: livesite_core::Tz::UTC,
        holidays: Default::default(),
        workdays: livesite_core::BusinessCalendar::default().workdays,
        maintenance: vec![],
        api_clients: vec![],
        escalation_phones: vec![],
        agents: vec![],
    }
}

pub fn team() -> Team {
    Team {
        sender: EmailAddress::parse("livesite@dynamo.example").expect("email"),
        emails: vec![EmailAddress::parse("osoc@dynamo.example").expect("email")],
        channels: Default::default(),
        phone: None,
        calendar: Default::default(),
        api_url: None,
    }
}

/// A probe of `op` at `t0 + secs`.
pub fn probe(op: &str, secs: i64, up: bool) -> ProbeResult {
    ProbeResult {
        operator: OperatorId::new(op).expect("operator id"),
        probed_at: t0() + Duration::seconds(secs),
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: if up {
            None
        } else {
            Some(FailureReason::Connect)
        },
        status: if up { Some(200) } else { None },
        latency_ms: Some(if up { 120.0 } else { 3.0 }),
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

/// Failures every 30 s from `from` to `to` seconds, inclusive.
pub fn failures(op: &str, from: i64, to: i64) -> Vec<ProbeResult> {
    (from / 30..=to / 30)
        .map(|i| probe(op, i * 30, false))
        .collect()
}
