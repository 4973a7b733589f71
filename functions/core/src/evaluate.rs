//! The evaluation state machine: a pure function of (state, probe, operator,
//! policy) giving the new state and the events that follow. Every rule is in
//! docs/rules.md; each has a test below.

use crate::config::{Operator, Policy};
use crate::ids::OperatorId;
use crate::incident::{incident_id, IdForm, Incident, IncidentKind, Opening, Party, Severity};
use crate::probe::{FailureReason, Outcome, ProbeResult};
use crate::summary;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// One probe's verdict kept for the flapping and latency windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub up: bool,
    /// Up and timed: whether slower than the latency SLA. `None` when down,
    /// or when the timing can't be trusted (the prober's own CPU wait).
    #[serde(default)]
    pub slow: Option<bool>,
}

/// An address of the portal's name failing since `since` (the first failure
/// of its unbroken run), for the partial-outage rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressDown {
    pub address: std::net::IpAddr,
    pub since: DateTime<Utc>,
}

/// Probe counts of one 15-minute bucket, for the burn-rate windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub good: u32,
    pub bad: u32,
}

pub const BUCKET_MINUTES: i64 = 15;

/// A reference to an open incident, kept in the state so the evaluator needs
/// no incident lookup per probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenRef {
    pub id: String,
    pub severity: Severity,
    pub kind: IncidentKind,
    pub started_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
}

/// Everything the evaluator remembers about one operator's portal.
///
/// Its serde form is compact (module `compact`): the state is written on
/// every batch and billed by the KB. `remote = "Self"` lets `Deserialize`
/// finish what the fields alone cannot: the open incidents' ids, which are
/// the operator's and so are not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct MonitorState {
    pub operator: OperatorId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<FailureReason>,
    /// First failed probe of the current unbroken run of failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_since: Option<DateTime<Utc>>,
    pub consecutive_successes: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub outage: Option<OpenRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub flapping: Option<OpenRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub latency: Option<OpenRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub partial: Option<OpenRef>,
    /// The portal's addresses failing now, when its name has several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses_down: Vec<AddressDown>,
    /// With several locations: the votes of rounds not decided yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub votes: Vec<quorum::Vote>,
    /// With several locations: the last round decided; a vote for it or an
    /// earlier one comes too late and changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_through: Option<DateTime<Utc>>,
    /// Each location's latest vote: the sweep tells the team of a location
    /// that stopped voting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_seen: Vec<quorum::LocationRun>,
    /// Locations failing while the quorum sees the portal up, since when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_runs: Vec<quorum::LocationRun>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub path: Option<OpenRef>,
    /// The run (by its start) whose page maintenance already suppressed, so the
    /// suppression is reported once, not at every probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_run: Option<DateTime<Utc>>,
    #[serde(default, with = "compact::samples")]
    pub recent: Vec<Sample>,
    /// The portal certificate's expiry, as the last TLS probe saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// Probe counts outside maintenance, 15 minutes a bucket, 24 hours kept.
    #[serde(default, with = "compact::buckets")]
    pub buckets: Vec<Bucket>,
    /// Per burn tier (by index), when it last warned; it warns again only
    /// a day later.
    #[serde(default)]
    pub burn_warned: Vec<Option<DateTime<Utc>>>,
    /// The day being counted on the operator's calendar (`summary`): closed
    /// and stored with the first round of the next day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<crate::summary::DaySummary>,
    /// The operator's own agents (`witness`): each one's latest slot and
    /// run of failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<witness::Witness>,
    /// The `walled_garden` incident an agent's failures opened.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub garden: Option<OpenRef>,
}

impl Serialize for MonitorState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MonitorState::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for MonitorState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut state = MonitorState::deserialize(d)?;
        for open in [
            &mut state.outage,
            &mut state.flapping,
            &mut state.latency,
            &mut state.partial,
            &mut state.path,
            &mut state.garden,
        ]
        .into_iter()
        .flatten()
        {
            if open.id.is_empty() {
                open.id = incident_id(&state.operator, open.started_at, open.kind);
            }
        }
        Ok(state)
    }
}

impl MonitorState {
    pub fn new(operator: OperatorId) -> Self {
        Self {
            operator,
            last_probe_at: None,
            last_outcome: None,
            last_reason: None,
            down_since: None,
            consecutive_successes: 0,
            outage: None,
            flapping: None,
            latency: None,
            partial: None,
            addresses_down: Vec::new(),
            votes: Vec::new(),
            decided_through: None,
            location_seen: Vec::new(),
            location_runs: Vec::new(),
            path: None,
            suppressed_run: None,
            recent: Vec::new(),
            cert_expires_at: None,
            buckets: Vec::new(),
            burn_warned: Vec::new(),
            day: None,
            witnesses: Vec::new(),
            garden: None,
        }
    }
}

mod compact;
pub mod quorum;
pub mod witness;

