use lambda_runtime::{service_fn, Error, LambdaEvent};
use livesite_sweep_fn::SweepFunction;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = livesite_aws::Settings::from_env()?;
    let config = livesite_aws::settings::aws_config().await;
    let function = SweepFunction {
        store: livesite_aws::settings::store(&config, &settings),
        notifier: livesite_aws::settings::notifier(&config, &settings),
        team: settings.team.clone(),
        policy: settings.policy.clone(),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(function.handle(chrono::Utc::now()).await)
    }))
    .await
}
