//! `/v1/outage-reports`, `/v1/incidents`, `/v1/information-requests`.

use crate::auth::{operator_only, visible, Principal};
use crate::http::Ctx;
use crate::problem::{parse, to_value, Problem, Reply};
use crate::Api;
use livesite_core::incident::Incident;
use livesite_core::partner;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::service::{change_incident, Change};
use livesite_core::OperatorId;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateInput {
    message: String,
}

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn report_outage(&self, ctx: &Ctx<'_>) -> Reply {
        let op = self.operator(operator_only(ctx.who)?).await?;
        let input = parse(ctx.body)?;
        let (report, incident, notes) =
            partner::outage_report(&op, input, ctx.now, &self.policy, &self.team)
                .map_err(Problem::invalid)?;
        let created = self.store.create_incident(&incident).await?;
        self.store
            .create_record(
                "outage-report",
                &report.incident_id,
                Some(&op.id),
                &to_value(&report),
            )
            .await?;
        if created {
            self.enqueue(notes).await?;
        }
        Ok((201, json!({"report": report, "incident": incident})))
    }

    /// An incident the caller may see: a foreign one answers like a missing one.
    pub(crate) async fn own_incident(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<Incident, Problem> {
        let incident = self
            .store
            .get_incident(id)
            .await?
            .ok_or_else(Problem::not_found)?;
        let owner = incident.operator.clone();
        visible(who, &owner, incident)
    }

    pub(crate) async fn get_incident(&self, ctx: &Ctx<'_>) -> Reply {
        Ok((200, to_value(&self.own_incident(ctx.who, ctx.id()).await?)))
    }

    pub(crate) async fn list_incidents(&self, ctx: &Ctx<'_>) -> Reply {
        let filter = ctx
            .operator
            .map(|f| OperatorId::new(f).map_err(|e| Problem::field("operator", e.to_string())))
            .transpose()?;
        let op = match (ctx.who, filter) {
            // Another operator's incidents look like none at all.
            (Principal::Operator(op), Some(f)) if &f != op => return Ok((200, json!([]))),
            (Principal::Operator(op), _) => Some(op.clone()),
            (Principal::Admin, f) => f,
        };
        Ok((
            200,
            to_value(&self.store.list_incidents(op.as_ref(), false).await?),
        ))
    }

    pub(crate) async fn acknowledge(&self, ctx: &Ctx<'_>) -> Reply {
        let (id, now) = (ctx.id(), ctx.now);
        let op_id = operator_only(ctx.who)?.clone();
        self.own_incident(ctx.who, id).await?;
        let calendar = self.operator(&op_id).await?.calendar();
        // Race-free: decided on the incident as stored at the write.
        let changed = change_incident(&self.store, id, |incident| {
            if !incident.is_open() {
                return Err(());
            }
            let first = incident.acknowledged_at.is_none();
            incident.acknowledge(now, &calendar);
            Ok(first)
        })
        .await?;
        let (incident, first) = open_incident(changed, id)?;
        let late = incident.initial_response_overdue(now);
        Ok((
            200,
            json!({"incident": incident, "first_acknowledgement": first, "initial_response_late": late}),
        ))
    }

    pub(crate) async fn post_update(&self, ctx: &Ctx<'_>) -> Reply {
        let (id, now) = (ctx.id(), ctx.now);
        let op_id = operator_only(ctx.who)?.clone();
        let input: UpdateInput = parse(ctx.body)?;
        partner::update_message(&input.message).map_err(Problem::invalid)?;
        self.own_incident(ctx.who, id).await?;
        let calendar = self.operator(&op_id).await?.calendar();
        // A resolved incident takes no more updates; race-free as above.
        let changed = change_incident(&self.store, id, |incident| {
            if !incident.is_open() {
                return Err(());
            }
            let overdue = incident.next_update_due.is_some_and(|d| now > d);
            incident.record_update(now, &calendar);
            Ok(overdue)
        })
        .await?;
        let (incident, overdue) = open_incident(changed, id)?;
        let update_id = format!("{id}#{}", livesite_core::ids::key_time_ms(now));
        self.store
            .create_record(
                "incident-update",
                &update_id,
                Some(&op_id),
                &json!({"incident_id": id, "at": now, "message": input.message}),
            )
            .await?;
        Ok((
            201,
            json!({"incident": incident, "update_was_overdue": overdue}),
        ))
    }

    pub(crate) async fn ask_information(&self, ctx: &Ctx<'_>) -> Reply {
        let op = self.operator(operator_only(ctx.who)?).await?;
        let input = parse(ctx.body)?;
        let (incident, email) = partner::information_request(
            &op,
            input,
            ctx.now,
            &self.policy,
            &self.team,
            &self.team_calendar,
        )
        .map_err(Problem::invalid)?;
        self.store.create_incident(&incident).await?;
        self.enqueue(vec![email]).await?;
        Ok((201, to_value(&incident)))
    }
}

/// The changed incident, or 404 / 409 (resolved meanwhile).
fn open_incident<T>(changed: Change<T, ()>, id: &str) -> Result<(Incident, T), Problem> {
    match changed {
        Change::Done(incident, out) => Ok((incident, out)),
        Change::Missing => Err(Problem::not_found()),
        Change::Refused(()) => Err(Problem::conflict(format!("incident {id} is resolved"))),
    }
}
