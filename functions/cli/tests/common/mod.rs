//! What every test of the binary needs: running it, reading its output.
#![allow(dead_code)] // each test file uses its own part

use std::process::{Command, Output};

pub fn livesite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livesite"))
        .args(args)
        .output()
        .expect("run livesite")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a blocking command from a tokio test without stalling the local portal.
pub async fn livesite_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        livesite(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .expect("join")
}

/// A configuration of one operator whose portal is at `URL`, with a
/// maintenance window.
pub const CONFIG: &str = r#"
[prober]
trusted = ["127.0.0.0/8"]

[team]
sender = "livesite@dynamo.example"
emails = ["osoc@dynamo.example"]

[[operator]]
id = "contoso"
name = "Contoso Mobile"
contacts = ["noc@contoso.example"]
[operator.portal]
url = "URL"
timeout = "2s"

[[operator.maintenance]]
start = "2026-11-24T10:00:00Z"
end = "2026-11-24T11:00:00Z"
"#;
