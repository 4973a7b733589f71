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
        let raiser = self.adds_as_raiser(side);
        let may = self.answerable_by(side) || (raiser && answer != Answer::Acknowledge);
        if !may {
            return Err(Refusal::NotOwed(self.owed_by));
        }
        if !self.is_open() {
            return Err(Refusal::Resolved);
        }
        if raiser {
            return self.raiser_adds(answer, at);
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

    /// Whether `side` is the operator that raised it and does not owe it
    /// (its outage report, its question): it may add to it and close it,
    /// never answer for the side that owes the answer.
    pub fn adds_as_raiser(&self, side: Party) -> bool {
        side == Party::Operator && self.raised_by == side && self.owed_by != side
    }

    /// The raiser's addition: an update is a message for the owing side,
    /// whose clocks run on; a resolution closes it (its network is back, its
    /// question answered elsewhere) without counting as the owing side's
    /// response.
    fn raiser_adds(&mut self, answer: Answer, at: DateTime<Utc>) -> Result<Answered, Refusal> {
        match answer {
            Answer::Acknowledge => return Err(Refusal::NotOwed(self.owed_by)),
            Answer::Update => {}
            // (Never the monitor's: it raises its incidents for the team.)
            Answer::Resolve => self.resolve(at),
        }
        Ok(Answered {
            first_acknowledgement: false,
            update_was_overdue: false,
        })
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
mod tests;
