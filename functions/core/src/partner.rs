//! What partners tell each other: outage reports, maintenance notices, outage
//! notices from the DYNAMO team, bug reports and information requests. Each
//! input is validated here, checked against the contract's deadlines, and
//! turned into the record that is stored and the notifications that follow.

use crate::calendar::BusinessCalendar;
use crate::ids::{key_time, key_time_ms};
use crate::ids::{EmailAddress, OperatorId};
use crate::incident::{Incident, IncidentKind, Opening, Party, Severity};
use crate::notify::{header_safe, how_to_answer, Email, Notification, Page, Topic};
use crate::{Operator, Policy, Team};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A field-level validation failure: `field` names the JSON field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// How long after its end a maintenance window stays in the operator's
/// registry entry, where the evaluator looks: late stream records (an hour at
/// most) and replays of the last day still see it. The maintenance records
/// keep every window for the reports.
pub const WINDOWS_KEPT: chrono::Duration = chrono::Duration::days(1);

/// A contact an operator names on a message is copied on the email, so it
/// must be one of its registered contacts: an operator can't have the team's
/// mail sent to anyone (or to an address the mail service refuses, which
/// would never be delivered).
pub fn registered_contact(operator: &Operator, contact: &EmailAddress) -> Result<(), FieldError> {
    if operator.contacts.iter().any(|c| c.same_mailbox(contact)) {
        Ok(())
    } else {
        Err(field(
            "contact",
            format!(
                "{contact} is not one of {}'s registered contacts",
                operator.id
            ),
        ))
    }
}

