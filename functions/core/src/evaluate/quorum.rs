//! Several locations, one verdict a round. Each location's probe result is a
//! vote for the round its time falls in (the slot: 10:30:00, 10:30:30); a
//! round is decided once every expected location has voted, or once a vote
//! arrives at least `grace` after the round's end. Its verdict is down when
//! the quorum of the locations that voted saw it down; with fewer than
//! `min_locations` votes the round is unknown, never down. The rules (the
//! 30-minute clock, recovery, flapping, maintenance, latency) then run on the
//! verdicts, at the slot's time: exactly 30:00 of down rounds does not page,
//! the 30:30 round does, whatever the votes' own milliseconds.
//!
//! Streams redeliver and reorder: a vote for a round already decided, a
//! second vote of one location for one round, or a vote from a location
//! nobody expects changes nothing (`Evaluation::Stale`).

use super::{dur, evaluate_round, open_day, open_ref, Evaluation, Event, MonitorState};
use crate::config::{Operator, Policy};
use crate::incident::{IdForm, Incident, IncidentKind, Opening, Party, Severity};
use crate::probe::{AddressResult, FailureReason, Outcome, ProbeResult};
use crate::summary;
use crate::BusinessCalendar;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// One location's vote: everything a round's verdict needs of its probe,
/// so a verdict carries what a single location's result would (the rules
/// on addresses and certificates run on verdicts alike).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub slot: DateTime<Utc>,
    pub location: String,
    pub up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_wait_ms: Option<f64>,
    /// Each address's outcome (its timing is not kept: no rule reads it).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "vote_addresses"
    )]
    pub addresses: Vec<AddressResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
}

/// A vote's addresses as short strings: `203.0.113.7` answered,
/// `2001:db8::7!connect` failed for that reason. Pending votes are written
/// with the state on every batch.
mod vote_addresses {
    use crate::probe::{AddressResult, FailureReason, Outcome};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[AddressResult], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|a| match (a.outcome, a.reason) {
            (Outcome::Down, Some(r)) => format!("{}!{}", a.address, r.as_str()),
            _ => a.address.to_string(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AddressResult>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                let (ip, reason) = match text.split_once('!') {
                    Some((ip, r)) => {
                        let r: FailureReason =
                            serde_json::from_value(serde_json::Value::String(r.into()))
                                .map_err(D::Error::custom)?;
                        (ip, Some(r))
                    }
                    None => (text.as_str(), None),
                };
                Ok(AddressResult {
                    address: ip.parse().map_err(D::Error::custom)?,
                    outcome: if reason.is_some() {
                        Outcome::Down
                    } else {
                        Outcome::Up
                    },
                    reason,
                    latency_ms: None,
                })
            })
            .collect()
    }
}

/// The free text a pending vote keeps (the probe record keeps it whole, as
/// evidence): votes wait in the operator's state, written on every batch,
/// and a portal chooses its error texts and redirect targets.
pub const VOTE_TEXT_BYTES: usize = 96;

impl Vote {
    /// `probe` as `location`'s vote for the round at `slot`, its URL and
    /// detail cut to `VOTE_TEXT_BYTES`.
    pub fn of(probe: &ProbeResult, slot: DateTime<Utc>, location: String) -> Self {
        let cut = |text: &Option<String>| {
            text.clone().map(|mut t| {
                crate::probe::truncate(&mut t, VOTE_TEXT_BYTES);
                t
            })
        };
        Self {
            slot,
            location,
            up: probe.is_up(),
            reason: probe.reason,
            status: probe.status,
            latency_ms: probe.latency_ms,
            cpu_wait_ms: probe.cpu_wait_ms,
            addresses: probe
                .addresses
                .iter()
                .map(|a| AddressResult {
                    latency_ms: None,
                    ..a.clone()
                })
                .collect(),
            url: cut(&probe.url),
            detail: cut(&probe.detail),
            cert_expires_at: probe.cert_expires_at,
        }
    }
}

/// A location and a time: since when it fails while the quorum sees the
/// portal up (`location_runs`), or when it last voted (`location_seen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationRun {
    pub location: String,
    pub since: DateTime<Utc>,
}

/// The round a time falls in: its start, on the probe interval's grid.
pub fn slot_of(t: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = interval.num_milliseconds().max(1);
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(step)).unwrap_or(t)
}

