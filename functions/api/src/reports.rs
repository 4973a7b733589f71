//! `/v1/reports/{month}`: the monthly SLA report, an operator's own; the
//! team's for one operator (`?operator=`) or for all.

use crate::auth::Principal;
use crate::http::Ctx;
use crate::problem::{to_value, Problem, Reply};
use crate::Api;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::report::{Month, MonthlyReport};
use livesite_core::service;
use livesite_core::{Operator, OperatorId};

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn report(&self, ctx: &Ctx<'_>) -> Reply {
        let month: Month = ctx
            .id()
            .parse()
            .map_err(|e: livesite_core::report::MonthError| {
                Problem::field("month", e.to_string())
            })?;
        let wanted = match (ctx.who, ctx.operator) {
            (Principal::Operator(op), Some(f)) if f != op.as_str() => {
                return Err(Problem::not_found())
            }
            (Principal::Operator(op), _) => vec![self.operator(op).await?],
            (Principal::Admin, Some(f)) => {
                let id =
                    OperatorId::new(f).map_err(|e| Problem::field("operator", e.to_string()))?;
                vec![self.operator(&id).await?]
            }
            (Principal::Admin, None) => self.store.list_operators().await?,
        };
        let mut reports = Vec::new();
        for op in &wanted {
            reports.push(self.monthly_report(op, month).await?);
        }
        // One operator asked for (its own, or named): one report; else a list.
        if ctx.operator.is_some() || matches!(ctx.who, Principal::Operator(_)) {
            Ok((200, to_value(&reports[0])))
        } else {
            Ok((200, to_value(&reports)))
        }
    }

    async fn monthly_report(&self, op: &Operator, month: Month) -> Result<MonthlyReport, Problem> {
        Ok(service::monthly_report(&self.store, op, month, &self.policy).await?)
    }
}
