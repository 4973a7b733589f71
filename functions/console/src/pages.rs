//! The console's pages, each a function of what the use cases return.

use crate::Request;
use chrono::{DateTime, Utc};
use livesite_core::incident::{Incident, IncidentStatus, Party};
use livesite_core::partner::Actor;
use livesite_core::ports::{OperatorRegistry, RecordStore, Store};
use livesite_core::report::{Day, Standing};
use livesite_core::service::partner::{IncidentFilter, Partner, PartnerError};
use livesite_core::OperatorId;
use maud::{html, Markup, DOCTYPE};

pub(crate) type Shown = Result<String, PartnerError>;

const STYLE: &str = "body{font-family:sans-serif;max-width:960px;margin:1em auto;padding:0 1em;color:#222}\
nav a{margin-right:1em}table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}\
.bars{display:flex;align-items:flex-end;gap:1px;height:80px;list-style:none;padding:0;margin:0}\
.bars li{flex:1;min-width:3px;background:#1b7f3b}.bars li.missed{background:#b00020}.bars li.nodata{background:#bbb}\
.hidden{position:absolute;left:-10000px}.overdue,.error{color:#b00020;font-weight:bold}";

pub(crate) fn layout(title: &str, who: &Actor, body: Markup) -> String {
    let signed = match who {
        Actor::Team => "the DYNAMO team".to_string(),
        Actor::Operator(op) => op.to_string(),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · livesite" }
                style { (STYLE) }
            }
            body {
                nav { a href="/console/" { "Overview" } a href="/console/incidents" { "Incidents" } a href="/console/maintenance" { "Maintenance" } a href="/console/bugs" { "Bugs" } span { "Signed in as " (signed) } }
                h1 { (title) }
                (body)
            }
        }
    }
    .into_string()
}

pub(crate) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn party(p: Party) -> &'static str {
    match p {
        Party::Team => "the DYNAMO team",
        Party::Operator => "the operator",
    }
}

/// The next answer an open incident waits for, and when it is due.
fn next_due(i: &Incident) -> Option<DateTime<Utc>> {
    match (i.status, i.acknowledged_at) {
        (IncidentStatus::Resolved, _) => None,
        (_, None) => Some(i.initial_response_due),
        (_, Some(_)) => i.next_update_due,
    }
}

fn due_cell(i: &Incident, now: DateTime<Utc>) -> Markup {
    match next_due(i) {
        None => html! { "-" },
        Some(due) if now > due => html! { span.overdue { "OVERDUE since " (when(due)) } },
        Some(due) => html! { (when(due)) },
    }
}

pub async fn overview<S>(p: &Partner<'_, S>, req: &Request<'_>) -> Shown
where
    S: Store + RecordStore + OperatorRegistry,
{
    let month: livesite_core::report::Month = req
        .now
        .format("%Y-%m")
        .to_string()
        .parse()
        .map_err(|_| PartnerError::NotFound)?;
    let reports = p.reports(req.who, None, month, req.now).await?;
    let open = p
        .incidents(
            req.who,
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                ..Default::default()
            },
        )
        .await?;
    let operators = p.operators_seen(req.who).await?;
    let body = html! {
        table id="operators" {
            tr { th { "Operator" } th { "This month so far" } th { "Open incidents" } th { "Next answer due" } }
            @for op in &operators {
                @let report = reports.iter().find(|r| r.operator == op.id);
                @let mine: Vec<&Incident> = open.iter().filter(|i| i.operator == op.id).collect();
                tr {
                    td { a href={ "/console/operators/" (op.id) } { (op.name) } }
                    td { (report.map_or("no data".to_string(), |r| standing(r.availability_percent, r.standing))) }
                    td { (mine.len()) }
                    td { @match mine.iter().filter_map(|i| next_due(i).map(|d| (d, *i))).min_by_key(|(d, _)| *d) {
                        Some((_, i)) => { (party(i.owed_by)) ": " (due_cell(i, req.now)) }
                        None => { "-" }
                    } }
                }
            }
        }
    };
    Ok(layout("Overview", req.who, body))
}

fn standing(availability: Option<f64>, standing: Standing) -> String {
    match availability {
        Some(a) => format!("{a:.3}% ({})", standing.label()),
        None => standing.label().to_string(),
    }
}

