//! `livesite api`: the partner API over the embedded store, to rehearse the
//! whole workflow locally. `call` sends one request through the same handler
//! the Lambda runs; `serve` answers HTTP on 127.0.0.1 (for curl or
//! schemathesis), acting as the principal given by `--as`, since no JWT
//! authorizer runs locally.

use crate::{config_file, Failure};
use anyhow::anyhow;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use livesite_api_fn::{Api, ApiRequest, Claims, MAX_BODY_BYTES};
use livesite_core::raise::{RaiseInput, RaisedKind};
use livesite_local::{ConsoleNotifier, SqliteStore};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Send one request through the API handler and print the answer.
    Call {
        method: String,
        path: String,
        /// The JSON body, or @FILE.
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Print the answer's headers too (Location, Link, Retry-After,
        /// Idempotent-Replayed), as `curl -i` does.
        #[arg(short = 'i', long = "include")]
        include: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Raise a Low incident against an operator, as the DYNAMO team
    /// (`POST /v1/incidents`): the operator owes the answer.
    Raise {
        #[arg(long, value_parser = |s: &str| livesite_core::OperatorId::new(s).map_err(|e| e.to_string()))]
        operator: livesite_core::OperatorId,
        #[arg(long, value_enum)]
        kind: Kind,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        text: String,
        /// An attachment, as an https link (repeat for more).
        #[arg(long = "link")]
        links: Vec<url::Url>,
        #[command(flatten)]
        common: Common,
    },
    /// Serve the API on 127.0.0.1.
    Serve {
        #[arg(long, default_value_t = 8787)]
        port: u16,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    ReportingFailure,
    InformationRequest,
}

#[derive(clap::Args)]
pub struct Common {
    /// The monitor configuration: team, policy, and operators to register.
    #[arg(long)]
    config: PathBuf,
    #[arg(long, default_value = "livesite.db")]
    db: PathBuf,
    /// Who is calling: `admin` (the DYNAMO team) or `client:<client_id>` (an
    /// operator's API client). `serve` takes a request's `X-Livesite-As`
    /// header instead when it has one, so one server rehearses both sides.
    #[arg(long = "as", default_value = "admin")]
    principal: String,
    #[command(flatten)]
    registry: crate::monitor::Registry,
}

/// The header naming the caller of one request to `livesite api serve`
/// (what a verified token would say on AWS; this server is local only).
pub const CALLER_HEADER: &str = "x-livesite-as";

/// The claims a verified token of `--as` would carry.
fn claims(principal: &str) -> Result<Claims, Failure> {
    match principal.split_once(':') {
        None if principal == "admin" => Ok((
            vec![livesite_api_fn::ADMIN_SCOPE.to_string()],
            Some("local-admin".to_string()),
        )),
        Some(("client", id)) if !id.is_empty() => {
            Ok((vec!["livesite/partner".to_string()], Some(id.to_string())))
        }
        _ => Err(Failure::input(anyhow!(
            "--as: expected `admin` or `client:<client_id>`, got {principal:?}"
        ))),
    }
}

async fn build(common: &Common) -> Result<Api<SqliteStore, ConsoleNotifier>, Failure> {
    let config = config_file::load(&common.config)?;
    let store = SqliteStore::open(&common.db)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", common.db.display())))?;
    crate::monitor::seed_registry(&store, &config.operators, common.registry).await?;
    Ok(Api {
        store,
        notifier: ConsoleNotifier::default(),
        policy: config.policy,
        team: config.team,
        local_claims: None,
        // `--as admin` acts as this client.
        team_clients: vec!["local-admin".into()],
    })
}

/// A request for the API, as `livesite api` sends it.
fn request(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    claims: &Claims,
) -> ApiRequest {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    ApiRequest {
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        content_type: header("content-type"),
        idempotency_key: header("idempotency-key"),
        body,
        claims: Some(claims.clone()),
        base_url: None,
    }
}

fn body_text(b: &lambda_http::Body) -> String {
    match b {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

pub async fn run(cmd: Command) -> Result<u8, Failure> {
    match cmd {
        Command::Call {
            method,
            path,
            body,
            idempotency_key,
            include,
            common,
        } => {
            let body = match body {
                Some(b) if b.starts_with('@') => Some(
                    std::fs::read_to_string(Path::new(&b[1..]))
                        .map_err(|e| Failure::input(anyhow!("{}: {e}", &b[1..])))?,
                ),
                other => other,
            };
            send(&common, &method, &path, body, idempotency_key, include).await
        }
        Command::Raise {
            operator,
            kind,
            subject,
            text,
            links,
            common,
        } => {
            let kind = match kind {
                Kind::ReportingFailure => RaisedKind::ReportingFailure,
                Kind::InformationRequest => RaisedKind::InformationRequest,
            };
            let input = RaiseInput {
                operator,
                kind,
                subject,
                text,
                links,
            };
            let body = serde_json::to_string(&input).map_err(Failure::runtime)?;
            send(&common, "POST", "/v1/incidents", Some(body), None, false).await
        }
        Command::Serve { port, common } => {
            let claims = Arc::new(claims(&common.principal)?);
            let api = Arc::new(build(&common).await?);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| Failure::runtime(anyhow!("127.0.0.1:{port}: {e}")))?;
            println!(
                "livesite api: serving http://127.0.0.1:{port}/v1 as {} unless a request names its caller in {CALLER_HEADER} (Ctrl-C to stop)",
                common.principal
            );
            loop {
                let (sock, _) = tokio::select! {
                    r = listener.accept() => r.map_err(Failure::runtime)?,
                    _ = tokio::signal::ctrl_c() => return Ok(0),
                };
                let (api, claims) = (api.clone(), claims.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (api, claims) = (api.clone(), claims.clone());
                            async move {
                                Ok::<_, std::convert::Infallible>(answer(&api, &claims, req).await)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(sock), service)
                        .await;
                });
            }
        }
    }
}

/// Sends one request through the handler and prints the answer; exit 0 on 2xx.
async fn send(
    common: &Common,
    method: &str,
    path: &str,
    body: Option<String>,
    idempotency_key: Option<String>,
    include: bool,
) -> Result<u8, Failure> {
    let claims = claims(&common.principal)?;
    let api = build(common).await?;
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(k) = idempotency_key {
        headers.push(("idempotency-key".into(), k));
    }
    let req = request(
        method,
        path,
        &headers,
        body.map(String::into_bytes).unwrap_or_default(),
        &claims,
    );
    let resp = api.call(req, chrono::Utc::now()).await;
    let status = resp.status().as_u16();
    let text = body_text(resp.body());
    let pretty = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    println!("HTTP {status}");
    if include {
        for (name, value) in resp.headers() {
            println!("{name}: {}", value.to_str().unwrap_or("(not text)"));
        }
        println!();
    }
    println!("{pretty}");
    Ok(if (200..300).contains(&status) { 0 } else { 1 })
}

async fn answer(
    api: &Api<SqliteStore, ConsoleNotifier>,
    claims: &Claims,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let reply = |status: u16, ct: &str, body: String| {
        hyper::Response::builder()
            .status(status)
            .header("content-type", ct)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
    };
    // One byte over the cap lets the handler answer 413 itself.
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES + 1)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let p = json!({"type": "about:blank", "title": "Content Too Large", "status": 413, "detail": format!("bodies are capped at {MAX_BODY_BYTES} bytes"), "errors": []});
            return reply(413, "application/problem+json", p.to_string());
        }
    };
    let caller = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(CALLER_HEADER))
        .map(|(_, v)| self::claims(v));
    let claims = match caller {
        None => claims.clone(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            let p = json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": format!("{CALLER_HEADER}: {}", e.error), "errors": []});
            return reply(400, "application/problem+json", p.to_string());
        }
    };
    let request = request(&method, &path, &headers, body.to_vec(), &claims);
    let resp = api.call(request, chrono::Utc::now()).await;
    let mut out = hyper::Response::new(Full::new(Bytes::from(body_text(resp.body()))));
    *out.status_mut() = resp.status();
    for (k, v) in resp.headers() {
        out.headers_mut().insert(k.clone(), v.clone());
    }
    out
}
