//! The partner workflows (`service::partner`), over any store: the same use
//! cases the API and any other front door call, with the store's own
//! conditional writes underneath.

use super::*;
use crate::fixtures::team;
use livesite_core::incident::Answer;
use livesite_core::partner::{
    Actor, BugInput, MaintenanceEvent, MaintenanceInput, OutageReportInput, Service,
};
use livesite_core::ports::{OperatorRegistry, RecordStore};
use livesite_core::service::partner::{IncidentFilter, Partner, PartnerError};
use livesite_core::Policy;

async fn registered<S: OperatorRegistry>(s: &S, ops: &[&str]) {
    for op in ops {
        s.put_operator_if(&operator(op), None)
            .await
            .expect("register");
    }
}

fn report(description: &str) -> OutageReportInput {
    OutageReportInput {
        service: Service::MoDirectPortal,
        severity: Severity::High,
        started_at: t0() - Duration::minutes(20),
        aware_at: t0() - Duration::minutes(10),
        description: description.into(),
        impact: String::new(),
        contact: livesite_core::EmailAddress::parse("noc@contoso.example").expect("email"),
    }
}

/// A report sent twice is one incident; a different one aware in the same
/// second is a second; each is owed by the team and paged once; another
/// operator finds neither, and can answer neither.
pub async fn outage_reports_are_one_incident_each_and_an_operators_own<S>(s: &S)
where
    S: Store + RecordStore + OperatorRegistry,
{
    registered(s, &["contoso", "fabrikam"]).await;
    let (policy, team) = (Policy::default(), team());
    let partner = Partner::new(s, &policy, &team);
    let contoso = OperatorId::new("contoso").expect("id");
    let first = partner
        .report_outage(&contoso, report("portal down"), t0())
        .await
        .expect("report");
    let again = partner
        .report_outage(&contoso, report("portal down"), t0())
        .await
        .expect("retry");
    let other = partner
        .report_outage(&contoso, report("payments down"), t0())
        .await
        .expect("another report");
    assert_eq!(
        first.incident.id, again.incident.id,
        "a retry is the same incident"
    );
    assert!(again.notices.is_empty(), "a retry tells nobody again");
    assert_eq!(other.incident.id, format!("{}-2", first.incident.id));
    assert_eq!(first.incident.owed_by, Party::Team);
    let listed = partner
        .incidents(&Actor::Operator(contoso.clone()), IncidentFilter::default())
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
    let fabrikam = Actor::Operator(OperatorId::new("fabrikam").expect("id"));
    assert!(matches!(
        partner.incident(&fabrikam, &first.incident.id).await,
        Err(PartnerError::NotFound)
    ));
    assert!(matches!(
        partner
            .answer(
                &fabrikam,
                &first.incident.id,
                Answer::Acknowledge,
                None,
                t0()
            )
            .await,
        Err(PartnerError::NotFound)
    ));
    assert!(matches!(
        partner
            .answer(
                &Actor::Operator(contoso),
                &first.incident.id,
                Answer::Acknowledge,
                None,
                t0()
            )
            .await,
        Err(PartnerError::Forbidden(_))
    ));
    let done = partner
        .answer(
            &Actor::Team,
            &first.incident.id,
            Answer::Update,
            Some("on it".into()),
            t0(),
        )
        .await
        .expect("the team answers");
    assert!(done.answered.first_acknowledgement);
    let thread = partner
        .updates(&Actor::Team, &first.incident.id)
        .await
        .expect("thread");
    assert_eq!(thread.len(), 1);
    assert_eq!(
        (thread[0].by, thread[0].message.as_str()),
        (Party::Team, "on it")
    );
    let pages: Vec<String> = s
        .pending(t0() + Duration::minutes(1), 50)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|e| e.notification.channel == Channel::Page)
        .map(|e| e.notification.key)
        .collect();
    assert_eq!(pages.len(), 2, "one page per report: {pages:?}");
}

