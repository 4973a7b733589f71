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
    /// How the month stands when the report is made: met or missed once it
    /// has ended; in progress before; no data when nothing was observed.
    #[serde(default)]
    pub standing: Standing,
    /// The minutes of the month gone by when the report was made (all of
    /// them once it has ended): `unknown_minutes` counts only these.
    #[serde(default)]
    pub elapsed_minutes: f64,
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
    /// The month has ended at or above the target (`standing` is `Met`).
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
    /// When the report is made: a month not yet over is in progress, and
    /// its time still to come is not unknown time.
    pub now: DateTime<Utc>,
}

/// Where the month stands against the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Met,
    Missed,
    /// The month has not ended: the figures are so far.
    InProgress,
    /// No time of the month was observed: no figure at all.
    #[default]
    NoData,
}

impl Standing {
    fn of(availability: Option<f64>, target: f64, ended: bool) -> Self {
        match availability {
            None => Self::NoData,
            Some(_) if !ended => Self::InProgress,
            Some(a) if a >= target => Self::Met,
            Some(_) => Self::Missed,
        }
    }

    /// The verdict as the report prints it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Met => "MET",
            Self::Missed => "MISSED",
            Self::InProgress => "so far (month in progress)",
            Self::NoData => "no data (nothing was observed)",
        }
    }
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
    let elapsed_minutes = minutes(input.now.clamp(from, to) - from);
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
        standing: Standing::of(availability, target, input.now >= to),
        elapsed_minutes,
        target_percent: target,
        latency_sla_ms: policy.latency_sla_ms,
        minutes_in_month: month_minutes,
        up_minutes: up,
        downtime_minutes: seconds_to_minutes(total.down),
        down_in_maintenance_minutes: seconds_to_minutes(total.maint_down),
        maintenance_minutes: seconds_to_minutes(total.maint_up + total.maint_down),
        unknown_minutes: (elapsed_minutes - seconds_to_minutes(total.observed())).max(0.0),
        availability_raw_percent: up * 100.0 / month_minutes,
        availability_percent: availability,
        met_target: Standing::of(availability, target, input.now >= to) == Standing::Met,
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
mod tests;
