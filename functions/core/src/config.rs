//! What is monitored and under which policy. Parsed by the edges (TOML file
//! locally, DynamoDB items in AWS); checked here, once, by `validate`.

use crate::calendar::BusinessCalendar;
use crate::ids::{EmailAddress, OperatorId, PhoneNumber};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;
use url::Url;

/// What the probe asks of a portal and what counts as the expected response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalCheck {
    pub url: Url,
    #[serde(default = "default_expect_status")]
    pub expect_status: Vec<u16>,
    /// Text that must appear in the first `body_scan_bytes` of the body.
    #[serde(default)]
    pub expect_body: Option<String>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u8,
    #[serde(default = "default_body_scan_bytes")]
    pub body_scan_bytes: usize,
}

fn default_expect_status() -> Vec<u16> {
    vec![200]
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_redirects() -> u8 {
    5
}
fn default_body_scan_bytes() -> usize {
    64 * 1024
}

impl PortalCheck {
    /// The longest a probe may take. The probe function (30 s on AWS) must
    /// finish every probe and still write the round's results: this leaves
    /// the write margin (`livesite_probe_fn::WRITE_MARGIN`) inside the
    /// function's timeout; tests/template.rs checks the sum against the
    /// template.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(20);
    /// Redirects a probe may follow: each is a fresh connection, and a portal
    /// needs one or two.
    pub const MAX_REDIRECTS: u8 = 10;
    /// Body bytes a probe may read looking for the expected text. The scan
    /// keeps only the text's length in memory, so this bounds time, not
    /// memory (docs/aws-limits.md has the round's memory arithmetic).
    pub const MAX_BODY_SCAN: usize = 1024 * 1024;

    pub fn new(url: Url) -> Self {
        Self {
            url,
            expect_status: default_expect_status(),
            expect_body: None,
            timeout: default_timeout(),
            max_redirects: default_max_redirects(),
            body_scan_bytes: default_body_scan_bytes(),
        }
    }
}

/// A planned maintenance window announced for an operator's services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub announced_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: Option<String>,
}

impl MaintenanceWindow {
    /// Half-open: a probe at `end` is outside the window, so an overrun pages.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub id: OperatorId,
    pub name: String,
    pub portal: PortalCheck,
    pub contacts: Vec<EmailAddress>,
    /// UTC when not given (chrono-tz's default).
    #[serde(default)]
    pub timezone: chrono_tz::Tz,
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
    /// Its working days (`["sun", "mon", "tue", "wed", "thu"]`); Monday to
    /// Friday when not given.
    #[serde(
        default = "crate::calendar::default_workdays",
        with = "crate::calendar::weekdays"
    )]
    pub workdays: Vec<chrono::Weekday>,
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
    /// API client ids (the `client_id` claim of the operator's access tokens)
    /// that act for this operator.
    #[serde(default)]
    pub api_clients: Vec<String>,
    /// Who the operations centre calls for a High incident, in order (E.164).
    #[serde(default)]
    pub escalation_phones: Vec<PhoneNumber>,
    /// The locations of this operator's private agents (`livesite agent`):
    /// the only locations its pushed results may carry, so an operator can
    /// never vote as one of the team's regions.
    #[serde(default)]
    pub agents: Vec<String>,
}

impl Operator {
    pub fn calendar(&self) -> BusinessCalendar {
        BusinessCalendar {
            workdays: self.workdays.clone(),
            ..BusinessCalendar::new(self.timezone, self.holidays.iter().copied())
        }
    }

    pub fn in_maintenance(&self, t: DateTime<Utc>) -> bool {
        self.maintenance.iter().any(|w| w.contains(t))
    }
}

/// The flapping rule: a portal that fails often but never long enough in a
/// row to page is still not healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlappingPolicy {
    #[serde(default = "default_flap_window", with = "humantime_serde")]
    pub window: Duration,
    /// Fewer probes than this in the window prove nothing either way.
    #[serde(default = "default_flap_min_probes")]
    pub min_probes: usize,
    /// Up/down changes needed in the window: without them a run of failures is
    /// an outage (the 30-minute rule's business), not flapping.
    #[serde(default = "default_flap_min_changes")]
    pub min_changes: usize,
    /// Open a Low incident when more than this share of the window's probes failed.
    #[serde(default = "default_flap_open")]
    pub open_above: f64,
    /// Close it when the share falls to this or below.
    #[serde(default = "default_flap_close")]
    pub close_at_or_below: f64,
}

