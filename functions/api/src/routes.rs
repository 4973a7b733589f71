//! The route table: every `/v1` resource, its methods, who may call it and
//! whether it needs a body, declared once. 404 and 405 (with `Allow`) are
//! derived from it; `Api::dispatch` runs the handler a route names.

use crate::problem::Problem;

/// Who may call a route, checked before its handler runs. Routes marked
/// `Both` decide in their handler (a team-only transition of an operator's
/// record answers 404 to another operator before 403 to its owner, so a
/// foreign id looks exactly like a missing one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Team,
    Operator,
    Both,
}

/// What a route does: one handler each (`Api::dispatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReportOutage,
    PushResults,
    ListIncidents,
    GetIncident,
    Raise,
    Acknowledge,
    PostUpdate,
    Resolve,
    AskInformation,
    Announce,
    ListMaintenance,
    Approve,
    Complete,
    Cancel,
    NoticeOutage,
    ListNotices,
    GetNotice,
    UpdateNotice,
    ResolveNotice,
    ReportBug,
    ListBugs,
    GetBug,
    Triage,
    Schedule,
    Deploy,
    Report,
    ListOperators,
    GetOperator,
    PutOperator,
    RetireOperator,
}

pub struct Route {
    pub method: &'static str,
    /// Segments after `/v1`; `{}` matches one segment, handed to the handler.
    pub path: &'static str,
    pub access: Access,
    /// A POST that needs a JSON body, refused before anything else when it is
    /// empty (the other POSTs act on the path alone).
    pub body: bool,
    /// Answered a page at a time (`paging`): the listing's name.
    pub listing: Option<&'static str>,
    /// The query filters it reads (`?operator=`...): no other is read, and
    /// a listing's next-page link repeats exactly these.
    pub filters: &'static [&'static str],
    pub action: Action,
}

impl Route {
    /// The value of `name` in `query`, when the route declares that filter.
    pub fn filter<'q>(
        &self,
        name: &str,
        query: impl Fn(&str) -> Option<&'q str>,
    ) -> Option<&'q str> {
        self.filters.contains(&name).then(|| query(name)).flatten()
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    body: bool,
    action: Action,
) -> Route {
    Route {
        method,
        path,
        access,
        body,
        listing: None,
        filters: &[],
        action,
    }
}

const fn listing(
    path: &'static str,
    filters: &'static [&'static str],
    access: Access,
    action: Action,
) -> Route {
    Route {
        method: "GET",
        path,
        access,
        body: false,
        listing: Some(path),
        filters,
        action,
    }
}

use Access::{Both, Operator, Team};
use Action::*;

pub const ROUTES: &[Route] = &[
    route("POST", "outage-reports", Operator, true, ReportOutage),
    // A private agent's results, with the operator's own credentials.
    route("POST", "probe-results", Operator, true, PushResults),
    listing(
        "incidents",
        &["operator", "status", "owed_by"],
        Both,
        ListIncidents,
    ),
    route("GET", "incidents/{}", Both, false, GetIncident),
    route("POST", "incidents", Team, true, Raise),
    // The side that owes the answer, or the team (decided in the core).
    route(
        "POST",
        "incidents/{}/acknowledgement",
        Both,
        false,
        Acknowledge,
    ),
    route("POST", "incidents/{}/updates", Both, true, PostUpdate),
    // An optional body: a closing message.
    route("POST", "incidents/{}/resolution", Both, false, Resolve),
    route(
        "POST",
        "information-requests",
        Operator,
        true,
        AskInformation,
    ),
    listing("maintenance", &[], Both, ListMaintenance),
    route("POST", "maintenance", Both, true, Announce),
    route("POST", "maintenance/{}/approval", Team, false, Approve),
    route("POST", "maintenance/{}/completion", Both, false, Complete),
    route("POST", "maintenance/{}/cancellation", Both, false, Cancel),
    route("POST", "outage-notices", Team, true, NoticeOutage),
    // Every operator told may read them; the team updates and resolves.
    listing("outage-notices", &[], Both, ListNotices),
    route("GET", "outage-notices/{}", Both, false, GetNotice),
    route(
        "POST",
        "outage-notices/{}/updates",
        Both,
        true,
        UpdateNotice,
    ),
    // An optional body: closing words.
    route(
        "POST",
        "outage-notices/{}/resolution",
        Both,
        false,
        ResolveNotice,
    ),
    route("POST", "bugs", Both, true, ReportBug),
    listing("bugs", &["operator", "status"], Both, ListBugs),
    route("GET", "bugs/{}", Both, false, GetBug),
    route("POST", "bugs/{}/triage", Both, true, Triage),
    route("POST", "bugs/{}/schedule", Both, true, Schedule),
    route("POST", "bugs/{}/deployment", Both, false, Deploy),
    Route {
        filters: &["operator"],
        ..route("GET", "reports/{}", Both, false, Report)
    },
    listing("operators", &[], Team, ListOperators),
    route("GET", "operators/{}", Team, false, GetOperator),
    // Its body is parsed (and refused when empty) by the handler.
    route("PUT", "operators/{}", Team, false, PutOperator),
    route("DELETE", "operators/{}", Team, false, RetireOperator),
];

/// The segments of `path` after `/v1` (API Gateway may put a stage first).
fn after_v1(path: &str) -> Option<Vec<&str>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let v1 = segments.iter().position(|s| *s == "v1")?;
    Some(segments[v1 + 1..].to_vec())
}

/// The path parameters if `pattern` matches `segments`.
fn matches<'p>(pattern: &str, segments: &[&'p str]) -> Option<Vec<&'p str>> {
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, seg) in parts.iter().zip(segments) {
        match *part {
            "{}" => params.push(*seg),
            literal if literal == *seg => {}
            _ => return None,
        }
    }
    Some(params)
}

/// The route for a request and its path parameters; 404 for a path no
/// route has, 405 with the methods it does have.
pub fn find<'p>(method: &str, path: &'p str) -> Result<(&'static Route, Vec<&'p str>), Problem> {
    let segments = after_v1(path).ok_or_else(Problem::not_found)?;
    let mut allowed: Vec<&str> = Vec::new();
    for r in ROUTES {
        if let Some(params) = matches(r.path, &segments) {
            if r.method == method {
                return Ok((r, params));
            }
            if !allowed.contains(&r.method) {
                allowed.push(r.method);
            }
        }
    }
    if allowed.is_empty() {
        return Err(Problem::not_found());
    }
    Err(Problem::not_allowed(method, path, allowed.join(", ")))
}
