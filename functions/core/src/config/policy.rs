//! The policy: the contract's numbers and the monitor's rules' settings,
//! each sub-policy with its defaults and its own validation.

use super::*;

/// The flapping rule: a portal that fails often but never long enough in a
/// row to page is still not healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlappingPolicy {
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Fewer probes than this in the window prove nothing either way.
    pub min_probes: usize,
    /// Up/down changes needed in the window: without them a run of failures is
    /// an outage (the 30-minute rule's business), not flapping.
    pub min_changes: usize,
    /// Open a Low incident when more than this share of the window's probes failed.
    pub open_above: f64,
    /// Close it when the share falls to this or below.
    pub close_at_or_below: f64,
}

impl Default for FlappingPolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30 * 60),
            min_probes: 20,
            min_changes: 4,
            open_above: 0.5,
            close_at_or_below: 0.1,
        }
    }
}

/// The latency SLA as an alert: a Low incident when the portal answers but
/// its latency percentile over the window is above the SLA, resolved when it
/// holds again. Only timings the prober can vouch for count (`cpu_wait_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyPolicy {
    pub enabled: bool,
    /// Nearest-rank percentile of the window's timed up probes.
    pub percentile: f64,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Fewer timed up probes than this in the window prove nothing either way.
    pub min_probes: usize,
}

/// The longest latency window: the state keeps every sample of it.
pub const MAX_LATENCY_WINDOW: Duration = Duration::from_secs(3600);

impl Default for LatencyPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            percentile: 95.0,
            window: Duration::from_secs(30 * 60),
            min_probes: 20,
        }
    }
}

/// How many of the locations that reported must see the portal down for a
/// round to be down: a count (`quorum = 2`) or a share of those that
/// reported (`quorum = 0.5`: more than half).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Quorum {
    Count(u32),
    Share(f64),
}

impl Quorum {
    /// Whether `down` down votes of `reported` make the round down.
    pub fn is_down(self, down: usize, reported: usize) -> bool {
        match self {
            Self::Count(n) => down >= n as usize,
            Self::Share(f) => down as f64 > f * reported as f64,
        }
    }
}

/// Probing from several locations (docs/rules.md, "Locations and quorum").
/// With fewer than two expected locations, every probe is its own round,
/// as with one location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocationPolicy {
    /// The locations expected each round (AWS regions, agent ids).
    #[serde(default)]
    pub expected: Vec<String>,
    pub quorum: Quorum,
    /// Fewer locations than this reporting a round leave it unknown.
    pub min_locations: usize,
    /// How long after a round's slot ends its missing votes are waited for.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
}

impl Default for LocationPolicy {
    fn default() -> Self {
        Self {
            expected: Vec::new(),
            quorum: {
                // More than half of those that reported: 2 of 3, 2 of 2.
                Quorum::Share(0.5)
            },
            min_locations: 2,
            grace: Duration::from_secs(20),
        }
    }
}

impl LocationPolicy {
    /// Whether rounds are decided by several locations' votes.
    pub fn voting(&self) -> bool {
        self.expected.len() >= 2
    }
}

/// One multi-window burn-rate alert: the error budget is burning at least
/// `factor` times faster than a month allows, over both the long window (it
/// matters) and the short one (it is still happening).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnTier {
    #[serde(with = "humantime_serde")]
    pub long: Duration,
    #[serde(with = "humantime_serde")]
    pub short: Duration,
    pub factor: f64,
}

/// The contract's numbers, with the seed's values as defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// A High incident opens when the expected response has been missing for
    /// strictly longer than this.
    #[serde(with = "humantime_serde")]
    pub outage_after: Duration,
    /// Consecutive successes that resolve an open incident.
    pub recovery_successes: u32,
    /// A silence between two probes longer than this is an unknown gap.
    #[serde(with = "humantime_serde")]
    pub blind_after: Duration,
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    pub latency_sla_ms: u64,
    pub availability_target_percent: f64,
    #[serde(default)]
    pub flapping: FlappingPolicy,
    #[serde(default)]
    pub latency: LatencyPolicy,
    #[serde(default)]
    pub locations: LocationPolicy,
    /// High: initial response due this long after the page.
    #[serde(with = "humantime_serde")]
    pub high_initial_response: Duration,
    /// Low: initial response due this many business days after the email.
    pub low_initial_response_business_days: u32,
    /// Notice required before planned maintenance.
    pub maintenance_lead_business_days: u32,
    /// An operator's window longer than this needs the team's approval
    /// before it holds back pages or counts as maintenance.
    #[serde(with = "humantime_serde")]
    pub maintenance_max_window: Duration,
    /// An operator's windows may hold this much of a calendar month (its
    /// own calendar's); a window beyond it needs the team's approval.
    #[serde(with = "humantime_serde")]
    pub maintenance_max_per_month: Duration,
    /// Error-budget burn-rate early warnings (Low, by email).
    pub burn_tiers: Vec<BurnTier>,
    /// Probes the long window needs before a burn rate means anything.
    pub burn_min_probes: u32,
    /// Partner API requests one operator may make per minute, counted across
    /// every instance of the function; the next one answers 429. One operator
    /// looping a listing can't starve the others (the stage's throttling is
    /// shared by all).
    pub api_requests_per_minute: u32,
    /// The sweep warns the team this many days before a portal's
    /// certificate expires.
    pub certificate_warning_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            outage_after: Duration::from_secs(30 * 60),
            recovery_successes: 2,
            blind_after: Duration::from_secs(5 * 60),
            probe_interval: Duration::from_secs(30),
            latency_sla_ms: 400,
            availability_target_percent: 99.9,
            flapping: FlappingPolicy::default(),
            latency: LatencyPolicy::default(),
            locations: LocationPolicy::default(),
            high_initial_response: Duration::from_secs(3600),
            low_initial_response_business_days: 1,
            maintenance_lead_business_days: 5,
            maintenance_max_window: Duration::from_secs(4 * 3600),
            maintenance_max_per_month: Duration::from_secs(8 * 3600),
            burn_tiers: {
                vec![
                    // 6 h at 6x spends 5% of a month's budget: worth a look today.
                    BurnTier {
                        long: Duration::from_secs(6 * 3600),
                        short: Duration::from_secs(30 * 60),
                        factor: 6.0,
                    },
                    // 24 h at 3x spends 10%: the month will end over budget at this pace.
                    BurnTier {
                        long: Duration::from_secs(24 * 3600),
                        short: Duration::from_secs(2 * 3600),
                        factor: 3.0,
                    },
                ]
            },
            burn_min_probes: 60,
            api_requests_per_minute: 120,
            certificate_warning_days: 21,
        }
    }
}

