//! The `livesite` binary as a user runs it: exit codes, output formats and
//! error messages, against real portals on 127.0.0.1.

use livesite_tests::portal::{self, Behavior};
use serde_json::Value;
use std::io::Write;
use std::process::Command;

mod common;
use common::{livesite, livesite_async, stderr, stdout, CONFIG};

#[tokio::test(flavor = "multi_thread")]
async fn check_json_reports_up_with_phases_and_sla() {
    let p = portal::spawn(Behavior::Respond {
        status: 200,
        body: "Choose your data plan".into(),
    })
    .await;
    let out = livesite_async(vec![
        "check".into(),
        "--trust-net".into(),
        "127.0.0.0/8".into(),
        p.http_url("/modirect"),
        "--expect-body".into(),
        "data plan".into(),
        "--json".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(v["outcome"], "up");
    assert_eq!(v["reason"], Value::Null);
    assert_eq!(v["status"], 200);
    assert_eq!(v["within_latency_sla"], true);
    for phase in ["dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms"] {
        assert!(v["phases"][phase].is_number(), "{phase} in {v}");
    }
    assert_eq!(v["latency_ms"], v["phases"]["total_ms"]);
}

/// A portal's address is untrusted input: without `--trust-net`, a probe of
/// this machine is refused before any connection (the same rule keeps the
/// Lambdas off 127.0.0.1 and 169.254.169.254).
#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_a_local_address_unless_its_network_is_trusted() {
    let p = portal::spawn(Behavior::Respond {
        status: 200,
        body: "ok".into(),
    })
    .await;
    let out = livesite_async(vec!["check".into(), p.http_url("/"), "--json".into()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["reason"], "connect");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("loopback"),
        "{v}"
    );
    assert_eq!(p.hits(), 0, "never connected");
}

/// The refusal says what to do, and doing exactly that works: the hint's
/// `--trust-net` added to the same bare `host:port` checks the portal.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_address_names_the_network_to_trust_and_a_bare_host_port_is_read() {
    let p = portal::spawn(Behavior::Respond {
        status: 200,
        body: "ok".into(),
    })
    .await;
    let bare = p
        .http_url("/")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let out = livesite_async(vec!["check".into(), bare.clone()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let hint = text
        .lines()
        .find_map(|l| l.split("add ").nth(1))
        .unwrap_or_else(|| panic!("no hint in {text}"));
    assert_eq!(hint, "--trust-net 127.0.0.0/8", "{text}");
    let mut args = vec!["check".to_string()];
    args.extend(hint.split_whitespace().map(String::from));
    args.push(bare);
    let out = livesite_async(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("UP  http://127.0.0.1:"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_1_when_the_expected_response_is_missing() {
    let p = portal::spawn(Behavior::Respond {
        status: 503,
        body: "down".into(),
    })
    .await;
    let out = livesite_async(vec![
        "check".into(),
        "--trust-net".into(),
        "127.0.0.0/8".into(),
        p.http_url("/"),
        "--json".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        (
            v["outcome"].as_str(),
            v["reason"].as_str(),
            v["within_latency_sla"].as_bool()
        ),
        (Some("down"), Some("status"), Some(false))
    );
    let text = livesite_async(vec![
        "check".into(),
        "--trust-net".into(),
        "127.0.0.0/8".into(),
        p.http_url("/"),
        "--expect-status".into(),
        "503".into(),
    ])
    .await;
    assert_eq!(text.status.code(), Some(0), "503 expected: up");
    assert!(
        stdout(&text).contains("within the 400 ms SLA"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn check_refuses_bad_input_with_exit_2() {
    for args in [
        vec!["check", "not a url"],
        vec!["check", "ftp://x.example/"],
        vec!["check", "http://x.example/", "--timeout", "0"],
        vec!["check", "http://x.example/", "--expect-status", "42"],
    ] {
        let out = livesite(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error"), "{args:?}");
    }
}

#[test]
fn bad_config_is_located() {
    let mut cfg = tempfile::NamedTempFile::new().expect("tmp");
    cfg.write_all(CONFIG.replace("URL", "gopher://x.example/").as_bytes())
        .expect("write");
    let out = livesite(&[
        "run",
        "--config",
        cfg.path().to_str().expect("path"),
        "--rounds",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("operator[0].portal.url"),
        "{}",
        stderr(&out)
    );
    let mut cfg = tempfile::NamedTempFile::new().expect("tmp");
    cfg.write_all(
        CONFIG
            .replace("URL", "http://127.0.0.1:9/")
            .replace("timeout", "timeuot")
            .as_bytes(),
    )
    .expect("write");
    let out = livesite(&[
        "replay",
        "--probes",
        "/dev/null",
        "--config",
        cfg.path().to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("timeuot") && err.contains("line"), "{err}");
}

/// `livesite run` for one round with `config`, its database beside it in
/// a fresh directory: the directory (kept while in use) and the arguments.
fn one_round(config: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("livesite.toml");
    std::fs::write(&cfg, config).expect("write");
    let args = vec![
        "run".to_string(),
        "--config".into(),
        cfg.display().to_string(),
        "--db".into(),
        dir.path().join("livesite.db").display().to_string(),
        "--rounds".into(),
        "1".into(),
    ];
    (dir, args)
}

#[tokio::test(flavor = "multi_thread")]
/// Two runs in one slot (a restart seconds later): both results are stored
/// as evidence, and the slot, already decided, is counted once. That a
/// restart continues the outage clock in a later slot is
/// `tests/store.rs restart_continues_the_outage_clock`.
async fn run_probes_stores_and_a_restart_in_the_same_slot_counts_it_once() {
    let p = portal::spawn(Behavior::Respond {
        status: 500,
        body: "oops".into(),
    })
    .await;
    let (dir, args) = one_round(&CONFIG.replace("URL", &p.http_url("/")));
    let db = dir.path().join("livesite.db");
    let first = livesite_async(args.clone()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("contoso          DOWN 500"),
        "{}",
        stdout(&first)
    );
    let second = livesite_async(args).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(p.hits(), 2);
    let conn = rusqlite::Connection::open(&db).expect("db");
    let probes: i64 = conn
        .query_row("SELECT count(*) FROM probes", [], |r| r.get(0))
        .expect("count");
    assert_eq!(probes, 2, "every result stored");
    let doc: String = conn
        .query_row(
            "SELECT doc FROM monitor_state WHERE operator = 'contoso'",
            [],
            |r| r.get(0),
        )
        .expect("state");
    let state: Value = serde_json::from_str(&doc).expect("json");
    let since = state["down_since"].as_str().expect("down_since");
    let last = state["last_probe_at"].as_str().expect("last");
    if since == last {
        assert_eq!(state["day"]["v"], 1, "the slot counted once: {state}");
    } else {
        // The two runs fell on either side of a slot's edge.
        assert!(since < last, "the clock went on: {state}");
        assert_eq!(state["day"]["r"], 2, "{state}");
    }
}

/// Two simulated locations vote in the same instant (both results kept),
/// and a third the policy lists never votes: the sweep tells the team.
#[tokio::test(flavor = "multi_thread")]
async fn run_keeps_each_locations_vote_and_tells_of_a_location_never_heard_from() {
    let p = portal::spawn(Behavior::Respond {
        status: 200,
        body: "MO Direct".into(),
    })
    .await;
    let locations = r#"
[policy.locations]
expected = ["eu-west-1", "us-east-1", "ap-southeast-2"]

[[location]]
name = "eu-west-1"

[[location]]
name = "us-east-1"
"#;
    let (dir, args) = one_round(&(CONFIG.replace("URL", &p.http_url("/")) + locations));
    let db = dir.path().join("livesite.db");
    let out = livesite_async(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(&db).expect("db");
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT probed_at_ms, location FROM probes ORDER BY location")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, rows[1].0, "one round, one instant: {rows:?}");
    assert!(
        stdout(&out).contains(">>> DUE location-ap-southeast-2#never-"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn demo_shows_the_page_and_the_resolution() {
    let out = livesite(&["demo", "--pace-ms", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = stdout(&out);
    for want in [
        "INCIDENT OPENED",
        "PAGE (SNS)",
        "EMAIL (SES)",
        "INCIDENT RESOLVED",
        "1 High incident opened",
    ] {
        assert!(s.contains(want), "missing {want:?}");
    }
    assert_eq!(
        s.matches("PAGE (SNS)").count(),
        2,
        "one page to open, one to resolve"
    );
}

/// The second story: three locations, one of whose paths fails for 35
/// minutes while the portal is fine. Nobody is paged; the team alone hears
/// of the path, and of its recovery.
#[test]
fn demo_of_a_failing_path_pages_nobody() {
    let out = livesite(&["demo", "--pace-ms", "0", "--scenario", "path"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let s = stdout(&out);
    assert_eq!(s.matches("PAGE (SNS)").count(), 0, "nobody paged");
    assert!(
        s.contains("location_path") && s.contains("The path from agent-1"),
        "{s}"
    );
    assert!(
        s.contains("0 High incident opened, 0 page(s), 1 resolved"),
        "{s}"
    );
}

/// `livesite check … --json | head -c 100`: a reader that goes away ends the
/// command quietly (it used to panic with "failed printing to stdout: Broken
/// pipe" and exit 101).
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let port = portal::refused_port().await;
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_livesite"))
            .args([
                "check",
                "--trust-net",
                "127.0.0.0/8",
                &format!("http://127.0.0.1:{port}/"),
                "--json",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader leaves before the command has written anything.
        drop(child.stdout.take());
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join");
    let err = stderr(&out);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}

/// The team raises a Low incident from the command line, and the operator
/// acknowledges it the same way (the commands every incident email names).
#[test]
fn the_team_raises_and_the_operator_answers_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("api.db");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/api-fuzz.toml");
    let common = ["--config", config, "--db", db.to_str().expect("path")];
    let mut raise = vec![
        "api",
        "raise",
        "--operator",
        "contoso",
        "--kind",
        "reporting-failure",
        "--subject",
        "October report missing",
        "--text",
        "It did not arrive.",
        "--link",
        "https://share.dynamo.example/r/10",
    ];
    raise.extend(common);
    let out = livesite(&raise);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    let json: Value =
        serde_json::from_str(text.split_once("HTTP 201\n").expect("answer").1).expect("json");
    assert_eq!(
        (json["owed_by"].as_str(), json["kind"].as_str()),
        (Some("operator"), Some("reporting_failure"))
    );
    let id = json["id"].as_str().expect("id");
    let ack = format!("/v1/incidents/{id}/acknowledgement");
    let mut call = vec!["api", "call", "POST", &ack, "--as", "client:client-contoso"];
    call.extend(common);
    let out = livesite(&call);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("\"first_acknowledgement\": true"),
        "{}",
        stdout(&out)
    );
    // A link that is not https is refused with the field named, exit 1.
    let mut bad = raise.clone();
    let at = bad
        .iter()
        .position(|a| *a == "https://share.dynamo.example/r/10")
        .expect("link");
    bad[at] = "http://share.dynamo.example/r/10";
    let out = livesite(&bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("links/0"), "{}", stdout(&out));
}

/// `livesite check` of a name with several addresses prints each one's
/// result (the name resolved by `--resolve`, no DNS or /etc/hosts needed).
#[tokio::test(flavor = "multi_thread")]
async fn check_prints_every_address_of_a_name() {
    let p = portal::spawn(Behavior::Respond {
        status: 200,
        body: "ok".into(),
    })
    .await;
    let args = |json: bool| {
        let mut a: Vec<String> = [
            "check",
            "--trust-net",
            "127.0.0.0/8",
            "--resolve",
            "portal.test:127.0.0.1",
            "--resolve",
            "portal.test:127.0.0.2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(format!("http://portal.test:{}/", p.port));
        if json {
            a.push("--json".into());
        }
        a
    };
    let out = livesite_async(args(false)).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("address 127.0.0.1") && text.contains("address 127.0.0.2"),
        "{text}"
    );
    assert!(text.contains("DOWN (connect)"), "{text}");
    let out = livesite_async(args(true)).await;
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let outcomes: Vec<&str> = v["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(outcomes, ["up", "down"]);
    let bad = livesite(&["check", "--resolve", "portal.test", "http://portal.test/"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

/// `livesite api serve` on a free port, acting as `principal`, until dropped.
struct Served(std::process::Child);

impl Served {
    fn start(port: u16, config: &std::path::Path, db: &std::path::Path, principal: &str) -> Served {
        let child = Command::new(env!("CARGO_BIN_EXE_livesite"))
            .args([
                "api",
                "serve",
                "--port",
                &port.to_string(),
                "--as",
                principal,
            ])
            .arg("--config")
            .arg(config)
            .arg("--db")
            .arg(db)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve");
        // Dropped (killed and waited for) whether it starts or not.
        let served = Served(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return served;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("livesite api serve did not start on {port}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private agent pushes its results to `livesite api serve`; the API goes
/// away for 10 minutes (20 rounds) and the results wait, then go in one push
/// with their own times. A location the team never registered for the
/// operator is refused and set aside, not retried forever.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_keeps_its_results_through_a_ten_minute_api_outage() {
    use livesite_agent::{Agent, AgentConfig, TokenSource};
    use livesite_core::ports::ProbeLog;
    let portal = portal::spawn(Behavior::Respond {
        status: 200,
        body: "MO Direct".into(),
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("api.toml");
    let fuzz = include_str!("../../../tests/api-fuzz.toml").replace(
        "api_clients = [\"client-contoso\"]",
        "api_clients = [\"client-contoso\"]\nagents = [\"agent-contoso-1\"]",
    );
    std::fs::write(&config, fuzz).expect("config");
    let db = dir.path().join("api.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let agent_config = |location: &str| AgentConfig {
        trusted: vec!["127.0.0.0/8".parse().expect("cidr")],
        ..AgentConfig::new(
            format!("http://127.0.0.1:{port}/").parse().expect("url"),
            livesite_core::OperatorId::new("contoso").expect("id"),
            location,
            livesite_core::PortalCheck::new(portal.http_url("/").parse().expect("url")),
        )
    };
    let mut agent = Agent::new(agent_config("agent-contoso-1"), TokenSource::None).expect("agent");
    // Rounds on the 30-second grid (the API stores an agent's result at its
    // slot's start), ending now: the API takes results up to 7 days old.
    let now = chrono::Utc::now().timestamp();
    let start = chrono::DateTime::from_timestamp(now - now.rem_euclid(30) - 1200, 0).expect("t");
    let at = |r: i64| start + chrono::Duration::seconds(30 * r);
    let mut served = Some(Served::start(port, &config, &db, "client:client-contoso"));
    let mut trace = Vec::new();
    for r in 0..=30 {
        if r == 10 {
            served = None; // the API goes away for 10 minutes
        }
        if r == 30 {
            served = Some(Served::start(port, &config, &db, "client:client-contoso"));
        }
        let round = agent.round(at(r)).await;
        trace.push((round.sent, round.backlog, round.error.is_some()));
    }
    drop(served);
    assert_eq!(trace[..10], [(1, 0, false); 10], "sent as probed");
    assert_eq!(
        trace[10..30],
        (1..=20).map(|n| (0, n, true)).collect::<Vec<_>>()[..],
        "waiting"
    );
    assert_eq!(
        trace[30],
        (21, 0, false),
        "the backlog and the new result in one push"
    );
    let store = livesite_local::SqliteStore::open(&db).expect("db");
    let stored = store
        .range(
            &livesite_core::OperatorId::new("contoso").expect("id"),
            at(0),
            at(31),
        )
        .await
        .expect("range");
    assert_eq!(stored.len(), 31, "every round's result, none lost");
    assert!(stored
        .iter()
        .enumerate()
        .all(|(i, p)| p.probed_at == at(i as i64)
            && p.location.as_deref() == Some("agent-contoso-1")
            && p.is_up()));

    // A location nobody registered: refused, set aside, the backlog empty.
    let _served = Served::start(port, &config, &db, "client:client-contoso");
    let mut stranger = Agent::new(agent_config("eu-west-1"), TokenSource::None).expect("agent");
    let round = stranger.round(at(31)).await;
    assert_eq!((round.sent, round.refused, round.backlog), (0, 1, 0));
}

/// One HTTP/1.1 request to a local server, its caller named in the header
/// `livesite api serve` reads; the status code and the body.
fn http_as(port: u16, caller: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Livesite-As: {caller}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    sock.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// The config seeds the local registry once: what the API changes there
/// (here, an operator retired) survives the next command, until
/// `--reset-registry`. `api call -i` prints the headers a client acts on,
/// and one `api serve` answers each request as the caller it names.
#[tokio::test(flavor = "multi_thread")]
async fn the_registry_is_seeded_once_and_one_server_rehearses_both_sides() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("api.db");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/api-fuzz.toml");
    let call = |args: &[&str]| {
        let mut a = vec!["api", "call"];
        a.extend(args);
        a.extend(["--config", config, "--db", db.to_str().expect("path")]);
        livesite(&a)
    };
    let out = call(&["DELETE", "/v1/operators/fabrikam"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = call(&["GET", "/v1/operators/fabrikam"]);
    assert!(
        stdout(&out).starts_with("HTTP 404"),
        "kept retired: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("fabrikam"),
        "says what it kept: {}",
        stderr(&out)
    );
    let out = call(&["GET", "/v1/operators/fabrikam", "--reset-registry"]);
    assert!(stdout(&out).starts_with("HTTP 200"), "{}", stdout(&out));

    let raise = r#"{"operator":"contoso","kind":"information_request","subject":"ICCID range","text":"Which range?"}"#;
    let post = [
        "POST",
        "/v1/incidents",
        "--body",
        raise,
        "--idempotency-key",
        "k-1",
        "-i",
    ];
    let first = call(&post);
    let again = call(&post);
    assert!(
        stdout(&first).contains("HTTP 201\ncontent-type: application/json\n"),
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&again).contains("\nidempotent-replayed: true"),
        "{}",
        stdout(&again)
    );
    let json = stdout(&first);
    let id = json
        .split("\"id\": \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("incident id");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let _served = Served::start(port, std::path::Path::new(config), &db, "admin");
    let path = format!("/v1/incidents/{id}");
    let port_ = port;
    let answers = tokio::task::spawn_blocking(move || {
        [
            http_as(port_, "client:client-contoso", &path),
            http_as(port_, "client:client-fabrikam", &path),
            http_as(port_, "admin", &path),
            http_as(port_, "root", &path),
        ]
    })
    .await
    .expect("join");
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [200, 404, 200, 400], "{answers:?}");
}

/// `livesite run` monitors what `livesite check` can check: a portal on
/// this machine behind its own self-signed certificate, with the
/// certificate and the network given on the command line.
#[tokio::test(flavor = "multi_thread")]
async fn run_takes_the_certificate_and_the_network_check_takes() {
    let pki = livesite_tests::portal::TestPki::self_signed_ca_style();
    let p = portal::spawn_tls(
        Behavior::Respond {
            status: 200,
            body: "MO Direct".into(),
        },
        &pki,
    )
    .await;
    let config = CONFIG
        .replace("trusted = [\"127.0.0.0/8\"]", "")
        .replace("URL", &p.https_url("/"));
    let (dir, args) = one_round(&config);
    let without = livesite_async(args.clone()).await;
    assert!(
        stdout(&without).contains("contoso          DOWN"),
        "{}",
        stdout(&without)
    );
    let pem = dir.path().join("portal.pem");
    std::fs::write(&pem, &pki.ca_pem).expect("pem");
    let mut with = args;
    with.extend([
        "--ca-cert".to_string(),
        pem.display().to_string(),
        "--trust-net".into(),
        "127.0.0.0/8".into(),
    ]);
    let out = livesite_async(with).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("contoso          UP   200"),
        "{}",
        stdout(&out)
    );
}

/// HTML is one document per operator: several need a directory, each gets
/// its file; a month nothing was observed in says so; an unknown operator
/// is named as typed.
#[test]
fn reports_write_one_document_per_operator_and_say_when_there_is_no_data() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/api-fuzz.toml");
    let report = |extra: &[&str]| {
        let mut a = vec![
            "report",
            "--month",
            "2026-10",
            "--config",
            config,
            "--db",
            db.to_str().expect("path"),
        ];
        a.extend(extra);
        livesite(&a)
    };
    let out = report(&["--format", "html"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("--out-dir"), "{}", stderr(&out));
    let out = report(&[
        "--format",
        "html",
        "--out-dir",
        dir.path().to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for op in ["contoso", "fabrikam"] {
        let html =
            std::fs::read_to_string(dir.path().join(format!("{op}-2026-10.html"))).expect("file");
        assert_eq!(html.matches("<html>").count(), 1, "{op}");
        assert!(html.contains("no data (nothing was observed)"), "{op}");
        assert!(!html.contains("MISSED"), "{op}");
    }
    let out = report(&["--operator", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no operator nobody") && !stderr(&out).contains("Some("),
        "{}",
        stderr(&out)
    );
}

/// One operator floods the API (600 requests, eight at a time) while
/// another makes its usual calls: the flooding operator gets 429 past its
/// 120 a minute, the other never does. On AWS the stage's throttle is set
/// above what every operator's own limit lets through (docs/aws-limits.md),
/// so this limiter is the one that answers a flood.
#[tokio::test(flavor = "multi_thread")]
async fn one_operators_flood_never_gets_another_a_429() {
    let dir = tempfile::tempdir().expect("dir");
    let fuzz = include_str!("../../../tests/api-fuzz.toml").replace(
        "api_requests_per_minute = 1000000",
        "api_requests_per_minute = 120",
    );
    let config = dir.path().join("api.toml");
    std::fs::write(&config, fuzz).expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let _served = Served::start(port, &config, &dir.path().join("api.db"), "admin");
    let flood = (0..8).map(|_| {
        std::thread::spawn(move || {
            (0..75)
                .map(|_| http_as(port, "client:client-contoso", "/v1/incidents").0)
                .collect::<Vec<u16>>()
        })
    });
    let flood: Vec<std::thread::JoinHandle<Vec<u16>>> = flood.collect();
    let others = tokio::task::spawn_blocking(move || {
        (0..20)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                http_as(port, "client:client-fabrikam", "/v1/incidents").0
            })
            .collect::<Vec<u16>>()
    })
    .await
    .expect("join");
    let flooded: Vec<u16> = flood
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    let ok = flooded.iter().filter(|s| **s == 200).count();
    let limited = flooded.iter().filter(|s| **s == 429).count();
    assert_eq!(ok + limited, 600, "only 200 or 429");
    assert!(
        (120..=240).contains(&ok),
        "120 a minute (two minutes at most): {ok}"
    );
    assert!(others.iter().all(|s| *s == 200), "fabrikam: {others:?}");
}
