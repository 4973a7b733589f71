use lambda_http::{run, service_fn, Error, Request};
use livesite_api_fn::{Api, Claims, ADMIN_SCOPE};
use livesite_aws::settings::LocalPrincipal;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = livesite_aws::Settings::from_env()?;
    let config = livesite_aws::settings::aws_config().await;
    if settings.team_clients.is_empty() {
        tracing::warn!("TEAM_CLIENT_IDS is not set: no client can act as the DYNAMO team");
    }
    let api = Api {
        store: livesite_aws::settings::store(&config, &settings),
        notifier: livesite_aws::settings::notifier(&config, &settings),
        policy: settings.policy.clone(),
        team: settings.team.clone(),
        local_claims: settings.local_principal.as_ref().map(local_claims),
        team_clients: settings.team_clients.clone(),
    };
    let api = &api;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req, chrono::Utc::now()).await)
    }))
    .await
}

/// The claims a local run's stand-in principal acts with.
fn local_claims(p: &LocalPrincipal) -> Claims {
    tracing::warn!(principal = ?p, "LIVESITE_LOCAL_PRINCIPAL is set: requests without claims act as this principal");
    match p {
        LocalPrincipal::Team => (vec![ADMIN_SCOPE.into()], None),
        LocalPrincipal::Client(id) => (vec!["livesite/partner".into()], Some(id.clone())),
    }
}
