//! `/v1/outage-notices`: the DYNAMO team tells every operator of an outage
//! on its side.

use crate::http::Ctx;
use crate::problem::{parse, to_value, Problem, Reply};
use crate::Api;
use livesite_core::partner;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use serde_json::json;

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    pub(crate) async fn notice_outage(&self, ctx: &Ctx<'_>) -> Reply {
        let notice = partner::outage_notice(parse(ctx.body)?, ctx.now).map_err(Problem::invalid)?;
        if !self
            .store
            .create_record("outage-notice", &notice.id, None, &to_value(&notice))
            .await?
        {
            return Err(Problem::conflict(format!(
                "outage notice {} exists",
                notice.id
            )));
        }
        let operators = self.store.list_operators().await?;
        self.enqueue(notice.emails(&operators, &self.team)).await?;
        Ok((
            201,
            json!({"notice": notice, "late": !notice.within_30_minutes}),
        ))
    }
}
