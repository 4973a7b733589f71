//! livesite's domain core: probe records, the outage rules, business-day
//! clocks, incidents, notifications and the ports that adapters implement.
//! No I/O and no clock reads: time always comes in as an argument.

// Table-driven tests and scenarios read top to bottom; the 80-line limit
// (clippy.toml) guards the core's own code, checked in its non-test build.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod agent;
pub mod calendar;
pub mod config;
pub mod evaluate;
pub mod ids;
pub mod incident;
pub mod launch;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod partner;
pub mod ports;
pub mod probe;
pub mod raise;
pub mod records;
pub mod report;
pub mod service;
pub mod sketch;
pub mod summary;
pub mod sweep;

pub use calendar::BusinessCalendar;
pub use chrono_tz::Tz;

pub use config::{
    Channels, Config, ConfigError, MaintenanceWindow, Operator, Policy, PortalCheck, Purpose, Team,
};
pub use evaluate::{evaluate, Evaluation, Event, MonitorState};
pub use ids::{EmailAddress, OperatorId, PhoneNumber};
pub use incident::{Incident, IncidentKind, IncidentStatus, Severity};
pub use notify::{Channel, Notification};
pub use probe::{FailureReason, Outcome, Phases, ProbeResult};

/// Fixtures shared by the core's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::{
        EmailAddress, FailureReason, Operator, OperatorId, Outcome, PortalCheck, ProbeResult, Team,
    };
    use chrono::{DateTime, Utc};

    /// A probe of `op` at `at` from the single default location: up (200
    /// in 100 ms), or down by a timeout.
    pub fn probe_at(op: &str, at: DateTime<Utc>, up: bool) -> ProbeResult {
        ProbeResult {
            operator: OperatorId::new(op).unwrap(),
            probed_at: at,
            outcome: if up { Outcome::Up } else { Outcome::Down },
            reason: (!up).then_some(FailureReason::Timeout),
            status: up.then_some(200),
            latency_ms: Some(100.0),
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

    /// An operator on Madrid's calendar, with 8 December 2026 a holiday.
    pub fn madrid_operator(id: &str) -> Operator {
        Operator {
            id: OperatorId::new(id).unwrap(),
            name: id.into(),
            portal: PortalCheck::new(format!("https://p.{id}.example/").parse().unwrap()),
            contacts: vec![EmailAddress::parse(format!("noc@{id}.example")).unwrap()],
            timezone: chrono_tz::Europe::Madrid,
            holidays: ["2026-12-08".parse().unwrap()].into_iter().collect(),
            workdays: crate::calendar::default_workdays(),
            maintenance: vec![],
            api_clients: vec![],
            escalation_phones: vec![],
            agents: vec![],
        }
    }

    pub fn team() -> Team {
        Team {
            sender: EmailAddress::parse("livesite@dynamo.example").unwrap(),
            emails: vec![EmailAddress::parse("osoc@dynamo.example").unwrap()],
            channels: Default::default(),
            phone: None,
            calendar: Default::default(),
            api_url: None,
        }
    }
}
