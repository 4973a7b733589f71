//! `/v1/outage-notices`: the DYNAMO team tells every operator of an outage
//! on its side, updates the notice and resolves it.

use crate::http::Ctx;
use crate::incidents::MessageInput;
use crate::problem::{parse, to_value, Reply};
use crate::Api;
use livesite_core::ports::{Notifier, OperatorRegistry, RecordStore, Store};
use livesite_core::service::partner::NoticeMove;
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

    pub(crate) async fn list_notices(&self, ctx: &Ctx<'_>) -> Reply {
        Ok((
            200,
            to_value(&self.partner(ctx).outage_notices(ctx.who).await?),
        ))
    }

    pub(crate) async fn get_notice(&self, ctx: &Ctx<'_>) -> Reply {
        Ok((
            200,
            to_value(&self.partner(ctx).outage_notice(ctx.who, ctx.id()).await?),
        ))
    }

    pub(crate) async fn update_notice(&self, ctx: &Ctx<'_>) -> Reply {
        let m: MessageInput = parse(ctx.body)?;
        self.move_notice(ctx, NoticeMove::Update(m.message)).await
    }

    pub(crate) async fn resolve_notice(&self, ctx: &Ctx<'_>) -> Reply {
        let message = match ctx.body.is_empty() {
            true => None,
            false => Some(parse::<MessageInput>(ctx.body)?.message),
        };
        self.move_notice(ctx, NoticeMove::Resolve(message)).await
    }

    async fn move_notice(&self, ctx: &Ctx<'_>, step: NoticeMove) -> Reply {
        let notice = self
            .partner(ctx)
            .move_notice(ctx.who, ctx.id(), step, ctx.now)
            .await?;
        Ok((200, to_value(&notice)))
    }
}
