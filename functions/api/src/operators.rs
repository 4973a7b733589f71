//! `/v1/operators`: the registry, the DYNAMO team's alone.

use crate::http::Ctx;
use crate::problem::{parse, to_value, Problem, Reply};
use crate::Api;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::OperatorId;
use serde_json::json;

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn list_operators(&self, _ctx: &Ctx<'_>) -> Reply {
        Ok((200, to_value(&self.store.list_operators().await?)))
    }

    pub(crate) async fn get_operator(&self, ctx: &Ctx<'_>) -> Reply {
        let id = OperatorId::new(ctx.id()).map_err(|_| Problem::not_found())?;
        Ok((200, to_value(&self.partner(ctx).operator(&id).await?)))
    }

    pub(crate) async fn retire_operator(&self, ctx: &Ctx<'_>) -> Reply {
        let id = OperatorId::new(ctx.id()).map_err(|_| Problem::not_found())?;
        self.partner(ctx).retire_operator(&id).await?;
        Ok((200, json!({"retired": id})))
    }

    pub(crate) async fn put_operator(&self, ctx: &Ctx<'_>) -> Reply {
        let done = self
            .partner(ctx)
            .put_operator(ctx.id(), parse(ctx.body)?, &self.team_clients)
            .await?;
        let status = if done.created { 201 } else { 200 };
        Ok((status, to_value(&done.operator)))
    }
}
