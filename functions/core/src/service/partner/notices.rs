//! The DYNAMO team's outage notices: sent to every operator, updated and
//! resolved with a notice each time, readable by every operator told.

use super::{team_only, Outcome, Partner, PartnerError};
use crate::partner::{self, Actor, NoticeEvent, NoticeRefusal, OutageNotice, OutageNoticeInput};
use crate::ports::{OperatorRegistry, RecordStore, Store};
use crate::records::Records;
use crate::service::{change_record, Change};
use chrono::{DateTime, Utc};

/// A change to a sent notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeMove {
    Update(String),
    Resolve(Option<String>),
}

impl<S> Partner<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// The team tells every operator of an outage on its side (and its
    /// operations centre whom to call).
    pub async fn notice_outage(
        &self,
        input: OutageNoticeInput,
        now: DateTime<Utc>,
    ) -> Outcome<OutageNotice> {
        let mut notice = partner::outage_notice(input, now)?;
        let operators = self.store.list_operators().await?;
        notice.told = operators.iter().map(|o| o.id.clone()).collect();
        if !self.store.create(&notice).await? {
            return Err(PartnerError::Conflict(format!(
                "outage notice {} exists",
                notice.id
            )));
        }
        let told = notice.audience(&operators);
        self.enqueue(notice.emails(NoticeEvent::Sent, &told, self.team))
            .await?;
        Ok(notice)
    }

    /// The notices `who` was told of (every one, for the team), by id: the
    /// order the team became aware of each outage.
    pub async fn outage_notices(&self, who: &Actor) -> Outcome<Vec<OutageNotice>> {
        Ok(self
            .store
            .list::<OutageNotice>(None)
            .await?
            .into_iter()
            .filter(|n| told(n, who))
            .collect())
    }

    /// One notice, if `who` was told of it.
    pub async fn outage_notice(&self, who: &Actor, id: &str) -> Outcome<OutageNotice> {
        match self.store.get::<OutageNotice>(id).await? {
            Some(n) if told(&n, who) => Ok(n),
            _ => Err(PartnerError::NotFound),
        }
    }

    /// The team updates or resolves its notice (race-free), and every
    /// operator told hears of it.
    pub async fn move_notice(
        &self,
        who: &Actor,
        id: &str,
        step: NoticeMove,
        now: DateTime<Utc>,
    ) -> Outcome<OutageNotice> {
        self.outage_notice(who, id).await?;
        team_only(who)?;
        let changed = change_record(self.store, id, |n: &mut OutageNotice| match &step {
            NoticeMove::Update(m) => n.update(m, now),
            NoticeMove::Resolve(m) => n.resolve(m.as_deref(), now),
        })
        .await?;
        let notice = match changed {
            Change::Done(n, ()) => n,
            Change::Missing => return Err(PartnerError::NotFound),
            Change::Refused(NoticeRefusal::Invalid(e)) => return Err(e.into()),
            Change::Refused(e) => return Err(PartnerError::Conflict(e.to_string())),
        };
        let event = match step {
            NoticeMove::Update(_) => NoticeEvent::Updated,
            NoticeMove::Resolve(_) => NoticeEvent::Resolved,
        };
        let operators = self.store.list_operators().await?;
        let told = notice.audience(&operators);
        self.enqueue(notice.emails(event, &told, self.team)).await?;
        Ok(notice)
    }
}

/// Whether `who` was told of the notice: the team always, an operator when
/// it was sent to it (every operator, for a notice that did not keep them).
fn told(n: &OutageNotice, who: &Actor) -> bool {
    match who {
        Actor::Team => true,
        Actor::Operator(op) => n.told.is_empty() || n.told.contains(op),
    }
}
