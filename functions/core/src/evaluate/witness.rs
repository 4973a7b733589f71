//! An operator's own agent (a private probing location inside its walled
//! garden, `livesite agent`) is a witness that only ever counts against its
//! operator. Its results never vote in a round: they never make a round up
//! or unknown, never reach a day's figures, and never close, shorten or hold
//! back any incident of the monitor's. What they can do is open one: a run
//! of the agent's failures longer than the outage limit (measured between
//! slots, strictly more) opens a High `walled_garden` incident against its
//! operator, the portal unreachable from inside its walled garden while the
//! monitor's own locations may see it up (the seed's first key scenario).
//! That incident is the agent's: the agent's own recovery (`recovery_successes`
//! in a row) resolves it; a monitor outage already open makes it redundant.
//!
//! An agent stamps its results with its own clock: at most one result a slot
//! counts, and a result for a slot at or before its latest is stale.

use super::{dur, open_incident, open_ref, round_slot, Evaluation, Event, MonitorState};
use crate::config::{Operator, Policy};
use crate::incident::{IncidentKind, Severity};
use crate::probe::ProbeResult;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the state keeps of one agent of the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Witness {
    #[serde(rename = "at")]
    pub agent: String,
    /// The latest slot the agent answered.
    #[serde(rename = "s")]
    pub slot: DateTime<Utc>,
    /// The slot of the first failure of its unbroken run.
    #[serde(rename = "dn", default, skip_serializing_if = "Option::is_none")]
    pub down_since: Option<DateTime<Utc>>,
    /// Its successes in a row.
    #[serde(rename = "up", default)]
    pub ups: u32,
}

/// Evaluates one result of one of `operator`'s own agents.
pub(super) fn evaluate(
    state: &MonitorState,
    probe: &ProbeResult,
    operator: &Operator,
    policy: &Policy,
) -> Evaluation {
    let agent = probe.location.clone().unwrap_or_default();
    let slot = round_slot(probe, policy);
    let seen = state.witnesses.iter().find(|w| w.agent == agent);
    if seen.is_some_and(|w| slot <= w.slot) {
        return Evaluation::Stale;
    }
    let mut s = state.clone();
    // An agent no longer registered leaves with what it claimed.
    s.witnesses.retain(|w| operator.agents.contains(&w.agent));
    let i = match s.witnesses.iter().position(|w| w.agent == agent) {
        Some(i) => i,
        None => {
            s.witnesses.push(Witness {
                agent: agent.clone(),
                slot,
                down_since: None,
                ups: 0,
            });
            s.witnesses.len() - 1
        }
    };
    let w = &mut s.witnesses[i];
    w.slot = slot;
    if probe.is_up() {
        w.down_since = None;
        w.ups = w.ups.saturating_add(1);
    } else {
        w.down_since.get_or_insert(slot);
        w.ups = 0;
    }
    let mut events = Vec::new();
    let limit = dur(policy.outage_after);
    let longest = s
        .witnesses
        .iter()
        .filter_map(|w| w.down_since.map(|d| (d, &w.agent)))
        .filter(|(d, _)| slot - *d > limit)
        .min();
    if let Some((since, name)) = longest {
        let quiet = s.garden.is_some() || s.outage.is_some();
        if !quiet && !operator.in_maintenance(probe.probed_at) {
            let incident = open_incident(
                operator,
                policy,
                Severity::High,
                IncidentKind::WalledGarden,
                since,
                slot,
                &ProbeResult {
                    location: Some(name.clone()),
                    ..probe.clone()
                },
            );
            s.garden = Some(open_ref(&incident));
            events.push(Event::IncidentOpened {
                incident,
                reason: probe.reason,
            });
        }
    }
    let recovered = s.witnesses.iter().all(|w| w.down_since.is_none())
        && s.witnesses[i].ups >= policy.recovery_successes;
    if recovered {
        if let Some(open) = s.garden.take() {
            events.push(Event::IncidentResolved {
                incident: open,
                operator: s.operator.clone(),
                resolved_at: slot,
            });
        }
    }
    Evaluation::Applied { state: s, events }
}

#[cfg(test)]
mod tests {
    use crate::config::LocationPolicy;
    use crate::evaluate::{evaluate, fixtures::short_name, Evaluation, MonitorState};
    use crate::testing::{madrid_operator, probe_at};
    use crate::{Operator, Policy, ProbeResult};
    use chrono::{DateTime, Duration, Utc};

    const T0: &str = "2026-11-27T10:00:00Z";

    fn at(ms: i64) -> DateTime<Utc> {
        T0.parse::<DateTime<Utc>>().unwrap() + Duration::milliseconds(ms)
    }

    fn operator() -> Operator {
        Operator {
            agents: vec!["agent-1".into()],
            ..madrid_operator("contoso")
        }
    }

