//! The figures' use cases: a month's report from the decided days, and the
//! rebuild of those days from raw rows.

use crate::config::{Operator, Policy};
use crate::ids::OperatorId;
use crate::partner::Maintenance;
use crate::ports::{IncidentStore, RecordStore, StateStore, StoreError, SummaryStore};
use crate::records::Records;
use crate::report::{monthly, Month, MonthlyReport, ReportInput};
use chrono::{DateTime, Utc};

/// Reads what an operator's monthly report needs and computes it (the
/// report function and the API's `/v1/reports` both): the month's decided
/// days (one query of at most 31 items), the day still open from the
/// operator's state, its incidents and its maintenance notices. Never a raw
/// probe row: the reads and the memory do not grow with the probe rate.
pub async fn monthly_report<S>(
    store: &S,
    operator: &Operator,
    month: Month,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<MonthlyReport, StoreError>
where
    S: StateStore + SummaryStore + IncidentStore + RecordStore,
{
    let bounds = month.day_bounds(operator.timezone);
    let date = |t: DateTime<Utc>| t.with_timezone(&operator.timezone).date_naive();
    let (first, next) = (date(bounds[0]), date(bounds[bounds.len() - 1]));
    let mut days = store.days(&operator.id, first, next).await?;
    // The open day, after the stored ones: `monthly` keeps only the month's
    // dates, and a date's first summary (a stored day wins over the state's).
    days.extend(
        store
            .load_state(&operator.id)
            .await?
            .and_then(|s| s.value.day),
    );
    let incidents = store.list_incidents(Some(&operator.id), false).await?;
    let notices = store.list::<Maintenance>(Some(&operator.id)).await?;
    Ok(monthly(ReportInput {
        operator: operator.id.clone(),
        month,
        policy,
        days: &days,
        incidents: &incidents,
        notices: &notices,
        timezone: operator.timezone,
        now,
    }))
}

/// What a rebuild of an operator's decided days did.
#[derive(Debug, Default, PartialEq)]
pub struct Rebuilt {
    /// Days written.
    pub written: Vec<chrono::NaiveDate>,
    /// Days already stored (by the evaluator or an earlier rebuild): kept.
    pub kept: Vec<chrono::NaiveDate>,
}

/// Rebuilds an operator's decided days `from <= date < to` (its own
/// calendar) from the raw probe rows, one day's rows in memory at a time:
/// the rows are decided again from a fresh state, with the maintenance
/// windows its records announced, and each day is stored unless one is
/// already (what the evaluator decided stays). For a deployment whose days
/// were never summarised, or a day lost. The operator's current day is
/// never rebuilt: the evaluator still has it open (`to` must be at most
/// `today`, the operator's date now).
pub async fn rebuild_days<S>(
    store: &S,
    operator: &Operator,
    policy: &Policy,
    team_calendar: &crate::BusinessCalendar,
    (from, to): (chrono::NaiveDate, chrono::NaiveDate),
    today: chrono::NaiveDate,
) -> Result<Rebuilt, StoreError>
where
    S: crate::ports::ProbeLog + SummaryStore + RecordStore,
{
    if to > today {
        return Err(StoreError::Conflict(format!(
            "days of {} up to {to}: {today} is still open; rebuild up to it at most",
            operator.id
        )));
    }
    let mut operator = operator.clone();
    for m in store.list::<Maintenance>(Some(&operator.id)).await? {
        operator.maintenance.extend(m.suppression_window());
    }
    let tz = operator.timezone;
    let mut decider = crate::summary::DayDecider::new(&operator, policy, team_calendar);
    let mut out = Rebuilt::default();
    for date in from.iter_days().take_while(|d| *d < to) {
        let next = date.succ_opt().unwrap_or(date);
        let mut rows = store
            .range(
                &operator.id,
                local_midnight(date, tz),
                local_midnight(next, tz),
            )
            .await?;
        rows.sort_by_key(|p| p.probed_at);
        let closed: Vec<_> = rows.iter().flat_map(|p| decider.feed(p)).collect();
        for day in closed {
            store_day(store, &operator.id, &day, &mut out).await?;
        }
    }
    // The range's last day has no round of the next to close it (only
    // days before `to` were fed).
    if let Some(day) = decider.open_day() {
        store_day(store, &operator.id, &day, &mut out).await?;
    }
    Ok(out)
}

/// The instant a local date begins in `tz`.
fn local_midnight(date: chrono::NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let month = crate::report::Month {
        year: chrono::Datelike::year(&date),
        month: chrono::Datelike::month(&date),
    };
    month.day_bounds(tz)[chrono::Datelike::day0(&date) as usize]
}

async fn store_day<S: SummaryStore>(
    store: &S,
    operator: &OperatorId,
    day: &crate::summary::DaySummary,
    out: &mut Rebuilt,
) -> Result<(), StoreError> {
    if store.put_day(operator, day).await? {
        out.written.push(day.date);
    } else {
        out.kept.push(day.date);
    }
    Ok(())
}
