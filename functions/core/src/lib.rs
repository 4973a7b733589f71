//! livesite's domain core: probe records, the outage rules, business-day
//! clocks, incidents, notifications and the ports that adapters implement.
//! No I/O and no clock reads: time always comes in as an argument.

pub mod agent;
pub mod calendar;
pub mod config;
pub mod evaluate;
pub mod ids;
pub mod incident;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod partner;
pub mod ports;
pub mod probe;
pub mod raise;
pub mod report;
pub mod service;
pub mod sweep;

pub use calendar::BusinessCalendar;
pub use chrono_tz::Tz;

pub use config::{Config, ConfigError, MaintenanceWindow, Operator, Policy, PortalCheck, Team};
pub use evaluate::{evaluate, Evaluation, Event, MonitorState};
pub use ids::{EmailAddress, OperatorId, PhoneNumber};
pub use incident::{Incident, IncidentKind, IncidentStatus, Severity};
pub use notify::{Channel, Notification};
pub use probe::{FailureReason, Outcome, Phases, ProbeResult};

/// Fixtures shared by the core's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::{EmailAddress, Operator, OperatorId, PortalCheck, Team};

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
            phone: None,
            calendar: Default::default(),
        }
    }
}
