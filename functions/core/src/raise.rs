//! Low incidents the DYNAMO team raises against an operator: the contract's
//! Low severity is "reporting failures" and "information requests",
//! escalated by the team by email. The operator owes the answer, on its own
//! calendar: within the policy's business days, then weekly.

use crate::ids::key_time_ms;
use crate::incident::{Answer, IdForm, Incident, IncidentKind, Opening, Party, Severity};
use crate::notify::{answer_owed, header_safe, how_to_answer, Email, Notification, Topic};
use crate::partner::{field, text, FieldError, MAX_SUBJECT};
use crate::{Operator, OperatorId, Policy, Team};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// At most this many links (attachments are sent as links, never as files).
pub const MAX_LINKS: usize = 10;
/// The longest link, in bytes.
pub const MAX_LINK_BYTES: usize = 1024;

/// What the team may raise against an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaisedKind {
    ReportingFailure,
    InformationRequest,
}

impl RaisedKind {
    fn kind(self) -> IncidentKind {
        match self {
            Self::ReportingFailure => IncidentKind::ReportingFailure,
            Self::InformationRequest => IncidentKind::InformationRequest,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::ReportingFailure => "Reporting failure",
            Self::InformationRequest => "Information request",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaiseInput {
    pub operator: OperatorId,
    pub kind: RaisedKind,
    pub subject: String,
    pub text: String,
    /// Attachments, as https links.
    #[serde(default)]
    pub links: Vec<Url>,
}

impl RaiseInput {
    fn validate(&self) -> Result<(), FieldError> {
        if self.subject.trim().is_empty() || self.subject.chars().count() > MAX_SUBJECT {
            return Err(field("subject", format!("1 to {MAX_SUBJECT} characters")));
        }
        text("text", &self.text, true)?;
        if self.links.len() > MAX_LINKS {
            return Err(field("links", format!("at most {MAX_LINKS} links")));
        }
        for (i, link) in self.links.iter().enumerate() {
            if link.scheme() != "https" || link.as_str().len() > MAX_LINK_BYTES {
                return Err(field(
                    &format!("links/{i}"),
                    format!("an https link of at most {MAX_LINK_BYTES} bytes"),
                ));
            }
        }
        Ok(())
    }
}

/// The incident (owed by the operator, its clocks on the operator's
/// calendar) and the email that tells the operator's contacts, the team in
/// copy. Its id says the team raised it, so it can never collide with an
/// operator's own request of the same millisecond.
pub fn raise(
    operator: &Operator,
    input: RaiseInput,
    now: DateTime<Utc>,
    policy: &Policy,
    team: &Team,
) -> Result<(Incident, Notification), FieldError> {
    input.validate()?;
    if input.operator != operator.id {
        return Err(field("operator", "does not name this operator"));
    }
    let kind = input.kind.kind();
    let incident = Incident::open(
        Opening {
            form: IdForm::Raised,
            operator: &operator.id,
            severity: Severity::Low,
            kind,
            raised_by: Party::Team,
            started_at: now,
            opened_at: now,
            summary: header_safe(&format!("{}: {}", input.kind.label(), input.subject)),
        },
        policy,
        &operator.calendar(),
    );
    let id = incident.id.clone();
    let links: String = input.links.iter().map(|l| format!("- {l}\n")).collect();
    let email = Notification::email(
        Email {
            key: format!("{id}#email"),
            topic: Topic::IncidentRaised,
            operator: &operator.id,
            incident: Some(&id),
            severity: Some(Severity::Low),
            to: operator.contacts.clone(),
            cc: team.mailbox(crate::Purpose::Programme),
            subject: format!("[LOW] {} from the DYNAMO team: {}", input.kind.label(), input.subject),
            text: format!(
                "The DYNAMO team raises a Low incident with {name} ({op}):\n\n{text}\n\n{links_head}{links}\nIncident: {id}\nInitial response due: {due}\n{owed}\n\n{how}\n",
                name = operator.name,
                op = operator.id,
                text = input.text,
                links_head = if links.is_empty() { "" } else { "Attachments:\n" },
                due = crate::notify::when(incident.initial_response_due, operator.timezone),
                owed = answer_owed(Severity::Low, policy),
                how = how_to_answer(&id, team),
            ),
            at: now,
        },
        team,
    );
    Ok((incident, email))
}

/// Tells the other side that one side answered an incident people raised
/// (an operator's report or request, the team's Low incident): the
/// acknowledgement, each update with its message, the resolution. The
/// monitor's own incidents tell nobody here: their recovery is its own email.
pub fn answered(
    incident: &Incident,
    operator: &Operator,
    team: &Team,
    by: Party,
    answer: Answer,
    message: Option<&str>,
    at: DateTime<Utc>,
) -> Option<Notification> {
    if incident.kind.is_monitored() {
        return None;
    }
    let channel = team.mailbox(crate::Purpose::of_severity(Some(incident.severity)));
    let (to, cc, who) = match by {
        Party::Team => (
            operator.contacts.clone(),
            channel,
            "The DYNAMO team".to_string(),
        ),
        Party::Operator => (channel, vec![], operator.name.clone()),
    };
    let mut message = message.map(|m| format!("\n{m}\n")).unwrap_or_default();
    if incident.adds_as_raiser(by) && incident.is_open() {
        message.push_str(&format!(
            "\nThe {} still owes the answer.\n",
            match incident.owed_by {
                Party::Team => "DYNAMO team",
                Party::Operator => "operator",
            }
        ));
    }
    Some(Notification::email(
        Email {
            key: format!("{}#{}-{}", incident.id, answer.as_str(), key_time_ms(at)),
            topic: Topic::IncidentAnswered,
            operator: &operator.id,
            incident: Some(&incident.id),
            severity: Some(incident.severity),
            to,
            cc,
            subject: format!(
                "[{}] {who} {} incident {}",
                incident.severity.to_string().to_uppercase(),
                answer.as_str(),
                incident.id
            ),
            text: format!(
                "{who} {what} incident {id} ({summary}) at {at}.\n{message}",
                what = answer.as_str(),
                id = incident.id,
                summary = incident.summary,
                at = crate::notify::when(
                    at,
                    match by {
                        Party::Team => operator.timezone,
                        Party::Operator => team.calendar.timezone,
                    }
                ),
            ),
            at,
        },
        team,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{madrid_operator, team};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn input(kind: RaisedKind, links: &[&str]) -> RaiseInput {
        RaiseInput {
            operator: OperatorId::new("contoso").unwrap(),
            kind,
            subject: "October report missing".into(),
            text: "The monthly usage report did not arrive.".into(),
            links: links.iter().map(|l| l.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn the_team_raises_low_incidents_the_operator_owes_on_its_calendar() {
        let op = madrid_operator("contoso");
        // (raised at, initial response due): Madrid, holiday 8 December.
        let cases = [
            // Friday 10:00 UTC (11:00 Madrid): due Monday 11:00 Madrid.
            ("2026-11-27T10:00:00Z", "2026-11-30T10:00:00Z"),
            // Monday 7 December, 16:00 Madrid: the holiday is skipped.
            ("2026-12-07T15:00:00Z", "2026-12-09T15:00:00Z"),
            // Saturday: the clock starts Monday 00:00 Madrid, ends Tuesday 00:00.
            ("2026-11-28T12:00:00Z", "2026-11-30T23:00:00Z"),
        ];
        for kind in [RaisedKind::ReportingFailure, RaisedKind::InformationRequest] {
            for (at, due) in cases {
                let (incident, email) =
                    raise(&op, input(kind, &[]), t(at), &Policy::default(), &team()).unwrap();
                assert_eq!(incident.initial_response_due, t(due), "{kind:?} {at}");
                assert_eq!(
                    (incident.raised_by, incident.owed_by, incident.severity),
                    (Party::Team, Party::Operator, Severity::Low)
                );
                assert_eq!(
                    (email.to.clone(), email.cc.clone()),
                    (op.contacts.clone(), team().emails)
                );
                assert!(incident
                    .id
                    .ends_with(&format!("-team_{}", kind.kind().as_str())));
                assert!(email
                    .text
                    .contains(&format!("/v1/incidents/{}/acknowledgement", incident.id)));
                assert!(!email.text.to_lowercase().contains("reply"));
                let label = match kind {
                    RaisedKind::ReportingFailure => "Reporting failure",
                    RaisedKind::InformationRequest => "Information request",
                };
                assert!(
                    email
                        .subject
                        .starts_with(&format!("[LOW] {label} from the DYNAMO team")),
                    "{}",
                    email.subject
                );
                assert!(incident.summary.starts_with(label), "{}", incident.summary);
            }
        }
    }

    #[test]
    fn an_answer_is_told_to_the_other_side() {
        let op = madrid_operator("contoso");
        let at = t("2026-11-27T11:00:00Z");
        let (raised, _) = raise(
            &op,
            input(RaisedKind::ReportingFailure, &[]),
            t("2026-11-27T10:00:00Z"),
            &Policy::default(),
            &team(),
        )
        .unwrap();
        let mut monitored = raised.clone();
        monitored.kind = IncidentKind::PortalDown;
        // (incident, by, to, carries the message)
        let cases = [
            (&raised, Party::Operator, Some(team().emails)),
            (&raised, Party::Team, Some(op.contacts.clone())),
            (&monitored, Party::Operator, None),
        ];
        for (incident, by, to) in cases {
            let n = answered(
                incident,
                &op,
                &team(),
                by,
                Answer::Update,
                Some("fixed in 2.3"),
                at,
            );
            assert_eq!(
                n.as_ref().map(|n| n.to.clone()),
                to,
                "{by:?} {:?}",
                incident.kind
            );
            if let Some(n) = n {
                assert!(n.text.contains("fixed in 2.3"), "{}", n.text);
                assert!(n.key.starts_with(&format!("{}#updated-", incident.id)));
            }
        }
    }

    #[test]
    fn what_the_team_raises_is_bounded() {
        let op = madrid_operator("contoso");
        let long = format!("https://x.example/{}", "a".repeat(MAX_LINK_BYTES));
        let longest = format!("https://x.example/{}", "a".repeat(MAX_LINK_BYTES - 18));
        assert_eq!(longest.len(), MAX_LINK_BYTES);
        let titled = |n: usize| {
            let mut i = input(RaisedKind::ReportingFailure, &[]);
            i.subject = "s".repeat(n);
            i
        };
        let many: Vec<&str> = vec!["https://x.example/a"; MAX_LINKS + 1];
        let ok: Vec<&str> = vec!["https://x.example/a"; MAX_LINKS];
        let mut other = input(RaisedKind::ReportingFailure, &[]);
        other.operator = OperatorId::new("fabrikam").unwrap();
        let mut blank = input(RaisedKind::ReportingFailure, &[]);
        blank.subject = " ".into();
        let mut empty = input(RaisedKind::ReportingFailure, &[]);
        empty.text = String::new();
        let table = [
            (input(RaisedKind::ReportingFailure, &ok), None),
            (input(RaisedKind::ReportingFailure, &many), Some("links")),
            (
                input(RaisedKind::ReportingFailure, &["http://x.example/"]),
                Some("links/0"),
            ),
            (
                input(RaisedKind::ReportingFailure, &[&long]),
                Some("links/0"),
            ),
            (input(RaisedKind::ReportingFailure, &[&longest]), None),
            (titled(MAX_SUBJECT), None),
            (titled(MAX_SUBJECT + 1), Some("subject")),
            (other, Some("operator")),
            (blank, Some("subject")),
            (empty, Some("text")),
        ];
        for (i, refused) in table {
            let got = raise(
                &op,
                i,
                t("2026-11-27T10:00:00Z"),
                &Policy::default(),
                &team(),
            );
            assert_eq!(got.err().map(|e| e.field).as_deref(), refused);
        }
        let (_, email) = raise(
            &op,
            input(
                RaisedKind::InformationRequest,
                &["https://x.example/spec.pdf"],
            ),
            t("2026-11-27T10:00:00Z"),
            &Policy::default(),
            &team(),
        )
        .unwrap();
        assert!(
            email.text.contains("- https://x.example/spec.pdf\n"),
            "{}",
            email.text
        );
    }
}
