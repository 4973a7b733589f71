//! `/v1/maintenance`: planned windows, announced by an operator for its own
//! services or by the DYNAMO team for everyone, then completed or cancelled.

use crate::http::Ctx;
use crate::problem::{parse, to_value, Reply};
use crate::Api;
use livesite_core::partner::MaintenanceEvent;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use serde_json::json;

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn announce(&self, ctx: &Ctx<'_>) -> Reply {
        let m = self
            .partner(ctx)
            .announce(ctx.who, parse(ctx.body)?, ctx.now)
            .await?;
        Ok((
            201,
            json!({
                "maintenance": m,
                "late": m.late,
                "lead_business_days": m.lead_business_days,
                "needs_approval": m.needs_approval(),
                "over_limit": m.over_limit,
            }),
        ))
    }

    pub(crate) async fn list_maintenance(&self, ctx: &Ctx<'_>) -> Reply {
        Ok((
            200,
            to_value(&self.partner(ctx).maintenance(ctx.who).await?),
        ))
    }

    /// The team's approval of a late window (team only, by its route), a
    /// completion or a cancellation.
    pub(crate) async fn close(&self, ctx: &Ctx<'_>, event: MaintenanceEvent) -> Reply {
        let m = self
            .partner(ctx)
            .move_maintenance(ctx.who, ctx.id(), event, ctx.now)
            .await?;
        Ok((200, to_value(&m)))
    }
}
