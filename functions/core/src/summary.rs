//! One day of an operator's portal as the monitor decided it: the record of
//! truth every figure is computed from (the monthly report, the API, the
//! emails). The evaluator adds each decided round to the open day, kept in
//! the operator's state, and closes the day (`Event::DayClosed`) with the
//! first round of the next day on the operator's own calendar; the closed
//! day is stored once, by a conditional write, so a redelivered batch
//! changes nothing. A month is then about 31 reads, whatever the probe rate.
//!
//! Time accounting: a decided round speaks for its slot (`probe_interval`,
//! 30 seconds): up, down, or, inside a maintenance window the evaluator held
//! pages back for, maintenance. A slot without a decided verdict (no round,
//! or too few locations voted) is unknown: never up, never down.
//!
//! Only the monitor's own decisions are counted: an operator's agent, whose
//! evidence may only ever count against its operator, never reaches a day.

use crate::evaluate::quorum::Vote;
use crate::probe::{Outcome, ProbeResult};
use crate::sketch::LatencySketch;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The most addresses (and locations) a day keeps tallies for: a name whose
/// answer rotates through many must not grow the state without bound.
pub const MAX_TALLIES: usize = 16;

/// One address of the portal's name over a day: rounds that listed it, and
/// how many of them it answered as expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressTally {
    #[serde(rename = "ip")]
    pub address: std::net::IpAddr,
    #[serde(rename = "n")]
    pub rounds: u32,
    #[serde(rename = "up")]
    pub up: u32,
}

/// One probe location over a day: the votes it cast, and how many saw the
/// portal down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationTally {
    #[serde(rename = "at")]
    pub location: String,
    #[serde(rename = "n")]
    pub votes: u32,
    #[serde(rename = "dn")]
    pub down: u32,
}

/// One local day of one operator (whose, the store's key says). Short field names: the open day is part of
/// the operator's state, written on every batch and billed by the KB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    /// The day on the operator's calendar.
    #[serde(rename = "d")]
    pub date: NaiveDate,
    /// Seconds up, and down, outside maintenance.
    #[serde(rename = "u", default)]
    pub up_s: u32,
    #[serde(rename = "x", default, skip_serializing_if = "is_zero")]
    pub down_s: u32,
    /// Seconds up, and down, inside a maintenance window in force when the
    /// round was decided: excluded from the SLA.
    #[serde(rename = "mu", default, skip_serializing_if = "is_zero")]
    pub maintenance_up_s: u32,
    #[serde(rename = "mx", default, skip_serializing_if = "is_zero")]
    pub maintenance_down_s: u32,
    /// Rounds decided with a verdict, of them down, and rounds whose
    /// locations were too few to say (unknown).
    #[serde(rename = "r", default)]
    pub rounds: u32,
    #[serde(rename = "rx", default, skip_serializing_if = "is_zero")]
    pub rounds_down: u32,
    #[serde(rename = "ru", default, skip_serializing_if = "is_zero")]
    pub rounds_unknown: u32,
    /// Probe results the rounds were decided from (one a round with one location).
    #[serde(rename = "v", default)]
    pub probes: u32,
    /// Trusted timings of the up rounds.
    #[serde(rename = "l", default)]
    pub latency: LatencySketch,
    /// Of them, exactly how many were slower than the latency SLA.
    #[serde(rename = "ls", default, skip_serializing_if = "is_zero")]
    pub over_sla: u32,
    /// Up rounds whose timing held the prober's own CPU wait: left out.
    #[serde(rename = "lu", default, skip_serializing_if = "is_zero")]
    pub untrusted: u32,
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<AddressTally>,
    #[serde(rename = "n", default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationTally>,
    /// The earliest certificate expiry any round saw.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// The latest slot counted: a slot is never counted twice.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub last_slot: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl DaySummary {
    pub fn new(date: NaiveDate) -> Self {
        Self {
            date,
            up_s: 0,
            down_s: 0,
            maintenance_up_s: 0,
            maintenance_down_s: 0,
            rounds: 0,
            rounds_down: 0,
            rounds_unknown: 0,
            probes: 0,
            latency: LatencySketch::default(),
            over_sla: 0,
            untrusted: 0,
            addresses: Vec::new(),
            locations: Vec::new(),
            cert_expires_at: None,
            last_slot: None,
        }
    }

    /// Seconds with a verdict (up or down, in maintenance or not).
    pub fn observed_s(&self) -> u32 {
        self.up_s + self.down_s + self.maintenance_up_s + self.maintenance_down_s
    }
}

/// What a round brings to its day.
pub struct Round<'a> {
    /// The round's verdict (its `probed_at` inside the slot).
    pub verdict: &'a ProbeResult,
    pub slot: DateTime<Utc>,
    /// The seconds a round speaks for (the probe interval).
    pub seconds: u32,
    pub in_maintenance: bool,
    pub latency_sla_ms: u64,
}