/// An operator's timely window is copied to its registry entry (where the
/// evaluator holds back pages) and leaves it when cancelled; only its
/// announcer or the team may move it, another operator finds none.
pub async fn maintenance_windows_in_force_follow_their_records<S>(s: &S)
where
    S: Store + RecordStore + OperatorRegistry,
{
    registered(s, &["contoso", "fabrikam"]).await;
    let (policy, team) = (Policy::default(), team());
    let partner = Partner::new(s, &policy, &team);
    let contoso = OperatorId::new("contoso").expect("id");
    let start = t0() + Duration::days(14);
    let input = MaintenanceInput {
        start,
        end: start + Duration::hours(2),
        description: "core upgrade".into(),
        services: vec![Service::CoreNetworkServices],
    };
    let owner = Actor::Operator(contoso.clone());
    let m = partner
        .announce(&owner, input.clone(), t0())
        .await
        .expect("announce");
    assert!(!m.late && !m.needs_approval());
    assert!(matches!(
        partner.announce(&owner, input, t0()).await,
        Err(PartnerError::Conflict(_))
    ));
    let windows = |op: OperatorId| async move {
        s.get_operator(&op)
            .await
            .expect("get")
            .expect("registered")
            .maintenance
    };
    assert_eq!(windows(contoso.clone()).await.len(), 1, "in force");
    let fabrikam = Actor::Operator(OperatorId::new("fabrikam").expect("id"));
    assert!(matches!(
        partner
            .move_maintenance(&fabrikam, &m.id, MaintenanceEvent::Cancelled, t0())
            .await,
        Err(PartnerError::NotFound)
    ));
    assert!(partner
        .maintenance(&fabrikam)
        .await
        .expect("list")
        .is_empty());
    partner
        .move_maintenance(&owner, &m.id, MaintenanceEvent::Cancelled, t0())
        .await
        .expect("cancel");
    assert!(
        windows(contoso).await.is_empty(),
        "cancelled: holds back nothing"
    );
}

/// Two different bugs in one millisecond are two bugs, a retry is one; the
/// team alone moves them along, and an operator's queue is its own.
pub async fn bugs_are_numbered_and_moved_by_the_team<S>(s: &S)
where
    S: Store + RecordStore + OperatorRegistry,
{
    registered(s, &["contoso", "fabrikam"]).await;
    let (policy, team) = (Policy::default(), team());
    let partner = Partner::new(s, &policy, &team);
    let owner = Actor::Operator(OperatorId::new("contoso").expect("id"));
    let bug = |title: &str| BugInput {
        title: title.into(),
        description: "d".into(),
        severity: None,
    };
    let a = partner
        .report_bug(&owner, None, bug("a"), t0())
        .await
        .expect("a");
    let again = partner
        .report_bug(&owner, None, bug("a"), t0())
        .await
        .expect("retry");
    let b = partner
        .report_bug(&owner, None, bug("b"), t0())
        .await
        .expect("b");
    assert_eq!(a.id, again.id);
    assert_ne!(a.id, b.id);
    assert_eq!(
        partner.bugs(&owner, None, None).await.expect("queue").len(),
        2
    );
    let fabrikam = Actor::Operator(OperatorId::new("fabrikam").expect("id"));
    assert!(partner
        .bugs(&fabrikam, None, None)
        .await
        .expect("queue")
        .is_empty());
    let step = || livesite_core::service::partner::BugMove::Deploy;
    assert!(matches!(
        partner.move_bug(&fabrikam, &a.id, step(), t0()).await,
        Err(PartnerError::NotFound)
    ));
    assert!(matches!(
        partner.move_bug(&owner, &a.id, step(), t0()).await,
        Err(PartnerError::Forbidden(_))
    ));
    assert!(
        matches!(
            partner.move_bug(&Actor::Team, &a.id, step(), t0()).await,
            Err(PartnerError::Conflict(_))
        ),
        "deployed before triage"
    );
}
