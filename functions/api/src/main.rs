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
        local_claims: local_claims(),
        team_clients: team_clients(),
    };
    let api = &api;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req, chrono::Utc::now()).await)
    }))
    .await
}

/// `TEAM_CLIENT_IDS`: the team's Cognito app client ids (comma-separated),
/// the only clients whose admin scope is honoured. Unset: no admin at all.
fn team_clients() -> Vec<String> {
    let ids: Vec<String> = std::env::var("TEAM_CLIENT_IDS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        tracing::warn!("TEAM_CLIENT_IDS is not set: no client can act as the DYNAMO team");
    }
    ids
}

/// `LIVESITE_LOCAL_PRINCIPAL` (`admin` or `client:<id>`) stands in for the
/// JWT authorizer under `cargo lambda watch`; the template never sets it.
fn local_claims() -> Option<(Vec<String>, Option<String>)> {
    let p = std::env::var("LIVESITE_LOCAL_PRINCIPAL").ok()?;
    tracing::warn!(principal = %p, "LIVESITE_LOCAL_PRINCIPAL is set: requests without claims act as this principal");
    match p.split_once(':') {
        Some(("client", id)) => Some((vec!["livesite/partner".into()], Some(id.to_string()))),
        _ if p == "admin" => Some((vec![livesite_api_fn::ADMIN_SCOPE.into()], None)),
        _ => None,
    }
}

fn lambda_runtime_tracing() {
    lambda_http::tracing::init_default_subscriber();
}
