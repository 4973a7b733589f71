//! The monthly SLA report, computed from the monitor's decided days
//! (`summary`), its incidents and the maintenance notices, never from raw
//! probe rows (docs/report.md states every definition). A month is at most
//! 31 summaries, whatever the probe rate or the number of locations.
//!
//! Time accounting: each decided round speaks for its 30-second slot; a
//! slot without a verdict is unknown, never counted as up or down.

use crate::incident::{Incident, Severity};
use crate::partner::Maintenance;
use crate::sketch::LatencySketch;
use crate::summary::DaySummary;
use crate::{OperatorId, Policy};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a month as YYYY-MM, got {0:?}")]
pub struct MonthError(String);

impl std::str::FromStr for Month {
    type Err = MonthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MonthError(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        let (year, month) = (
            y.parse::<i32>().map_err(|_| bad())?,
            m.parse::<u32>().map_err(|_| bad())?,
        );
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Month {
    pub fn start(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    pub fn end(&self) -> DateTime<Utc> {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// Local midnights from the 1st of this month to the 1st of the next,
    /// in `tz`, as instants: the month's days on the operator's calendar.
    pub fn day_bounds(&self, tz: chrono_tz::Tz) -> Vec<DateTime<Utc>> {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default();
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        let next = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
        let midnight = |d: NaiveDate| {
            // Where midnight does not exist (a DST jump at 00:00), the day
            // starts at the first instant that does.
            (0..4)
                .find_map(|h| tz.from_local_datetime(&d.and_hms_opt(h, 0, 0)?).earliest())
                .map_or_else(
                    || Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()),
                    |t| t.with_timezone(&Utc),
                )
        };
        first
            .iter_days()
            .take_while(|d| *d <= next)
            .map(midnight)
            .collect()
    }

    /// The month's first and last instants (exclusive) on the calendar of `tz`.
    pub fn bounds_in(&self, tz: chrono_tz::Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let b = self.day_bounds(tz);
        (b[0], b[b.len() - 1])
    }

    /// The month before the one containing `t` on the calendar of `tz`: the
    /// last month that has ended there. An operator west of UTC gets its
    /// report only after its own month has ended (on 1 December 03:00 UTC it
    /// is still November in New York, so the last ended month is October).
    pub fn previous_in(t: DateTime<Utc>, tz: chrono_tz::Tz) -> Self {
        Self::previous(t.with_timezone(&tz).naive_local().and_utc())
    }

    /// The month before the one containing `t` (what the 1st of a month reports on).
    pub fn previous(t: DateTime<Utc>) -> Self {
        let (y, m) = if t.month() == 1 {
            (t.year() - 1, 12)
        } else {
            (t.year(), t.month() - 1)
        };
        Self { year: y, month: m }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Trusted timings of up rounds the figures are read from.
    pub samples: usize,
    /// Nearest-rank percentiles, each within `sketch::RELATIVE_ACCURACY`
    /// (1%) of the exact value.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Share of timed up rounds slower than the latency SLA, in percent
    /// (counted exactly, not from the sketch).
    pub over_sla_percent: f64,
    /// Latency SLA incidents opened in the month (the sustained breaches).
    #[serde(default)]
    pub incidents: usize,
    /// Up rounds whose timing held more than `MAX_CPU_WAIT_MS` of the
    /// prober's own CPU wait: left out of the figures above, so the
    /// monitor's slowness is never charged to the operator.
    #[serde(default)]
    pub untrusted: usize,
}

impl Latency {
    fn of(sketch: &LatencySketch, over_sla: u64, untrusted: u64) -> Self {
        let samples = sketch.count();
        Latency {
            samples: samples as usize,
            p50_ms: sketch.quantile(0.50),
            p95_ms: sketch.quantile(0.95),
            p99_ms: sketch.quantile(0.99),
            over_sla_percent: if samples == 0 {
                0.0
            } else {
                over_sla as f64 * 100.0 / samples as f64
            },
            incidents: 0,
            untrusted: untrusted as usize,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    /// Excluding maintenance and unknown time; `None` when nothing was observed.
    pub availability_percent: Option<f64>,
    pub down_minutes: f64,
    pub unknown_minutes: f64,
    pub latency: Latency,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentLine {
    pub id: String,
    pub severity: Severity,
    pub kind: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub initial_response_due: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub minutes_to_acknowledge: Option<f64>,
    pub acknowledged_on_time: bool,
}

/// One address of the portal's name over the month: of the rounds whose
/// verdict listed it, the share it answered as expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressLine {
    pub address: std::net::IpAddr,
    /// Rounds that listed the address.
    pub probes: usize,
    pub up: usize,
    pub availability_percent: f64,
}

/// One probe location over the month: the votes it cast and how many saw
/// the portal down (a location failing alone points at its path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationLine {
    pub location: String,
    pub votes: usize,
    pub down: usize,
}

/// The most addresses a report lists (a name whose answer rotates through
/// many would otherwise make the report as long as its DNS likes).
pub const MAX_REPORTED_ADDRESSES: usize = 32;

fn address_lines(days: &[&DaySummary]) -> Vec<AddressLine> {
    let mut lines: Vec<AddressLine> = Vec::new();
    for a in days.iter().flat_map(|d| &d.addresses) {
        let i = match lines.iter().position(|l| l.address == a.address) {
            Some(i) => i,
            None => {
                lines.push(AddressLine {
                    address: a.address,
                    probes: 0,
                    up: 0,
                    availability_percent: 0.0,
                });
                lines.len() - 1
            }
        };
        lines[i].probes += a.rounds as usize;
        lines[i].up += a.up as usize;
    }
    lines.retain(|l| l.probes > 0);
    for l in &mut lines {
        l.availability_percent = l.up as f64 * 100.0 / l.probes as f64;
    }
    // The most probed first; then by address, so the order is stable.
    lines.sort_by(|a, b| b.probes.cmp(&a.probes).then(a.address.cmp(&b.address)));
    lines.truncate(MAX_REPORTED_ADDRESSES);
    lines
}

fn location_lines(days: &[&DaySummary]) -> Vec<LocationLine> {
    let mut lines: Vec<LocationLine> = Vec::new();
    for t in days.iter().flat_map(|d| &d.locations) {
        match lines.iter_mut().find(|l| l.location == t.location) {
            Some(l) => {
                l.votes += t.votes as usize;
                l.down += t.down as usize;
            }
            None => lines.push(LocationLine {
                location: t.location.clone(),
                votes: t.votes as usize,
                down: t.down as usize,
            }),
        }
    }
    lines.sort_by(|a, b| a.location.cmp(&b.location));
    lines
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceLine {
    pub id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub lead_business_days: u32,
    pub late: bool,
    /// False for a late window the team has not approved: its time is not
    /// maintenance, downtime in it counts against the SLA.
    #[serde(default = "yes")]
    pub approved: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthlyReport {
    pub operator: OperatorId,
    pub month: String,
    pub target_percent: f64,
    pub latency_sla_ms: u64,
    pub minutes_in_month: f64,
    pub up_minutes: f64,
    /// Down outside announced maintenance: what counts against the SLA.
    pub downtime_minutes: f64,
    pub down_in_maintenance_minutes: f64,
    /// Observed time inside maintenance windows in force when each round
    /// was decided: excluded from the SLA figure.
    pub maintenance_minutes: f64,
    pub unknown_minutes: f64,
    /// Up time over the whole month: maintenance and unknown time count against it.
    pub availability_raw_percent: f64,
    /// Up time over observed time outside maintenance: the SLA figure.
    pub availability_percent: Option<f64>,
    pub met_target: bool,
    pub error_budget_minutes: f64,
    pub error_budget_left_minutes: f64,
    /// Probe results the month's rounds were decided from.
    pub probes: usize,
    /// Rounds decided with a verdict, and of them down.
    #[serde(default)]
    pub rounds: usize,
    #[serde(default)]
    pub rounds_down: usize,
    /// Rounds too few locations voted in to say: unknown.
    #[serde(default)]
    pub rounds_unknown: usize,
    pub latency: Latency,
    pub incidents: Vec<IncidentLine>,
    pub maintenance: Vec<MaintenanceLine>,
    pub maintenance_on_time: usize,
    pub maintenance_late: usize,
    /// Each address of the portal's name, when it has several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<AddressLine>,
    /// Each probe location that voted, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationLine>,
    /// The earliest certificate expiry any round of the month saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
    pub days: Vec<Day>,
}

fn minutes(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 60_000.0
}

fn seconds_to_minutes(s: u64) -> f64 {
    s as f64 / 60.0
}

pub struct ReportInput<'a> {
    pub operator: OperatorId,
    pub month: Month,
    pub policy: &'a Policy,
    /// The operator's decided days (`summary`), any order; those outside
    /// the month are ignored. The only source of the time and latency
    /// figures: nothing in a report is read from raw probe rows.
    pub days: &'a [DaySummary],
    pub incidents: &'a [Incident],
    pub notices: &'a [Maintenance],
    /// The operator's time zone: the month and its days are local.
    pub timezone: chrono_tz::Tz,
}

/// The month's sums over its decided days.
#[derive(Default)]
struct Totals {
    up: u64,
    down: u64,
    maint_up: u64,
    maint_down: u64,
    probes: u64,
    rounds: u64,
    rounds_down: u64,
    rounds_unknown: u64,
    over_sla: u64,
    untrusted: u64,
    latency: LatencySketch,
    cert: Option<DateTime<Utc>>,
}

impl Totals {
    fn of(days: &[&DaySummary]) -> Self {
        let mut t = Totals::default();
        for d in days {
            t.up += u64::from(d.up_s);
            t.down += u64::from(d.down_s);
            t.maint_up += u64::from(d.maintenance_up_s);
            t.maint_down += u64::from(d.maintenance_down_s);
            t.probes += u64::from(d.probes);
            t.rounds += u64::from(d.rounds);
            t.rounds_down += u64::from(d.rounds_down);
            t.rounds_unknown += u64::from(d.rounds_unknown);
            t.over_sla += u64::from(d.over_sla);
            t.untrusted += u64::from(d.untrusted);
            t.latency.merge(&d.latency);
            t.cert = match (t.cert, d.cert_expires_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        t
    }

    fn observed(&self) -> u64 {
        self.up + self.down + self.maint_up + self.maint_down
    }
}

pub fn monthly(input: ReportInput<'_>) -> MonthlyReport {
    let bounds = input.month.day_bounds(input.timezone);
    let (from, to) = (bounds[0], bounds[bounds.len() - 1]);
    let policy = input.policy;
    let dates: Vec<NaiveDate> = bounds[..bounds.len() - 1]
        .iter()
        .map(|b| b.with_timezone(&input.timezone).date_naive())
        .collect();
    // One summary a date (a store never holds two; the first wins).
    let mut days: Vec<&DaySummary> = Vec::new();
    for d in input.days.iter().filter(|d| dates.contains(&d.date)) {
        if !days.iter().any(|x| x.date == d.date) {
            days.push(d);
        }
    }
    days.sort_by_key(|d| d.date);
    let total = Totals::of(&days);
    let month_minutes = minutes(to - from);
    let target = policy.availability_target_percent;
    let budget = month_minutes * (100.0 - target) / 100.0;
    let sla_base = total.up + total.down;
    let availability = (sla_base > 0).then(|| total.up as f64 * 100.0 / sla_base as f64);
    let maintenance = maintenance_lines(input.notices, from, to);
    let incidents = incident_lines(&input, from, to);
    let slow = crate::incident::IncidentKind::LatencySla.as_str();
    let up = seconds_to_minutes(total.up + total.maint_up);
    MonthlyReport {
        operator: input.operator.clone(),
        month: input.month.to_string(),
        target_percent: target,
        latency_sla_ms: policy.latency_sla_ms,
        minutes_in_month: month_minutes,
        up_minutes: up,
        downtime_minutes: seconds_to_minutes(total.down),
        down_in_maintenance_minutes: seconds_to_minutes(total.maint_down),
        maintenance_minutes: seconds_to_minutes(total.maint_up + total.maint_down),
        unknown_minutes: month_minutes - seconds_to_minutes(total.observed()),
        availability_raw_percent: up * 100.0 / month_minutes,
        availability_percent: availability,
        met_target: availability.is_some_and(|a| a >= target),
        error_budget_minutes: budget,
        error_budget_left_minutes: budget - seconds_to_minutes(total.down),
        probes: total.probes as usize,
        rounds: total.rounds as usize,
        rounds_down: total.rounds_down as usize,
        rounds_unknown: total.rounds_unknown as usize,
        latency: Latency {
            incidents: incidents.iter().filter(|i| i.kind == slow).count(),
            ..Latency::of(&total.latency, total.over_sla, total.untrusted)
        },
        maintenance_on_time: maintenance.iter().filter(|m| !m.late).count(),
        maintenance_late: maintenance.iter().filter(|m| m.late).count(),
        incidents,
        maintenance,
        addresses: address_lines(&days),
        locations: location_lines(&days),
        cert_expires_at: total.cert,
        days: day_lines(&days, &bounds, &dates),
    }
}

/// Each local day of the month, from its summary; a day without one was
/// not watched: all unknown.
fn day_lines(days: &[&DaySummary], bounds: &[DateTime<Utc>], dates: &[NaiveDate]) -> Vec<Day> {
    dates
        .iter()
        .enumerate()
        .map(|(i, date)| {
            let length = minutes(bounds[i + 1] - bounds[i]);
            let Some(d) = days.iter().find(|d| d.date == *date) else {
                return Day {
                    date: *date,
                    availability_percent: None,
                    down_minutes: 0.0,
                    unknown_minutes: length,
                    latency: Latency::default(),
                };
            };
            let base = u64::from(d.up_s) + u64::from(d.down_s);
            Day {
                date: *date,
                availability_percent: (base > 0).then(|| f64::from(d.up_s) * 100.0 / base as f64),
                down_minutes: seconds_to_minutes(d.down_s.into()),
                unknown_minutes: length - seconds_to_minutes(d.observed_s().into()),
                latency: Latency::of(&d.latency, d.over_sla.into(), d.untrusted.into()),
            }
        })
        .collect()
}

fn incident_lines(
    input: &ReportInput<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<IncidentLine> {
    input
        .incidents
        .iter()
        .filter(|i| i.operator == input.operator && i.opened_at >= from && i.opened_at < to)
        .map(|i| IncidentLine {
            id: i.id.clone(),
            severity: i.severity,
            kind: i.kind.as_str().to_string(),
            opened_at: i.opened_at,
            resolved_at: i.resolved_at,
            initial_response_due: i.initial_response_due,
            acknowledged_at: i.acknowledged_at,
            minutes_to_acknowledge: i.acknowledged_at.map(|a| minutes(a - i.opened_at)),
            acknowledged_on_time: i
                .acknowledged_at
                .is_some_and(|a| a <= i.initial_response_due),
        })
        .collect()
}

fn maintenance_lines(
    notices: &[Maintenance],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<MaintenanceLine> {
    notices
        .iter()
        .filter(|m| m.start >= from && m.start < to)
        .map(|m| MaintenanceLine {
            id: m.id.clone(),
            start: m.start,
            end: m.end,
            lead_business_days: m.lead_business_days,
            late: m.late,
            approved: !m.needs_approval(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{IncidentKind, IncidentStatus};
    use crate::probe::{FailureReason, Outcome, ProbeResult};
    use crate::MaintenanceWindow;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// The days the monitor decides from `probes` (in time order), with
    /// `windows` announced, on `tz`'s calendar.
    fn decided(
        probes: &[ProbeResult],
        windows: &[crate::MaintenanceWindow],
        tz: chrono_tz::Tz,
    ) -> Vec<DaySummary> {
        let mut op = crate::testing::madrid_operator("contoso");
        op.timezone = tz;
        op.maintenance = windows.to_vec();
        crate::summary::decide_days(&op, &Policy::default(), &Default::default(), probes)
    }

    fn probe(t: DateTime<Utc>, up: bool, latency: f64) -> ProbeResult {
        ProbeResult {
            operator: OperatorId::new("contoso").unwrap(),
            probed_at: t,
            outcome: if up { Outcome::Up } else { Outcome::Down },
            reason: (!up).then_some(FailureReason::Status),
            status: Some(if up { 200 } else { 503 }),
            latency_ms: Some(latency),
            phases: None,
            url: None,
            redirects: 0,
            cert_expires_at: None,
            detail: None,
            cpu_wait_ms: None,
            addresses: vec![],
            location: None,
            slot: None,
        }
    }

    /// A name with two addresses: each one's share of the probes that
    /// listed it, the most probed first.
    #[test]
    fn each_address_has_its_availability() {
        use crate::probe::AddressResult;
        let addr = |ip: &str, up: bool| AddressResult {
            address: ip.parse().unwrap(),
            outcome: if up { Outcome::Up } else { Outcome::Down },
            reason: (!up).then_some(FailureReason::Connect),
            latency_ms: Some(100.0),
        };
        let probes: Vec<ProbeResult> = (0..100)
            .map(|i| {
                let mut p = probe(
                    utc("2026-02-10T00:00:00Z") + Duration::seconds(30 * i),
                    true,
                    100.0,
                );
                p.addresses = vec![addr("203.0.113.7", true), addr("2001:db8::7", i % 4 != 0)];
                if i >= 90 {
                    p.addresses.pop();
                }
                p
            })
            .collect();
        let days = decided(&probes, &[], chrono_tz::Tz::UTC);
        let lines = address_lines(&days.iter().collect::<Vec<_>>());
        let got: Vec<(String, usize, usize)> = lines
            .iter()
            .map(|l| (l.address.to_string(), l.probes, l.up))
            .collect();
        assert_eq!(
            got,
            [
                ("203.0.113.7".into(), 100, 100),
                ("2001:db8::7".into(), 90, 67)
            ]
        );
        assert!((lines[1].availability_percent - 67.0 * 100.0 / 90.0).abs() < 1e-9);
        assert!(address_lines(&[]).is_empty());
    }

    #[test]
    fn timings_holding_our_own_cpu_wait_are_left_out_of_the_latency_figures() {
        let t = utc("2026-02-10T10:00:00Z");
        let at = |i: i64| t + chrono::Duration::seconds(30 * i);
        let with_wait = |i, latency, wait| ProbeResult {
            cpu_wait_ms: wait,
            ..probe(at(i), true, latency)
        };
        let probes = [
            with_wait(0, 100.0, None),
            with_wait(1, 200.0, Some(0.5)),
            with_wait(2, 300.0, Some(crate::probe::MAX_CPU_WAIT_MS)),
            // Slow only because the prober could not run: not the operator's.
            with_wait(3, 900.0, Some(250.0)),
            with_wait(4, 950.0, Some(10.5)),
            // Down probes never count for latency, trusted or not.
            ProbeResult {
                cpu_wait_ms: Some(99.0),
                ..probe(at(5), false, 5.0)
            },
        ];
        let l = latency_of(&probes);
        let near = |got: Option<f64>, want: f64| {
            got.is_some_and(|g| (g - want).abs() <= want * crate::sketch::RELATIVE_ACCURACY)
        };
        assert_eq!((l.samples, l.untrusted, l.over_sla_percent), (3, 2, 0.0));
        assert!(near(l.p50_ms, 200.0) && near(l.p99_ms, 300.0), "{l:?}");
        // Counting them would have put 40% of the month over the SLA.
        let all: Vec<ProbeResult> = probes
            .iter()
            .map(|p| ProbeResult {
                cpu_wait_ms: None,
                ..p.clone()
            })
            .collect();
        let l = latency_of(&all);
        assert_eq!((l.samples, l.untrusted, l.over_sla_percent), (5, 0, 40.0));
    }

    /// The latency figures of a month made of `probes`.
    fn latency_of(probes: &[ProbeResult]) -> Latency {
        let days = decided(probes, &[], chrono_tz::Tz::UTC);
        report_of(&days, "2026-02", chrono_tz::Tz::UTC).latency
    }

    fn report_of(days: &[DaySummary], month: &str, tz: chrono_tz::Tz) -> MonthlyReport {
        monthly(ReportInput {
            operator: OperatorId::new("contoso").unwrap(),
            month: month.parse().unwrap(),
            policy: &Policy::default(),
            days,
            incidents: &[],
            notices: &[],
            timezone: tz,
        })
    }

    #[test]
    fn a_month_has_its_days_and_its_predecessor() {
        let june: Month = "2026-06".parse().unwrap();
        let days = june.day_bounds(chrono_tz::Tz::UTC);
        assert_eq!(
            days.len(),
            31,
            "30 days and the next month's first midnight"
        );
        assert_eq!(
            (days[0], days[30]),
            (utc("2026-06-01T00:00:00Z"), utc("2026-07-01T00:00:00Z"))
        );
        assert_eq!(
            june.bounds_in(chrono_tz::Europe::Madrid),
            (utc("2026-05-31T22:00:00Z"), utc("2026-06-30T22:00:00Z"))
        );
        let december: Month = "2026-12".parse().unwrap();
        let days = december.day_bounds(chrono_tz::Tz::UTC);
        assert_eq!((days.len(), days[31]), (32, utc("2027-01-01T00:00:00Z")));
        let prev = |t: &str| Month::previous(utc(t)).to_string();
        assert_eq!(prev("2026-03-01T00:00:00Z"), "2026-02");
        assert_eq!(prev("2026-01-15T12:00:00Z"), "2025-12");
        // The last month ended on the operator's calendar: (now, zone, month).
        let table = [
            (
                "2026-12-01T00:05:00Z",
                chrono_tz::America::New_York,
                "2026-10",
            ),
            (
                "2026-12-01T04:59:59Z",
                chrono_tz::America::New_York,
                "2026-10",
            ),
            (
                "2026-12-01T05:00:00Z",
                chrono_tz::America::New_York,
                "2026-11",
            ),
            ("2026-11-30T23:00:00Z", chrono_tz::Europe::Madrid, "2026-11"),
            ("2026-11-30T22:59:59Z", chrono_tz::Europe::Madrid, "2026-10"),
            (
                "2027-01-01T04:59:59Z",
                chrono_tz::America::New_York,
                "2026-11",
            ),
            (
                "2027-01-01T05:00:00Z",
                chrono_tz::America::New_York,
                "2026-12",
            ),
            ("2026-12-01T00:00:00Z", chrono_tz::Tz::UTC, "2026-11"),
        ];
        for (now, tz, month) in table {
            assert_eq!(
                Month::previous_in(utc(now), tz).to_string(),
                month,
                "{now} {tz}"
            );
        }
    }

    #[test]
    fn a_latency_at_the_sla_is_within_it_and_the_month_ends_where_it_ends() {
        let t = utc("2026-02-10T10:00:00Z");
        assert_eq!(latency_of(&[probe(t, true, 400.0)]).over_sla_percent, 0.0);
        assert_eq!(
            latency_of(&[probe(t, true, 400.001)]).over_sla_percent,
            100.0
        );
        // Rounds just outside the month are not the month's.
        let probes = [
            probe(utc("2026-01-31T23:59:30Z"), false, 5.0),
            probe(utc("2026-02-01T00:00:00Z"), true, 100.0),
            probe(utc("2026-03-01T00:00:00Z"), false, 5.0),
        ];
        let days = decided(&probes, &[], chrono_tz::Tz::UTC);
        let r = report_of(&days, "2026-02", chrono_tz::Tz::UTC);
        assert_eq!((r.probes, r.rounds, r.rounds_down), (1, 1, 0));
    }

    #[test]
    fn months_parse_and_bound() {
        let m: Month = "2026-02".parse().unwrap();
        assert_eq!(
            (m.start(), m.end()),
            (utc("2026-02-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"))
        );
        let d: Month = "2026-12".parse().unwrap();
        assert_eq!(d.end(), utc("2027-01-01T00:00:00Z"));
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
        assert_eq!(
            Month::previous(utc("2027-01-01T00:05:00Z")).to_string(),
            "2026-12"
        );
    }

    /// February 2026 (28 days, 40,320 minutes), hand-computed:
    /// * probes every 30 s, 100 ms, except the first 1,000 of the month at 500 ms;
    /// * down 10 Feb 10:00–10:30 (60 probes): 30 minutes of downtime;
    /// * announced maintenance 14 Feb 02:00–03:00, down throughout: 60 minutes
    ///   down inside maintenance, not counted against the SLA;
    /// * no probes 20 Feb 00:00–02:00: 120 minutes unknown (the probe at
    ///   23:59:30 speaks for its slot, 30 s);
    /// * no probes 22 Feb 10:00:30–10:04:30: 9 slots, 4.5 minutes unknown.
    ///
    /// Up = 40,320 − 30 − 60 − 120 − 4.5 = 40,105.5 minutes.
    /// Raw = 40,105.5 / 40,320. SLA = (40,105.5 − 30) / (40,105.5 − 30 + 30).
    /// Budget = 40,320 × 0.1 % = 40.32 minutes; left 10.32.
    /// Rounds = 28 × 2,880 − 240 − 9 = 80,391; down 180; up 80,211, of which
    /// 1,000 over 400 ms = 1.2467 %, so p99 is 500 ms and p95 100 ms (each
    /// within the sketch's 1%).
    #[test]
    fn fixture_month_matches_the_hand_computation() {
        let month: Month = "2026-02".parse().unwrap();
        let mut probes = Vec::new();
        let mut t = month.start();
        let mut n = 0;
        while t < month.end() {
            let in_gap = t >= utc("2026-02-20T00:00:00Z") && t < utc("2026-02-20T02:00:00Z");
            // Five minutes without a probe, exactly `blind_after`: still observed.
            let short_gap = t > utc("2026-02-22T10:00:00Z") && t < utc("2026-02-22T10:05:00Z");
            if !in_gap && !short_gap {
                let down = (t >= utc("2026-02-10T10:00:00Z") && t < utc("2026-02-10T10:30:00Z"))
                    || (t >= utc("2026-02-14T02:00:00Z") && t < utc("2026-02-14T03:00:00Z"));
                probes.push(probe(t, !down, if n < 1000 { 500.0 } else { 100.0 }));
                n += 1;
            }
            t += Duration::seconds(30);
        }
        // Down 02:00-03:00 inside a window to 03:30: half an hour of it up.
        let windows = [MaintenanceWindow {
            start: utc("2026-02-14T02:00:00Z"),
            end: utc("2026-02-14T03:30:00Z"),
            announced_at: None,
            description: None,
        }];
        let op = OperatorId::new("contoso").unwrap();
        let incident = |id: &str, opened: &str, ack: Option<&str>| Incident {
            id: id.into(),
            operator: op.clone(),
            severity: Severity::High,
            kind: IncidentKind::PortalDown,
            raised_by: crate::incident::Party::Team,
            owed_by: crate::incident::Party::Operator,
            status: IncidentStatus::Resolved,
            started_at: utc(opened),
            opened_at: utc(opened),
            resolved_at: None,
            summary: String::new(),
            initial_response_due: utc(opened) + Duration::hours(1),
            acknowledged_at: ack.map(utc),
            last_update_at: None,
            next_update_due: None,
            version: 0,
        };
        let mut slow = incident("e", "2026-02-20T12:00:00Z", None);
        slow.kind = IncidentKind::LatencySla;
        let mut slow_in_march = incident("f", "2026-03-02T12:00:00Z", None);
        slow_in_march.kind = IncidentKind::LatencySla;
        let incidents = [
            incident("a", "2026-02-10T10:30:30Z", Some("2026-02-10T10:50:00Z")),
            incident("b", "2026-02-14T03:00:00Z", Some("2026-02-14T04:30:00Z")),
            incident("c", "2026-01-31T23:00:00Z", None),
            incident("d", "2026-03-01T00:00:00Z", None),
            slow,
            slow_in_march,
        ];
        let notice = |start: &str, late: bool| Maintenance {
            id: start.into(),
            announcer: crate::partner::Announcer::Operator(op.clone()),
            start: utc(start),
            end: utc(start) + Duration::hours(1),
            description: "d".into(),
            services: vec![],
            announced_at: utc("2026-01-01T00:00:00Z"),
            lead_business_days: if late { 2 } else { 9 },
            late,
            approved_at: None,
            over_limit: None,
            status: crate::partner::MaintenanceStatus::Completed,
            completed_at: None,
            cancelled_at: None,
        };
        let notices = [
            notice("2026-01-31T23:59:59Z", false),
            notice("2026-02-01T00:00:00Z", true),
            notice("2026-02-14T02:00:00Z", false),
            notice("2026-02-20T10:00:00Z", false),
            notice("2026-03-01T00:00:00Z", true),
        ];
        let policy = Policy::default();
        let days = decided(&probes, &windows, chrono_tz::Tz::UTC);
        let r = monthly(ReportInput {
            operator: op,
            month,
            policy: &policy,
            days: &days,
            incidents: &incidents,
            notices: &notices,
            timezone: chrono_tz::Tz::UTC,
        });
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(r.minutes_in_month, 40_320.0));
        assert!(close(r.downtime_minutes, 30.0), "{}", r.downtime_minutes);
        assert!(close(r.down_in_maintenance_minutes, 60.0));
        assert!(close(r.unknown_minutes, 124.5), "{}", r.unknown_minutes);
        assert!(close(r.up_minutes, 40_105.5), "{}", r.up_minutes);
        assert!(close(
            r.availability_raw_percent,
            40_105.5 * 100.0 / 40_320.0
        ));
        assert!(close(
            r.availability_percent.unwrap(),
            40_075.5 * 100.0 / 40_105.5
        ));
        assert!(close(r.maintenance_minutes, 90.0));
        let lines: Vec<&str> = r.maintenance.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            lines,
            [
                "2026-02-01T00:00:00Z",
                "2026-02-14T02:00:00Z",
                "2026-02-20T10:00:00Z"
            ]
        );
        assert_eq!((r.maintenance_on_time, r.maintenance_late), (2, 1));
        assert!(r.met_target);
        assert!(close(r.error_budget_minutes, 40.32));
        assert!(close(r.error_budget_left_minutes, 10.32));
        assert_eq!((r.probes, r.rounds, r.rounds_down), (80_391, 80_391, 180));
        let near = |got: Option<f64>, want: f64| {
            got.is_some_and(|g| (g - want).abs() <= want * crate::sketch::RELATIVE_ACCURACY)
        };
        assert!(
            near(r.latency.p50_ms, 100.0)
                && near(r.latency.p95_ms, 100.0)
                && near(r.latency.p99_ms, 500.0),
            "{:?}",
            r.latency
        );
        assert!(close(r.latency.over_sla_percent, 1000.0 * 100.0 / 80_211.0));
        assert_eq!(
            r.incidents.len(),
            3,
            "January's and March's incidents are not February's"
        );
        assert_eq!(
            r.latency.incidents, 1,
            "February's latency SLA incident counted"
        );
        assert_eq!(r.incidents[0].minutes_to_acknowledge, Some(19.5));
        assert!(r.incidents[0].acknowledged_on_time && !r.incidents[1].acknowledged_on_time);
        assert_eq!(r.days.len(), 28);
        let d20 = &r.days[19];
        assert!(close(d20.unknown_minutes, 120.0) && d20.availability_percent == Some(100.0));
        let d10 = &r.days[9];
        assert!(close(d10.down_minutes, 30.0) && close(d10.unknown_minutes, 0.0));
        assert_eq!(
            (d10.latency.samples, r.days[19].latency.samples),
            (2820, 2640)
        );
        let d14 = &r.days[13];
        assert!(close(d14.unknown_minutes, 0.0) && close(d14.down_minutes, 0.0));
        assert_eq!(d14.availability_percent, Some(100.0));
        assert!(
            close(r.days[21].unknown_minutes, 4.5),
            "nine slots without a round are unknown"
        );
        assert!(close(
            d10.availability_percent.unwrap(),
            (1440.0 - 30.0) * 100.0 / 1440.0
        ));
    }

    #[test]
    fn days_and_month_are_the_operators_local_ones() {
        let month: Month = "2026-03".parse().unwrap();
        let madrid = chrono_tz::Europe::Madrid;
        let b = month.day_bounds(madrid);
        assert_eq!(b.len(), 32);
        assert_eq!(b[0], utc("2026-02-28T23:00:00Z"), "1 March 00:00 CET");
        assert_eq!(b[31], utc("2026-03-31T22:00:00Z"), "1 April 00:00 CEST");
        // 29 March has 23 hours in Madrid.
        assert_eq!(b[29] - b[28], Duration::hours(23));
        let policy = Policy::default();
        let probes: Vec<ProbeResult> = (0..)
            .map(|i| b[0] + Duration::seconds(30 * i))
            .take_while(|t| *t < b[31])
            .map(|t| probe(t, true, 100.0))
            .collect();
        let days = decided(&probes, &[], madrid);
        let r = monthly(ReportInput {
            operator: OperatorId::new("contoso").unwrap(),
            month,
            policy: &policy,
            days: &days,
            incidents: &[],
            notices: &[],
            timezone: madrid,
        });
        assert_eq!(r.days.len(), 31);
        assert_eq!(r.days[28].date.to_string(), "2026-03-29");
        assert!(
            r.days.iter().all(|d| d.unknown_minutes.abs() < 1e-9),
            "every local day fully observed"
        );
        assert!(
            (r.minutes_in_month - (31.0 * 1440.0 - 60.0)).abs() < 1e-9,
            "a month an hour short"
        );
    }

    #[test]
    fn a_month_without_probes_is_unknown_not_down() {
        let policy = Policy::default();
        let r = monthly(ReportInput {
            operator: OperatorId::new("contoso").unwrap(),
            month: "2026-04".parse().unwrap(),
            policy: &policy,
            days: &[],
            incidents: &[],
            notices: &[],
            timezone: chrono_tz::Tz::UTC,
        });
        assert_eq!(r.availability_percent, None);
        assert!(!r.met_target);
        assert_eq!(r.downtime_minutes, 0.0);
        assert_eq!(r.unknown_minutes, 30.0 * 1440.0);
        assert!(
            r.days.iter().all(|d| d.availability_percent.is_none()),
            "a day nobody watched has no availability"
        );
        assert!(
            (r.error_budget_minutes - 43.2).abs() < 1e-9,
            "43.2 minutes in a 30-day month at 99.9%"
        );
    }
}
