//! The partner API: one handler for every `/v1` resource, generic over the
//! ports, so the same code serves API Gateway (both payload formats), `cargo
//! lambda watch`, and the tests with the embedded store.
//!
//! Authorization comes from the JWT authorizer's claims: the scope
//! `livesite/admin` is the DYNAMO team; otherwise the token's `client_id` must
//! be one of an operator's `api_clients`, and that operator sees only its own
//! records (a foreign id answers exactly like a missing one).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use livesite_core::incident::{
    initial_response_due, Incident, IncidentKind, IncidentStatus, Severity,
};
use livesite_core::notify::{header_safe, Channel, Notification};
use livesite_core::partner::{
    self, Announcer, Bug, BugInput, FieldError, Maintenance, MaintenanceInput, Triage,
};
use livesite_core::ports::{
    Notifier, OperatorRegistry, RateLimiter, RecordStore, Store, StoreError,
};
use livesite_core::service::{change_incident, change_operator, deliver_pending_while, Change};
use livesite_core::{BusinessCalendar, EmailAddress, Operator, OperatorId, Policy, Team};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const MAX_BODY_BYTES: usize = 64 * 1024;

mod paging;
pub const ADMIN_SCOPE: &str = "livesite/admin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Operator(OperatorId),
}

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct Problem {
    pub status: u16,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// For 405: the methods the resource does allow.
    pub allow: Option<&'static str>,
}

impl Problem {
    fn new(status: u16, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title,
            detail: detail.into(),
            errors: vec![],
            allow: None,
        }
    }
    fn not_found() -> Self {
        Self::new(404, "Not Found", "no such resource")
    }
    fn forbidden() -> Self {
        Self::new(403, "Forbidden", "this operation is for the DYNAMO team")
    }
    fn invalid(e: FieldError) -> Self {
        Self {
            status: 422,
            title: "Unprocessable Content",
            detail: e.to_string(),
            errors: vec![e],
            allow: None,
        }
    }
    fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, "Conflict", detail)
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        if let StoreError::Conflict(what) = &e {
            // Lost a race every retry: the client may simply try again.
            tracing::warn!(error = %e, "write conflict");
            return Self::conflict(format!("{what}; retry"));
        }
        tracing::error!(error = %e, "store failure");
        Self::new(
            503,
            "Service Unavailable",
            "the store is unavailable; retry with the same Idempotency-Key",
        )
    }
}

type Reply = Result<(u16, Value), Problem>;

