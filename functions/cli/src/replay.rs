//! `livesite replay`: recorded probe results through the evaluator, in file
//! order, on the clock the records carry. Prints one JSON line per decision.

use crate::{config_file, Failure};
use anyhow::anyhow;
use livesite_core::evaluate::{evaluate, Evaluation, Event, MonitorState};
use livesite_core::notify::render;
use livesite_core::{Config, EmailAddress, Operator, OperatorId, PortalCheck, ProbeResult, Team};
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// Reads and checks every line first, so a bad line is reported before any
/// decision is printed.
pub fn read_probes(path: &Path) -> Result<Vec<ProbeResult>, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::input(anyhow!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| Failure::input(anyhow!("{}:{n}: {e}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        // serde_path_to_error names the field that failed, which serde_json
        // alone does not for values inside a field (a bad timestamp, say).
        let p: ProbeResult =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&line))
                .map_err(|e| {
                    let field = e.path().to_string();
                    let inner = e.into_inner();
                    if field == "." {
                        Failure::input(anyhow!("{}:{n}: {inner}", path.display()))
                    } else {
                        Failure::input(anyhow!("{}:{n}: field `{field}`: {inner}", path.display()))
                    }
                })?;
        p.validate()
            .map_err(|e| Failure::input(anyhow!("{}:{n}: {e}", path.display())))?;
        out.push(p);
    }
    Ok(out)
}

fn default_operator(id: &OperatorId) -> Operator {
    Operator {
        id: id.clone(),
        name: id.to_string(),
        portal: PortalCheck::new(url::Url::parse("https://portal.invalid/").expect("static URL")),
        contacts: vec![],
        timezone: livesite_core::Tz::UTC,
        holidays: Default::default(),
        workdays: livesite_core::BusinessCalendar::default().workdays,
        maintenance: vec![],
        api_clients: vec![],
        escalation_phones: vec![],
        agents: vec![],
    }
}

fn default_config() -> Config {
    Config {
        policy: Default::default(),
        prober: Default::default(),
        team: Team {
            sender: EmailAddress::parse("livesite@localhost.localdomain").expect("static address"),
            emails: vec![
                EmailAddress::parse("dynamo-team@localhost.localdomain").expect("static address")
            ],
            channels: Default::default(),
            phone: None,
            calendar: Default::default(),
            api_url: None,
        },
        operators: vec![],
        locations: vec![],
    }
}

pub fn decisions(config: &Config, probes: &[ProbeResult]) -> Vec<serde_json::Value> {
    let mut operators: HashMap<OperatorId, Operator> = config
        .operators
        .iter()
        .map(|o| (o.id.clone(), o.clone()))
        .collect();
    let mut states: HashMap<OperatorId, MonitorState> = HashMap::new();
    let mut out = Vec::new();
    for p in probes {
        let op = operators
            .entry(p.operator.clone())
            .or_insert_with(|| default_operator(&p.operator))
            .clone();
        let state = states
            .entry(p.operator.clone())
            .or_insert_with(|| MonitorState::new(p.operator.clone()));
        match evaluate(state, p, &op, &config.policy, &config.team.calendar) {
            Evaluation::Stale => out.push(json!({
                "kind": "stale", "operator": p.operator, "severity": null, "at": p.probed_at,
                "note": "not newer than the last probe seen: ignored",
            })),
            Evaluation::Applied {
                state: next,
                events,
            } => {
                *state = next;
                for e in &events {
                    out.push(event_json(e));
                    for n in render(e, &op, &config.team, &config.policy) {
                        out.push(json!({
                            "kind": n.channel.as_str(),
                            "operator": n.operator,
                            "severity": n.severity,
                            "at": n.created_at,
                            "incident_id": n.incident_id,
                            "topic": n.topic,
                            "key": n.key,
                            "to": n.to,
                            "cc": n.cc,
                            "subject": n.subject,
                            "text": n.text,
                        }));
                    }
                }
            }
        }
    }
    out
}

