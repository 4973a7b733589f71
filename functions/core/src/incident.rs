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
    /// A Low-severity information request (either side may ask the other).
    InformationRequest,
    /// The operator's reporting failed (a Low incident the team raises).
    ReportingFailure,
    /// The portal answers, but slower than the latency SLA, sustained.
    LatencySla,
    /// The portal answers, but some of the addresses its name resolves to
    /// have failed for longer than the outage limit.
    PartialOutage,
    /// One probing location fails while the others see the portal up: the
    /// path from that location is in trouble, the team's to look at.
    LocationPath,
    /// The portal unreachable from inside the operator's walled garden, as
    /// its own agent sees it, for longer than the outage limit.
    WalledGarden,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PortalDown => "portal_down",
            Self::Flapping => "flapping",
            Self::OutageReport => "outage_report",
            Self::InformationRequest => "information_request",
            Self::ReportingFailure => "reporting_failure",
            Self::LatencySla => "latency_sla",
            Self::PartialOutage => "partial_outage",
            Self::LocationPath => "location_path",
            Self::WalledGarden => "walled_garden",
        }
    }

    /// Raised by the monitor from probe results, and closed by it when the
    /// portal recovers: nobody resolves these by hand.
    pub fn is_monitored(self) -> bool {
        matches!(
            self,
            Self::PortalDown
                | Self::Flapping
                | Self::LatencySla
                | Self::PartialOutage
                | Self::LocationPath
                | Self::WalledGarden
        )
    }

    /// Who owes the answer to an incident of this kind raised by `raised`:
    /// the other side, except the monitor's own trouble (a location's path),
    /// which is the team's.
    pub fn owed_when_raised_by(self, raised: Party) -> Party {
        match self {
            Self::LocationPath => Party::Team,
            _ => raised.other(),
        }
    }

    /// Who owes the answer when a record does not say (those written before
    /// incidents ran both ways): the monitor's incidents and reporting
    /// failures are the operator's to answer, what an operator reported or
    /// asked is the team's.
    pub(crate) fn default_owner(self) -> Party {
        match self {
            Self::LocationPath => Party::Team,
            Self::PortalDown
            | Self::Flapping
            | Self::ReportingFailure
            | Self::LatencySla
            | Self::PartialOutage
            | Self::WalledGarden => Party::Operator,
            Self::OutageReport | Self::InformationRequest => Party::Team,
        }
    }
}

/// The two sides of the contract: whoever receives an incident owes the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The DYNAMO team (its monitor raises on its behalf).
    Team,
    Operator,
}

impl Party {
    pub fn other(self) -> Self {
        match self {
            Self::Team => Self::Operator,
            Self::Operator => Self::Team,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Team => "team",
            Self::Operator => "operator",
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
#[serde(remote = "Self")]
pub struct Incident {
    /// Deterministic: operator, start of the trouble and kind, so a recomputed
    /// decision names the same incident and conditional writes can dedupe it.
    pub id: String,
    pub operator: OperatorId,
    pub severity: Severity,
    pub kind: IncidentKind,
    /// Who raised it; the monitor raises for the team.
    pub raised_by: Party,
    /// Who owes the answer: acknowledges, updates and (for what people
    /// raised) resolves it, and whose calendar its clocks run on.
    pub owed_by: Party,
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

impl Serialize for Incident {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Incident::serialize(self, s)
    }
}

/// Records written before incidents ran both ways name neither side: they
/// are filled in from the kind (`IncidentKind::default_owner`), so every
/// stored incident still reads and none is ever answered by the wrong side.
impl<'de> Deserialize<'de> for Incident {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(d)?;
        if let Some(fields) = value.as_object_mut() {
            if !fields.contains_key("owed_by") {
                let kind = fields
                    .get("kind")
                    .cloned()
                    .map(serde_json::from_value::<IncidentKind>)
                    .transpose()
                    .map_err(serde::de::Error::custom)?;
                if let Some(kind) = kind {
                    let owner = kind.default_owner();
                    fields.insert("owed_by".into(), owner.as_str().into());
                    fields
                        .entry("raised_by")
                        .or_insert_with(|| owner.other().as_str().into());
                }
            }
        }
        Incident::deserialize(value).map_err(serde::de::Error::custom)
    }
}

/// What one side does with an incident it owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Acknowledge,
    Update,
    /// Only for what people raised: the monitor closes its own incidents
    /// when the portal recovers.
    Resolve,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledged",
            Self::Update => "updated",
            Self::Resolve => "resolved",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    pub first_acknowledgement: bool,
    pub update_was_overdue: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the answer is owed by the {}", .0.as_str())]
    NotOwed(Party),
    #[error("the incident is resolved")]
    Resolved,
    #[error("the monitor resolves this incident when the portal recovers")]
    Monitored,
}

/// Builds the deterministic id shared by every store and every retry: the
/// monitor's form (`IdForm::Monitored`), which the compact state re-derives.
pub fn incident_id(operator: &OperatorId, started_at: DateTime<Utc>, kind: IncidentKind) -> String {
    format!("{}-{}-{}", operator, key_time(started_at), kind.as_str())
}

/// How an incident's id is formed: one form for each way an incident opens,
/// so the same opening always gets the same id (a retried batch or request
/// finds the incident it already recorded) and no adapter builds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    /// The monitor's: operator, start, kind (`incident_id`).
    Monitored,
    /// An operator's outage report: operator, the awareness second and
    /// `report`; the `n`th different report aware in that second gets
    /// `-{n + 1}` (`n` = 0: none).
    Report { aware_at: DateTime<Utc>, n: u32 },
    /// What a person raised: operator, the millisecond it opened, the kind
    /// (`team_` first when the team raised it).
    Raised,
}

