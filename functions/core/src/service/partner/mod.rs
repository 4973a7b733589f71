//! The partner workflows as use cases over the ports: what the API, the
//! command line and a console call, so no front door holds a rule, builds a
//! record or an id, or decides who is told. Each use case takes who acts
//! (`Actor`), checks what that actor may see and do, records what it
//! decided with conditional writes, and puts what follows in the outbox.
//! The front door parses, authenticates, calls one use case and maps the
//! error.

mod bugs;
mod incidents;
mod maintenance;
mod notices;
mod registry;
mod views;

pub use bugs::BugMove;
pub use incidents::{AnswerOutcome, IncidentFilter};
pub use notices::NoticeMove;
pub use registry::Registered;
pub use views::{OperatorView, DAYS_SHOWN};

use crate::config::{Operator, Policy, Team};
use crate::ids::OperatorId;
use crate::notify::Notification;
use crate::partner::{Access, Actor, FieldError};
use crate::ports::{OperatorRegistry, RecordStore, Store, StoreError};

/// Why a use case did not act.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    /// The input breaks a rule; `field` names the JSON field.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Missing, or not the actor's to see (answered the same way).
    #[error("no such resource")]
    NotFound,
    /// The actor sees it but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The record's state refuses it (already done, resolved, a clash).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Access> for PartnerError {
    fn from(a: Access) -> Self {
        match a {
            Access::Forbidden => Self::Forbidden("this operation is for the DYNAMO team".into()),
            Access::Missing => Self::NotFound,
        }
    }
}

pub type Outcome<T> = Result<T, PartnerError>;

/// The partner workflows over one store, under one policy and team.
pub struct Partner<'a, S> {
    pub store: &'a S,
    pub policy: &'a Policy,
    pub team: &'a Team,
}

impl<'a, S> Partner<'a, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    pub fn new(store: &'a S, policy: &'a Policy, team: &'a Team) -> Self {
        Self {
            store,
            policy,
            team,
        }
    }

    /// A registered operator, or `NotFound`.
    pub async fn operator(&self, id: &OperatorId) -> Outcome<Operator> {
        self.store
            .get_operator(id)
            .await?
            .ok_or(PartnerError::NotFound)
    }

    /// Records notifications in the outbox, each once (by its key); the
    /// evaluator's, the sweep's or the caller's delivery sends them.
    async fn enqueue(&self, notifications: Vec<Notification>) -> Outcome<()> {
        for n in notifications {
            self.store.enqueue(&n).await?;
        }
        Ok(())
    }
}

/// What `who` may see of a record of `owner`'s: another operator's answers
/// as missing.
fn visible<T>(who: &Actor, owner: &OperatorId, record: T) -> Outcome<T> {
    if who.sees(owner) {
        Ok(record)
    } else {
        Err(PartnerError::NotFound)
    }
}

/// Only the DYNAMO team.
fn team_only(who: &Actor) -> Outcome<()> {
    match who {
        Actor::Team => Ok(()),
        Actor::Operator(_) => Err(Access::Forbidden.into()),
    }
}
