//! The sweep: what no probe arrival triggers. Overdue communication clocks,
//! the escalation of an unacknowledged High incident, maintenance windows
//! that overran without a completion notice, a monitor gone blind, and a
//! portal certificate about to expire. Pure: given what is stored and the
//! time, it says which notifications are due. Each has a key naming the
//! deadline it is about, so the outbox's conditional write sends it once.

use crate::evaluate::MonitorState;
use crate::ids::key_time;
use crate::incident::{Incident, Party, Severity};
use crate::notify::{
    how_to_answer, span, update_cadence, when, whom_to_call, Email, Notification, Page, Topic,
};
use crate::partner::{Announcer, Maintenance, MaintenanceStatus};
use crate::{EmailAddress, Operator, OperatorId, Purpose, Team};
use chrono::{DateTime, Duration, Utc};

/// Who a reminder goes to: the side that owes the answer, the team's
/// channel for the incident's severity in copy when the operator owes it
/// (the team's own nudges copy nobody).
fn owing_side(i: &Incident, op: &Operator, team: &Team) -> (Vec<EmailAddress>, Vec<EmailAddress>) {
    crate::notify::recipients(i.owed_by, Some(i.severity), op, team)
}

/// Reminders and escalations for open incidents, to the side that owes the
/// answer.
///
/// * Initial response overdue: one reminder; for High, also a second page to
///   the operations centre (the escalation): call the operator, or answer it.
/// * Update overdue: one reminder per missed deadline.
pub fn incident_reminders(
    incidents: &[Incident],
    operators: &[Operator],
    team: &Team,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let mut out = Vec::new();
    for i in incidents.iter().filter(|i| i.is_open()) {
        let Some(op) = operators.iter().find(|o| o.id == i.operator) else {
            continue;
        };
        if i.acknowledged_at.is_none() && now > i.initial_response_due {
            out.extend(initial_overdue(i, op, team, now));
        }
        out.extend(update_overdue(i, op, team, now));
    }
    out
}

/// The reminder of a missed initial response, and for High the escalation.
fn initial_overdue(
    i: &Incident,
    op: &Operator,
    team: &Team,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let sev = i.severity.to_string().to_uppercase();
    let late = now - i.initial_response_due;
    let (to, cc) = owing_side(i, op, team);
    let zone = crate::notify::reader_zone(i.owed_by, op, team);
    let whose = match i.owed_by {
        Party::Operator => op.name.clone(),
        Party::Team => "the DYNAMO team".to_string(),
    };
    let mut out = vec![Notification::email(
        Email {
            key: format!("{}#reminder-initial", i.id),
            topic: Topic::InitialResponseOverdue,
            operator: &op.id,
            incident: Some(&i.id),
            severity: Some(i.severity),
            to,
            cc,
            subject: format!("[{sev}] Response overdue from {whose}: {} incident {}", op.name, i.id),
            text: format!(
                "The initial response to incident {id}, owed by {whose}, was due at {due} and has not arrived ({late} late).\n\n{summary}\n\n{how}\n",
                id = i.id,
                late = span(late),
                due = when(i.initial_response_due, zone),
                summary = i.summary,
                how = how_to_answer(&i.id, team),
            ),
            at: now,
        },
        team,
    )];
    if i.severity == Severity::High {
        let act = match i.owed_by {
            Party::Operator => format!("{}.", whom_to_call(op)),
            Party::Team => format!("The operator's report is unanswered: answer {}.", op.id),
        };
        out.push(Notification::page(Page {
            key: format!("{}#page-escalate", i.id),
            topic: Topic::Escalation,
            operator: &op.id,
            incident: Some(&i.id),
            severity: Severity::High,
            subject: format!("ESCALATION {}: no response", op.id),
            text: format!(
                "ESCALATION {}: HIGH incident unacknowledged {} past its response deadline. {act} {}",
                op.id,
                span(late),
                i.id
            ),
            at: now,
        }));
    }
    out
}

/// One reminder per missed update deadline.
fn update_overdue(
    i: &Incident,
    op: &Operator,
    team: &Team,
    now: DateTime<Utc>,
) -> Option<Notification> {
    let due = i.next_update_due.filter(|due| now > *due)?;
    let sev = i.severity.to_string().to_uppercase();
    let (to, cc) = owing_side(i, op, team);
    Some(Notification::email(
        Email {
            key: format!("{}#reminder-update-{}", i.id, key_time(due)),
            topic: Topic::UpdateOverdue,
            operator: &op.id,
            incident: Some(&i.id),
            severity: Some(i.severity),
            to,
            cc,
            subject: format!("[{sev}] Update overdue: {} incident {}", op.name, i.id),
            text: format!(
                "An update on incident {id} was due at {due}. {kind} incidents are updated every {every} until resolution.\n\nPost one: POST {post} with the JSON body {{\"message\": \"...\"}}\n",
                post = team.api(&format!("/incidents/{}/updates", i.id)),
                id = i.id,
                due = when(due, crate::notify::reader_zone(i.owed_by, op, team)),
                kind = match i.severity {
                    Severity::High => "High",
                    Severity::Low => "Low",
                },
                every = update_cadence(i.severity),
            ),
            at: now,
        },
        team,
    ))
}