/// What happened, in domain terms. Notifications are derived from these by
/// `notify::render`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    IncidentOpened {
        incident: Incident,
        reason: Option<FailureReason>,
    },
    IncidentResolved {
        incident: OpenRef,
        operator: OperatorId,
        resolved_at: DateTime<Utc>,
    },
    /// A page that would have been sent, held back by an announced maintenance window.
    PageSuppressed {
        operator: OperatorId,
        down_since: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The error budget burns faster than `factor` times the sustainable
    /// rate over both windows of a tier.
    BudgetBurn {
        operator: OperatorId,
        at: DateTime<Utc>,
        long_minutes: i64,
        short_minutes: i64,
        factor: f64,
        long_burn: f64,
        short_burn: f64,
    },
    /// No probe arrived between `from` and `to`: unknown, neither up nor down.
    MonitorGap {
        operator: OperatorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// A day of decided rounds is over on the operator's calendar: stored
    /// once, it is what every figure of that day is computed from.
    DayClosed {
        operator: OperatorId,
        summary: crate::summary::DaySummary,
        at: DateTime<Utc>,
    },
}

impl Event {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::IncidentOpened { incident, .. } => incident.opened_at,
            Self::IncidentResolved { resolved_at, .. } => *resolved_at,
            Self::PageSuppressed { at, .. } => *at,
            Self::MonitorGap { to, .. } => *to,
            Self::BudgetBurn { at, .. } => *at,
            Self::DayClosed { at, .. } => *at,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per probe and consumed at once
pub enum Evaluation {
    /// The probe is not newer than the last one seen (a redelivery or a late
    /// arrival): nothing changes.
    Stale,
    Applied {
        state: MonitorState,
        events: Vec<Event>,
    },
}

fn dur(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

/// What one step of the evaluation sees: the probe, whose portal, the rules.
struct Step<'a> {
    probe: &'a ProbeResult,
    operator: &'a Operator,
    policy: &'a Policy,
    events: Vec<Event>,
}

/// Evaluates one probe result (`team_calendar`: the clocks of what the
/// team owes, a location's path). With several expected locations
/// (`policy.locations`), a result is one location's vote and the rules run
/// on each round's verdict (`quorum`); with one, every result is a round.
pub fn evaluate(
    state: &MonitorState,
    probe: &ProbeResult,
    operator: &Operator,
    policy: &Policy,
    team_calendar: &crate::BusinessCalendar,
) -> Evaluation {
    // An operator's own agent is a witness that only counts against its
    // operator (`witness`): were it a vote, one pushed "up" a second after
    // each failure would break every run of failures and hide its outage.
    let own_agent = probe
        .location
        .as_ref()
        .is_some_and(|l| operator.agents.contains(l));
    if own_agent {
        return witness::evaluate(state, probe, operator, policy);
    }
    // Listed as expected or not, an agent never votes: awaited, it could
    // leave its operator's rounds unknown by keeping silent.
    let policy = if policy
        .locations
        .expected
        .iter()
        .any(|l| operator.agents.contains(l))
    {
        let mut voters = policy.clone();
        voters
            .locations
            .expected
            .retain(|l| !operator.agents.contains(l));
        std::borrow::Cow::Owned(voters)
    } else {
        std::borrow::Cow::Borrowed(policy)
    };
    if policy.locations.voting() {
        return quorum::evaluate(state, probe, operator, &policy, team_calendar);
    }
    // One location: every result is a round, at its slot's time, so the
    // 30-minute rule is measured between slots (exactly 30:00 of failed
    // rounds never pages, whatever the invocations' jitter) and a second
    // result for a slot already decided is stale.
    let slot = round_slot(probe, &policy);
    if probe.probed_at == slot {
        return evaluate_round(state, probe, operator, &policy);
    }
    let round = ProbeResult {
        probed_at: slot,
        ..probe.clone()
    };
    evaluate_round(state, &round, operator, &policy)
}

/// The rules on one round's verdict.
fn evaluate_round(
    state: &MonitorState,
    probe: &ProbeResult,
    operator: &Operator,
    policy: &Policy,
) -> Evaluation {
    if state
        .last_probe_at
        .is_some_and(|last| probe.probed_at <= last)
    {
        return Evaluation::Stale;
    }
    let mut s = state.clone();
    let mut step = Step {
        probe,
        operator,
        policy,
        events: Vec::new(),
    };
    step.record(&mut s);
    count_day(&mut s, probe, operator, policy, &mut step.events);
    if !policy.locations.voting() {
        if let Some(day) = &mut s.day {
            summary::count_probe(day, probe.location.as_deref(), probe.is_up());
        }
    }
    match probe.outcome {
        Outcome::Down => step.down(&mut s),
        Outcome::Up => step.up(&mut s),
    }
    step.flapping(&mut s);
    step.latency(&mut s);
    step.addresses(&mut s);
    burn_rates(&mut s, probe, operator, policy, &mut step.events);
    Evaluation::Applied {
        state: s,
        events: step.events,
    }
}

/// A decided round into the operator's open day (`summary`), after
/// closing the day before it when the round is the first of a new day.
fn count_day(
    s: &mut MonitorState,
    round: &ProbeResult,
    operator: &Operator,
    policy: &Policy,
    events: &mut Vec<Event>,
) {
    let slot = round_slot(round, policy);
    open_day(s, operator, slot, events);
    if let Some(day) = &mut s.day {
        summary::count_round(
            day,
            &summary::Round {
                verdict: round,
                slot,
                seconds: u32::try_from(policy.probe_interval.as_secs()).unwrap_or(u32::MAX),
                in_maintenance: operator.in_maintenance(round.probed_at),
                latency_sla_ms: policy.latency_sla_ms,
            },
        );
    }
}

/// The slot a result answers: the round it belongs to, as the schedule
/// that started it says, or else the slot its time falls in.
pub(crate) fn round_slot(p: &ProbeResult, policy: &Policy) -> DateTime<Utc> {
    quorum::slot_of(p.slot.unwrap_or(p.probed_at), dur(policy.probe_interval))
}

/// The day `slot` falls in opened in the state; the day it ends, as an event.
pub(crate) fn open_day(
    s: &mut MonitorState,
    operator: &Operator,
    slot: DateTime<Utc>,
    events: &mut Vec<Event>,
) {
    if let Some(closed) = summary::roll(&mut s.day, slot, operator.timezone) {
        events.push(Event::DayClosed {
            operator: operator.id.clone(),
            summary: closed,
            at: slot,
        });
    }
}

impl Step<'_> {
    /// The probe into the state: a gap before it first, then its verdict in
    /// the flapping window.
    fn record(&mut self, s: &mut MonitorState) {
        let t = self.probe.probed_at;
        if let Some(last) = s.last_probe_at {
            if t - last > dur(self.policy.blind_after) {
                self.events.push(Event::MonitorGap {
                    operator: s.operator.clone(),
                    from: last,
                    to: t,
                });
                // Nobody watched during the gap, so no run of failures (and no
                // streak of successes) can be claimed across it.
                s.down_since = None;
                s.consecutive_successes = 0;
                s.recent.clear();
                s.addresses_down.clear();
            }
        }
        s.last_probe_at = Some(t);
        s.last_outcome = Some(self.probe.outcome);
        s.last_reason = self.probe.reason;
        if self.probe.cert_expires_at.is_some() {
            s.cert_expires_at = self.probe.cert_expires_at;
        }
        let sla = self.policy.latency_sla_ms as f64;
        s.recent.push(Sample {
            at: t,
            up: self.probe.is_up(),
            slow: self
                .probe
                .trusted_latency_ms()
                .filter(|_| self.probe.is_up())
                .map(|ms| ms > sla),
        });
        let kept = self.policy.flapping.window.max(self.policy.latency.window);
        let horizon = t - dur(kept);
        s.recent.retain(|x| x.at > horizon);
    }

    /// The 30-minute rule: a run of failures longer than `outage_after`
    /// opens a High incident, or is held back by announced maintenance.
    fn down(&mut self, s: &mut MonitorState) {
        let t = self.probe.probed_at;
        s.consecutive_successes = 0;
        let since = *s.down_since.get_or_insert(t);
        if t - since <= dur(self.policy.outage_after) || s.outage.is_some() {
            return;
        }
        if self.operator.in_maintenance(t) {
            if s.suppressed_run != Some(since) {
                s.suppressed_run = Some(since);
                self.events.push(Event::PageSuppressed {
                    operator: s.operator.clone(),
                    down_since: since,
                    at: t,
                });
            }
            return;
        }
        let incident = self.open(Severity::High, IncidentKind::PortalDown, since);
        s.outage = Some(open_ref(&incident));
        self.events.push(Event::IncidentOpened {
            incident,
            reason: self.probe.reason,
        });
    }

    /// Recovery: enough consecutive successes resolve the outage.
    fn up(&mut self, s: &mut MonitorState) {
        s.down_since = None;
        s.consecutive_successes = s.consecutive_successes.saturating_add(1);
        if s.consecutive_successes < self.policy.recovery_successes {
            return;
        }
        if let Some(open) = s.outage.take() {
            // The outage already accounts for its failures; counting them
            // again would call the recovery "flapping" or a budget burn.
            s.recent.clear();
            s.buckets.clear();
            self.events.push(Event::IncidentResolved {
                incident: open,
                operator: s.operator.clone(),
                resolved_at: self.probe.probed_at,
            });
        }
    }

    /// The flapping rule, with hysteresis: opens above `open_above` failed
    /// with enough changes, closes at or below `close_at_or_below`.
    fn flapping(&mut self, s: &mut MonitorState) {
        let (t, rule) = (self.probe.probed_at, &self.policy.flapping);
        let horizon = t - dur(rule.window);
        let window: Vec<&Sample> = s.recent.iter().filter(|x| x.at > horizon).collect();
        let total = window.len();
        if total < rule.min_probes {
            return;
        }
        let failed = window.iter().filter(|x| !x.up).count();
        let share = failed as f64 / total as f64;
        let changes = window.windows(2).filter(|w| w[0].up != w[1].up).count();
        if s.flapping.is_none()
            && s.outage.is_none()
            && share > rule.open_above
            && changes >= rule.min_changes
            && !self.operator.in_maintenance(t)
        {
            let started = window.iter().find(|x| !x.up).map_or(t, |x| x.at);
            let incident = self.open(Severity::Low, IncidentKind::Flapping, started);
            s.flapping = Some(open_ref(&incident));
            self.events.push(Event::IncidentOpened {
                incident,
                reason: self.probe.reason,
            });
        } else if share <= rule.close_at_or_below {
            if let Some(open) = s.flapping.take() {
                s.buckets.clear();
                self.events.push(Event::IncidentResolved {
                    incident: open,
                    operator: s.operator.clone(),
                    resolved_at: t,
                });
            }
        }
    }

    /// The latency SLA as an alert: the window's percentile of timed up
    /// probes above the SLA opens a Low incident (not during an outage or
    /// maintenance); back at or below it, the incident is resolved.
    fn latency(&mut self, s: &mut MonitorState) {
        let (t, rule) = (self.probe.probed_at, &self.policy.latency);
        if !rule.enabled {
            return;
        }
        let horizon = t - dur(rule.window);
        let timed: Vec<&Sample> = s
            .recent
            .iter()
            .filter(|x| x.at > horizon && x.slow.is_some())
            .collect();
        if timed.len() < rule.min_probes {
            return;
        }
        let slow = timed.iter().filter(|x| x.slow == Some(true)).count();
        let broken = percentile_above_sla(slow, timed.len(), rule.percentile);
        if broken && s.latency.is_none() && s.outage.is_none() && !self.operator.in_maintenance(t) {
            let started = timed
                .iter()
                .find(|x| x.slow == Some(true))
                .map_or(t, |x| x.at);
            let incident = self.open(Severity::Low, IncidentKind::LatencySla, started);
            s.latency = Some(open_ref(&incident));
            self.events.push(Event::IncidentOpened {
                incident,
                reason: None,
            });
        } else if !broken {
            if let Some(open) = s.latency.take() {
                self.events.push(Event::IncidentResolved {
                    incident: open,
                    operator: s.operator.clone(),
                    resolved_at: t,
                });
            }
        }
    }

    /// The partial-outage rule: the portal answers, but an address of its
    /// name has failed for longer than `outage_after` (the 30 minutes of the
    /// whole portal's rule): a Low incident naming the addresses, resolved
    /// when every address answers again. Not during an outage or maintenance.
    fn addresses(&mut self, s: &mut MonitorState) {
        let t = self.probe.probed_at;
        let down: Vec<std::net::IpAddr> = self
            .probe
            .addresses
            .iter()
            .filter(|a| a.outcome == Outcome::Down)
            .map(|a| a.address)
            .collect();
        // An address no longer failing, or no longer in the answer, leaves.
        s.addresses_down.retain(|a| down.contains(&a.address));
        for address in down {
            if !s.addresses_down.iter().any(|a| a.address == address) {
                s.addresses_down.push(AddressDown { address, since: t });
            }
        }
        let limit = dur(self.policy.outage_after);
        let longest = s
            .addresses_down
            .iter()
            .filter(|a| t - a.since > limit)
            .map(|a| a.since)
            .min();
        match longest {
            Some(since)
                if self.probe.is_up()
                    && s.partial.is_none()
                    && s.outage.is_none()
                    && !self.operator.in_maintenance(t) =>
            {
                let incident = self.open(Severity::Low, IncidentKind::PartialOutage, since);
                s.partial = Some(open_ref(&incident));
                self.events.push(Event::IncidentOpened {
                    incident,
                    reason: None,
                });
            }
            _ if s.addresses_down.is_empty() => {
                if let Some(open) = s.partial.take() {
                    self.events.push(Event::IncidentResolved {
                        incident: open,
                        operator: s.operator.clone(),
                        resolved_at: t,
                    });
                }
            }
            _ => {}
        }
    }

    fn open(&self, severity: Severity, kind: IncidentKind, started_at: DateTime<Utc>) -> Incident {
        open_incident(
            self.operator,
            self.policy,
            severity,
            kind,
            started_at,
            self.probe.probed_at,
            self.probe,
        )
    }
}

/// Whether the nearest-rank `percentile` of `n` timings is above the SLA,
/// knowing only how many of them are (`slow`): the value at rank
/// ceil(p/100 x n) is above it exactly when more than n minus that rank are.
/// The monthly report's percentiles are nearest-rank too.
pub fn percentile_above_sla(slow: usize, n: usize, percentile: f64) -> bool {
    if n == 0 {
        return false;
    }
    let rank = ((percentile / 100.0) * n as f64)
        .ceil()
        .clamp(1.0, n as f64) as usize;
    slow > n - rank
}

fn bucket_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = BUCKET_MINUTES * 60;
    DateTime::from_timestamp(t.timestamp().div_euclid(secs) * secs, 0).unwrap_or(t)
}

