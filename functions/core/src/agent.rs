//! Results a private agent pushes (`livesite agent`, inside an operator's
//! walled garden): an operator's own results, for its own portal, from one of
//! its registered agent locations, bounded in number and in time. Stored
//! with their own timestamps; the evaluator decides what they change (a late
//! vote for a round already decided changes nothing).

use crate::partner::{field, FieldError};
use crate::{Operator, ProbeResult};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The most results one request carries (30 at their largest fit the
/// API's 64 KB body): a backlog goes in several.
pub const MAX_PUSHED: usize = 30;
/// How far an agent's clock may run ahead of ours.
pub const CLOCK_SKEW: Duration = Duration::minutes(1);
/// The oldest result still taken: a backlog older than this is of no use
/// (its rounds were decided long ago, and the records expire anyway).
pub const BACKLOG_KEPT: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedResults {
    pub results: Vec<ProbeResult>,
}

/// The results, checked and bounded as the prober's own; the first bad one
/// is named (`results/3/location`), and nothing is taken from a bad push.
///
/// Each is stamped at the start of its slot on `interval`'s grid (an agent's
/// own clock is no evidence to the millisecond) and carries no slot of its
/// own: stored once per agent per slot (the store keeps a key's first
/// record), a push can add at most one row a slot, whatever it repeats.
pub fn accept(
    operator: &Operator,
    pushed: PushedResults,
    now: DateTime<Utc>,
    interval: Duration,
) -> Result<Vec<ProbeResult>, FieldError> {
    if pushed.results.is_empty() || pushed.results.len() > MAX_PUSHED {
        return Err(field(
            "results",
            format!("1 to {MAX_PUSHED} results a request"),
        ));
    }
    let mut out = Vec::with_capacity(pushed.results.len());
    for (i, r) in pushed.results.into_iter().enumerate() {
        let at = |name: &str| format!("results/{i}/{name}");
        r.validate()
            .map_err(|e| field(&format!("results/{i}"), e.to_string()))?;
        if r.operator != operator.id {
            return Err(field(&at("operator"), "results for your own portal only"));
        }
        match &r.location {
            Some(l) if operator.agents.contains(l) => {}
            _ => {
                return Err(field(
                    &at("location"),
                    format!("one of your registered agents: {:?}", operator.agents),
                ))
            }
        }
        if r.probed_at > now + CLOCK_SKEW {
            return Err(field(
                &at("probed_at"),
                "in the future: check the agent's clock",
            ));
        }
        if r.probed_at < now - BACKLOG_KEPT {
            return Err(field(&at("probed_at"), "older than 7 days"));
        }
        let slot = crate::evaluate::quorum::slot_of(r.probed_at, interval);
        if out
            .iter()
            .any(|o: &ProbeResult| o.probed_at == slot && o.location == r.location)
        {
            continue;
        }
        out.push(ProbeResult {
            probed_at: slot,
            slot: None,
            ..r.bounded()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::madrid_operator;
    use crate::Outcome;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn result(op: &str, location: Option<&str>, at: &str) -> ProbeResult {
        ProbeResult {
            latency_ms: Some(80.0),
            location: location.map(str::to_string),
            ..crate::testing::probe_at(op, t(at), true)
        }
    }

    #[test]
    fn an_agent_pushes_only_its_operators_results_from_its_own_locations_in_time() {
        let mut op = madrid_operator("contoso");
        op.agents = vec!["agent-contoso-1".into()];
        let now = "2026-11-27T10:00:00Z";
        let ok = |at: &str| result("contoso", Some("agent-contoso-1"), at);
        let mut bad_outcome = ok(now);
        bad_outcome.outcome = Outcome::Down;
        // (results, refused field)
        let cases: Vec<(Vec<ProbeResult>, Option<&str>)> = vec![
            (vec![ok(now), ok("2026-11-27T09:59:30Z")], None),
            (vec![], Some("results")),
            (vec![ok(now); MAX_PUSHED], None),
            (vec![ok(now); MAX_PUSHED + 1], Some("results")),
            (
                vec![ok(now), result("fabrikam", Some("agent-contoso-1"), now)],
                Some("results/1/operator"),
            ),
            // Never one of the team's locations, never none.
            (
                vec![result("contoso", Some("eu-west-1"), now)],
                Some("results/0/location"),
            ),
            (
                vec![result("contoso", None, now)],
                Some("results/0/location"),
            ),
            (vec![ok("2026-11-27T10:01:00Z")], None),
            (
                vec![ok("2026-11-27T10:01:01Z")],
                Some("results/0/probed_at"),
            ),
            (vec![ok("2026-11-20T10:00:00Z")], None),
            (
                vec![ok("2026-11-20T09:59:59Z")],
                Some("results/0/probed_at"),
            ),
            (vec![bad_outcome], Some("results/0")),
        ];
        for (results, refused) in cases {
            let n = results.len();
            let got = accept(
                &op,
                PushedResults { results },
                t(now),
                Duration::seconds(30),
            );
            assert_eq!(
                got.as_ref().err().map(|e| e.field.as_str()),
                refused,
                "{n} results"
            );
            if let Ok(v) = got {
                // One result a slot: the thirty copies of one are one.
                let slots: std::collections::BTreeSet<_> = v.iter().map(|r| r.probed_at).collect();
                assert_eq!(v.len(), slots.len(), "{n} results");
                assert!(v.iter().all(|r| r.slot.is_none()));
            }
        }
        // Stamped at their slot's start, whatever the agent's milliseconds.
        let got = accept(
            &op,
            PushedResults {
                results: vec![ok("2026-11-27T09:59:59.750Z"), ok("2026-11-27T09:59:31Z")],
            },
            t(now),
            Duration::seconds(30),
        )
        .unwrap();
        assert_eq!(
            got.iter().map(|r| r.probed_at).collect::<Vec<_>>(),
            [t("2026-11-27T09:59:30Z")]
        );
    }
}
