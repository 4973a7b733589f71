//! The monitor's use cases over the ports: evaluate a batch of probe results
//! with every side effect recorded before it is sent, and deliver what the
//! outbox holds. The same code runs in `livesite run` and in the Lambdas.

use crate::config::{Operator, Policy, Team};
use crate::evaluate::{evaluate, Evaluation, Event, MonitorState};
use crate::ids::OperatorId;
use crate::incident::Incident;
use crate::notify::{render, Notification};
use crate::ports::{Notifier, Outbox, RecordStore, Store, StoreError};
use crate::probe::ProbeResult;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};

/// What the evaluator needs to know beyond the probes.
#[derive(Debug, Clone)]
pub struct Context {
    pub policy: Policy,
    pub team: Team,
    pub operators: HashMap<OperatorId, Operator>,
}

impl Context {
    pub fn new(policy: Policy, team: Team, operators: impl IntoIterator<Item = Operator>) -> Self {
        Self {
            policy,
            team,
            operators: operators.into_iter().map(|o| (o.id.clone(), o)).collect(),
        }
    }

    /// The policy as it applies to one operator (`quorum::voting_policy`).
    pub fn policy_for(&self, operator: &Operator) -> std::borrow::Cow<'_, Policy> {
        crate::evaluate::quorum::voting_policy(&self.policy, operator, self.operators.values())
    }

    /// The location of a result that no round counts: neither listed among
    /// the monitor's locations (when they are listed) nor one of the
    /// operator's own agents. Such a result is stored but never a round of
    /// its own (a probe stack the home stack does not list, a misspelt
    /// name); the caller counts it, logs it and alarms on it.
    pub fn unlisted<'p>(&self, operator: &Operator, probe: &'p ProbeResult) -> Option<&'p str> {
        let location = probe.location.as_deref()?;
        let expected = &self.policy.locations.expected;
        let known = expected.is_empty()
            || expected.iter().any(|l| l == location)
            || operator.agents.iter().any(|a| a == location);
        (!known).then_some(location)
    }
}

#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub events: Vec<Event>,
    /// Notifications recorded by this call (not those a previous delivery of
    /// the same batch already recorded).
    pub enqueued: Vec<Notification>,
    pub stale: usize,
    /// Probes of operators the context does not know; kept by the caller's
    /// probe log but not evaluated.
    pub unknown: Vec<OperatorId>,
    /// Operators whose part of the batch failed; their probes must be retried.
    pub failed: Vec<(OperatorId, StoreError)>,
    /// Results from a location no round counts (`Context::unlisted`):
    /// stored, not evaluated.
    pub unlisted: Vec<(OperatorId, String)>,
}

/// Evaluates a batch: one state read and one state write per operator,
/// whatever the number of records. Incidents and notifications are written
/// with conditional writes before the state, so a retried batch recomputes the
/// same decisions and records none of them twice.
pub async fn evaluate_batch<S: Store>(
    store: &S,
    ctx: &Context,
    probes: &[crate::probe::ProbeResult],
) -> BatchOutcome {
    let mut groups: BTreeMap<&OperatorId, Vec<&crate::probe::ProbeResult>> = BTreeMap::new();
    for p in probes {
        groups.entry(&p.operator).or_default().push(p);
    }
    let mut out = BatchOutcome::default();
    for (op_id, mut group) in groups {
        let Some(operator) = ctx.operators.get(op_id) else {
            out.unknown.push(op_id.clone());
            continue;
        };
        group.sort_by_key(|p| p.probed_at);
        if let Err(e) = evaluate_group(store, ctx, operator, &group, &mut out).await {
            out.failed.push((op_id.clone(), e));
        }
    }
    out
}

