//! An operator's outage report: validated, checked against the 30 minutes
//! from awareness, turned into its incident.

use super::*;

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
    // The DYNAMO team owes the answer here: its clocks run on the team's calendar.
    let incident = Incident::open(
        Opening {
            form: IdForm::Report {
                aware_at: input.aware_at,
                n: 0,
            },
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
        incident_id: incident.id.clone(),
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
        let id = Opening {
            form: IdForm::Report {
                aware_at: self.input.aware_at,
                n,
            },
            operator: &operator.id,
            severity: incident.severity,
            kind: incident.kind,
            raised_by: incident.raised_by,
            started_at: incident.started_at,
            opened_at: incident.opened_at,
            summary: String::new(),
        }
        .id();
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
                to: team.mailbox(crate::Purpose::Operations),
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
                    started = crate::notify::when(input.started_at, operator.timezone),
                    aware = crate::notify::when(input.aware_at, operator.timezone),
                    received = crate::notify::when(now, operator.timezone),
                    contact = input.contact,
                    desc = input.description,
                    impact = if input.impact.is_empty() { "(not given)" } else { &input.impact },
                    how = how_to_answer(id, team),
                ),
                at: now,
            },
            team,
        ));
        out
    }
}
