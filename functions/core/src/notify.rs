//! Turns events into the messages people receive: pages (short, SMS-friendly)
//! and emails (full detail). Pure: delivery is an adapter's job.
//!
//! Routing follows the seed: High is escalated by phone by the operations
//! centre (a page to the team's on-call topic) and emailed to the operator;
//! Low goes by email from the DYNAMO team to the operator. The team is copied
//! on every operator email. Monitor gaps concern the team only.

use crate::config::{Operator, Policy, Purpose, Team};
use crate::evaluate::{Event, OpenRef};
use crate::ids::key_time;
use crate::ids::{EmailAddress, OperatorId};
use crate::incident::{Incident, IncidentKind, Severity};
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
    /// What the message is about.
    pub topic: Topic,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub from: Option<EmailAddress>,
    pub subject: String,
    pub text: String,
    /// An HTML part, when the message has more than text to show (charts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Images the HTML part shows by `cid:` (a report's charts as PNG: mail
    /// clients show attached images, not inline SVG).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<InlineImage>,
    pub created_at: DateTime<Utc>,
}

/// An image carried with an email and shown by its HTML part as
/// `<img src="cid:{content_id}">`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineImage {
    /// `a-z`, `0-9`, `.`, `-` only: it goes into a MIME header.
    pub content_id: String,
    pub content_type: String,
    /// The image's bytes, base64 (standard alphabet, padded).
    pub base64: String,
}

/// The most image data one email carries, base64 included: the outbox
/// keeps the email in one DynamoDB item (400 KB at most), with its text.
pub const MAX_IMAGE_BYTES: usize = 160 * 1024;

/// What a message is about: pages carry it as their `event` attribute (a
/// subscription can filter on it), logs and the outbox name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    IncidentOpened,
    IncidentResolved,
    MonitorGap,
    BudgetBurn,
    OutageReported,
    OutageNotice,
    OutageNoticeResolved,
    InformationRequest,
    IncidentRaised,
    IncidentAnswered,
    MaintenanceAnnounced,
    MaintenanceApproved,
    MaintenanceCompleted,
    MaintenanceCancelled,
    MaintenanceOverrun,
    BugReported,
    BugTriaged,
    BugScheduled,
    BugDeployed,
    MonthlyReport,
    InitialResponseOverdue,
    UpdateOverdue,
    Escalation,
    MonitorBlind,
    CertificateExpiry,
    Undeliverable,
}

