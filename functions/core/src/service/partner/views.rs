//! What the console shows, read through the same use cases and scopes as
//! the API: an operator's last 90 days and this month so far, from the
//! monitor's decided days only (at most four months' reports, each at most
//! 31 stored days and the open one).

use super::{Outcome, Partner, PartnerError};
use crate::config::Operator;
use crate::ids::OperatorId;
use crate::incident::{Incident, IncidentStatus};
use crate::partner::Actor;
use crate::ports::{OperatorRegistry, RecordStore, Store};
use crate::report::{Day, Month, MonthlyReport};
use chrono::{DateTime, Datelike, Utc};

/// The days an operator page shows.
pub const DAYS_SHOWN: usize = 90;

/// An operator's page: its last `DAYS_SHOWN` local days (oldest first),
/// this month so far, and its open incidents.
#[derive(Debug, Clone)]
pub struct OperatorView {
    pub operator: Operator,
    pub days: Vec<Day>,
    pub month: MonthlyReport,
    pub open: Vec<Incident>,
}

impl<S> Partner<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// `id`'s page, if `who` may see it (another operator's is missing).
    pub async fn operator_view(
        &self,
        who: &Actor,
        id: &OperatorId,
        now: DateTime<Utc>,
    ) -> Outcome<OperatorView> {
        let Some(Some(id)) = who.scope(Some(id.clone())) else {
            return Err(PartnerError::NotFound);
        };
        let operator = self.operator(&id).await?;
        let local = now.with_timezone(&operator.timezone).date_naive();
        let mut days = Vec::new();
        let mut month = None;
        // The four months that cover the last 90 days, oldest first.
        for back in (0..4).rev() {
            let first = local.with_day(1).unwrap_or(local) - chrono::Months::new(back);
            let m: Month = format!("{:04}-{:02}", first.year(), first.month())
                .parse()
                .map_err(|_| PartnerError::NotFound)?;
            let r =
                crate::service::monthly_report(self.store, &operator, m, self.policy, now).await?;
            days.extend(r.days.iter().filter(|d| d.date <= local).cloned());
            month = Some(r);
        }
        let keep = days.len().saturating_sub(DAYS_SHOWN);
        days.drain(..keep);
        let open = self
            .store
            .list_incidents(Some(&id), true)
            .await?
            .into_iter()
            .filter(|i| i.status == IncidentStatus::Open)
            .collect();
        Ok(OperatorView {
            operator,
            days,
            month: month.ok_or(PartnerError::NotFound)?,
            open,
        })
    }

    /// Every operator `who` may see, by id: the team's all, an operator's own.
    pub async fn operators_seen(&self, who: &Actor) -> Outcome<Vec<Operator>> {
        match who {
            Actor::Team => Ok(self.store.list_operators().await?),
            Actor::Operator(op) => Ok(vec![self.operator(op).await?]),
        }
    }
}