fn event_json(e: &Event) -> serde_json::Value {
    match e {
        Event::IncidentOpened { incident, reason } => json!({
            "kind": "incident_opened", "operator": incident.operator, "severity": incident.severity,
            "at": incident.opened_at, "incident_id": incident.id, "incident_kind": incident.kind,
            "started_at": incident.started_at, "initial_response_due": incident.initial_response_due,
            "reason": reason, "summary": incident.summary,
        }),
        Event::IncidentResolved {
            incident,
            operator,
            resolved_at,
        } => json!({
            "kind": "incident_resolved", "operator": operator, "severity": incident.severity,
            "at": resolved_at, "incident_id": incident.id, "incident_kind": incident.kind,
            "started_at": incident.started_at,
        }),
        Event::PageSuppressed {
            operator,
            down_since,
            at,
        } => json!({
            "kind": "page_suppressed", "operator": operator, "severity": "high", "at": at,
            "down_since": down_since, "note": "inside an announced maintenance window",
        }),
        Event::BudgetBurn {
            operator,
            at,
            long_minutes,
            short_minutes,
            factor,
            long_burn,
            short_burn,
        } => json!({
            "kind": "budget_burn", "operator": operator, "severity": "low", "at": at,
            "long_minutes": long_minutes, "short_minutes": short_minutes, "factor": factor,
            "long_burn": long_burn, "short_burn": short_burn,
        }),
        Event::MonitorGap { operator, from, to } => json!({
            "kind": "monitor_gap", "operator": operator, "severity": null, "at": to, "from": from, "to": to,
        }),
        Event::DayClosed {
            operator,
            summary,
            at,
        } => json!({
            "kind": "day_closed", "operator": operator, "severity": null, "at": at,
            "date": summary.date, "rounds": summary.rounds, "down_s": summary.down_s,
        }),
    }
}

pub async fn run(
    probes_path: &Path,
    config_path: Option<&Path>,
    db: Option<&Path>,
) -> Result<(), Failure> {
    let config = match config_path {
        Some(p) => config_file::load(p)?,
        None => default_config(),
    };
    let probes = read_probes(probes_path)?;
    let out = decisions(&config, &probes);
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for line in &out {
        writeln!(w, "{line}").map_err(Failure::runtime)?;
    }
    eprintln!(
        "replayed {} probe(s): {} decision(s)",
        probes.len(),
        out.len()
    );
    if let Some(db) = db {
        store(&config, &probes, db).await?;
    }
    Ok(())
}

/// Stores the replayed history as the monitor would have: each result in
/// the probe log, then evaluated in stream-sized batches through the
/// service (incidents, notifications recorded but not sent, the decided
/// days). A result the store already holds is kept once, and a decision
/// already taken is not taken again: replaying the same file twice changes
/// nothing.
async fn store(config: &Config, probes: &[ProbeResult], db: &Path) -> Result<(), Failure> {
    use livesite_core::ports::{OperatorRegistry, ProbeLog};
    let store = livesite_local::SqliteStore::open(db)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", db.display())))?;
    let mut operators: HashMap<OperatorId, Operator> = HashMap::new();
    for p in probes {
        if operators.contains_key(&p.operator) {
            continue;
        }
        let op = config
            .operator(&p.operator)
            .cloned()
            .unwrap_or_else(|| default_operator(&p.operator));
        if store
            .get_operator(&op.id)
            .await
            .map_err(Failure::runtime)?
            .is_none()
        {
            store.put_operator(&op).await.map_err(Failure::runtime)?;
        }
        operators.insert(op.id.clone(), op);
    }
    let ctx = livesite_core::service::Context::new(
        config.policy.clone(),
        config.team.clone(),
        operators.into_values(),
    );
    let mut days = 0;
    for batch in probes.chunks(100) {
        for p in batch {
            store.append(p).await.map_err(Failure::runtime)?;
        }
        let out = livesite_core::service::evaluate_batch(&store, &ctx, batch).await;
        if let Some((op, e)) = out.failed.first() {
            return Err(Failure::runtime(anyhow!("storing {op}'s decisions: {e}")));
        }
        days += out
            .events
            .iter()
            .filter(|e| matches!(e, Event::DayClosed { .. }))
            .count();
    }
    eprintln!(
        "stored in {}: {} probe result(s), {days} day(s) closed (the last day stays open in the state)",
        db.display(),
        probes.len()
    );
    Ok(())
}
