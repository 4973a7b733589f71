//! Incidents people raise and answer: outage reports, the team's Low
//! incidents, information requests, and every acknowledgement, update and
//! resolution.

use super::{visible, Outcome, Partner, PartnerError};
use crate::ids::OperatorId;
use crate::incident::{Answer, Answered, Incident, IncidentStatus, Party, Refusal};
use crate::partner::{self, Actor, InformationRequestInput, OutageReportInput};
use crate::ports::{OperatorRegistry, RecordStore, Store};
use crate::raise::{self, RaiseInput};
use crate::records::{IncidentUpdate, Records};
use crate::service::{change_incident, report_outage, Change, ReportedOutage};
use chrono::{DateTime, Utc};

/// Which incidents a listing shows.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// One operator's (the team's filter; an operator sees its own only).
    pub operator: Option<OperatorId>,
    pub status: Option<IncidentStatus>,
    /// What is still owed, by whom.
    pub owed_by: Option<Party>,
}

/// What an acknowledgement, update or resolution came to.
#[derive(Debug, Clone)]
pub struct AnswerOutcome {
    pub incident: Incident,
    pub answered: Answered,
    /// The first response came after it was due.
    pub initial_response_late: bool,
}

impl<S> Partner<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// An incident `who` may see.
    pub async fn incident(&self, who: &Actor, id: &str) -> Outcome<Incident> {
        let incident = self
            .store
            .get_incident(id)
            .await?
            .ok_or(PartnerError::NotFound)?;
        let owner = incident.operator.clone();
        visible(who, &owner, incident)
    }

    /// The incidents `who` may see that pass `filter`; another operator's
    /// look like none at all.
    pub async fn incidents(&self, who: &Actor, filter: IncidentFilter) -> Outcome<Vec<Incident>> {
        let Some(op) = who.scope(filter.operator) else {
            return Ok(Vec::new());
        };
        Ok(self
            .store
            .list_incidents(op.as_ref(), false)
            .await?
            .into_iter()
            .filter(|i| filter.status.is_none_or(|s| i.status == s))
            .filter(|i| filter.owed_by.is_none_or(|o| i.owed_by == o))
            .collect())
    }

    /// An operator reports an outage on its side: one incident a report,
    /// the same report sent again is the same incident.
    pub async fn report_outage(
        &self,
        reporter: &OperatorId,
        input: OutageReportInput,
        now: DateTime<Utc>,
    ) -> Outcome<ReportedOutage> {
        let op = self.operator(reporter).await?;
        let (report, incident, _) =
            partner::outage_report(&op, input, now, self.policy, self.team, &self.team.calendar)?;
        let done = report_outage(self.store, &op, (report, incident), self.team).await?;
        self.enqueue(done.notices.clone()).await?;
        Ok(done)
    }

    /// The team raises a Low incident against an operator.
    pub async fn raise(&self, input: RaiseInput, now: DateTime<Utc>) -> Outcome<Incident> {
        let op = self
            .store
            .get_operator(&input.operator)
            .await?
            .ok_or_else(|| partner::field("operator", "no such operator"))?;
        let (incident, email) = raise::raise(&op, input, now, self.policy, self.team)?;
        // Enqueued again on a retry: the outbox keeps one per key, and a
        // request that failed between the two writes still sends it.
        self.store.create_incident(&incident).await?;
        self.enqueue(vec![email]).await?;
        Ok(incident)
    }

    /// An operator asks the team for information.
    pub async fn ask_information(
        &self,
        asker: &OperatorId,
        input: InformationRequestInput,
        now: DateTime<Utc>,
    ) -> Outcome<Incident> {
        let op = self.operator(asker).await?;
        let (incident, email) = partner::information_request(
            &op,
            input,
            now,
            self.policy,
            self.team,
            &self.team.calendar,
        )?;
        // Enqueued again on a retry: the outbox keeps one per key, and a
        // request that failed between the two writes still sends it.
        self.store.create_incident(&incident).await?;
        self.enqueue(vec![email]).await?;
        Ok(incident)
    }

    /// Acknowledge, update or resolve: allowed to the side that owes the
    /// answer and to the team; decided on the incident as stored at the
    /// write. A message is kept in the incident's thread.
    pub async fn answer(
        &self,
        who: &Actor,
        id: &str,
        answer: Answer,
        message: Option<String>,
        now: DateTime<Utc>,
    ) -> Outcome<AnswerOutcome> {
        if let Some(m) = &message {
            partner::update_message(m)?;
        }
        let side = who.side();
        let stored = self.incident(who, id).await?;
        let op = self.operator(&stored.operator).await?;
        let calendar = stored.calendar(&op.calendar(), &self.team.calendar).clone();
        let changed =
            change_incident(self.store, id, |i| i.answer(side, answer, now, &calendar)).await?;
        let (incident, answered) = match changed {
            Change::Done(incident, answered) => (incident, answered),
            Change::Missing => return Err(PartnerError::NotFound),
            Change::Refused(e @ Refusal::NotOwed(_)) => {
                return Err(PartnerError::Forbidden(format!("incident {id}: {e}")))
            }
            Change::Refused(e) => {
                return Err(PartnerError::Conflict(format!("incident {id}: {e}")))
            }
        };
        if let Some(m) = &message {
            let update = IncidentUpdate {
                incident_id: id.to_string(),
                at: now,
                by: side,
                message: m.clone(),
                operator: Some(op.id.clone()),
            };
            self.store.create(&update).await?;
        }
        let notice = raise::answered(
            &incident,
            &op,
            self.team,
            side,
            answer,
            message.as_deref(),
            now,
        );
        self.enqueue(notice.into_iter().collect()).await?;
        Ok(AnswerOutcome {
            initial_response_late: incident.initial_response_overdue(now),
            incident,
            answered,
        })
    }

    /// The messages posted on an incident `who` may see, oldest first.
    pub async fn updates(&self, who: &Actor, id: &str) -> Outcome<Vec<IncidentUpdate>> {
        let incident = self.incident(who, id).await?;
        let mut out: Vec<IncidentUpdate> = self
            .store
            .list::<IncidentUpdate>(Some(&incident.operator))
            .await?
            .into_iter()
            .filter(|u| u.incident_id == incident.id)
            .collect();
        out.sort_by_key(|u| u.at);
        Ok(out)
    }
}
