//! Incidents and their communication clocks.
//!
//! High: initial response due 1 hour after the page, then an update every
//! business day until resolved. Low: initial response due 1 business day after
//! the email, then an update every week.

use crate::calendar::BusinessCalendar;
use crate::config::Policy;
use crate::ids::key_time;
use crate::ids::OperatorId;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    High,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "low",
            Self::High => "high",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The portal's expected response missing for longer than the outage limit.
    PortalDown,
    /// The portal failing most probes without a long enough unbroken run.
    Flapping,
    /// An outage an operator reported itself.
    OutageReport,
    /// A Low-severity information request.
    InformationRequest,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PortalDown => "portal_down",
            Self::Flapping => "flapping",
            Self::OutageReport => "outage_report",
            Self::InformationRequest => "information_request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Deterministic: operator, start of the trouble and kind, so a recomputed
    /// decision names the same incident and conditional writes can dedupe it.
    pub id: String,
    pub operator: OperatorId,
    pub severity: Severity,
    pub kind: IncidentKind,
    pub status: IncidentStatus,
    /// When the trouble began (first failed probe of the run for an outage).
    pub started_at: DateTime<Utc>,
    /// When the incident was opened and the partner was told.
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub initial_response_due: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub last_update_at: Option<DateTime<Utc>>,
    /// Next update due once acknowledged; `None` before the acknowledgement
    /// (the initial response clock runs instead) and after resolution.
    pub next_update_due: Option<DateTime<Utc>>,
    /// Optimistic concurrency: every write is conditional on the version it
    /// read and stores the next one, so an acknowledgement racing a
    /// resolution can never write the resolved incident back open. Absent in
    /// records written before versions: 0.
    #[serde(default)]
    pub version: u64,
}

/// Builds the deterministic id shared by every store and every retry.
pub fn incident_id(operator: &OperatorId, started_at: DateTime<Utc>, kind: IncidentKind) -> String {
    format!("{}-{}-{}", operator, key_time(started_at), kind.as_str())
}

/// The communication clocks, computed on the operator's calendar.
pub fn initial_response_due(
    severity: Severity,
    opened_at: DateTime<Utc>,
    high_initial_response: std::time::Duration,
    low_business_days: u32,
    calendar: &BusinessCalendar,
) -> DateTime<Utc> {
    match severity {
        Severity::High => {
            opened_at + Duration::from_std(high_initial_response).unwrap_or(Duration::hours(1))
        }
        Severity::Low => calendar.add_business_days(opened_at, low_business_days),
    }
}

/// The contract's update cadence: High every business day, Low every week.
pub const HIGH_UPDATE_BUSINESS_DAYS: u32 = 1;
pub const LOW_UPDATE_EVERY: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// When the next update is due after one given at `at`.
pub fn next_update_due(
    severity: Severity,
    at: DateTime<Utc>,
    calendar: &BusinessCalendar,
) -> DateTime<Utc> {
    match severity {
        Severity::High => calendar.add_business_days(at, HIGH_UPDATE_BUSINESS_DAYS),
        Severity::Low => at + Duration::from_std(LOW_UPDATE_EVERY).unwrap_or(Duration::weeks(1)),
    }
}

/// What opens an incident: the rest (its status, its clocks) follows from
/// the policy and the calendar of the side that owes the answer.
pub struct Opening<'a> {
    pub id: String,
    pub operator: &'a OperatorId,
    pub severity: Severity,
    pub kind: IncidentKind,
    /// When the trouble began (the first failed probe, the outage's start).
    pub started_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub summary: String,
}