/// Multi-window burn rates (docs/rules.md): counts probes outside maintenance
/// in 15-minute buckets and warns at most once per tier a day.
fn burn_rates(
    s: &mut MonitorState,
    probe: &ProbeResult,
    operator: &Operator,
    policy: &Policy,
    events: &mut Vec<Event>,
) {
    let t = probe.probed_at;
    if operator.in_maintenance(t) {
        return;
    }
    let start = bucket_start(t);
    match s.buckets.last_mut() {
        Some(b) if b.start == start => {
            if probe.is_up() {
                b.good += 1
            } else {
                b.bad += 1
            }
        }
        _ => s.buckets.push(Bucket {
            start,
            good: u32::from(probe.is_up()),
            bad: u32::from(!probe.is_up()),
        }),
    }
    let keep = t - Duration::hours(24);
    s.buckets
        .retain(|b| b.start + Duration::minutes(BUCKET_MINUTES) > keep);
    s.burn_warned.resize(policy.burn_tiers.len(), None);
    let allowed = (100.0 - policy.availability_target_percent) / 100.0;
    // Only burns no incident already covers, noticed while the portal answers:
    // an outage in progress is the 30-minute rule's business, flapping has
    // its own incident.
    if allowed <= 0.0 || s.outage.is_some() || s.flapping.is_some() || !probe.is_up() {
        return;
    }
    let window = |d: Duration| {
        let from = bucket_start(t - d + Duration::minutes(BUCKET_MINUTES));
        s.buckets
            .iter()
            .filter(|b| b.start >= from)
            .fold((0u32, 0u32), |(g, b), x| (g + x.good, b + x.bad))
    };
    for (i, tier) in policy.burn_tiers.iter().enumerate() {
        let (long, short) = (dur(tier.long), dur(tier.short));
        // At most one warning per tier a day: a portal that keeps burning is
        // told daily, not every window.
        if s.burn_warned[i].is_some_and(|w| t - w < long.max(Duration::hours(24))) {
            continue;
        }
        let (lg, lb) = window(long);
        let (sg, sb) = window(short);
        if lg + lb < policy.burn_min_probes {
            continue;
        }
        let long_burn = share(lb, lg + lb) / allowed;
        let short_burn = share(sb, sg + sb) / allowed;
        if long_burn >= tier.factor && short_burn >= tier.factor {
            s.burn_warned[i] = Some(t);
            events.push(Event::BudgetBurn {
                operator: s.operator.clone(),
                at: t,
                long_minutes: long.num_minutes(),
                short_minutes: short.num_minutes(),
                factor: tier.factor,
                long_burn,
                short_burn,
            });
        }
    }
}

/// `bad` of `total` as a fraction; nothing observed is no failure.
fn share(bad: u32, total: u32) -> f64 {
    if total == 0 {
        0.0
    } else {
        f64::from(bad) / f64::from(total)
    }
}

pub(crate) fn open_ref(i: &Incident) -> OpenRef {
    OpenRef {
        id: i.id.clone(),
        severity: i.severity,
        kind: i.kind,
        started_at: i.started_at,
        opened_at: i.opened_at,
    }
}

