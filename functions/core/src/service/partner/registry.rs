//! The operator registry (the DYNAMO team's alone), reports and agent pushes.

use super::{Outcome, Partner, PartnerError};
use crate::config::Operator;
use crate::ids::OperatorId;
use crate::partner;
use crate::ports::{OperatorRegistry, RecordStore, Store};
use crate::service::change_operator;
use chrono::{DateTime, Utc};

/// What registering an operator came to.
#[derive(Debug, Clone)]
pub struct Registered {
    pub operator: Operator,
    /// It was not registered before.
    pub created: bool,
}

impl<S> Partner<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// Registers or replaces an operator (its id as `id` names it). Its
    /// announced maintenance windows stay: an edit of the operator must not
    /// undo an announcement made since. `team_clients` are the team's API
    /// clients, which no operator may list.
    pub async fn put_operator(
        &self,
        id: &str,
        op: Operator,
        team_clients: &[String],
    ) -> Outcome<Registered> {
        if op.id.as_str() != id {
            return Err(partner::field("id", format!("must match the path ({id})")).into());
        }
        op.validate("body")
            .map_err(|e| partner::field(e.path.trim_start_matches("body."), e.message))?;
        self.check_clients(&op, team_clients).await?;
        let changed = change_operator(self.store, &op.id, |stored| {
            let windows = std::mem::take(&mut stored.maintenance);
            *stored = op.clone();
            stored.maintenance = windows;
        })
        .await?;
        Ok(match changed {
            Some(operator) => Registered {
                operator,
                created: false,
            },
            None => {
                self.store.put_operator_if(&op, None).await?;
                Registered {
                    operator: op,
                    created: true,
                }
            }
        })
    }

    /// Retires a registered operator.
    pub async fn retire_operator(&self, id: &OperatorId) -> Outcome<()> {
        if self.store.retire_operator(id).await? {
            Ok(())
        } else {
            Err(PartnerError::NotFound)
        }
    }

    /// A client id acts for one operator, and never for the team; an agent
    /// is named like no location of the monitor's and no other operator's
    /// agent (`config::agent_clash`).
    async fn check_clients(&self, op: &Operator, team_clients: &[String]) -> Outcome<()> {
        let others = self.store.list_operators().await?;
        if let Some((agent, with)) =
            crate::config::agent_clash(op, &others, &self.policy.locations.expected)
        {
            return Err(PartnerError::Conflict(format!(
                "agent {agent} is already {with}: agent and location names are one namespace"
            )));
        }
        for other in &others {
            if let Some(c) = other
                .api_clients
                .iter()
                .find(|c| other.id != op.id && op.api_clients.contains(c))
            {
                return Err(PartnerError::Conflict(format!(
                    "API client {c} already acts for operator {}",
                    other.id
                )));
            }
        }
        if let Some(c) = op.api_clients.iter().find(|c| team_clients.contains(c)) {
            return Err(PartnerError::Conflict(format!(
                "API client {c} is the DYNAMO team's"
            )));
        }
        Ok(())
    }
}

impl<S> Partner<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// The month's SLA reports `who` may read: an operator's own (asking
    /// for another's finds none), the team's for `operator` or for all.
    pub async fn reports(
        &self,
        who: &crate::partner::Actor,
        operator: Option<OperatorId>,
        month: crate::report::Month,
        now: DateTime<Utc>,
    ) -> Outcome<Vec<crate::report::MonthlyReport>> {
        let wanted = match who.scope(operator) {
            None => return Err(PartnerError::NotFound),
            Some(Some(op)) => vec![self.operator(&op).await?],
            Some(None) => self.store.list_operators().await?,
        };
        let mut reports = Vec::new();
        for op in &wanted {
            reports.push(
                crate::service::monthly_report(self.store, op, month, self.policy, now).await?,
            );
        }
        Ok(reports)
    }

    /// An operator's agent pushes what it probed inside its walled garden:
    /// checked whole before any is stored (`agent::accept`), each stored at
    /// its slot, once per agent per slot. The evaluator takes them from the
    /// probe log like any other location's. The number stored.
    pub async fn push_results(
        &self,
        pusher: &OperatorId,
        pushed: crate::agent::PushedResults,
        now: DateTime<Utc>,
    ) -> Outcome<usize> {
        let op = self.operator(pusher).await?;
        let interval = chrono::Duration::from_std(self.policy.probe_interval)
            .unwrap_or(chrono::Duration::seconds(30));
        let results = crate::agent::accept(&op, pushed, now, interval)?;
        for r in &results {
            self.store.append(r).await?;
        }
        Ok(results.len())
    }
}
