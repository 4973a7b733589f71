//! Information requests from an operator to the DYNAMO team.

use super::*;

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
    let incident = Incident::open(
        Opening {
            form: IdForm::Raised,
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
    let id = incident.id.clone();
    let email = Notification::email(
        Email {
            key: format!("{id}#email"),
            topic: Topic::InformationRequest,
            operator: &operator.id,
            incident: Some(&id),
            severity: Some(Severity::Low),
            to: team.mailbox(crate::Purpose::Programme),
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
                how_to_answer(&id, team)
            ),
            at: now,
        },
        team,
    );
    Ok((incident, email))
}
