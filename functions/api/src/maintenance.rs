//! `/v1/maintenance`: planned windows, announced by an operator for its own
//! services or by the DYNAMO team for everyone, then completed or cancelled.

use crate::auth::Principal;
use crate::http::Ctx;
use crate::problem::{from_value, parse, to_value, Problem, Reply};
use crate::Api;
use chrono::{DateTime, Utc};
use livesite_core::partner::{self, Announcer, Maintenance, MaintenanceEvent, MaintenanceInput};
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::service::{change_operator, change_record, Change};
use livesite_core::{Operator, OperatorId};
use serde_json::{json, Value};

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn announce(&self, ctx: &Ctx<'_>) -> Reply {
        let input: MaintenanceInput = parse(ctx.body)?;
        let (announcer, calendar, recipients) = match ctx.who {
            Principal::Operator(op) => {
                let o = self.operator(op).await?;
                (Announcer::Operator(op.clone()), o.calendar(), vec![o])
            }
            Principal::Admin => {
                let all = self.store.list_operators().await?;
                (Announcer::DynamoTeam, self.team.calendar.clone(), all)
            }
        };
        // The operator's own windows: its announcements are held to the
        // policy's bounds (per window, per month).
        let mut others = Vec::new();
        if let Principal::Operator(op) = ctx.who {
            for doc in self.store.list_records("maintenance", Some(op)).await? {
                others.push(from_value::<Maintenance>(doc)?);
            }
        }
        let m = partner::announce_maintenance(
            announcer,
            input,
            ctx.now,
            &calendar,
            &self.policy,
            &others,
        )
        .map_err(Problem::invalid)?;
        let owner = owner(&m);
        if !self
            .store
            .create_record("maintenance", &m.id, owner.as_ref(), &to_value(&m))
            .await?
        {
            return Err(Problem::conflict(format!(
                "maintenance {} starting then is already announced",
                m.id
            )));
        }
        self.enqueue(self.notices(&m, MaintenanceEvent::Announced, &recipients))
            .await?;
        if let Some(op) = &owner {
            self.sync_windows(op, ctx.now).await?;
        }
        Ok((
            201,
            json!({
                "maintenance": m,
                "late": m.late,
                "lead_business_days": m.lead_business_days,
                "needs_approval": m.needs_approval(),
                "over_limit": m.over_limit,
            }),
        ))
    }

    /// An operator's notice goes to the DYNAMO team, the operator in copy;
    /// the team's goes to every operator, the team in copy.
    fn notices(
        &self,
        m: &Maintenance,
        event: MaintenanceEvent,
        recipients: &[Operator],
    ) -> Vec<livesite_core::notify::Notification> {
        recipients
            .iter()
            .map(|o| match &m.announcer {
                Announcer::Operator(_) => m.notice(
                    event,
                    self.team.emails.clone(),
                    o.contacts.clone(),
                    &self.team,
                    &o.id,
                    &self.policy,
                ),
                Announcer::DynamoTeam => m.notice(
                    event,
                    o.contacts.clone(),
                    self.team.emails.clone(),
                    &self.team,
                    &o.id,
                    &self.policy,
                ),
            })
            .collect()
    }

    /// The operator's announced windows are what the evaluator suppresses
    /// pages in. Only windows that can still matter are copied into the
    /// registry entry (the records keep every one, for the reports), and the
    /// entry is changed race-free: a concurrent edit by the team survives.
    async fn sync_windows(&self, op: &OperatorId, now: DateTime<Utc>) -> Result<(), Problem> {
        let records = self.store.list_records("maintenance", Some(op)).await?;
        let mut windows = Vec::new();
        for r in records {
            let m: Maintenance = from_value(r)?;
            windows.extend(
                m.suppression_window()
                    .filter(|w| w.end > now - partner::WINDOWS_KEPT),
            );
        }
        change_operator(&self.store, op, |o| o.maintenance = windows.clone())
            .await?
            .ok_or_else(Problem::not_found)?;
        Ok(())
    }

    pub(crate) async fn list_maintenance(&self, ctx: &Ctx<'_>) -> Reply {
        let viewer = match ctx.who {
            Principal::Operator(op) => Some(op),
            Principal::Admin => None,
        };
        let mut out = Vec::new();
        for doc in self.store.list_records("maintenance", None).await? {
            let m: Maintenance = from_value(doc.clone())?;
            if m.visible_to(viewer) {
                out.push(doc);
            }
        }
        Ok((200, Value::Array(out)))
    }

    /// A transition of an announced window: the team's approval of a late
    /// one (team only, by its route), a completion or a cancellation (its
    /// announcer, or the team).
    pub(crate) async fn close(&self, ctx: &Ctx<'_>, event: MaintenanceEvent) -> Reply {
        let id = ctx.id();
        let stored: Maintenance = from_value(
            self.store
                .get_record("maintenance", id)
                .await?
                .ok_or_else(Problem::not_found)?,
        )?;
        match (&stored.announcer, ctx.who) {
            (Announcer::Operator(op), Principal::Operator(me)) if op == me => {}
            (_, Principal::Admin) => {}
            (Announcer::DynamoTeam, Principal::Operator(_)) => return Err(Problem::forbidden()),
            _ => return Err(Problem::not_found()),
        }
        // Race-free: decided on the window as stored at the write.
        let changed = change_record(
            &self.store,
            "maintenance",
            id,
            owner,
            |m: &mut Maintenance| match event {
                MaintenanceEvent::Approved => m.approve(ctx.now),
                MaintenanceEvent::Completed => m.complete(ctx.now),
                MaintenanceEvent::Cancelled | MaintenanceEvent::Announced => m.cancel(ctx.now),
            },
        )
        .await?;
        let m = match changed {
            Change::Done(m, ()) => m,
            Change::Missing => return Err(Problem::not_found()),
            Change::Refused(e) => return Err(Problem::conflict(e.0)),
        };
        let owner = owner(&m);
        let recipients = match &owner {
            Some(op) => vec![self.operator(op).await?],
            None => self.store.list_operators().await?,
        };
        self.enqueue(self.notices(&m, event, &recipients)).await?;
        if let Some(op) = &owner {
            self.sync_windows(op, ctx.now).await?;
        }
        Ok((200, to_value(&m)))
    }
}

/// The operator whose record a window is; `None` for the team's.
fn owner(m: &Maintenance) -> Option<OperatorId> {
    match &m.announcer {
        Announcer::Operator(op) => Some(op.clone()),
        Announcer::DynamoTeam => None,
    }
}
