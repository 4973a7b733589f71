//! Bugs: reported by an operator (or by the team for one), then triaged,
//! scheduled and deployed by the team; whom each step concerns is told.

use super::{team_only, visible, Outcome, Partner, PartnerError};
use crate::ids::OperatorId;
use crate::partner::{self, Actor, Bug, BugEvent, BugInput, BugStatus, Triage};
use crate::ports::{OperatorRegistry, RecordStore, Store};
use crate::records::Records;
use crate::service::{change_record, Change};
use chrono::{DateTime, NaiveDate, Utc};

/// A step the team moves a bug along.
#[derive(Debug, Clone)]
pub enum BugMove {
    Triage(Triage),
    Schedule(NaiveDate),
    Deploy,
}

impl BugMove {
    fn event(&self) -> BugEvent {
        match self {
            Self::Triage(_) => BugEvent::Triaged,
            Self::Schedule(_) => BugEvent::Scheduled,
            Self::Deploy => BugEvent::Deployed,
        }
    }
}

impl<S> Partner<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// A bug `who` may see.
    pub async fn bug(&self, who: &Actor, id: &str) -> Outcome<Bug> {
        let bug = self
            .store
            .get::<Bug>(id)
            .await?
            .ok_or(PartnerError::NotFound)?;
        let owner = bug.operator.clone();
        visible(who, &owner, bug)
    }

    /// Reports a bug: an operator's own, or the team's for `operator`.
    pub async fn report_bug(
        &self,
        who: &Actor,
        operator: Option<OperatorId>,
        input: BugInput,
        now: DateTime<Utc>,
    ) -> Outcome<Bug> {
        let (op, by_team) = match (who, operator) {
            (Actor::Operator(op), _) => (op.clone(), false),
            (Actor::Team, Some(op)) => (op, true),
            (Actor::Team, None) => {
                return Err(partner::field("operator", "names the operator concerned").into())
            }
        };
        let reporter = self.operator(&op).await?;
        let bug = self
            .record_bug(partner::report_bug(&op, by_team, input, now)?)
            .await?;
        self.enqueue(bug.notices(BugEvent::Reported, &[reporter], self.team))
            .await?;
        Ok(bug)
    }

    /// Stores a new bug under its millisecond's first free id; the same
    /// report sent again (a retried request) is the bug already stored,
    /// a different one in the same millisecond is a bug of its own.
    async fn record_bug(&self, bug: Bug) -> Outcome<Bug> {
        for n in 0..crate::service::REPORTS_A_SECOND {
            let bug = bug.clone().numbered(n);
            if self.store.create(&bug).await? {
                return Ok(bug);
            }
            if let Some(stored) = self.store.get::<Bug>(&bug.id).await? {
                if stored.same_report(&bug) {
                    return Ok(stored);
                }
            }
        }
        Err(PartnerError::Conflict(format!(
            "{} bugs of {} reported in one millisecond already",
            crate::service::REPORTS_A_SECOND,
            bug.operator
        )))
    }

    /// The queue: the team's all (optionally one operator's), an
    /// operator's own; optionally in one state.
    pub async fn bugs(
        &self,
        who: &Actor,
        operator: Option<OperatorId>,
        status: Option<BugStatus>,
    ) -> Outcome<Vec<Bug>> {
        let Some(op) = who.scope(operator) else {
            return Ok(Vec::new());
        };
        let all = self.store.list::<Bug>(op.as_ref()).await?;
        Ok(all
            .into_iter()
            .filter(|b| status.is_none_or(|s| b.status == s))
            .collect())
    }

    /// The team moves a bug along (to an operator, a foreign bug is missing
    /// before its own is forbidden), race-free: decided on the bug as
    /// stored at the write. Then tells whom the step concerns.
    pub async fn move_bug(
        &self,
        who: &Actor,
        id: &str,
        step: BugMove,
        now: DateTime<Utc>,
    ) -> Outcome<Bug> {
        self.bug(who, id).await?;
        team_only(who)?;
        let event = step.event();
        let changed = change_record(self.store, id, |bug: &mut Bug| match &step {
            BugMove::Triage(t) => bug.triage(t.clone(), now),
            BugMove::Schedule(date) => bug.schedule(*date, now),
            BugMove::Deploy => bug.deploy(now),
        })
        .await?;
        let bug = match changed {
            Change::Done(bug, ()) => bug,
            Change::Missing => return Err(PartnerError::NotFound),
            Change::Refused(e) => return Err(PartnerError::Conflict(e.0)),
        };
        let mut operators = Vec::new();
        for id in bug.concerned() {
            operators.extend(self.store.get_operator(&id).await?);
        }
        self.enqueue(bug.notices(event, &operators, self.team))
            .await?;
        Ok(bug)
    }
}
