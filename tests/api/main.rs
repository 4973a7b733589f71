//! The partner API handler with crafted API Gateway requests (claims included),
//! over the embedded store and a recording notifier: every resource, the
//! authorization matrix, validation errors, idempotent retries, and the
//! deadline and lead-time edges.

use chrono::{DateTime, Duration, Utc};
use lambda_http::{Body, Response};
use livesite_api_fn::Api;
use livesite_core::ports::{IncidentStore, OperatorRegistry};
use livesite_core::service::evaluate_batch;
use livesite_core::{BusinessCalendar, Policy};
use livesite_local::SqliteStore;
use livesite_tests::contract::context;
use livesite_tests::fixtures::{failures, operator, team};
use livesite_tests::gateway::{admin, client, Call, Format};
use livesite_tests::wrappers::Recorder;
use serde_json::{json, Value};

mod bugs;
mod edge;
mod incidents;
mod maintenance;
mod matrix;
mod messages;
mod notices;
mod paging;
mod registry;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// Friday 27 November 2026, 10:00 UTC (11:00 in Madrid).
fn now() -> DateTime<Utc> {
    utc("2026-11-27T10:00:00Z")
}

async fn api() -> Api<SqliteStore, Recorder> {
    let store = SqliteStore::in_memory().expect("store");
    let mut contoso = operator("contoso");
    contoso.api_clients = vec!["client-contoso".into()];
    contoso.agents = vec!["agent-contoso-1".into()];
    contoso.timezone = livesite_core::Tz::Europe__Madrid;
    contoso.holidays = ["2026-12-08".parse().expect("date")].into_iter().collect();
    let mut fabrikam = operator("fabrikam");
    fabrikam.api_clients = vec!["client-fabrikam".into()];
    store.put_operator(&contoso).await.expect("register");
    store.put_operator(&fabrikam).await.expect("register");
    Api {
        store,
        notifier: Recorder::default(),
        policy: Policy::default(),
        team: team(),
        local_claims: None,
        team_clients: vec!["dynamo-team".into()],
    }
}

struct Answer {
    status: u16,
    content_type: String,
    replayed: bool,
    body: Value,
}

fn answer(r: Response<Body>) -> Answer {
    let status = r.status().as_u16();
    let header = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let content_type = header("content-type");
    let replayed = header("idempotent-replayed") == "true";
    let body = match r.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Answer {
        status,
        content_type,
        replayed,
        body,
    }
}

async fn call(api: &Api<SqliteStore, Recorder>, c: Call<'_>, at: DateTime<Utc>) -> Answer {
    answer(api.handle(c.request(), at).await)
}

fn high_report(aware: &str) -> Value {
    json!({
        "service": "core_network_services", "severity": "high",
        "started_at": "2026-11-27T09:20:00Z", "aware_at": aware,
        "description": "PGW outage in the north region", "impact": "no data sessions",
        "contact": "noc@contoso.example"
    })
}

fn window(start: &str, hours: i64) -> Value {
    json!({"start": start, "end": (utc(start) + Duration::hours(hours)).to_rfc3339(), "description": "core upgrade", "services": ["core_network_services"]})
}

/// One result of contoso's agent.
fn pushed() -> Value {
    json!({"results": [{"operator": "contoso", "probed_at": "2026-11-27T09:59:30Z", "outcome": "up",
        "status": 200, "latency_ms": 80.0, "location": "agent-contoso-1"}]})
}

/// A Low incident the team raises against `operator`.
fn raised(operator: &str) -> Value {
    json!({"operator": operator, "kind": "reporting_failure", "subject": "October report missing",
           "text": "The monthly report did not arrive.", "links": ["https://share.dynamo.example/r/10"]})
}
