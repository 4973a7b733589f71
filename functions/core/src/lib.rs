//! livesite's domain core: probe records, the outage rules, business-day
//! clocks, incidents, notifications and the ports that adapters implement.
//! No I/O and no clock reads: time always comes in as an argument.

pub mod calendar;
pub mod config;
pub mod evaluate;
pub mod ids;
pub mod incident;
pub mod notify;
pub mod partner;
pub mod ports;
pub mod probe;
pub mod report;
pub mod service;
pub mod sweep;

pub use calendar::BusinessCalendar;
pub use chrono_tz::Tz;
pub use config::{Config, ConfigError, MaintenanceWindow, Operator, Policy, PortalCheck, Team};
pub use evaluate::{evaluate, Evaluation, Event, MonitorState};
pub use ids::{EmailAddress, OperatorId};
pub use incident::{Incident, IncidentKind, IncidentStatus, Severity};
pub use notify::{Channel, Notification};
pub use probe::{FailureReason, Outcome, Phases, ProbeResult};