fn default_flap_window() -> Duration {
    Duration::from_secs(30 * 60)
}
fn default_flap_min_probes() -> usize {
    20
}
fn default_flap_min_changes() -> usize {
    4
}
fn default_flap_open() -> f64 {
    0.5
}
fn default_flap_close() -> f64 {
    0.1
}

impl Default for FlappingPolicy {
    fn default() -> Self {
        Self {
            window: default_flap_window(),
            min_probes: default_flap_min_probes(),
            min_changes: default_flap_min_changes(),
            open_above: default_flap_open(),
            close_at_or_below: default_flap_close(),
        }
    }
}

/// The latency SLA as an alert: a Low incident when the portal answers but
/// its latency percentile over the window is above the SLA, resolved when it
/// holds again. Only timings the prober can vouch for count (`cpu_wait_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyPolicy {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Nearest-rank percentile of the window's timed up probes.
    #[serde(default = "default_latency_percentile")]
    pub percentile: f64,
    #[serde(default = "default_flap_window", with = "humantime_serde")]
    pub window: Duration,
    /// Fewer timed up probes than this in the window prove nothing either way.
    #[serde(default = "default_flap_min_probes")]
    pub min_probes: usize,
}

fn yes() -> bool {
    true
}
fn default_latency_percentile() -> f64 {
    95.0
}

/// The longest latency window: the state keeps every sample of it.
pub const MAX_LATENCY_WINDOW: Duration = Duration::from_secs(3600);

impl Default for LatencyPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            percentile: default_latency_percentile(),
            window: default_flap_window(),
            min_probes: default_flap_min_probes(),
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
#[serde(deny_unknown_fields)]
pub struct LocationPolicy {
    /// The locations expected each round (AWS regions, agent ids).
    #[serde(default)]
    pub expected: Vec<String>,
    #[serde(default = "default_quorum")]
    pub quorum: Quorum,
    /// Fewer locations than this reporting a round leave it unknown.
    #[serde(default = "default_min_locations")]
    pub min_locations: usize,
    /// How long after a round's slot ends its missing votes are waited for.
    #[serde(default = "default_grace", with = "humantime_serde")]
    pub grace: Duration,
}

fn default_quorum() -> Quorum {
    // More than half of those that reported: 2 of 3, 2 of 2.
    Quorum::Share(0.5)
}
fn default_min_locations() -> usize {
    2
}
fn default_grace() -> Duration {
    Duration::from_secs(20)
}