    /// `location` saw the portal `up` at `ms` after T0.
    fn result(location: &str, ms: i64, up: bool) -> ProbeResult {
        ProbeResult {
            location: Some(location.into()),
            ..probe_at("contoso", at(ms), up)
        }
    }

    /// What the region and the agent send each round of `rounds` (the
    /// agent's result 1 ms after the region's, or none).
    fn rounds(
        rounds: i64,
        region: impl Fn(i64) -> bool,
        agent: impl Fn(i64) -> Option<bool>,
    ) -> Vec<ProbeResult> {
        (0..rounds)
            .flat_map(|r| {
                let mine = result("us-east-1", r * 30_000, region(r));
                let theirs = agent(r).map(|up| result("agent-1", r * 30_000 + 1, up));
                std::iter::once(mine).chain(theirs)
            })
            .collect()
    }

    /// The events, as (seconds after T0, short name), the final state and
    /// how many results changed nothing.
    fn run(p: &Policy, results: &[ProbeResult]) -> (Vec<(i64, String)>, MonitorState, usize) {
        let op = operator();
        let mut s = MonitorState::new(op.id.clone());
        let (mut events, mut stale) = (Vec::new(), 0);
        for r in results {
            match evaluate(&s, r, &op, p, &Default::default()) {
                Evaluation::Stale => stale += 1,
                Evaluation::Applied { state, events: e } => {
                    s = state;
                    events.extend(
                        e.iter()
                            .filter(|e| short_name(e) != "day")
                            .map(|e| ((e.at() - at(0)).num_seconds(), short_name(e))),
                    );
                }
            }
        }
        (events, s, stale)
    }

    /// The agent as a listed location or not, the rules are the same: it
    /// can open an incident against its own operator and nothing else.
    fn policies() -> [Policy; 2] {
        let listed = Policy {
            locations: LocationPolicy {
                expected: vec!["us-east-1".into(), "agent-1".into()],
                ..LocationPolicy::default()
            },
            ..Policy::default()
        };
        [Policy::default(), listed]
    }

    /// (what, region up in round r, the agent in round r, events as
    /// (seconds, name)). The region fails rounds 0 to 61 where it fails.
    #[allow(clippy::type_complexity)]
    fn cases() -> Vec<(
        &'static str,
        fn(i64) -> bool,
        fn(i64) -> Option<bool>,
        Vec<(i64, &'static str)>,
    )> {
        let page = vec![(1830, "open:portal_down"), (1890, "resolve:portal_down")];
        vec![
            (
                "agent up through the outage: paged",
                |r| r > 61,
                |_| Some(true),
                page.clone(),
            ),
            (
                "agent silent through the outage: paged",
                |r| r > 61,
                |_| None,
                page.clone(),
            ),
            (
                "agent down with the region, and after: its own incident once the page is closed",
                |r| r > 61,
                |r| Some(r > 63),
                vec![
                    (1830, "open:portal_down"),
                    (1890, "resolve:portal_down"),
                    (1890, "open:walled_garden"),
                    (1950, "resolve:walled_garden"),
                ],
            ),
            (
                "walled garden down, region up: the agent's incident at 30:30",
                |_| true,
                |r| Some(r > 62),
                vec![
                    (1830, "open:walled_garden"),
                    (1920, "resolve:walled_garden"),
                ],
            ),
            (
                "agent down exactly 30:00: nothing",
                |_| true,
                |r| Some(r > 60),
                vec![],
            ),
        ]
    }

    #[test]
    fn an_agent_can_open_an_incident_against_its_operator_and_nothing_else() {
        for p in policies() {
            for (what, region, agent, want) in cases() {
                let (events, _, _) = run(&p, &rounds(70, region, agent));
                let want: Vec<(i64, String)> =
                    want.iter().map(|(t, e)| (*t, e.to_string())).collect();
                assert_eq!(events, want, "{what}, expected {:?}", p.locations.expected);
            }
        }
    }

    /// Whatever an agent sends, the day's figures are the region's alone,
    /// and a second result of the agent for one slot changes nothing.
    #[test]
    fn an_agent_never_reaches_the_figures_and_counts_once_a_slot() {
        for p in policies() {
            let results = rounds(40, |r| r % 2 == 0, |r| Some(r % 2 == 1));
            let (_, with_agent, _) = run(&p, &results);
            let alone: Vec<ProbeResult> = results
                .iter()
                .filter(|r| r.location.as_deref() != Some("agent-1"))
                .cloned()
                .collect();
            let (_, without, _) = run(&p, &alone);
            assert_eq!(with_agent.day, without.day, "{:?}", p.locations.expected);
            let twice = [result("agent-1", 1, false), result("agent-1", 29_999, true)];
            let (_, s, stale) = run(&p, &twice);
            assert_eq!((stale, s.witnesses[0].down_since), (1, Some(at(0))));
        }
    }
}
