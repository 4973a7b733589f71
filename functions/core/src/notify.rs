//! Turns events into the messages people receive: pages (short, SMS-friendly)
//! and emails (full detail). Pure: delivery is an adapter's job.
//!
//! Routing follows the seed: High is escalated by phone by the operations
//! centre (a page to the team's on-call topic) and emailed to the operator;
//! Low goes by email from the DYNAMO team to the operator. The team is copied
//! on every operator email. Monitor gaps concern the team only.

use crate::config::{Operator, Team};
use crate::evaluate::Event;
use crate::ids::key_time;
use crate::ids::{EmailAddress, OperatorId};
use crate::incident::{IncidentKind, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Page,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Email => "email",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Idempotency key: the same decision always yields the same key, and a
    /// store holds at most one notification per key.
    pub key: String,
    pub channel: Channel,
    pub operator: OperatorId,
    pub incident_id: Option<String>,
    pub severity: Option<Severity>,
    /// What kind of message: "incident_opened", "incident_resolved", "monitor_gap".
    pub topic: String,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub from: Option<EmailAddress>,
    pub subject: String,
    pub text: String,
    /// An HTML part, when the message has more than text to show (charts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Delivery retries: a failed send is tried again 30 s later, then after
/// twice the previous wait, at most 30 minutes apart; the 8th failed attempt
/// gives up (about an hour of trying). Failures are usually permanent (an
/// address SES refuses) or an outage of SES or SNS that an hour covers; the
/// backoff keeps a failing entry from being retried at every pass.
pub const RETRY_FIRST: chrono::Duration = chrono::Duration::seconds(30);
pub const RETRY_CAP: chrono::Duration = chrono::Duration::minutes(30);
pub const MAX_ATTEMPTS: u32 = 8;
/// The topic of the team's notice about a notification given up.
pub const UNDELIVERABLE: &str = "undeliverable";

/// When to try again after the `attempts`-th failed send at `failed_at`;
/// `None` once the attempts are spent.
pub fn next_attempt(attempts: u32, failed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doubling = 2i32.saturating_pow(attempts.saturating_sub(1).min(20));
    Some(failed_at + (RETRY_FIRST * doubling).min(RETRY_CAP))
}

/// The team's notice that a notification could not be sent: once per
/// notification (its key), by email to the team alone.
pub fn undeliverable(
    original: &Notification,
    attempts: u32,
    error: &str,
    team: &Team,
    at: DateTime<Utc>,
) -> Notification {
    let recipients: Vec<String> = original
        .to
        .iter()
        .chain(&original.cc)
        .map(|a| a.to_string())
        .collect();
    Notification {
        key: format!("{}#{UNDELIVERABLE}", original.key),
        channel: Channel::Email,
        operator: original.operator.clone(),
        incident_id: original.incident_id.clone(),
        severity: original.severity,
        topic: UNDELIVERABLE.into(),
        to: team.emails.clone(),
        cc: vec![],
        from: Some(team.sender.clone()),
        subject: header_safe(&format!("[UNDELIVERABLE] {}", original.subject)),
        text: format!(
            "This {} could not be sent after {attempts} attempts and will not be retried.\n\nKey: {}\nRecipients: {}\nLast error: {}\nRecorded: {}\n\n--- The message ---\n{}\n",
            original.channel.as_str(),
            original.key,
            if recipients.is_empty() { "(the page topic)".to_string() } else { recipients.join(", ") },
            error.chars().take(500).collect::<String>(),
            ts(original.created_at),
            original.text,
        ),
        html: None,
        created_at: at,
    }
}

/// Keeps header values single-line and bounded, so nothing a partner typed can
/// add a header or break the subject.
pub fn header_safe(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > 200 {
        out = out.chars().take(199).collect::<String>() + "…";
    }
    out
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[allow(clippy::too_many_arguments)]
fn email(
    key: String,
    operator: &Operator,
    team: &Team,
    incident_id: Option<String>,
    severity: Option<Severity>,
    topic: &str,
    subject: String,
    text: String,
    at: DateTime<Utc>,
) -> Notification {
    Notification {
        html: None,
        key,
        channel: Channel::Email,
        operator: operator.id.clone(),
        incident_id,
        severity,
        topic: topic.into(),
        to: operator.contacts.clone(),
        cc: team.emails.clone(),
        from: Some(team.sender.clone()),
        subject: header_safe(&subject),
        text,
        created_at: at,
    }
}

/// The notifications an event calls for.
pub fn render(event: &Event, operator: &Operator, team: &Team) -> Vec<Notification> {
    match event {
        Event::IncidentOpened { incident, .. } => {
            let sev = incident.severity;
            let sev_up = sev.to_string().to_uppercase();
            let what = match incident.kind {
                IncidentKind::PortalDown => "MO Direct portal unavailable",
                IncidentKind::Flapping => "MO Direct portal unstable (flapping)",
                IncidentKind::OutageReport => "outage reported",
                IncidentKind::InformationRequest => "information request",
            };
            let subject = format!(
                "[{sev_up}] {}: {what} since {}",
                operator.name,
                ts(incident.started_at)
            );
            let deadline = match sev {
                Severity::High => "Initial response expected within 1 hour; then an update every business day until resolution.",
                Severity::Low => "Initial response expected within 1 business day; then an update every week until resolution.",
            };
            let text = format!(
                "{summary}\n\nIncident: {id}\nSeverity: {sev_up}\nOperator: {name} ({op})\nPortal: {url}\nTrouble began: {start}\nIncident opened: {opened}\nInitial response due: {due}\n\n{deadline}\nReply with the incident id to acknowledge.\n",
                summary = incident.summary,
                id = incident.id,
                name = operator.name,
                op = operator.id,
                url = operator.portal.url,
                start = ts(incident.started_at),
                opened = ts(incident.opened_at),
                due = ts(incident.initial_response_due),
            );
            let mut out = Vec::new();
            if sev == Severity::High {
                out.push(Notification {
                    html: None,
                    key: format!("{}#page-open", incident.id),
                    channel: Channel::Page,
                    operator: operator.id.clone(),
                    incident_id: Some(incident.id.clone()),
                    severity: Some(sev),
                    topic: "incident_opened".into(),
                    to: vec![],
                    cc: vec![],
                    from: None,
                    subject: header_safe(&format!("HIGH {}: portal down", operator.id)),
                    text: page_text(&format!(
                        "HIGH {}: MO Direct portal down {}m since {}. Ack due {}. {}",
                        operator.id,
                        (incident.opened_at - incident.started_at).num_minutes(),
                        incident.started_at.format("%H:%MZ"),
                        incident.initial_response_due.format("%H:%MZ"),
                        incident.id
                    )),
                    created_at: incident.opened_at,
                });
            }
            out.push(email(
                format!("{}#email-open", incident.id),
                operator,
                team,
                Some(incident.id.clone()),
                Some(sev),
                "incident_opened",
                subject,
                text,
                incident.opened_at,
            ));
            out
        }
        Event::IncidentResolved {
            incident,
            resolved_at,
            ..
        } => {
            let sev_up = incident.severity.to_string().to_uppercase();
            let minutes = (*resolved_at - incident.started_at).num_minutes();
            let subject = format!(
                "[RESOLVED] {}: {} incident {}",
                operator.name, sev_up, incident.id
            );
            let text = format!(
                "The {kind} incident {id} for {name} ({op}) is resolved.\n\nTrouble began: {start}\nIncident opened: {opened}\nResolved: {resolved} ({minutes} minutes after it began)\n",
                kind = incident.kind.as_str().replace('_', " "),
                id = incident.id,
                name = operator.name,
                op = operator.id,
                start = ts(incident.started_at),
                opened = ts(incident.opened_at),
                resolved = ts(*resolved_at),
            );
            let mut out = Vec::new();
            if incident.severity == Severity::High {
                out.push(Notification {
                    html: None,
                    key: format!("{}#page-resolve", incident.id),
                    channel: Channel::Page,
                    operator: operator.id.clone(),
                    incident_id: Some(incident.id.clone()),
                    severity: Some(incident.severity),
                    topic: "incident_resolved".into(),
                    to: vec![],
                    cc: vec![],
                    from: None,
                    subject: header_safe(&format!("RESOLVED {}", operator.id)),
                    text: page_text(&format!(
                        "RESOLVED {}: MO Direct portal back at {} after {minutes}m. {}",
                        operator.id,
                        resolved_at.format("%H:%MZ"),
                        incident.id
                    )),
                    created_at: *resolved_at,
                });
            }
            out.push(email(
                format!("{}#email-resolve", incident.id),
                operator,
                team,
                Some(incident.id.clone()),
                Some(incident.severity),
                "incident_resolved",
                subject,
                text,
                *resolved_at,
            ));
            out
        }
        Event::MonitorGap { from, to, .. } => {
            let minutes = (*to - *from).num_minutes();
            vec![Notification {
                html: None,
                key: format!("{}-{}#email-gap", operator.id, key_time(*from)),
                channel: Channel::Email,
                operator: operator.id.clone(),
                incident_id: None,
                severity: Some(Severity::Low),
                topic: "monitor_gap".into(),
                to: team.emails.clone(),
                cc: vec![],
                from: Some(team.sender.clone()),
                subject: header_safe(&format!("[MONITOR] No probes of {} for {minutes} minutes", operator.name)),
                text: format!(
                    "livesite received no probe result for {name} ({op}) from {from} to {to} ({minutes} minutes).\n\
                     That time is counted as unknown: neither up nor down, and outside the availability figures.\n\
                     Check the probe schedule and the probe function's logs.\n",
                    name = operator.name,
                    op = operator.id,
                    from = ts(*from),
                    to = ts(*to),
                ),
                created_at: *to,
            }]
        }
        Event::BudgetBurn {
            at,
            long_minutes,
            short_minutes,
            factor,
            long_burn,
            ..
        } => {
            let hours = *long_minutes as f64 / 60.0;
            vec![email(
                format!("{}#burn-{long_minutes}m-{}", operator.id, key_time(*at)),
                operator,
                team,
                None,
                Some(Severity::Low),
                "budget_burn",
                format!(
                    "[LOW] {}: error budget burning {long_burn:.1}x too fast",
                    operator.name
                ),
                format!(
                    "Over the last {hours:.0} hours (and the last {short_minutes} minutes) the MO Direct portal of {name} ({op}) \
                     failed often enough to spend the month's error budget {long_burn:.1} times faster than 99.9% allows \
                     (warning threshold {factor:.1}x). At this pace the month ends over budget.\n\n\
                     No outage incident is open: the failures are short or scattered. Look at the portal's recent probes.\n",
                    name = operator.name,
                    op = operator.id,
                ),
                *at,
            )]
        }
        Event::PageSuppressed { .. } => vec![],
    }
}

/// Pages go to phones: one line, within one SMS (160 characters).
pub fn page_text(s: &str) -> String {
    let line = header_safe(s);
    if line.chars().count() <= 160 {
        line
    } else {
        line.chars().take(159).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PortalCheck;
    use crate::evaluate::OpenRef;
    use crate::incident::{Incident, IncidentStatus};
    use crate::testing::team;

    fn op() -> Operator {
        Operator {
            id: OperatorId::new("contoso").unwrap(),
            name: "Contoso\r\nBcc: evil@x.example Mobile".into(),
            portal: PortalCheck::new("https://portal.contoso.example/".parse().unwrap()),
            contacts: vec![EmailAddress::parse("noc@contoso.example").unwrap()],
            timezone: chrono_tz::Tz::UTC,
            holidays: Default::default(),
            maintenance: vec![],
            api_clients: vec![],
        }
    }

    fn incident(sev: Severity) -> Incident {
        let t: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        Incident {
            id: "contoso-20261127T100000Z-portal_down".into(),
            operator: op().id,
            severity: sev,
            kind: IncidentKind::PortalDown,
            status: IncidentStatus::Open,
            started_at: t,
            opened_at: t + chrono::Duration::seconds(1830),
            resolved_at: None,
            summary: "down".into(),
            initial_response_due: t + chrono::Duration::seconds(1830 + 3600),
            acknowledged_at: None,
            last_update_at: None,
            next_update_due: None,
            version: 0,
        }
    }

    #[test]
    fn routing_table() {
        let o = op();
        let high = render(
            &Event::IncidentOpened {
                incident: incident(Severity::High),
                reason: None,
            },
            &o,
            &team(),
        );
        let chans: Vec<_> = high.iter().map(|n| n.channel).collect();
        assert_eq!(chans, vec![Channel::Page, Channel::Email]);
        let low = render(
            &Event::IncidentOpened {
                incident: incident(Severity::Low),
                reason: None,
            },
            &o,
            &team(),
        );
        assert_eq!(
            low.iter().map(|n| n.channel).collect::<Vec<_>>(),
            vec![Channel::Email]
        );
        assert_eq!(low[0].to, o.contacts);
        assert_eq!(low[0].cc, team().emails);
        let i = incident(Severity::High);
        let resolved = render(
            &Event::IncidentResolved {
                incident: OpenRef {
                    id: i.id.clone(),
                    severity: i.severity,
                    kind: i.kind,
                    started_at: i.started_at,
                    opened_at: i.opened_at,
                },
                operator: o.id.clone(),
                resolved_at: i.opened_at + chrono::Duration::minutes(5),
            },
            &o,
            &team(),
        );
        assert_eq!(resolved.len(), 2);
        let keys: std::collections::HashSet<_> = high
            .iter()
            .chain(&resolved)
            .map(|n| n.key.clone())
            .collect();
        assert_eq!(keys.len(), 4, "every message has its own key");
        let gap = render(
            &Event::MonitorGap {
                operator: o.id.clone(),
                from: i.started_at,
                to: i.opened_at,
            },
            &o,
            &team(),
        );
        assert_eq!(gap[0].to, team().emails, "gaps go to the team only");
    }

    #[test]
    fn subjects_cannot_carry_headers_and_pages_fit_an_sms() {
        let all = render(
            &Event::IncidentOpened {
                incident: incident(Severity::High),
                reason: None,
            },
            &op(),
            &team(),
        );
        for n in &all {
            assert!(
                !n.subject.contains('\n') && !n.subject.contains('\r'),
                "{:?}",
                n.subject
            );
        }
        assert!(all[0].text.chars().count() <= 160, "{}", all[0].text);
        assert_eq!(header_safe(&"x".repeat(500)).chars().count(), 200);
    }
}