impl Default for LocationPolicy {
    fn default() -> Self {
        Self {
            expected: Vec::new(),
            quorum: default_quorum(),
            min_locations: default_min_locations(),
            grace: default_grace(),
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

fn default_burn_tiers() -> Vec<BurnTier> {
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
}

fn default_burn_min_probes() -> u32 {
    60
}

/// The contract's numbers, with the seed's values as defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A High incident opens when the expected response has been missing for
    /// strictly longer than this.
    #[serde(default = "default_outage_after", with = "humantime_serde")]
    pub outage_after: Duration,
    /// Consecutive successes that resolve an open incident.
    #[serde(default = "default_recovery_successes")]
    pub recovery_successes: u32,
    /// A silence between two probes longer than this is an unknown gap.
    #[serde(default = "default_blind_after", with = "humantime_serde")]
    pub blind_after: Duration,
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub probe_interval: Duration,
    #[serde(default = "default_latency_sla_ms")]
    pub latency_sla_ms: u64,
    #[serde(default = "default_availability_target")]
    pub availability_target_percent: f64,
    #[serde(default)]
    pub flapping: FlappingPolicy,
    #[serde(default)]
    pub latency: LatencyPolicy,
    #[serde(default)]
    pub locations: LocationPolicy,
    /// High: initial response due this long after the page.
    #[serde(default = "default_high_ack", with = "humantime_serde")]
    pub high_initial_response: Duration,
    /// Low: initial response due this many business days after the email.
    #[serde(default = "default_one")]
    pub low_initial_response_business_days: u32,
    /// Notice required before planned maintenance.
    #[serde(default = "default_lead_days")]
    pub maintenance_lead_business_days: u32,
    /// An operator's window longer than this needs the team's approval
    /// before it holds back pages or counts as maintenance.
    #[serde(default = "default_maintenance_window", with = "humantime_serde")]
    pub maintenance_max_window: Duration,
    /// An operator's windows may hold this much of a calendar month (its
    /// own calendar's); a window beyond it needs the team's approval.
    #[serde(default = "default_maintenance_month", with = "humantime_serde")]
    pub maintenance_max_per_month: Duration,
    /// Error-budget burn-rate early warnings (Low, by email).
    #[serde(default = "default_burn_tiers")]
    pub burn_tiers: Vec<BurnTier>,
    /// Probes the long window needs before a burn rate means anything.
    #[serde(default = "default_burn_min_probes")]
    pub burn_min_probes: u32,
    /// Partner API requests one operator may make per minute, counted across
    /// every instance of the function; the next one answers 429. One operator
    /// looping a listing can't starve the others (the stage's throttling is
    /// shared by all).
    #[serde(default = "default_api_requests_per_minute")]
    pub api_requests_per_minute: u32,
}

fn default_outage_after() -> Duration {
    Duration::from_secs(30 * 60)
}
fn default_recovery_successes() -> u32 {
    2
}
fn default_blind_after() -> Duration {
    Duration::from_secs(5 * 60)
}
fn default_probe_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_latency_sla_ms() -> u64 {
    400
}
fn default_availability_target() -> f64 {
    99.9
}
fn default_high_ack() -> Duration {
    Duration::from_secs(3600)
}
fn default_one() -> u32 {
    1
}
fn default_lead_days() -> u32 {
    5
}
fn default_maintenance_window() -> Duration {
    Duration::from_secs(4 * 3600)
}
fn default_maintenance_month() -> Duration {
    Duration::from_secs(8 * 3600)
}
fn default_api_requests_per_minute() -> u32 {
    120
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            outage_after: default_outage_after(),
            recovery_successes: default_recovery_successes(),
            blind_after: default_blind_after(),
            probe_interval: default_probe_interval(),
            latency_sla_ms: default_latency_sla_ms(),
            availability_target_percent: default_availability_target(),
            flapping: FlappingPolicy::default(),
            latency: LatencyPolicy::default(),
            locations: LocationPolicy::default(),
            high_initial_response: default_high_ack(),
            low_initial_response_business_days: default_one(),
            maintenance_lead_business_days: default_lead_days(),
            maintenance_max_window: default_maintenance_window(),
            maintenance_max_per_month: default_maintenance_month(),
            burn_tiers: default_burn_tiers(),
            burn_min_probes: default_burn_min_probes(),
            api_requests_per_minute: default_api_requests_per_minute(),
        }
    }
}

/// The DYNAMO team: who is paged and copied, and who mail comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub sender: EmailAddress,
    pub emails: Vec<EmailAddress>,
    /// The operations centre's line for High incidents (the contract's
    /// "+1 425-538-9336"), shown to operators in every High email.
    #[serde(default)]
    pub phone: Option<PhoneNumber>,
    /// The team's business days (`[team.calendar]`): the clocks of the
    /// answers it owes and of its own maintenance notices.
    #[serde(default)]
    pub calendar: BusinessCalendar,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub policy: Policy,
    pub team: Team,
    /// Networks probes may reach besides public portals (`[prober] trusted`):
    /// for a portal on this machine or a lab network; empty by default.
    #[serde(default)]
    pub prober: crate::net::Reach,
    #[serde(default, rename = "operator")]
    pub operators: Vec<Operator>,
    /// Probing locations simulated on this machine (`livesite run`, `demo`):
    /// each probes every portal with its own view of the names.
    #[serde(default, rename = "location")]
    pub locations: Vec<SimulatedLocation>,
}

/// One simulated location: its name (listed in `[policy.locations]
/// expected` to vote) and the addresses its resolver gives for some names,
/// so one location's path can be made to fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedLocation {
    pub name: String,
    #[serde(default)]
    pub resolve: std::collections::BTreeMap<String, Vec<std::net::IpAddr>>,
}

/// A configuration mistake, located by a dotted path such as
/// `operator[1].portal.expect_status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

