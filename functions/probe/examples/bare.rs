//! The floor for init time: a lambda_runtime bootstrap that does nothing
//! else (bench/init-times.py measures the functions beside it).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<Value, Error>(Value::Null)
    }))
    .await
}