impl Topic {
    /// Every kind of message, for tests that must see each one (a new
    /// variant fails to compile `a_topic_is_stored_and_sent_under_one_name` until listed here too).
    pub const ALL: [Topic; 26] = [
        Self::IncidentOpened,
        Self::IncidentResolved,
        Self::MonitorGap,
        Self::BudgetBurn,
        Self::OutageReported,
        Self::OutageNotice,
        Self::OutageNoticeResolved,
        Self::InformationRequest,
        Self::IncidentRaised,
        Self::IncidentAnswered,
        Self::MaintenanceAnnounced,
        Self::MaintenanceApproved,
        Self::MaintenanceCompleted,
        Self::MaintenanceCancelled,
        Self::MaintenanceOverrun,
        Self::BugReported,
        Self::BugTriaged,
        Self::BugScheduled,
        Self::BugDeployed,
        Self::MonthlyReport,
        Self::InitialResponseOverdue,
        Self::UpdateOverdue,
        Self::Escalation,
        Self::MonitorBlind,
        Self::CertificateExpiry,
        Self::Undeliverable,
    ];
    /// Whether a High notice of this topic asks its reader to act now (an
    /// incident opened, raised or overdue, an outage, an overrun), so it
    /// names whom to call.
    pub fn escalates(self) -> bool {
        matches!(
            self,
            Self::IncidentOpened
                | Self::IncidentRaised
                | Self::OutageReported
                | Self::OutageNotice
                | Self::InitialResponseOverdue
                | Self::UpdateOverdue
                | Self::Escalation
                | Self::MaintenanceOverrun
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IncidentOpened => "incident_opened",
            Self::IncidentResolved => "incident_resolved",
            Self::MonitorGap => "monitor_gap",
            Self::BudgetBurn => "budget_burn",
            Self::OutageReported => "outage_reported",
            Self::OutageNotice => "outage_notice",
            Self::OutageNoticeResolved => "outage_notice_resolved",
            Self::InformationRequest => "information_request",
            Self::IncidentRaised => "incident_raised",
            Self::IncidentAnswered => "incident_answered",
            Self::MaintenanceAnnounced => "maintenance_announced",
            Self::MaintenanceApproved => "maintenance_approved",
            Self::MaintenanceCompleted => "maintenance_completed",
            Self::MaintenanceCancelled => "maintenance_cancelled",
            Self::MaintenanceOverrun => "maintenance_overrun",
            Self::BugReported => "bug_reported",
            Self::BugTriaged => "bug_triaged",
            Self::BugScheduled => "bug_scheduled",
            Self::BugDeployed => "bug_deployed",
            Self::MonthlyReport => "monthly_report",
            Self::InitialResponseOverdue => "initial_response_overdue",
            Self::UpdateOverdue => "update_overdue",
            Self::Escalation => "escalation",
            Self::MonitorBlind => "monitor_blind",
            Self::CertificateExpiry => "certificate_expiry",
            Self::Undeliverable => "undeliverable",
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An email to build (`Notification::email`): it comes from the team's
/// sender; the subject is made header-safe.
pub struct Email<'a> {
    pub key: String,
    pub topic: Topic,
    pub operator: &'a OperatorId,
    pub incident: Option<&'a str>,
    pub severity: Option<Severity>,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub subject: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A page to build (`Notification::page`): to the operations centre's
/// topic, its text one SMS.
pub struct Page<'a> {
    pub key: String,
    pub topic: Topic,
    pub operator: &'a OperatorId,
    pub incident: Option<&'a str>,
    pub severity: Severity,
    pub subject: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

impl Notification {
    /// The one way to make an email.
    /// A High email addressed to someone outside the team about something
    /// still to act on (`Topic::escalates`) names the operations centre's
    /// line (`Team::phone`), the contract's way to escalate: never an
    /// acknowledgement, a resolution, or mail to the team with an operator
    /// only in copy.
    pub fn email(e: Email<'_>, team: &Team) -> Self {
        let outside = e.to.iter().any(|a| !team.owns(a));
        let text = match (&team.phone, e.severity) {
            (Some(phone), Some(Severity::High)) if outside && e.topic.escalates() => format!(
                "{}\nHigh incidents by phone: the operations centre, {phone}.\n",
                e.text
            ),
            _ => e.text,
        };
        Self {
            key: e.key,
            channel: Channel::Email,
            operator: e.operator.clone(),
            incident_id: e.incident.map(str::to_string),
            severity: e.severity,
            topic: e.topic,
            to: e.to,
            cc: e.cc,
            from: Some(team.sender.clone()),
            subject: header_safe(&e.subject),
            text,
            html: None,
            images: vec![],
            created_at: e.at,
        }
    }

    /// The one way to make a page.
    pub fn page(p: Page<'_>) -> Self {
        Self {
            key: p.key,
            channel: Channel::Page,
            operator: p.operator.clone(),
            incident_id: p.incident.map(str::to_string),
            severity: Some(p.severity),
            topic: p.topic,
            to: vec![],
            cc: vec![],
            from: None,
            subject: header_safe(&p.subject),
            text: page_text_keeping(&p.text, p.incident),
            html: None,
            images: vec![],
            created_at: p.at,
        }
    }

    /// The same email with an HTML part (a report's charts).
    pub fn with_html(mut self, html: String) -> Self {
        self.html = Some(html);
        self
    }

    /// The same email with images its HTML shows by `cid:`; none at all if
    /// together they are over `MAX_IMAGE_BYTES` or a content id is not
    /// header-safe (the HTML's alt texts and the text part still say it all).
    pub fn with_images(mut self, images: Vec<InlineImage>) -> Self {
        let size: usize = images.iter().map(|i| i.base64.len()).sum();
        let safe = images.iter().all(|i| {
            !i.content_id.is_empty()
                && i.content_id.len() <= 64
                && i.content_id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        });
        if size <= MAX_IMAGE_BYTES && safe {
            self.images = images;
        }
        self
    }
}

/// Delivery retries: a failed send is tried again 30 s later, then after
/// twice the previous wait, at most 30 minutes apart; the 8th failed attempt
/// gives up (about an hour of trying). Failures are usually permanent (an
/// address SES refuses) or an outage of SES or SNS that an hour covers; the
/// backoff keeps a failing entry from being retried at every pass.
pub const RETRY_FIRST: chrono::Duration = chrono::Duration::seconds(30);
pub const RETRY_CAP: chrono::Duration = chrono::Duration::minutes(30);
pub const MAX_ATTEMPTS: u32 = 8;

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
    Notification::email(
        Email {
            key: format!("{}#{}", original.key, Topic::Undeliverable),
            topic: Topic::Undeliverable,
            operator: &original.operator,
            incident: original.incident_id.as_deref(),
            severity: original.severity,
            to: team.mailbox(Purpose::of_severity(original.severity)),
            cc: vec![],
            subject: format!("[UNDELIVERABLE] {}", original.subject),
            text: format!(
                "This {} could not be sent after {attempts} attempts and will not be retried.\n\nKey: {}\nRecipients: {}\nLast error: {}\nRecorded: {}\n\n--- The message ---\n{}\n",
                original.channel.as_str(),
                original.key,
                if recipients.is_empty() { "(the page topic)".to_string() } else { recipients.join(", ") },
                error.chars().take(500).collect::<String>(),
                when(original.created_at, team.calendar.timezone),
                original.text,
            ),
            at,
        },
        team,
    )
}

/// Keeps header values single-line and bounded, so nothing a partner typed can
/// add a header or break the subject.
pub fn header_safe(raw: &str) -> String {
    let mut out = one_line(raw);
    if out.chars().count() > 200 {
        out = out.chars().take(199).collect::<String>() + "…";
    }
    out
}

/// A time in UTC, to the second: stored texts (summaries) and what no one
/// zone reads.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time as its reader reads it: to the second, in the reader's zone
/// (the operator's, or the team's calendar zone), with UTC beside it for
/// the other side in copy.
pub fn when(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    if zone == chrono_tz::Tz::UTC {
        return ts(t);
    }
    let local = t.with_timezone(&zone);
    let utc = if local.date_naive() == t.date_naive() {
        t.format("%H:%M:%S UTC").to_string()
    } else {
        ts(t)
    };
    format!("{} ({utc})", local.format("%Y-%m-%d %H:%M:%S %Z"))
}

/// A stretch of time as people say it: minutes up to two hours, then
/// hours, then days and hours.
pub fn span(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    let n = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match m {
        0 => "under a minute".into(),
        m if m < 120 => n(m, "minute"),
        m if m < 48 * 60 => format!("{} {}", n(m / 60, "hour"), n(m % 60, "minute")),
        m => format!("{} {}", n(m / 1440, "day"), n((m % 1440) / 60, "hour")),
    }
}

/// Whose zone an incident email is read in: the side it is sent to.
pub(crate) fn reader_zone(
    owed_by: crate::incident::Party,
    operator: &Operator,
    team: &Team,
) -> chrono_tz::Tz {
    match owed_by {
        crate::incident::Party::Operator => operator.timezone,
        crate::incident::Party::Team => team.calendar.timezone,
    }
}

/// The notifications an event calls for; the contract's numbers in their
/// texts come from `policy`.
pub fn render(
    event: &Event,
    operator: &Operator,
    team: &Team,
    policy: &Policy,
) -> Vec<Notification> {
    match event {
        Event::IncidentOpened { incident, .. } => opened(incident, operator, team, policy),
        Event::IncidentResolved {
            incident,
            resolved_at,
            ..
        } => resolved(incident, *resolved_at, operator, team),
        Event::MonitorGap { from, to, .. } => vec![gap(*from, *to, operator, team)],
        Event::BudgetBurn {
            at,
            long_minutes,
            short_minutes,
            factor,
            long_burn,
            ..
        } => vec![Notification::email(
            Email {
                key: format!("{}#burn-{long_minutes}m-{}", operator.id, key_time(*at)),
                topic: Topic::BudgetBurn,
                operator: &operator.id,
                incident: None,
                severity: Some(Severity::Low),
                to: operator.contacts.clone(),
                cc: team.mailbox(Purpose::Programme),
                subject: format!(
                    "[LOW] {}: error budget burning {long_burn:.1}x too fast",
                    operator.name
                ),
                text: format!(
                    "Over the last {hours:.0} hours (and the last {short_minutes} minutes) the MO Direct portal of {name} ({op}) \
                     failed often enough to spend the month's error budget {long_burn:.1} times faster than {target}% allows \
                     (warning threshold {factor:.1}x). At this pace the month ends over budget.\n\n\
                     No outage incident is open: the failures are short or scattered. Look at the portal's recent probes.\n",
                    hours = *long_minutes as f64 / 60.0,
                    name = operator.name,
                    op = operator.id,
                    target = policy.availability_target_percent,
                ),
                at: *at,
            },
            team,
        )],
        Event::PageSuppressed { .. } | Event::DayClosed { .. } => vec![],
    }
}

/// What the side that owes the answer must do, and by when, by severity.
pub fn answer_owed(severity: Severity, policy: &Policy) -> String {
    let first = match severity {
        Severity::High => humane(policy.high_initial_response),
        Severity::Low => business_days(policy.low_initial_response_business_days),
    };
    format!(
        "Initial response expected within {first}; then an update every {} until resolution.",
        update_cadence(severity)
    )
}

/// What a page tells the operations centre to do: call the operator's
/// first escalation number (the others are in its registry entry).
pub fn whom_to_call(operator: &Operator) -> String {
    match operator.escalation_phones.first() {
        Some(phone) => format!("Call {phone}"),
        None => "No escalation phone on record: email the operator".to_string(),
    }
}

/// How the owing side answers: each request in full against the partner
/// API (`Team::api`), as it works when sent as printed with the reader's
/// own access token. No inbound mail is read, so never "reply".
pub fn how_to_answer(id: &str, team: &Team) -> String {
    format!(
        "To acknowledge: POST {}\n\
         To post an update: POST {} with the JSON body {{\"message\": \"...\"}}\n\
         Each request carries your partner API access token (Authorization: Bearer <token>).",
        team.api(&format!("/incidents/{id}/acknowledgement")),
        team.api(&format!("/incidents/{id}/updates")),
    )
}

/// How often an open incident is updated: `business day`, `week`.
pub fn update_cadence(severity: Severity) -> String {
    match severity {
        Severity::High => every_business_days(crate::incident::HIGH_UPDATE_BUSINESS_DAYS),
        Severity::Low => every(crate::incident::LOW_UPDATE_EVERY),
    }
}

/// `1 hour`, `90 minutes`, `1 week`: a duration as a contract states it.
pub fn humane(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let unit = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match secs {
        s if s > 0 && s % (7 * 86_400) == 0 => unit(s / (7 * 86_400), "week"),
        s if s > 0 && s % 86_400 == 0 => unit(s / 86_400, "day"),
        s if s > 0 && s % 3600 == 0 => unit(s / 3600, "hour"),
        s => unit(s.div_ceil(60), "minute"),
    }
}

/// `week`, `2 weeks`: what "an update every …" says.
fn every(d: std::time::Duration) -> String {
    let text = humane(d);
    text.strip_prefix("1 ").map_or(text.clone(), str::to_string)
}

fn business_days(n: u32) -> String {
    format!("{n} business day{}", if n == 1 { "" } else { "s" })
}

fn every_business_days(n: u32) -> String {
    if n == 1 {
        "business day".to_string()
    } else {
        business_days(n)
    }
}

/// Whom an incident's emails go to: the side that owes the answer, the
/// team's channel for its severity in copy when that is the operator.
pub(crate) fn recipients(
    owed_by: crate::incident::Party,
    severity: Option<Severity>,
    operator: &Operator,
    team: &Team,
) -> (Vec<EmailAddress>, Vec<EmailAddress>) {
    let channel = team.mailbox(Purpose::of_severity(severity));
    match owed_by {
        crate::incident::Party::Operator => (operator.contacts.clone(), channel),
        crate::incident::Party::Team => (channel, vec![]),
    }
}

fn opened(
    incident: &Incident,
    operator: &Operator,
    team: &Team,
    policy: &Policy,
) -> Vec<Notification> {
    let sev = incident.severity;
    let sev_up = sev.to_string().to_uppercase();
    let zone = reader_zone(incident.owed_by, operator, team);
    let what = match incident.kind {
        IncidentKind::PortalDown => "MO Direct portal unavailable",
        IncidentKind::Flapping => "MO Direct portal unstable (flapping)",
        IncidentKind::OutageReport => "outage reported",
        IncidentKind::InformationRequest => "information request",
        IncidentKind::ReportingFailure => "reporting failure",
        IncidentKind::LatencySla => "MO Direct portal slower than its latency SLA",
        IncidentKind::PartialOutage => "MO Direct portal failing on some of its addresses",
        IncidentKind::LocationPath => "one probing location cannot reach the MO Direct portal",
        IncidentKind::WalledGarden => "MO Direct portal unreachable from the walled garden",
    };
    let text = format!(
        "{summary}\n\nIncident: {id}\nSeverity: {sev_up}\nOperator: {name} ({op})\nPortal: {url}\nTrouble began: {start}\nIncident opened: {opened}\nInitial response due: {due}\n\n{owed}\n{how}\n",
        summary = incident.summary,
        id = incident.id,
        name = operator.name,
        op = operator.id,
        url = operator.portal.url,
        start = when(incident.started_at, zone),
        opened = when(incident.opened_at, zone),
        due = when(incident.initial_response_due, zone),
        owed = answer_owed(sev, policy),
        how = how_to_answer(&incident.id, team),
    );
    let mut out = Vec::new();
    if sev == Severity::High {
        out.push(Notification::page(Page {
            key: format!("{}#page-open", incident.id),
            topic: Topic::IncidentOpened,
            operator: &operator.id,
            incident: Some(&incident.id),
            severity: sev,
            subject: format!("HIGH {}: portal down", operator.id),
            text: format!(
                "HIGH {}: MO Direct portal down {}m since {}. {}. Ack due {}. {}",
                operator.id,
                (incident.opened_at - incident.started_at).num_minutes(),
                incident.started_at.format("%H:%MZ"),
                whom_to_call(operator),
                incident.initial_response_due.format("%H:%MZ"),
                incident.id
            ),
            at: incident.opened_at,
        }));
    }
    let (to, cc) = recipients(incident.owed_by, Some(incident.severity), operator, team);
    out.push(Notification::email(
        Email {
            key: format!("{}#email-open", incident.id),
            topic: Topic::IncidentOpened,
            operator: &operator.id,
            incident: Some(&incident.id),
            severity: Some(sev),
            to,
            cc,
            subject: format!(
                "[{sev_up}] {}: {what} since {}",
                operator.name,
                when(incident.started_at, zone)
            ),
            text,
            at: incident.opened_at,
        },
        team,
    ));
    out
}

fn resolved(
    incident: &OpenRef,
    resolved_at: DateTime<Utc>,
    operator: &Operator,
    team: &Team,
) -> Vec<Notification> {
    let sev_up = incident.severity.to_string().to_uppercase();
    let minutes = (resolved_at - incident.started_at).num_minutes();
    let mut out = Vec::new();
    if incident.severity == Severity::High {
        out.push(Notification::page(Page {
            key: format!("{}#page-resolve", incident.id),
            topic: Topic::IncidentResolved,
            operator: &operator.id,
            incident: Some(&incident.id),
            severity: incident.severity,
            subject: format!("RESOLVED {}", operator.id),
            text: format!(
                "RESOLVED {}: MO Direct portal back at {} after {minutes}m. {}",
                operator.id,
                resolved_at.format("%H:%MZ"),
                incident.id
            ),
            at: resolved_at,
        }));
    }
    let (to, cc) = recipients(
        incident.kind.default_owner(),
        Some(incident.severity),
        operator,
        team,
    );
    let zone = reader_zone(incident.kind.default_owner(), operator, team);
    out.push(Notification::email(
        Email {
            key: format!("{}#email-resolve", incident.id),
            topic: Topic::IncidentResolved,
            operator: &operator.id,
            incident: Some(&incident.id),
            severity: Some(incident.severity),
            to,
            cc,
            subject: format!(
                "[RESOLVED] {}: {} incident {}",
                operator.name, sev_up, incident.id
            ),
            text: format!(
                "The {kind} incident {id} for {name} ({op}) is resolved.\n\nTrouble began: {start}\nIncident opened: {opened}\nResolved: {resolved} ({after} after it began)\n",
                after = span(resolved_at - incident.started_at),
                kind = incident.kind.as_str().replace('_', " "),
                id = incident.id,
                name = operator.name,
                op = operator.id,
                start = when(incident.started_at, zone),
                opened = when(incident.opened_at, zone),
                resolved = when(resolved_at, zone),
            ),
            at: resolved_at,
        },
        team,
    ));
    out
}

fn gap(from: DateTime<Utc>, to: DateTime<Utc>, operator: &Operator, team: &Team) -> Notification {
    let minutes = (to - from).num_minutes();
    Notification::email(
        Email {
            key: format!("{}-{}#email-gap", operator.id, key_time(from)),
            topic: Topic::MonitorGap,
            operator: &operator.id,
            incident: None,
            severity: Some(Severity::Low),
            to: team.mailbox(Purpose::Operations),
            cc: vec![],
            subject: format!("[MONITOR] No probes of {} for {minutes} minutes", operator.name),
            text: format!(
                "livesite received no probe result for {name} ({op}) from {from} to {to} ({minutes} minutes).\n\
                 That time is counted as unknown: neither up nor down, and outside the availability figures.\n\
                 Check the probe schedule and the probe function's logs.\n",
                name = operator.name,
                op = operator.id,
                from = when(from, team.calendar.timezone),
                to = when(to, team.calendar.timezone),
            ),
            at: to,
        },
        team,
    )
}

/// One line: control characters as spaces, runs of blanks as one.
fn one_line(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The longest incident id a page keeps whole when cut: an operator id of
/// up to 32 characters. A longer one would leave too little of the words
/// before it (whom to call), so such a page is cut at its end.
const MAX_KEPT_ID: usize = 64;

/// A page's text within one SMS, its incident id whole: the words before
/// it are cut instead (the id is what the reader acts on).
pub fn page_text_keeping(s: &str, id: Option<&str>) -> String {
    let line = one_line(s);
    let n = line.chars().count();
    match id {
        Some(id) if n > 160 && line.ends_with(id) && id.chars().count() <= MAX_KEPT_ID => {
            let room = 160 - id.chars().count() - 2;
            let head: String = line.chars().take(room).collect();
            format!("{}… {id}", head.trim_end())
        }
        _ => page_text(&line),
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
mod tests;
