//! One probe round over 1,000 portals on 127.0.0.1, each answering after
//! 100 ms, at the probe function's default concurrency. Prints the wall time.
//!
//! cargo bench -p livesite-prober --bench round

use futures::stream::{self, StreamExt};
use livesite_core::PortalCheck;
use livesite_prober::HttpProber;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORTALS: usize = 1000;
const CONCURRENCY: usize = 900;
const THINK: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                tokio::time::sleep(THINK).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nMO Direct")
                    .await;
            });
        }
    });
    let prober = HttpProber::new()
        .expect("prober")
        .trusting(["127.0.0.0/8".parse().expect("cidr")]);
    let portals: Vec<PortalCheck> = (0..PORTALS)
        .map(|i| {
            let mut c = PortalCheck::new(
                format!("http://127.0.0.1:{port}/portal/{i}")
                    .parse()
                    .expect("url"),
            );
            c.expect_body = Some("MO Direct".into());
            c
        })
        .collect();
    for run in 1..=3 {
        let started = Instant::now();
        let results: Vec<_> = stream::iter(&portals)
            .map(|c| prober.check(c))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let took = started.elapsed();
        let up = results.iter().filter(|r| r.reason.is_none()).count();
        let mut totals: Vec<f64> = results.iter().map(|r| r.phases.total_ms).collect();
        totals.sort_by(|a, b| a.total_cmp(b));
        println!(
            "round {run}: {PORTALS} portals ({up} up) at concurrency {CONCURRENCY}: {:.0} ms wall; per-probe total p50 {:.0} ms, max {:.0} ms",
            took.as_secs_f64() * 1000.0,
            totals[totals.len() / 2],
            totals[totals.len() - 1]
        );
    }
}
