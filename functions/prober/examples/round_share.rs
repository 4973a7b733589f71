//! The probe round as it runs on Lambda: 1,000 HTTPS portals that answer
//! after a known delay, probed over fresh TLS connections, with the prober in
//! a process of its own so that `bench/round-share.sh` can hold it to the
//! function's CPU share and memory while the portals run outside.
//!
//!   round_share serve DELAY_MS DIR      portals on 127.0.0.1; writes DIR/port (HTTPS),
//!                                       DIR/http_port (plain HTTP), DIR/ca.pem
//!   round_share sequential DIR N SCHEME one probe at a time, N of them, over http or
//!                                       https; prints the process CPU time per probe
//!                                       and the latencies (bench/side-by-side.py)
//!   round_share probe DIR N CONCURRENCY [SPREAD_MS]
//!                                       one round of N probes, their starts spread
//!                                       over SPREAD_MS as the probe function spreads
//!                                       them; prints one JSON line
//!
//! The latency error of a probe is what it recorded minus the portal's true
//! delay: what our own CPU queue (handshakes waiting for the CPU) adds to
//! the latency the SLA is judged on.

use futures::stream::{self, StreamExt};
use livesite_core::PortalCheck;
use livesite_prober::HttpProber;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("serve") => rt.block_on(serve(args[2].parse().expect("delay ms"), &args[3])),
        Some("probe") => rt.block_on(probe(
            &args[2],
            args[3].parse().expect("probes"),
            args[4].parse().expect("concurrency"),
            args.get(5).map_or(0, |s| s.parse().expect("spread ms")),
        )),
        Some("sequential") => rt.block_on(sequential(
            &args[2],
            args[3].parse().expect("probes"),
            &args[4],
        )),
        _ => eprintln!(
            "usage: round_share serve DELAY_MS DIR | probe DIR N CONCURRENCY [SPREAD_MS] | sequential DIR N SCHEME"
        ),
    }
}

async fn serve(delay_ms: u64, dir: &str) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Names of their own: with rcgen's default name on both, OpenSSL (curl)
    // takes the leaf for self-signed.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "livesite bench CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("cert");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    // A deep backlog: 900 connections arrive at once.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(4096).expect("listen");
    let port = listener.local_addr().expect("addr").port();
    std::fs::write(format!("{dir}/ca.pem"), ca.pem()).expect("write ca");
    let delay = Duration::from_millis(delay_ms);
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    std::fs::write(
        format!("{dir}/http_port"),
        plain.local_addr().expect("addr").port().to_string(),
    )
    .expect("write port");
    tokio::spawn(serve_plain(plain, delay));
    std::fs::write(format!("{dir}/port"), port.to_string()).expect("write port");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = tls.read(&mut buf).await;
            tokio::time::sleep(delay).await;
            let _ = tls
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nMO Direct",
                )
                .await;
            let _ = tls.shutdown().await;
        });
    }
}

/// `None` (null in the output) for no samples: at 0 s spread on a small
/// share, every timing can be untrusted.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len().saturating_sub(1))).copied()
}

/// The same portal over plain HTTP.
async fn serve_plain(listener: tokio::net::TcpListener, delay: Duration) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            tokio::time::sleep(delay).await;
            let _ = tcp
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nMO Direct",
                )
                .await;
            let _ = tcp.shutdown().await;
        });
    }
}