async fn evaluate_group<S: Store>(
    store: &S,
    ctx: &Context,
    operator: &Operator,
    probes: &[&crate::probe::ProbeResult],
    out: &mut BatchOutcome,
) -> Result<(), StoreError> {
    let loaded = store.load_state(&operator.id).await?;
    let (mut state, version) = match loaded {
        Some(v) => (v.value, Some(v.version)),
        None => (MonitorState::new(operator.id.clone()), None),
    };
    let mut events = Vec::new();
    let mut changed = false;
    let policy = ctx.policy_for(operator);
    for p in probes {
        if let Some(location) = ctx.unlisted(operator, p) {
            out.unlisted
                .push((operator.id.clone(), location.to_string()));
            continue;
        }
        match evaluate(&state, p, operator, &policy, &ctx.team.calendar) {
            Evaluation::Stale => out.stale += 1,
            Evaluation::Applied {
                state: next,
                events: ev,
            } => {
                state = next;
                changed = true;
                events.extend(ev);
            }
        }
    }
    for event in &events {
        record_event(store, event).await?;
        for n in render(event, operator, &ctx.team, &ctx.policy) {
            if store.enqueue(&n).await? {
                out.enqueued.push(n);
            }
        }
    }
    if changed {
        store.save_state(&state, version).await?;
    }
    out.events.extend(events);
    Ok(())
}

async fn record_event<S: Store>(store: &S, event: &Event) -> Result<(), StoreError> {
    match event {
        Event::IncidentOpened { incident, .. } => {
            store.create_incident(incident).await?;
        }
        Event::IncidentResolved {
            incident,
            resolved_at,
            ..
        } => {
            // Already resolved (a redelivered batch): nothing to write.
            change_incident(store, &incident.id, |stored| {
                if stored.is_open() {
                    stored.resolve(*resolved_at);
                    Ok(())
                } else {
                    Err(())
                }
            })
            .await?;
        }
        Event::DayClosed {
            operator, summary, ..
        } => {
            // Already stored (a redelivered batch): the first one stays.
            store.put_day(operator, summary).await?;
        }
        Event::PageSuppressed { .. } | Event::MonitorGap { .. } | Event::BudgetBurn { .. } => {}
    }
    Ok(())
}

/// What a race-free change of an incident (or a record) came to.
#[derive(Debug, PartialEq)]
pub enum Change<T, E, D = Incident> {
    /// Written; the incident as stored, and what the change returned.
    Done(D, T),
    /// No such incident.
    Missing,
    /// The change refused the incident as it was (resolved, say).
    Refused(E),
}

/// How often a change is tried again on the fresh incident after a
/// concurrent write before giving up with `StoreError::Conflict`.
const CHANGE_TRIES: usize = 5;