fn open_incident(
    operator: &Operator,
    policy: &Policy,
    severity: Severity,
    kind: IncidentKind,
    started_at: DateTime<Utc>,
    at: DateTime<Utc>,
    probe: &ProbeResult,
) -> Incident {
    let why = probe
        .reason
        .map_or("unknown".to_string(), |r| r.to_string());
    let summary = match kind {
        // "More than": the rule opens strictly after the limit (30:30, say),
        // and "for 30 minutes" read as exactly the limit.
        IncidentKind::PortalDown => format!(
            "{} MO Direct portal: expected response missing for more than {} minutes (since {}, last failure: {why})",
            operator.name,
            policy.outage_after.as_secs() / 60,
            started_at.format("%Y-%m-%d %H:%M:%SZ"),
        ),
        IncidentKind::PartialOutage => format!(
            "{} MO Direct portal answers, but not on every address: {} failing for more than {} minutes (of {} addresses)",
            operator.name,
            probe
                .addresses
                .iter()
                .filter(|a| a.outcome == Outcome::Down)
                .map(|a| format!("{} ({})", a.address, a.reason.map_or("unknown", |r| r.as_str())))
                .collect::<Vec<_>>()
                .join(", "),
            policy.outage_after.as_secs() / 60,
            probe.addresses.len(),
        ),
        IncidentKind::WalledGarden => format!(
            "{} MO Direct portal: not answered inside the operator's walled garden for more than {} minutes (its own agent {}, since {}, last failure: {why}), whatever the monitor's own locations see",
            operator.name,
            policy.outage_after.as_secs() / 60,
            probe.location.as_deref().unwrap_or("-"),
            started_at.format("%Y-%m-%d %H:%M:%SZ"),
        ),
        IncidentKind::LatencySla => format!(
            "{} MO Direct portal is slow: its p{:.0} latency over the last {} minutes is above the {} ms SLA (last probe: {} ms)",
            operator.name,
            policy.latency.percentile,
            policy.latency.window.as_secs() / 60,
            policy.latency_sla_ms,
            probe.latency_ms.map_or("-".to_string(), |ms| format!("{ms:.0}")),
        ),
        _ => format!(
            "{} MO Direct portal is flapping: more than {:.0}% of probes failed over the last {} minutes (last failure: {why})",
            operator.name,
            policy.flapping.open_above * 100.0,
            policy.flapping.window.as_secs() / 60,
        ),
    };
    Incident::open(
        Opening {
            form: IdForm::Monitored,
            operator: &operator.id,
            severity,
            kind,
            raised_by: Party::Team,
            started_at,
            opened_at: at,
            summary,
        },
        policy,
        &operator.calendar(),
    )
}

/// States for the tests of this crate and of the stores.
#[cfg(any(test, feature = "testing"))]
pub mod fixtures {
    use super::*;
    use crate::incident::incident_id;

    /// An event's short name in the tests' tables: `open:portal_down`,
    /// `resolve:flapping`, `suppressed`, `gap`, `burn:360`.
    pub fn short_name(e: &Event) -> String {
        match e {
            Event::IncidentOpened { incident, .. } => format!("open:{}", incident.kind.as_str()),
            Event::IncidentResolved { incident, .. } => {
                format!("resolve:{}", incident.kind.as_str())
            }
            Event::PageSuppressed { .. } => "suppressed".into(),
            Event::MonitorGap { .. } => "gap".into(),
            Event::DayClosed { .. } => "day".into(),
            Event::BudgetBurn { long_minutes, .. } => format!("burn:{long_minutes}"),
        }
    }

    /// The largest state a day can leave: the longest operator id, every
    /// window entry unlike its neighbour, the longest window the policy
    /// allows (`MAX_LATENCY_WINDOW`), every incident open, every field set. The stores add their keys to it; tests/limits.rs measures the
    /// stored item.
    pub fn worst_day_state(day: DateTime<Utc>) -> MonitorState {
        let at = |secs: i64| day + Duration::seconds(secs);
        let id = OperatorId::new("o".repeat(OperatorId::MAX_LEN)).expect("a valid id");
        let open = |kind| OpenRef {
            id: incident_id(&id, at(0), kind),
            severity: Severity::High,
            kind,
            started_at: at(0),
            opened_at: at(1830),
        };
        MonitorState {
            operator: id.clone(),
            last_probe_at: Some(at(86_370)),
            last_outcome: Some(Outcome::Down),
            last_reason: Some(FailureReason::Redirect),
            down_since: Some(at(84_000)),
            consecutive_successes: 0,
            outage: Some(open(IncidentKind::PortalDown)),
            flapping: Some(open(IncidentKind::Flapping)),
            latency: Some(open(IncidentKind::LatencySla)),
            partial: Some(open(IncidentKind::PartialOutage)),
            // A portal behind one address, probed from one location: the
            // fields for several (tests/limits.rs measures that case).
            addresses_down: vec![],
            votes: vec![],
            decided_through: None,
            location_seen: vec![],
            location_runs: vec![],
            path: None,
            suppressed_run: Some(at(84_000)),
            // An hour's window of changing verdicts, one of them late.
            recent: (0..120)
                .map(|i| Sample {
                    at: at(82_800 + i * 30 + i64::from(i == 30) * 7),
                    up: i % 4 != 0,
                    slow: [None, Some(true), Some(false), None][(i % 4) as usize],
                })
                .collect(),
            cert_expires_at: Some(at(90 * 86_400)),
            // 96 buckets, no two neighbours alike.
            buckets: (0..96)
                .map(|i| Bucket {
                    start: at(i * BUCKET_MINUTES * 60),
                    good: 30 - (i % 7) as u32 - 1,
                    bad: (i % 7) as u32 + 1,
                })
                .collect(),
            burn_warned: vec![Some(at(3600)), Some(at(7200))],
            day: Some(worst_day_summary(day)),
            witnesses: vec![],
            garden: None,
        }
    }

    /// A usual portal's state late in a day: one location, up, answering
    /// in 80 to 160 ms, its day's every round counted.
    pub fn usual_state(day: DateTime<Utc>) -> MonitorState {
        let op = OperatorId::new("contoso-mobile").unwrap_or_else(|_| unreachable!());
        let policy = Policy::default();
        let operator = Operator {
            id: op.clone(),
            name: "Contoso Mobile".into(),
            portal: crate::PortalCheck::new(
                "https://modirect.contoso.example/"
                    .parse()
                    .unwrap_or_else(|_| unreachable!()),
            ),
            contacts: vec![],
            timezone: chrono_tz::UTC,
            holidays: Default::default(),
            workdays: crate::calendar::default_workdays(),
            maintenance: vec![],
            api_clients: vec![],
            escalation_phones: vec![],
            agents: vec![],
        };
        let mut s = MonitorState::new(op.clone());
        for i in 0..2_879i64 {
            let p = ProbeResult {
                operator: op.clone(),
                probed_at: day + Duration::seconds(30 * i) + Duration::milliseconds(137),
                outcome: Outcome::Up,
                reason: None,
                status: Some(200),
                latency_ms: Some(80.0 * 2f64.powf((i % 97) as f64 / 97.0)),
                phases: None,
                url: None,
                redirects: 0,
                cert_expires_at: Some(day + Duration::days(60)),
                detail: None,
                cpu_wait_ms: Some(0.4),
                addresses: vec![],
                location: None,
                slot: None,
            };
            if let Evaluation::Applied { state, .. } =
                evaluate(&s, &p, &operator, &policy, &Default::default())
            {
                s = state;
            }
        }
        s
    }

