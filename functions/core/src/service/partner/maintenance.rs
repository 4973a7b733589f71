//! Planned maintenance: announced by an operator for its own services or by
//! the DYNAMO team for everyone, approved when late or over the bounds,
//! completed or cancelled; an operator's windows in force are copied to its
//! registry entry, where the evaluator holds back pages.

use super::{Outcome, Partner, PartnerError};
use crate::config::Operator;
use crate::ids::OperatorId;
use crate::partner::{self, Actor, Announcer, Maintenance, MaintenanceEvent, MaintenanceInput};
use crate::ports::{OperatorRegistry, RecordStore, Store};
use crate::records::{Record, Records};
use crate::service::{change_operator, change_record, Change};
use chrono::{DateTime, Utc};

impl<S> Partner<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// Announces a window: an operator's is held to the policy's bounds
    /// (per window, per month) and holds back its pages once in force; the
    /// team's is told to every operator.
    pub async fn announce(
        &self,
        who: &Actor,
        input: MaintenanceInput,
        now: DateTime<Utc>,
    ) -> Outcome<Maintenance> {
        let (announcer, calendar, recipients, others) = match who {
            Actor::Operator(op) => {
                let o = self.operator(op).await?;
                let others = self.store.list::<Maintenance>(Some(op)).await?;
                (
                    Announcer::Operator(op.clone()),
                    o.calendar(),
                    vec![o],
                    others,
                )
            }
            Actor::Team => {
                let all = self.store.list_operators().await?;
                (
                    Announcer::DynamoTeam,
                    self.team.calendar.clone(),
                    all,
                    Vec::new(),
                )
            }
        };
        let m =
            partner::announce_maintenance(announcer, input, now, &calendar, self.policy, &others)?;
        if !self.store.create(&m).await? {
            return Err(PartnerError::Conflict(format!(
                "maintenance {} starting then is already announced",
                m.id
            )));
        }
        self.tell(&m, MaintenanceEvent::Announced, recipients, now)
            .await?;
        Ok(m)
    }

    /// The windows `who` may see: its own and the team's (the team: all).
    pub async fn maintenance(&self, who: &Actor) -> Outcome<Vec<Maintenance>> {
        let viewer = match who {
            Actor::Operator(op) => Some(op),
            Actor::Team => None,
        };
        let all = self.store.list::<Maintenance>(None).await?;
        Ok(all.into_iter().filter(|m| m.visible_to(viewer)).collect())
    }

    /// A transition of an announced window (`Maintenance::may_move`),
    /// decided race-free on the window as stored at the write.
    pub async fn move_maintenance(
        &self,
        who: &Actor,
        id: &str,
        event: MaintenanceEvent,
        now: DateTime<Utc>,
    ) -> Outcome<Maintenance> {
        let stored = self
            .store
            .get::<Maintenance>(id)
            .await?
            .ok_or(PartnerError::NotFound)?;
        stored.may_move(who)?;
        let changed = change_record(self.store, id, |m: &mut Maintenance| match event {
            MaintenanceEvent::Approved => m.approve(now),
            MaintenanceEvent::Completed => m.complete(now),
            MaintenanceEvent::Cancelled | MaintenanceEvent::Announced => m.cancel(now),
        })
        .await?;
        let m = match changed {
            Change::Done(m, ()) => m,
            Change::Missing => return Err(PartnerError::NotFound),
            Change::Refused(e) => return Err(PartnerError::Conflict(e.0)),
        };
        let recipients = match m.owner() {
            Some(op) => vec![self.operator(&op).await?],
            None => self.store.list_operators().await?,
        };
        self.tell(&m, event, recipients, now).await?;
        Ok(m)
    }

    /// Tells whom `event` concerns, then brings the owner's windows in
    /// force up to date.
    async fn tell(
        &self,
        m: &Maintenance,
        event: MaintenanceEvent,
        recipients: Vec<Operator>,
        now: DateTime<Utc>,
    ) -> Outcome<()> {
        self.enqueue(m.notices(event, &recipients, self.team, self.policy))
            .await?;
        if let Some(op) = m.owner() {
            self.sync_windows(&op, now).await?;
        }
        Ok(())
    }

    /// Copies the operator's windows in force (`partner::windows_in_force`)
    /// into its registry entry, race-free: a concurrent edit by the team
    /// survives.
    async fn sync_windows(&self, op: &OperatorId, now: DateTime<Utc>) -> Outcome<()> {
        let records = self.store.list::<Maintenance>(Some(op)).await?;
        let windows = partner::windows_in_force(&records, now);
        change_operator(self.store, op, |o| o.maintenance = windows.clone())
            .await?
            .ok_or(PartnerError::NotFound)?;
        Ok(())
    }
}
