//! `/v1/bugs`: report → triage → scheduled → deployed.

use crate::auth::{operator_filter, Principal};
use crate::http::Ctx;
use crate::paging::enum_filter;
use crate::problem::{parse, to_value, Reply};
use crate::Api;
use chrono::NaiveDate;
use livesite_core::partner::{BugInput, Triage};
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::service::partner::BugMove;
use livesite_core::OperatorId;
use serde::Deserialize;

/// The team reports a bug for an operator.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamBugInput {
    operator: OperatorId,
    #[serde(flatten)]
    bug: BugInput,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleInput {
    tentative_deployment: NaiveDate,
}

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn get_bug(&self, ctx: &Ctx<'_>) -> Reply {
        Ok((
            200,
            to_value(&self.partner(ctx).bug(ctx.who, ctx.id()).await?),
        ))
    }

    pub(crate) async fn report_bug(&self, ctx: &Ctx<'_>) -> Reply {
        let (operator, input) = match ctx.who {
            Principal::Operator(_) => (None, parse::<BugInput>(ctx.body)?),
            Principal::Team => {
                let t: TeamBugInput = parse(ctx.body)?;
                (Some(t.operator), t.bug)
            }
        };
        let bug = self
            .partner(ctx)
            .report_bug(ctx.who, operator, input, ctx.now)
            .await?;
        Ok((201, to_value(&bug)))
    }

    /// The queue: the team's all (`?operator=`, `?status=` filter it), an
    /// operator's own.
    pub(crate) async fn list_bugs(&self, ctx: &Ctx<'_>) -> Reply {
        let status = enum_filter(
            ctx.status,
            "status",
            "reported, approved, rejected, scheduled, deployed",
        )?;
        let operator = operator_filter(ctx.operator)?;
        let bugs = self.partner(ctx).bugs(ctx.who, operator, status).await?;
        Ok((200, to_value(&bugs)))
    }

    pub(crate) async fn triage(&self, ctx: &Ctx<'_>) -> Reply {
        let t: Triage = parse(ctx.body)?;
        self.move_bug(ctx, BugMove::Triage(t)).await
    }

    pub(crate) async fn schedule(&self, ctx: &Ctx<'_>) -> Reply {
        let s: ScheduleInput = parse(ctx.body)?;
        self.move_bug(ctx, BugMove::Schedule(s.tentative_deployment))
            .await
    }

    pub(crate) async fn deploy(&self, ctx: &Ctx<'_>) -> Reply {
        self.move_bug(ctx, BugMove::Deploy).await
    }

    async fn move_bug(&self, ctx: &Ctx<'_>, step: BugMove) -> Reply {
        let bug = self
            .partner(ctx)
            .move_bug(ctx.who, ctx.id(), step, ctx.now)
            .await?;
        Ok((200, to_value(&bug)))
    }
}