    /// A day's open summary near its end: every round timed, spread over
    /// 40 ms to 4 s (far wider than a healthy portal's), a certificate.
    pub fn worst_day_summary(day: DateTime<Utc>) -> crate::summary::DaySummary {
        let mut d = crate::summary::DaySummary::new(day.date_naive());
        for i in 0..2_879u32 {
            d.latency
                .add(40.0 * 100f64.powf(f64::from(i % 240) / 240.0));
        }
        (d.up_s, d.down_s, d.rounds, d.rounds_down, d.probes) = (84_000, 2_370, 2_879, 79, 2_879);
        (d.over_sla, d.untrusted) = (1_400, 3);
        d.cert_expires_at = Some(day + Duration::days(90));
        d.last_slot = Some(day + Duration::seconds(86_370));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MaintenanceWindow, PortalCheck};

    const T0: &str = "2026-11-27T10:00:00Z";

    fn operator() -> Operator {
        Operator {
            id: OperatorId::new("contoso").unwrap(),
            name: "Contoso Mobile".into(),
            portal: PortalCheck::new("https://portal.contoso.example/".parse().unwrap()),
            contacts: vec![crate::ids::EmailAddress::parse("noc@contoso.example").unwrap()],
            timezone: chrono_tz::Tz::UTC,
            holidays: Default::default(),
            workdays: crate::calendar::default_workdays(),
            maintenance: vec![],
            api_clients: vec![],
            escalation_phones: vec![],
            agents: vec![],
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        T0.parse::<DateTime<Utc>>().unwrap() + Duration::seconds(secs)
    }

    fn probe(secs: i64, up: bool) -> ProbeResult {
        crate::testing::probe_at("contoso", at(secs), up)
    }

    /// Runs a script of (seconds after T0, up?) and returns the state and the
    /// events as (seconds, short name) pairs.
    fn run(
        op: &Operator,
        policy: &Policy,
        script: &[(i64, bool)],
    ) -> (MonitorState, Vec<(i64, String)>) {
        let probes: Vec<ProbeResult> = script.iter().map(|&(secs, up)| probe(secs, up)).collect();
        run_probes(op, policy, &probes)
    }

    fn run_probes(
        op: &Operator,
        policy: &Policy,
        probes: &[ProbeResult],
    ) -> (MonitorState, Vec<(i64, String)>) {
        let mut s = MonitorState::new(op.id.clone());
        let mut out = Vec::new();
        for p in probes {
            if let Evaluation::Applied { state, events } =
                evaluate(&s, p, op, policy, &crate::BusinessCalendar::default())
            {
                s = state;
                for e in events {
                    out.push(((e.at() - at(0)).num_seconds(), fixtures::short_name(&e)));
                }
            }
        }
        (s, out)
    }

    /// Failures every 30 s from 0 through `last` seconds inclusive.
    fn failing(last: i64) -> Vec<(i64, bool)> {
        (0..=last / 30).map(|i| (i * 30, false)).collect()
    }

    fn ev(list: &[(i64, &str)]) -> Vec<(i64, String)> {
        list.iter().map(|(s, n)| (*s, n.to_string())).collect()
    }

    #[test]
    fn the_thirty_minute_rule() {
        let op = operator();
        let p = Policy::default();
        type Case = (&'static str, Vec<(i64, bool)>, Vec<(i64, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                "29:59 of failures does not page",
                {
                    let mut s = failing(1770);
                    s.push((1799, false));
                    s
                },
                vec![],
            ),
            ("exactly 30:00 does not page", failing(1800), vec![]),
            (
                "30:30 pages",
                failing(1830),
                vec![(1830, "open:portal_down")],
            ),
            (
                "a result at 30:01 answers the 30:00 slot: no page",
                {
                    let mut s = failing(1770);
                    s.push((1801, false));
                    s
                },
                vec![],
            ),
            (
                "the 30:30 slot pages, even stamped a second into it",
                {
                    let mut s = failing(1800);
                    s.push((1831, false));
                    s
                },
                vec![(1830, "open:portal_down")],
            ),
            (
                "one success breaks the run",
                {
                    let mut s = failing(1200);
                    s.push((1230, true));
                    s.extend((42..=103).map(|i| (i * 30, false)));
                    s
                },
                vec![(3090, "open:portal_down")],
            ),
            (
                "pages once for a long outage",
                failing(7200),
                vec![(1830, "open:portal_down")],
            ),
        ];
        for (name, script, want) in cases {
            let (_, got) = run(&op, &p, &script);
            assert_eq!(got, ev(&want), "{name}");
        }
    }

    #[test]
    fn recovery_needs_consecutive_successes() {
        let op = operator();
        let p = Policy::default();
        let mut script = failing(1830);
        script.push((1860, true));
        script.push((1890, false)); // a lucky probe does not close it
        script.push((1920, true));
        script.push((1950, true)); // second in a row: resolved
        script.push((1980, false)); // a fresh failure starts a new run, no page
        let (s, got) = run(&op, &p, &script);
        assert_eq!(
            got,
            ev(&[(1830, "open:portal_down"), (1950, "resolve:portal_down")])
        );
        assert_eq!(s.down_since, Some(at(1980)));

        let three = Policy {
            recovery_successes: 3,
            ..Policy::default()
        };
        let mut script = failing(1830);
        script.extend([(1860, true), (1890, true), (1920, true)]);
        let (_, got) = run(&op, &three, &script);
        assert_eq!(
            got,
            ev(&[(1830, "open:portal_down"), (1920, "resolve:portal_down")])
        );
    }

    #[test]
    fn duplicates_and_out_of_order_change_nothing() {
        let op = operator();
        let p = Policy::default();
        let (s, _) = run(&op, &p, &failing(1830));
        for secs in [1830, 1800, 0] {
            assert_eq!(
                evaluate(
                    &s,
                    &probe(secs, true),
                    &op,
                    &p,
                    &crate::BusinessCalendar::default()
                ),
                Evaluation::Stale,
                "{secs}"
            );
            assert_eq!(
                evaluate(
                    &s,
                    &probe(secs, false),
                    &op,
                    &p,
                    &crate::BusinessCalendar::default()
                ),
                Evaluation::Stale,
                "{secs}"
            );
        }
        // A replayed sequence on the same state adds no second page.
        let mut script = failing(1830);
        script.extend(failing(1830));
        let (_, got) = run(&op, &p, &script);
        assert_eq!(got, ev(&[(1830, "open:portal_down")]));
    }

    #[test]
    fn a_gap_is_unknown_not_down() {
        let op = operator();
        let p = Policy::default();
        // 10 minutes of failures, 25 minutes of silence, then failures: the run
        // restarts after the gap, so no page until 30 minutes after it.
        let mut script = failing(600);
        script.extend((0..=61).map(|i| (2100 + i * 30, false)));
        let (_, got) = run(&op, &p, &script);
        assert_eq!(got, ev(&[(2100, "gap"), (3930, "open:portal_down")]));
        // A silence no longer than blind_after (5 min) between slots is not
        // a gap; 5:30 is.
        let (_, got) = run(&op, &p, &[(0, true), (300, true), (601, true)]);
        assert_eq!(got, ev(&[]));
        let (_, got) = run(&op, &p, &[(0, true), (300, true), (631, true)]);
        assert_eq!(got, ev(&[(630, "gap")]));
    }

    #[test]
    fn maintenance_suppresses_pages_inside_the_window_only() {
        let mut op = operator();
        op.maintenance.push(MaintenanceWindow {
            start: at(0),
            end: at(3600),
            announced_at: None,
            description: None,
        });
        let p = Policy::default();
        // Down for 50 minutes inside the window, recovering inside it: never paged.
        let mut script = failing(3000);
        script.extend([(3030, true), (3060, true)]);
        let (_, got) = run(&op, &p, &script);
        assert_eq!(got, ev(&[(1830, "suppressed")]));
        // Overrunning the window: the first failure at its end pages at once.
        let (_, got) = run(&op, &p, &failing(3700));
        assert_eq!(got, ev(&[(1830, "suppressed"), (3600, "open:portal_down")]));
        // A window elsewhere in time changes nothing.
        let mut later = operator();
        later.maintenance.push(MaintenanceWindow {
            start: at(7200),
            end: at(9000),
            announced_at: None,
            description: None,
        });
        let (_, got) = run(&later, &p, &failing(1830));
        assert_eq!(got, ev(&[(1830, "open:portal_down")]));
    }

