use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = livesite_aws::Settings::from_env()?;
    let config = livesite_aws::settings::aws_config().await;
    let store = livesite_aws::settings::store(&config, &settings);
    let notifier = livesite_aws::settings::notifier(&config, &settings);
    let (store, notifier, team, policy, sla) = (
        &store,
        &notifier,
        &settings.team,
        &settings.sweep_policy,
        &settings.policy,
    );
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let now = chrono::Utc::now();
        Ok::<Value, Error>(livesite_sweep_fn::handle(store, notifier, team, policy, sla, now).await)
    }))
    .await
}