/// Read, change, write back only if nobody wrote in between (the incident's
/// version); after a conflict, `change` is applied again to the fresh
/// incident, so it decides on what is really stored: an acknowledgement
/// racing a resolution sees the resolution and is refused, and never writes
/// the incident back open.
pub async fn change_incident<S, T, E>(
    store: &S,
    id: &str,
    mut change: impl FnMut(&mut Incident) -> Result<T, E> + Send,
) -> Result<Change<T, E>, StoreError>
where
    S: crate::ports::IncidentStore,
    T: Send,
    E: Send,
{
    for _ in 0..CHANGE_TRIES {
        let Some(mut incident) = store.get_incident(id).await? else {
            return Ok(Change::Missing);
        };
        let out = match change(&mut incident) {
            Ok(t) => t,
            Err(e) => return Ok(Change::Refused(e)),
        };
        match store.put_incident(&incident).await {
            Ok(()) => {
                incident.version += 1;
                return Ok(Change::Done(incident, out));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!(
        "incident {id}: still contended after {CHANGE_TRIES} tries"
    )))
}

/// Read, change, write back only if the record is still as read (a
/// maintenance window, a bug); after a conflict `change` is applied again to
/// the record as now stored: an approval racing a cancellation sees the
/// cancellation, and two triages of one bug can't both be written.
pub async fn change_record<S, D, T, E>(
    store: &S,
    id: &str,
    mut change: impl FnMut(&mut D) -> Result<T, E> + Send,
) -> Result<Change<T, E, D>, StoreError>
where
    S: RecordStore,
    D: crate::records::Record,
    T: Send,
    E: Send,
{
    use crate::records::{from_doc, to_doc};
    for _ in 0..CHANGE_TRIES {
        let Some(read) = store.get_record(D::KIND, id).await? else {
            return Ok(Change::Missing);
        };
        let mut record: D = from_doc(id, read.clone())?;
        let out = match change(&mut record) {
            Ok(t) => t,
            Err(e) => return Ok(Change::Refused(e)),
        };
        let doc = to_doc(&record)?;
        if store
            .put_record(D::KIND, id, record.owner().as_ref(), &doc, &read)
            .await?
        {
            return Ok(Change::Done(record, out));
        }
    }
    Err(StoreError::Conflict(format!(
        "{} {id}: still contended after {CHANGE_TRIES} tries",
        D::KIND
    )))
}

/// Read, change, write back only if the registry entry is unchanged; after
/// a conflict the change is applied again to the fresh entry. `None` when
/// the operator is not registered. An operator's announcement and the team's
/// edit of the same operator can't undo each other.
pub async fn change_operator<S: crate::ports::OperatorRegistry>(
    store: &S,
    id: &OperatorId,
    mut change: impl FnMut(&mut Operator) + Send,
) -> Result<Option<Operator>, StoreError> {
    for _ in 0..CHANGE_TRIES {
        let Some(current) = store.get_operator_versioned(id).await? else {
            return Ok(None);
        };
        let mut operator = current.value;
        change(&mut operator);
        match store
            .put_operator_if(&operator, Some(current.version))
            .await
        {
            Ok(_) => return Ok(Some(operator)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!(
        "operator {id}: still contended after {CHANGE_TRIES} tries"
    )))
}

#[derive(Debug, Default)]
pub struct DeliveryReport {
    pub sent: Vec<Notification>,
    /// Failed sends that will be retried (key, error).
    pub failed: Vec<(String, String)>,
    /// Failed sends given up for good (key, error); the team is told once.
    pub dead: Vec<(String, String)>,
    /// Due entries left for a later pass when the time budget ran out.
    pub deferred: usize,
    /// When the oldest notification still unsent after this pass was
    /// recorded: its age is what an alarm watches (a page stuck in the
    /// outbox is a page nobody got).
    pub oldest_unsent: Option<DateTime<Utc>>,
}

impl DeliveryReport {
    /// Adds what a later pass of the same sweep did; what is still unsent
    /// is what the later pass left.
    pub fn absorb(&mut self, later: DeliveryReport) {
        self.sent.extend(later.sent);
        self.failed.extend(later.failed);
        self.dead.extend(later.dead);
        self.deferred = later.deferred;
        self.oldest_unsent = later.oldest_unsent;
    }

    /// Seconds the oldest unsent notification has waited at `now` (0 when
    /// nothing waits).
    pub fn oldest_unsent_age_seconds(&self, now: DateTime<Utc>) -> i64 {
        self.oldest_unsent
            .map_or(0, |t| (now - t).num_seconds().max(0))
    }
}

/// Sends what the outbox holds: claim (a conditional write), send, mark sent.
/// A failed send gives the claim back, due again after a backoff
/// (`notify::next_attempt`); after the last attempt the entry is dead and the
/// team gets one notice. A sender that dies mid-send loses its claim when the
/// lease ends.
pub async fn deliver_pending<O: Outbox, N: Notifier>(
    outbox: &O,
    notifier: &N,
    team: &Team,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
) -> Result<DeliveryReport, StoreError> {
    deliver_pending_while(outbox, notifier, team, now, lease, limit, &|| true).await
}

/// The same, claiming no further entry once `keep_going` says no: the caller's
/// time budget (the API answers its client, the evaluator keeps its shard
/// moving; what is left waits, recorded, for the next pass).
pub async fn deliver_pending_while<O: Outbox, N: Notifier>(
    outbox: &O,
    notifier: &N,
    team: &Team,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::default();
    for entry in outbox.pending(now, limit).await? {
        let key = entry.notification.key.clone();
        let created = entry.notification.created_at;
        let unsent = |r: &mut DeliveryReport| {
            r.oldest_unsent = Some(r.oldest_unsent.map_or(created, |t| t.min(created)));
        };
        if !keep_going() {
            report.deferred += 1;
            unsent(&mut report);
            continue;
        }
        if !outbox.claim(&key, now, now + lease).await? {
            unsent(&mut report);
            continue;
        }
        match notifier.deliver(&entry.notification).await {
            Ok(()) => {
                outbox.mark_sent(&key, now).await?;
                report.sent.push(entry.notification);
            }
            Err(e) => {
                let msg = e.to_string();
                // The claim counted this attempt.
                let attempts = entry.attempts + 1;
                let retry_at = crate::notify::next_attempt(attempts, now);
                outbox.release(&key, &msg, retry_at).await?;
                if retry_at.is_some() {
                    unsent(&mut report);
                    report.failed.push((key, msg));
                    continue;
                }
                let n = &entry.notification;
                if n.topic != crate::notify::Topic::Undeliverable {
                    let notice = crate::notify::undeliverable(n, attempts, &msg, team, now);
                    outbox.enqueue(&notice).await?;
                }
                report.dead.push((key, msg));
            }
        }
    }
    Ok(report)
}

/// The sweep's independent duties. Each runs on its own: one failing (a
/// denied call, a corrupt record, a throttled read) is reported by name and
/// never stops the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Duty {
    /// Last month's SLA report per operator (run by `livesite-report`).
    Reports,
    /// Overdue initial responses and updates, and the High escalation page.
    Reminders,
    /// Maintenance windows past their end without a completion notice.
    Overruns,
    /// Operators (or the whole fleet) with no recent probe.
    Blindness,
    /// Portal certificates close to expiry.
    Certificates,
    /// Sending what the outbox holds, which retries earlier failed sends.
    Delivery,
}

impl Duty {
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Reports => "reports",
            Duty::Reminders => "reminders",
            Duty::Overruns => "overruns",
            Duty::Blindness => "blindness",
            Duty::Certificates => "certificates",
            Duty::Delivery => "delivery",
        }
    }
}

