//! `livesite report`: the monthly SLA report from the embedded store.

use crate::{config_file, Failure};
use anyhow::anyhow;
use livesite_core::ports::OperatorRegistry;
use livesite_core::report::Month;
use livesite_local::SqliteStore;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The month, as YYYY-MM.
    #[arg(long)]
    month: String,
    #[arg(long)]
    config: PathBuf,
    #[arg(long, default_value = "livesite.db")]
    db: PathBuf,
    /// One operator (default: every operator in the config).
    #[arg(long)]
    operator: Option<String>,
    /// text, json or html.
    #[arg(long, default_value = "text")]
    format: String,
}

pub async fn run(args: Args) -> Result<u8, Failure> {
    let month: Month = args
        .month
        .parse()
        .map_err(|e| Failure::input(anyhow!("--month: {e}")))?;
    if !matches!(args.format.as_str(), "text" | "json" | "html") {
        return Err(Failure::input(anyhow!(
            "--format: expected text, json or html, got {:?}",
            args.format
        )));
    }
    let config = config_file::load(&args.config)?;
    let store = SqliteStore::open(&args.db)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", args.db.display())))?;
    let mut operators = Vec::new();
    for op in &config.operators {
        if args
            .operator
            .as_deref()
            .is_some_and(|o| o != op.id.as_str())
        {
            continue;
        }
        // The registry holds the windows announced through the API too.
        let registered = store.get_operator(&op.id).await.map_err(Failure::runtime)?;
        operators.push(registered.unwrap_or_else(|| op.clone()));
    }
    if operators.is_empty() {
        return Err(Failure::input(anyhow!(
            "no such operator in {}: {:?}",
            args.config.display(),
            args.operator
        )));
    }
    let mut reports = Vec::new();
    for op in &operators {
        let r = livesite_report::gather(&store, op, month, &config.policy)
            .await
            .map_err(Failure::runtime)?;
        match args.format.as_str() {
            "text" => println!("{}", livesite_report::text(&r, op)),
            "html" => println!("{}", livesite_report::html(&r, op)),
            _ => reports.push(r),
        }
    }
    if args.format == "json" {
        let out = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(&reports)
        };
        println!("{}", out.map_err(Failure::runtime)?);
    }
    Ok(0)
}
