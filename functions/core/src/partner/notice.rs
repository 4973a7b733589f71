//! Outage notices from the DYNAMO team to every operator.

use super::*;

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
