//! The partner console: server-rendered pages under `/console/`, each read
//! through the partner use cases (`service::partner::Partner`) with the
//! caller's scope, exactly as the API reads them: an operator sees its own
//! pages, another operator's answers 404. Pages read without JavaScript;
//! every figure is also text (a bar's title and its hidden label).

use chrono::{DateTime, Utc};
use livesite_core::partner::Actor;
use livesite_core::ports::{OperatorRegistry, RecordStore, Store};
use livesite_core::service::partner::{Partner, PartnerError};
use livesite_core::{OperatorId, Policy, Team};

mod pages;

/// One request to the console: its path (from `/console`) and who calls.
pub struct Request<'a> {
    pub path: &'a str,
    pub who: &'a Actor,
    pub now: DateTime<Utc>,
}

/// A page: its status and HTML.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub html: String,
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
            ["incidents", id] => pages::incident(&partner, req, id).await,
            _ => Err(PartnerError::NotFound),
        };
        match shown {
            Ok(html) => Page { status: 200, html },
            Err(PartnerError::NotFound) => Page {
                status: 404,
                html: pages::not_found(),
            },
            Err(e) => Page {
                status: 500,
                html: pages::failed(&e),
            },
        }
    }
}
