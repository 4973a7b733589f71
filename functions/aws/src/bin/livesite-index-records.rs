//! Lists every lasting partner record by its kind in the state table's
//! `pending` index, as records written since are (docs/data-model.md): the
//! team's listings (every maintenance window, say) are then queries, never
//! scans. Run once after upgrading a deployment; a rerun adds nothing.
//!
//! ```text
//! cargo run -p livesite-aws --bin livesite-index-records -- --state livesite-prod-state
//! ```
//!
//! Region and credentials as the AWS CLI's.

use livesite_aws::dynamo::{DynamoStore, Tables};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut it = std::env::args().skip(1);
    let state = match (it.next().as_deref(), it.next(), it.next()) {
        (Some("--state"), Some(table), None) => table,
        _ => {
            eprintln!("livesite-index-records: usage: livesite-index-records --state TABLE");
            return ExitCode::from(2);
        }
    };
    let config = livesite_aws::settings::aws_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        Tables {
            probes: String::new(),
            state: state.clone(),
        },
    );
    match store.index_records().await {
        Ok(added) => {
            println!("{added} record(s) of {state} listed by kind");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("livesite-index-records: {e}");
            ExitCode::FAILURE
        }
    }
}
