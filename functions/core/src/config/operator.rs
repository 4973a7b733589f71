//! An operator: its portal check, contacts, calendar, agents, clients and
//! announced maintenance windows.

use super::*;

/// What the probe asks of a portal and what counts as the expected response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalCheck {
    pub url: Url,
    #[serde(default = "default_expect_status")]
    pub expect_status: Vec<u16>,
    /// Text that must appear in the first `body_scan_bytes` of the body.
    #[serde(default)]
    pub expect_body: Option<String>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u8,
    #[serde(default = "default_body_scan_bytes")]
    pub body_scan_bytes: usize,
}

fn default_expect_status() -> Vec<u16> {
    vec![200]
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_redirects() -> u8 {
    5
}
fn default_body_scan_bytes() -> usize {
    64 * 1024
}

impl PortalCheck {
    /// The longest a probe may take. The probe function (30 s on AWS) must
    /// finish every probe and still write the round's results: this leaves
    /// the write margin (`livesite_probe_fn::WRITE_MARGIN`) inside the
    /// function's timeout; tests/template.rs checks the sum against the
    /// template.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(20);
    /// Redirects a probe may follow: each is a fresh connection, and a portal
    /// needs one or two.
    pub const MAX_REDIRECTS: u8 = 10;
    /// Body bytes a probe may read looking for the expected text. The scan
    /// keeps only the text's length in memory, so this bounds time, not
    /// memory (docs/aws-limits.md has the round's memory arithmetic).
    pub const MAX_BODY_SCAN: usize = 1024 * 1024;

    pub fn new(url: Url) -> Self {
        Self {
            url,
            expect_status: default_expect_status(),
            expect_body: None,
            timeout: default_timeout(),
            max_redirects: default_max_redirects(),
            body_scan_bytes: default_body_scan_bytes(),
        }
    }
}

/// A planned maintenance window announced for an operator's services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub announced_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: Option<String>,
}

impl MaintenanceWindow {
    /// Half-open: a probe at `end` is outside the window, so an overrun pages.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub id: OperatorId,
    pub name: String,
    pub portal: PortalCheck,
    pub contacts: Vec<EmailAddress>,
    /// UTC when not given (chrono-tz's default).
    #[serde(default)]
    pub timezone: chrono_tz::Tz,
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
    /// Its working days (`["sun", "mon", "tue", "wed", "thu"]`); Monday to
    /// Friday when not given.
    #[serde(
        default = "crate::calendar::default_workdays",
        with = "crate::calendar::weekdays"
    )]
    pub workdays: Vec<chrono::Weekday>,
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
    /// API client ids (the `client_id` claim of the operator's access tokens)
    /// that act for this operator.
    #[serde(default)]
    pub api_clients: Vec<String>,
    /// Who the operations centre calls for a High incident, in order (E.164).
    #[serde(default)]
    pub escalation_phones: Vec<PhoneNumber>,
    /// The locations of this operator's private agents (`livesite agent`):
    /// the only locations its pushed results may carry, so an operator can
    /// never vote as one of the team's regions.
    #[serde(default)]
    pub agents: Vec<String>,
}

impl Operator {
    pub fn calendar(&self) -> BusinessCalendar {
        BusinessCalendar {
            workdays: self.workdays.clone(),
            ..BusinessCalendar::new(self.timezone, self.holidays.iter().copied())
        }
    }

    pub fn in_maintenance(&self, t: DateTime<Utc>) -> bool {
        self.maintenance.iter().any(|w| w.contains(t))
    }
}

impl Operator {
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(err(format!("{path}.name"), "must not be empty"));
        }
        if let Some(bad) = self.agents.iter().find(|a| !crate::probe::location_ok(a)) {
            return Err(err(
                format!("{path}.agents"),
                format!("{bad:?}: 1 to 64 characters of a-z, 0-9 and '-'"),
            ));
        }
        if self.workdays.is_empty() {
            // No business day at all: every business-day clock would never end.
            return Err(err(
                format!("{path}.workdays"),
                "list at least one working day",
            ));
        }
        self.portal.validate(&format!("{path}.portal"))?;
        if self.contacts.is_empty() {
            return Err(err(
                format!("{path}.contacts"),
                "list at least one address: incidents are emailed there",
            ));
        }
        for (i, w) in self.maintenance.iter().enumerate() {
            if w.end <= w.start {
                return Err(err(
                    format!("{path}.maintenance[{i}].end"),
                    "must be after start",
                ));
            }
        }
        Ok(())
    }
}

/// Agent and location names are one namespace: an operator's agent may be
/// named like none of `locations` (the monitor's own) and like no other
/// operator's agent. A clash would make one name two things: every operator's
/// rounds drop a name that is an agent (agents never vote), so an agent
/// named like a region would take that region out of everyone's votes.
/// The clashing name and what it clashes with, if any.
pub fn agent_clash<'a>(
    operator: &'a Operator,
    others: &'a [Operator],
    locations: &[String],
) -> Option<(&'a str, String)> {
    operator.agents.iter().find_map(|a| {
        if locations.contains(a) {
            return Some((a.as_str(), "one of the monitor's own locations".to_string()));
        }
        others
            .iter()
            .find(|o| o.id != operator.id && o.agents.contains(a))
            .map(|o| (a.as_str(), format!("an agent of operator {}", o.id)))
    })
}

impl PortalCheck {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if !matches!(self.url.scheme(), "http" | "https") || self.url.host_str().is_none() {
            return Err(err(
                format!("{path}.url"),
                format!(
                    "expected an http:// or https:// URL with a host, got {}",
                    self.url
                ),
            ));
        }
        if self.expect_status.is_empty() {
            return Err(err(
                format!("{path}.expect_status"),
                "list at least one status code",
            ));
        }
        if let Some(bad) = self
            .expect_status
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(err(
                format!("{path}.expect_status"),
                format!("{bad} is not an HTTP status code (100-599)"),
            ));
        }
        if self.expect_body.as_deref().is_some_and(str::is_empty) {
            return Err(err(
                format!("{path}.expect_body"),
                "omit it rather than leaving it empty",
            ));
        }
        if self.timeout.is_zero() || self.timeout > PortalCheck::MAX_TIMEOUT {
            return Err(err(
                format!("{path}.timeout"),
                format!(
                    "must be between 1ms and {}s (the probe function must finish every probe and write the round)",
                    PortalCheck::MAX_TIMEOUT.as_secs()
                ),
            ));
        }
        if self.body_scan_bytes == 0 || self.body_scan_bytes > PortalCheck::MAX_BODY_SCAN {
            return Err(err(
                format!("{path}.body_scan_bytes"),
                "must be between 1 and 1 MiB",
            ));
        }
        if self.max_redirects > PortalCheck::MAX_REDIRECTS {
            return Err(err(
                format!("{path}.max_redirects"),
                format!("at most {}", PortalCheck::MAX_REDIRECTS),
            ));
        }
        Ok(())
    }
}
