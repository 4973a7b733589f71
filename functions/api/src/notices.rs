//! `/v1/outage-notices`: the DYNAMO team tells every operator of an outage
//! on its side.

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
    pub(crate) async fn notice_outage(&self, ctx: &Ctx<'_>) -> Reply {
        let notice = self
            .partner(ctx)
            .notice_outage(parse(ctx.body)?, ctx.now)
            .await?;
        Ok((
            201,
            json!({"notice": notice, "late": !notice.within_30_minutes}),
        ))
    }
}