impl std::fmt::Display for Duty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Default)]
pub struct SweepReport {
    /// Notifications the sweep found due and recorded for the first time.
    pub enqueued: Vec<Notification>,
    pub delivery: DeliveryReport,
    /// Duties that failed, with why; the others ran.
    pub failed: Vec<(Duty, String)>,
}

impl SweepReport {
    fn fail(&mut self, duty: Duty, error: impl std::fmt::Display) {
        self.failed.push((duty, error.to_string()));
    }
}

/// What the sweep's duties read, each part loaded on its own so that one
/// failed read fails only the duties that need it.
struct SweepInputs {
    operators: Result<Vec<Operator>, String>,
    incidents: Result<Vec<crate::incident::Incident>, String>,
    states: Result<Vec<MonitorState>, String>,
    windows: Result<Vec<crate::partner::Maintenance>, String>,
}

async fn sweep_inputs<S>(store: &S) -> SweepInputs
where
    S: Store + crate::ports::RecordStore + crate::ports::OperatorRegistry,
{
    let operators = store.list_operators().await.map_err(|e| e.to_string());
    let incidents = store
        .list_incidents(None, true)
        .await
        .map_err(|e| e.to_string());
    let states = match &operators {
        Ok(ops) => {
            let mut states = Ok(Vec::new());
            for op in ops {
                match store.load_state(&op.id).await {
                    Ok(Some(v)) => {
                        if let Ok(s) = &mut states {
                            s.push(v.value)
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        states = Err(e.to_string());
                        break;
                    }
                }
            }
            states
        }
        Err(e) => Err(e.clone()),
    };
    let windows = crate::records::Records::list::<crate::partner::Maintenance>(store, None)
        .await
        .map_err(|e| e.to_string());
    SweepInputs {
        operators,
        incidents,
        states,
        windows,
    }
}

/// One sweep: every clock, window, silence and certificate checked at `now`;
/// what is due is recorded (once per deadline, by its key) and the outbox is
/// delivered, which also retries anything a failed send left behind. Each
/// duty is isolated: its failure is in the report and the others still run.
///
/// The delivery claims no further entry once `keep_going` says no (the
/// caller's time budget): what is left waits, recorded, for the next sweep,
/// and the sweep still ends within its function's time to report itself.
pub async fn sweep<S, N>(
    store: &S,
    notifier: &N,
    team: &Team,
    policy: &Policy,
    now: DateTime<Utc>,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> SweepReport
where
    S: Store + crate::ports::RecordStore + crate::ports::OperatorRegistry,
    N: Notifier,
{
    use crate::sweep::{
        blindness, certificate_warnings, incident_reminders, maintenance_overruns, silent_locations,
    };
    let inputs = sweep_inputs(store).await;
    let mut report = SweepReport::default();
    let duties: [(Duty, Result<Vec<Notification>, String>); 4] = [
        (
            Duty::Reminders,
            both(&inputs.incidents, &inputs.operators)
                .map(|(i, o)| incident_reminders(i, o, team, now)),
        ),
        (
            Duty::Overruns,
            both(&inputs.windows, &inputs.operators)
                .map(|(w, o)| maintenance_overruns(w, o, team, now)),
        ),
        (
            Duty::Blindness,
            both(&inputs.operators, &inputs.states).map(|(o, s)| {
                let mut due = blindness(o, s, team, policy, now);
                due.extend(silent_locations(
                    s,
                    &policy.locations.expected,
                    team,
                    policy,
                    now,
                ));
                due
            }),
        ),
        (
            Duty::Certificates,
            both(&inputs.operators, &inputs.states)
                .map(|(o, s)| certificate_warnings(o, s, team, policy, now)),
        ),
    ];
    for (duty, due) in duties {
        match due {
            Ok(due) => {
                for n in due {
                    match store.enqueue(&n).await {
                        Ok(true) => report.enqueued.push(n),
                        Ok(false) => {}
                        Err(e) => report.fail(duty, e),
                    }
                }
            }
            Err(e) => report.fail(duty, e),
        }
    }
    let lease = Duration::minutes(2);
    match deliver_pending_while(store, notifier, team, now, lease, 500, keep_going).await {
        Ok(delivery) => report.delivery = delivery,
        Err(e) => report.fail(Duty::Delivery, e),
    }
    report
}

fn both<'a, A, B>(
    a: &'a Result<A, String>,
    b: &'a Result<B, String>,
) -> Result<(&'a A, &'a B), String> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    }
}

mod figures;
mod outage;
pub mod partner;
pub use figures::{monthly_report, rebuild_days, Rebuilt};
pub use outage::{report_outage, ReportedOutage, REPORTS_A_SECOND};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_are_named_as_logs_and_metrics_name_them() {
        let named = [
            (Duty::Reports, "reports"),
            (Duty::Reminders, "reminders"),
            (Duty::Overruns, "overruns"),
            (Duty::Blindness, "blindness"),
            (Duty::Certificates, "certificates"),
            (Duty::Delivery, "delivery"),
        ];
        for (duty, name) in named {
            assert_eq!((duty.as_str(), duty.to_string().as_str()), (name, name));
        }
        let mut report = SweepReport::default();
        report.fail(Duty::Reminders, "incidents unreadable");
        assert_eq!(
            report.failed,
            [(Duty::Reminders, "incidents unreadable".to_string())]
        );
    }
}
