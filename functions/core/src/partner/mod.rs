//! What partners tell each other: outage reports, maintenance notices, outage
//! notices from the DYNAMO team, bug reports and information requests. Each
//! input is validated here, checked against the contract's deadlines, and
//! turned into the record that is stored and the notifications that follow.

use crate::calendar::BusinessCalendar;
use crate::ids::{key_time, key_time_ms};
use crate::ids::{EmailAddress, OperatorId};
use crate::incident::{IdForm, Incident, IncidentKind, Opening, Party, Severity};
use crate::notify::{header_safe, how_to_answer, Email, Notification, Page, Topic};
use crate::{Operator, Policy, Team};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A field-level validation failure: `field` names the JSON field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Who acts on a partner workflow: the DYNAMO team, or one operator. An
/// operator sees and acts on its own records only; another operator's
/// answer exactly like missing ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Team,
    Operator(OperatorId),
}

impl Actor {
    /// The side of the escalation process the actor answers for.
    pub fn side(&self) -> Party {
        match self {
            Self::Team => Party::Team,
            Self::Operator(_) => Party::Operator,
        }
    }

    /// Whether what belongs to `owner` is visible to the actor.
    pub fn sees(&self, owner: &OperatorId) -> bool {
        match self {
            Self::Team => true,
            Self::Operator(op) => op == owner,
        }
    }

    /// The operator a listing covers, from the caller's filter: `None` when
    /// it covers nothing (an operator asking for another's), `Some(None)`
    /// for every operator (the team, unfiltered).
    pub fn scope(&self, filter: Option<OperatorId>) -> Option<Option<OperatorId>> {
        match (self, filter) {
            (Self::Operator(op), Some(f)) if &f != op => None,
            (Self::Operator(op), _) => Some(Some(op.clone())),
            (Self::Team, f) => Some(f),
        }
    }
}

/// How long after its end a maintenance window stays in the operator's
/// registry entry, where the evaluator looks: late stream records (an hour at
/// most) and replays of the last day still see it. The maintenance records
/// keep every window for the reports.
pub const WINDOWS_KEPT: chrono::Duration = chrono::Duration::days(1);

/// A contact an operator names on a message is copied on the email, so it
/// must be one of its registered contacts: an operator can't have the team's
/// mail sent to anyone (or to an address the mail service refuses, which
/// would never be delivered).
pub fn registered_contact(operator: &Operator, contact: &EmailAddress) -> Result<(), FieldError> {
    if operator.contacts.iter().any(|c| c.same_mailbox(contact)) {
        Ok(())
    } else {
        Err(field(
            "contact",
            format!(
                "{contact} is not one of {}'s registered contacts",
                operator.id
            ),
        ))
    }
}

pub(crate) fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The longest free text a partner sends (a description, an update, a
/// question), in characters.
pub const MAX_TEXT: usize = 4000;
/// The longest subject or title, in characters.
pub const MAX_SUBJECT: usize = 200;

pub(crate) fn text(name: &str, value: &str, required: bool) -> Result<(), FieldError> {
    if required && value.trim().is_empty() {
        return Err(field(name, "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(field(name, format!("at most {MAX_TEXT} characters")));
    }
    Ok(())
}

/// An incident update's message: not empty, at most `MAX_TEXT` characters.
pub fn update_message(message: &str) -> Result<(), FieldError> {
    text("message", message, true)
}

/// The services of the seed's SLA table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    CoreNetworkServices,
    MoDirectPortal,
    Xdr,
    Other,
}

impl Service {
    /// The service as the seed's SLA table names it, for people to read.
    pub fn label(self) -> &'static str {
        match self {
            Self::CoreNetworkServices => "core network services",
            Self::MoDirectPortal => "MO Direct portal",
            Self::Xdr => "XDR",
            Self::Other => "other service",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

mod bug;
mod information;
mod maintenance;
mod notice;
mod outage;

pub use bug::*;
pub use information::*;
pub use maintenance::*;
pub use notice::*;
pub use outage::*;

#[cfg(test)]
#[path = "tests.rs"]
mod all_tests;