/// The day `slot` falls in on `tz`'s calendar, opening it (and handing back
/// the day it closes) when it is a later day than the open one.
pub fn roll(
    open: &mut Option<DaySummary>,
    slot: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Option<DaySummary> {
    let date = slot.with_timezone(&tz).date_naive();
    match open {
        Some(day) if day.date >= date => None,
        _ => open.replace(DaySummary::new(date)),
    }
}

/// Counts a decided round in `day`, unless its slot is already counted.
pub fn count_round(day: &mut DaySummary, round: &Round<'_>) {
    if day.last_slot.is_some_and(|s| round.slot <= s) {
        return;
    }
    day.last_slot = Some(round.slot);
    let p = round.verdict;
    day.rounds += 1;
    let up = p.is_up();
    let (inside, outside) = if up {
        (&mut day.maintenance_up_s, &mut day.up_s)
    } else {
        day.rounds_down += 1;
        (&mut day.maintenance_down_s, &mut day.down_s)
    };
    *(if round.in_maintenance {
        inside
    } else {
        outside
    }) += round.seconds;
    if up {
        match p.trusted_latency_ms() {
            Some(ms) => {
                day.latency.add(ms);
                day.over_sla += u32::from(ms > round.latency_sla_ms as f64);
            }
            None if p.latency_ms.is_some() => day.untrusted += 1,
            None => {}
        }
    }
    if let Some(c) = p.cert_expires_at {
        day.cert_expires_at = Some(day.cert_expires_at.map_or(c, |d| d.min(c)));
    }
    for a in &p.addresses {
        let i = match day.addresses.iter().position(|t| t.address == a.address) {
            Some(i) => i,
            None if day.addresses.len() < MAX_TALLIES => {
                day.addresses.push(AddressTally {
                    address: a.address,
                    rounds: 0,
                    up: 0,
                });
                day.addresses.len() - 1
            }
            None => continue,
        };
        day.addresses[i].rounds += 1;
        day.addresses[i].up += u32::from(a.outcome == Outcome::Up);
    }
}

/// Counts a round decided without a verdict (too few locations voted).
pub fn count_unknown(day: &mut DaySummary, slot: DateTime<Utc>) {
    if day.last_slot.is_some_and(|s| slot <= s) {
        return;
    }
    day.last_slot = Some(slot);
    day.rounds_unknown += 1;
}

/// Counts the votes a round was decided from, by location.
pub fn count_votes(day: &mut DaySummary, votes: &[Vote]) {
    for v in votes {
        count_probe(day, Some(&v.location), v.up);
    }
}

/// Counts one probe result a round was decided from, and its location's.
pub fn count_probe(day: &mut DaySummary, location: Option<&str>, up: bool) {
    day.probes += 1;
    let Some(location) = location else {
        return;
    };
    let i = match day.locations.iter().position(|t| t.location == location) {
        Some(i) => i,
        None if day.locations.len() < MAX_TALLIES => {
            day.locations.push(LocationTally {
                location: location.to_string(),
                votes: 0,
                down: 0,
            });
            day.locations.len() - 1
        }
        None => return,
    };
    day.locations[i].votes += 1;
    day.locations[i].down += u32::from(!up);
}

/// Decides days from recorded probe results fed in time order, from a
/// fresh state, as the evaluator would have: what a rebuild from raw rows
/// stores (`service::rebuild_days`), a day at a time.
pub struct DayDecider<'a> {
    operator: &'a crate::Operator,
    policy: &'a crate::Policy,
    team_calendar: &'a crate::BusinessCalendar,
    state: crate::evaluate::MonitorState,
}

impl<'a> DayDecider<'a> {
    pub fn new(
        operator: &'a crate::Operator,
        policy: &'a crate::Policy,
        team_calendar: &'a crate::BusinessCalendar,
    ) -> Self {
        let state = crate::evaluate::MonitorState::new(operator.id.clone());
        Self {
            operator,
            policy,
            team_calendar,
            state,
        }
    }

    /// The result into the evaluation; the days it closes.
    pub fn feed(&mut self, p: &ProbeResult) -> Vec<DaySummary> {
        use crate::evaluate::{evaluate, Evaluation, Event};
        match evaluate(
            &self.state,
            p,
            self.operator,
            self.policy,
            self.team_calendar,
        ) {
            Evaluation::Applied { state, events } => {
                self.state = state;
                events
                    .into_iter()
                    .filter_map(|e| match e {
                        Event::DayClosed { summary, .. } => Some(summary),
                        _ => None,
                    })
                    .collect()
            }
            Evaluation::Stale => Vec::new(),
        }
    }

    /// The day still open after the last result.
    pub fn open_day(self) -> Option<DaySummary> {
        self.state.day
    }
}

