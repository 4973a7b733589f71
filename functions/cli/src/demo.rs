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
use livesite_prober::HttpProber;
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

async fn serve_portal(listener: TcpListener, start: DateTime<Utc>, clock: Arc<AtomicI64>) {
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
            let (status, body) = if failing(now - start) {
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

pub async fn run(pace_ms: u64) -> Result<u8, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(Failure::runtime)?;
    let port = listener.local_addr().map_err(Failure::runtime)?.port();
    let start =
        DateTime::from_timestamp(Utc::now().timestamp() / 60 * 60, 0).unwrap_or_else(Utc::now);
    let clock = Arc::new(AtomicI64::new(start.timestamp_millis()));
    let server = tokio::spawn(serve_portal(listener, start, clock.clone()));

    let config = config_file::parse(&CONFIG.replace("PORT", &port.to_string()), "demo config")?;
    let store = SqliteStore::in_memory().map_err(Failure::runtime)?;
    let prober = HttpProber::new()
        .map_err(Failure::runtime)?
        .trusting(config.prober.trusted.iter().copied());
    let mut monitor = LocalMonitor::new(config, store, prober, ConsoleNotifier::default()).await?;
    println!(
        "livesite demo: a simulated MO Direct portal on 127.0.0.1:{port} fails from minute {FAIL_FROM_MIN} for {FAIL_FOR_MIN} minutes.\n\
         The monitor probes it twice per simulated minute; High opens after more than 30 minutes down.\n"
    );
    let (mut pages, mut opened, mut resolved) = (0, 0, 0);
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
                Event::IncidentResolved { .. } => resolved += 1,
                _ => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(pace_ms)).await;
    }
    server.abort();
    let sent = monitor.store.outbox_entries().map_err(Failure::runtime)?;
    let undelivered = sent.iter().filter(|e| e.sent_at.is_none()).count();
    println!(
        "\nlivesite demo: {opened} High incident opened, {pages} page(s), {resolved} resolved; {} notification(s) delivered, {undelivered} pending.",
        sent.len() - undelivered
    );
    if opened == 1 && resolved == 1 && undelivered == 0 {
        Ok(0)
    } else {
        Err(Failure {
            code: 1,
            error: anyhow!("the demo did not unfold as expected: one page and one resolution"),
        })
    }
}