impl Policy {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = "policy";
        if !(1..=365).contains(&self.certificate_warning_days) {
            return Err(err(
                format!("{p}.certificate_warning_days"),
                "from 1 to 365 days",
            ));
        }
        if self.api_requests_per_minute == 0 {
            return Err(err(
                format!("{p}.api_requests_per_minute"),
                "must be at least 1",
            ));
        }
        if self.outage_after.is_zero() {
            return Err(err(format!("{p}.outage_after"), "must be longer than zero"));
        }
        if self.recovery_successes == 0 {
            return Err(err(format!("{p}.recovery_successes"), "must be at least 1"));
        }
        if self.probe_interval.is_zero() {
            return Err(err(
                format!("{p}.probe_interval"),
                "must be longer than zero",
            ));
        }
        if self.blind_after <= self.probe_interval {
            return Err(err(
                format!("{p}.blind_after"),
                "must be longer than probe_interval, or every probe would look like a gap",
            ));
        }
        if !(0.0..=100.0).contains(&self.availability_target_percent)
            || self.availability_target_percent == 100.0
        {
            return Err(err(
                format!("{p}.availability_target_percent"),
                "must be between 0 and 100 (exclusive of 100: a 100% target has no error budget)",
            ));
        }
        self.flapping.validate(&format!("{p}.flapping"))?;
        for (i, t) in self.burn_tiers.iter().enumerate() {
            t.validate(&format!("{p}.burn_tiers[{i}]"))?;
        }
        self.locations
            .validate(&format!("{p}.locations"), self.probe_interval)?;
        self.latency.validate(&format!("{p}.latency"))?;
        Ok(())
    }
}

impl FlappingPolicy {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if !(0.0..1.0).contains(&self.open_above)
            || !(0.0..=1.0).contains(&self.close_at_or_below)
            || self.close_at_or_below >= self.open_above
        {
            return Err(err(path, "need 0 <= close_at_or_below < open_above < 1"));
        }
        if self.min_probes == 0 || self.window.is_zero() || self.window > MAX_LATENCY_WINDOW {
            return Err(err(
                path,
                "window and min_probes must be above zero, the window at most 1h",
            ));
        }
        Ok(())
    }
}

impl BurnTier {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if self.short.is_zero()
            || self.short >= self.long
            || self.long > Duration::from_secs(24 * 3600)
            || self.factor <= 0.0
        {
            return Err(err(path, "need 0 < short < long <= 24h and factor > 0"));
        }
        Ok(())
    }
}

impl LocationPolicy {
    /// `probe_interval`: a round's grace must end before the next round.
    fn validate(&self, path: &str, probe_interval: Duration) -> Result<(), ConfigError> {
        let quorum_ok = match self.quorum {
            Quorum::Count(n) => {
                n >= 1 && (self.expected.is_empty() || n as usize <= self.expected.len())
            }
            Quorum::Share(f) => (0.0..1.0).contains(&f),
        };
        let names_ok = self.expected.iter().all(|l| crate::probe::location_ok(l))
            && self.expected.len() <= 16
            && (!self.voting() || (1..=self.expected.len()).contains(&self.min_locations))
            && self.grace < probe_interval;
        if !quorum_ok || !names_ok {
            return Err(err(
                path,
                "need at most 16 location names of a-z, 0-9 and '-', 1 <= quorum count <= expected (or 0 <= share < 1), 1 <= min_locations <= expected, grace shorter than probe_interval",
            ));
        }
        Ok(())
    }
}

impl LatencyPolicy {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if !(self.percentile > 0.0 && self.percentile < 100.0)
            || self.min_probes == 0
            || self.window.is_zero()
            || self.window > MAX_LATENCY_WINDOW
        {
            return Err(err(
                path,
                "need 0 < percentile < 100, min_probes above zero and 0 < window <= 1h",
            ));
        }
        Ok(())
    }
}