impl Policy {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = "policy";
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
        let f = &self.flapping;
        if !(0.0..1.0).contains(&f.open_above)
            || !(0.0..=1.0).contains(&f.close_at_or_below)
            || f.close_at_or_below >= f.open_above
        {
            return Err(err(
                format!("{p}.flapping"),
                "need 0 <= close_at_or_below < open_above < 1",
            ));
        }
        for (i, t) in self.burn_tiers.iter().enumerate() {
            if t.short.is_zero()
                || t.short >= t.long
                || t.long > Duration::from_secs(24 * 3600)
                || t.factor <= 0.0
            {
                return Err(err(
                    format!("{p}.burn_tiers[{i}]"),
                    "need 0 < short < long <= 24h and factor > 0",
                ));
            }
        }
        if f.min_probes == 0 || f.window.is_zero() || f.window > MAX_LATENCY_WINDOW {
            return Err(err(
                format!("{p}.flapping"),
                "window and min_probes must be above zero, the window at most 1h",
            ));
        }
        let q = &self.locations;
        let quorum_ok = match q.quorum {
            Quorum::Count(n) => n >= 1 && (q.expected.is_empty() || n as usize <= q.expected.len()),
            Quorum::Share(f) => (0.0..1.0).contains(&f),
        };
        let names_ok = q.expected.iter().all(|l| crate::probe::location_ok(l))
            && q.expected.len() <= 16
            && (!q.voting() || (1..=q.expected.len()).contains(&q.min_locations))
            && q.grace < self.probe_interval;
        if !quorum_ok || !names_ok {
            return Err(err(
                format!("{p}.locations"),
                "need at most 16 location names of a-z, 0-9 and '-', 1 <= quorum count <= expected (or 0 <= share < 1), 1 <= min_locations <= expected, grace shorter than probe_interval",
            ));
        }
        let l = &self.latency;
        if !(l.percentile > 0.0 && l.percentile < 100.0)
            || l.min_probes == 0
            || l.window.is_zero()
            || l.window > MAX_LATENCY_WINDOW
        {
            return Err(err(
                format!("{p}.latency"),
                "need 0 < percentile < 100, min_probes above zero and 0 < window <= 1h",
            ));
        }
        Ok(())
    }
}

impl Operator {
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(err(format!("{path}.name"), "must not be empty"));
        }
        if let Some(bad) = self.agents.iter().find(|a| !crate::probe::location_ok(a)) {
            return Err(err(
                format!("{path}.agents"),
                format!("{bad:?}: 1 to 64 characters of a-z, 0-9 and '-'"),
            ));
        }
        if self.workdays.is_empty() {
            // No business day at all: every business-day clock would never end.
            return Err(err(
                format!("{path}.workdays"),
                "list at least one working day",
            ));
        }
        let portal = &self.portal;
        if !matches!(portal.url.scheme(), "http" | "https") || portal.url.host_str().is_none() {
            return Err(err(
                format!("{path}.portal.url"),
                format!(
                    "expected an http:// or https:// URL with a host, got {}",
                    portal.url
                ),
            ));
        }
        if portal.expect_status.is_empty() {
            return Err(err(
                format!("{path}.portal.expect_status"),
                "list at least one status code",
            ));
        }
        if let Some(bad) = portal
            .expect_status
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(err(
                format!("{path}.portal.expect_status"),
                format!("{bad} is not an HTTP status code (100-599)"),
            ));
        }
        if portal.expect_body.as_deref().is_some_and(str::is_empty) {
            return Err(err(
                format!("{path}.portal.expect_body"),
                "omit it rather than leaving it empty",
            ));
        }
        if portal.timeout.is_zero() || portal.timeout > PortalCheck::MAX_TIMEOUT {
            return Err(err(
                format!("{path}.portal.timeout"),
                format!(
                    "must be between 1ms and {}s (the probe function must finish every probe and write the round)",
                    PortalCheck::MAX_TIMEOUT.as_secs()
                ),
            ));
        }
        if portal.body_scan_bytes == 0 || portal.body_scan_bytes > PortalCheck::MAX_BODY_SCAN {
            return Err(err(
                format!("{path}.portal.body_scan_bytes"),
                "must be between 1 and 1 MiB",
            ));
        }
        if portal.max_redirects > PortalCheck::MAX_REDIRECTS {
            return Err(err(
                format!("{path}.portal.max_redirects"),
                format!("at most {}", PortalCheck::MAX_REDIRECTS),
            ));
        }
        if self.contacts.is_empty() {
            return Err(err(
                format!("{path}.contacts"),
                "list at least one address: incidents are emailed there",
            ));
        }
        for (i, w) in self.maintenance.iter().enumerate() {
            if w.end <= w.start {
                return Err(err(
                    format!("{path}.maintenance[{i}].end"),
                    "must be after start",
                ));
            }
        }
        Ok(())
    }
}