    #[test]
    fn flapping_opens_a_low_incident_and_closes_with_hysteresis() {
        let op = operator();
        let p = Policy::default();
        // Two failures, one success, for an hour: 67% failed, never 30 minutes in a row.
        let mut script: Vec<(i64, bool)> = (0..120).map(|i| (i * 30, i % 3 == 2)).collect();
        let (s, got) = run(&op, &p, &script);
        // The 20th probe (at 570 s) is the first with enough samples.
        assert_eq!(got, ev(&[(570, "open:flapping")]));
        assert!(s.outage.is_none());
        // Healthy for 30 minutes: the share falls to 10% or below and it closes.
        script.extend((120..200).map(|i| (i * 30, true)));
        let (s, got) = run(&op, &p, &script);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1].1, "resolve:flapping");
        assert!(s.flapping.is_none());
        // A solid outage is an outage, not flapping, however many probes failed.
        assert_eq!(run(&op, &p, &failing(1500)).1, vec![]);
        // Exactly half failing is not more than half: not flapping.
        let half: Vec<(i64, bool)> = (0..120).map(|i| (i * 30, i % 2 == 0)).collect();
        // (Half the probes failing is still a budget burn, warned about once.)
        let got = run(&op, &p, &half).1;
        assert!(got.iter().all(|(_, n)| n.starts_with("burn")), "{got:?}");
    }

    #[test]
    fn a_percentile_is_above_the_sla_when_enough_timings_are() {
        // (slow, of n, percentile, above)
        let table = [
            (0, 0, 95.0, false),
            (3, 60, 95.0, false),
            (4, 60, 95.0, true),
            (1, 20, 95.0, false),
            (2, 20, 95.0, true),
            (1, 1, 95.0, true),
            (30, 60, 50.0, false),
            (31, 60, 50.0, true),
            (1, 100, 99.0, false),
            (2, 100, 99.0, true),
        ];
        for (slow, n, q, above) in table {
            assert_eq!(
                percentile_above_sla(slow, n, q),
                above,
                "{slow} of {n} at p{q}"
            );
        }
    }

    /// Up probes every 30 s from `from` for `count` probes, each `ms` long
    /// (with `cpu_wait` of the prober's own CPU wait).
    fn timed(from: i64, count: i64, ms: f64, cpu_wait: Option<f64>) -> Vec<ProbeResult> {
        (0..count)
            .map(|i| {
                let mut p = probe(from + i * 30, true);
                p.latency_ms = Some(ms);
                p.cpu_wait_ms = cpu_wait;
                p
            })
            .collect()
    }

    /// The latency SLA as an alert: a portal up but slow for long enough
    /// opens one Low incident, resolved when the percentile holds again.
    #[test]
    fn a_slow_portal_opens_a_low_latency_incident_and_recovers() {
        let op = operator();
        let p = Policy::default();
        let cat = |parts: &[Vec<ProbeResult>]| parts.concat();
        let mut in_maintenance = op.clone();
        in_maintenance.maintenance = vec![MaintenanceWindow {
            start: at(0),
            end: at(7200),
            announced_at: None,
            description: None,
        }];
        let mut off = p.clone();
        off.latency.enabled = false;
        // (name, operator, policy, probes, events)
        type Case = (
            &'static str,
            Operator,
            Policy,
            Vec<ProbeResult>,
            Vec<(i64, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            // The 20th slow probe (570 s) is the first with enough timings.
            (
                "slow from the start",
                op.clone(),
                p.clone(),
                timed(0, 40, 900.0, None),
                vec![(570, "open:latency_sla")],
            ),
            (
                "at the SLA is within it",
                op.clone(),
                p.clone(),
                timed(0, 40, 400.0, None),
                vec![],
            ),
            // 3 of 60 slow is within a p95; the 4th slow breaks it.
            (
                "3 slow in the window hold, 4 do not",
                op.clone(),
                p.clone(),
                cat(&[
                    timed(0, 57, 100.0, None),
                    timed(1710, 3, 900.0, None),
                    timed(1800, 1, 900.0, None),
                ]),
                vec![(1800, "open:latency_sla")],
            ),
            // Timings holding the prober's own CPU wait prove nothing.
            (
                "untrusted timings do not count",
                op.clone(),
                p.clone(),
                timed(0, 40, 900.0, Some(50.0)),
                vec![],
            ),
            (
                "not during maintenance",
                in_maintenance,
                p.clone(),
                timed(0, 40, 900.0, None),
                vec![],
            ),
            (
                "off when disabled",
                op.clone(),
                off,
                timed(0, 40, 900.0, None),
                vec![],
            ),
            // Slow for 20 minutes, then fast: at 2880 s the last 30 minutes
            // hold 3 slow of 60 timings, within a p95, and it is resolved.
            (
                "recovery",
                op.clone(),
                p.clone(),
                cat(&[timed(0, 40, 900.0, None), timed(1200, 60, 100.0, None)]),
                vec![(570, "open:latency_sla"), (2880, "resolve:latency_sla")],
            ),
        ];
        for (name, o, policy, probes, want) in cases {
            let (s, got) = run_probes(&o, &policy, &probes);
            let got: Vec<(i64, String)> = got
                .into_iter()
                .filter(|(_, n)| !n.starts_with("burn"))
                .collect();
            assert_eq!(got, ev(&want), "{name}");
            assert_eq!(s.latency.is_some(), want.len() % 2 == 1, "{name}");
        }
        // The incident says what was broken and is the operator's to answer.
        let (_, events) = match evaluate(
            &MonitorState::new(op.id.clone()),
            &timed(0, 1, 900.0, None)[0],
            &op,
            &p,
            &crate::BusinessCalendar::default(),
        ) {
            Evaluation::Applied { state, events } => (state, events),
            Evaluation::Stale => unreachable!(),
        };
        assert!(events.is_empty(), "one slow probe is no incident");
    }

    /// Probes every 30 s from `from` for `count` probes of a name with two
    /// addresses, the first answering, the second `second_up`.
    fn two_addresses(from: i64, count: i64, second_up: bool) -> Vec<ProbeResult> {
        use crate::probe::AddressResult;
        (0..count)
            .map(|i| {
                let mut p = probe(from + i * 30, true);
                p.addresses = vec![
                    AddressResult {
                        address: "203.0.113.7".parse().unwrap(),
                        outcome: Outcome::Up,
                        reason: None,
                        latency_ms: Some(100.0),
                    },
                    AddressResult {
                        address: "2001:db8::7".parse().unwrap(),
                        outcome: if second_up {
                            Outcome::Up
                        } else {
                            Outcome::Down
                        },
                        reason: (!second_up).then_some(FailureReason::Connect),
                        latency_ms: Some(100.0),
                    },
                ];
                p
            })
            .collect()
    }

    /// A portal down for half its users (one address of two dead) answers
    /// every probe: after the outage limit on that address, a Low incident
    /// names it; it is resolved when the address answers again.
    /// Without voting locations, an operator's agent results count for
    /// nothing: pushed "up" between the monitor's failures, they would break
    /// the run and hide the outage. The monitor's own results still count.
    #[test]
    fn an_operators_agent_cannot_break_the_monitors_run_of_failures() {
        let mut op = operator();
        op.agents = vec!["agent-contoso-1".into()];
        let p = Policy::default();
        let mut probes = Vec::new();
        for i in 0..=61 {
            let mut down = probe(i * 30, false);
            down.location = Some("us-east-1".into());
            let mut fake = probe(i * 30 + 1, true);
            fake.location = Some("agent-contoso-1".into());
            probes.extend([down, fake]);
        }
        let (s, got) = run_probes(&op, &p, &probes);
        assert_eq!(got, ev(&[(1830, "open:portal_down")]));
        assert!(s.outage.is_some());
    }

    #[test]
    fn a_dead_address_behind_a_live_name_is_a_partial_outage() {
        let op = operator();
        let p = Policy::default();
        let cat = |parts: &[Vec<ProbeResult>]| parts.concat();
        let mut in_maintenance = op.clone();
        in_maintenance.maintenance = vec![MaintenanceWindow {
            start: at(0),
            end: at(7200),
            announced_at: None,
            description: None,
        }];
        let mut one_address = two_addresses(1830, 3, true);
        for p in &mut one_address {
            p.addresses.clear();
        }
        // (name, operator, probes, events)
        type Case = (
            &'static str,
            Operator,
            Vec<ProbeResult>,
            Vec<(i64, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (
                "exactly 30:00 is not yet",
                op.clone(),
                two_addresses(0, 61, false),
                vec![],
            ),
            (
                "30:30 opens it",
                op.clone(),
                two_addresses(0, 62, false),
                vec![(1830, "open:partial_outage")],
            ),
            (
                "the address answers again",
                op.clone(),
                cat(&[two_addresses(0, 62, false), two_addresses(1860, 2, true)]),
                vec![
                    (1830, "open:partial_outage"),
                    (1860, "resolve:partial_outage"),
                ],
            ),
            (
                "the name stops listing the dead address",
                op.clone(),
                cat(&[two_addresses(0, 62, false), one_address]),
                vec![
                    (1830, "open:partial_outage"),
                    (1830 + 30, "resolve:partial_outage"),
                ],
            ),
            (
                "an address failing on and off is never 30 minutes in a row",
                op.clone(),
                (0..120)
                    .flat_map(|i| two_addresses(i * 30, 1, i % 10 == 9))
                    .collect(),
                vec![],
            ),
            (
                "not during maintenance",
                in_maintenance,
                two_addresses(0, 62, false),
                vec![],
            ),
        ];
        for (name, o, probes, want) in cases {
            let (s, got) = run_probes(&o, &p, &probes);
            let got: Vec<(i64, String)> = got
                .into_iter()
                .filter(|(_, n)| !n.starts_with("burn"))
                .collect();
            assert_eq!(got, ev(&want), "{name}");
            assert_eq!(s.partial.is_some(), want.len() % 2 == 1, "{name}");
        }
        // The incident names the failing address and starts at its first failure.
        let mut s = MonitorState::new(op.id.clone());
        let mut opened = None;
        for pr in two_addresses(0, 62, false) {
            if let Evaluation::Applied { state, events } =
                evaluate(&s, &pr, &op, &p, &crate::BusinessCalendar::default())
            {
                s = state;
                opened = opened.or(events.into_iter().find_map(|e| match e {
                    Event::IncidentOpened { incident, .. } => Some(incident),
                    _ => None,
                }));
            }
        }
        let incident = opened.expect("opened");
        assert_eq!(
            (incident.severity, incident.started_at),
            (Severity::Low, at(0))
        );
        assert!(
            incident.summary.contains("2001:db8::7 (connect)"),
            "{}",
            incident.summary
        );
        // Written and read back, the addresses and the incident stay.
        let back: MonitorState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    /// The burn events of a script, each as (seconds, long window minutes,
    /// long burn, short burn).
    fn burns(op: &Operator, p: &Policy, script: &[(i64, bool)]) -> Vec<(i64, i64, f64, f64)> {
        let mut s = MonitorState::new(op.id.clone());
        let mut out = Vec::new();
        for &(secs, up) in script {
            if let Evaluation::Applied { state, events } = evaluate(
                &s,
                &probe(secs, up),
                op,
                p,
                &crate::BusinessCalendar::default(),
            ) {
                s = state;
                for e in events {
                    if let Event::BudgetBurn {
                        at: when,
                        long_minutes,
                        long_burn,
                        short_burn,
                        ..
                    } = e
                    {
                        out.push((
                            (when - at(0)).num_seconds(),
                            long_minutes,
                            long_burn,
                            short_burn,
                        ));
                    }
                }
            }
        }
        out
    }

    fn only_burns() -> Policy {
        Policy {
            flapping: crate::config::FlappingPolicy {
                open_above: 0.9,
                ..Default::default()
            },
            ..Policy::default()
        }
    }

    #[test]
    fn burn_rates_are_the_failed_share_over_what_the_target_allows() {
        let op = operator();
        // 3 failures in every 30 probes (10%) against 99.9% (0.1% allowed):
        // a burn of exactly 100 in both windows of both tiers, at the 60th
        // probe (the minimum), and again exactly a day later, not before.
        let script: Vec<(i64, bool)> = (0..=3000).map(|i| (i * 30, i % 10 != 5)).collect();
        let got = burns(&op, &only_burns(), &script);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let when: Vec<(i64, i64)> = got.iter().map(|&(t, m, _, _)| (t, m)).collect();
        assert_eq!(
            when,
            [
                (1770, 360),
                (1770, 1440),
                (1770 + 86_400, 360),
                (1770 + 86_400, 1440)
            ],
            "{got:?}"
        );
        assert!(
            got.iter()
                .all(|&(_, _, l, s)| close(l, 100.0) && close(s, 100.0)),
            "{got:?}"
        );
        // A 99% target allows 1%: the same failures burn at 10.
        let lax = Policy {
            availability_target_percent: 99.0,
            ..only_burns()
        };
        let got = burns(&op, &lax, &script[..60]);
        assert!(close(got[0].2, 10.0) && close(got[0].3, 10.0), "{got:?}");
    }

    #[test]
    fn a_burn_needs_both_windows_and_counts_whole_buckets() {
        let op = operator();
        // 10 failures in the first 15 minutes, healthy after; a burn is
        // judged only from the 90th probe (10:44:30). The 6-hour tier's long
        // window burns (10/90 = 111x), its 30-minute short window (the
        // buckets from 10:15) holds no failure: no warning from it. The day
        // tier's 2-hour short window holds them all: it warns, at 111x.
        let p = Policy {
            burn_min_probes: 90,
            ..only_burns()
        };
        let script: Vec<(i64, bool)> = (0..100)
            .map(|i| (i * 30, !(i < 30 && i % 3 == 0)))
            .collect();
        let got = burns(&op, &p, &script);
        assert_eq!(got.len(), 1, "{got:?}");
        let (t, minutes, long, short) = got[0];
        assert_eq!((t, minutes), (2670, 1440));
        assert!(
            (long - 1000.0 / 9.0).abs() < 1e-9 && (short - long).abs() < 1e-9,
            "{got:?}"
        );
        // One probe fewer than the minimum: nothing yet.
        assert!(burns(&op, &p, &script[..89]).is_empty());
    }

    #[test]
    fn buckets_hold_a_quarter_hour_each_for_a_day() {
        let op = operator();
        let p = only_burns();
        // From 09:45 to the next day's 10:00, 3 failures in every 30 probes.
        let script: Vec<(i64, bool)> = (-30..=2880).map(|i| (i * 30, i % 10 != 5)).collect();
        let (s, _) = run(&op, &p, &script);
        // The 09:45 bucket ended exactly a day before the last probe: gone.
        assert_eq!(s.buckets.len(), 97);
        assert_eq!(s.buckets[0].start, at(0));
        assert!(
            s.buckets[..96].iter().all(|b| (b.good, b.bad) == (27, 3)),
            "{:?}",
            &s.buckets[..3]
        );
        assert_eq!((s.buckets[96].good, s.buckets[96].bad), (1, 0));
    }

    #[test]
    fn a_flapping_incident_starts_at_the_windows_first_failure() {
        let op = operator();
        let p = Policy::default();
        // Up, up, then two failures and a success, over and over.
        let script: Vec<(i64, bool)> = (0..40).map(|i| (i * 30, i < 2 || i % 3 == 1)).collect();
        let mut s = MonitorState::new(op.id.clone());
        let mut opened = None;
        for &(secs, up) in &script {
            if let Evaluation::Applied { state, events } = evaluate(
                &s,
                &probe(secs, up),
                &op,
                &p,
                &crate::BusinessCalendar::default(),
            ) {
                s = state;
                for e in events {
                    if let Event::IncidentOpened { incident, .. } = e {
                        opened.get_or_insert(incident);
                    }
                }
            }
        }
        let incident = opened.expect("flapping");
        assert_eq!(incident.kind, IncidentKind::Flapping);
        assert_eq!(
            incident.started_at,
            at(60),
            "the first failure, not the first probe"
        );
    }

    #[test]
    fn scattered_failures_warn_once_per_tier_when_the_budget_burns() {
        let op = operator();
        let p = Policy::default();
        // One failure every 5 minutes (10% of probes): 100x the 0.1% a month
        // allows, yet never 30 minutes down and well under half failing, so
        // neither an outage nor flapping; the bar is raised anyway to look
        // at burn rates alone.
        let p = Policy {
            flapping: crate::config::FlappingPolicy {
                open_above: 0.9,
                ..Default::default()
            },
            ..p
        };
        let script: Vec<(i64, bool)> = (0..240).map(|i| (i * 30, i % 10 != 5)).collect();
        let (s, got) = run(&op, &p, &script);
        let burns: Vec<_> = got
            .iter()
            .filter(|(_, n)| n.starts_with("burn"))
            .cloned()
            .collect();
        // 60 probes are needed first (30 minutes); then both tiers fire, once.
        assert_eq!(
            burns,
            ev(&[(1770, "burn:360"), (1770, "burn:1440")]),
            "{got:?}"
        );
        assert!(s.buckets.len() <= 97);
        // Healthy probes only: nothing.
        let healthy: Vec<(i64, bool)> = (0..240).map(|i| (i * 30, true)).collect();
        assert!(run(&op, &p, &healthy).1.is_empty());
        // Inside maintenance: not counted.
        let mut quiet = operator();
        quiet.maintenance.push(MaintenanceWindow {
            start: at(0),
            end: at(7200),
            announced_at: None,
            description: None,
        });
        assert!(run(&quiet, &p, &script)
            .1
            .iter()
            .all(|(_, n)| !n.starts_with("burn")));
    }

    #[test]
    fn state_round_trips_compactly() {
        let op = operator();
        let script: Vec<(i64, bool)> = (0..2880).map(|i| (i * 30, i % 7 != 3)).collect();
        let (s, _) = run(&op, &Policy::default(), &script);
        let json = serde_json::to_string(&s).unwrap();
        let back: MonitorState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(
            json.len() < 3000,
            "a day of probes keeps the state small: {} bytes",
            json.len()
        );
        eprintln!("state after a day: {} bytes of JSON: {json}", json.len());
    }

    #[test]
    fn a_state_in_the_first_format_still_reads() {
        let old = r#"{"operator":"contoso","last_probe_at":"2026-11-27T10:30:30Z","last_outcome":"down","last_reason":"timeout","down_since":"2026-11-27T10:00:00Z","consecutive_successes":0,"outage":{"id":"contoso-20261127T100000Z-portal_down","severity":"high","kind":"portal_down","started_at":"2026-11-27T10:00:00Z","opened_at":"2026-11-27T10:30:30Z"},"flapping":null,"suppressed_run":null,"recent":"1795773600d,1795773630d","cert_expires_at":null,"buckets":"1795773600:0:2","burn_warned":[null,null]}"#;
        let s: MonitorState = serde_json::from_str(old).unwrap();
        assert_eq!(
            s.outage.as_ref().map(|o| o.id.as_str()),
            Some("contoso-20261127T100000Z-portal_down")
        );
        assert_eq!(s.recent.len(), 2);
        assert_eq!((s.buckets[0].good, s.buckets[0].bad), (0, 2));
        // Written again, it takes the short form and reads back the same.
        let again = serde_json::to_string(&s).unwrap();
        assert!(
            again.contains(r#""outage":"portal_down/high/1795773600/1795775430""#),
            "{again}"
        );
        assert_eq!(serde_json::from_str::<MonitorState>(&again).unwrap(), s);
    }

    /// The worst day's state, its open day's timings spread over two
    /// decades, takes two write units; a usual portal's (timings within
    /// a factor of two, one location, no incident) stays within one.
    #[test]
    fn the_worst_day_stays_within_two_write_units_and_a_usual_one_within_one() {
        let s = fixtures::worst_day_state(at(0));
        let json = serde_json::to_string(&s).unwrap();
        let back: MonitorState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        // The store adds its keys (tests/limits.rs measures the items).
        assert!(json.len() <= 1_900, "{} bytes: {json}", json.len());
        eprintln!("the worst day: {} bytes of JSON", json.len());
        let usual = fixtures::usual_state(at(0));
        let json = serde_json::to_string(&usual).unwrap();
        let back: MonitorState = serde_json::from_str(&json).unwrap();
        assert_eq!(back.day, usual.day);
        assert!(json.len() <= 900, "{} bytes: {json}", json.len());
        eprintln!("a usual day: {} bytes of JSON", json.len());
    }

    #[test]
    fn incidents_carry_their_deadlines() {
        let op = operator();
        let p = Policy::default();
        let s = run(&op, &p, &failing(1800)).0;
        match evaluate(
            &s,
            &probe(1830, false),
            &op,
            &p,
            &crate::BusinessCalendar::default(),
        ) {
            Evaluation::Applied { events, .. } => match &events[..] {
                [Event::IncidentOpened { incident, reason }] => {
                    assert_eq!(incident.severity, Severity::High);
                    assert_eq!(incident.started_at, at(0));
                    assert_eq!(incident.opened_at, at(1830));
                    assert_eq!(incident.initial_response_due, at(1830 + 3600));
                    assert_eq!(incident.id, "contoso-20261127T100000Z-portal_down");
                    assert_eq!(*reason, Some(FailureReason::Timeout));
                    // Opened at 30:30: "more than", never "for 30 minutes".
                    assert!(
                        incident
                            .summary
                            .contains("missing for more than 30 minutes"),
                        "{}",
                        incident.summary
                    );
                }
                other => panic!("unexpected {other:?}"),
            },
            Evaluation::Stale => panic!("stale"),
        }
        // Low on a Friday (T0 is Friday 10:00 UTC): due Monday 10:00-ish.
        let script: Vec<(i64, bool)> = (0..20).map(|i| (i * 30, i % 3 == 2)).collect();
        let mut st = MonitorState::new(op.id.clone());
        let mut opened = None;
        for (secs, up) in script {
            if let Evaluation::Applied { state, events } = evaluate(
                &st,
                &probe(secs, up),
                &op,
                &p,
                &crate::BusinessCalendar::default(),
            ) {
                st = state;
                for e in events {
                    if let Event::IncidentOpened { incident, .. } = e {
                        opened = Some(incident);
                    }
                }
            }
        }
        let low = opened.expect("flapping incident");
        assert_eq!(low.severity, Severity::Low);
        assert_eq!(
            low.initial_response_due,
            "2026-11-30T10:09:30Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
