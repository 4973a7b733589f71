//! The DYNAMO team: who is paged and copied, and who mail comes from.

use super::*;

/// The DYNAMO team: who is paged and copied, and who mail comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub sender: EmailAddress,
    /// Every team address not given its own purpose (`[team.channels]`):
    /// the fallback of each channel left empty.
    pub emails: Vec<EmailAddress>,
    /// The team's mailboxes by purpose, as the contract routes them; each
    /// one left empty falls back to `emails`.
    #[serde(default)]
    pub channels: Channels,
    /// The operations centre's line for High incidents (the contract's
    /// "+1 425-538-9336"), shown to operators in every High email.
    #[serde(default)]
    pub phone: Option<PhoneNumber>,
    /// The team's business days (`[team.calendar]`): the clocks of the
    /// answers it owes and of its own maintenance notices.
    #[serde(default)]
    pub calendar: BusinessCalendar,
    /// The partner API's base URL, `/v1` included (the stack's
    /// `PartnerApiUrl`): every instruction in an email is a full request
    /// against it. Absent: instructions name the route (`/v1/...`) alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<url::Url>,
}

/// The seed's channels: the operations centre (OSOC) for High incidents and
/// for operators' core-network outages and maintenance, the programme
/// mailbox for Low incidents and reports, partner support for bugs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Channels {
    pub operations: Vec<EmailAddress>,
    pub programme: Vec<EmailAddress>,
    pub partner_support: Vec<EmailAddress>,
}

/// What a team email is about, which picks its mailbox (`Team::mailbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// High incidents, outages, core-network maintenance, the monitor's own
    /// health: the operations centre.
    Operations,
    /// Low incidents, information requests, reports, other maintenance:
    /// the programme mailbox.
    Programme,
    /// Bugs: partner support.
    PartnerSupport,
}

impl Purpose {
    /// An incident's channel follows its severity, as the contract's
    /// escalation table does (High: OSOC; Low: the DYNAMO team).
    pub fn of_severity(severity: Option<crate::incident::Severity>) -> Self {
        match severity {
            Some(crate::incident::Severity::High) => Self::Operations,
            _ => Self::Programme,
        }
    }
}

impl Team {
    /// The team's addresses for `purpose`: its channel, or every team
    /// address when that channel lists none.
    pub fn mailbox(&self, purpose: Purpose) -> Vec<EmailAddress> {
        let channel = match purpose {
            Purpose::Operations => &self.channels.operations,
            Purpose::Programme => &self.channels.programme,
            Purpose::PartnerSupport => &self.channels.partner_support,
        };
        if channel.is_empty() {
            self.emails.clone()
        } else {
            channel.clone()
        }
    }

    /// Whether `address` is one of the team's own mailboxes (any channel).
    pub fn owns(&self, address: &EmailAddress) -> bool {
        self.emails
            .iter()
            .chain(&self.channels.operations)
            .chain(&self.channels.programme)
            .chain(&self.channels.partner_support)
            .any(|t| t.same_mailbox(address))
    }

    /// The partner API's address of `path` (after `/v1`, starting with
    /// `/`): absolute where the API's URL is known, else `/v1{path}`.
    pub fn api(&self, path: &str) -> String {
        match &self.api_url {
            Some(base) => format!("{}{path}", base.as_str().trim_end_matches('/')),
            None => format!("/v1{path}"),
        }
    }
}