pub(crate) fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The longest free text a partner sends (a description, an update, a
/// question), in characters.
pub const MAX_TEXT: usize = 4000;
/// The longest subject or title, in characters.
pub const MAX_SUBJECT: usize = 200;

pub(crate) fn text(name: &str, value: &str, required: bool) -> Result<(), FieldError> {
    if required && value.trim().is_empty() {
        return Err(field(name, "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(field(name, format!("at most {MAX_TEXT} characters")));
    }
    Ok(())
}

/// An incident update's message: not empty, at most `MAX_TEXT` characters.
pub fn update_message(message: &str) -> Result<(), FieldError> {
    text("message", message, true)
}

/// The services of the seed's SLA table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    CoreNetworkServices,
    MoDirectPortal,
    Xdr,
    Other,
}

impl Service {
    /// The service as the seed's SLA table names it, for people to read.
    pub fn label(self) -> &'static str {
        match self {
            Self::CoreNetworkServices => "core network services",
            Self::MoDirectPortal => "MO Direct portal",
            Self::Xdr => "XDR",
            Self::Other => "other service",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The contract's 30 minutes from awareness to telling the other side.
pub const OUTAGE_NOTICE_WITHIN: Duration = Duration::minutes(30);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageReportInput {
    pub service: Service,
    pub severity: Severity,
    pub started_at: DateTime<Utc>,
    pub aware_at: DateTime<Utc>,
    pub description: String,
    #[serde(default)]
    pub impact: String,
    pub contact: EmailAddress,
}

/// An outage report as stored: the input, who sent it, when, and whether it
/// came within 30 minutes of awareness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageReport {
    pub operator: OperatorId,
    #[serde(flatten)]
    pub input: OutageReportInput,
    pub received_at: DateTime<Utc>,
    pub reported_within_30_minutes: bool,
    pub incident_id: String,
}

impl OutageReportInput {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), FieldError> {
        text("description", &self.description, true)?;
        text("impact", &self.impact, false)?;
        if self.aware_at < self.started_at {
            return Err(field("aware_at", "cannot be before started_at"));
        }
        if self.aware_at > now + Duration::minutes(5) {
            return Err(field("aware_at", "is in the future"));
        }
        Ok(())
    }
}

/// Records an operator's outage report as an incident (its own clocks start
/// at receipt) and says who must be told: High pages the operations centre
/// and emails the team; Low emails the team.
pub fn outage_report(
    operator: &Operator,
    input: OutageReportInput,
    now: DateTime<Utc>,
    policy: &Policy,
    team: &Team,
    team_calendar: &BusinessCalendar,
) -> Result<(OutageReport, Incident, Vec<Notification>), FieldError> {
    input.validate(now)?;
    registered_contact(operator, &input.contact)?;
    let on_time = now - input.aware_at <= OUTAGE_NOTICE_WITHIN;
    let id = format!("{}-{}-report", operator.id, key_time(input.aware_at));
    // The DYNAMO team owes the answer here: its clocks run on the team's calendar.
    let incident = Incident::open(
        Opening {
            id: id.clone(),
            operator: &operator.id,
            severity: input.severity,
            kind: IncidentKind::OutageReport,
            raised_by: Party::Operator,
            started_at: input.started_at,
            opened_at: now,
            summary: header_safe(&format!(
                "{} outage reported by {}: {}",
                input.service, operator.name, input.description
            )),
        },
        policy,
        team_calendar,
    );
    let report = OutageReport {
        operator: operator.id.clone(),
        input,
        received_at: now,
        reported_within_30_minutes: on_time,
        incident_id: id,
    };
    let notes = report.notices(operator, team);
    Ok((report, incident, notes))
}

impl OutageReport {
    /// The report under the `n`th id of its awareness second (`n` = 0: the
    /// plain one), with its incident and notices: two different reports
    /// made aware in the same second are two incidents.
    pub fn numbered(
        mut self,
        mut incident: Incident,
        n: u32,
        operator: &Operator,
        team: &Team,
    ) -> (OutageReport, Incident, Vec<Notification>) {
        let base = format!("{}-{}-report", operator.id, key_time(self.input.aware_at));
        let id = if n == 0 {
            base
        } else {
            format!("{base}-{}", n + 1)
        };
        self.incident_id = id.clone();
        incident.id = id;
        let notes = self.notices(operator, team);
        (self, incident, notes)
    }

    /// High pages the operations centre and emails the team; Low emails the
    /// team. The operator's named contact is in copy.
    fn notices(&self, operator: &Operator, team: &Team) -> Vec<Notification> {
        let (input, id, now) = (&self.input, &self.incident_id, self.received_at);
        let late = if self.reported_within_30_minutes {
            String::new()
        } else {
            format!(
                "\nNOTE: reported {} minutes after the operator became aware; the contract asks for {}.\n",
                (now - input.aware_at).num_minutes(),
                OUTAGE_NOTICE_WITHIN.num_minutes()
            )
        };
        let mut out = Vec::new();
        if input.severity == Severity::High {
            out.push(Notification::page(Page {
                key: format!("{id}#page-report"),
                topic: Topic::OutageReported,
                operator: &operator.id,
                incident: Some(id),
                severity: Severity::High,
                subject: format!("HIGH outage reported by {}", operator.id),
                text: format!(
                    "HIGH outage reported by {} ({}) at {}. {}",
                    operator.id,
                    input.service,
                    now.format("%H:%MZ"),
                    id
                ),
                at: now,
            }));
        }
        out.push(Notification::email(
            Email {
                key: format!("{id}#email-report"),
                topic: Topic::OutageReported,
                operator: &operator.id,
                incident: Some(id),
                severity: Some(input.severity),
                to: team.emails.clone(),
                cc: vec![input.contact.clone()],
                subject: format!(
                    "[{}] Outage reported by {}: {}",
                    input.severity.to_string().to_uppercase(),
                    operator.name,
                    input.service
                ),
                text: format!(
                    "{name} ({op}) reports a {sev} severity outage.\n\nService: {service}\nStarted: {started}\nOperator aware: {aware}\nReceived: {received}\nContact: {contact}\nIncident: {id}\n{late}\nDescription:\n{desc}\n\nImpact:\n{impact}\n\nThe DYNAMO team owes the answer.\n{how}\n",
                    name = operator.name,
                    op = operator.id,
                    sev = input.severity,
                    service = input.service,
                    started = input.started_at.to_rfc3339(),
                    aware = input.aware_at.to_rfc3339(),
                    received = now.to_rfc3339(),
                    contact = input.contact,
                    desc = input.description,
                    impact = if input.impact.is_empty() { "(not given)" } else { &input.impact },
                    how = how_to_answer(id),
                ),
                at: now,
            },
            team,
        ));
        out
    }
}
// ---- Maintenance --------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "operator", rename_all = "snake_case")]
pub enum Announcer {
    /// An operator's own services (its core network, its portal).
    Operator(OperatorId),
    /// The DYNAMO team's services, announced to every operator.
    DynamoTeam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Announced,
    Completed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceInput {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub description: String,
    #[serde(default)]
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Maintenance {
    pub id: String,
    pub announcer: Announcer,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub description: String,
    pub services: Vec<Service>,
    pub announced_at: DateTime<Utc>,
    /// Whole business days of notice given, on the relevant calendar.
    pub lead_business_days: u32,
    /// Fewer than the required business days: accepted, but marked, and it
    /// holds back no page and counts as no maintenance until approved.
    pub late: bool,
    /// Why an operator's window needs the team's approval beyond being late:
    /// longer than `maintenance_max_window`, or beyond the month's
    /// `maintenance_max_per_month`. Until approved it holds back no page
    /// and counts as no maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_limit: Option<String>,
    /// When the DYNAMO team approved a late window (absent for a timely one).
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    pub status: MaintenanceStatus,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl MaintenanceInput {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), FieldError> {
        text("description", &self.description, true)?;
        if self.end <= self.start {
            return Err(field("end", "must be after start"));
        }
        if self.end - self.start > Duration::days(7) {
            return Err(field(
                "end",
                "a window lasts at most 7 days; announce several",
            ));
        }
        if self.end <= now {
            return Err(field("end", "the window is already over"));
        }
        if self.start < now - ANNOUNCE_SKEW {
            return Err(field(
                "start",
                "is in the past: maintenance is announced beforehand (work already under way is an outage to report)",
            ));
        }
        Ok(())
    }
}

/// How far in the past a window's start may be, for clocks a little apart.
pub const ANNOUNCE_SKEW: Duration = Duration::minutes(5);

/// Checks and records a maintenance notice. Lead time is counted in business
/// days on `calendar` (the affected operator's, or for the DYNAMO team's own
/// windows, the team's).
///
/// An operator's window is also held to the policy's bounds (a tenant's
/// announcements must never keep its downtime out of its own figures
/// without the team agreeing): longer than `maintenance_max_window`, or
/// taking the operator's windows in a month (`others`: its announced and
/// completed ones) beyond `maintenance_max_per_month`, it needs approval.
pub fn announce_maintenance(
    announcer: Announcer,
    input: MaintenanceInput,
    now: DateTime<Utc>,
    calendar: &BusinessCalendar,
    policy: &Policy,
    others: &[Maintenance],
) -> Result<Maintenance, FieldError> {
    input.validate(now)?;
    let required = policy.maintenance_lead_business_days;
    let who = match &announcer {
        Announcer::Operator(op) => op.to_string(),
        Announcer::DynamoTeam => "dynamo".to_string(),
    };
    let over_limit = match announcer {
        Announcer::Operator(_) => over_limit(&input, calendar, policy, others),
        Announcer::DynamoTeam => None,
    };
    Ok(Maintenance {
        over_limit,
        id: format!("{who}-{}-maintenance", key_time(input.start)),
        lead_business_days: calendar.business_days_between(now, input.start),
        late: !calendar.gives_lead_time(now, input.start, required),
        announcer,
        start: input.start,
        end: input.end,
        description: input.description,
        services: input.services,
        announced_at: now,
        approved_at: None,
        status: MaintenanceStatus::Announced,
        completed_at: None,
        cancelled_at: None,
    })
}

/// Why a window is beyond the policy's bounds, if it is.
fn over_limit(
    input: &MaintenanceInput,
    calendar: &BusinessCalendar,
    policy: &Policy,
    others: &[Maintenance],
) -> Option<String> {
    let hours = |d: Duration| format!("{:.1} h", d.num_minutes() as f64 / 60.0);
    let max_window = Duration::from_std(policy.maintenance_max_window).unwrap_or(Duration::MAX);
    let length = input.end - input.start;
    if length > max_window {
        return Some(format!(
            "longer than the {} a window may hold without approval",
            hours(max_window)
        ));
    }
    // The calendar month the window starts in, on the operator's calendar.
    let local = input.start.with_timezone(&calendar.timezone).date_naive();
    let month = crate::report::Month {
        year: chrono::Datelike::year(&local),
        month: chrono::Datelike::month(&local),
    };
    let (from, to) = month.bounds_in(calendar.timezone);
    let within =
        |s: DateTime<Utc>, e: DateTime<Utc>| (e.min(to) - s.max(from)).max(Duration::zero());
    let taken: Duration = others
        .iter()
        .filter_map(Maintenance::suppression_window)
        .map(|w| within(w.start, w.end))
        .fold(Duration::zero(), |a, b| a + b);
    let max_month = Duration::from_std(policy.maintenance_max_per_month).unwrap_or(Duration::MAX);
    let total = taken + within(input.start, input.end);
    (total > max_month).then(|| {
        format!(
            "{} of maintenance in {month} with this window, beyond the {} a month may hold without approval",
            hours(total),
            hours(max_month)
        )
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransitionError(pub String);

impl Maintenance {
    /// An operator sees its own windows and the DYNAMO team's; the team sees
    /// every one.
    pub fn visible_to(&self, operator: Option<&OperatorId>) -> bool {
        match (&self.announcer, operator) {
            (_, None) | (Announcer::DynamoTeam, _) => true,
            (Announcer::Operator(owner), Some(op)) => owner == op,
        }
    }

    pub fn complete(&mut self, at: DateTime<Utc>) -> Result<(), TransitionError> {
        match self.status {
            MaintenanceStatus::Announced => {
                self.status = MaintenanceStatus::Completed;
                self.completed_at = Some(at);
                Ok(())
            }
            other => Err(TransitionError(format!(
                "maintenance {} is {other:?}; only an announced window can be completed",
                self.id
            ))),
        }
    }

    /// A late window waits for the DYNAMO team's approval before it holds
    /// back pages or counts as maintenance in the report.
    pub fn needs_approval(&self) -> bool {
        (self.late || self.over_limit.is_some()) && self.approved_at.is_none()
    }

    /// The team accepts a late window: from now on it holds back pages (and
    /// the report counts it, from its start).
    pub fn approve(&mut self, at: DateTime<Utc>) -> Result<(), TransitionError> {
        match self.status {
            MaintenanceStatus::Announced if self.needs_approval() => {
                self.approved_at = Some(at);
                Ok(())
            }
            MaintenanceStatus::Announced if !self.late && self.over_limit.is_none() => {
                Err(TransitionError(format!(
                "maintenance {} was announced in time, within the bounds, and needs no approval",
                self.id
            )))
            }
            MaintenanceStatus::Announced => Err(TransitionError(format!(
                "maintenance {} is already approved",
                self.id
            ))),
            other => Err(TransitionError(format!(
                "maintenance {} is {other:?}; only an announced window can be approved",
                self.id
            ))),
        }
    }

    pub fn cancel(&mut self, at: DateTime<Utc>) -> Result<(), TransitionError> {
        match self.status {
            MaintenanceStatus::Announced if at < self.end => {
                self.status = MaintenanceStatus::Cancelled;
                self.cancelled_at = Some(at);
                Ok(())
            }
            MaintenanceStatus::Announced => Err(TransitionError(format!(
                "maintenance {} has ended; complete it instead",
                self.id
            ))),
            other => Err(TransitionError(format!(
                "maintenance {} is {other:?}; only an announced window can be cancelled",
                self.id
            ))),
        }
    }

    /// The window the evaluator uses to hold back pages: a completion closes it
    /// early, a cancellation removes it.
    pub fn suppression_window(&self) -> Option<crate::MaintenanceWindow> {
        if self.needs_approval() {
            return None;
        }
        let end = match self.status {
            MaintenanceStatus::Cancelled => return None,
            MaintenanceStatus::Completed => self.completed_at.map_or(self.end, |c| c.min(self.end)),
            MaintenanceStatus::Announced => self.end,
        };
        (end > self.start).then(|| crate::MaintenanceWindow {
            start: self.start,
            end,
            announced_at: Some(self.announced_at),
            description: Some(self.description.clone()),
        })
    }

    /// The maintenance email: announcement, completion or cancellation.
    pub fn notice(
        &self,
        event: MaintenanceEvent,
        to: Vec<EmailAddress>,
        cc: Vec<EmailAddress>,
        team: &Team,
        operator: &OperatorId,
        policy: &Policy,
    ) -> Notification {
        let announced = event == MaintenanceEvent::Announced;
        let late = if self.late && announced {
            format!(
                "\nNOTE: announced {} business day(s) ahead; the contract asks for at least {}. Accepted, marked late.\n\
                 A late window holds back no page and counts as no maintenance in the SLA report until the DYNAMO team approves it: POST /v1/maintenance/{}/approval\n",
                self.lead_business_days, policy.maintenance_lead_business_days, self.id
            )
        } else {
            String::new()
        };
        let who = match &self.announcer {
            Announcer::Operator(op) => format!("operator {op}"),
            Announcer::DynamoTeam => "the DYNAMO team".to_string(),
        };
        let name = event.as_str();
        Notification::email(
            Email {
                key: format!("{}#{operator}#email-{name}", self.id),
                topic: event.topic(),
                operator,
                incident: None,
                severity: Some(Severity::Low),
                to,
                cc,
                subject: format!(
                    "[MAINTENANCE {}{}] {} to {}",
                    name.to_uppercase(),
                    if self.late && announced { ", LATE" } else { "" },
                    self.start.format("%Y-%m-%d %H:%M UTC"),
                    self.end.format("%Y-%m-%d %H:%M UTC")
                ),
                text: format!(
                    "Planned maintenance by {who} {name}.\n\nWindow: {} to {}\nServices: {}\nAnnounced: {}\nReference: {}\n{late}\n{}\n",
                    self.start.to_rfc3339(),
                    self.end.to_rfc3339(),
                    if self.services.is_empty() {
                        "not named".to_string()
                    } else {
                        self.services.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
                    },
                    self.announced_at.to_rfc3339(),
                    self.id,
                    self.description
                ),
                at: match event {
                    MaintenanceEvent::Completed => self.completed_at.unwrap_or(self.announced_at),
                    MaintenanceEvent::Cancelled => self.cancelled_at.unwrap_or(self.announced_at),
                    MaintenanceEvent::Announced => self.announced_at,
                    MaintenanceEvent::Approved => self.approved_at.unwrap_or(self.announced_at),
                },
            },
            team,
        )
    }
}

/// What a maintenance notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceEvent {
    Announced,
    /// The team approved a late window.
    Approved,
    Completed,
    Cancelled,
}

impl MaintenanceEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Announced => "announced",
            Self::Approved => "approved",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    fn topic(self) -> Topic {
        match self {
            Self::Announced => Topic::MaintenanceAnnounced,
            Self::Approved => Topic::MaintenanceApproved,
            Self::Completed => Topic::MaintenanceCompleted,
            Self::Cancelled => Topic::MaintenanceCancelled,
        }
    }
}

// ---- Outage notices from the DYNAMO team --------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageNoticeInput {
    /// Microsoft network, DYNAMO or Store service affected.
    pub service: String,
    pub started_at: DateTime<Utc>,
    pub aware_at: DateTime<Utc>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageNotice {
    pub id: String,
    #[serde(flatten)]
    pub input: OutageNoticeInput,
    pub sent_at: DateTime<Utc>,
    /// The team told operators within 30 minutes of becoming aware.
    pub within_30_minutes: bool,
}

pub fn outage_notice(
    input: OutageNoticeInput,
    now: DateTime<Utc>,
) -> Result<OutageNotice, FieldError> {
    text("service", &input.service, true)?;
    text("description", &input.description, true)?;
    if input.aware_at < input.started_at {
        return Err(field("aware_at", "cannot be before started_at"));
    }
    if input.aware_at > now + Duration::minutes(5) {
        return Err(field("aware_at", "is in the future"));
    }
    Ok(OutageNotice {
        id: format!("dynamo-{}-outage", key_time(input.aware_at)),
        within_30_minutes: now - input.aware_at <= OUTAGE_NOTICE_WITHIN,
        input,
        sent_at: now,
    })
}

impl OutageNotice {
    /// The notice to every operator, the team in copy.
    pub fn emails(&self, operators: &[Operator], team: &Team) -> Vec<Notification> {
        let late = if self.within_30_minutes {
            String::new()
        } else {
            format!(
                " (later than the {} minutes the contract sets)",
                OUTAGE_NOTICE_WITHIN.num_minutes()
            )
        };
        operators
            .iter()
            .map(|o| {
                Notification::email(
                    Email {
                        key: format!("{}#{}#email", self.id, o.id),
                        topic: Topic::OutageNotice,
                        operator: &o.id,
                        incident: None,
                        severity: Some(Severity::High),
                        to: o.contacts.clone(),
                        cc: team.emails.clone(),
                        subject: format!(
                            "[OUTAGE] {}: {}",
                            self.input.service, self.input.description
                        ),
                        text: format!(
                            "The DYNAMO team reports an outage.\n\nService: {}\nStarted: {}\nTeam aware: {}\nSent: {}{late}\n\n{}\n",
                            self.input.service,
                            self.input.started_at.to_rfc3339(),
                            self.input.aware_at.to_rfc3339(),
                            self.sent_at.to_rfc3339(),
                            self.input.description
                        ),
                        at: self.sent_at,
                    },
                    team,
                )
            })
            .collect()
    }
}

// ---- Information requests from an operator ------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InformationRequestInput {
    pub subject: String,
    pub question: String,
    pub contact: EmailAddress,
}

/// An operator's information request: a Low incident whose answer the team
/// owes (its clock on the team's calendar), and the email that tells the
/// team, the operator's named contact in copy.
pub fn information_request(
    operator: &Operator,
    input: InformationRequestInput,
    now: DateTime<Utc>,
    policy: &Policy,
    team: &Team,
    team_calendar: &BusinessCalendar,
) -> Result<(Incident, Notification), FieldError> {
    registered_contact(operator, &input.contact)?;
    if input.subject.trim().is_empty() || input.subject.chars().count() > MAX_SUBJECT {
        return Err(field("subject", format!("1 to {MAX_SUBJECT} characters")));
    }
    if input.question.trim().is_empty() || input.question.chars().count() > MAX_TEXT {
        return Err(field("question", format!("1 to {MAX_TEXT} characters")));
    }
    let id = format!("{}-{}-information_request", operator.id, key_time_ms(now));
    let incident = Incident::open(
        Opening {
            id: id.clone(),
            operator: &operator.id,
            severity: Severity::Low,
            kind: IncidentKind::InformationRequest,
            raised_by: Party::Operator,
            started_at: now,
            opened_at: now,
            summary: header_safe(&input.subject),
        },
        policy,
        team_calendar,
    );
    let email = Notification::email(
        Email {
            key: format!("{id}#email"),
            topic: Topic::InformationRequest,
            operator: &operator.id,
            incident: Some(&id),
            severity: Some(Severity::Low),
            to: team.emails.clone(),
            cc: vec![input.contact.clone()],
            subject: format!(
                "[LOW] Information request from {}: {}",
                operator.name, input.subject
            ),
            text: format!(
                "{} ({}) asks:\n\n{}\n\nContact: {}\nReference: {id}\n\nThe DYNAMO team owes the answer.\n{}\n",
                operator.name,
                operator.id,
                input.question,
                input.contact,
                how_to_answer(&id)
            ),
            at: now,
        },
        team,
    );
    Ok((incident, email))
}

// ---- Bug reports --------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BugStatus {
    Reported,
    Approved,
    Rejected,
    Scheduled,
    Deployed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BugInput {
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub severity: Option<Severity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    pub approve: bool,
    pub business_justification: String,
    pub impact: String,
    /// Other operators the bug concerns: told when its fix is deployed.
    #[serde(default)]
    pub concerns: Vec<OperatorId>,
}

/// At most this many other operators named by a triage.
pub const MAX_CONCERNED: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bug {
    pub id: String,
    /// The operator concerned (who reported it, or whom the team's report concerns).
    pub operator: OperatorId,
    pub reported_by_team: bool,
    pub title: String,
    pub description: String,
    pub severity: Option<Severity>,
    pub status: BugStatus,
    pub reported_at: DateTime<Utc>,
    pub triage: Option<Triage>,
    pub triaged_at: Option<DateTime<Utc>>,
    pub tentative_deployment: Option<NaiveDate>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub deployed_at: Option<DateTime<Utc>>,
}

pub fn report_bug(
    operator: &OperatorId,
    by_team: bool,
    input: BugInput,
    now: DateTime<Utc>,
) -> Result<Bug, FieldError> {
    text("title", &input.title, true)?;
    if input.title.chars().count() > MAX_SUBJECT {
        return Err(field("title", format!("at most {MAX_SUBJECT} characters")));
    }
    text("description", &input.description, true)?;
    Ok(Bug {
        id: format!("{operator}-{}-bug", key_time_ms(now)),
        operator: operator.clone(),
        reported_by_team: by_team,
        title: input.title,
        description: input.description,
        severity: input.severity,
        status: BugStatus::Reported,
        reported_at: now,
        triage: None,
        triaged_at: None,
        tentative_deployment: None,
        scheduled_at: None,
        deployed_at: None,
    })
}

impl Bug {
    fn refuse(&self, action: &str) -> TransitionError {
        TransitionError(format!(
            "bug {} is {:?}; it cannot be {action}",
            self.id, self.status
        ))
    }

    pub fn triage(&mut self, t: Triage, at: DateTime<Utc>) -> Result<(), TransitionError> {
        if self.status != BugStatus::Reported {
            return Err(self.refuse("triaged"));
        }
        if t.business_justification.trim().is_empty() || t.impact.trim().is_empty() {
            return Err(TransitionError(
                "triage needs a business justification and an impact".into(),
            ));
        }
        if t.concerns.len() > MAX_CONCERNED {
            return Err(TransitionError(format!(
                "a triage names at most {MAX_CONCERNED} other operators"
            )));
        }
        self.status = if t.approve {
            BugStatus::Approved
        } else {
            BugStatus::Rejected
        };
        self.triage = Some(t);
        self.triaged_at = Some(at);
        Ok(())
    }

    pub fn schedule(&mut self, date: NaiveDate, at: DateTime<Utc>) -> Result<(), TransitionError> {
        if !matches!(self.status, BugStatus::Approved | BugStatus::Scheduled) {
            return Err(self.refuse("scheduled (only an approved bug can be)"));
        }
        if date < at.date_naive() {
            return Err(TransitionError(format!(
                "tentative deployment {date} is in the past"
            )));
        }
        self.status = BugStatus::Scheduled;
        self.tentative_deployment = Some(date);
        self.scheduled_at = Some(at);
        Ok(())
    }

    pub fn deploy(&mut self, at: DateTime<Utc>) -> Result<(), TransitionError> {
        if self.status != BugStatus::Scheduled {
            return Err(self.refuse("marked deployed (only a scheduled bug can be)"));
        }
        self.status = BugStatus::Deployed;
        self.deployed_at = Some(at);
        Ok(())
    }

    /// Every operator the bug concerns: its own, then those the triage named.
    pub fn concerned(&self) -> Vec<OperatorId> {
        let mut out = vec![self.operator.clone()];
        for op in self.triage.iter().flat_map(|t| &t.concerns) {
            if !out.contains(op) {
                out.push(op.clone());
            }
        }
        out
    }

    /// Who hears of `event`: a report goes to the other side (the team for an
    /// operator's report, the operator for the team's); the triage outcome
    /// and the schedule go to the bug's operator; the deployment to every
    /// operator it concerns. The team is copied on what it does not receive.
    /// `operators` are the registry entries of `concerned()` (those missing
    /// are skipped).
    pub fn notices(
        &self,
        event: BugEvent,
        operators: &[Operator],
        team: &Team,
    ) -> Vec<Notification> {
        let contacts = |id: &OperatorId| {
            operators
                .iter()
                .find(|o| &o.id == id)
                .map(|o| o.contacts.clone())
        };
        match event {
            BugEvent::Reported if !self.reported_by_team => {
                vec![self.email(event, &self.operator, team.emails.clone(), vec![], team)]
            }
            BugEvent::Reported | BugEvent::Triaged | BugEvent::Scheduled => {
                contacts(&self.operator)
                    .map(|to| self.email(event, &self.operator, to, team.emails.clone(), team))
                    .into_iter()
                    .collect()
            }
            BugEvent::Deployed => self
                .concerned()
                .iter()
                .filter_map(|op| {
                    let to = contacts(op)?;
                    Some(if op == &self.operator {
                        self.email(event, op, to, team.emails.clone(), team)
                    } else {
                        self.deployed_elsewhere(op, to, team)
                    })
                })
                .collect(),
        }
    }

    /// The deployment notice for an operator the fix concerns but whose bug
    /// it is not: the date and nothing of the bug itself (its id, title and
    /// text are the reporting operator's, and its `GET /v1/bugs/{id}` would
    /// answer this operator 404).
    fn deployed_elsewhere(
        &self,
        operator: &OperatorId,
        to: Vec<EmailAddress>,
        team: &Team,
    ) -> Notification {
        let at = self.deployed_at.unwrap_or(self.reported_at);
        Notification::email(
            Email {
                key: format!("{}#{operator}#email-deployed", self.id),
                topic: BugEvent::Deployed.topic(),
                operator,
                incident: None,
                severity: Some(Severity::Low),
                to,
                cc: team.emails.clone(),
                subject: format!("[BUG DEPLOYED] A fix that concerns {operator}"),
                text: format!(
                    "The DYNAMO team deployed a fix at {} that its triage found concerns {operator}'s MO Direct integration.\n\nThe DYNAMO team (in copy) can tell you what changed.\n",
                    at.format("%Y-%m-%d %H:%M:%S UTC"),
                ),
                at,
            },
            team,
        )
    }

    fn email(
        &self,
        event: BugEvent,
        operator: &OperatorId,
        to: Vec<EmailAddress>,
        cc: Vec<EmailAddress>,
        team: &Team,
    ) -> Notification {
        let name = event.as_str();
        let (detail, key, at) = match event {
            BugEvent::Reported => (
                format!(
                    "Reported by {} at {}. Severity: {}",
                    if self.reported_by_team {
                        "the DYNAMO team".to_string()
                    } else {
                        self.operator.to_string()
                    },
                    self.reported_at.to_rfc3339(),
                    self.severity.map_or("not given".into(), |s| s.to_string())
                ),
                format!("{}#email-{name}", self.id),
                self.reported_at,
            ),
            BugEvent::Triaged => (
                match &self.triage {
                    Some(t) => format!(
                        "Triage: {}\nBusiness justification: {}\nImpact: {}",
                        if t.approve {
                            "approved; a deployment date follows"
                        } else {
                            "rejected"
                        },
                        t.business_justification,
                        t.impact
                    ),
                    None => "Triage: -".into(),
                },
                format!("{}#email-{name}", self.id),
                self.triaged_at.unwrap_or(self.reported_at),
            ),
            // A rescheduled date is a new notice: the date is in its key.
            BugEvent::Scheduled => (
                format!(
                    "Tentative deployment: {}",
                    self.tentative_deployment
                        .map_or("-".into(), |d| d.to_string())
                ),
                format!(
                    "{}#email-{name}#{}",
                    self.id,
                    self.tentative_deployment
                        .map_or(String::new(), |d| d.to_string())
                ),
                self.scheduled_at.unwrap_or(self.reported_at),
            ),
            // One per operator concerned; the bug's own keeps the plain key.
            BugEvent::Deployed => (
                format!(
                    "Deployed: {}",
                    self.deployed_at.map_or("-".into(), |d| d.to_rfc3339())
                ),
                if operator == &self.operator {
                    format!("{}#email-{name}", self.id)
                } else {
                    format!("{}#{operator}#email-{name}", self.id)
                },
                self.deployed_at.unwrap_or(self.reported_at),
            ),
        };
        let outcome = match (&event, &self.triage) {
            (BugEvent::Triaged, Some(t)) if !t.approve => "REJECTED".to_string(),
            _ => name.to_uppercase(),
        };
        Notification::email(
            Email {
                key,
                topic: event.topic(),
                operator,
                incident: None,
                severity: Some(Severity::Low),
                to,
                cc,
                subject: format!("[BUG {outcome}] {}", self.title),
                text: format!(
                    "Bug {}: {}\n\n{detail}\n\n{}\n\nFollow it: GET /v1/bugs/{}\n",
                    self.id, self.title, self.description, self.id
                ),
                at,
            },
            team,
        )
    }
}

/// What a bug notice tells its operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BugEvent {
    Reported,
    Triaged,
    Scheduled,
    Deployed,
}

impl BugEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Triaged => "triaged",
            Self::Scheduled => "scheduled",
            Self::Deployed => "deployed",
        }
    }

    fn topic(self) -> Topic {
        match self {
            Self::Reported => Topic::BugReported,
            Self::Triaged => Topic::BugTriaged,
            Self::Scheduled => Topic::BugScheduled,
            Self::Deployed => Topic::BugDeployed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Channel;

    #[test]
    fn only_a_registered_contact_may_be_named() {
        let mut op = crate::testing::madrid_operator("contoso");
        op.contacts = vec![
            EmailAddress::parse("noc@contoso.example").unwrap(),
            EmailAddress::parse("ops@contoso.example").unwrap(),
        ];
        for (contact, ok) in [
            ("noc@contoso.example", true),
            ("ops@CONTOSO.example", true),
            ("NOC@contoso.example", false),
            ("noc@fabrikam.example", false),
            ("noc@contoso.example.evil", false),
        ] {
            let r = registered_contact(&op, &EmailAddress::parse(contact).unwrap());
            assert_eq!(r.is_ok(), ok, "{contact}");
            if let Err(e) = r {
                assert_eq!(e.field, "contact");
            }
        }
    }
    use crate::testing::team;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn op() -> Operator {
        crate::testing::madrid_operator("contoso")
    }

    fn report(sev: Severity, aware: &str) -> OutageReportInput {
        OutageReportInput {
            service: Service::CoreNetworkServices,
            severity: sev,
            started_at: utc("2026-11-27T09:00:00Z"),
            aware_at: utc(aware),
            description: "PGW down in region north".into(),
            impact: "no data sessions".into(),
            contact: EmailAddress::parse("noc@contoso.example").unwrap(),
        }
    }

    #[test]
    fn outage_reports_route_by_severity_and_mark_the_30_minutes() {
        let now = utc("2026-11-27T10:00:00Z");
        let p = Policy::default();
        let cases = [
            (
                Severity::High,
                "2026-11-27T09:30:00Z",
                true,
                vec![Channel::Page, Channel::Email],
            ),
            (
                Severity::High,
                "2026-11-27T09:29:59Z",
                false,
                vec![Channel::Page, Channel::Email],
            ),
            (
                Severity::Low,
                "2026-11-27T09:45:00Z",
                true,
                vec![Channel::Email],
            ),
        ];
        for (sev, aware, on_time, channels) in cases {
            let (r, inc, notes) = outage_report(
                &op(),
                report(sev, aware),
                now,
                &p,
                &team(),
                &Default::default(),
            )
            .unwrap();
            assert_eq!(r.reported_within_30_minutes, on_time, "{aware}");
            assert_eq!(
                notes.iter().map(|n| n.channel).collect::<Vec<_>>(),
                channels
            );
            assert_eq!(inc.severity, sev);
            // People read the service's name, never the code's.
            for text in notes
                .iter()
                .flat_map(|n| [&n.subject, &n.text])
                .chain([&inc.summary])
            {
                assert!(!text.contains("CoreNetworkServices"), "{text}");
            }
            assert!(
                inc.summary.starts_with("core network services outage"),
                "{}",
                inc.summary
            );
            assert_eq!(notes.last().unwrap().to, team().emails, "the team is told");
            assert_eq!(
                notes.last().unwrap().text.contains("NOTE: reported"),
                !on_time
            );
        }
    }

    #[test]
    fn outage_report_validation() {
        let now = utc("2026-11-27T10:00:00Z");
        let mut bad = report(Severity::High, "2026-11-27T08:00:00Z");
        assert_eq!(bad.validate(now).unwrap_err().field, "aware_at");
        bad = report(Severity::High, "2026-11-27T11:00:00Z");
        assert_eq!(bad.validate(now).unwrap_err().field, "aware_at");
        bad = report(Severity::High, "2026-11-27T09:10:00Z");
        bad.description = " ".into();
        assert_eq!(bad.validate(now).unwrap_err().field, "description");
    }

    /// An operator's window beyond the policy's bounds (4 h a window, 8 h a
    /// month on its calendar by default) is accepted but needs the team's
    /// approval before it holds back a page or counts as maintenance; the
    /// team's own windows are not bounded (they never excuse an operator).
    #[test]
    fn maintenance_beyond_its_bounds_needs_approval() {
        let cal = op().calendar();
        let p = Policy::default();
        let now = utc("2026-11-02T08:00:00Z");
        let window = |start: &str, hours: i64| MaintenanceInput {
            start: utc(start),
            end: utc(start) + Duration::hours(hours),
            description: "upgrade".into(),
            services: vec![],
        };
        let a = Announcer::Operator(op().id);
        let announce = |input, others: &[Maintenance]| {
            announce_maintenance(a.clone(), input, now, &cal, &p, others).unwrap()
        };
        // Seven hours already announced in December (Madrid), one cancelled.
        let earlier = [
            announce(window("2026-12-01T08:00:00Z", 4), &[]),
            announce(window("2026-12-02T08:00:00Z", 3), &[]),
        ];
        let mut cancelled = announce(window("2026-12-03T08:00:00Z", 4), &[]);
        cancelled.cancel(now).unwrap();
        let mut others = earlier.to_vec();
        others.push(cancelled);
        // (window, others, needs approval)
        let table: [(MaintenanceInput, &[Maintenance], bool); 6] = [
            (window("2026-12-10T08:00:00Z", 4), &[], false),
            (
                MaintenanceInput {
                    end: utc("2026-12-10T12:00:01Z"),
                    ..window("2026-12-10T08:00:00Z", 4)
                },
                &[],
                true,
            ),
            (window("2026-12-10T08:00:00Z", 1), &others, false),
            (window("2026-12-10T08:00:00Z", 2), &others, true),
            // 31 December 22:00 to midnight Madrid is December's; from
            // midnight, January's.
            (window("2026-12-31T21:00:00Z", 2), &others, true),
            (window("2026-12-31T23:00:00Z", 2), &others, false),
        ];
        for (i, (input, others, needs)) in table.into_iter().enumerate() {
            let m = announce(input, others);
            assert!(!m.late, "{i}: announced in time");
            assert_eq!(m.needs_approval(), needs, "{i}: {:?}", m.over_limit);
            assert_eq!(m.suppression_window().is_some(), !needs, "{i}");
            if needs {
                let mut approved = m.clone();
                approved.approve(now).unwrap();
                assert!(approved.suppression_window().is_some(), "{i}: approved");
            } else {
                assert!(m.clone().approve(now).is_err(), "{i}: nothing to approve");
            }
        }
        let team = announce_maintenance(
            Announcer::DynamoTeam,
            window("2026-12-10T08:00:00Z", 48),
            now,
            &cal,
            &p,
            &others,
        )
        .unwrap();
        assert!(team.over_limit.is_none());
    }

    #[test]
    fn maintenance_lead_time_in_business_days() {
        let cal = op().calendar();
        let p = Policy::default();
        let m = |start: &str| MaintenanceInput {
            start: utc(start),
            end: utc(start) + Duration::hours(2),
            description: "upgrade".into(),
            services: vec![Service::CoreNetworkServices],
        };
        // Announced Wednesday 2 Dec 09:00 Madrid; the 8th is a holiday there.
        let now = utc("2026-12-02T08:00:00Z");
        let a = Announcer::Operator(op().id);
        let late =
            announce_maintenance(a.clone(), m("2026-12-09T08:00:00Z"), now, &cal, &p, &[]).unwrap();
        assert_eq!(
            (late.late, late.lead_business_days),
            (true, 4),
            "the holiday costs a day"
        );
        let ok =
            announce_maintenance(a.clone(), m("2026-12-10T08:00:00Z"), now, &cal, &p, &[]).unwrap();
        assert_eq!((ok.late, ok.lead_business_days), (false, 5));
        // Across a weekend: Friday 27 Nov 10:00 local to Friday 4 Dec 10:00 local is 5.
        let fri = utc("2026-11-27T09:00:00Z");
        let w =
            announce_maintenance(a.clone(), m("2026-12-04T09:00:00Z"), fri, &cal, &p, &[]).unwrap();
        assert!(!w.late);
        let w = announce_maintenance(a, m("2026-12-04T08:59:00Z"), fri, &cal, &p, &[]).unwrap();
        assert!(w.late);
        let n = late.notice(
            MaintenanceEvent::Announced,
            vec![],
            vec![],
            &team(),
            &op().id,
            &Policy::default(),
        );
        assert!(
            n.subject.contains("LATE") && n.text.contains("NOTE"),
            "{}",
            n.subject
        );
    }

    /// Beforehand means beforehand: no window starts in the past (a few
    /// minutes of clock difference aside), and a late one holds back pages
    /// only once the team approves it.
    #[test]
    fn a_late_window_suppresses_only_after_approval() {
        let cal = op().calendar();
        let p = Policy::default();
        let now = utc("2026-12-02T08:00:00Z");
        let a = Announcer::Operator(op().id);
        let m = |start: &str| MaintenanceInput {
            start: utc(start),
            end: utc("2026-12-02T12:00:00Z"),
            description: "upgrade".into(),
            services: vec![],
        };
        // (start, refused field)
        let starts = [
            ("2026-12-01T23:00:00Z", Some("start")),
            ("2026-12-02T07:54:59Z", Some("start")),
            ("2026-12-02T07:55:00Z", None),
            ("2026-12-02T09:00:00Z", None),
        ];
        for (start, refused) in starts {
            let got = announce_maintenance(a.clone(), m(start), now, &cal, &p, &[]);
            assert_eq!(got.err().map(|e| e.field).as_deref(), refused, "{start}");
        }
        let mut late =
            announce_maintenance(a.clone(), m("2026-12-02T09:00:00Z"), now, &cal, &p, &[]).unwrap();
        assert!(late.late && late.needs_approval());
        assert_eq!(late.suppression_window(), None, "unapproved: no window");
        let n = late.notice(
            MaintenanceEvent::Announced,
            vec![],
            vec![],
            &team(),
            &op().id,
            &p,
        );
        assert!(
            n.text
                .contains(&format!("/v1/maintenance/{}/approval", late.id)),
            "{}",
            n.text
        );
        late.approve(utc("2026-12-02T08:30:00Z")).unwrap();
        let w = late.suppression_window().expect("approved: a window");
        assert_eq!(
            (w.start, w.end),
            (utc("2026-12-02T09:00:00Z"), utc("2026-12-02T12:00:00Z"))
        );
        // (window, approval refused?)
        let timely = announce_maintenance(
            a.clone(),
            m("2026-12-02T09:00:00Z"),
            utc("2026-11-20T08:00:00Z"),
            &cal,
            &p,
            &[],
        )
        .unwrap();
        let mut cancelled =
            announce_maintenance(a, m("2026-12-02T09:00:00Z"), now, &cal, &p, &[]).unwrap();
        cancelled.cancel(now).unwrap();
        for (mut w, refused) in [(timely, true), (late.clone(), true), (cancelled, true)] {
            assert_eq!(w.approve(now).is_err(), refused, "{}", w.id);
        }
        assert_eq!(
            late.approved_at,
            Some(utc("2026-12-02T08:30:00Z")),
            "the first approval stands"
        );
    }

    #[test]
    fn maintenance_transitions_and_suppression_window() {
        let cal = op().calendar();
        let now = utc("2026-11-27T09:00:00Z");
        let input = MaintenanceInput {
            start: utc("2026-12-10T01:00:00Z"),
            end: utc("2026-12-10T03:00:00Z"),
            description: "x".into(),
            services: vec![],
        };
        let mut m = announce_maintenance(
            Announcer::DynamoTeam,
            input,
            now,
            &cal,
            &Policy::default(),
            &[],
        )
        .unwrap();
        assert_eq!(
            m.suppression_window().unwrap().end,
            utc("2026-12-10T03:00:00Z")
        );
        m.complete(utc("2026-12-10T02:00:00Z")).unwrap();
        assert_eq!(
            m.suppression_window().unwrap().end,
            utc("2026-12-10T02:00:00Z"),
            "completion closes it"
        );
        assert!(m.complete(utc("2026-12-10T02:30:00Z")).is_err());
        assert!(m.cancel(utc("2026-12-10T02:30:00Z")).is_err());
        let mut c = m.clone();
        c.status = MaintenanceStatus::Announced;
        c.cancel(utc("2026-12-01T00:00:00Z")).unwrap();
        assert!(c.suppression_window().is_none());
    }

    #[test]
    fn bug_lifecycle_refuses_invalid_transitions() {
        let now = utc("2026-11-27T09:00:00Z");
        let input = BugInput {
            title: "Plan list empty".into(),
            description: "steps".into(),
            severity: None,
        };
        let mut b = report_bug(&op().id, false, input, now).unwrap();
        assert!(
            b.schedule("2026-12-01".parse().unwrap(), now).is_err(),
            "not before triage"
        );
        assert!(b.deploy(now).is_err());
        let t = Triage {
            approve: true,
            business_justification: "blocks sign-ups".into(),
            impact: "all users".into(),
            concerns: vec![],
        };
        b.triage(t.clone(), now).unwrap();
        assert!(b.triage(t, now).is_err(), "triaged once");
        assert!(
            b.schedule("2026-11-01".parse().unwrap(), now).is_err(),
            "past date"
        );
        b.schedule("2026-12-01".parse().unwrap(), now).unwrap();
        b.deploy(now).unwrap();
        assert_eq!(b.status, BugStatus::Deployed);
        assert!(b.deploy(now).is_err());
        let mut r = report_bug(
            &op().id,
            true,
            BugInput {
                title: "t".into(),
                description: "d".into(),
                severity: None,
            },
            now,
        )
        .unwrap();
        r.triage(
            Triage {
                approve: false,
                business_justification: "by design".into(),
                impact: "none".into(),
                concerns: vec![],
            },
            now,
        )
        .unwrap();
        assert_eq!(r.status, BugStatus::Rejected);
        assert!(r.schedule("2026-12-01".parse().unwrap(), now).is_err());
    }

    #[test]
    fn team_outage_notices_mark_the_30_minutes() {
        let input = |aware: &str| OutageNoticeInput {
            service: "DYNAMO".into(),
            started_at: utc("2026-11-27T09:00:00Z"),
            aware_at: utc(aware),
            description: "eSIM profile service down".into(),
        };
        let now = utc("2026-11-27T10:00:00Z");
        assert!(
            outage_notice(input("2026-11-27T09:30:00Z"), now)
                .unwrap()
                .within_30_minutes
        );
        assert!(
            !outage_notice(input("2026-11-27T09:29:00Z"), now)
                .unwrap()
                .within_30_minutes
        );
    }
}

/// Every partner rule at its edge: the value that is still accepted and the
/// one that is not, with the exact field, time or text that results.
#[cfg(test)]
mod edges {
    use super::*;
    use crate::testing::{madrid_operator, team};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const NOW: &str = "2026-11-27T10:00:00Z";

    fn report_input(started: &str, aware: &str) -> OutageReportInput {
        OutageReportInput {
            service: Service::CoreNetworkServices,
            severity: Severity::Low,
            started_at: t(started),
            aware_at: t(aware),
            description: "d".into(),
            impact: String::new(),
            contact: EmailAddress::parse("noc@contoso.example").unwrap(),
        }
    }

    #[test]
    fn free_text_is_bounded_at_max_text_characters() {
        for (len, ok) in [(MAX_TEXT, true), (MAX_TEXT + 1, false)] {
            let got = text("description", &"é".repeat(len), true);
            assert_eq!(got.is_ok(), ok, "{len}");
        }
        assert_eq!(text("impact", "", false), Ok(()));
        assert_eq!(text("x", " ", true).unwrap_err().field, "x");
        assert!(update_message("").is_err() && update_message("m").is_ok());
    }

    #[test]
    fn an_outage_report_is_aware_after_it_started_and_not_in_the_future() {
        let now = t(NOW);
        let table = [
            ("2026-11-27T09:00:00Z", "2026-11-27T09:00:00Z", None),
            (
                "2026-11-27T09:00:01Z",
                "2026-11-27T09:00:00Z",
                Some("aware_at"),
            ),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:05:00Z", None),
            (
                "2026-11-27T09:00:00Z",
                "2026-11-27T10:05:01Z",
                Some("aware_at"),
            ),
        ];
        for (started, aware, refused) in table {
            let got = report_input(started, aware)
                .validate(now)
                .err()
                .map(|e| e.field);
            assert_eq!(got.as_deref(), refused, "{started} {aware}");
        }
        // Told within 30 minutes of awareness, or marked late.
        let op = madrid_operator("contoso");
        for (aware, on_time) in [
            ("2026-11-27T09:30:00Z", true),
            ("2026-11-27T09:29:59Z", false),
        ] {
            let (r, _, notes) = outage_report(
                &op,
                report_input("2026-11-27T09:00:00Z", aware),
                now,
                &Policy::default(),
                &team(),
                &Default::default(),
            )
            .unwrap();
            assert_eq!(r.reported_within_30_minutes, on_time, "{aware}");
            assert_eq!(notes[0].text.contains("the contract asks for 30"), !on_time);
        }
    }

    #[test]
    fn an_outage_notice_has_the_same_edges() {
        let now = t(NOW);
        let input = |started: &str, aware: &str| OutageNoticeInput {
            service: "dynamo".into(),
            started_at: t(started),
            aware_at: t(aware),
            description: "d".into(),
        };
        let table = [
            ("2026-11-27T09:00:00Z", "2026-11-27T09:00:00Z", true),
            ("2026-11-27T09:00:01Z", "2026-11-27T09:00:00Z", false),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:05:00Z", true),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:05:01Z", false),
        ];
        for (started, aware, ok) in table {
            assert_eq!(
                outage_notice(input(started, aware), now).is_ok(),
                ok,
                "{started} {aware}"
            );
        }
        let late =
            outage_notice(input("2026-11-27T09:00:00Z", "2026-11-27T09:29:59Z"), now).unwrap();
        assert!(!late.within_30_minutes);
        let mail = &late.emails(&[madrid_operator("contoso")], &team())[0];
        assert!(
            mail.text.contains("later than the 30 minutes"),
            "{}",
            mail.text
        );
        assert_eq!(mail.created_at, now);
    }

    fn window(start: &str, end: &str) -> MaintenanceInput {
        MaintenanceInput {
            start: t(start),
            end: t(end),
            description: "upgrade".into(),
            services: vec![],
        }
    }

    #[test]
    fn a_maintenance_window_is_future_ordered_and_at_most_a_week() {
        let now = t(NOW);
        let table = [
            ("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z", None),
            ("2026-12-10T08:00:00Z", "2026-12-10T08:00:00Z", Some("end")),
            ("2026-12-10T08:00:00Z", "2026-12-17T08:00:00Z", None),
            ("2026-12-10T08:00:00Z", "2026-12-17T08:00:01Z", Some("end")),
            ("2026-11-27T09:00:00Z", "2026-11-27T10:00:00Z", Some("end")),
            // Under way already: announced afterwards, refused (5 minutes of skew aside).
            (
                "2026-11-27T09:00:00Z",
                "2026-11-27T10:00:01Z",
                Some("start"),
            ),
            ("2026-11-27T09:55:00Z", "2026-11-27T10:30:00Z", None),
            (
                "2026-11-27T09:54:59Z",
                "2026-11-27T10:30:00Z",
                Some("start"),
            ),
        ];
        for (start, end, refused) in table {
            let got = window(start, end).validate(now).err().map(|e| e.field);
            assert_eq!(got.as_deref(), refused, "{start} {end}");
        }
        let mut empty = window("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        empty.description = " ".into();
        assert_eq!(empty.validate(now).unwrap_err().field, "description");
    }

    fn announced(start: &str, end: &str) -> Maintenance {
        announce_maintenance(
            Announcer::Operator(OperatorId::new("contoso").unwrap()),
            window(start, end),
            t(NOW),
            &madrid_operator("contoso").calendar(),
            &Policy::default(),
            &[],
        )
        .unwrap()
    }

    #[test]
    fn a_window_is_cancelled_before_its_end_and_suppresses_until_done() {
        let m = announced("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        assert!(m.clone().cancel(t("2026-12-10T08:59:59Z")).is_ok());
        assert!(
            m.clone().cancel(t("2026-12-10T09:00:00Z")).is_err(),
            "ended: complete it"
        );
        // Completed early, the window shrinks to the completion; completed at
        // its very start, there is nothing left to suppress.
        let mut done = m.clone();
        done.complete(t("2026-12-10T08:30:00Z")).unwrap();
        assert_eq!(
            done.suppression_window().map(|w| w.end),
            Some(t("2026-12-10T08:30:00Z"))
        );
        let mut at_once = m.clone();
        at_once.complete(t("2026-12-10T08:00:00Z")).unwrap();
        assert_eq!(at_once.suppression_window(), None);
        let mut cancelled = m;
        cancelled.cancel(t("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(cancelled.suppression_window(), None);
    }

    #[test]
    fn maintenance_notices_say_late_only_when_announced_late() {
        let policy = Policy::default();
        // Announced Friday for the next Tuesday: 2 business days, not 5.
        let mut late = announced("2026-12-01T08:00:00Z", "2026-12-01T09:00:00Z");
        let mut timely = announced("2026-12-14T08:00:00Z", "2026-12-14T09:00:00Z");
        assert!(late.late && !timely.late);
        let subject = |m: &Maintenance, e| {
            m.notice(e, vec![], vec![], &team(), &m.id_owner(), &policy)
                .subject
        };
        assert!(subject(&late, MaintenanceEvent::Announced).contains(", LATE"));
        assert!(!subject(&timely, MaintenanceEvent::Announced).contains("LATE"));
        let note = late.notice(
            MaintenanceEvent::Announced,
            vec![],
            vec![],
            &team(),
            &late.id_owner(),
            &policy,
        );
        assert!(note.text.contains("asks for at least 5"), "{}", note.text);
        late.complete(t("2026-12-01T08:40:00Z")).unwrap();
        assert!(!subject(&late, MaintenanceEvent::Completed).contains("LATE"));
        let done = late.notice(
            MaintenanceEvent::Completed,
            vec![],
            vec![],
            &team(),
            &late.id_owner(),
            &policy,
        );
        assert!(
            !done.text.contains("NOTE"),
            "only the announcement says late"
        );
        assert_eq!(done.created_at, t("2026-12-01T08:40:00Z"));
        timely.cancel(t("2026-12-02T00:00:00Z")).unwrap();
        let off = timely.notice(
            MaintenanceEvent::Cancelled,
            vec![],
            vec![],
            &team(),
            &timely.id_owner(),
            &policy,
        );
        assert_eq!(off.created_at, t("2026-12-02T00:00:00Z"));
        assert_eq!(off.topic, Topic::MaintenanceCancelled);
    }

    #[test]
    fn an_operator_sees_its_own_windows_and_the_teams() {
        let contoso = OperatorId::new("contoso").unwrap();
        let fabrikam = OperatorId::new("fabrikam").unwrap();
        let own = announced("2026-12-10T08:00:00Z", "2026-12-10T09:00:00Z");
        let mut teams = own.clone();
        teams.announcer = Announcer::DynamoTeam;
        let table = [
            (&own, Some(&contoso), true),
            (&own, Some(&fabrikam), false),
            (&own, None, true),
            (&teams, Some(&fabrikam), true),
            (&teams, None, true),
        ];
        for (m, viewer, sees) in table {
            assert_eq!(m.visible_to(viewer), sees, "{:?} {viewer:?}", m.announcer);
        }
        assert_eq!(
            [
                MaintenanceEvent::Announced,
                MaintenanceEvent::Completed,
                MaintenanceEvent::Cancelled
            ]
            .map(MaintenanceEvent::as_str),
            ["announced", "completed", "cancelled"]
        );
    }

    #[test]
    fn an_information_request_is_bounded_and_owed_by_the_team() {
        let op = madrid_operator("contoso");
        let ask = |subject: &str, question: &str| InformationRequestInput {
            subject: subject.into(),
            question: question.into(),
            contact: EmailAddress::parse("noc@contoso.example").unwrap(),
        };
        let table = [
            (ask(&"s".repeat(MAX_SUBJECT), "q"), None),
            (ask(&"s".repeat(MAX_SUBJECT + 1), "q"), Some("subject")),
            (ask(" ", "q"), Some("subject")),
            (ask("s", &"q".repeat(MAX_TEXT)), None),
            (ask("s", &"q".repeat(MAX_TEXT + 1)), Some("question")),
            (ask("s", ""), Some("question")),
        ];
        let calendar = crate::BusinessCalendar::default();
        for (input, refused) in table {
            let got =
                information_request(&op, input, t(NOW), &Policy::default(), &team(), &calendar);
            assert_eq!(got.err().map(|e| e.field).as_deref(), refused);
        }
        let (incident, mail) = information_request(
            &op,
            ask("s", "q"),
            t(NOW),
            &Policy::default(),
            &team(),
            &calendar,
        )
        .unwrap();
        // Friday 10:00 on the team's calendar: due Monday 10:00.
        assert_eq!(incident.initial_response_due, t("2026-11-30T10:00:00Z"));
        assert_eq!(
            (mail.to.clone(), incident.kind),
            (team().emails, IncidentKind::InformationRequest)
        );
    }

    impl Maintenance {
        fn id_owner(&self) -> OperatorId {
            OperatorId::new("contoso").unwrap()
        }
    }

    fn bug() -> Bug {
        report_bug(
            &OperatorId::new("contoso").unwrap(),
            false,
            BugInput {
                title: "t".into(),
                description: "d".into(),
                severity: None,
            },
            t(NOW),
        )
        .unwrap()
    }

    #[test]
    fn a_bug_moves_report_triage_schedule_deploy_at_its_edges() {
        let op = OperatorId::new("contoso").unwrap();
        let titled = |n: usize| BugInput {
            title: "t".repeat(n),
            description: "d".into(),
            severity: None,
        };
        assert!(report_bug(&op, false, titled(MAX_SUBJECT), t(NOW)).is_ok());
        assert_eq!(
            report_bug(&op, false, titled(MAX_SUBJECT + 1), t(NOW))
                .unwrap_err()
                .field,
            "title"
        );
        let triage = |j: &str, i: &str| Triage {
            approve: true,
            business_justification: j.into(),
            impact: i.into(),
            concerns: vec![],
        };
        for (j, i) in [("", "i"), ("j", " "), (" ", "")] {
            assert!(bug().triage(triage(j, i), t(NOW)).is_err(), "{j:?} {i:?}");
        }
        let mut b = bug();
        b.triage(triage("j", "i"), t(NOW)).unwrap();
        // The deployment date may be today, not yesterday.
        assert!(b
            .clone()
            .schedule("2026-11-26".parse().unwrap(), t(NOW))
            .is_err());
        b.schedule("2026-11-27".parse().unwrap(), t(NOW)).unwrap();
        let n = &b.notices(BugEvent::Scheduled, &[madrid_operator("contoso")], &team())[0];
        assert!(
            n.text.contains("Tentative deployment: 2026-11-27"),
            "{}",
            n.text
        );
        assert_eq!(
            (n.key.as_str(), n.topic),
            (
                format!("{}#email-scheduled#2026-11-27", b.id).as_str(),
                Topic::BugScheduled
            )
        );
        b.deploy(t("2026-11-27T12:00:00Z")).unwrap();
        let n = &b.notices(BugEvent::Deployed, &[madrid_operator("contoso")], &team())[0];
        assert!(
            n.text.contains("Deployed: 2026-11-27T12:00:00+00:00"),
            "{}",
            n.text
        );
        assert_eq!(n.created_at, t("2026-11-27T12:00:00Z"));
    }

    /// Bugs as a queue: each step tells whom it concerns.
    #[test]
    fn bug_notices_go_to_the_reporter_and_every_operator_concerned() {
        let contoso = madrid_operator("contoso");
        let fabrikam = madrid_operator("fabrikam");
        let ops = [contoso.clone(), fabrikam.clone()];
        let by_team = report_bug(
            &contoso.id,
            true,
            BugInput {
                title: "t".into(),
                description: "d".into(),
                severity: None,
            },
            t(NOW),
        )
        .unwrap();
        let mut b = bug();
        let reported = b.notices(BugEvent::Reported, &ops, &team());
        let team_reported = by_team.notices(BugEvent::Reported, &ops, &team());
        b.triage(
            Triage {
                approve: true,
                business_justification: "j".into(),
                impact: "i".into(),
                concerns: vec![
                    fabrikam.id.clone(),
                    contoso.id.clone(),
                    OperatorId::new("retired").unwrap(),
                ],
            },
            t(NOW),
        )
        .unwrap();
        let triaged = b.notices(BugEvent::Triaged, &ops, &team());
        b.schedule("2026-12-01".parse().unwrap(), t(NOW)).unwrap();
        let scheduled = b.notices(BugEvent::Scheduled, &ops, &team());
        b.deploy(t("2026-12-01T10:00:00Z")).unwrap();
        let deployed = b.notices(BugEvent::Deployed, &ops, &team());
        let to = |ns: &[Notification]| ns.iter().map(|n| n.to.clone()).collect::<Vec<_>>();
        // (notices, recipients, topic)
        let cases = [
            (&reported, vec![team().emails], Topic::BugReported),
            (
                &team_reported,
                vec![contoso.contacts.clone()],
                Topic::BugReported,
            ),
            (&triaged, vec![contoso.contacts.clone()], Topic::BugTriaged),
            (
                &scheduled,
                vec![contoso.contacts.clone()],
                Topic::BugScheduled,
            ),
            // The retired operator is not in the registry: skipped, never an error.
            (
                &deployed,
                vec![contoso.contacts.clone(), fabrikam.contacts.clone()],
                Topic::BugDeployed,
            ),
        ];
        for (ns, recipients, topic) in cases {
            assert_eq!(to(ns), recipients, "{topic}");
            assert!(ns.iter().all(|n| n.topic == topic));
        }
        assert!(
            triaged[0].text.contains("Business justification: j"),
            "{}",
            triaged[0].text
        );
        let keys: std::collections::HashSet<_> = deployed.iter().map(|n| n.key.clone()).collect();
        assert_eq!(keys.len(), 2, "one key per operator told");
        // Fabrikam is told of the deployment, and of nothing of contoso's bug.
        let theirs = &deployed[1];
        assert_eq!(theirs.operator, fabrikam.id);
        for leak in [b.id.as_str(), "contoso", "Follow it"] {
            assert!(
                !theirs.text.contains(leak) && !theirs.subject.contains(leak),
                "{leak}: {} / {}",
                theirs.subject,
                theirs.text
            );
        }
        assert!(
            theirs.text.contains("2026-12-01 10:00:00 UTC"),
            "{}",
            theirs.text
        );
        let mut rejected = bug();
        rejected
            .triage(
                Triage {
                    approve: false,
                    business_justification: "j".into(),
                    impact: "i".into(),
                    concerns: vec![],
                },
                t(NOW),
            )
            .unwrap();
        let n = &rejected.notices(BugEvent::Triaged, &ops, &team())[0];
        assert!(n.subject.starts_with("[BUG REJECTED]"), "{}", n.subject);
        let too_many = Triage {
            approve: true,
            business_justification: "j".into(),
            impact: "i".into(),
            concerns: vec![contoso.id.clone(); MAX_CONCERNED + 1],
        };
        assert!(bug().triage(too_many, t(NOW)).is_err());
    }
}
