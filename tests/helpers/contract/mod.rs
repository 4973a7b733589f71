//! The store contract: one suite, run against every store implementation
//! (the embedded SQLite store and the DynamoDB store on the emulator).

use crate::fixtures::{operator, probe, t0};
use chrono::Duration;
use livesite_core::evaluate::MonitorState;
use livesite_core::incident::{
    incident_id, Incident, IncidentKind, IncidentStatus, Party, Severity,
};
use livesite_core::notify::{Channel, Notification};
use livesite_core::ports::{DeliveryStatus, Store, StoreError, Version};
use livesite_core::{OperatorId, ProbeResult};

mod delivery;
mod partner;
mod service;
mod store;

pub use delivery::*;
pub use partner::*;
pub use service::*;
pub use store::*;

pub fn incident(op: &str, minutes: i64) -> Incident {
    let started = t0() + Duration::minutes(minutes);
    let o = operator(op);
    Incident {
        id: incident_id(&o.id, started, IncidentKind::PortalDown),
        operator: o.id,
        severity: Severity::High,
        kind: IncidentKind::PortalDown,
        raised_by: Party::Team,
        owed_by: Party::Operator,
        status: IncidentStatus::Open,
        started_at: started,
        opened_at: started + Duration::seconds(1830),
        resolved_at: None,
        summary: "down".into(),
        initial_response_due: started + Duration::seconds(1830 + 3600),
        acknowledged_at: None,
        last_update_at: None,
        next_update_due: None,
        version: 0,
    }
}

pub fn notification(key: &str, minutes: i64) -> Notification {
    Notification {
        html: None,
        images: vec![],
        key: key.into(),
        channel: Channel::Email,
        operator: OperatorId::new("contoso").expect("id"),
        incident_id: None,
        severity: Some(Severity::Low),
        topic: livesite_core::notify::Topic::MonitorGap,
        to: vec![],
        cc: vec![],
        from: None,
        subject: format!("subject {key}"),
        text: "body".into(),
        created_at: t0() + Duration::minutes(minutes),
    }
}
