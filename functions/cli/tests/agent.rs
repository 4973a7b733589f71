//! The agent against a token endpoint and an API that expire and revoke
//! tokens, and across a restart with its backlog on disk.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use livesite_agent::{Agent, AgentConfig, TokenSource};
use livesite_tests::portal::{self, Behavior};
use std::sync::{Arc, Mutex};

/// The fake Cognito and partner API: tokens `t1`, `t2`… each valid until the
/// next is issued or the API is told to revoke it; results counted.
#[derive(Default)]
struct Server {
    issued: usize,
    valid: Option<String>,
    down: bool,
    taken: usize,
    unauthorized: usize,
}

async fn answer(
    state: Arc<Mutex<Server>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut s = state.lock().expect("lock");
    let (status, text) = match path.as_str() {
        "/oauth2/token" if auth.starts_with("Basic ") => {
            s.issued += 1;
            let token = format!("t{}", s.issued);
            s.valid = Some(token.clone());
            (
                200,
                format!(
                    "{{\"access_token\":\"{token}\",\"expires_in\":120,\"token_type\":\"Bearer\"}}"
                ),
            )
        }
        _ if s.down => (503, String::new()),
        "/v1/probe-results" if Some(auth.trim_start_matches("Bearer ")) == s.valid.as_deref() => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            s.taken += v["results"].as_array().map_or(0, Vec::len);
            (202, "{}".into())
        }
        "/v1/probe-results" => {
            s.unauthorized += 1;
            (401, String::new())
        }
        _ => (404, String::new()),
    };
    let mut r = hyper::Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    r
}

async fn serve(state: Arc<Mutex<Server>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(state, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), service)
                    .await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_renews_its_token_and_keeps_its_backlog_across_a_restart() {
    let portal = portal::spawn(Behavior::Respond {
        status: 200,
        body: "MO Direct".into(),
    })
    .await;
    let state = Arc::new(Mutex::new(Server::default()));
    let port = serve(state.clone()).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = AgentConfig {
        api: format!("http://127.0.0.1:{port}/").parse().expect("url"),
        operator: livesite_core::OperatorId::new("contoso").expect("id"),
        location: "agent-contoso-1".into(),
        portal: livesite_core::PortalCheck::new(portal.http_url("/").parse().expect("url")),
        trusted: vec!["127.0.0.0/8".parse().expect("cidr")],
        token_env: None,
        token_url: Some(
            format!("http://127.0.0.1:{port}/oauth2/token")
                .parse()
                .expect("url"),
        ),
        client_id: Some("client-contoso".into()),
        client_secret_env: None,
        backlog_limit: 100,
        backlog_file: Some(dir.path().join("backlog.jsonl")),
    };
    let token_url = config.token_url.clone().expect("url");
    let source = || TokenSource::ClientCredentials {
        url: token_url.clone(),
        client_id: "client-contoso".into(),
        secret: "s3cret".into(),
        scope: "livesite/partner".into(),
    };
    let start: chrono::DateTime<chrono::Utc> = "2026-11-27T10:00:00Z".parse().expect("t");
    let at = |r: i64| start + chrono::Duration::seconds(30 * r);
    let mut agent = Agent::new(config.clone(), source()).expect("agent");
    // A 120 s token is renewed a minute early: rounds 0-1 on t1, round 2 on t2.
    for r in 0..3 {
        let round = agent.round(at(r)).await;
        assert_eq!((round.sent, round.error), (1, None), "round {r}");
    }
    assert_eq!(agent.tokens_fetched(), 2, "renewed before it expired");
    // Revoked early: the API answers 401, the agent fetches t3 and resends.
    state.lock().expect("lock").valid = None;
    let round = agent.round(at(3)).await;
    assert_eq!((round.sent, round.error), (1, None));
    assert_eq!(
        (
            agent.tokens_fetched(),
            state.lock().expect("lock").unauthorized
        ),
        (3, 1)
    );

    // The API goes down for three rounds; the agent restarts meanwhile.
    state.lock().expect("lock").down = true;
    for r in 4..7 {
        assert!(agent.round(at(r)).await.error.is_some());
    }
    drop(agent);
    let mut restarted = Agent::new(config, source()).expect("agent");
    assert_eq!(restarted.backlog(), 3, "the backlog came back from disk");
    state.lock().expect("lock").down = false;
    let round = restarted.round(at(7)).await;
    assert_eq!(
        (round.sent, round.backlog),
        (4, 0),
        "three kept and the new one"
    );
    assert_eq!(state.lock().expect("lock").taken, 4 + 4);
}
