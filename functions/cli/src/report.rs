//! `livesite report`: the monthly SLA report from the embedded store.

use crate::{config_file, Failure};
use anyhow::anyhow;
use livesite_core::ports::OperatorRegistry;
use livesite_core::report::Month;
use livesite_local::SqliteStore;
use std::path::PathBuf;

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    /// An HTML page with the availability and latency charts.
    Html,
}

#[derive(clap::Args)]
pub struct Args {
    /// The month, as YYYY-MM.
    #[arg(long)]
    month: Month,
    #[arg(long)]
    config: PathBuf,
    #[arg(long, default_value = "livesite.db")]
    db: PathBuf,
    /// One operator (default: every operator in the config).
    #[arg(long)]
    operator: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write one file per operator here (`<operator>-<month>.<ext>`)
    /// instead of printing: how HTML for several operators is written, one
    /// document each.
    #[arg(long = "out-dir")]
    out_dir: Option<PathBuf>,
}

pub async fn run(args: Args) -> Result<u8, Failure> {
    let month = args.month;
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
            "{}: no operator {}",
            args.config.display(),
            args.operator.as_deref().unwrap_or("at all")
        )));
    }
    if args.format == Format::Html && operators.len() > 1 && args.out_dir.is_none() {
        return Err(Failure::input(anyhow!(
            "HTML is one document per operator: name one with --operator, or give --out-dir DIR for a file each"
        )));
    }
    let mut reports = Vec::new();
    for op in &operators {
        let r = livesite_report::gather(&store, op, month, &config.policy, chrono::Utc::now())
            .await
            .map_err(Failure::runtime)?;
        let (ext, doc) = match args.format {
            Format::Text => ("txt", livesite_report::text(&r, op)),
            Format::Html => ("html", livesite_report::html(&r, op)),
            Format::Json => (
                "json",
                serde_json::to_string_pretty(&r).map_err(Failure::runtime)?,
            ),
        };
        match &args.out_dir {
            Some(dir) => {
                let path = dir.join(format!("{}-{month}.{ext}", op.id));
                std::fs::write(&path, doc)
                    .map_err(|e| Failure::runtime(anyhow!("{}: {e}", path.display())))?;
                println!("{}", path.display());
            }
            None if args.format == Format::Json => reports.push(r),
            None => println!("{doc}"),
        }
    }
    if args.format == Format::Json && args.out_dir.is_none() {
        let out = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(&reports)
        };
        println!("{}", out.map_err(Failure::runtime)?);
    }
    Ok(0)
}
