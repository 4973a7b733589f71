use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use livesite_evaluate_fn::{EvaluateFunction, RegistryDirectory};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = livesite_aws::Settings::from_env()?;
    let config = livesite_aws::settings::aws_config().await;
    let store = livesite_aws::settings::store(&config, &settings);
    let function = EvaluateFunction {
        directory: RegistryDirectory {
            store: store.clone(),
            policy: settings.policy.clone(),
            team: settings.team.clone(),
        },
        notifier: livesite_aws::settings::notifier(&config, &settings),
        store,
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(function.handle(event.payload, chrono::Utc::now()).await)
    }))
    .await
}
