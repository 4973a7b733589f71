//! `/v1/outage-reports`, `/v1/incidents`, `/v1/information-requests`.

use crate::auth::{listing_scope, operator_only, visible, Principal};
use crate::http::Ctx;
use crate::paging::enum_filter;
use crate::problem::{parse, to_value, Problem, Reply};
use crate::Api;
use livesite_core::incident::Incident;
use livesite_core::incident::{Answer, IncidentStatus, Party, Refusal};
use livesite_core::partner;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::raise::{self, RaiseInput};
use livesite_core::service::{change_incident, Change};
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
        let (report, incident, _) = partner::outage_report(
            &op,
            input,
            ctx.now,
            &self.policy,
            &self.team,
            &self.team.calendar,
        )
        .map_err(Problem::invalid)?;
        let done =
            livesite_core::service::report_outage(&self.store, &op, (report, incident), &self.team)
                .await?;
        self.enqueue(done.notices).await?;
        Ok((
            201,
            json!({"report": done.report, "incident": done.incident}),
        ))
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
        // Another operator's incidents look like none at all.
        let Some(op) = listing_scope(ctx.who, ctx.operator)? else {
            return Ok((200, json!([])));
        };
        // `?status=open|resolved`, `?owed_by=team|operator`: what is still owed, by whom.
        let status: Option<IncidentStatus> = enum_filter(ctx.status, "status", "open or resolved")?;
        let owed_by: Option<Party> = enum_filter(ctx.owed_by, "owed_by", "team or operator")?;
        let incidents: Vec<Incident> = self
            .store
            .list_incidents(op.as_ref(), false)
            .await?
            .into_iter()
            .filter(|i| status.is_none_or(|s| i.status == s))
            .filter(|i| owed_by.is_none_or(|o| i.owed_by == o))
            .collect();
        Ok((200, to_value(&incidents)))
    }

    /// The team raises a Low incident against an operator.
    pub(crate) async fn raise(&self, ctx: &Ctx<'_>) -> Reply {
        let input: RaiseInput = parse(ctx.body)?;
        let op = self
            .store
            .get_operator(&input.operator)
            .await?
            .ok_or_else(|| Problem::field("operator", "no such operator"))?;
        let (incident, email) = raise::raise(&op, input, ctx.now, &self.policy, &self.team)
            .map_err(Problem::invalid)?;
        if self.store.create_incident(&incident).await? {
            self.enqueue(vec![email]).await?;
        }
        Ok((201, to_value(&incident)))
    }

    /// Acknowledge, update or resolve: allowed to the side that owes the
    /// answer and to the team; decided on the incident as stored at the write.
    pub(crate) async fn answer_incident(&self, ctx: &Ctx<'_>, answer: Answer) -> Reply {
        let (id, now, side) = (ctx.id(), ctx.now, ctx.who.side());
        let message = match answer {
            Answer::Update => Some(parse::<UpdateInput>(ctx.body)?.message),
            Answer::Resolve if !ctx.body.is_empty() => {
                Some(parse::<UpdateInput>(ctx.body)?.message)
            }
            _ => None,
        };
        if let Some(m) = &message {
            partner::update_message(m).map_err(Problem::invalid)?;
        }
        let stored = self.own_incident(ctx.who, id).await?;
        let op = self.operator(&stored.operator).await?;
        let calendar = stored.calendar(&op.calendar(), &self.team.calendar).clone();
        let changed =
            change_incident(&self.store, id, |i| i.answer(side, answer, now, &calendar)).await?;
        let (incident, answered) = match changed {
            Change::Done(incident, answered) => (incident, answered),
            Change::Missing => return Err(Problem::not_found()),
            Change::Refused(e @ Refusal::NotOwed(_)) => {
                return Err(Problem::new(
                    403,
                    "Forbidden",
                    format!("incident {id}: {e}"),
                ))
            }
            Change::Refused(e) => return Err(Problem::conflict(format!("incident {id}: {e}"))),
        };
        if let Some(m) = &message {
            let update_id = format!("{id}#{}", livesite_core::ids::key_time_ms(now));
            let record = json!({"incident_id": id, "at": now, "by": side, "message": m});
            self.store
                .create_record("incident-update", &update_id, Some(&op.id), &record)
                .await?;
        }
        let notice = raise::answered(
            &incident,
            &op,
            &self.team,
            side,
            answer,
            message.as_deref(),
            now,
        );
        self.enqueue(notice.into_iter().collect()).await?;
        let late = incident.initial_response_overdue(now);
        Ok(match answer {
            Answer::Acknowledge => (
                200,
                json!({"incident": incident, "first_acknowledgement": answered.first_acknowledgement, "initial_response_late": late}),
            ),
            Answer::Update => (
                201,
                json!({"incident": incident, "update_was_overdue": answered.update_was_overdue}),
            ),
            Answer::Resolve => (200, json!({"incident": incident})),
        })
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
            &self.team.calendar,
        )
        .map_err(Problem::invalid)?;
        self.store.create_incident(&incident).await?;
        self.enqueue(vec![email]).await?;
        Ok((201, to_value(&incident)))
    }
}