/// Announced windows past their end with no completion notice.
pub fn maintenance_overruns(
    windows: &[Maintenance],
    operators: &[Operator],
    team: &Team,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let mut out = Vec::new();
    for m in windows
        .iter()
        .filter(|m| m.status == MaintenanceStatus::Announced && now > m.end)
    {
        let (op_id, to, cc, zone) = match &m.announcer {
            Announcer::Operator(op) => {
                let o = operators.iter().find(|o| &o.id == op);
                let contacts = o.map(|o| o.contacts.clone()).unwrap_or_default();
                let zone = o.map_or(team.calendar.timezone, |o| o.timezone);
                (op.clone(), contacts, team.mailbox(m.purpose()), zone)
            }
            Announcer::DynamoTeam => match OperatorId::new("dynamo") {
                Ok(id) => (
                    id,
                    team.mailbox(m.purpose()),
                    vec![],
                    team.calendar.timezone,
                ),
                Err(_) => continue,
            },
        };
        out.push(Notification::email(
            Email {
                key: format!("{}#overrun", m.id),
                topic: Topic::MaintenanceOverrun,
                operator: &op_id,
                incident: None,
                severity: Some(Severity::Low),
                to,
                cc,
                subject: format!("[MAINTENANCE] No completion notice for {}", m.id),
                text: format!(
                "The maintenance window {id} was announced to end at {end}; no completion notice has been sent ({mins} later).\n\
                 If the work is done, send it: POST {done}. Pages are no longer held back for this window.\n",
                done = team.api(&format!("/maintenance/{}/completion", m.id)),
                id = m.id,
                end = when(m.end, zone),
                mins = span(now - m.end)
            ),
                at: now,
            },
            team,
        ));
    }
    out
}

/// The watcher of the watcher: operators with no probe result for longer than
/// the limit, told to the DYNAMO team only, once per silence (keyed by the
/// last result seen). When every operator is silent, one alert for the fleet.
pub fn blindness(
    operators: &[Operator],
    states: &[MonitorState],
    team: &Team,
    policy: &crate::config::Policy,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let limit = Duration::from_std(policy.blind_after).unwrap_or(Duration::minutes(5));
    let last_of = |op: &Operator| {
        states
            .iter()
            .find(|s| s.operator == op.id)
            .and_then(|s| s.last_probe_at)
    };
    let silent: Vec<(&Operator, Option<DateTime<Utc>>)> = operators
        .iter()
        .map(|o| (o, last_of(o)))
        .filter(|(_, last)| last.is_some_and(|l| now - l > limit))
        .collect();
    let fleet = OperatorId::new("fleet").ok();
    if !operators.is_empty() && silent.len() == operators.len() {
        let Some(fleet) = fleet else { return vec![] };
        let latest = silent.iter().filter_map(|(_, l)| *l).max().unwrap_or(now);
        return vec![Notification::email(
            Email {
                key: format!("fleet#blind-{}", key_time(latest)),
                topic: Topic::MonitorBlind,
                operator: &fleet,
                incident: None,
                severity: Some(Severity::High),
                to: team.mailbox(Purpose::Operations),
                cc: vec![],
                subject: format!("[MONITOR BLIND] No probe results from any portal since {}", when(latest, team.calendar.timezone)),
                text: format!(
                "livesite has received no probe result for any of its {n} operators since {since} ({mins}).\n\
                 The time is counted as unknown, never as up or down. Check the probe schedule, the probe function and the probes table.\n",
                n = operators.len(),
                since = when(latest, team.calendar.timezone),
                mins = span(now - latest)
            ),
                at: now,
            },
            team,
        )];
    }
    silent
        .into_iter()
        .filter_map(|(op, last)| last.map(|l| (op, l)))
        .map(|(op, last)| {
            Notification::email(
                Email {
                    key: format!("{}#blind-{}", op.id, key_time(last)),
                    topic: Topic::MonitorBlind,
                    operator: &op.id,
                    incident: None,
                    severity: Some(Severity::Low),
                    to: team.mailbox(Purpose::Operations),
                    cc: vec![],
                    subject: format!("[MONITOR BLIND] No probe results for {} since {}", op.name, when(last, team.calendar.timezone)),
                    text: format!(
                    "No probe result for {name} ({id}) since {since} ({mins}). That time is unknown: neither up nor down.\n",
                    name = op.name,
                    id = op.id,
                    since = when(last, team.calendar.timezone),
                    mins = span(now - last)
                ),
                    at: now,
                },
                team,
            )
        })
        .collect()
}

