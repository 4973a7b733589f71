use lambda_http::{run, service_fn, Error, Request};
use livesite_api_fn::Api;
use livesite_core::BusinessCalendar;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime_tracing();
    let settings = livesite_aws::Settings::from_env()?;
    let config = livesite_aws::settings::aws_config().await;
    let team_timezone = std::env::var("TEAM_TIMEZONE")
        .ok()
        .map(|tz| tz.parse::<livesite_core::Tz>())
        .transpose()
        .map_err(|e| format!("TEAM_TIMEZONE: {e}"))?
        .unwrap_or(livesite_core::Tz::UTC);
    let api = Api {
        store: livesite_aws::settings::store(&config, &settings),
        notifier: livesite_aws::settings::notifier(&config, &settings),
        policy: settings.policy.clone(),
        team: settings.team.clone(),
        team_calendar: BusinessCalendar::new(team_timezone, []),
    };
    let api = &api;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req, chrono::Utc::now()).await)
    }))
    .await
}

fn lambda_runtime_tracing() {
    lambda_http::tracing::init_default_subscriber();
}