impl Incident {
    /// The one way to open an incident.
    pub fn open(o: Opening<'_>, policy: &Policy, calendar: &BusinessCalendar) -> Self {
        Self {
            initial_response_due: initial_response_due(
                o.severity,
                o.opened_at,
                policy.high_initial_response,
                policy.low_initial_response_business_days,
                calendar,
            ),
            id: o.id,
            operator: o.operator.clone(),
            severity: o.severity,
            kind: o.kind,
            status: IncidentStatus::Open,
            started_at: o.started_at,
            opened_at: o.opened_at,
            resolved_at: None,
            summary: o.summary,
            acknowledged_at: None,
            last_update_at: None,
            next_update_due: None,
            version: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == IncidentStatus::Open
    }

    /// The partner's initial response: stops the initial clock, starts the update clock.
    /// A second acknowledgement counts as an update.
    pub fn acknowledge(&mut self, at: DateTime<Utc>, calendar: &BusinessCalendar) {
        if self.acknowledged_at.is_none() {
            self.acknowledged_at = Some(at);
        }
        self.record_update(at, calendar);
    }

    pub fn record_update(&mut self, at: DateTime<Utc>, calendar: &BusinessCalendar) {
        self.last_update_at = Some(at);
        if self.acknowledged_at.is_none() {
            self.acknowledged_at = Some(at);
        }
        if self.is_open() {
            self.next_update_due = Some(next_update_due(self.severity, at, calendar));
        }
    }

    pub fn resolve(&mut self, at: DateTime<Utc>) {
        self.status = IncidentStatus::Resolved;
        self.resolved_at = Some(at);
        self.next_update_due = None;
    }

    /// Whether the initial response was late (or is overdue at `now` if none yet).
    pub fn initial_response_overdue(&self, now: DateTime<Utc>) -> bool {
        match self.acknowledged_at {
            Some(a) => a > self.initial_response_due,
            None => self.is_open() && now > self.initial_response_due,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn incident(severity: Severity, opened: &str, cal: &BusinessCalendar) -> Incident {
        let opened = utc(opened);
        Incident {
            id: "x".into(),
            operator: OperatorId::new("contoso").unwrap(),
            severity,
            kind: IncidentKind::PortalDown,
            status: IncidentStatus::Open,
            started_at: opened,
            opened_at: opened,
            resolved_at: None,
            summary: String::new(),
            initial_response_due: initial_response_due(
                severity,
                opened,
                std::time::Duration::from_secs(3600),
                1,
                cal,
            ),
            acknowledged_at: None,
            last_update_at: None,
            next_update_due: None,
            version: 0,
        }
    }

    #[test]
    fn an_acknowledgement_at_the_deadline_is_on_time() {
        let cal = BusinessCalendar::default();
        let mut i = incident(Severity::High, "2026-11-27T10:00:00Z", &cal);
        assert!(!i.initial_response_overdue(utc("2026-11-27T11:00:00Z")));
        assert!(i.initial_response_overdue(utc("2026-11-27T11:00:01Z")));
        let mut on_time = i.clone();
        on_time.acknowledge(utc("2026-11-27T11:00:00Z"), &cal);
        assert!(!on_time.initial_response_overdue(utc("2026-11-28T00:00:00Z")));
        i.acknowledge(utc("2026-11-27T11:00:01Z"), &cal);
        assert!(i.initial_response_overdue(utc("2026-11-28T00:00:00Z")));
    }

    #[test]
    fn clocks_table() {
        let cal = BusinessCalendar::new(chrono_tz::Europe::Madrid, ["2026-12-08".parse().unwrap()]);
        // (severity, opened, initial due, ack at, next update due after the ack)
        let cases = [
            // High on a Friday evening: 1 hour, whatever the day; the next update
            // is one business day after the ack, i.e. Monday.
            (
                Severity::High,
                "2026-11-27T19:00:00Z",
                "2026-11-27T20:00:00Z",
                "2026-11-27T19:30:00Z",
                "2026-11-30T19:30:00Z",
            ),
            // High acked the evening before a holiday: update due the day after it.
            (
                Severity::High,
                "2026-12-07T17:00:00Z",
                "2026-12-07T18:00:00Z",
                "2026-12-07T17:10:00Z",
                "2026-12-09T17:10:00Z",
            ),
            // Low on a Friday evening: initial response due Monday evening; updates weekly.
            (
                Severity::Low,
                "2026-11-27T17:00:00Z",
                "2026-11-30T17:00:00Z",
                "2026-11-30T09:00:00Z",
                "2026-12-07T09:00:00Z",
            ),
            // Low opened on Saturday: due at the end of Monday, local time.
            (
                Severity::Low,
                "2026-11-28T12:00:00Z",
                "2026-11-30T23:00:00Z",
                "2026-11-30T08:00:00Z",
                "2026-12-07T08:00:00Z",
            ),
        ];
        for (sev, opened, due, ack, next) in cases {
            let mut i = incident(sev, opened, &cal);
            assert_eq!(i.initial_response_due, utc(due), "{sev} {opened}");
            assert!(!i.initial_response_overdue(utc(due)));
            assert!(i.initial_response_overdue(utc(due) + Duration::seconds(1)));
            i.acknowledge(utc(ack), &cal);
            assert_eq!(i.next_update_due, Some(utc(next)), "{sev} {opened} next");
            assert!(!i.initial_response_overdue(utc(due) + Duration::days(30)));
        }
    }

    #[test]
    fn resolution_stops_update_clock() {
        let cal = BusinessCalendar::default();
        let mut i = incident(Severity::High, "2026-11-24T10:00:00Z", &cal);
        i.acknowledge(utc("2026-11-24T10:20:00Z"), &cal);
        i.resolve(utc("2026-11-24T12:00:00Z"));
        assert_eq!(i.next_update_due, None);
        i.record_update(utc("2026-11-24T13:00:00Z"), &cal);
        assert_eq!(
            i.next_update_due, None,
            "a closing note on a resolved incident starts no clock"
        );
    }

    #[test]
    fn ids_are_deterministic() {
        let op = OperatorId::new("contoso").unwrap();
        assert_eq!(
            incident_id(&op, utc("2026-11-27T10:00:30Z"), IncidentKind::PortalDown),
            "contoso-20261127T100030Z-portal_down"
        );
    }
}
