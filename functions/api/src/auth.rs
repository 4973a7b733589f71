//! Who is calling, from the JWT authorizer's claims: the scope
//! `livesite/admin` on the team's own client is the DYNAMO team; otherwise
//! the token's `client_id` must be one of an operator's `api_clients`, and
//! that operator sees only its own records. And how often it may call.

use crate::problem::Problem;
use crate::Api;
use chrono::{DateTime, Utc};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use livesite_core::ports::{OperatorRegistry, RateLimiter};
use livesite_core::OperatorId;

pub const ADMIN_SCOPE: &str = "livesite/admin";

/// Who calls: the DYNAMO team or one operator, as the core's use cases
/// take it.
pub use livesite_core::partner::Actor as Principal;

/// The `?operator=` filter of a listing.
pub(crate) fn operator_filter(filter: Option<&str>) -> Result<Option<OperatorId>, Problem> {
    filter
        .map(|f| OperatorId::new(f).map_err(|e| Problem::field("operator", e.to_string())))
        .transpose()
}

pub type Claims = (Vec<String>, Option<String>);

fn scopes_of(scope: Option<&str>) -> Vec<String> {
    scope
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Reads the authorizer's claims from either payload format: the HTTP API's
/// JWT authorizer (`authorizer.jwt`), or a REST API's Cognito authorizer
/// (`authorizer.claims`).
pub fn principal_claims(req: &Request) -> Option<Claims> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let jwt = ctx.authorizer.as_ref()?.jwt.as_ref()?;
            let mut scopes = scopes_of(jwt.claims.get("scope").map(String::as_str));
            scopes.extend(jwt.scopes.iter().flatten().cloned());
            Some((scopes, jwt.claims.get("client_id").cloned()))
        }
        RequestContext::ApiGatewayV1(ctx) => {
            let claims = ctx.authorizer.fields.get("claims")?.as_object()?;
            let text = |k: &str| claims.get(k).and_then(|v| v.as_str());
            Some((
                scopes_of(text("scope")),
                text("client_id").map(str::to_string),
            ))
        }
        #[allow(unreachable_patterns)] // ALB and WebSocket contexts carry no JWT
        _ => None,
    }
}

impl<S: OperatorRegistry + RateLimiter, N> Api<S, N> {
    /// The caller, from verified claims (or the local stand-in for the
    /// authorizer, which names no client).
    pub(crate) async fn principal(&self, verified: Option<Claims>) -> Result<Principal, Problem> {
        let local = verified.is_none();
        let Some((scopes, client)) = verified.or_else(|| self.local_claims.clone()) else {
            return Err(Problem::new(
                401,
                "Unauthorized",
                "no verified token claims on the request",
            ));
        };
        let team_client = client
            .as_ref()
            .is_some_and(|c| self.team_clients.iter().any(|t| t == c));
        if scopes.iter().any(|s| s == ADMIN_SCOPE) {
            if team_client || local {
                return Ok(Principal::Team);
            }
            return Err(Problem::new(
                403,
                "Forbidden",
                "the admin scope is honoured only on the DYNAMO team's client",
            ));
        }
        let Some(client) = client else {
            return Err(Problem::new(403, "Forbidden", "the token names no client"));
        };
        let operators = self.store.list_operators().await?;
        let mut owners = operators
            .into_iter()
            .filter(|o| o.api_clients.iter().any(|c| c == &client));
        match (owners.next(), owners.next()) {
            (Some(o), None) => Ok(Principal::Operator(o.id)),
            // Never "the first one wins": a client acts for one operator.
            (Some(_), Some(_)) => Err(Problem::new(
                403,
                "Forbidden",
                "this client is listed by more than one operator; the team must fix the registry",
            )),
            _ => Err(Problem::new(
                403,
                "Forbidden",
                "this client acts for no registered operator",
            )),
        }
    }

    /// An operator's requests are counted per minute across every instance;
    /// past `policy.api_requests_per_minute` the answer is 429 until the next
    /// minute. The team is not limited here (the stage's throttling applies
    /// to all). If the count can't be kept, the request goes on: a store
    /// fault must not lock partners out.
    pub(crate) async fn over_rate(
        &self,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<(), Problem> {
        let Principal::Operator(op) = who else {
            return Ok(());
        };
        let minute = now.timestamp() - now.timestamp().rem_euclid(60);
        let Some(window) = DateTime::from_timestamp(minute, 0) else {
            return Ok(());
        };
        let limit = self.policy.api_requests_per_minute;
        match self.store.take(&format!("api#{op}"), window, limit).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::warn!(operator = %op, limit, "request rate over the limit");
                Err(Problem::too_many(
                    (minute + 60 - now.timestamp()).max(1) as u64
                ))
            }
            Err(e) => {
                tracing::error!(operator = %op, error = %e, "request rate not counted");
                Ok(())
            }
        }
    }
}

/// The calling operator, for operations an operator makes.
pub(crate) fn operator_only(who: &Principal) -> Result<&OperatorId, Problem> {
    match who {
        Principal::Operator(op) => Ok(op),
        Principal::Team => Err(Problem::new(
            403,
            "Forbidden",
            "this operation is made by an operator",
        )),
    }
}

/// Only the DYNAMO team.
pub(crate) fn team_only(who: &Principal) -> Result<(), Problem> {
    match who {
        Principal::Team => Ok(()),
        Principal::Operator(_) => Err(Problem::forbidden()),
    }
}
