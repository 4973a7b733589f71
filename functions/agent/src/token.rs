//! The agent's access token: fetched with the operator's client
//! credentials (`token_url`, `client_id`, the secret from the environment),
//! kept until shortly before it expires, fetched again then, or at once
//! when the API answers 401. A token given as is (`token_env`) is used as
//! given: it cannot be renewed here.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use url::Url;

/// A token is renewed this long before its stated expiry.
const EARLY: Duration = Duration::seconds(60);

/// Where the agent's token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    None,
    /// A token given as is.
    Fixed(String),
    /// The OAuth client-credentials grant (Cognito's token endpoint).
    ClientCredentials {
        url: Url,
        client_id: String,
        secret: String,
        scope: String,
    },
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// The current token and when to renew it.
pub struct Tokens {
    source: TokenSource,
    current: Option<(String, DateTime<Utc>)>,
    /// Tokens fetched so far (for the agent's round report and tests).
    pub fetched: usize,
}

impl Tokens {
    pub fn new(source: TokenSource) -> Self {
        Self {
            source,
            current: None,
            fetched: 0,
        }
    }

    /// The token to send at `now`, fetching one when there is none or it is
    /// about to expire; `Err` says why none could be had (try later).
    pub async fn get(
        &mut self,
        client: &reqwest::Client,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, String> {
        let (url, client_id, secret, scope) = match &self.source {
            TokenSource::None => return Ok(None),
            TokenSource::Fixed(t) => return Ok(Some(t.clone())),
            TokenSource::ClientCredentials {
                url,
                client_id,
                secret,
                scope,
            } => (url, client_id, secret, scope),
        };
        if let Some((token, renew_at)) = &self.current {
            if now < *renew_at {
                return Ok(Some(token.clone()));
            }
        }
        let answer = client
            .post(url.clone())
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("the token endpoint is unreachable: {e}"))?;
        if !answer.status().is_success() {
            return Err(format!("the token endpoint answered {}", answer.status()));
        }
        let granted: Granted = answer
            .json()
            .await
            .map_err(|e| format!("the token endpoint's answer: {e}"))?;
        let lifetime = Duration::seconds(granted.expires_in.unwrap_or(3600).max(0));
        self.current = Some((granted.access_token.clone(), now + lifetime - EARLY));
        self.fetched += 1;
        Ok(Some(granted.access_token))
    }

    /// The API refused the token (401): the next `get` fetches a new one.
    pub fn refused(&mut self) {
        self.current = None;
    }
}
