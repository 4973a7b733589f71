//! The DYNAMO team: who is paged and copied, and who mail comes from.

use super::*;

/// The DYNAMO team: who is paged and copied, and who mail comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub sender: EmailAddress,
    pub emails: Vec<EmailAddress>,
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

impl Team {
    /// The partner API's address of `path` (after `/v1`, starting with
    /// `/`): absolute where the API's URL is known, else `/v1{path}`.
    pub fn api(&self, path: &str) -> String {
        match &self.api_url {
            Some(base) => format!("{}{path}", base.as_str().trim_end_matches('/')),
            None => format!("/v1{path}"),
        }
    }
}
