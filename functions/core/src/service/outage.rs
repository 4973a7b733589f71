//! Recording an operator's outage report: one incident a report, never two
//! reports merged.

use crate::config::{Operator, Team};
use crate::incident::Incident;
use crate::notify::Notification;
use crate::ports::{IncidentStore, RecordStore, StoreError};
use crate::records::Records;

/// The most different outage reports one operator can make aware in the
/// same second before the next is refused (409, try again).
pub const REPORTS_A_SECOND: u32 = 10;

/// What recording an outage report came to.
pub struct ReportedOutage {
    pub report: crate::partner::OutageReport,
    /// The incident as stored.
    pub incident: Incident,
    /// The notices to send: none when the same report was recorded before.
    pub notices: Vec<Notification>,
}

/// Records an operator's outage report (`partner::outage_report`) as its
/// incident and record. The same report sent again (a retried request: the
/// same description, service, severity and start) is the incident already
/// recorded; a different report made aware in the same second is an
/// incident of its own (`<operator>-<aware>-report-2`, ...), never dropped.
pub async fn report_outage<S: IncidentStore + RecordStore>(
    store: &S,
    operator: &Operator,
    built: (crate::partner::OutageReport, Incident),
    team: &Team,
) -> Result<ReportedOutage, StoreError> {
    let (report, incident) = built;
    for n in 0..REPORTS_A_SECOND {
        let (report, incident, notices) =
            report.clone().numbered(incident.clone(), n, operator, team);
        if store.create_incident(&incident).await? {
            store.create(&report).await?;
            return Ok(ReportedOutage {
                report,
                incident,
                notices,
            });
        }
        let Some(stored) = store.get_incident(&incident.id).await? else {
            continue;
        };
        let same = stored.summary == incident.summary
            && stored.started_at == incident.started_at
            && stored.severity == incident.severity;
        if same {
            return Ok(ReportedOutage {
                report,
                incident: stored,
                notices: Vec::new(),
            });
        }
    }
    Err(StoreError::Conflict(format!(
        "{REPORTS_A_SECOND} outage reports of {} aware in one second already",
        operator.id
    )))
}
