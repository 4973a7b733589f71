//! `/v1/operators`: the registry, the DYNAMO team's alone.

use crate::http::Ctx;
use crate::problem::{parse, to_value, Problem, Reply};
use crate::Api;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::service::change_operator;
use livesite_core::{Operator, OperatorId};
use serde_json::json;

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    /// A registered operator, or 404.
    pub(crate) async fn operator(&self, id: &OperatorId) -> Result<Operator, Problem> {
        self.store
            .get_operator(id)
            .await?
            .ok_or_else(Problem::not_found)
    }

    pub(crate) async fn list_operators(&self, _ctx: &Ctx<'_>) -> Reply {
        Ok((200, to_value(&self.store.list_operators().await?)))
    }

    pub(crate) async fn get_operator(&self, ctx: &Ctx<'_>) -> Reply {
        let id = OperatorId::new(ctx.id()).map_err(|_| Problem::not_found())?;
        Ok((200, to_value(&self.operator(&id).await?)))
    }

    pub(crate) async fn retire_operator(&self, ctx: &Ctx<'_>) -> Reply {
        let id = OperatorId::new(ctx.id()).map_err(|_| Problem::not_found())?;
        if self.store.retire_operator(&id).await? {
            Ok((200, json!({"retired": id})))
        } else {
            Err(Problem::not_found())
        }
    }

    pub(crate) async fn put_operator(&self, ctx: &Ctx<'_>) -> Reply {
        let id = ctx.id();
        let op: Operator = parse(ctx.body)?;
        if op.id.as_str() != id {
            return Err(Problem::field("id", format!("must match the path ({id})")));
        }
        op.validate("body")
            .map_err(|e| Problem::field(e.path.trim_start_matches("body."), e.message))?;
        self.check_clients(&op).await?;
        // The windows announced through /v1/maintenance stay the registry's:
        // an edit of the operator must not undo an announcement made since.
        let changed = change_operator(&self.store, &op.id, |stored| {
            let windows = std::mem::take(&mut stored.maintenance);
            *stored = op.clone();
            stored.maintenance = windows;
        })
        .await?;
        let existed = changed.is_some();
        if !existed {
            self.store.put_operator_if(&op, None).await?;
        }
        let op = changed.unwrap_or(op);
        Ok((if existed { 200 } else { 201 }, to_value(&op)))
    }

    /// A client id acts for one operator, and never for the team; an agent
    /// is named like no location of the monitor's and no other operator's
    /// agent (`config::agent_clash`).
    async fn check_clients(&self, op: &Operator) -> Result<(), Problem> {
        let others = self.store.list_operators().await?;
        if let Some((agent, with)) =
            livesite_core::config::agent_clash(op, &others, &self.policy.locations.expected)
        {
            return Err(Problem::conflict(format!(
                "agent {agent} is already {with}: agent and location names are one namespace"
            )));
        }
        for other in others {
            if let Some(c) = other
                .api_clients
                .iter()
                .find(|c| other.id != op.id && op.api_clients.contains(c))
            {
                return Err(Problem::conflict(format!(
                    "API client {c} already acts for operator {}",
                    other.id
                )));
            }
        }
        if let Some(c) = op
            .api_clients
            .iter()
            .find(|c| self.team_clients.contains(c))
        {
            return Err(Problem::conflict(format!(
                "API client {c} is the DYNAMO team's"
            )));
        }
        Ok(())
    }
}
