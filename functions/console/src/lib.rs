//! The partner console: server-rendered pages under `/console/`, each read
//! through the partner use cases (`service::partner::Partner`) with the
//! caller's scope, exactly as the API reads them: an operator sees its own
//! pages, another operator's answers 404. Pages read without JavaScript;
//! every figure is also text (a bar's title and its hidden label).

use chrono::{DateTime, Utc};
use livesite_core::incident::Answer;
use livesite_core::partner::Actor;
use livesite_core::ports::{OperatorRegistry, RecordStore, Store};
use livesite_core::service::partner::{Partner, PartnerError};
use livesite_core::{OperatorId, Policy, Team};

mod forms;
mod pages;
mod records;

/// One request to the console: its path (from `/console`) and who calls.
pub struct Request<'a> {
    pub path: &'a str,
    /// The query string (without `?`): a listing's filters.
    pub query: &'a str,
    pub who: &'a Actor,
    pub now: DateTime<Utc>,
}

/// A page: its status and HTML, or where to go next (303).
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub html: String,
    pub location: Option<String>,
}

impl Page {
    fn html(status: u16, html: String) -> Self {
        Self {
            status,
            html,
            location: None,
        }
    }

    fn see_other(location: String) -> Self {
        Self {
            status: 303,
            html: String::new(),
            location: Some(location),
        }
    }
}

/// A form sent to the console: the action's path, who sends it, its
/// fields, and whether the browser said it came from the console's own
/// pages (`Sec-Fetch-Site` / `Origin`): a form from another site is
/// refused, so a page elsewhere cannot act for the caller.
pub struct Submission<'a> {
    pub path: &'a str,
    pub who: &'a Actor,
    pub now: DateTime<Utc>,
    pub form: &'a [(String, String)],
    pub same_origin: bool,
}

pub struct Console<'a, S> {
    pub store: &'a S,
    pub policy: &'a Policy,
    pub team: &'a Team,
}

impl<S> Console<'_, S>
where
    S: Store + RecordStore + OperatorRegistry,
{
    /// The page at `req.path`; 404 for a path no page has, or a record the
    /// caller may not see (the same answer, as the API gives).
    pub async fn page(&self, req: &Request<'_>) -> Page {
        let partner = Partner::new(self.store, self.policy, self.team);
        let path = req.path.trim_start_matches("/console").trim_matches('/');
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let shown = match parts.as_slice() {
            [] => pages::overview(&partner, req).await,
            ["operators", id] => match OperatorId::new(*id) {
                Ok(id) => pages::operator(&partner, req, &id).await,
                Err(_) => Err(PartnerError::NotFound),
            },
            ["incidents"] => pages::incidents(&partner, req).await,
            ["maintenance"] => records::maintenance(&partner, req).await,
            ["bugs"] => records::bugs(&partner, req).await,
            ["incidents", id] => pages::incident(&partner, req, id, &pages::Typed::default()).await,
            _ => Err(PartnerError::NotFound),
        };
        Self::shown(shown, 200)
    }

    fn shown(shown: Result<String, PartnerError>, status: u16) -> Page {
        match shown {
            Ok(html) => Page::html(status, html),
            Err(PartnerError::NotFound) => Page::html(404, pages::not_found()),
            Err(e) => Page::html(500, pages::failed(&e)),
        }
    }

    /// An answer to an incident (acknowledge, update, resolve) through the
    /// use case, then back to its page; a refusal is shown on the page, next
    /// to the field it is about, with what was typed kept. A form sent twice
    /// (its `submission` field seen before) acts once.
    pub async fn submit(&self, s: &Submission<'_>) -> Page {
        if !s.same_origin {
            return Page::html(
                403,
                pages::failed(&PartnerError::Forbidden("a form from another site".into())),
            );
        }
        let path = s.path.trim_start_matches("/console").trim_matches('/');
        let parts: Vec<&str> = path.split('/').collect();
        let (id, answer) = match parts.as_slice() {
            ["incidents", id, "acknowledgement"] => (*id, Answer::Acknowledge),
            ["incidents", id, "updates"] => (*id, Answer::Update),
            ["incidents", id, "resolution"] => (*id, Answer::Resolve),
            _ => return Page::html(404, pages::not_found()),
        };
        let field = |name: &str| {
            s.form
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let back = format!("/console/incidents/{id}");
        if !forms::first_time(self.store, field("submission").as_deref(), s.now).await {
            return Page::see_other(back);
        }
        let message = field("message").filter(|m| answer == Answer::Update || !m.is_empty());
        let partner = Partner::new(self.store, self.policy, self.team);
        match partner
            .answer(s.who, id, answer, message.clone(), s.now)
            .await
        {
            Ok(_) => Page::see_other(back),
            Err(PartnerError::NotFound) => Page::html(404, pages::not_found()),
            Err(e) => {
                let typed = pages::Typed {
                    message: message.unwrap_or_default(),
                    error: Some(e.to_string()),
                };
                let req = Request {
                    path: s.path,
                    query: "",
                    who: s.who,
                    now: s.now,
                };
                Self::shown(pages::incident(&partner, &req, id, &typed).await, 422)
            }
        }
    }
}
