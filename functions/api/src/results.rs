//! `/v1/probe-results`: what an operator's private agent probed inside its
//! walled garden, pushed with the operator's own credentials.

use crate::auth::operator_only;
use crate::http::Ctx;
use crate::problem::{parse, Reply};
use crate::Api;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use serde_json::json;

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn push_results(&self, ctx: &Ctx<'_>) -> Reply {
        let op = operator_only(ctx.who)?;
        let accepted = self
            .partner(ctx)
            .push_results(op, parse(ctx.body)?, ctx.now)
            .await?;
        tracing::info!(operator = %op, results = accepted, "agent results stored");
        Ok((202, json!({"accepted": accepted})))
    }
}
