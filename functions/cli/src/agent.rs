//! `livesite agent --config FILE`: a private probing location inside the
//! operator's walled garden (functions/agent), on the rounds' grid: at :00 and
//! :30 of every minute, the same slots the cloud locations vote for.

use crate::Failure;
use anyhow::anyhow;
use chrono::{DateTime, Utc};
use livesite_agent::{Agent, AgentConfig, TokenSource};
use std::path::Path;

/// The rounds' grid: a round every 30 seconds, on the minute and the half.
const ROUND_MS: i64 = 30_000;

pub async fn run(path: &Path, rounds: Option<u64>) -> Result<u8, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(anyhow!("{}: cannot read the config: {e}", path.display())))?;
    let config: AgentConfig =
        toml::from_str(&text).map_err(|e| Failure::input(anyhow!("{}: {e}", path.display())))?;
    let token =
        token_source(&config).map_err(|e| Failure::input(anyhow!("{}: {e}", path.display())))?;
    let mut agent = Agent::new(config, token).map_err(Failure::input)?;
    let mut done = 0;
    while rounds.is_none_or(|n| done < n) {
        let at = next_round(Utc::now());
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
        let round = agent.round(at).await;
        println!(
            "{}",
            serde_json::to_string(&round).map_err(Failure::runtime)?
        );
        done += 1;
    }
    Ok(0)
}

/// Where the token comes from: the client credentials grant (renewed), a
/// fixed token, or none (a local API).
fn token_source(config: &AgentConfig) -> Result<TokenSource, String> {
    let var =
        |name: &str| std::env::var(name).map_err(|_| format!("the variable {name} is not set"));
    match (&config.token_url, &config.token_env) {
        (Some(url), _) => {
            let client_id = config
                .client_id
                .clone()
                .ok_or("token_url needs client_id")?;
            let secret_env = config
                .client_secret_env
                .as_deref()
                .ok_or("token_url needs client_secret_env")?;
            Ok(TokenSource::ClientCredentials {
                url: url.clone(),
                client_id,
                secret: var(secret_env)?,
                scope: "livesite/partner".into(),
            })
        }
        (None, Some(name)) => Ok(TokenSource::Fixed(var(name)?)),
        (None, None) => Ok(TokenSource::None),
    }
}

/// The next round's time on the grid, strictly after `now`.
fn next_round(now: DateTime<Utc>) -> DateTime<Utc> {
    let ms = now.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(ROUND_MS) + ROUND_MS).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_fall_on_the_minute_and_the_half() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        for (now, next) in [
            ("2026-11-27T10:00:00Z", "2026-11-27T10:00:30Z"),
            ("2026-11-27T10:00:29.999Z", "2026-11-27T10:00:30Z"),
            ("2026-11-27T10:00:30.001Z", "2026-11-27T10:01:00Z"),
        ] {
            assert_eq!(next_round(t(now)), t(next), "{now}");
        }
    }
}