/// A location (a region's probe function, an agent) that has stopped voting
/// for every portal for longer than the blindness limit: told to the team
/// once per silence (keyed by its last vote). A location listed in
/// `expected` that has never voted for any portal, while another location
/// voted within the limit (the monitor runs, this one does not: a region
/// stack not deployed, an agent never started, a misspelt name), is told
/// once a day until it votes. The rounds go on without it; with fewer than
/// `min_locations` voting they are unknown.
pub fn silent_locations(
    states: &[MonitorState],
    expected: &[String],
    team: &Team,
    policy: &crate::config::Policy,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let limit = Duration::from_std(policy.blind_after).unwrap_or(Duration::minutes(5));
    let mut last: Vec<(&str, DateTime<Utc>)> = Vec::new();
    for seen in states.iter().flat_map(|s| &s.location_seen) {
        match last.iter_mut().find(|(l, _)| *l == seen.location) {
            Some((_, at)) => *at = (*at).max(seen.since),
            None => last.push((&seen.location, seen.since)),
        }
    }
    let Ok(fleet) = OperatorId::new("fleet") else {
        return vec![];
    };
    let email = |key: String, subject: String, text: String| {
        Notification::email(
            Email {
                key,
                topic: Topic::MonitorBlind,
                operator: &fleet,
                incident: None,
                severity: Some(Severity::Low),
                to: team.mailbox(Purpose::Operations),
                cc: vec![],
                subject,
                text,
                at: now,
            },
            team,
        )
    };
    const AFTER: &str = "Rounds are decided by the other locations; with fewer than the policy's min_locations voting they are unknown.\n";
    let others_voting = last.iter().any(|(_, at)| now - *at <= limit);
    let never = expected
        .iter()
        .filter(|l| others_voting && !last.iter().any(|(seen, _)| seen == l))
        .map(|location| {
            email(
                format!("location-{location}#never-{}", now.format("%Y%m%d")),
                format!("[LOCATION SILENT] {location} is expected and has never voted"),
                format!(
                    "The location {location} is listed in the expected locations and has voted for no portal, while the others vote: \
                     its probe stack is not deployed, its agent not started, or its name differs from the one it stamps.\n{AFTER}"
                ),
            )
        });
    let stopped = last
        .iter()
        .filter(|(_, at)| now - *at > limit)
        .map(|(location, at)| {
            email(
                format!("location-{location}#silent-{}", key_time(*at)),
                format!("[LOCATION SILENT] No vote from {location} since {}", when(*at, team.calendar.timezone)),
                format!(
                    "The location {location} has voted for no portal since {since} ({mins}): its probe function or agent has stopped, or cannot write.\n{AFTER}",
                    since = when(*at, team.calendar.timezone),
                    mins = span(now - *at)
                ),
            )
        });
    stopped.chain(never).collect()
}

/// A portal certificate expiring within the warning period: one Low email
/// per certificate (keyed by its expiry).
pub fn certificate_warnings(
    operators: &[Operator],
    states: &[MonitorState],
    team: &Team,
    policy: &crate::config::Policy,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let mut out = Vec::new();
    for s in states {
        let Some(expires) = s.cert_expires_at else {
            continue;
        };
        if expires - now > Duration::days(policy.certificate_warning_days) {
            continue;
        }
        let Some(op) = operators.iter().find(|o| o.id == s.operator) else {
            continue;
        };
        out.push(Notification::email(
            Email {
                key: format!("{}#cert-{}", op.id, key_time(expires)),
                topic: Topic::CertificateExpiry,
                operator: &op.id,
                incident: None,
                severity: Some(Severity::Low),
                to: op.contacts.clone(),
                cc: team.mailbox(Purpose::Operations),
                subject: format!("[LOW] {} portal certificate expires {}", op.name, expires.format("%Y-%m-%d")),
                text: format!(
                "The TLS certificate of {url} expires at {at} (in {days}). When it expires, every probe fails and the 30-minute rule pages.\n",
                url = op.portal.url,
                at = when(expires, op.timezone),
                days = span(expires - now)
            ),
                at: now,
            },
            team,
        ));
    }
    out
}

#[cfg(test)]
mod tests;
