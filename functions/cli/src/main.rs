//! `livesite`: the DYNAMO live-site monitor on one machine.
//!
//! Exit codes: 0 success (for `check`: the expected response came);
//! 1 the check failed (`check`: portal down; `demo`: the scenario did not
//! unfold as it should); 2 bad usage, configuration or input; 3 a runtime
//! failure (store unreadable, port unavailable).

mod agent;
mod api;
mod check;
mod config_file;
mod console;
mod demo;
mod monitor;
mod replay;
mod report;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "livesite",
    version,
    about = "Live-site monitor for DYNAMO mobile-operator portals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Probe one URL once and judge it against the expected response and the 400 ms SLA.
    Check(check::Args),
    /// Monitor every portal in the config twice per minute, with an embedded store.
    Run(monitor::Args),
    /// Feed recorded probe results (JSON lines) through the evaluator and print its decisions.
    Replay {
        /// JSON lines in the probe-record schema (docs/probe-record.md).
        #[arg(long)]
        probes: PathBuf,
        /// Policy, operators and calendars to evaluate with (default policy otherwise).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also store what is replayed in this embedded store, through the
        /// same path as `livesite run` (probes, decisions, incidents, the
        /// decided days): `livesite report --db` then reports on it.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// The monthly SLA report from the embedded store (text, JSON or HTML with charts).
    Report(report::Args),
    /// The partner console over the embedded store, on 127.0.0.1: each
    /// operator's 90 days, incidents with their clocks and timelines.
    Console(console::Args),
    /// The partner API over the embedded store: one call, or served on 127.0.0.1.
    #[command(subcommand)]
    Api(api::Command),
    /// A private probing location: probe the portal from here twice a minute and
    /// push the results to the partner API.
    ///
    /// The token is fetched with the operator's client credentials
    /// (`token_url`, `client_id`, `client_secret_env`) and renewed before it
    /// expires, or at once when the API answers 401. While the API cannot be
    /// reached, results wait in a backlog of at most `backlog_limit` (a week),
    /// sent oldest first; with `backlog_file` the backlog is kept on disk and
    /// survives a restart. See docs/deploy.md, "A private agent".
    Agent {
        /// The agent's configuration (docs/deploy.md, "A private agent").
        #[arg(long)]
        config: PathBuf,
        /// Stop after this many rounds (default: run until interrupted).
        #[arg(long)]
        rounds: Option<u64>,
    },
    /// A simulated portal fails for 35 minutes and recovers, on an accelerated clock.
    Demo {
        /// Wall-clock pause between simulated 30-second rounds, in milliseconds.
        #[arg(long, default_value_t = 120)]
        pace_ms: u64,
        /// `outage`: the portal fails; `path`: one of three locations' path fails.
        #[arg(long, value_enum, default_value = "outage")]
        scenario: demo::Scenario,
        /// Keep what the demo recorded in this new SQLite file (and its
        /// configuration beside it, `PATH.toml`), to browse with `livesite
        /// console` or report on afterwards.
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// An error with the exit code it should end the program with.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: 2,
            error: error.into(),
        }
    }
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: 3,
            error: error.into(),
        }
    }
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so a closed stdout (`livesite check … | head -c 100`)
    // made every print panic ("failed printing to stdout: Broken pipe", exit
    // 101). With the default disposition the command ends quietly, as a Unix
    // tool does when its reader has gone.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; only resets the
    // disposition of SIGPIPE to the default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Check(args) => check::run(args).await,
            Command::Run(args) => monitor::run(args).await.map(|_| 0),
            Command::Replay { probes, config, db } => {
                replay::run(&probes, config.as_deref(), db.as_deref())
                    .await
                    .map(|_| 0)
            }
            Command::Demo {
                pace_ms,
                scenario,
                db,
            } => demo::run(pace_ms, scenario, db.as_deref()).await,
            Command::Api(cmd) => api::run(cmd).await,
            Command::Report(args) => report::run(args).await,
            Command::Console(args) => console::run(args).await,
            Command::Agent { config, rounds } => agent::run(&config, rounds).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}
