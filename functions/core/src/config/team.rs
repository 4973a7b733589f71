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
}
