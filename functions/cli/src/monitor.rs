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
use std::path::PathBuf;

/// Probes in flight at once; bounded so a large fleet cannot exhaust sockets.
const CONCURRENCY: usize = 64;

#[derive(clap::Args)]
pub struct Args {
    /// The monitor configuration (TOML; see docs/config.md).
    #[arg(long)]
    config: PathBuf,
    /// The SQLite database holding probes, state, incidents and the outbox.
    #[arg(long, default_value = "livesite.db")]
    db: PathBuf,
    /// Stop after this many probe rounds (default: run until interrupted).
    #[arg(long)]
    rounds: Option<u64>,
    /// Also trust the certificates in this PEM file (a private CA, or a
    /// portal's own self-signed certificate), as `livesite check` does.
    #[arg(long = "ca-cert")]
    ca_cert: Option<PathBuf>,
    /// A network (CIDR) probes may reach besides public portals, added to
    /// the config's `[prober] trusted`; repeatable.
    #[arg(long = "trust-net")]
    trust_net: Vec<livesite_core::net::Cidr>,
    #[command(flatten)]
    pub registry: Registry,
}

/// How the store's operator registry starts: the API changes it (windows,
/// portals, retirements), so the config only seeds it.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct Registry {
    /// Replace the store's operator registry with the config's operators,
    /// undoing changes made through `livesite api` (by default the config
    /// seeds the registry only when it is empty).
    #[arg(long = "reset-registry")]
    pub reset_registry: bool,
}

pub struct LocalMonitor<P> {
    pub store: SqliteStore,
    /// One prober per location (`None`: the single default location).
    pub probers: Vec<(Option<String>, P)>,
    pub notifier: ConsoleNotifier,
    pub ctx: Context,
}

impl<P: Prober> LocalMonitor<P> {
    /// Seeds the store's registry from the config (see `seed_registry`),
    /// which every round then reads.
    pub async fn new(
        config: Config,
        store: SqliteStore,
        probers: Vec<(Option<String>, P)>,
        notifier: ConsoleNotifier,
        registry: Registry,
    ) -> Result<Self, Failure> {
        seed_registry(&store, &config.operators, registry).await?;
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

/// Registers the config's operators when the store's registry is empty, or
/// replaces the registry with them on `--reset-registry`. Otherwise the
/// registry is left as the API last changed it: a restart never undoes a
/// portal changed, a window announced or an operator retired through it.
pub async fn seed_registry(
    store: &SqliteStore,
    operators: &[livesite_core::Operator],
    registry: Registry,
) -> Result<(), Failure> {
    let registered = store.list_operators().await.map_err(Failure::runtime)?;
    if !registered.is_empty() && !registry.reset_registry {
        let unknown: Vec<&str> = operators
            .iter()
            .filter(|o| !registered.iter().any(|r| r.id == o.id))
            .map(|o| o.id.as_str())
            .collect();
        if !unknown.is_empty() {
            eprintln!(
                "livesite: the store's registry is kept; not registered from the config: {} (--reset-registry to replace it)",
                unknown.join(", ")
            );
        }
        return Ok(());
    }
    if registry.reset_registry {
        for old in registered
            .iter()
            .filter(|r| !operators.iter().any(|o| o.id == r.id))
        {
            store
                .retire_operator(&old.id)
                .await
                .map_err(Failure::runtime)?;
        }
    }
    for op in operators {
        store.put_operator(op).await.map_err(Failure::runtime)?;
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
pub fn probers(
    config: &Config,
    ca_certs: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<Vec<(Option<String>, HttpProber)>, Failure> {
    let base = HttpProber::with_extra_roots(ca_certs)
        .map_err(Failure::input)?
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

pub async fn run(args: Args) -> Result<(), Failure> {
    let Args {
        config,
        db,
        rounds,
        ca_cert,
        trust_net,
        registry,
    } = args;
    let mut config = config_file::load(&config)?;
    config.prober.trusted.extend(trust_net);
    let interval = config.policy.probe_interval;
    let store =
        SqliteStore::open(&db).map_err(|e| Failure::runtime(anyhow!("{}: {e}", db.display())))?;
    let probers = probers(&config, crate::check::ca_certs(ca_cert.as_deref())?)?;
    let mut monitor =
        LocalMonitor::new(config, store, probers, ConsoleNotifier::default(), registry).await?;
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