pub(super) fn evaluate(
    state: &MonitorState,
    probe: &ProbeResult,
    operator: &Operator,
    policy: &Policy,
    team_calendar: &BusinessCalendar,
) -> Evaluation {
    let rule = &policy.locations;
    let interval = dur(policy.probe_interval);
    let location = probe.location.clone().unwrap_or_default();
    let slot = super::round_slot(probe, policy);
    let late = state.decided_through.is_some_and(|d| slot <= d);
    let again = state
        .votes
        .iter()
        .any(|v| v.slot == slot && v.location == location);
    // Only the monitor's own locations vote: an operator's agent never
    // reaches here (`witness`), so every vote is stamped by our clocks.
    if late || again || !rule.expected.contains(&location) {
        return Evaluation::Stale;
    }
    let mut s = state.clone();
    match s.location_seen.iter_mut().find(|r| r.location == location) {
        Some(seen) => seen.since = seen.since.max(probe.probed_at),
        None => s.location_seen.push(LocationRun {
            location: location.clone(),
            since: probe.probed_at,
        }),
    }
    s.votes.push(Vote::of(probe, slot, location));
    let mut events = Vec::new();
    // Oldest first: every round complete, or past its grace by this vote.
    while let Some(oldest) = s.votes.iter().map(|v| v.slot).min() {
        let count = s.votes.iter().filter(|v| v.slot == oldest).count();
        let overdue = probe.probed_at >= oldest + interval + dur(rule.grace);
        if count < rule.expected.len() && !overdue {
            break;
        }
        let mut votes: Vec<Vote> = s
            .votes
            .iter()
            .filter(|v| v.slot == oldest)
            .cloned()
            .collect();
        votes.sort_by(|a, b| a.location.cmp(&b.location));
        s.votes.retain(|v| v.slot != oldest);
        s.decided_through = Some(oldest);
        open_day(&mut s, operator, oldest, &mut events);
        if let Some(day) = &mut s.day {
            summary::count_votes(day, &votes);
        }
        let Some(round) = verdict(&votes, oldest, policy, &s) else {
            if let Some(day) = &mut s.day {
                summary::count_unknown(day, oldest);
            }
            continue;
        };
        if let Evaluation::Applied { state, events: e } =
            evaluate_round(&s, &round, operator, policy)
        {
            s = state;
            events.extend(e);
        }
        let path = Path {
            votes: &votes,
            round: &round,
            operator,
            policy,
            team_calendar,
        };
        events.extend(path.health(&mut s));
    }
    Evaluation::Applied { state: s, events }
}

/// Location health, after a round's verdict.
struct Path<'a> {
    votes: &'a [Vote],
    round: &'a ProbeResult,
    operator: &'a Operator,
    policy: &'a Policy,
    team_calendar: &'a BusinessCalendar,
}

impl Path<'_> {
    /// A location that fails while the quorum sees the portal up, for longer
    /// than the outage limit, opens a Low incident for the team naming it
    /// (the path from there is in trouble, not the portal): never a page,
    /// never the operator's. Resolved when every location agrees again.
    fn health(&self, s: &mut MonitorState) -> Option<Event> {
        let t = self.round.probed_at;
        if !self.round.is_up() {
            // The portal is down: a failing location is right, not troubled.
            s.location_runs.clear();
            return None;
        }
        for v in self.votes {
            let known = s
                .location_runs
                .iter()
                .position(|r| r.location == v.location);
            match (v.up, known) {
                (true, Some(i)) => {
                    s.location_runs.remove(i);
                }
                (false, None) => s.location_runs.push(LocationRun {
                    location: v.location.clone(),
                    since: t,
                }),
                _ => {}
            }
        }
        let limit = dur(self.policy.outage_after);
        let troubled: Vec<&LocationRun> = s
            .location_runs
            .iter()
            .filter(|r| t - r.since > limit)
            .collect();
        if let (Some(first), None) = (troubled.iter().map(|r| r.since).min(), &s.path) {
            if self.operator.in_maintenance(t) {
                return None;
            }
            let names: Vec<&str> = troubled.iter().map(|r| r.location.as_str()).collect();
            let incident = Incident::open(
                Opening {
                    form: IdForm::Monitored,
                    operator: &self.operator.id,
                    severity: Severity::Low,
                    kind: IncidentKind::LocationPath,
                    raised_by: Party::Team,
                    started_at: first,
                    opened_at: t,
                    summary: format!(
                        "The path from {} to the {} MO Direct portal fails since {} while the other locations see it up: a problem of the monitor's path, not the portal's",
                        names.join(", "),
                        self.operator.name,
                        first.format("%Y-%m-%d %H:%M:%S UTC"),
                    ),
                },
                self.policy,
                self.team_calendar,
            );
            s.path = Some(open_ref(&incident));
            return Some(Event::IncidentOpened {
                incident,
                reason: None,
            });
        }
        if s.location_runs.is_empty() {
            let open = s.path.take()?;
            return Some(Event::IncidentResolved {
                incident: open,
                operator: s.operator.clone(),
                resolved_at: t,
            });
        }
        None
    }
}

