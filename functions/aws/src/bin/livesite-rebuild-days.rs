//! Rebuilds the decided days every figure is computed from, from the raw
//! probe rows (`livesite_core::service::rebuild_days`): for a deployment
//! from before day summaries (its reports read nothing for the days before
//! the upgrade), or a day lost. Days already stored are kept; the current
//! day of each operator is never touched (the evaluator has it open).
//!
//! ```text
//! cargo run -p livesite-aws --bin livesite-rebuild-days -- \
//!     --state livesite-prod-state --probes livesite-prod-probe-results \
//!     --from 2026-11-01 --to 2026-12-07 [--operator contoso] \
//!     [--locations us-east-1,eu-west-1]
//! ```
//!
//! `--locations` is the stack's `ProbeLocations` (the votes that decide each
//! round); without it each result is a round, as with one location.
//! Region and credentials as the AWS CLI's. Exits 1 when an operator's days
//! could not all be rebuilt (rerun: what is stored stays).

use chrono::{NaiveDate, Utc};
use livesite_aws::dynamo::{DynamoStore, Tables};
use livesite_core::ports::OperatorRegistry;
use livesite_core::Policy;
use std::process::ExitCode;

struct Args {
    tables: Tables,
    from: NaiveDate,
    to: NaiveDate,
    operator: Option<String>,
    locations: Vec<String>,
}

fn date(flag: &str, text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{flag} {text}: {e} (expected YYYY-MM-DD)"))
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut state, mut probes, mut from, mut to) = (None, None, None, None);
    let (mut operator, mut locations) = (None, Vec::new());
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--state" => state = Some(value()?),
            "--probes" => probes = Some(value()?),
            "--from" => from = Some(date(&flag, &value()?)?),
            "--to" => to = Some(date(&flag, &value()?)?),
            "--operator" => operator = Some(value()?),
            "--locations" => {
                locations = value()?.split(',').map(|l| l.trim().to_string()).collect()
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        tables: Tables {
            state: state.ok_or("--state TABLE is required")?,
            probes: probes.ok_or("--probes TABLE is required")?,
        },
        from: from.ok_or("--from YYYY-MM-DD is required")?,
        to: to.ok_or("--to YYYY-MM-DD (exclusive) is required")?,
        operator,
        locations,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("livesite-rebuild-days: {e}");
            return ExitCode::from(2);
        }
    };
    let mut policy = Policy::default();
    policy.locations.expected = args.locations.clone();
    if let Err(e) = policy.validate() {
        eprintln!("livesite-rebuild-days: --locations: {e}");
        return ExitCode::from(2);
    }
    let config = livesite_aws::settings::aws_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), args.tables);
    let operators = match store.list_operators().await {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("livesite-rebuild-days: reading the registry: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for op in operators.iter().filter(|o| {
        args.operator
            .as_deref()
            .is_none_or(|id| o.id.as_str() == id)
    }) {
        let today = Utc::now().with_timezone(&op.timezone).date_naive();
        let to = args.to.min(today);
        let range = (args.from, to);
        match livesite_core::service::rebuild_days(
            &store,
            op,
            &policy,
            &Default::default(),
            range,
            today,
        )
        .await
        {
            Ok(done) => println!(
                "{}: {} day(s) written, {} already stored ({} to {to}, exclusive)",
                op.id,
                done.written.len(),
                done.kept.len(),
                args.from
            ),
            Err(e) => {
                failed = true;
                eprintln!("livesite-rebuild-days: {}: {e}", op.id);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
