//! `livesite console`: the partner console over the embedded store, on
//! 127.0.0.1. Each request acts as the caller its `X-Livesite-As` header
//! names (`admin` or `client:<client_id>`), else as `--as`: no sign-in runs
//! locally.

use crate::{config_file, Failure};
use anyhow::anyhow;
use http_body_util::Full;
use http_body_util::{BodyExt, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use livesite_console::{Console, Page, Request, Submission};
use livesite_core::partner::Actor;
use livesite_core::ports::OperatorRegistry;
use livesite_core::Config;
use livesite_local::SqliteStore;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The monitor configuration: team, policy, and operators to register.
    #[arg(long)]
    config: PathBuf,
    #[arg(long, default_value = "livesite.db")]
    db: PathBuf,
    #[arg(long, default_value_t = 8788)]
    port: u16,
    /// Who is looking: `admin` (the DYNAMO team) or `client:<client_id>`.
    #[arg(long = "as", default_value = "admin")]
    principal: String,
    #[command(flatten)]
    registry: crate::monitor::Registry,
}

struct Served {
    store: SqliteStore,
    config: Config,
    default: String,
}

impl Served {
    /// The actor a principal names: the team, or the operator whose API
    /// client it is (none: 403).
    async fn actor(&self, principal: &str) -> Result<Actor, String> {
        match principal.split_once(':') {
            None if principal == "admin" => Ok(Actor::Team),
            Some(("client", id)) if !id.is_empty() => {
                let operators = self
                    .store
                    .list_operators()
                    .await
                    .map_err(|e| e.to_string())?;
                operators
                    .into_iter()
                    .find(|o| o.api_clients.iter().any(|c| c == id))
                    .map(|o| Actor::Operator(o.id))
                    .ok_or_else(|| format!("client {id} acts for no registered operator"))
            }
            _ => Err(format!(
                "expected admin or client:<client_id>, got {principal:?}"
            )),
        }
    }

    async fn answer(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let principal = req
            .headers()
            .get(crate::api::CALLER_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(&self.default)
            .to_string();
        let page = match self.actor(&principal).await {
            Err(e) => Page {
                status: 403,
                html: format!(
                    "<!doctype html><title>Forbidden</title><p>{}</p>",
                    e.replace('<', "&lt;")
                ),
                location: None,
            },
            Ok(who) => self.page(req, &who).await,
        };
        let mut out = hyper::Response::builder()
            .status(page.status)
            .header("content-type", "text/html; charset=utf-8");
        if let Some(to) = &page.location {
            out = out.header("location", to);
        }
        out.body(Full::new(Bytes::from(page.html)))
            .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
    }

    async fn page(&self, req: hyper::Request<hyper::body::Incoming>, who: &Actor) -> Page {
        let console = Console {
            store: &self.store,
            policy: &self.config.policy,
            team: &self.config.team,
        };
        let now = chrono::Utc::now();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        if req.method() != hyper::Method::POST {
            return console
                .page(&Request {
                    path: &path,
                    query: &query,
                    who,
                    now,
                })
                .await;
        }
        let same_origin = same_origin(req.headers());
        // A form is a few KB at most; more is not a form of ours.
        let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return Page {
                    status: 413,
                    html: "<!doctype html><title>Too large</title>".into(),
                    location: None,
                }
            }
        };
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        console
            .submit(&Submission {
                path: &path,
                who,
                now,
                form: &form,
                same_origin,
            })
            .await
    }
}

/// Whether a form came from the console's own pages: the browser's
/// `Sec-Fetch-Site` says same-origin (or is absent, as from curl), and an
/// `Origin`, if sent, is this server's.
fn same_origin(h: &hyper::HeaderMap) -> bool {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    let site_ok = get("sec-fetch-site").is_none_or(|s| s == "same-origin" || s == "none");
    let origin_ok = match (get("origin"), get("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin == format!("http://{host}"),
        (Some(_), None) => false,
    };
    site_ok && origin_ok
}

pub async fn run(args: Args) -> Result<u8, Failure> {
    let config = config_file::load(&args.config)?;
    let store = SqliteStore::open(&args.db)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", args.db.display())))?;
    crate::monitor::seed_registry(&store, &config.operators, args.registry).await?;
    let served = Arc::new(Served {
        store,
        config,
        default: args.principal.clone(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| Failure::runtime(anyhow!("127.0.0.1:{}: {e}", args.port)))?;
    println!(
        "livesite console: http://127.0.0.1:{}/console/ as {} (Ctrl-C to stop)",
        args.port, args.principal
    );
    loop {
        let (sock, _) = tokio::select! {
            r = listener.accept() => r.map_err(Failure::runtime)?,
            _ = tokio::signal::ctrl_c() => return Ok(0),
        };
        let served = served.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let served = served.clone();
                async move { Ok::<_, std::convert::Infallible>(served.answer(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(sock), service)
                .await;
        });
    }
}
