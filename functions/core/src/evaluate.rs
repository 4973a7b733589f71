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

mod burn;
mod rules;
mod state;
pub use burn::percentile_above_sla;
use burn::*;
use rules::*;
pub use state::*;

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

/// States for the tests of this crate and of the stores.
#[cfg(any(test, feature = "testing"))]
pub mod fixtures;

#[cfg(test)]
mod tests;
