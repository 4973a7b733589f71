use lambda_runtime::{service_fn, Error, LambdaEvent};
use livesite_probe_fn::{prober, Pacing, ProbeFunction, SecondRound, DEFAULT_CONCURRENCY};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Only the probe's own settings: a probe stack in another region has
    // no mail sender, topic or team to read (infra/probe-region.yaml).
    let settings = livesite_aws::settings::ProbeSettings::from_env()?;
    let config = livesite_aws::settings::aws_config().await;
    let concurrency = settings.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    let function = ProbeFunction {
        location: settings.location.clone(),
        store: settings.store(&config),
        prober: prober(&settings, concurrency)?,
        second_round: settings
            .second_round_queue_url
            .clone()
            .map(|queue_url| SecondRound {
                client: aws_sdk_sqs::Client::new(&config),
                queue_url,
                delay_seconds: livesite_probe_fn::SLOT_SECONDS as i32,
            }),
        concurrency,
        pacing: Pacing::LAMBDA,
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The invocation's deadline, as a monotonic instant for the round.
        let left = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        let deadline = std::time::Instant::now() + left;
        Ok::<Value, Error>(
            function
                .handle(&event.payload, chrono::Utc::now(), deadline)
                .await?,
        )
    }))
    .await
}
