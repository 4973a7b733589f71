//! Planned maintenance: announced, approved when late or over the bounds,
//! completed or cancelled, and the window that holds back pages.

use super::*;

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
            // Nothing was done yet: a window that will not happen is cancelled.
            MaintenanceStatus::Announced if at < self.start => Err(TransitionError(format!(
                "maintenance {} starts at {}: it can be completed once it has started (cancel it if it will not happen)",
                self.id,
                crate::notify::ts(self.start)
            ))),
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
    /// Who is told of `event`: an operator's notice goes to the DYNAMO
    /// team, the operator in copy; the team's to every one of `recipients`,
    /// the team in copy.
    pub fn notices(
        &self,
        event: MaintenanceEvent,
        recipients: &[Operator],
        team: &Team,
        policy: &Policy,
    ) -> Vec<Notification> {
        recipients
            .iter()
            .map(|o| {
                let (to, cc) = match &self.announcer {
                    Announcer::Operator(_) => (team.mailbox(self.purpose()), o.contacts.clone()),
                    Announcer::DynamoTeam => (o.contacts.clone(), team.mailbox(self.purpose())),
                };
                self.notice(event, (to, cc), team, o, policy)
            })
            .collect()
    }

    /// The team's channel for this window: the operations centre for an
    /// operator's core network services (the contract's osoc@), the
    /// programme mailbox for everything else.
    pub fn purpose(&self) -> crate::Purpose {
        if self.services.contains(&super::Service::CoreNetworkServices) {
            crate::Purpose::Operations
        } else {
            crate::Purpose::Programme
        }
    }

    /// Whether `actor` may approve, complete or cancel the window (the
    /// approval's route is the team's alone): its announcer or the team.
    /// An operator touching another operator's window finds none.
    pub fn may_move(&self, actor: &Actor) -> Result<(), Access> {
        match (&self.announcer, actor) {
            (_, Actor::Team) => Ok(()),
            (Announcer::Operator(op), Actor::Operator(me)) if op == me => Ok(()),
            (Announcer::DynamoTeam, Actor::Operator(_)) => Err(Access::Forbidden),
            _ => Err(Access::Missing),
        }
    }

    /// One notice of `event` about the window, for `operator`'s side; its
    /// times read in that operator's zone (UTC beside).
    pub fn notice(
        &self,
        event: MaintenanceEvent,
        (to, cc): (Vec<EmailAddress>, Vec<EmailAddress>),
        team: &Team,
        operator: &Operator,
        policy: &Policy,
    ) -> Notification {
        let zone = operator.timezone;
        let operator = &operator.id;
        let when = crate::notify::when;
        let announced = event == MaintenanceEvent::Announced;
        let late = if self.late && announced {
            format!(
                "\nNOTE: announced {} business day(s) ahead; the contract asks for at least {}. Accepted, marked late.\n\
                 A late window holds back no page and counts as no maintenance in the SLA report until the DYNAMO team approves it: POST {}\n",
                self.lead_business_days,
                policy.maintenance_lead_business_days,
                team.api(&format!("/maintenance/{}/approval", self.id))
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
                    "[MAINTENANCE {}{}] {}: {} to {}",
                    name.to_uppercase(),
                    if self.late && announced { ", LATE" } else { "" },
                    match &self.announcer {
                        Announcer::Operator(op) => op.as_str(),
                        Announcer::DynamoTeam => "DYNAMO",
                    },
                    self.start.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
                    self.end.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z")
                ),
                text: format!(
                    "Planned maintenance by {who} {name}.\n\nWindow: {} to {}\nServices: {}\nAnnounced: {}{}\nReference: {}\n{late}\n{}\n",
                    when(self.start, zone),
                    when(self.end, zone),
                    if self.services.is_empty() {
                        "not named".to_string()
                    } else {
                        self.services.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
                    },
                    when(self.announced_at, zone),
                    self.when(event)
                        .map(|t| format!("\n{}: {}", capitalised(name), when(t, zone)))
                        .unwrap_or_default(),
                    self.id,
                    self.description
                ),
                at: self.when(event).unwrap_or(self.announced_at),
            },
            team,
        )
    }

    /// When `event` happened to the window (`None` for the announcement,
    /// whose time is `announced_at`, and for what has not happened).
    fn when(&self, event: MaintenanceEvent) -> Option<DateTime<Utc>> {
        match event {
            MaintenanceEvent::Announced => None,
            MaintenanceEvent::Approved => self.approved_at,
            MaintenanceEvent::Completed => self.completed_at,
            MaintenanceEvent::Cancelled => self.cancelled_at,
        }
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

/// Why an actor may not act on a record it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// It sees the record but may not change it.
    Forbidden,
    /// It does not see the record: answered as a missing one.
    Missing,
}

/// The windows that hold back pages: the suppression windows of an
/// operator's announced windows that can still matter at `now` (ended at
/// most `WINDOWS_KEPT` ago). The evaluator reads these from the registry;
/// the records keep every window, for the reports.
pub fn windows_in_force(
    records: &[Maintenance],
    now: DateTime<Utc>,
) -> Vec<crate::MaintenanceWindow> {
    records
        .iter()
        .filter_map(Maintenance::suppression_window)
        .filter(|w| w.end > now - WINDOWS_KEPT)
        .collect()
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
