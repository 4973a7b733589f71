//! A private probing location (`livesite agent`): runs the prober where the
//! operator chooses (inside its walled garden, on Wi-Fi or Ethernet, where no
//! cloud region can reach), twice a minute, and pushes each result to the
//! partner API with the operator's own credentials
//! (`POST /v1/probe-results`). While the API can't be reached its results
//! wait in a bounded backlog, sent oldest first, with their own times, once
//! it answers again; late results change nothing the evaluator already
//! decided. A batch the API refuses as invalid can never become valid: it
//! is logged, counted and set aside, never retried forever.

use chrono::{DateTime, Utc};
use livesite_core::agent::{PushedResults, MAX_PUSHED};
use livesite_core::net::Cidr;
use livesite_core::{OperatorId, PortalCheck, ProbeResult};
use livesite_prober::HttpProber;
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;
use url::Url;

/// A week of rounds at two a minute: what the API still takes
/// (`livesite_core::agent::BACKLOG_KEPT`).
pub const DEFAULT_BACKLOG: usize = 7 * 24 * 120;

/// `livesite agent --config FILE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The partner API's base URL (`https://api.livesite.example`).
    pub api: Url,
    pub operator: OperatorId,
    /// This agent's location, as the team registered it for the operator.
    pub location: String,
    pub portal: PortalCheck,
    /// Networks inside the walled garden the probe may reach (the portal's
    /// private address); public addresses always.
    #[serde(default)]
    pub trusted: Vec<Cidr>,
    /// The environment variable holding the access token (the operator's
    /// client credentials grant); none for a local API.
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default = "default_backlog")]
    pub backlog_limit: usize,
}

fn default_backlog() -> usize {
    DEFAULT_BACKLOG
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the location {0:?} is not 1 to 64 characters of a-z, 0-9 and '-'")]
    Location(String),
    #[error("the prober: {0}")]
    Prober(#[from] livesite_prober::ProberSetupError),
    #[error("the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Round {
    pub result: ProbeResult,
    /// Results the API took this round (this one and the backlog's).
    pub sent: usize,
    /// Results waiting for the API.
    pub backlog: usize,
    /// The oldest results dropped because the backlog was full.
    pub dropped: usize,
    /// Results the API refused as invalid, set aside.
    pub refused: usize,
    /// Why sending stopped, when it did.
    pub error: Option<String>,
}

pub struct Agent {
    config: AgentConfig,
    prober: HttpProber,
    client: reqwest::Client,
    token: Option<String>,
    backlog: VecDeque<ProbeResult>,
}

/// How one push ended.
enum Push {
    Taken,
    /// Never valid: set aside.
    Refused(String),
    /// Try again later (the API unreachable, throttling, a server error).
    Later(String),
}

impl Agent {
    pub fn new(config: AgentConfig, token: Option<String>) -> Result<Self, AgentError> {
        if !livesite_core::probe::location_ok(&config.location) {
            return Err(AgentError::Location(config.location));
        }
        let prober = HttpProber::new()?.trusting(config.trusted.iter().copied());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(livesite_prober::USER_AGENT)
            .build()?;
        Ok(Self {
            config,
            prober,
            client,
            token,
            backlog: VecDeque::new(),
        })
    }

    /// The prober this agent uses (to resolve names itself, in tests).
    pub fn with_prober(mut self, prober: HttpProber) -> Self {
        self.prober = prober;
        self
    }

    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// Probes the portal as of `at` (the round's time), queues the result,
    /// and sends what waits, oldest first.
    pub async fn round(&mut self, at: DateTime<Utc>) -> Round {
        let result = ProbeResult {
            location: Some(self.config.location.clone()),
            ..self
                .prober
                .check(&self.config.portal)
                .await
                .into_probe(self.config.operator.clone(), at)
        };
        self.backlog.push_back(result.clone());
        let mut dropped = 0;
        while self.backlog.len() > self.config.backlog_limit.max(1) {
            self.backlog.pop_front();
            dropped += 1;
        }
        let (sent, refused, error) = self.flush().await;
        if let Some(e) = &error {
            tracing::warn!(error = %e, backlog = self.backlog.len(), "results not sent; kept for later");
        }
        Round {
            result,
            sent,
            backlog: self.backlog.len(),
            dropped,
            refused,
            error,
        }
    }

    /// Sends the backlog in batches until it is empty or the API can't take more now.
    async fn flush(&mut self) -> (usize, usize, Option<String>) {
        let (mut sent, mut refused) = (0, 0);
        while !self.backlog.is_empty() {
            let n = self.backlog.len().min(MAX_PUSHED);
            let batch: Vec<ProbeResult> = self.backlog.iter().take(n).cloned().collect();
            match self.push(batch).await {
                Push::Taken => sent += n,
                Push::Refused(why) => {
                    tracing::error!(results = n, why = %why, "results refused as invalid; set aside");
                    refused += n;
                }
                Push::Later(why) => return (sent, refused, Some(why)),
            }
            self.backlog.drain(..n);
        }
        (sent, refused, None)
    }

    async fn push(&self, results: Vec<ProbeResult>) -> Push {
        let url = match self.config.api.join("v1/probe-results") {
            Ok(u) => u,
            Err(e) => return Push::Later(format!("the API URL: {e}")),
        };
        let mut request = self.client.post(url).json(&PushedResults { results });
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Err(e) => Push::Later(format!("the API is unreachable: {e}")),
            Ok(r) if r.status().is_success() => Push::Taken,
            Ok(r) if matches!(r.status().as_u16(), 400 | 413 | 422) => {
                Push::Refused(r.text().await.unwrap_or_default())
            }
            Ok(r) => Push::Later(format!("the API answered {}", r.status())),
        }
    }
}
