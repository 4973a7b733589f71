//! `/v1/bugs`: report → triage → scheduled → deployed.

use crate::auth::{listing_scope, team_only, visible, Principal};
use crate::http::Ctx;
use crate::paging::enum_filter;
use crate::problem::{from_value, parse, to_value, Problem, Reply};
use crate::Api;
use chrono::NaiveDate;
use livesite_core::partner::{self, Bug, BugEvent, BugInput, BugStatus, TransitionError, Triage};
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::service::{change_record, Change};
use livesite_core::OperatorId;
use serde::Deserialize;
use serde_json::json;

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
    /// A bug the caller may see: a foreign one answers like a missing one.
    async fn own_bug(&self, who: &Principal, id: &str) -> Result<Bug, Problem> {
        let bug: Bug = from_value(
            self.store
                .get_record("bug", id)
                .await?
                .ok_or_else(Problem::not_found)?,
        )?;
        let owner = bug.operator.clone();
        visible(who, &owner, bug)
    }

    pub(crate) async fn get_bug(&self, ctx: &Ctx<'_>) -> Reply {
        Ok((200, to_value(&self.own_bug(ctx.who, ctx.id()).await?)))
    }

    pub(crate) async fn report_bug(&self, ctx: &Ctx<'_>) -> Reply {
        let (op, by_team, input) = match ctx.who {
            Principal::Operator(op) => (op.clone(), false, parse::<BugInput>(ctx.body)?),
            Principal::Admin => {
                let t: TeamBugInput = parse(ctx.body)?;
                self.operator(&t.operator).await?;
                (t.operator, true, t.bug)
            }
        };
        let bug = partner::report_bug(&op, by_team, input, ctx.now).map_err(Problem::invalid)?;
        if self
            .store
            .create_record("bug", &bug.id, Some(&op), &to_value(&bug))
            .await?
        {
            let reporter = self.operator(&op).await?;
            self.enqueue(bug.notices(BugEvent::Reported, &[reporter], &self.team))
                .await?;
        }
        Ok((201, to_value(&bug)))
    }

    /// The queue: the team's all (`?operator=`, `?status=` filter it), an
    /// operator's own.
    pub(crate) async fn list_bugs(&self, ctx: &Ctx<'_>) -> Reply {
        let status: Option<BugStatus> = enum_filter(
            ctx.status,
            "status",
            "reported, approved, rejected, scheduled, deployed",
        )?;
        // Another operator's bugs look like none at all.
        let Some(op) = listing_scope(ctx.who, ctx.operator)? else {
            return Ok((200, json!([])));
        };
        let mut out = Vec::new();
        for doc in self.store.list_records("bug", op.as_ref()).await? {
            let bug: Bug = from_value(doc.clone())?;
            if status.is_none_or(|s| bug.status == s) {
                out.push(doc);
            }
        }
        Ok((200, serde_json::Value::Array(out)))
    }

    pub(crate) async fn triage(&self, ctx: &Ctx<'_>) -> Reply {
        let t: Triage = parse(ctx.body)?;
        self.move_bug(ctx, BugEvent::Triaged, |bug| bug.triage(t.clone(), ctx.now))
            .await
    }

    pub(crate) async fn schedule(&self, ctx: &Ctx<'_>) -> Reply {
        let s: ScheduleInput = parse(ctx.body)?;
        self.move_bug(ctx, BugEvent::Scheduled, |bug| {
            bug.schedule(s.tentative_deployment, ctx.now)
        })
        .await
    }

    pub(crate) async fn deploy(&self, ctx: &Ctx<'_>) -> Reply {
        self.move_bug(ctx, BugEvent::Deployed, |bug| bug.deploy(ctx.now))
            .await
    }

    /// The team moves a bug along (to an operator, a foreign bug is missing,
    /// 404, before its own is forbidden, 403), race-free: decided on the bug
    /// as stored at the write. Then tells whom `event` concerns.
    async fn move_bug(
        &self,
        ctx: &Ctx<'_>,
        event: BugEvent,
        step: impl FnMut(&mut Bug) -> Result<(), TransitionError> + Send,
    ) -> Reply {
        self.own_bug(ctx.who, ctx.id()).await?;
        team_only(ctx.who)?;
        let bug = match change_record(
            &self.store,
            "bug",
            ctx.id(),
            |b: &Bug| Some(b.operator.clone()),
            step,
        )
        .await?
        {
            Change::Done(bug, ()) => bug,
            Change::Missing => return Err(Problem::not_found()),
            Change::Refused(e) => return Err(Problem::conflict(e.0)),
        };
        let mut operators = Vec::new();
        for id in bug.concerned() {
            operators.extend(self.store.get_operator(&id).await?);
        }
        self.enqueue(bug.notices(event, &operators, &self.team))
            .await?;
        Ok((200, to_value(&bug)))
    }
}
