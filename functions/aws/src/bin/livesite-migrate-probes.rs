//! Copies probe results from the table keyed by the millisecond into the
//! table keyed by the millisecond and the location, marked so the evaluator
//! passes them by (docs/data-model.md, "Migrating from the millisecond key").
//!
//! ```text
//! cargo run -p livesite-aws --bin livesite-migrate-probes -- \
//!     --from livesite-prod-probes --to livesite-prod-probe-results [--since 2026-11-01]
//! ```
//!
//! Region and credentials as the AWS CLI's. Exits 1 when anything was left
//! behind (rerun: the copy is idempotent).

use chrono::{DateTime, NaiveDate, Utc};
use livesite_aws::dynamo::{DynamoStore, Tables};
use std::process::ExitCode;

struct Args {
    from: String,
    to: String,
    since: Option<DateTime<Utc>>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut from, mut to, mut since) = (None, None, None);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--from" => from = Some(value()?),
            "--to" => to = Some(value()?),
            "--since" => {
                let day = value()?;
                let date = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                    .map_err(|e| format!("--since {day}: {e} (expected YYYY-MM-DD)"))?;
                since = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        from: from.ok_or("--from TABLE is required")?,
        to: to.ok_or("--to TABLE is required")?,
        since,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("livesite-migrate-probes: {e}");
            return ExitCode::from(2);
        }
    };
    let config = livesite_aws::settings::aws_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        Tables {
            probes: args.to.clone(),
            state: String::new(),
        },
    );
    match livesite_aws::migrate::copy_probes(&store, &args.from, args.since).await {
        Ok(done) => {
            println!(
                "copied {} results from {} to {}",
                done.copied, args.from, args.to
            );
            for (keys, why) in &done.unreadable {
                eprintln!("left in {}: {keys}: {why}", args.from);
            }
            for (p, why) in &done.lost {
                eprintln!("not written: {} at {}: {why}", p.operator, p.probed_at);
            }
            if done.unreadable.is_empty() && done.lost.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("livesite-migrate-probes: {e}");
            ExitCode::FAILURE
        }
    }
}
