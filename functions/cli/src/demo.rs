//! `livesite demo`: the whole story in under a minute. A simulated MO Direct
//! portal on 127.0.0.1 fails for 35 simulated minutes and recovers; the real
//! monitor (prober, evaluator, SQLite store, outbox) watches it on a clock
//! that advances 30 s per round.

use crate::monitor::LocalMonitor;
use crate::{config_file, Failure};
use anyhow::anyhow;
use chrono::{DateTime, Duration, Utc};
use livesite_core::evaluate::Event;
use livesite_core::Severity;
use livesite_local::{ConsoleNotifier, SqliteStore};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const FAIL_FROM_MIN: i64 = 5;
const FAIL_FOR_MIN: i64 = 35;
const ROUNDS: i64 = 2 * 50;

/// The portal's behaviour at simulated minute `m`: failing from minute 5 to 40.
fn failing(elapsed: Duration) -> bool {
    elapsed >= Duration::minutes(FAIL_FROM_MIN)
        && elapsed < Duration::minutes(FAIL_FROM_MIN + FAIL_FOR_MIN)
}

/// Which story the demo tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The portal fails for 35 minutes: one page, one resolution.
    Outage,
    /// Three locations probe it; the path from one of them fails for 35
    /// minutes while the portal is fine: nobody is paged, the team gets one
    /// Low location-health incident.
    Path,
}

/// Serves the simulated portal on `listener`; `fails` says whether it fails
/// through this listener (its address) at all during the failing minutes.
async fn serve_portal(
    listener: TcpListener,
    start: DateTime<Utc>,
    clock: Arc<AtomicI64>,
    fails: bool,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let clock = clock.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let _ = sock.read(&mut buf).await;
            let now =
                DateTime::from_timestamp_millis(clock.load(Ordering::SeqCst)).unwrap_or(start);
            let (status, body) = if fails && failing(now - start) {
                (
                    "503 Service Unavailable",
                    "upstream charging system unavailable",
                )
            } else {
                (
                    "200 OK",
                    "<html><title>MO Direct</title>Choose your data plan</html>",
                )
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(response.as_bytes()).await;
        });
    }
}

const CONFIG: &str = r#"
# The simulated portal runs on this machine: a network probes may reach.
[prober]
trusted = ["127.0.0.1"]

[team]
sender = "livesite@dynamo.example"
emails = ["osoc@dynamo.example"]

[[operator]]
id = "demo-mobile"
name = "Demo Mobile"
contacts = ["noc@demo-mobile.example"]
timezone = "Europe/Madrid"
[operator.portal]
url = "http://127.0.0.1:PORT/modirect"
expect_body = "Choose your data plan"
timeout = "2s"
"#;

/// The path scenario: three locations, the third reaching the portal through
/// 127.0.0.2, where it fails.
const PATHS: &str = r#"
[prober]
trusted = ["127.0.0.0/8"]

[policy.locations]
expected = ["eu-west-1", "us-east-1", "agent-1"]

[[location]]
name = "eu-west-1"
resolve = { "portal.demo" = ["127.0.0.1"] }

[[location]]
name = "us-east-1"
resolve = { "portal.demo" = ["127.0.0.1"] }

[[location]]
name = "agent-1"
resolve = { "portal.demo" = ["127.0.0.2"] }
"#;

/// The simulated portals the scenario needs, and the configuration that
/// monitors them.
async fn portals(
    scenario: Scenario,
    start: DateTime<Utc>,
    clock: &Arc<AtomicI64>,
) -> Result<(Vec<tokio::task::JoinHandle<()>>, String, u16), Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(Failure::runtime)?;
    let port = listener.local_addr().map_err(Failure::runtime)?.port();
    let mut servers = vec![tokio::spawn(serve_portal(
        listener,
        start,
        clock.clone(),
        scenario == Scenario::Outage,
    ))];
    let text = match scenario {
        Scenario::Outage => CONFIG.replace("PORT", &port.to_string()),
        Scenario::Path => {
            let second = TcpListener::bind(("127.0.0.2", port))
                .await
                .map_err(Failure::runtime)?;
            servers.push(tokio::spawn(serve_portal(
                second,
                start,
                clock.clone(),
                true,
            )));
            let paths = CONFIG
                .replace("127.0.0.1:PORT", &format!("portal.demo:{port}"))
                .replace("[prober]\ntrusted = [\"127.0.0.1\"]\n", "");
            format!("{PATHS}{paths}")
        }
    };
    Ok((servers, text, port))
}

