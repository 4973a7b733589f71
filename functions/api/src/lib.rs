//! The partner API: every `/v1` resource over the ports, so the same code
//! serves API Gateway (both payload formats), `cargo lambda watch`,
//! `livesite api` and the tests with the embedded store.
//!
//! A request goes through `http` (who calls, limits, idempotency), finds its
//! route in `routes` (the one table of resources, methods and roles), and
//! runs one handler of a resource module, which parses, calls one of the
//! core's use cases (`livesite_core::service::partner`) and maps its answer
//! or error: no rule, record or id is built here.

mod auth;
mod bugs;
mod http;
mod idempotency;
mod incidents;
mod maintenance;
mod notices;
mod operators;
mod outbox;
mod paging;
mod problem;
mod reports;
mod results;
mod routes;

pub use auth::{principal_claims, Claims, Principal, ADMIN_SCOPE};
pub use http::{ApiRequest, MAX_BODY_BYTES};
pub use idempotency::RESERVATION_HELD;
pub use outbox::INLINE_DELIVERY_BUDGET;
pub use problem::Problem;

/// Every route the API answers, as (method, path after `/v1`, `{}` for a
/// parameter): what `infra/openapi.yaml` must list, exactly.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    routes::ROUTES.iter().map(|r| (r.method, r.path)).collect()
}

/// Every route's query filters, as (method, path, filters): what
/// `infra/openapi.yaml` must declare for it, exactly.
pub fn route_filters() -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    routes::ROUTES
        .iter()
        .map(|r| (r.method, r.path, r.filters))
        .collect()
}

use http::Ctx;
use livesite_core::incident::Answer;
use livesite_core::partner::MaintenanceEvent;
use livesite_core::ports::{Notifier, OperatorRegistry, RateLimiter, RecordStore, Store};
use livesite_core::service::partner::Partner;
use livesite_core::{Policy, Team};
use problem::Reply;
use routes::{Action, Route};

pub struct Api<S, N> {
    pub store: S,
    pub notifier: N,
    pub policy: Policy,
    pub team: Team,
    /// Claims to assume when a request carries none: only for local runs
    /// (`cargo lambda watch`), where no authorizer exists. Never set in AWS.
    pub local_claims: Option<Claims>,
    /// The DYNAMO team's API client ids (the stack's team client). The admin
    /// scope is honoured only on their tokens: a partner's client given the
    /// scope by mistake does not become the team.
    pub team_clients: Vec<String>,
}

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// The partner workflows over this API's store and policy, for the team
    /// as the request sees it: every handler calls one of them.
    fn partner<'a>(&'a self, ctx: &'a Ctx<'_>) -> Partner<'a, S> {
        Partner::new(&self.store, &self.policy, &ctx.team)
    }

    /// The team, with the API's address as `req` reached it when the
    /// settings name none: the requests printed in emails then work as
    /// printed.
    fn team_for(&self, req: &ApiRequest) -> std::borrow::Cow<'_, Team> {
        let base = req.base_url.as_deref().and_then(|u| u.parse().ok());
        match (&self.team.api_url, base) {
            (None, Some(url)) => std::borrow::Cow::Owned(Team {
                api_url: Some(url),
                ..self.team.clone()
            }),
            _ => std::borrow::Cow::Borrowed(&self.team),
        }
    }
}

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry + RateLimiter,
    N: Notifier,
{
    /// Runs the handler `route` names.
    async fn dispatch(&self, route: &Route, ctx: &Ctx<'_>) -> Reply {
        match route.action {
            Action::ReportOutage => self.report_outage(ctx).await,
            Action::PushResults => self.push_results(ctx).await,
            Action::ListIncidents => self.list_incidents(ctx).await,
            Action::GetIncident => self.get_incident(ctx).await,
            Action::Raise => self.raise(ctx).await,
            Action::Acknowledge => self.answer_incident(ctx, Answer::Acknowledge).await,
            Action::PostUpdate => self.answer_incident(ctx, Answer::Update).await,
            Action::Resolve => self.answer_incident(ctx, Answer::Resolve).await,
            Action::AskInformation => self.ask_information(ctx).await,
            Action::Announce => self.announce(ctx).await,
            Action::ListMaintenance => self.list_maintenance(ctx).await,
            Action::Approve => self.close(ctx, MaintenanceEvent::Approved).await,
            Action::Complete => self.close(ctx, MaintenanceEvent::Completed).await,
            Action::Cancel => self.close(ctx, MaintenanceEvent::Cancelled).await,
            Action::NoticeOutage => self.notice_outage(ctx).await,
            Action::ListNotices => self.list_notices(ctx).await,
            Action::GetNotice => self.get_notice(ctx).await,
            Action::UpdateNotice => self.update_notice(ctx).await,
            Action::ResolveNotice => self.resolve_notice(ctx).await,
            Action::ReportBug => self.report_bug(ctx).await,
            Action::ListBugs => self.list_bugs(ctx).await,
            Action::GetBug => self.get_bug(ctx).await,
            Action::Triage => self.triage(ctx).await,
            Action::Schedule => self.schedule(ctx).await,
            Action::Deploy => self.deploy(ctx).await,
            Action::Report => self.report(ctx).await,
            Action::ListOperators => self.list_operators(ctx).await,
            Action::GetOperator => self.get_operator(ctx).await,
            Action::PutOperator => self.put_operator(ctx).await,
            Action::RetireOperator => self.retire_operator(ctx).await,
        }
    }
}
