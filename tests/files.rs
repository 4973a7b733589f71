//! Lambda's 1,024 open files, held by the probe round. Loopback and moto
//! have no such limit, so this test binary (its own process) lowers its
//! soft `RLIMIT_NOFILE` to 1,024, the quota a Lambda function runs under,
//! and runs the probe function's real round over 1,000 portals whose names
//! each resolve to 8 addresses, all started at once, at the template's
//! concurrency. The portals are served by another process (a listener's
//! accepted sockets would otherwise count against the same limit).
//!
//! With the socket budget the function gives the prober
//! (`livesite_probe_fn::extra_sockets`) every portal is probed and stored
//! and no probe fails for want of a descriptor. The negative control gives
//! the prober sockets for every address: the same round then runs out of
//! descriptors, which is what the budget is for.

use futures::stream::{self, StreamExt};
use livesite_core::ports::OperatorRegistry;
use livesite_core::PortalCheck;
use livesite_probe_fn::{extra_sockets, Pacing, ProbeFunction, DEFAULT_CONCURRENCY};
use livesite_tests::emulator::{lambda_event, Stack};
use livesite_tests::fixtures::{operator, t0};
use livesite_tests::portal::local_prober;
use livesite_tests::template::invocation_deadline;
use serde_json::{json, Value};
use std::io::BufRead;
use std::net::IpAddr;

const PORTALS: usize = 1000;
const ADDRESSES: u8 = 8;

/// The soft limit a Lambda function runs under.
fn hold_to_lambdas_open_files() {
    let limit = livesite_probe_fn::LAMBDA_FILE_DESCRIPTORS as libc::rlim_t;
    // SAFETY: plain system calls on a struct we own.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        r.rlim_cur = limit.min(r.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
    }
}

/// Portals in a child process: every connection, on any loopback address,
/// answers 200 "MO Direct" after 200 ms, so a round's probes overlap.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVER: &str = r#"
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def portal(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.2)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nMO Direct")
        await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(portal, "0.0.0.0", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"#;

fn serve() -> Server {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let mut child = std::process::Command::new(python)
        .args(["-c", SERVER])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the portal server (tests/setup-venv.sh makes .venv)");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server's port");
    let port = line.trim().parse().expect("a port");
    Server { child, port }
}

fn schedule_event() -> Value {
    json!({"version": "0", "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
}

/// One round at the template's concurrency, every start at once, with the
/// given number of sockets for names' further addresses. Returns the
/// round's summary and the stored results' failure details.
async fn round(
    stack: &Stack,
    at: chrono::DateTime<chrono::Utc>,
    extra: usize,
) -> (Value, Vec<String>) {
    let addresses: Vec<IpAddr> = (1..=ADDRESSES)
        .map(|i| IpAddr::from([127, 0, 0, i]))
        .collect();
    let mut prober = local_prober().with_extra_sockets(extra);
    for i in 0..PORTALS {
        prober = prober.resolving(&format!("p{i}.test"), addresses.clone());
    }
    let f = ProbeFunction {
        location: None,
        store: stack.store(),
        prober,
        second_round: None,
        concurrency: DEFAULT_CONCURRENCY,
        pacing: Pacing::fixed(std::time::Duration::ZERO),
    };
    let out = f
        .handle(&schedule_event(), at, invocation_deadline("ProbeFunction"))
        .await
        .unwrap_or_else(|e| json!({"error": e.to_string()}));
    // What the round stored, read back from the table's stream.
    let records = stack.stream_records(None).await;
    let failures = lambda_event(&records, &stack.stream_arn)
        .records
        .iter()
        .filter_map(|r| livesite_evaluate_fn::probe_of(r).ok())
        .filter(|p| p.probed_at == at && !p.is_up())
        .map(|p| {
            let mut why = p.detail.clone().unwrap_or_default();
            for a in &p.addresses {
                why.push_str(&format!(" | {a:?}"));
            }
            why
        })
        .collect();
    (out, failures)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_of_a_thousand_portals_with_eight_addresses_fits_lambdas_open_files() {
    let server = serve();
    let stack = Stack::new("files").await;
    stream::iter(0..PORTALS)
        .map(|i| {
            let store = stack.store();
            let port = server.port;
            async move {
                let mut op = operator(&format!("p{i}"));
                op.portal = PortalCheck::new(
                    format!("http://p{i}.test:{port}/modirect")
                        .parse()
                        .expect("url"),
                );
                op.portal.expect_body = Some("MO Direct".into());
                store.put_operator(&op).await.expect("register");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    hold_to_lambdas_open_files();

    let budget = extra_sockets(DEFAULT_CONCURRENCY);
    let (out, failures) = round(&stack, t0(), budget).await;
    assert_eq!(
        (&out["written"], &out["lost"], &out["not_run"]),
        (&json!(PORTALS), &json!(0), &json!(0)),
        "{out}"
    );
    assert!(
        failures.is_empty(),
        "{} of {PORTALS} probes failed within the open-files quota, e.g. {:?}",
        failures.len(),
        failures.first()
    );

    // The negative control: sockets for every address of every name.
    let every = PORTALS * usize::from(ADDRESSES);
    let (out, failures) = round(&stack, t0() + chrono::Duration::minutes(1), every).await;
    let said = format!("{out} {}", failures.join(" "));
    println!(
        "unbounded: {out}; {} of {PORTALS} stored results failed, {} naming os error 24",
        failures.len(),
        failures
            .iter()
            .filter(|f| f.contains("os error 24"))
            .count()
    );
    assert!(
        said.contains("Too many open files") || said.contains("os error 24"),
        "without the budget the round should run out of descriptors: {out}, {} failures",
        failures.len()
    );
    drop(server);
}