/// A round's verdict as a probe result at the slot's time; `None` when too
/// few locations voted to say (unknown: neither up nor down).
fn verdict(
    votes: &[Vote],
    slot: DateTime<Utc>,
    policy: &Policy,
    s: &MonitorState,
) -> Option<ProbeResult> {
    let rule = &policy.locations;
    if votes.len() < rule.min_locations {
        return None;
    }
    let down: Vec<&Vote> = votes.iter().filter(|v| !v.up).collect();
    let mut up: Vec<&Vote> = votes.iter().filter(|v| v.up).collect();
    let pick = if rule.quorum.is_down(down.len(), votes.len()) {
        down[0]
    } else {
        // The median timing of those that saw it up stands for the round.
        up.sort_by(|a, b| {
            a.latency_ms
                .unwrap_or(f64::MAX)
                .total_cmp(&b.latency_ms.unwrap_or(f64::MAX))
        });
        *up.get(up.len().checked_sub(1)? / 2)?
    };
    Some(ProbeResult {
        operator: s.operator.clone(),
        probed_at: slot,
        outcome: if pick.up { Outcome::Up } else { Outcome::Down },
        reason: pick.reason,
        status: pick.status,
        latency_ms: pick.latency_ms,
        phases: None,
        url: pick.url.clone(),
        redirects: 0,
        // The earliest expiry any location saw: one serving an older
        // certificate is the one to warn about.
        cert_expires_at: votes.iter().filter_map(|v| v.cert_expires_at).min(),
        detail: pick.detail.clone(),
        cpu_wait_ms: pick.cpu_wait_ms,
        addresses: addresses(votes, rule.quorum),
        location: None,
        slot: None,
    })
}

/// Each address of the name, as the locations that probed it saw it: down
/// when the quorum of them saw it down (a location alone failing on it is
/// its path's trouble), in the order the votes first list them.
fn addresses(votes: &[Vote], quorum: crate::config::Quorum) -> Vec<AddressResult> {
    let mut out: Vec<AddressResult> = Vec::new();
    for a in votes.iter().flat_map(|v| &v.addresses) {
        if out.iter().any(|o| o.address == a.address) {
            continue;
        }
        let seen: Vec<&AddressResult> = votes
            .iter()
            .flat_map(|v| &v.addresses)
            .filter(|x| x.address == a.address)
            .collect();
        let down = seen.iter().filter(|x| x.outcome == Outcome::Down).count();
        let wanted = if quorum.is_down(down, seen.len()) {
            Outcome::Down
        } else {
            Outcome::Up
        };
        let pick = seen.iter().find(|x| x.outcome == wanted);
        out.push(pick.map_or_else(
            || AddressResult {
                outcome: Outcome::Up,
                reason: None,
                ..a.clone()
            },
            |x| (*x).clone(),
        ));
    }
    out
}

/// The policy as it applies to one operator's rounds. Only the monitor's
/// own locations vote: an agent is its operator's witness, never a vote
/// (`evaluate::witness`), and pushes its own operator's results only, so no
/// agent (of `operator` or of any of `operators`), though listed as
/// expected, is awaited in any round: every round would otherwise wait out
/// the grace for a vote that cannot come, and an agent could leave its own
/// rounds unknown.
pub fn voting_policy<'p, 'o>(
    policy: &'p Policy,
    operator: &Operator,
    operators: impl Iterator<Item = &'o Operator> + Clone,
) -> std::borrow::Cow<'p, Policy> {
    let agent =
        |l: &String| operator.agents.contains(l) || operators.clone().any(|o| o.agents.contains(l));
    if !policy.locations.expected.iter().any(agent) {
        return std::borrow::Cow::Borrowed(policy);
    }
    let mut owned = policy.clone();
    owned.locations.expected.retain(|l| !agent(l));
    std::borrow::Cow::Owned(owned)
}
#[cfg(test)]
mod tests;