/// User plus system CPU time of this process, from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after ") ".
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn sequential(dir: &str, n: usize, scheme: &str) {
    let port_file = if scheme == "https" {
        "port"
    } else {
        "http_port"
    };
    let port = std::fs::read_to_string(format!("{dir}/{port_file}")).expect("port");
    let ca = CertificateDer::from_pem_file(format!("{dir}/ca.pem")).expect("ca");
    let prober = HttpProber::with_extra_roots(vec![ca])
        .expect("prober")
        .trusting(["127.0.0.0/8".parse().expect("cidr")]);
    let host = if scheme == "https" {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let mut c = PortalCheck::new(
        format!("{scheme}://{host}:{}/", port.trim())
            .parse()
            .expect("url"),
    );
    c.expect_body = Some("MO Direct".into());
    // Warm-up: the heartbeat and the resolver's first use are not per probe.
    prober.check(&c).await;
    let before = cpu_time();
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let r = prober.check(&c).await;
        assert_eq!(r.outcome, livesite_core::Outcome::Up, "{r:?}");
        latencies.push(r.phases.total_ms);
    }
    let cpu = cpu_time() - before;
    latencies.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "scheme": scheme, "probes": n,
            "cpu_ms_per_probe": cpu.as_secs_f64() * 1000.0 / n as f64,
            "latency_p50_ms": percentile(&latencies, 0.5),
            "latency_p90_ms": percentile(&latencies, 0.9),
        })
    );
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn probe(dir: &str, n: usize, concurrency: usize, spread_ms: u64) {
    let port: u16 = std::fs::read_to_string(format!("{dir}/port"))
        .expect("port")
        .trim()
        .parse()
        .expect("port");
    let delay_ms: f64 = std::env::var("DELAY_MS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(100.0);
    let ca = CertificateDer::from_pem_file(format!("{dir}/ca.pem")).expect("ca");
    let prober = HttpProber::with_extra_roots(vec![ca])
        .expect("prober")
        .trusting(["127.0.0.0/8".parse().expect("cidr")]);
    let portals: Vec<PortalCheck> = (0..n)
        .map(|i| {
            let mut c = PortalCheck::new(
                format!("https://localhost:{port}/portal/{i}")
                    .parse()
                    .expect("url"),
            );
            c.expect_body = Some("MO Direct".into());
            c.timeout = Duration::from_secs(20);
            c
        })
        .collect();
    let started = Instant::now();
    let slots = tokio::sync::Semaphore::new(concurrency.max(1));
    let (slots, prober) = (&slots, &prober);
    let checks: Vec<_> = stream::iter(portals.iter().enumerate())
        .map(|(i, p)| async move {
            // The probe function's pacing: each operator's stable place.
            let place = livesite_core::probe::spread_fraction(&format!("operator-{i}"));
            let offset = (spread_ms as f64 * place) as u64;
            tokio::time::sleep_until((started + Duration::from_millis(offset)).into()).await;
            let _slot = slots.acquire().await.expect("semaphore");
            prober.check(p).await
        })
        .buffer_unordered(n.max(1))
        .collect()
        .await;
    let wall = started.elapsed();
    let up = checks
        .iter()
        .filter(|c| c.outcome == livesite_core::Outcome::Up)
        .count();
    let mut errors: Vec<f64> = checks
        .iter()
        .map(|c| c.phases.total_ms - delay_ms)
        .collect();
    errors.sort_by(f64::total_cmp);
    // What the report would keep: timings with at most MAX_CPU_WAIT_MS of
    // the prober's own CPU wait in them.
    let bound = Duration::from_secs_f64(livesite_core::probe::MAX_CPU_WAIT_MS / 1000.0);
    let mut trusted: Vec<f64> = checks
        .iter()
        .filter(|c| c.cpu_wait <= bound)
        .map(|c| c.phases.total_ms - delay_ms)
        .collect();
    trusted.sort_by(f64::total_cmp);
    let mut waits: Vec<f64> = checks
        .iter()
        .map(|c| c.cpu_wait.as_secs_f64() * 1000.0)
        .collect();
    waits.sort_by(f64::total_cmp);
    let mut tls: Vec<f64> = checks.iter().map(|c| c.phases.tls_ms).collect();
    tls.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "probes": n, "concurrency": concurrency, "spread_ms": spread_ms, "up": up,
            "wall_s": (wall.as_secs_f64() * 1000.0).round() / 1000.0,
            "error_p50_ms": percentile(&errors, 0.5), "error_p99_ms": percentile(&errors, 0.99),
            "error_max_ms": errors.last().copied().unwrap_or(0.0),
            "cpu_wait_p99_ms": percentile(&waits, 0.99),
            "untrusted": n - trusted.len(),
            "trusted_error_p99_ms": percentile(&trusted, 0.99),
            "trusted_error_max_ms": trusted.last().copied().unwrap_or(0.0),
            "tls_p50_ms": percentile(&tls, 0.5), "tls_p99_ms": percentile(&tls, 0.99),
            "peak_rss_mb": peak_rss_kb() / 1024,
        })
    );
}