/// Agent and location names are one namespace: an operator's agent may be
/// named like none of `locations` (the monitor's own) and like no other
/// operator's agent. A clash would make one name two things: every operator's
/// rounds drop a name that is an agent (agents never vote), so an agent
/// named like a region would take that region out of everyone's votes.
/// The clashing name and what it clashes with, if any.
pub fn agent_clash<'a>(
    operator: &'a Operator,
    others: &'a [Operator],
    locations: &[String],
) -> Option<(&'a str, String)> {
    operator.agents.iter().find_map(|a| {
        if locations.contains(a) {
            return Some((a.as_str(), "one of the monitor's own locations".to_string()));
        }
        others
            .iter()
            .find(|o| o.id != operator.id && o.agents.contains(a))
            .map(|o| (a.as_str(), format!("an agent of operator {}", o.id)))
    })
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy.validate()?;
        if self.team.emails.is_empty() {
            return Err(err("team.emails", "list at least one DYNAMO team address"));
        }
        self.validate_locations()?;
        let simulated: Vec<String> = self.locations.iter().map(|l| l.name.clone()).collect();
        let mut seen = HashSet::new();
        for (i, op) in self.operators.iter().enumerate() {
            let path = format!("operator[{i}]");
            op.validate(&path)?;
            if let Some((agent, with)) = agent_clash(op, &self.operators, &simulated) {
                return Err(err(
                    format!("{path}.agents"),
                    format!(
                        "{agent:?} is already {with}: agent and location names are one namespace"
                    ),
                ));
            }
            if !seen.insert(op.id.clone()) {
                return Err(err(
                    format!("{path}.id"),
                    format!("duplicate operator id {:?}", op.id.as_str()),
                ));
            }
        }
        Ok(())
    }

    fn validate_locations(&self) -> Result<(), ConfigError> {
        for (i, l) in self.locations.iter().enumerate() {
            if !crate::probe::location_ok(&l.name) {
                return Err(err(
                    format!("location[{i}].name"),
                    "1 to 64 characters of a-z, 0-9 and '-'",
                ));
            }
        }
        Ok(())
    }

    pub fn operator(&self, id: &OperatorId) -> Option<&Operator> {
        self.operators.iter().find(|o| &o.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[team]
sender = "livesite@dynamo.example"
emails = ["osoc@dynamo.example"]

[[operator]]
id = "contoso"
name = "Contoso Mobile"
contacts = ["noc@contoso.example"]
timezone = "Europe/Madrid"
holidays = ["2026-12-25"]
[operator.portal]
url = "https://modirect.contoso.example/health"
expect_body = "OK"
timeout = "5s"
"#;

    fn parse(s: &str) -> Config {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn a_portal_check_and_the_policy_default_to_the_seed() {
        let c = PortalCheck::new("https://p.example/".parse().unwrap());
        assert_eq!(
            (
                c.expect_status.clone(),
                c.timeout,
                c.max_redirects,
                c.body_scan_bytes
            ),
            (vec![200], Duration::from_secs(10), 5, 65_536)
        );
        let p = Policy::default();
        assert_eq!(
            (
                p.flapping.close_at_or_below,
                p.flapping.open_above,
                p.api_requests_per_minute,
                p.maintenance_lead_business_days,
                p.high_initial_response,
            ),
            (0.1, 0.5, 120, 5, Duration::from_secs(3600))
        );
        p.validate().unwrap();
    }

    #[test]
    fn every_policy_setting_is_refused_alone_when_it_can_never_work() {
        type Change = fn(&mut Policy);
        let table: Vec<(&str, Change)> = vec![
            ("api_requests_per_minute", |p| p.api_requests_per_minute = 0),
            ("outage_after", |p| p.outage_after = Duration::ZERO),
            ("recovery_successes", |p| p.recovery_successes = 0),
            ("probe_interval", |p| p.probe_interval = Duration::ZERO),
            ("blind_after", |p| p.blind_after = p.probe_interval),
            ("availability_target_percent", |p| {
                p.availability_target_percent = 100.0
            }),
            ("availability_target_percent", |p| {
                p.availability_target_percent = 100.5
            }),
            ("availability_target_percent", |p| {
                p.availability_target_percent = -0.1
            }),
            ("flapping", |p| p.flapping.open_above = 1.0),
            ("flapping", |p| p.flapping.close_at_or_below = -0.1),
            ("flapping", |p| {
                p.flapping.close_at_or_below = p.flapping.open_above
            }),
            ("burn_tiers[0]", |p| p.burn_tiers[0].short = Duration::ZERO),
            ("burn_tiers[0]", |p| {
                p.burn_tiers[0].short = p.burn_tiers[0].long
            }),
            ("burn_tiers[1]", |p| {
                p.burn_tiers[1].long = Duration::from_secs(24 * 3600 + 1)
            }),
            ("burn_tiers[0]", |p| p.burn_tiers[0].factor = 0.0),
            ("flapping", |p| p.flapping.min_probes = 0),
            ("locations", |p| {
                p.locations.expected = vec!["eu-west-1".into(), "EU".into()]
            }),
            ("locations", |p| {
                p.locations.expected = vec!["a".into(), "b".into()];
                p.locations.quorum = Quorum::Count(3);
            }),
            ("locations", |p| p.locations.quorum = Quorum::Share(1.0)),
            ("locations", |p| p.locations.quorum = Quorum::Count(0)),
            ("locations", |p| {
                p.locations.expected = vec!["a".into(), "b".into()];
                p.locations.min_locations = 3;
            }),
            ("locations", |p| p.locations.grace = Duration::from_secs(30)),
            ("flapping", |p| p.flapping.window = Duration::ZERO),
        ];
        for (field, change) in table {
            let mut p = Policy::default();
            change(&mut p);
            let e = p.validate().expect_err(field);
            assert_eq!(e.path, format!("policy.{field}"), "{e:?}");
        }
        // The edges that still work.
        let mut p = Policy {
            availability_target_percent: 0.0,
            ..Policy::default()
        };
        p.flapping.close_at_or_below = 0.0;
        p.burn_tiers[1].long = Duration::from_secs(24 * 3600);
        p.blind_after = p.probe_interval + Duration::from_secs(1);
        p.validate().unwrap();
    }

    #[test]
    fn an_operators_portal_limits_hold_at_their_edges() {
        let ok = parse(GOOD).operators[0].clone();
        type Change = fn(&mut Operator);
        let table: Vec<(&str, Change, bool)> = vec![
            (
                "portal.timeout",
                |o| o.portal.timeout = PortalCheck::MAX_TIMEOUT,
                true,
            ),
            (
                "portal.timeout",
                |o| o.portal.timeout = PortalCheck::MAX_TIMEOUT + Duration::from_millis(1),
                false,
            ),
            (
                "portal.timeout",
                |o| o.portal.timeout = Duration::ZERO,
                false,
            ),
            (
                "portal.body_scan_bytes",
                |o| o.portal.body_scan_bytes = PortalCheck::MAX_BODY_SCAN,
                true,
            ),
            (
                "portal.body_scan_bytes",
                |o| o.portal.body_scan_bytes = PortalCheck::MAX_BODY_SCAN + 1,
                false,
            ),
            (
                "portal.body_scan_bytes",
                |o| o.portal.body_scan_bytes = 0,
                false,
            ),
            (
                "portal.max_redirects",
                |o| o.portal.max_redirects = PortalCheck::MAX_REDIRECTS,
                true,
            ),
            (
                "portal.max_redirects",
                |o| o.portal.max_redirects = PortalCheck::MAX_REDIRECTS + 1,
                false,
            ),
            (
                "maintenance[0].end",
                |o| {
                    let t = "2026-12-10T08:00:00Z".parse().unwrap();
                    o.maintenance = vec![MaintenanceWindow {
                        start: t,
                        end: t,
                        announced_at: None,
                        description: None,
                    }];
                },
                false,
            ),
            (
                "maintenance[0].end",
                |o| {
                    let t: chrono::DateTime<chrono::Utc> = "2026-12-10T08:00:00Z".parse().unwrap();
                    o.maintenance = vec![MaintenanceWindow {
                        start: t,
                        end: t + chrono::Duration::seconds(1),
                        announced_at: None,
                        description: None,
                    }];
                },
                true,
            ),
        ];
        for (field, change, valid) in table {
            let mut o = ok.clone();
            change(&mut o);
            match o.validate("op") {
                Ok(()) => assert!(valid, "{field} accepted"),
                Err(e) => {
                    assert!(!valid, "{field} refused: {e:?}");
                    assert_eq!(e.path, format!("op.{field}"));
                }
            }
        }
    }

    #[test]
    fn an_operator_is_found_by_its_id() {
        let mut c = parse(GOOD);
        let mut other = c.operators[0].clone();
        other.id = OperatorId::new("fabrikam").unwrap();
        c.operators.push(other);
        let id = |s: &str| OperatorId::new(s).unwrap();
        assert_eq!(
            c.operator(&id("fabrikam")).map(|o| o.id.as_str()),
            Some("fabrikam")
        );
        assert_eq!(
            c.operator(&id("contoso")).map(|o| o.id.as_str()),
            Some("contoso")
        );
        assert!(c.operator(&id("nobody")).is_none());
    }

    #[test]
    fn good_config_has_the_seed_defaults() {
        let c = parse(GOOD);
        c.validate().unwrap();
        assert_eq!(c.policy.outage_after, Duration::from_secs(1800));
        assert_eq!(c.policy.latency_sla_ms, 400);
        assert_eq!(c.policy.recovery_successes, 2);
        assert_eq!(c.operators[0].portal.expect_status, vec![200]);
        assert_eq!(c.operators[0].portal.timeout, Duration::from_secs(5));
    }

    #[test]
    fn mistakes_are_located() {
        let cases = [
            (
                "expect_body = \"OK\"",
                "expect_status = [700]",
                "operator[0].portal.expect_status",
            ),
            (
                "url = \"https://modirect.contoso.example/health\"",
                "url = \"ftp://x.example/\"",
                "operator[0].portal.url",
            ),
            (
                "contacts = [\"noc@contoso.example\"]",
                "contacts = []",
                "operator[0].contacts",
            ),
            (
                "timeout = \"5s\"",
                "timeout = \"90s\"",
                "operator[0].portal.timeout",
            ),
            (
                "timeout = \"5s\"",
                "timeout = \"21s\"",
                "operator[0].portal.timeout",
            ),
        ];
        for (from, to, path) in cases {
            let c = parse(&GOOD.replace(from, to));
            assert_eq!(c.validate().unwrap_err().path, path, "{to}");
        }
        // The bound itself is allowed.
        assert!(
            parse(&GOOD.replace("timeout = \"5s\"", "timeout = \"20s\""))
                .validate()
                .is_ok()
        );
        let dup = format!("{GOOD}\n{}", &GOOD[GOOD.find("[[operator]]").unwrap()..]);
        assert_eq!(parse(&dup).validate().unwrap_err().path, "operator[1].id");
    }

    /// A Sunday-to-Thursday operator, escalation phones and the team's line,
    /// as a configuration states them.
    #[test]
    fn working_days_and_phones_are_read_and_checked() {
        let sun_thu = GOOD.replace(
            "timezone = \"Europe/Madrid\"",
            "timezone = \"Asia/Riyadh\"\nworkdays = [\"sun\", \"mon\", \"tue\", \"wed\", \"thu\"]\nescalation_phones = [\"+966112345678\"]",
        ).replace(
            "emails = [\"osoc@dynamo.example\"]",
            "emails = [\"osoc@dynamo.example\"]\nphone = \"+14255389336\"\n[team.calendar]\ntimezone = \"America/Los_Angeles\"\nholidays = [\"2026-12-25\"]",
        );
        let c = parse(&sun_thu);
        c.validate().unwrap();
        let cal = c.operators[0].calendar();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        // (date, business day): 2026-12-04 is a Friday.
        for (d, business) in [
            ("2026-12-03", true),
            ("2026-12-04", false),
            ("2026-12-05", false),
            ("2026-12-06", true),
        ] {
            assert_eq!(cal.is_business_day(day(d)), business, "{d}");
        }
        assert_eq!(
            c.operators[0].escalation_phones[0].as_str(),
            "+966112345678"
        );
        let written = serde_json::to_value(&c.operators[0]).unwrap();
        assert_eq!(
            written["workdays"],
            serde_json::json!(["sun", "mon", "tue", "wed", "thu"])
        );
        let read: Operator = serde_json::from_value(written).unwrap();
        assert_eq!(read, c.operators[0]);
        assert_eq!(
            c.team.phone.as_ref().map(|p| p.as_str()),
            Some("+14255389336")
        );
        let none = parse(&sun_thu.replace("[\"sun\", \"mon\", \"tue\", \"wed\", \"thu\"]", "[]"));
        assert_eq!(none.validate().unwrap_err().path, "operator[0].workdays");
        for bad in ["\"+966 11 234 5678\"", "\"00966112345678\""] {
            let text = sun_thu.replace("\"+966112345678\"", bad);
            let e = toml::from_str::<Config>(&text).unwrap_err().to_string();
            assert!(e.contains("E.164"), "{e}");
        }
    }

    #[test]
    fn a_quorum_is_a_count_or_a_share() {
        for (text, quorum) in [("2", Quorum::Count(2)), ("0.5", Quorum::Share(0.5))] {
            let c = parse(&GOOD.replace(
                "[team]",
                &format!("[policy.locations]\nexpected = [\"eu-west-1\", \"us-east-1\", \"agent-1\"]\nquorum = {text}\n\n[team]"),
            ));
            c.validate().unwrap();
            assert_eq!(c.policy.locations.quorum, quorum);
            assert!(c.policy.locations.voting());
        }
        // (quorum, down votes, of reported, down)
        let table = [
            (Quorum::Share(0.5), 2, 3, true),
            (Quorum::Share(0.5), 1, 2, false),
            (Quorum::Share(0.5), 2, 2, true),
            (Quorum::Count(2), 2, 2, true),
            (Quorum::Count(2), 1, 3, false),
            (Quorum::Count(3), 2, 2, false),
        ];
        for (q, down, reported, is_down) in table {
            assert_eq!(
                q.is_down(down, reported),
                is_down,
                "{q:?} {down}/{reported}"
            );
        }
    }

    #[test]
    fn the_documented_example_is_a_valid_configuration() {
        let c = parse(include_str!("../../../docs/livesite.example.toml"));
        c.validate().unwrap();
        assert!(c.team.phone.is_some() && !c.operators[0].escalation_phones.is_empty());
    }

    #[test]
    fn typos_are_refused_by_the_parser() {
        let typo = GOOD.replace("expect_body", "expect_bdy");
        let e = toml::from_str::<Config>(&typo).unwrap_err().to_string();
        assert!(e.contains("expect_bdy"), "{e}");
    }

    #[test]
    fn maintenance_window_is_half_open() {
        let w = MaintenanceWindow {
            start: "2026-11-27T10:00:00Z".parse().unwrap(),
            end: "2026-11-27T11:00:00Z".parse().unwrap(),
            announced_at: None,
            description: None,
        };
        assert!(!w.contains("2026-11-27T09:59:59Z".parse().unwrap()));
        assert!(w.contains("2026-11-27T10:00:00Z".parse().unwrap()));
        assert!(!w.contains("2026-11-27T11:00:00Z".parse().unwrap()));
    }

    /// Agent and location names are one namespace: a config naming an
    /// agent like a simulated location or like another operator's agent is
    /// refused with its place; an agent listed among the expected
    /// locations is allowed (it never votes there).
    #[test]
    fn agent_names_clash_with_no_location_and_no_other_agent() {
        let op = |id: &str, agent: &str| {
            format!(
                "[[operator]]\nid = \"{id}\"\nname = \"{id}\"\ncontacts = [\"noc@{id}.example\"]\nagents = [\"{agent}\"]\n[operator.portal]\nurl = \"https://{id}.example/\"\n"
            )
        };
        let team = "[team]\nsender = \"l@d.example\"\nemails = [\"o@d.example\"]\n";
        let location = "[[location]]\nname = \"agent-2\"\n";
        let listed = "[policy.locations]\nexpected = [\"us-east-1\", \"eu-west-1\", \"agent-1\"]\n";
        let cases = [
            (
                format!(
                    "{team}{}{}",
                    op("contoso", "agent-1"),
                    op("fabrikam", "agent-1")
                ),
                Some("operator[0].agents"),
            ),
            (
                format!(
                    "{team}{}{}",
                    op("contoso", "agent-1"),
                    op("fabrikam", "agent-2")
                ),
                None,
            ),
            (
                format!("{team}{location}{}", op("contoso", "agent-2")),
                Some("operator[0].agents"),
            ),
            (format!("{team}{listed}{}", op("contoso", "agent-1")), None),
        ];
        for (text, refused) in cases {
            let got = toml::from_str::<Config>(&text)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map_err(|e| e.path));
            assert_eq!(got.err().as_deref(), refused, "{text}");
        }
    }
}