impl Opening<'_> {
    /// The id this opening gets (`IdForm`).
    pub fn id(&self) -> String {
        let op = self.operator;
        match self.form {
            IdForm::Monitored => incident_id(op, self.started_at, self.kind),
            IdForm::Report { aware_at, n: 0 } => format!("{op}-{}-report", key_time(aware_at)),
            IdForm::Report { aware_at, n } => {
                format!("{op}-{}-report-{}", key_time(aware_at), n + 1)
            }
            IdForm::Raised => {
                let by = match self.raised_by {
                    Party::Team => "team_",
                    Party::Operator => "",
                };
                let at = crate::ids::key_time_ms(self.opened_at);
                format!("{op}-{at}-{by}{}", self.kind.as_str())
            }
        }
    }
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

/// The contract's update cadence: High every business day, Low every week
/// (the same local time on the owing side's calendar, 7 days later).
pub const HIGH_UPDATE_BUSINESS_DAYS: u32 = 1;
pub const LOW_UPDATE_EVERY: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);
const LOW_UPDATE_DAYS: u32 = (LOW_UPDATE_EVERY.as_secs() / 86_400) as u32;

/// When the next update is due after one given at `at`.
pub fn next_update_due(
    severity: Severity,
    at: DateTime<Utc>,
    calendar: &BusinessCalendar,
) -> DateTime<Utc> {
    match severity {
        Severity::High => calendar.add_business_days(at, HIGH_UPDATE_BUSINESS_DAYS),
        Severity::Low => calendar.add_local_days(at, LOW_UPDATE_DAYS),
    }
}

/// What opens an incident: the rest (who owes the answer, its status, its
/// clocks) follows from the policy and the calendar of the side that owes it
/// (the side that did not raise it).
pub struct Opening<'a> {
    /// How its id is formed (`Opening::id`).
    pub form: IdForm,
    pub operator: &'a OperatorId,
    pub severity: Severity,
    pub kind: IncidentKind,
    pub raised_by: Party,
    /// When the trouble began (the first failed probe, the outage's start).
    pub started_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub summary: String,
}