/// The demo's store: in memory, or a new file kept afterwards with the
/// configuration beside it (`PATH.toml`) for `livesite console`.
fn store(db: Option<&std::path::Path>, config: &str) -> Result<SqliteStore, Failure> {
    let Some(path) = db else {
        return SqliteStore::in_memory().map_err(Failure::runtime);
    };
    if path.exists() {
        return Err(Failure::input(anyhow!(
            "{}: exists; the demo records into a new file",
            path.display()
        )));
    }
    let beside = kept_config(path);
    std::fs::write(&beside, config)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", beside.display())))?;
    SqliteStore::open(path).map_err(|e| Failure::runtime(anyhow!("{}: {e}", path.display())))
}

fn kept_config(db: &std::path::Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".toml");
    name.into()
}

pub async fn run(
    pace_ms: u64,
    scenario: Scenario,
    db: Option<&std::path::Path>,
) -> Result<u8, Failure> {
    let start =
        DateTime::from_timestamp(Utc::now().timestamp() / 60 * 60, 0).unwrap_or_else(Utc::now);
    let clock = Arc::new(AtomicI64::new(start.timestamp_millis()));
    let (servers, text, port) = portals(scenario, start, &clock).await?;
    let config = config_file::parse(&text, "demo config")?;
    let store = store(db, &text)?;
    let probers = crate::monitor::probers(&config, vec![])?;
    let mut monitor = LocalMonitor::new(
        config,
        store,
        probers,
        ConsoleNotifier::default(),
        crate::monitor::Registry::default(),
    )
    .await?;
    println!(
        "{}",
        match scenario {
            Scenario::Outage => format!(
                "livesite demo: a simulated MO Direct portal on 127.0.0.1:{port} fails from minute {FAIL_FROM_MIN} for {FAIL_FOR_MIN} minutes.\n\
                 The monitor probes it twice per simulated minute; High opens after more than 30 minutes down.\n"
            ),
            Scenario::Path => format!(
                "livesite demo: three locations probe a healthy MO Direct portal; from minute {FAIL_FROM_MIN}, for {FAIL_FOR_MIN} minutes,\n\
                 the path from agent-1 fails. The quorum sees the portal up: nobody is paged; the team hears of agent-1's path.\n"
            ),
        }
    );
    let (mut pages, mut opened, mut resolved, mut paths) = (0, 0, 0, 0);
    for round in 0..ROUNDS {
        let at = start + Duration::seconds(30 * round);
        clock.store(at.timestamp_millis(), Ordering::SeqCst);
        let (_, events) = monitor.round(at).await?;
        for e in &events {
            match e {
                Event::IncidentOpened { incident, .. } if incident.severity == Severity::High => {
                    opened += 1;
                    pages += 1;
                }
                Event::IncidentOpened { incident, .. }
                    if incident.kind == livesite_core::IncidentKind::LocationPath =>
                {
                    paths += 1
                }
                Event::IncidentResolved { .. } => resolved += 1,
                _ => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(pace_ms)).await;
    }
    for server in servers {
        server.abort();
    }
    let sent = monitor.store.outbox_entries().map_err(Failure::runtime)?;
    let undelivered = sent.iter().filter(|e| e.sent_at.is_none()).count();
    println!(
        "\nlivesite demo: {opened} High incident opened, {pages} page(s), {resolved} resolved; {} notification(s) delivered, {undelivered} pending.",
        sent.len() - undelivered
    );
    if let Some(path) = db {
        println!(
            "livesite demo: recorded in {db}; browse it: livesite console --config {config} --db {db}",
            db = path.display(),
            config = kept_config(path).display()
        );
    }
    let expected = match scenario {
        Scenario::Outage => opened == 1 && resolved == 1,
        Scenario::Path => opened == 0 && paths == 1 && resolved == 1,
    };
    if expected && undelivered == 0 {
        Ok(0)
    } else {
        Err(Failure {
            code: 1,
            error: anyhow!("the demo did not unfold as expected ({scenario:?}): {opened} opened, {paths} path incidents, {resolved} resolved"),
        })
    }
}