fn bar(d: &Day, target: f64) -> Markup {
    let (class, height, said) = match d.availability_percent {
        None => ("nodata", 4.0, format!("{}: no data", d.date)),
        Some(a) => (
            if a >= target { "met" } else { "missed" },
            // 99% and below at the foot, 100% at the top.
            8.0 + 92.0 * ((a - 99.0) / 1.0).clamp(0.0, 1.0),
            format!("{}: {a:.3}%, {:.1} min down", d.date, d.down_minutes),
        ),
    };
    html! { li class=(class) style={ "height:" (format!("{height:.0}")) "%" } title=(said) { span.hidden { (said) } } }
}

/// The days' p50 (green) and p95 (blue) as lines against the SLA (dashed
/// red), as inline SVG a browser draws; the same said in a sentence.
fn latency_chart(days: &[Day], sla_ms: u64) -> Markup {
    let (w, h) = (900.0, 160.0);
    let sla = sla_ms as f64;
    let top = days
        .iter()
        .filter_map(|d| d.latency.p95_ms)
        .fold(sla * 1.25, f64::max);
    let x = |i: usize| 4.0 + (w - 8.0) * i as f64 / days.len().max(2).saturating_sub(1) as f64;
    let y = |v: f64| h - 4.0 - (h - 8.0) * (v / top).clamp(0.0, 1.0);
    let line = |pick: fn(&Day) -> Option<f64>| -> String {
        days.iter()
            .enumerate()
            .filter_map(|(i, d)| pick(d).map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let over = days
        .iter()
        .filter(|d| d.latency.p95_ms.is_some_and(|v| v > sla))
        .count();
    let measured = days.iter().filter(|d| d.latency.p95_ms.is_some()).count();
    html! {
        svg id="latency" width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } role="img" aria-label="Daily p50 and p95 latency against the SLA" {
            line x1="0" x2=(w) y1=(format!("{:.1}", y(sla))) y2=(format!("{:.1}", y(sla))) stroke="#b00020" stroke-dasharray="6 4" {}
            polyline points=(line(|d| d.latency.p50_ms)) fill="none" stroke="#1b7f3b" stroke-width="2" {}
            polyline points=(line(|d| d.latency.p95_ms)) fill="none" stroke="#195ac8" stroke-width="2" {}
        }
        p id="latency-said" { "p95 over the " (sla_ms) " ms SLA on " (over) " of the " (measured) " days with timings (p50 green, p95 blue, the SLA dashed red, the top " (format!("{top:.0}")) " ms)." }
    }
}

pub async fn operator<S>(p: &Partner<'_, S>, req: &Request<'_>, id: &OperatorId) -> Shown
where
    S: Store + RecordStore + OperatorRegistry,
{
    let view = p.operator_view(req.who, id, req.now).await?;
    let target = view.month.target_percent;
    let body = html! {
        p id="month" { "This month (" (view.month.month) ") so far: " (standing(view.month.availability_percent, view.month.standing)) ", against " (format!("{target:.2}")) "%." }
        h2 { "The last " (view.days.len()) " days" }
        p { "Each bar a day: green at or over " (format!("{target:.2}")) "%, red under it, grey when nothing was observed." }
        ol.bars id="days" { @for d in &view.days { (bar(d, target)) } }
        h2 { "Latency, day by day" }
        (latency_chart(&view.days, view.month.latency_sla_ms))
        h2 { "Open incidents" }
        (incident_table(&view.open, req.now))
    };
    Ok(layout(
        &format!("{} ({})", view.operator.name, view.operator.id),
        req.who,
        body,
    ))
}

fn incident_table(incidents: &[Incident], now: DateTime<Utc>) -> Markup {
    html! {
        table id="incidents" {
            tr { th { "Incident" } th { "Severity" } th { "Status" } th { "Owed by" } th { "Next answer due" } }
            @for i in incidents {
                tr {
                    td { a href={ "/console/incidents/" (i.id) } { (i.id) } }
                    td { (i.severity) } td { (format!("{:?}", i.status).to_lowercase()) }
                    td { (party(i.owed_by)) } td { (due_cell(i, now)) }
                }
            }
        }
    }
}

pub async fn incidents<S>(p: &Partner<'_, S>, req: &Request<'_>) -> Shown
where
    S: Store + RecordStore + OperatorRegistry,
{
    let wanted = |name: &str| {
        req.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let show = wanted("show").unwrap_or_else(|| "open".into());
    let severity = wanted("severity").unwrap_or_else(|| "any".into());
    let mine = match req.who {
        Actor::Team => Party::Team,
        Actor::Operator(_) => Party::Operator,
    };
    let filter = IncidentFilter {
        status: (show != "all").then_some(IncidentStatus::Open),
        owed_by: (show == "owed").then_some(mine),
        operator: None,
    };
    let all: Vec<Incident> = p
        .incidents(req.who, filter)
        .await?
        .into_iter()
        .filter(|i| severity == "any" || i.severity.to_string() == severity)
        .collect();
    let body = html! {
        form method="get" action="/console/incidents" id="filters" {
            label for="show" { "Show " }
            select id="show" name="show" {
                (choice("open", &show, "open"))
                (choice("owed", &show, "owed by me"))
                (choice("all", &show, "all"))
            }
            label for="severity" { " severity " }
            select id="severity" name="severity" {
                (choice("any", &severity, "any"))
                (choice("high", &severity, "High"))
                (choice("low", &severity, "Low"))
            }
            " " button type="submit" { "Filter" }
        }
        (incident_table(&all, req.now))
    };
    Ok(layout("Incidents", req.who, body))
}

fn choice(value: &str, current: &str, label: &str) -> Markup {
    html! { option value=(value) selected[value == current] { (label) } }
}

/// What the caller typed into an incident's forms, and why it was
/// refused: shown again beside the field.
#[derive(Debug, Default)]
pub struct Typed {
    pub message: String,
    pub error: Option<String>,
}

/// The answers the caller may send, each a form that acts once.
fn answer_forms(i: &Incident, typed: &Typed) -> Markup {
    let action = |what: &str| format!("/console/incidents/{}/{what}", i.id);
    html! {
        @if i.status == IncidentStatus::Open {
            h2 { "Answer" }
            @if i.acknowledged_at.is_none() {
                form method="post" action=(action("acknowledgement")) id="acknowledge" {
                    input type="hidden" name="submission" value=(crate::forms::submission_id());
                    button type="submit" { "Acknowledge" }
                }
            }
            form method="post" action=(action("updates")) id="update" {
                input type="hidden" name="submission" value=(crate::forms::submission_id());
                label for="message" { "Update" }
                br;
                textarea id="message" name="message" rows="4" cols="80" { (typed.message) }
                @if let Some(e) = &typed.error { p.error id="message-error" role="alert" { (e) } }
                br;
                button type="submit" { "Post the update" }
            }
            @if !i.kind.is_monitored() {
                form method="post" action=(action("resolution")) id="resolve" {
                    input type="hidden" name="submission" value=(crate::forms::submission_id());
                    button type="submit" { "Resolve" }
                }
            }
        }
    }
}

pub async fn incident<S>(p: &Partner<'_, S>, req: &Request<'_>, id: &str, typed: &Typed) -> Shown
where
    S: Store + RecordStore + OperatorRegistry,
{
    let i = p.incident(req.who, id).await?;
    let updates = p.updates(req.who, id).await?;
    let mut timeline: Vec<(DateTime<Utc>, String)> =
        vec![(i.opened_at, format!("Opened: {}", i.summary))];
    if let Some(at) = i.acknowledged_at {
        timeline.push((at, "Acknowledged".into()));
    }
    for u in &updates {
        timeline.push((u.at, format!("Update from {}: {}", party(u.by), u.message)));
    }
    if let Some(at) = i.resolved_at {
        timeline.push((at, "Resolved".into()));
    }
    timeline.sort_by_key(|(at, _)| *at);
    let body = html! {
        p { (i.severity) " · " (format!("{:?}", i.status).to_lowercase()) " · trouble began " (when(i.started_at)) }
        p id="clock" { "Next answer owed by " (party(i.owed_by)) ": " (due_cell(&i, req.now)) }
        h2 { "Timeline" }
        ol id="timeline" { @for (at, what) in &timeline { li { time datetime=(at.to_rfc3339()) { (when(*at)) } " " (what) } } }
        (answer_forms(&i, typed))
    };
    Ok(layout(&i.id, req.who, body))
}

pub fn not_found() -> String {
    html! { (DOCTYPE) html lang="en" { head { meta charset="utf-8"; title { "Not found · livesite" } } body { h1 { "Not found" } p { a href="/console/" { "Back to the overview" } } } } }
        .into_string()
}

pub fn failed(e: &PartnerError) -> String {
    html! { (DOCTYPE) html lang="en" { head { meta charset="utf-8"; title { "Unavailable · livesite" } } body { h1 { "The page could not be read" } p { (e.to_string()) } } } }
        .into_string()
}