impl Incident {
    /// The one way to open an incident.
    pub fn open(o: Opening<'_>, policy: &Policy, calendar: &BusinessCalendar) -> Self {
        let id = o.id();
        Self {
            initial_response_due: initial_response_due(
                o.severity,
                o.opened_at,
                policy.high_initial_response,
                policy.low_initial_response_business_days,
                calendar,
            ),
            id,
            operator: o.operator.clone(),
            severity: o.severity,
            kind: o.kind,
            raised_by: o.raised_by,
            owed_by: o.kind.owed_when_raised_by(o.raised_by),
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

    /// Whether `side` may acknowledge, update or resolve it: the side that
    /// owes the answer, and the team always (it runs the escalation).
    pub fn answerable_by(&self, side: Party) -> bool {
        side == Party::Team || side == self.owed_by
    }

    /// The calendar its clocks run on: the owing side's.
    pub fn calendar<'a>(
        &self,
        operator: &'a BusinessCalendar,
        team: &'a BusinessCalendar,
    ) -> &'a BusinessCalendar {
        match self.owed_by {
            Party::Team => team,
            Party::Operator => operator,
        }
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

    /// One side's answer, decided on the incident as stored (run it inside
    /// `service::change_incident`, so a race between both sides is decided
    /// on what the other wrote). The clocks run on `calendar`, the owing
    /// side's (`Incident::calendar`).
    pub fn answer(
        &mut self,
        side: Party,
        answer: Answer,
        at: DateTime<Utc>,
        calendar: &BusinessCalendar,
    ) -> Result<Answered, Refusal> {
        if !self.answerable_by(side) {
            return Err(Refusal::NotOwed(self.owed_by));
        }
        if !self.is_open() {
            return Err(Refusal::Resolved);
        }
        let answered = Answered {
            first_acknowledgement: self.acknowledged_at.is_none(),
            update_was_overdue: self.next_update_due.is_some_and(|d| at > d),
        };
        match answer {
            Answer::Acknowledge => self.acknowledge(at, calendar),
            Answer::Update => self.record_update(at, calendar),
            Answer::Resolve if self.kind.is_monitored() => return Err(Refusal::Monitored),
            Answer::Resolve => {
                self.record_update(at, calendar);
                self.resolve(at);
            }
        }
        Ok(answered)
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
            raised_by: Party::Team,
            owed_by: Party::Operator,
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

    /// The edges of the clocks, on the owing side's calendar: holidays,
    /// midnight, DST both ways, a Sunday-to-Thursday week.
    #[test]
    fn clock_edges_table() {
        let madrid =
            BusinessCalendar::new(chrono_tz::Europe::Madrid, ["2026-12-08".parse().unwrap()]);
        let riyadh = BusinessCalendar {
            workdays: vec![
                chrono::Weekday::Sun,
                chrono::Weekday::Mon,
                chrono::Weekday::Tue,
                chrono::Weekday::Wed,
                chrono::Weekday::Thu,
            ],
            ..BusinessCalendar::new(chrono_tz::Asia::Riyadh, [])
        };
        let new_york = BusinessCalendar::new(chrono_tz::America::New_York, []);
        // (calendar, severity, opened, initial due, acked at, next update due)
        let cases = [
            // Low opened the evening before a holiday (Mon 7 Dec, 18:00 Madrid): Wednesday 18:00.
            (
                &madrid,
                Severity::Low,
                "2026-12-07T17:00:00Z",
                "2026-12-09T17:00:00Z",
                "2026-12-07T18:00:00Z",
                "2026-12-14T18:00:00Z",
            ),
            // Low opened on the holiday itself: from Wednesday 00:00 to Thursday 00:00 Madrid.
            (
                &madrid,
                Severity::Low,
                "2026-12-08T10:00:00Z",
                "2026-12-09T23:00:00Z",
                "2026-12-09T08:00:00Z",
                "2026-12-16T08:00:00Z",
            ),
            // Opened at local midnight on a business day: the day counts, due the next midnight.
            (
                &madrid,
                Severity::Low,
                "2026-12-01T23:00:00Z",
                "2026-12-02T23:00:00Z",
                "2026-12-02T08:00:00Z",
                "2026-12-09T08:00:00Z",
            ),
            // Weekly across the autumn change (25 Oct 2026): 10:00 CEST to 10:00 CET, 169 hours.
            (
                &madrid,
                Severity::Low,
                "2026-10-20T08:00:00Z",
                "2026-10-21T08:00:00Z",
                "2026-10-20T08:00:00Z",
                "2026-10-27T09:00:00Z",
            ),
            // Weekly across the spring change (28 Mar 2027): 10:00 CET to 10:00 CEST, 167 hours.
            (
                &madrid,
                Severity::Low,
                "2027-03-24T09:00:00Z",
                "2027-03-25T09:00:00Z",
                "2027-03-24T09:00:00Z",
                "2027-03-31T08:00:00Z",
            ),
            // Weekly onto a time the spring change skips (02:30 on 14 Mar 2027 in New York): 03:00.
            (
                &new_york,
                Severity::Low,
                "2027-03-05T12:00:00Z",
                "2027-03-08T12:00:00Z",
                "2027-03-07T07:30:00Z",
                "2027-03-14T07:00:00Z",
            ),
            // High update across the autumn change in New York (1 Nov 2026): Friday 09:00 EDT to Monday 09:00 EST.
            (
                &new_york,
                Severity::High,
                "2026-10-30T12:30:00Z",
                "2026-10-30T13:30:00Z",
                "2026-10-30T13:00:00Z",
                "2026-11-02T14:00:00Z",
            ),
            // Sunday-to-Thursday: Low opened Thursday 17:00 Riyadh is due Sunday 17:00.
            (
                &riyadh,
                Severity::Low,
                "2026-12-03T14:00:00Z",
                "2026-12-06T14:00:00Z",
                "2026-12-06T06:00:00Z",
                "2026-12-13T06:00:00Z",
            ),
            // Opened on its Friday: from Sunday 00:00 to Monday 00:00 Riyadh.
            (
                &riyadh,
                Severity::Low,
                "2026-12-04T09:00:00Z",
                "2026-12-06T21:00:00Z",
                "2026-12-06T06:00:00Z",
                "2026-12-13T06:00:00Z",
            ),
            // High acked Thursday 10:00 Riyadh: the next update is Sunday 10:00.
            (
                &riyadh,
                Severity::High,
                "2026-12-03T06:00:00Z",
                "2026-12-03T07:00:00Z",
                "2026-12-03T07:00:00Z",
                "2026-12-06T07:00:00Z",
            ),
        ];
        for (cal, sev, opened, due, ack, next) in cases {
            let mut i = incident(sev, opened, cal);
            assert_eq!(
                i.initial_response_due,
                utc(due),
                "{} {sev} opened {opened}",
                cal.timezone
            );
            i.acknowledge(utc(ack), cal);
            assert_eq!(
                i.next_update_due,
                Some(utc(next)),
                "{} {sev} acked {ack}",
                cal.timezone
            );
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
    fn records_without_sides_read_with_the_side_their_kind_implies() {
        let cal = BusinessCalendar::default();
        let base =
            serde_json::to_value(incident(Severity::High, "2026-11-27T10:00:00Z", &cal)).unwrap();
        // (stored kind, owed_by, raised_by written or absent, expected owed, expected raised)
        let cases = [
            ("portal_down", None, None, Party::Operator, Party::Team),
            ("flapping", None, None, Party::Operator, Party::Team),
            ("outage_report", None, None, Party::Team, Party::Operator),
            (
                "information_request",
                None,
                None,
                Party::Team,
                Party::Operator,
            ),
            (
                "reporting_failure",
                None,
                None,
                Party::Operator,
                Party::Team,
            ),
            // Written by this version: what is stored wins.
            (
                "information_request",
                Some("operator"),
                Some("team"),
                Party::Operator,
                Party::Team,
            ),
        ];
        for (kind, owed, raised, want_owed, want_raised) in cases {
            let mut v = base.clone();
            let fields = v.as_object_mut().unwrap();
            fields.remove("owed_by");
            fields.remove("raised_by");
            fields.insert("kind".into(), kind.into());
            if let (Some(o), Some(r)) = (owed, raised) {
                fields.insert("owed_by".into(), o.into());
                fields.insert("raised_by".into(), r.into());
            }
            let read: Incident = serde_json::from_value(v).unwrap();
            assert_eq!(
                (read.owed_by, read.raised_by),
                (want_owed, want_raised),
                "{kind}"
            );
            let again: Incident =
                serde_json::from_value(serde_json::to_value(&read).unwrap()).unwrap();
            assert_eq!(again, read, "{kind} round trip");
        }
        let mut bad = base.clone();
        bad.as_object_mut().unwrap().remove("owed_by");
        bad["kind"] = "nonsense".into();
        assert!(serde_json::from_value::<Incident>(bad).is_err());
    }

    #[test]
    fn the_owing_side_and_the_team_answer() {
        let cal = BusinessCalendar::default();
        let team_cal = BusinessCalendar::new(chrono_tz::Asia::Tokyo, []);
        let mut i = incident(Severity::Low, "2026-11-27T10:00:00Z", &cal);
        // (owed by, may the operator answer, may the team, whose calendar)
        for (owed, operator, team, tz) in [
            (Party::Operator, true, true, chrono_tz::UTC),
            (Party::Team, false, true, chrono_tz::Asia::Tokyo),
        ] {
            i.owed_by = owed;
            assert_eq!(i.answerable_by(Party::Operator), operator, "{owed:?}");
            assert_eq!(i.answerable_by(Party::Team), team, "{owed:?}");
            assert_eq!(i.calendar(&cal, &team_cal).timezone, tz, "{owed:?}");
        }
    }

    #[test]
    fn answers_table() {
        let cal = BusinessCalendar::default();
        let at = utc("2026-11-27T10:30:00Z");
        let open = |owed: Party, kind: IncidentKind| {
            let mut i = incident(Severity::Low, "2026-11-27T10:00:00Z", &cal);
            (i.owed_by, i.kind) = (owed, kind);
            i
        };
        let mut resolved = open(Party::Team, IncidentKind::OutageReport);
        resolved.resolve(at);
        use Party::{Operator as Op, Team};
        // (incident, side, answer, outcome)
        let cases: Vec<(Incident, Party, Answer, Result<(), Refusal>)> = vec![
            (
                open(Op, IncidentKind::PortalDown),
                Op,
                Answer::Acknowledge,
                Ok(()),
            ),
            (
                open(Op, IncidentKind::PortalDown),
                Team,
                Answer::Acknowledge,
                Ok(()),
            ),
            (
                open(Op, IncidentKind::PortalDown),
                Op,
                Answer::Resolve,
                Err(Refusal::Monitored),
            ),
            (
                open(Op, IncidentKind::PortalDown),
                Team,
                Answer::Resolve,
                Err(Refusal::Monitored),
            ),
            (
                open(Team, IncidentKind::OutageReport),
                Op,
                Answer::Acknowledge,
                Err(Refusal::NotOwed(Team)),
            ),
            (
                open(Team, IncidentKind::OutageReport),
                Op,
                Answer::Update,
                Err(Refusal::NotOwed(Team)),
            ),
            (
                open(Team, IncidentKind::OutageReport),
                Op,
                Answer::Resolve,
                Err(Refusal::NotOwed(Team)),
            ),
            (
                open(Team, IncidentKind::OutageReport),
                Team,
                Answer::Resolve,
                Ok(()),
            ),
            (
                open(Op, IncidentKind::ReportingFailure),
                Op,
                Answer::Resolve,
                Ok(()),
            ),
            (
                open(Op, IncidentKind::ReportingFailure),
                Team,
                Answer::Update,
                Ok(()),
            ),
            (
                resolved.clone(),
                Team,
                Answer::Update,
                Err(Refusal::Resolved),
            ),
            (resolved, Op, Answer::Update, Err(Refusal::NotOwed(Team))),
        ];
        for (mut i, side, answer, want) in cases {
            let before = i.clone();
            let got = i.answer(side, answer, at, &cal).map(|_| ());
            assert_eq!(got, want, "{:?} {:?} by {side:?}", i.kind, answer);
            match got {
                Err(_) => assert_eq!(i, before, "a refusal changes nothing"),
                Ok(()) => {
                    assert_eq!(i.acknowledged_at, Some(at));
                    assert_eq!(i.is_open(), answer != Answer::Resolve);
                }
            }
        }
    }

    #[test]
    fn an_opening_is_owed_by_the_side_that_did_not_raise_it() {
        let op = OperatorId::new("contoso").unwrap();
        for raised in [Party::Team, Party::Operator] {
            let i = Incident::open(
                Opening {
                    form: IdForm::Raised,
                    operator: &op,
                    severity: Severity::Low,
                    kind: IncidentKind::InformationRequest,
                    raised_by: raised,
                    started_at: utc("2026-11-27T10:00:00Z"),
                    opened_at: utc("2026-11-27T10:00:00Z"),
                    summary: String::new(),
                },
                &Policy::default(),
                &BusinessCalendar::default(),
            );
            assert_eq!((i.raised_by, i.owed_by), (raised, raised.other()));
        }
    }

    #[test]
    fn ids_are_deterministic() {
        let op = OperatorId::new("contoso").unwrap();
        assert_eq!(
            incident_id(&op, utc("2026-11-27T10:00:30Z"), IncidentKind::PortalDown),
            "contoso-20261127T100030Z-portal_down"
        );
    }

    #[test]
    fn each_way_an_incident_opens_has_its_id_form() {
        let op = OperatorId::new("contoso").unwrap();
        let aware = utc("2026-11-27T09:59:00Z");
        let rows = [
            (
                IdForm::Monitored,
                IncidentKind::PortalDown,
                Party::Team,
                "contoso-20261127T100000Z-portal_down",
            ),
            (
                IdForm::Report {
                    aware_at: aware,
                    n: 0,
                },
                IncidentKind::OutageReport,
                Party::Operator,
                "contoso-20261127T095900Z-report",
            ),
            (
                IdForm::Report {
                    aware_at: aware,
                    n: 1,
                },
                IncidentKind::OutageReport,
                Party::Operator,
                "contoso-20261127T095900Z-report-2",
            ),
            (
                IdForm::Raised,
                IncidentKind::ReportingFailure,
                Party::Team,
                "contoso-20261127T100005250Z-team_reporting_failure",
            ),
            (
                IdForm::Raised,
                IncidentKind::InformationRequest,
                Party::Operator,
                "contoso-20261127T100005250Z-information_request",
            ),
        ];
        for (form, kind, raised_by, id) in rows {
            let opening = Opening {
                form,
                operator: &op,
                severity: Severity::Low,
                kind,
                raised_by,
                started_at: utc("2026-11-27T10:00:00Z"),
                opened_at: utc("2026-11-27T10:00:05.250Z"),
                summary: String::new(),
            };
            assert_eq!(opening.id(), id, "{form:?}");
        }
    }
}
