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
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

mod token;
pub use token::{TokenSource, Tokens};

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
    /// The environment variable holding an access token used as is (it
    /// cannot be renewed: prefer `token_url`); none for a local API.
    #[serde(default)]
    pub token_env: Option<String>,
    /// The stack's `TokenUrl`: the agent fetches its token there with the
    /// client credentials grant and renews it before it expires.
    #[serde(default)]
    pub token_url: Option<Url>,
    /// The operator's Cognito app client id (with `token_url`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The environment variable holding that client's secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default = "default_backlog")]
    pub backlog_limit: usize,
    /// Keep the backlog in this file (JSON lines, rewritten after each
    /// round), so results survive a restart; at most `backlog_limit`.
    #[serde(default)]
    pub backlog_file: Option<PathBuf>,
}

fn default_backlog() -> usize {
    DEFAULT_BACKLOG
}

impl AgentConfig {
    /// An agent of `operator` at `location` probing `portal`, with no token,
    /// no trusted network and the default backlog kept in memory.
    pub fn new(api: Url, operator: OperatorId, location: &str, portal: PortalCheck) -> Self {
        Self {
            api,
            operator,
            location: location.into(),
            portal,
            trusted: vec![],
            token_env: None,
            token_url: None,
            client_id: None,
            client_secret_env: None,
            backlog_limit: DEFAULT_BACKLOG,
            backlog_file: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the location {0:?} is not 1 to 64 characters of a-z, 0-9 and '-'")]
    Location(String),
    #[error("the prober: {0}")]
    Prober(#[from] livesite_prober::ProberSetupError),
    #[error("the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("the backlog file {0}: {1}")]
    Backlog(String, String),
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
    tokens: Tokens,
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
    pub fn new(config: AgentConfig, token: TokenSource) -> Result<Self, AgentError> {
        if !livesite_core::probe::location_ok(&config.location) {
            return Err(AgentError::Location(config.location));
        }
        let prober = HttpProber::new()?.trusting(config.trusted.iter().copied());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(livesite_prober::USER_AGENT)
            .build()?;
        let backlog = match &config.backlog_file {
            Some(path) => backlog::load(path, config.backlog_limit.max(1))
                .map_err(|e| AgentError::Backlog(path.display().to_string(), e))?,
            None => VecDeque::new(),
        };
        Ok(Self {
            config,
            prober,
            client,
            tokens: Tokens::new(token),
            backlog,
        })
    }

    /// Tokens fetched from the token endpoint so far.
    pub fn tokens_fetched(&self) -> usize {
        self.tokens.fetched
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
        let (sent, refused, error) = self.flush(at).await;
        if let Some(path) = &self.config.backlog_file {
            if let Err(e) = backlog::save(path, &self.backlog) {
                tracing::error!(error = %e, "backlog not saved");
            }
        }
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
    async fn flush(&mut self, now: DateTime<Utc>) -> (usize, usize, Option<String>) {
        let (mut sent, mut refused) = (0, 0);
        while !self.backlog.is_empty() {
            let n = self.backlog.len().min(MAX_PUSHED);
            let batch: Vec<ProbeResult> = self.backlog.iter().take(n).cloned().collect();
            match self.push(batch, now).await {
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

    /// One push; a 401 (the token expired or was revoked early) fetches a
    /// new token and tries once more.
    async fn push(&mut self, results: Vec<ProbeResult>, now: DateTime<Utc>) -> Push {
        let url = match self.config.api.join("v1/probe-results") {
            Ok(u) => u,
            Err(e) => return Push::Later(format!("the API URL: {e}")),
        };
        let body = PushedResults { results };
        for attempt in 0..2 {
            let token = match self.tokens.get(&self.client, now).await {
                Ok(t) => t,
                Err(e) => return Push::Later(e),
            };
            let mut request = self.client.post(url.clone()).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            match request.send().await {
                Ok(r) if r.status().as_u16() == 401 && attempt == 0 => self.tokens.refused(),
                answer => return Self::outcome(answer).await,
            }
        }
        Push::Later("the API refused every token".into())
    }

    async fn outcome(answer: Result<reqwest::Response, reqwest::Error>) -> Push {
        match answer {
            Err(e) => Push::Later(format!("the API is unreachable: {e}")),
            Ok(r) if r.status().is_success() => Push::Taken,
            Ok(r) if matches!(r.status().as_u16(), 400 | 413 | 422) => {
                Push::Refused(r.text().await.unwrap_or_default())
            }
            Ok(r) => Push::Later(format!("the API answered {}", r.status())),
        }
    }
}

/// The backlog on disk: one result a line, rewritten whole (to a temporary
/// file, then renamed) after each round, so a crash leaves the old or the
/// new file, never half of one.
mod backlog {
    use livesite_core::ProbeResult;
    use std::collections::VecDeque;
    use std::io::Write;
    use std::path::Path;

    /// The newest `limit` results of the file (none when it does not exist);
    /// an unreadable line is skipped and counted in the log.
    pub fn load(path: &Path, limit: usize) -> Result<VecDeque<ProbeResult>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(VecDeque::new()),
            Err(e) => return Err(e.to_string()),
        };
        let mut out = VecDeque::new();
        let mut unreadable = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<ProbeResult>(line) {
                Ok(r) => out.push_back(r.bounded()),
                Err(_) => unreadable += 1,
            }
            if out.len() > limit {
                out.pop_front();
            }
        }
        if unreadable > 0 {
            tracing::warn!(unreadable, "backlog lines skipped");
        }
        Ok(out)
    }

    pub fn save(path: &Path, backlog: &VecDeque<ProbeResult>) -> Result<(), String> {
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        for r in backlog {
            let line = serde_json::to_string(r).map_err(|e| e.to_string())?;
            writeln!(f, "{line}").map_err(|e| e.to_string())?;
        }
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    }
}
