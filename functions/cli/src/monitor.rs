//! `livesite run`: the whole monitor on one machine. Each round probes every
//! portal concurrently, stores every result, evaluates, and delivers the
//! outbox to the console. State lives in SQLite, so a restart continues every
//! outage clock where it stopped, and an undelivered notification is retried.

use crate::{config_file, Failure};
use anyhow::anyhow;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use livesite_core::evaluate::Event;
use livesite_core::ports::{OperatorRegistry, ProbeLog, Prober};
use livesite_core::service::{deliver_pending, evaluate_batch, Context};
use livesite_core::{Config, ProbeResult};
use livesite_local::{ConsoleNotifier, SqliteStore};
use livesite_prober::HttpProber;
use std::path::Path;

/// Probes in flight at once; bounded so a large fleet cannot exhaust sockets.
const CONCURRENCY: usize = 64;

pub struct LocalMonitor<P> {
    pub store: SqliteStore,
    /// One prober per location (`None`: the single default location).
    pub probers: Vec<(Option<String>, P)>,
    pub notifier: ConsoleNotifier,
    pub ctx: Context,
}

impl<P: Prober> LocalMonitor<P> {
    /// Registers the config's operators in the store's registry (keeping
    /// maintenance windows announced through `livesite api`), which every
    /// round then reads.
    pub async fn new(
        config: Config,
        store: SqliteStore,
        probers: Vec<(Option<String>, P)>,
        notifier: ConsoleNotifier,
    ) -> Result<Self, Failure> {
        register_operators(&store, &config.operators).await?;
        Ok(Self {
            store,
            probers,
            notifier,
            ctx: Context::new(config.policy, config.team, config.operators),
        })
    }

