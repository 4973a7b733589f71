//! `/v1/outage-reports`, `/v1/incidents`, `/v1/information-requests`.

use crate::auth::{operator_filter, operator_only};
use crate::http::Ctx;
use crate::paging::enum_filter;
use crate::problem::{parse, to_value, Reply};
use crate::Api;
use livesite_core::incident::Answer;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::service::partner::IncidentFilter;
use serde::Deserialize;
use serde_json::json;

/// A message posted on a thread (an incident's, an outage notice's).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageInput {
    pub message: String,
}

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn report_outage(&self, ctx: &Ctx<'_>) -> Reply {
        let op = operator_only(ctx.who)?;
        let done = self
            .partner(ctx)
            .report_outage(op, parse(ctx.body)?, ctx.now)
            .await?;
        Ok((
            201,
            json!({"report": done.report, "incident": done.incident}),
        ))
    }

    pub(crate) async fn get_incident(&self, ctx: &Ctx<'_>) -> Reply {
        let incident = self.partner(ctx).incident(ctx.who, ctx.id()).await?;
        Ok((200, to_value(&incident)))
    }

    /// `?operator=`, `?status=open|resolved`, `?owed_by=team|operator`.
    pub(crate) async fn list_incidents(&self, ctx: &Ctx<'_>) -> Reply {
        let filter = IncidentFilter {
            operator: operator_filter(ctx.operator)?,
            status: enum_filter(ctx.status, "status", "open or resolved")?,
            owed_by: enum_filter(ctx.owed_by, "owed_by", "team or operator")?,
        };
        let incidents = self.partner(ctx).incidents(ctx.who, filter).await?;
        Ok((200, to_value(&incidents)))
    }

    /// The team raises a Low incident against an operator.
    pub(crate) async fn raise(&self, ctx: &Ctx<'_>) -> Reply {
        let incident = self.partner(ctx).raise(parse(ctx.body)?, ctx.now).await?;
        Ok((201, to_value(&incident)))
    }

    /// Acknowledge, update or resolve (a resolution may carry a message).
    pub(crate) async fn answer_incident(&self, ctx: &Ctx<'_>, answer: Answer) -> Reply {
        let message = match answer {
            Answer::Update => Some(parse::<MessageInput>(ctx.body)?.message),
            Answer::Resolve if !ctx.body.is_empty() => {
                Some(parse::<MessageInput>(ctx.body)?.message)
            }
            _ => None,
        };
        let done = self
            .partner(ctx)
            .answer(ctx.who, ctx.id(), answer, message, ctx.now)
            .await?;
        let incident = &done.incident;
        Ok(match answer {
            Answer::Acknowledge => (
                200,
                json!({"incident": incident, "first_acknowledgement": done.answered.first_acknowledgement, "initial_response_late": done.initial_response_late}),
            ),
            Answer::Update => (
                201,
                json!({"incident": incident, "update_was_overdue": done.answered.update_was_overdue}),
            ),
            Answer::Resolve => (200, json!({"incident": incident})),
        })
    }

    pub(crate) async fn ask_information(&self, ctx: &Ctx<'_>) -> Reply {
        let op = operator_only(ctx.who)?;
        let incident = self
            .partner(ctx)
            .ask_information(op, parse(ctx.body)?, ctx.now)
            .await?;
        Ok((201, to_value(&incident)))
    }
}
