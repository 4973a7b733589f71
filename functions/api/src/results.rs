//! `/v1/probe-results`: what an operator's private agent probed inside its
//! walled garden, pushed with the operator's own credentials.

use crate::auth::operator_only;
use crate::http::Ctx;
use crate::problem::{parse, Problem, Reply};
use crate::Api;
use livesite_core::agent;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use serde_json::json;

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    /// Checked whole before any is stored (`agent::accept`); each stored at
    /// its slot, once per agent per slot (a resent result is kept once). The evaluator
    /// takes them from the probes table's stream like any other location's.
    pub(crate) async fn push_results(&self, ctx: &Ctx<'_>) -> Reply {
        let op = self.operator(operator_only(ctx.who)?).await?;
        let interval = chrono::Duration::from_std(self.policy.probe_interval)
            .unwrap_or(chrono::Duration::seconds(30));
        let results =
            agent::accept(&op, parse(ctx.body)?, ctx.now, interval).map_err(Problem::invalid)?;
        for r in &results {
            self.store.append(r).await?;
        }
        tracing::info!(operator = %op.id, results = results.len(), "agent results stored");
        Ok((202, json!({"accepted": results.len()})))
    }
}
