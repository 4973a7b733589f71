//! The maintenance calendar and the bug queue, as the caller may see them.

use crate::pages::{layout, when, Shown};
use crate::Request;
use livesite_core::partner::{Announcer, Maintenance, MaintenanceStatus};
use livesite_core::ports::{OperatorRegistry, RecordStore, Store};
use livesite_core::service::partner::Partner;
use maud::{html, Markup};

fn window_row(m: &Maintenance) -> Markup {
    let by = match &m.announcer {
        Announcer::Operator(op) => op.to_string(),
        Announcer::DynamoTeam => "the DYNAMO team".into(),
    };
    let services: Vec<&str> = m.services.iter().map(|s| s.label()).collect();
    html! {
        tr {
            td { (when(m.start)) } td { (when(m.end)) } td { (by) }
            td { (if services.is_empty() { "not named".to_string() } else { services.join(", ") }) }
            td { (format!("{:?}", m.status).to_lowercase()) }
            td { @if m.needs_approval() { span.overdue { "needs the team's approval" } } @else if m.late { "late, approved" } @else { "on time" } }
            td { (m.description) }
        }
    }
}

/// Upcoming windows (not yet over, still announced) first, then the past.
pub async fn maintenance<S>(p: &Partner<'_, S>, req: &Request<'_>) -> Shown
where
    S: Store + RecordStore + OperatorRegistry,
{
    let mut all = p.maintenance(req.who).await?;
    all.sort_by_key(|m| m.start);
    let (upcoming, past): (Vec<&Maintenance>, Vec<&Maintenance>) = all
        .iter()
        .partition(|m| m.status == MaintenanceStatus::Announced && m.end > req.now);
    let table = |id: &str, rows: &[&Maintenance]| {
        html! {
            table id=(id) {
                tr { th { "Start" } th { "End" } th { "Announced by" } th { "Services" } th { "Status" } th { "Notice" } th { "What" } }
                @for m in rows { (window_row(m)) }
            }
        }
    };
    let body = html! {
        h2 { "Upcoming" } (table("upcoming", &upcoming))
        h2 { "Past" } (table("past", &past))
    };
    Ok(layout("Maintenance", req.who, body))
}

pub async fn bugs<S>(p: &Partner<'_, S>, req: &Request<'_>) -> Shown
where
    S: Store + RecordStore + OperatorRegistry,
{
    let all = p.bugs(req.who, None, None).await?;
    let body = html! {
        table id="bugs" {
            tr { th { "Bug" } th { "Operator" } th { "Title" } th { "Status" } th { "Reported" } th { "Tentative deployment" } }
            @for b in &all {
                tr {
                    td { (b.id) } td { (b.operator) } td { (b.title) }
                    td { (format!("{:?}", b.status).to_lowercase()) } td { (when(b.reported_at)) }
                    td { (b.tentative_deployment.map_or("-".to_string(), |d| d.to_string())) }
                }
            }
        }
    };
    Ok(layout("Bugs", req.who, body))
}