/// 429 with the seconds until the next window.
fn too_many(wait: u64) -> Response<Body> {
    let mut r = problem_response(&Problem::new(
        429,
        "Too Many Requests",
        format!("this operator's request rate is over its limit; retry in {wait} s"),
    ));
    if let Ok(v) = lambda_http::http::HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

pub(crate) fn json_response(status: u16, body: &Value, content_type: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

fn problem_response(p: &Problem) -> Response<Body> {
    let body = json!({
        "type": "about:blank",
        "title": p.title,
        "status": p.status,
        "detail": p.detail,
        "errors": p.errors,
    });
    let mut r = json_response(p.status, &body, "application/problem+json");
    if let Some(allow) = p
        .allow
        .and_then(|a| lambda_http::http::HeaderValue::from_str(a).ok())
    {
        r.headers_mut().insert("allow", allow);
    }
    r
}

/// The methods each resource answers, for 405 responses.
fn allowed(seg: &[&str]) -> Option<&'static str> {
    Some(match seg {
        ["outage-reports" | "outage-notices" | "bugs" | "information-requests"] => "POST",
        ["incidents"] | ["operators"] => "GET",
        ["maintenance"] => "GET, POST",
        ["incidents" | "bugs" | "reports", _] => "GET",
        ["operators", _] => "GET, PUT, DELETE",
        ["incidents", _, "acknowledgement" | "updates"]
        | ["maintenance", _, "completion" | "cancellation"]
        | ["bugs", _, "triage" | "schedule" | "deployment"] => "POST",
        _ => return None,
    })
}

/// Reads the authorizer's claims from either payload format.
pub fn principal_claims(req: &Request) -> Option<(Vec<String>, Option<String>)> {
    let ctx = serde_json::to_value(req.request_context_ref()?).ok()?;
    let auth = &ctx["authorizer"];
    let claims = if auth["jwt"]["claims"].is_object() {
        &auth["jwt"]["claims"]
    } else {
        &auth["claims"]
    };
    if !claims.is_object() {
        return None;
    }
    let mut scopes: Vec<String> = claims["scope"]
        .as_str()
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(list) = auth["jwt"]["scopes"].as_array() {
        scopes.extend(list.iter().filter_map(|s| s.as_str().map(str::to_string)));
    }
    Some((scopes, claims["client_id"].as_str().map(str::to_string)))
}

pub struct Api<S, N> {
    pub store: S,
    pub notifier: N,
    pub policy: Policy,
    pub team: Team,
    /// The DYNAMO team's own business calendar (its maintenance lead times).
    pub team_calendar: BusinessCalendar,
    /// Claims to assume when a request carries none: only for local runs
    /// (`cargo lambda watch`), where no authorizer exists. Never set in AWS.
    pub local_claims: Option<(Vec<String>, Option<String>)>,
    /// The DYNAMO team's API client ids (the stack's team client). The admin
    /// scope is honoured only on their tokens: a partner's client given the
    /// scope by mistake does not become the team.
    pub team_clients: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateInput {
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InformationRequestInput {
    subject: String,
    question: String,
    contact: EmailAddress,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamBugInput {
    operator: OperatorId,
    #[serde(flatten)]
    bug: BugInput,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleInput {
    tentative_deployment: NaiveDate,
}

/// An idempotency key's record: reserved (`answer` absent) while its first
/// request acts, then the answer every retry gets.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// Fingerprint of the request body the key was first used with.
    #[serde(default)]
    request: String,
    /// The first request's answer (status, body); absent while it acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<(u16, Value)>,
    /// Seconds since the epoch; the store's TTL removes the record after.
    #[serde(default)]
    expires_at: i64,
    // Records written before reservations kept the answer at the top.
    #[serde(default, skip_serializing)]
    status: Option<u16>,
    #[serde(default, skip_serializing)]
    body: Option<Value>,
}

/// The most time a request spends sending what it recorded. The function's
/// timeout is 15 s; with the SDK's own per-send limit (3 s) an answer never
/// waits much longer than this on a slow mail service.
pub const INLINE_DELIVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// How long an idempotency key is remembered.
const IDEMPOTENCY_KEPT: chrono::Duration = chrono::Duration::hours(24);

/// FNV-1a: stable across builds, enough to tell two request bodies apart.
fn fingerprint(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(body);
    deserialize_naming_field(&mut de)
        .map_err(|(field, message)| Problem::invalid(FieldError { field, message }))
}

/// serde_json with the failing field named where serde reports it.
fn deserialize_naming_field<T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, (String, String)> {
    T::deserialize(&mut *de)
        .and_then(|v| de.end().map(|_| v))
        .map_err(|e| {
            let msg = e.to_string();
            let field = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.contains("field"))
                .unwrap_or("body")
                .to_string();
            (field, msg)
        })
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, Problem> {
    serde_json::from_value(v).map_err(|e| {
        tracing::error!(error = %e, "stored record unreadable");
        Problem::new(
            500,
            "Internal Server Error",
            "a stored record is unreadable",
        )
    })
}

impl<S, N> Api<S, N>
where
    S: Store + RecordStore + OperatorRegistry + RateLimiter,
    N: Notifier,
{
    pub async fn handle(&self, req: Request, now: DateTime<Utc>) -> Response<Body> {
        let method = req.method().as_str().to_string();
        let path = req.uri().path().to_string();
        let idem = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let principal = match self.principal(&req).await {
            Ok(p) => p,
            Err(p) => return problem_response(&p),
        };
        if let Some(wait) = self.over_rate(&principal, now).await {
            return too_many(wait);
        }
        let body: &[u8] = match req.body() {
            Body::Empty => b"",
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
            _ => b"",
        };
        if body.len() > MAX_BODY_BYTES {
            return problem_response(&Problem::new(
                413,
                "Content Too Large",
                format!("bodies are capped at {MAX_BODY_BYTES} bytes"),
            ));
        }
        let json_body = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !body.is_empty() && !json_body {
            return problem_response(&Problem::new(
                415,
                "Unsupported Media Type",
                "send the body as application/json",
            ));
        }
        let query = req.query_string_parameters();
        let operator_filter = query.first("operator").map(str::to_string);
        let listing = (method.as_str() == "GET")
            .then(|| paging::listing(&path))
            .flatten();
        let paging = match paging::Paging::parse(query.first("limit"), query.first("cursor")) {
            Ok(p) => p,
            Err(e) if listing.is_some() => return problem_response(&Problem::invalid(e)),
            Err(_) => paging::Paging::parse(None, None).unwrap_or(paging::Paging {
                limit: paging::DEFAULT_LIMIT,
                after: None,
            }),
        };

        // A retried POST with the same key gets the first answer.
        let idem_id = match (&idem, method.as_str()) {
            (Some(k), "POST") => {
                if k.is_empty() || k.len() > 200 {
                    return problem_response(&Problem::invalid(FieldError {
                        field: "Idempotency-Key".into(),
                        message: "1 to 200 characters".into(),
                    }));
                }
                let who = match &principal {
                    Principal::Admin => "admin".to_string(),
                    Principal::Operator(o) => o.to_string(),
                };
                let id = format!("{who}#{path}#{k}");
                match self.reserve_key(&id, body, now).await {
                    Ok(None) => Some(id),
                    Ok(Some(early)) => return early,
                    Err(p) => return problem_response(&p),
                }
            }
            _ => None,
        };

        let result = self
            .route(
                &method,
                &path,
                &principal,
                body,
                operator_filter.as_deref(),
                now,
            )
            .await;
        match result {
            Ok((status, value)) => {
                if let Some(id) = idem_id {
                    let stored = to_value(&Stored {
                        request: fingerprint(body),
                        answer: Some((status, value.clone())),
                        expires_at: (now + IDEMPOTENCY_KEPT).timestamp(),
                        status: None,
                        body: None,
                    });
                    if let Err(e) = self
                        .store
                        .put_record("idempotency", &id, None, &stored)
                        .await
                    {
                        tracing::warn!(error = %e, "idempotency record not kept");
                    }
                }
                self.deliver_inline(now).await;
                match (listing, value) {
                    (Some(resource), Value::Array(items)) => {
                        let filter = operator_filter.as_deref();
                        paging::answer(resource, filter, items, &paging)
                    }
                    (_, value) => json_response(status, &value, "application/json"),
                }
            }
            Err(p) => {
                // Nothing was done: free the key, so a retry acts afresh.
                if let Some(id) = idem_id {
                    if let Err(e) = self.store.delete_record("idempotency", &id).await {
                        tracing::warn!(error = %e, "idempotency reservation not released");
                    }
                }
                problem_response(&p)
            }
        }
    }

    /// An operator's requests are counted per minute across every instance;
    /// past `policy.api_requests_per_minute` the answer is 429 until the next
    /// minute. The team is not limited here (the stage's throttling applies
    /// to all). If the count can't be kept, the request goes on: a store
    /// fault must not lock partners out.
    async fn over_rate(&self, who: &Principal, now: DateTime<Utc>) -> Option<u64> {
        let Principal::Operator(op) = who else {
            return None;
        };
        let minute = now.timestamp() - now.timestamp().rem_euclid(60);
        let window = DateTime::from_timestamp(minute, 0)?;
        let limit = self.policy.api_requests_per_minute;
        match self.store.take(&format!("api#{op}"), window, limit).await {
            Ok(true) => None,
            Ok(false) => {
                tracing::warn!(operator = %op, limit, "request rate over the limit");
                Some((minute + 60 - now.timestamp()).max(1) as u64)
            }
            Err(e) => {
                tracing::error!(operator = %op, error = %e, "request rate not counted");
                None
            }
        }
    }

    /// Sends what the request recorded (and anything else due), for at most
    /// `INLINE_DELIVERY_BUDGET`: stored first, then sent, so what a slow or
    /// failing mail service leaves waits in the outbox for the evaluator's
    /// or the sweep's pass instead of turning into a slow answer or a 5xx.
    async fn deliver_inline(&self, now: DateTime<Utc>) {
        let started = std::time::Instant::now();
        let within = || started.elapsed() < INLINE_DELIVERY_BUDGET;
        let report = deliver_pending_while(
            &self.store,
            &self.notifier,
            &self.team,
            now,
            Duration::minutes(2),
            100,
            &within,
        )
        .await;
        match report {
            Ok(report) => {
                for (key, error) in &report.dead {
                    tracing::error!(
                        key,
                        error,
                        "notification given up after every retry; the team is told"
                    );
                }
                if !report.dead.is_empty() {
                    println!(
                        "{}",
                        livesite_core::metrics::emf_line(
                            now,
                            &[("NotificationsDead", "Count", report.dead.len() as f64)],
                            json!({}),
                        )
                    );
                }
                if report.deferred > 0 {
                    tracing::warn!(
                        deferred = report.deferred,
                        "delivery budget spent; the rest waits for the next pass"
                    );
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "outbox unavailable; notifications wait for the next pass")
            }
        }
    }

    /// Takes an idempotency key before its request acts, with one
    /// conditional write: two concurrent requests with one key can't both
    /// act. `None`: taken, go on; `Some`: the answer to give instead (the
    /// first answer replayed, 409 while the first request still acts, 422
    /// for a key reused with another body).
    async fn reserve_key(
        &self,
        id: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<Response<Body>>, Problem> {
        let reservation = to_value(&Stored {
            request: fingerprint(body),
            answer: None,
            expires_at: (now + IDEMPOTENCY_KEPT).timestamp(),
            status: None,
            body: None,
        });
        if self
            .store
            .reserve_record("idempotency", id, &reservation, now)
            .await?
        {
            return Ok(None);
        }
        let Some(v) = self.store.get_record("idempotency", id).await? else {
            // Released between the two calls: the caller may simply retry.
            return Err(Problem::conflict(
                "this Idempotency-Key is being released; retry",
            ));
        };
        let stored: Stored = serde_json::from_value(v).map_err(|e| {
            Problem::from(StoreError::Corrupt {
                key: format!("idempotency {id}"),
                message: e.to_string(),
            })
        })?;
        let answer = stored
            .answer
            .or_else(|| Some((stored.status?, stored.body?)));
        let Some((status, value)) = answer else {
            return Err(Problem::conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ));
        };
        if stored.request != fingerprint(body) {
            return Err(Problem::invalid(FieldError {
                field: "Idempotency-Key".into(),
                message: "already used with a different request body".into(),
            }));
        }
        let mut r = json_response(status, &value, "application/json");
        r.headers_mut().insert(
            "idempotent-replayed",
            lambda_http::http::HeaderValue::from_static("true"),
        );
        Ok(Some(r))
    }

    async fn principal(&self, req: &Request) -> Result<Principal, Problem> {
        let verified = principal_claims(req);
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
            // The local stand-in for the authorizer names no client.
            if team_client || local {
                return Ok(Principal::Admin);
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

    async fn route(
        &self,
        method: &str,
        path: &str,
        who: &Principal,
        body: &[u8],
        operator_filter: Option<&str>,
        now: DateTime<Utc>,
    ) -> Reply {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let start = segments
            .iter()
            .position(|s| *s == "v1")
            .ok_or_else(Problem::not_found)?;
        let seg = &segments[start + 1..];
        if let Some(allow) = allowed(seg) {
            if !allow.split(", ").any(|m| m == method) {
                return Err(Problem {
                    allow: Some(allow),
                    ..Problem::new(
                        405,
                        "Method Not Allowed",
                        format!("{method} is not allowed on {path}; use {allow}"),
                    )
                });
            }
        }
        if method == "POST"
            && body.is_empty()
            && !matches!(
                seg,
                [
                    _,
                    _,
                    "completion" | "cancellation" | "deployment" | "acknowledgement"
                ]
            )
        {
            return Err(Problem::invalid(FieldError {
                field: "body".into(),
                message: "a JSON body is required".into(),
            }));
        }
        match (method, seg) {
            ("POST", ["outage-reports"]) => self.outage_report(who, body, now).await,
            ("GET", ["incidents"]) => self.list_incidents(who, operator_filter).await,
            ("GET", ["incidents", id]) => Ok((200, to_value(&self.own_incident(who, id).await?))),
            ("POST", ["incidents", id, "acknowledgement"]) => self.acknowledge(who, id, now).await,
            ("POST", ["incidents", id, "updates"]) => self.update(who, id, body, now).await,
            ("POST", ["maintenance"]) => self.announce(who, body, now).await,
            ("GET", ["maintenance"]) => self.list_maintenance(who).await,
            ("POST", ["maintenance", id, action @ ("completion" | "cancellation")]) => {
                self.close_maintenance(who, id, action, now).await
            }
            ("POST", ["outage-notices"]) => self.outage_notice(who, body, now).await,
            ("POST", ["bugs"]) => self.report_bug(who, body, now).await,
            ("GET", ["bugs", id]) => Ok((200, to_value(&self.own_bug(who, id).await?))),
            ("POST", ["bugs", id, action @ ("triage" | "schedule" | "deployment")]) => {
                self.move_bug(who, id, action, body, now).await
            }
            ("GET", ["reports", month]) => self.report(who, month, operator_filter).await,
            ("POST", ["information-requests"]) => self.information_request(who, body, now).await,
            ("GET", ["operators"]) => {
                self.admin(who)?;
                Ok((200, to_value(&self.store.list_operators().await?)))
            }
            ("GET", ["operators", id]) => {
                self.admin(who)?;
                let id = OperatorId::new(*id).map_err(|_| Problem::not_found())?;
                Ok((
                    200,
                    to_value(
                        &self
                            .store
                            .get_operator(&id)
                            .await?
                            .ok_or_else(Problem::not_found)?,
                    ),
                ))
            }
            ("PUT", ["operators", id]) => self.put_operator(who, id, body).await,
            ("DELETE", ["operators", id]) => {
                self.admin(who)?;
                let id = OperatorId::new(*id).map_err(|_| Problem::not_found())?;
                if self.store.retire_operator(&id).await? {
                    Ok((200, json!({"retired": id})))
                } else {
                    Err(Problem::not_found())
                }
            }
            _ => match allowed(seg) {
                Some(allow) => Err(Problem {
                    allow: Some(allow),
                    ..Problem::new(
                        405,
                        "Method Not Allowed",
                        format!("{method} is not allowed on {path}; use {allow}"),
                    )
                }),
                None => Err(Problem::not_found()),
            },
        }
    }

    fn admin(&self, who: &Principal) -> Result<(), Problem> {
        match who {
            Principal::Admin => Ok(()),
            Principal::Operator(_) => Err(Problem::forbidden()),
        }
    }

    fn operator_only<'a>(&self, who: &'a Principal) -> Result<&'a OperatorId, Problem> {
        match who {
            Principal::Operator(op) => Ok(op),
            Principal::Admin => Err(Problem::new(
                403,
                "Forbidden",
                "this operation is made by an operator",
            )),
        }
    }

    async fn operator(&self, id: &OperatorId) -> Result<Operator, Problem> {
        self.store
            .get_operator(id)
            .await?
            .ok_or_else(Problem::not_found)
    }

    async fn record_and_enqueue(&self, notifications: Vec<Notification>) -> Result<(), Problem> {
        for n in notifications {
            self.store.enqueue(&n).await?;
        }
        Ok(())
    }

    async fn outage_report(&self, who: &Principal, body: &[u8], now: DateTime<Utc>) -> Reply {
        let op = self.operator(self.operator_only(who)?).await?;
        let input = parse(body)?;
        let (report, incident, notes) =
            partner::outage_report(&op, input, now, &self.policy, &self.team)
                .map_err(Problem::invalid)?;
        let created = self.store.create_incident(&incident).await?;
        self.store
            .create_record(
                "outage-report",
                &report.incident_id,
                Some(&op.id),
                &to_value(&report),
            )
            .await?;
        if created {
            self.record_and_enqueue(notes).await?;
        }
        Ok((201, json!({"report": report, "incident": incident})))
    }

    async fn own_incident(&self, who: &Principal, id: &str) -> Result<Incident, Problem> {
        let incident = self
            .store
            .get_incident(id)
            .await?
            .ok_or_else(Problem::not_found)?;
        match who {
            Principal::Operator(op) if &incident.operator != op => Err(Problem::not_found()),
            _ => Ok(incident),
        }
    }

    async fn list_incidents(&self, who: &Principal, filter: Option<&str>) -> Reply {
        let filter = filter
            .map(|f| {
                OperatorId::new(f).map_err(|e| {
                    Problem::invalid(FieldError {
                        field: "operator".into(),
                        message: e.to_string(),
                    })
                })
            })
            .transpose()?;
        let op = match (who, filter) {
            // Another operator's incidents look like none at all.
            (Principal::Operator(op), Some(f)) if &f != op => return Ok((200, json!([]))),
            (Principal::Operator(op), _) => Some(op.clone()),
            (Principal::Admin, f) => f,
        };
        Ok((
            200,
            to_value(&self.store.list_incidents(op.as_ref(), false).await?),
        ))
    }

    async fn acknowledge(&self, who: &Principal, id: &str, now: DateTime<Utc>) -> Reply {
        let op_id = self.operator_only(who)?.clone();
        self.own_incident(who, id).await?;
        let calendar = self.operator(&op_id).await?.calendar();
        // Race-free: decided on the incident as stored at the write.
        let changed = change_incident(&self.store, id, |incident| {
            if !incident.is_open() {
                return Err(());
            }
            let first = incident.acknowledged_at.is_none();
            incident.acknowledge(now, &calendar);
            Ok(first)
        })
        .await?;
        let (incident, first) = match changed {
            Change::Done(incident, first) => (incident, first),
            Change::Missing => return Err(Problem::not_found()),
            Change::Refused(()) => {
                return Err(Problem::conflict(format!("incident {id} is resolved")))
            }
        };
        let late = incident.initial_response_overdue(now);
        Ok((
            200,
            json!({"incident": incident, "first_acknowledgement": first, "initial_response_late": late}),
        ))
    }

    async fn update(&self, who: &Principal, id: &str, body: &[u8], now: DateTime<Utc>) -> Reply {
        let op_id = self.operator_only(who)?.clone();
        let input: UpdateInput = parse(body)?;
        if input.message.trim().is_empty() || input.message.chars().count() > 4000 {
            return Err(Problem::invalid(FieldError {
                field: "message".into(),
                message: "1 to 4000 characters".into(),
            }));
        }
        self.own_incident(who, id).await?;
        let calendar = self.operator(&op_id).await?.calendar();
        // A resolved incident takes no more updates; race-free as above.
        let changed = change_incident(&self.store, id, |incident| {
            if !incident.is_open() {
                return Err(());
            }
            let overdue = incident.next_update_due.is_some_and(|d| now > d);
            incident.record_update(now, &calendar);
            Ok(overdue)
        })
        .await?;
        let (incident, overdue) = match changed {
            Change::Done(incident, overdue) => (incident, overdue),
            Change::Missing => return Err(Problem::not_found()),
            Change::Refused(()) => {
                return Err(Problem::conflict(format!("incident {id} is resolved")))
            }
        };
        let update_id = format!("{id}#{}", now.format("%Y%m%dT%H%M%S%3fZ"));
        self.store
            .create_record(
                "incident-update",
                &update_id,
                Some(&op_id),
                &json!({"incident_id": id, "at": now, "message": input.message}),
            )
            .await?;
        Ok((
            201,
            json!({"incident": incident, "update_was_overdue": overdue}),
        ))
    }

    async fn announce(&self, who: &Principal, body: &[u8], now: DateTime<Utc>) -> Reply {
        let input: MaintenanceInput = parse(body)?;
        let (announcer, calendar, recipients) = match who {
            Principal::Operator(op) => {
                let o = self.operator(op).await?;
                (Announcer::Operator(op.clone()), o.calendar(), vec![o])
            }
            Principal::Admin => {
                let all = self.store.list_operators().await?;
                (Announcer::DynamoTeam, self.team_calendar.clone(), all)
            }
        };
        let m =
            partner::announce_maintenance(announcer.clone(), input, now, &calendar, &self.policy)
                .map_err(Problem::invalid)?;
        let owner = match &announcer {
            Announcer::Operator(op) => Some(op.clone()),
            Announcer::DynamoTeam => None,
        };
        if !self
            .store
            .create_record("maintenance", &m.id, owner.as_ref(), &to_value(&m))
            .await?
        {
            return Err(Problem::conflict(format!(
                "maintenance {} starting then is already announced",
                m.id
            )));
        }
        let notes = recipients
            .iter()
            .map(|o| match &announcer {
                // An operator's notice goes to the DYNAMO team, the operator in copy.
                Announcer::Operator(_) => m.notice(
                    "announced",
                    self.team.emails.clone(),
                    o.contacts.clone(),
                    &self.team,
                    &o.id,
                ),
                // The team's notice goes to every operator.
                Announcer::DynamoTeam => m.notice(
                    "announced",
                    o.contacts.clone(),
                    self.team.emails.clone(),
                    &self.team,
                    &o.id,
                ),
            })
            .collect();
        self.record_and_enqueue(notes).await?;
        if let Some(op) = &owner {
            self.sync_windows(op, now).await?;
        }
        Ok((
            201,
            json!({"maintenance": m, "late": m.late, "lead_business_days": m.lead_business_days}),
        ))
    }

    /// The operator's announced windows are what the evaluator suppresses
    /// pages in. Only windows that can still matter are copied into the
    /// registry entry (the records keep every one, for the reports), and the
    /// entry is changed race-free: a concurrent edit by the team survives.
    async fn sync_windows(&self, op: &OperatorId, now: DateTime<Utc>) -> Result<(), Problem> {
        let records = self.store.list_records("maintenance", Some(op)).await?;
        let mut windows = Vec::new();
        for r in records {
            let m: Maintenance = from_value(r)?;
            windows.extend(
                m.suppression_window()
                    .filter(|w| w.end > now - partner::WINDOWS_KEPT),
            );
        }
        change_operator(&self.store, op, |o| o.maintenance = windows.clone())
            .await?
            .ok_or_else(Problem::not_found)?;
        Ok(())
    }

    async fn list_maintenance(&self, who: &Principal) -> Reply {
        let mut out = self.store.list_records("maintenance", None).await?;
        if let Principal::Operator(op) = who {
            // An operator sees its own windows and the DYNAMO team's.
            out.retain(|m| {
                m["announcer"]["kind"] == "dynamo_team" || m["announcer"]["operator"] == op.as_str()
            });
        }
        Ok((200, Value::Array(out)))
    }

    async fn close_maintenance(
        &self,
        who: &Principal,
        id: &str,
        action: &str,
        now: DateTime<Utc>,
    ) -> Reply {
        let mut m: Maintenance = from_value(
            self.store
                .get_record("maintenance", id)
                .await?
                .ok_or_else(Problem::not_found)?,
        )?;
        let owner = match (&m.announcer, who) {
            (Announcer::Operator(op), Principal::Operator(me)) if op == me => Some(op.clone()),
            (Announcer::DynamoTeam, Principal::Admin) => None,
            (Announcer::Operator(op), Principal::Admin) => Some(op.clone()),
            (Announcer::DynamoTeam, Principal::Operator(_)) => return Err(Problem::forbidden()),
            _ => return Err(Problem::not_found()),
        };
        let result = if action == "completion" {
            m.complete(now)
        } else {
            m.cancel(now)
        };
        result.map_err(|e| Problem::conflict(e.0))?;
        self.store
            .put_record("maintenance", id, owner.as_ref(), &to_value(&m))
            .await?;
        let event = if action == "completion" {
            "completed"
        } else {
            "cancelled"
        };
        let notes = match &owner {
            Some(op) => {
                let o = self.operator(op).await?;
                vec![m.notice(
                    event,
                    self.team.emails.clone(),
                    o.contacts.clone(),
                    &self.team,
                    op,
                )]
            }
            None => self
                .store
                .list_operators()
                .await?
                .iter()
                .map(|o| {
                    m.notice(
                        event,
                        o.contacts.clone(),
                        self.team.emails.clone(),
                        &self.team,
                        &o.id,
                    )
                })
                .collect(),
        };
        self.record_and_enqueue(notes).await?;
        if let Some(op) = &owner {
            self.sync_windows(op, now).await?;
        }
        Ok((200, to_value(&m)))
    }

    async fn outage_notice(&self, who: &Principal, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.admin(who)?;
        let notice = partner::outage_notice(parse(body)?, now).map_err(Problem::invalid)?;
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
        let notes = self
            .store
            .list_operators()
            .await?
            .iter()
            .map(|o| Notification {
                html: None,
                key: format!("{}#{}#email", notice.id, o.id),
                channel: Channel::Email,
                operator: o.id.clone(),
                incident_id: None,
                severity: Some(Severity::High),
                topic: "outage_notice".into(),
                to: o.contacts.clone(),
                cc: self.team.emails.clone(),
                from: Some(self.team.sender.clone()),
                subject: header_safe(&format!("[OUTAGE] {}: {}", notice.input.service, notice.input.description)),
                text: format!(
                    "The DYNAMO team reports an outage.\n\nService: {}\nStarted: {}\nTeam aware: {}\nSent: {}{}\n\n{}\n",
                    notice.input.service,
                    notice.input.started_at.to_rfc3339(),
                    notice.input.aware_at.to_rfc3339(),
                    notice.sent_at.to_rfc3339(),
                    if notice.within_30_minutes { "" } else { " (later than the 30 minutes the contract sets)" },
                    notice.input.description
                ),
                created_at: now,
            })
            .collect();
        self.record_and_enqueue(notes).await?;
        Ok((
            201,
            json!({"notice": notice, "late": !notice.within_30_minutes}),
        ))
    }

    async fn own_bug(&self, who: &Principal, id: &str) -> Result<Bug, Problem> {
        let bug: Bug = from_value(
            self.store
                .get_record("bug", id)
                .await?
                .ok_or_else(Problem::not_found)?,
        )?;
        match who {
            Principal::Operator(op) if &bug.operator != op => Err(Problem::not_found()),
            _ => Ok(bug),
        }
    }

    async fn report_bug(&self, who: &Principal, body: &[u8], now: DateTime<Utc>) -> Reply {
        let (op, by_team, input) = match who {
            Principal::Operator(op) => (op.clone(), false, parse::<BugInput>(body)?),
            Principal::Admin => {
                let t: TeamBugInput = parse(body)?;
                self.operator(&t.operator).await?;
                (t.operator, true, t.bug)
            }
        };
        let bug = partner::report_bug(&op, by_team, input, now).map_err(Problem::invalid)?;
        self.store
            .create_record("bug", &bug.id, Some(&op), &to_value(&bug))
            .await?;
        Ok((201, to_value(&bug)))
    }

    async fn move_bug(
        &self,
        who: &Principal,
        id: &str,
        action: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Reply {
        let mut bug = self.own_bug(who, id).await?;
        self.admin(who)?;
        let event = match action {
            "triage" => {
                let t: Triage = parse(body)?;
                bug.triage(t, now).map_err(|e| Problem::conflict(e.0))?;
                None
            }
            "schedule" => {
                let s: ScheduleInput = parse(body)?;
                bug.schedule(s.tentative_deployment, now)
                    .map_err(|e| Problem::conflict(e.0))?;
                Some("scheduled")
            }
            _ => {
                bug.deploy(now).map_err(|e| Problem::conflict(e.0))?;
                Some("deployed")
            }
        };
        self.store
            .put_record("bug", id, Some(&bug.operator), &to_value(&bug))
            .await?;
        if let Some(event) = event {
            let op = self.operator(&bug.operator).await?;
            let mut note = bug.notice(event, op.contacts.clone(), &self.team);
            if event == "scheduled" {
                // A rescheduled date is a new notice.
                note.key = format!(
                    "{}#{}",
                    note.key,
                    bug.tentative_deployment
                        .map_or(String::new(), |d| d.to_string())
                );
            }
            self.record_and_enqueue(vec![note]).await?;
        }
        Ok((200, to_value(&bug)))
    }

    async fn information_request(&self, who: &Principal, body: &[u8], now: DateTime<Utc>) -> Reply {
        let op = self.operator(self.operator_only(who)?).await?;
        let input: InformationRequestInput = parse(body)?;
        partner::registered_contact(&op, &input.contact).map_err(Problem::invalid)?;
        if input.subject.trim().is_empty() || input.subject.chars().count() > 200 {
            return Err(Problem::invalid(FieldError {
                field: "subject".into(),
                message: "1 to 200 characters".into(),
            }));
        }
        if input.question.trim().is_empty() || input.question.chars().count() > 4000 {
            return Err(Problem::invalid(FieldError {
                field: "question".into(),
                message: "1 to 4000 characters".into(),
            }));
        }
        let id = format!(
            "{}-{}-information_request",
            op.id,
            now.format("%Y%m%dT%H%M%S%3fZ")
        );
        let incident = Incident {
            id: id.clone(),
            operator: op.id.clone(),
            severity: Severity::Low,
            kind: IncidentKind::InformationRequest,
            status: IncidentStatus::Open,
            started_at: now,
            opened_at: now,
            resolved_at: None,
            summary: header_safe(&input.subject),
            initial_response_due: initial_response_due(
                Severity::Low,
                now,
                self.policy.high_initial_response,
                self.policy.low_initial_response_business_days,
                &self.team_calendar,
            ),
            acknowledged_at: None,
            last_update_at: None,
            next_update_due: None,
            version: 0,
        };
        self.store.create_incident(&incident).await?;
        self.record_and_enqueue(vec![Notification {
            html: None,
            key: format!("{id}#email"),
            channel: Channel::Email,
            operator: op.id.clone(),
            incident_id: Some(id.clone()),
            severity: Some(Severity::Low),
            topic: "information_request".into(),
            to: self.team.emails.clone(),
            cc: vec![input.contact.clone()],
            from: Some(self.team.sender.clone()),
            subject: header_safe(&format!(
                "[LOW] Information request from {}: {}",
                op.name, input.subject
            )),
            text: format!(
                "{} ({}) asks:\n\n{}\n\nContact: {}\nReference: {id}\n",
                op.name, op.id, input.question, input.contact
            ),
            created_at: now,
        }])
        .await?;
        Ok((201, to_value(&incident)))
    }

    /// The monthly SLA report: an operator's own; the team's for one operator
    /// (`?operator=`) or for all.
    async fn report(&self, who: &Principal, month: &str, filter: Option<&str>) -> Reply {
        let month: livesite_core::report::Month =
            month
                .parse()
                .map_err(|e: livesite_core::report::MonthError| {
                    Problem::invalid(FieldError {
                        field: "month".into(),
                        message: e.to_string(),
                    })
                })?;
        let wanted = match (who, filter) {
            (Principal::Operator(op), Some(f)) if f != op.as_str() => {
                return Err(Problem::not_found())
            }
            (Principal::Operator(op), _) => vec![self.operator(op).await?],
            (Principal::Admin, Some(f)) => {
                let id = OperatorId::new(f).map_err(|e| {
                    Problem::invalid(FieldError {
                        field: "operator".into(),
                        message: e.to_string(),
                    })
                })?;
                vec![self.operator(&id).await?]
            }
            (Principal::Admin, None) => self.store.list_operators().await?,
        };
        let mut reports = Vec::new();
        for op in &wanted {
            let (from, to) = month.bounds_in(op.timezone);
            let probes = self.store.range(&op.id, from, to).await?;
            let incidents = self.store.list_incidents(Some(&op.id), false).await?;
            let mut notices = Vec::new();
            for doc in self.store.list_records("maintenance", Some(&op.id)).await? {
                notices.push(from_value::<Maintenance>(doc)?);
            }
            reports.push(livesite_core::report::monthly(
                livesite_core::report::ReportInput {
                    operator: op.id.clone(),
                    month,
                    policy: &self.policy,
                    probes: &probes,
                    incidents: &incidents,
                    windows: &op.maintenance,
                    notices: &notices,
                    timezone: op.timezone,
                },
            ));
        }
        // One operator asked for (its own, or named): one report; else a list.
        if filter.is_some() || matches!(who, Principal::Operator(_)) {
            Ok((200, to_value(&reports[0])))
        } else {
            Ok((200, to_value(&reports)))
        }
    }

    async fn put_operator(&self, who: &Principal, id: &str, body: &[u8]) -> Reply {
        self.admin(who)?;
        let op: Operator = parse(body)?;
        if op.id.as_str() != id {
            return Err(Problem::invalid(FieldError {
                field: "id".into(),
                message: format!("must match the path ({id})"),
            }));
        }
        op.validate("body").map_err(|e| {
            Problem::invalid(FieldError {
                field: e.path.trim_start_matches("body.").to_string(),
                message: e.message,
            })
        })?;
        // A client id acts for one operator, and never for the team.
        for other in self.store.list_operators().await? {
            if let Some(c) = other
                .api_clients
                .iter()
                .find(|c| other.id != op.id && op.api_clients.contains(c))
            {
                return Err(Problem::conflict(format!(
                    "API client {c} already acts for operator {}",
                    other.id
                )));
            }
        }
        if let Some(c) = op
            .api_clients
            .iter()
            .find(|c| self.team_clients.contains(c))
        {
            return Err(Problem::conflict(format!(
                "API client {c} is the DYNAMO team's"
            )));
        }
        // The windows announced through /v1/maintenance stay the registry's:
        // an edit of the operator must not undo an announcement made since.
        let changed = change_operator(&self.store, &op.id, |stored| {
            let windows = std::mem::take(&mut stored.maintenance);
            *stored = op.clone();
            stored.maintenance = windows;
        })
        .await?;
        let existed = changed.is_some();
        if !existed {
            self.store.put_operator_if(&op, None).await?;
        }
        let op = changed.unwrap_or(op);
        Ok((if existed { 200 } else { 201 }, to_value(&op)))
    }
}
