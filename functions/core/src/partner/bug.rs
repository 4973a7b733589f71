//! Bug reports: report, triage, scheduled, deployed.

use super::*;

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
    /// The bug under the `n`th id of its millisecond (`n` = 0: the plain
    /// one): two different reports in the same millisecond are two bugs.
    pub fn numbered(mut self, n: u32) -> Self {
        let base = format!("{}-{}-bug", self.operator, key_time_ms(self.reported_at));
        self.id = if n == 0 {
            base
        } else {
            format!("{base}-{}", n + 1)
        };
        self
    }

    /// The same report as `other` (a retried request), whatever its id.
    pub fn same_report(&self, other: &Bug) -> bool {
        (
            &self.operator,
            self.reported_by_team,
            &self.title,
            &self.description,
            self.severity,
        ) == (
            &other.operator,
            other.reported_by_team,
            &other.title,
            &other.description,
            other.severity,
        )
    }

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
                vec![self.email(
                    event,
                    &self.operator,
                    team.mailbox(crate::Purpose::PartnerSupport),
                    vec![],
                    team,
                )]
            }
            BugEvent::Reported | BugEvent::Triaged | BugEvent::Scheduled => {
                contacts(&self.operator)
                    .map(|to| {
                        self.email(
                            event,
                            &self.operator,
                            to,
                            team.mailbox(crate::Purpose::PartnerSupport),
                            team,
                        )
                    })
                    .into_iter()
                    .collect()
            }
            BugEvent::Deployed => self
                .concerned()
                .iter()
                .filter_map(|op| {
                    let to = contacts(op)?;
                    Some(if op == &self.operator {
                        self.email(
                            event,
                            op,
                            to,
                            team.mailbox(crate::Purpose::PartnerSupport),
                            team,
                        )
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
                cc: team.mailbox(crate::Purpose::PartnerSupport),
                subject: format!("[BUG DEPLOYED] A fix that concerns {operator}"),
                text: format!(
                    "The DYNAMO team deployed a fix at {} that its triage found concerns {operator}'s MO Direct integration.\n\nThe DYNAMO team (in copy) can tell you what changed.\n",
                    crate::notify::ts(at),
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
        let (detail, key, at) = self.step(event, operator);
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
                subject: format!("[BUG {outcome}] {}: {}", self.operator, self.title),
                text: format!(
                    "Bug {}: {}\n\n{detail}\n\n{}\n\nFollow it: GET {}\n",
                    self.id,
                    self.title,
                    self.description,
                    team.api(&format!("/bugs/{}", self.id))
                ),
                at,
            },
            team,
        )
    }

    /// What a step's notice says, its outbox key and when it happened.
    fn step(&self, event: BugEvent, operator: &OperatorId) -> (String, String, DateTime<Utc>) {
        let name = event.as_str();
        match event {
            BugEvent::Reported => (
                format!(
                    "Reported by {} at {}. Severity: {}",
                    if self.reported_by_team {
                        "the DYNAMO team".to_string()
                    } else {
                        self.operator.to_string()
                    },
                    crate::notify::ts(self.reported_at),
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
                    self.deployed_at.map_or("-".into(), crate::notify::ts)
                ),
                if operator == &self.operator {
                    format!("{}#email-{name}", self.id)
                } else {
                    format!("{}#{operator}#email-{name}", self.id)
                },
                self.deployed_at.unwrap_or(self.reported_at),
            ),
        }
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
