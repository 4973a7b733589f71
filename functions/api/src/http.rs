//! One request, start to end: who calls, how often, what it sends, which
//! route, idempotency, the handler, and what it recorded delivered. The
//! Lambda (`Api::handle`, either API Gateway payload format), `livesite api`
//! and the tests all come in through `Api::call`.

use crate::auth::{principal_claims, Claims, Principal};
use crate::idempotency::{self, Reservation};
use crate::paging::{self, Paging};
use crate::problem::{json_response, problem_response, Problem};
use crate::routes::{self, Access, Route};
use crate::Api;
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use livesite_core::ports::{Notifier, OperatorRegistry, RateLimiter, RecordStore, Store};
use serde_json::Value;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request as the API reads it, whatever carried it.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    /// The path, `/v1/...` (a stage prefix before `/v1` is ignored).
    pub path: String,
    /// Query parameters, first value of each name first.
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
    /// Claims the authorizer verified; `None` when none ran.
    pub claims: Option<Claims>,
    /// The API's own address as the caller reached it, up to `/v1`: the
    /// base of the requests printed in the emails this request records
    /// (when the team's settings name none).
    pub base_url: Option<String>,
}

/// `scheme://host[/stage]/v1` of a request. Behind API Gateway the host is
/// the domain the gateway itself names in the request context, never the
/// caller's `Host` header (which the URI is built from); without a gateway
/// (a local `livesite api serve`), the URI's, else `http://` and its `Host`.
fn base_url(req: &Request, host: Option<&str>) -> Option<String> {
    use lambda_http::request::RequestContext;
    let gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => Some(ctx.domain_name.clone()),
        Some(RequestContext::ApiGatewayV1(ctx)) => Some(ctx.domain_name.clone()),
        _ => None,
    };
    let uri = req.uri();
    let mut base = match (gateway, uri.scheme_str(), uri.authority()) {
        (Some(domain), ..) => format!("https://{}", domain?),
        (None, Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
        _ => format!("http://{}", host.filter(|h| !h.contains(['/', ' ', '@']))?),
    };
    for segment in uri.path().split('/').filter(|s| !s.is_empty()) {
        base.push('/');
        base.push_str(segment);
        if segment == "v1" {
            return Some(base);
        }
    }
    None
}

/// Every filter a route may declare (`Route::filters`), read from the
/// query string in one place.
const FILTERS: [&str; 3] = ["operator", "status", "owed_by"];

impl ApiRequest {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// From API Gateway (REST or HTTP API payload).
    pub fn from_gateway(req: &Request) -> Self {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let params = req.query_string_parameters();
        let query = FILTERS
            .iter()
            .chain(&["limit", "cursor"])
            .filter_map(|k| params.first(k).map(|v| (k.to_string(), v.to_string())))
            .collect();
        let body = match req.body() {
            Body::Text(t) => t.as_bytes().to_vec(),
            Body::Binary(b) => b.clone(),
            _ => Vec::new(),
        };
        Self {
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            query,
            content_type: header("content-type"),
            idempotency_key: header("idempotency-key"),
            body,
            claims: principal_claims(req),
            base_url: base_url(req, header("host").as_deref()),
        }
    }

    /// 413 and 415: a body is at most `MAX_BODY_BYTES` of JSON.
    fn check_body(&self) -> Result<(), Problem> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(Problem::new(
                413,
                "Content Too Large",
                format!("bodies are capped at {MAX_BODY_BYTES} bytes"),
            ));
        }
        let json = self.content_type.as_deref().is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
        if !self.body.is_empty() && !json {
            return Err(Problem::new(
                415,
                "Unsupported Media Type",
                "send the body as application/json",
            ));
        }
        Ok(())
    }
}

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry + RateLimiter,
    N: Notifier,
{
    /// The Lambda's entry: an API Gateway request.
    pub async fn handle(&self, req: Request, now: DateTime<Utc>) -> Response<Body> {
        self.call(ApiRequest::from_gateway(&req), now).await
    }

    /// Every request's way through the API.
    pub async fn call(&self, req: ApiRequest, now: DateTime<Utc>) -> Response<Body> {
        match self.answer(&req, now).await {
            Ok(r) => r,
            Err(p) => problem_response(&p),
        }
    }

    async fn answer(
        &self,
        req: &ApiRequest,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let who = self.principal(req.claims.clone()).await?;
        self.over_rate(&who, now).await?;
        req.check_body()?;
        let (route, params) = routes::find(&req.method, &req.path)?;
        let paging = match route.listing {
            Some(_) => {
                Paging::parse(req.query("limit"), req.query("cursor")).map_err(Problem::invalid)?
            }
            None => Paging {
                limit: paging::DEFAULT_LIMIT,
                after: None,
            },
        };
        if route.body && req.body.is_empty() {
            return Err(Problem::field("body", "a JSON body is required"));
        }
        allow(route, &who)?;
        // A retried POST with the same key gets the first answer.
        let reserved = match (&req.idempotency_key, req.method.as_str()) {
            (Some(key), "POST") => {
                let scope = match &who {
                    Principal::Team => format!("admin#{}", req.path),
                    Principal::Operator(o) => format!("{o}#{}", req.path),
                };
                match idempotency::reserve(&self.store, &scope, key, &req.body, now).await? {
                    Reservation::Taken(r) => Some(r),
                    Reservation::Replay(answer) => return Ok(answer),
                }
            }
            _ => None,
        };
        let ctx = Ctx {
            who: &who,
            params: &params,
            body: &req.body,
            operator: route.filter("operator", |f| req.query(f)),
            status: route.filter("status", |f| req.query(f)),
            owed_by: route.filter("owed_by", |f| req.query(f)),
            now,
            team: self.team_for(req),
        };
        let (status, value) = match self.dispatch(route, &ctx).await {
            Ok(answer) => answer,
            Err(p) => {
                if let Some(r) = reserved {
                    r.release(&self.store).await;
                }
                return Err(p);
            }
        };
        if let Some(r) = reserved {
            r.keep(&self.store, &req.body, (status, value.clone()), now)
                .await;
        }
        // A read records nothing to send: no outbox queries on the GET path
        // (the evaluator and the sweep deliver anything left over).
        if req.method != "GET" {
            self.deliver_inline(now).await;
        }
        Ok(match (route.listing, value) {
            (Some(resource), Value::Array(items)) => paging::answer(
                resource,
                &route
                    .filters
                    .iter()
                    .map(|f| (*f, req.query(f)))
                    .collect::<Vec<_>>(),
                items,
                &paging,
            ),
            (_, value) => json_response(status, &value, "application/json"),
        })
    }
}

/// Who may call the route, as the table says.
fn allow(route: &Route, who: &Principal) -> Result<(), Problem> {
    match route.access {
        Access::Team => crate::auth::team_only(who),
        Access::Operator => crate::auth::operator_only(who).map(|_| ()),
        Access::Both => Ok(()),
    }
}

/// What a handler gets: the caller, the path parameters, the body, the
/// `?operator=`, `?status=` and `?owed_by=` filters, and the time.
pub struct Ctx<'a> {
    pub who: &'a Principal,
    pub params: &'a [&'a str],
    pub body: &'a [u8],
    pub operator: Option<&'a str>,
    pub status: Option<&'a str>,
    pub owed_by: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// The team as this request's use cases see it: the settings' team,
    /// with the API's address as the caller reached it when they name none.
    pub team: std::borrow::Cow<'a, livesite_core::Team>,
}

impl Ctx<'_> {
    /// The path's one parameter (every route has at most one).
    pub fn id(&self) -> &str {
        self.params.first().copied().unwrap_or_default()
    }
}
