//! The partner API's handler time, per request, over the embedded store
//! (SQLite in memory), as API Gateway's request reaches it: a listing, a
//! read of one record, and a write (an outage report: an incident, a record
//! and two notifications). Median and p90 of 500 calls each.
//!
//!   cargo bench -p livesite-tests --bench api_handler

use chrono::{DateTime, Duration, Utc};
use livesite_api_fn::Api;
use livesite_core::ports::OperatorRegistry;
use livesite_core::Policy;
use livesite_local::SqliteStore;
use livesite_tests::fixtures::{operator, team};
use livesite_tests::gateway::{admin, client, Call};
use livesite_tests::wrappers::Recorder;
use serde_json::json;
use std::time::Instant;

async fn api() -> Api<SqliteStore, Recorder> {
    let store = SqliteStore::in_memory().expect("store");
    for i in 0..20 {
        let mut op = operator(&format!("op{i:02}"));
        op.api_clients = vec![format!("client-{i:02}")];
        store.put_operator(&op).await.expect("register");
    }
    Api {
        store,
        notifier: Recorder::default(),
        policy: Policy::default(),
        team: team(),
        local_claims: None,
        team_clients: vec!["dynamo-team".into()],
    }
}

fn report(i: usize) -> serde_json::Value {
    json!({
        "service": "core_network_services", "severity": "low",
        "started_at": "2026-11-27T09:20:00Z", "aware_at": "2026-11-27T09:25:00Z",
        "description": format!("degraded data sessions {i}"), "impact": "slow",
        "contact": "noc@op00.example"
    })
}

async fn time<F, Fut>(name: &str, n: usize, mut f: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let mut us = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let status = f(i).await;
        us.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(status < 300, "{name}: {status}");
    }
    us.sort_by(f64::total_cmp);
    println!(
        "{name}: median {:.0} µs, p90 {:.0} µs ({n} calls)",
        us[n / 2],
        us[n * 9 / 10]
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let api = api().await;
    let now: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().expect("time");
    let n = 500;
    time("POST /v1/outage-reports (operator)", n, |i| {
        let c = Call::new("POST", "/v1/outage-reports")
            .claims(client("client-00"))
            .json(report(i));
        let at = now + Duration::seconds(i as i64);
        let api = &api;
        async move { api.handle(c.request(), at).await.status().as_u16() }
    })
    .await;
    time(
        "GET /v1/incidents (team, 500 incidents, first page)",
        n,
        |_| {
            let c = Call::new("GET", "/v1/incidents").claims(admin());
            let api = &api;
            async move { api.handle(c.request(), now).await.status().as_u16() }
        },
    )
    .await;
    time("GET /v1/operators/op07 (team)", n, |_| {
        let c = Call::new("GET", "/v1/operators/op07").claims(admin());
        let api = &api;
        async move { api.handle(c.request(), now).await.status().as_u16() }
    })
    .await;
}