    /// One round at simulated or real time `at`. Returns what it probed and decided.
    pub async fn round(
        &mut self,
        at: DateTime<Utc>,
    ) -> Result<(Vec<ProbeResult>, Vec<Event>), Failure> {
        let registered = self
            .store
            .list_operators()
            .await
            .map_err(Failure::runtime)?;
        self.ctx.operators = registered.into_iter().map(|o| (o.id.clone(), o)).collect();
        let mut operators: Vec<_> = self.ctx.operators.values().collect();
        operators.sort_by(|a, b| a.id.cmp(&b.id));
        // Every location probes at the round's instant, as the regions'
        // schedules do: the store keeps one record per location.
        let probes: Vec<ProbeResult> = stream::iter(self.probers.iter())
            .flat_map(|(location, prober)| {
                stream::iter(operators.iter().map(move |op| async move {
                    ProbeResult {
                        location: location.clone(),
                        ..prober.probe(op, at).await
                    }
                }))
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for p in &probes {
            // Stored before evaluation: a probe is never lost to an evaluator failure.
            self.store.append(p).await.map_err(Failure::runtime)?;
            println!("{}", probe_line(p));
        }
        let outcome = evaluate_batch(&self.store, &self.ctx, &probes).await;
        for e in &outcome.events {
            println!("{}", event_line(e));
        }
        if let Some((op, e)) = outcome.failed.first() {
            return Err(Failure::runtime(anyhow!("evaluating {op}: {e}")));
        }
        let (swept, _) = livesite_report::sweep_with_reports(
            &self.store,
            &self.notifier,
            &self.ctx.team,
            &self.ctx.policy,
            at,
        )
        .await;
        for (duty, error) in &swept.failed {
            tracing::error!(duty = duty.as_str(), error, "sweep duty failed");
        }
        for n in &swept.enqueued {
            println!(">>> DUE {} ({})", n.key, n.topic);
        }
        for (key, error) in swept.delivery.failed {
            tracing::warn!(key, error, "delivery failed; will retry next round");
        }
        Ok((probes, outcome.events))
    }

    pub async fn deliver(&self, at: DateTime<Utc>) -> Result<(), Failure> {
        let report = deliver_pending(
            &self.store,
            &self.notifier,
            &self.ctx.team,
            at,
            chrono::Duration::minutes(5),
            500,
        )
        .await
        .map_err(Failure::runtime)?;
        for (key, error) in report.failed {
            tracing::warn!(key, error, "delivery failed; will retry next round");
        }
        Ok(())
    }
}

/// Registers the config's operators in the store's registry, keeping the
/// maintenance windows announced through `livesite api` since.
pub async fn register_operators(
    store: &SqliteStore,
    operators: &[livesite_core::Operator],
) -> Result<(), Failure> {
    for op in operators {
        let mut op = op.clone();
        if let Some(existing) = store.get_operator(&op.id).await.map_err(Failure::runtime)? {
            let extra: Vec<_> = existing
                .maintenance
                .into_iter()
                .filter(|w| !op.maintenance.contains(w))
                .collect();
            op.maintenance.extend(extra);
        }
        store.put_operator(&op).await.map_err(Failure::runtime)?;
    }
    Ok(())
}

pub fn probe_line(p: &ProbeResult) -> String {
    let verdict = if p.is_up() {
        "UP  ".to_string()
    } else {
        "DOWN".to_string()
    };
    let status = p.status.map_or("---".to_string(), |s| s.to_string());
    let latency = p
        .latency_ms
        .map_or("-".to_string(), |l| format!("{l:.1} ms"));
    let reason = p.reason.map(|r| format!("  ({r})")).unwrap_or_default();
    format!(
        "{}  {:<16} {verdict} {status}  {latency}{reason}",
        p.probed_at.format("%Y-%m-%d %H:%M:%S"),
        p.operator.as_str()
    )
}

pub fn event_line(e: &Event) -> String {
    match e {
        Event::IncidentOpened { incident, .. } => format!(
            ">>> INCIDENT OPENED {} [{}] {}\n    initial response due {}",
            incident.id,
            incident.severity.to_string().to_uppercase(),
            incident.summary,
            incident.initial_response_due.format("%Y-%m-%d %H:%M UTC")
        ),
        Event::IncidentResolved {
            incident,
            resolved_at,
            ..
        } => format!(
            ">>> INCIDENT RESOLVED {} at {}",
            incident.id,
            resolved_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Event::PageSuppressed {
            operator,
            down_since,
            ..
        } => format!(
            ">>> page for {operator} (down since {}) suppressed: announced maintenance window",
            down_since.format("%H:%M:%S")
        ),
        Event::BudgetBurn {
            operator,
            long_minutes,
            long_burn,
            ..
        } => format!(
            ">>> error budget of {operator} burning {long_burn:.1}x over {} h: Low warning",
            long_minutes / 60
        ),
        Event::MonitorGap { operator, from, to } => format!(
            ">>> no probes of {operator} from {} to {}: counted as unknown",
            from.format("%H:%M:%S"),
            to.format("%H:%M:%S")
        ),
        Event::DayClosed {
            operator, summary, ..
        } => format!(
            ">>> day {} of {operator} closed: {} rounds, {} s down",
            summary.date, summary.rounds, summary.down_s
        ),
    }
}

/// The probers of the configuration's locations, each with its own view of
/// the names (`[[location]] resolve`); one default prober when none is listed.
pub fn probers(config: &Config) -> Result<Vec<(Option<String>, HttpProber)>, Failure> {
    let base = HttpProber::new()
        .map_err(Failure::runtime)?
        .trusting(config.prober.trusted.iter().copied());
    if config.locations.is_empty() {
        return Ok(vec![(None, base)]);
    }
    Ok(config
        .locations
        .iter()
        .map(|l| {
            let prober = l.resolve.iter().fold(base.clone(), |p, (host, ips)| {
                p.resolving(host, ips.clone())
            });
            (Some(l.name.clone()), prober)
        })
        .collect())
}

pub async fn run(config_path: &Path, db: &Path, rounds: Option<u64>) -> Result<(), Failure> {
    let config = config_file::load(config_path)?;
    let interval = config.policy.probe_interval;
    let store =
        SqliteStore::open(db).map_err(|e| Failure::runtime(anyhow!("{}: {e}", db.display())))?;
    let probers = probers(&config)?;
    let mut monitor = LocalMonitor::new(config, store, probers, ConsoleNotifier::default()).await?;
    println!(
        "livesite: monitoring {} portal(s) every {}s; store {}",
        monitor.ctx.operators.len(),
        interval.as_secs(),
        db.display()
    );
    // Whatever a previous run recorded but could not send goes out first.
    monitor.deliver(Utc::now()).await?;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut done = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => {
                println!("livesite: interrupted; state is saved");
                return Ok(());
            }
        }
        monitor.round(Utc::now()).await?;
        done += 1;
        if rounds.is_some_and(|n| done >= n) {
            return Ok(());
        }
    }
}
