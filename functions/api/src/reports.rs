//! `/v1/reports/{month}`: the monthly SLA report, an operator's own; the
//! team's for one operator (`?operator=`) or for all.

use crate::auth::{operator_filter, Principal};
use crate::http::Ctx;
use crate::problem::{to_value, Problem, Reply};
use crate::Api;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::report::{Month, MonthError};

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn report(&self, ctx: &Ctx<'_>) -> Reply {
        let month: Month = ctx
            .id()
            .parse()
            .map_err(|e: MonthError| Problem::field("month", e.to_string()))?;
        let operator = operator_filter(ctx.operator)?;
        let one = operator.is_some() || matches!(ctx.who, Principal::Operator(_));
        let reports = self
            .partner(ctx)
            .reports(ctx.who, operator, month, ctx.now)
            .await?;
        // One operator asked for (its own, or named): one report; else a list.
        match (one, reports.first()) {
            (true, Some(r)) => Ok((200, to_value(r))),
            (true, None) => Err(Problem::not_found()),
            (false, _) => Ok((200, to_value(&reports))),
        }
    }
}