/// The days a run of recorded probe results decides, evaluated in order
/// from a fresh state: every closed day, then the day still open.
pub fn decide_days(
    operator: &crate::Operator,
    policy: &crate::Policy,
    team_calendar: &crate::BusinessCalendar,
    probes: &[ProbeResult],
) -> Vec<DaySummary> {
    let mut decider = DayDecider::new(operator, policy, team_calendar);
    let mut days: Vec<DaySummary> = probes.iter().flat_map(|p| decider.feed(p)).collect();
    days.extend(decider.open_day());
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{AddressResult, FailureReason};
    use crate::testing::probe_at;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn round(p: &ProbeResult, maintenance: bool) -> Round<'_> {
        Round {
            verdict: p,
            slot: p.probed_at,
            seconds: 30,
            in_maintenance: maintenance,
            latency_sla_ms: 400,
        }
    }

    /// Each round speaks for its slot, in its bucket; a slot counted once
    /// is never counted again (a second result in the same slot).
    #[test]
    fn each_round_is_counted_once_in_its_bucket() {
        let mut day = DaySummary::new("2026-02-10".parse().unwrap());
        let t = utc("2026-02-10T10:00:00Z");
        let slow = ProbeResult {
            latency_ms: Some(450.0),
            ..probe_at("contoso", t + chrono::Duration::seconds(60), true)
        };
        let untrusted = ProbeResult {
            cpu_wait_ms: Some(50.0),
            ..probe_at("contoso", t + chrono::Duration::seconds(90), true)
        };
        let probes = [
            (probe_at("contoso", t, true), false),
            (
                probe_at("contoso", t + chrono::Duration::seconds(30), false),
                false,
            ),
            (slow, false),
            (untrusted, false),
            (
                probe_at("contoso", t + chrono::Duration::seconds(120), false),
                true,
            ),
            (
                probe_at("contoso", t + chrono::Duration::seconds(150), true),
                true,
            ),
        ];
        for (p, m) in &probes {
            count_round(&mut day, &round(p, *m));
        }
        // The same slot again, and an older one: nothing more.
        count_round(&mut day, &round(&probes[5].0, false));
        count_round(&mut day, &round(&probes[0].0, false));
        assert_eq!(
            (
                day.up_s,
                day.down_s,
                day.maintenance_up_s,
                day.maintenance_down_s
            ),
            (90, 30, 30, 30)
        );
        assert_eq!((day.rounds, day.rounds_down), (6, 2));
        assert_eq!(
            (day.latency.count(), day.over_sla, day.untrusted),
            (3, 1, 1)
        );
        assert_eq!(day.observed_s(), 180);
    }

    /// Days are the operator's: 23:30 UTC on 9 February is already the
    /// 10th in Madrid, and the first round of the 10th closes the 9th.
    #[test]
    fn a_day_closes_with_the_first_round_of_the_next_local_day() {
        let tz = chrono_tz::Europe::Madrid;
        let mut open = None;
        assert_eq!(roll(&mut open, utc("2026-02-09T12:00:00Z"), tz), None);
        assert_eq!(roll(&mut open, utc("2026-02-09T22:59:30Z"), tz), None);
        let closed = roll(&mut open, utc("2026-02-09T23:00:00Z"), tz).unwrap();
        assert_eq!(closed.date, "2026-02-09".parse().unwrap());
        assert_eq!(open.as_ref().unwrap().date, "2026-02-10".parse().unwrap());
        // An older slot never reopens a closed day.
        assert_eq!(roll(&mut open, utc("2026-02-09T12:00:00Z"), tz), None);
    }

    /// Addresses and locations are tallied, each list bounded, and the
    /// earliest certificate expiry is kept.
    #[test]
    fn tallies_are_bounded_and_the_earliest_certificate_kept() {
        let mut day = DaySummary::new("2026-02-10".parse().unwrap());
        let t = utc("2026-02-10T10:00:00Z");
        for i in 0..40i64 {
            let mut p = probe_at("contoso", t + chrono::Duration::seconds(30 * i), true);
            p.addresses = vec![AddressResult {
                address: format!("203.0.113.{}", i % 20).parse().unwrap(),
                outcome: if i % 2 == 0 {
                    Outcome::Up
                } else {
                    Outcome::Down
                },
                reason: (i % 2 == 1).then_some(FailureReason::Connect),
                latency_ms: None,
            }];
            p.cert_expires_at = Some(utc("2027-01-01T00:00:00Z") - chrono::Duration::days(i % 7));
            count_round(&mut day, &round(&p, false));
            let votes: Vec<Vote> = (0..20)
                .map(|l| Vote {
                    slot: p.probed_at,
                    location: format!("loc-{l}"),
                    up: l != 0,
                    ..Vote::default()
                })
                .collect();
            count_votes(&mut day, &votes);
        }
        assert_eq!(day.addresses.len(), MAX_TALLIES);
        assert_eq!((day.addresses[0].rounds, day.addresses[0].up), (2, 2));
        assert_eq!((day.addresses[1].rounds, day.addresses[1].up), (2, 0));
        assert_eq!(day.locations.len(), MAX_TALLIES);
        assert_eq!((day.locations[0].votes, day.locations[0].down), (40, 40));
        assert_eq!(day.probes, 800);
        assert_eq!(
            day.cert_expires_at,
            Some(utc("2027-01-01T00:00:00Z") - chrono::Duration::days(6))
        );
    }
}
