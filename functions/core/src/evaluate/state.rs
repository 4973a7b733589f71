//! What the evaluator keeps per operator between batches: the streak, the
//! windows of recent verdicts, the open incidents, the open day.

use super::*;

/// One probe's verdict kept for the flapping and latency windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub up: bool,
    /// Up and timed: whether slower than the latency SLA. `None` when down,
    /// or when the timing can't be trusted (the prober's own CPU wait).
    #[serde(default)]
    pub slow: Option<bool>,
}

/// An address of the portal's name failing since `since` (the first failure
/// of its unbroken run), for the partial-outage rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressDown {
    pub address: std::net::IpAddr,
    pub since: DateTime<Utc>,
}

/// Probe counts of one 15-minute bucket, for the burn-rate windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub good: u32,
    pub bad: u32,
}

pub const BUCKET_MINUTES: i64 = 15;

/// A reference to an open incident, kept in the state so the evaluator needs
/// no incident lookup per probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenRef {
    pub id: String,
    pub severity: Severity,
    pub kind: IncidentKind,
    pub started_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
}

/// Everything the evaluator remembers about one operator's portal.
///
/// Its serde form is compact (module `compact`): the state is written on
/// every batch and billed by the KB. `remote = "Self"` lets `Deserialize`
/// finish what the fields alone cannot: the open incidents' ids, which are
/// the operator's and so are not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct MonitorState {
    pub operator: OperatorId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<FailureReason>,
    /// First failed probe of the current unbroken run of failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_since: Option<DateTime<Utc>>,
    pub consecutive_successes: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub outage: Option<OpenRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub flapping: Option<OpenRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub latency: Option<OpenRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub partial: Option<OpenRef>,
    /// The portal's addresses failing now, when its name has several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses_down: Vec<AddressDown>,
    /// With several locations: the votes of rounds not decided yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub votes: Vec<quorum::Vote>,
    /// With several locations: the last round decided; a vote for it or an
    /// earlier one comes too late and changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_through: Option<DateTime<Utc>>,
    /// Each location's latest vote: the sweep tells the team of a location
    /// that stopped voting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_seen: Vec<quorum::LocationRun>,
    /// Locations failing while the quorum sees the portal up, since when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_runs: Vec<quorum::LocationRun>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub path: Option<OpenRef>,
    /// The run (by its start) whose page maintenance already suppressed, so the
    /// suppression is reported once, not at every probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_run: Option<DateTime<Utc>>,
    #[serde(default, with = "compact::samples")]
    pub recent: Vec<Sample>,
    /// The portal certificate's expiry, as the last TLS probe saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// Probe counts outside maintenance, 15 minutes a bucket, 24 hours kept.
    #[serde(default, with = "compact::buckets")]
    pub buckets: Vec<Bucket>,
    /// Per burn tier (by index), when it last warned; it warns again only
    /// a day later.
    #[serde(default)]
    pub burn_warned: Vec<Option<DateTime<Utc>>>,
    /// The day being counted on the operator's calendar (`summary`): closed
    /// and stored with the first round of the next day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<crate::summary::DaySummary>,
    /// The operator's own agents (`witness`): each one's latest slot and
    /// run of failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<witness::Witness>,
    /// The `walled_garden` incident an agent's failures opened.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact::open_ref"
    )]
    pub garden: Option<OpenRef>,
}

impl Serialize for MonitorState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MonitorState::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for MonitorState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut state = MonitorState::deserialize(d)?;
        for open in [
            &mut state.outage,
            &mut state.flapping,
            &mut state.latency,
            &mut state.partial,
            &mut state.path,
            &mut state.garden,
        ]
        .into_iter()
        .flatten()
        {
            if open.id.is_empty() {
                open.id = incident_id(&state.operator, open.started_at, open.kind);
            }
        }
        Ok(state)
    }
}

impl MonitorState {
    pub fn new(operator: OperatorId) -> Self {
        Self {
            operator,
            last_probe_at: None,
            last_outcome: None,
            last_reason: None,
            down_since: None,
            consecutive_successes: 0,
            outage: None,
            flapping: None,
            latency: None,
            partial: None,
            addresses_down: Vec::new(),
            votes: Vec::new(),
            decided_through: None,
            location_seen: Vec::new(),
            location_runs: Vec::new(),
            path: None,
            suppressed_run: None,
            recent: Vec::new(),
            cert_expires_at: None,
            buckets: Vec::new(),
            burn_warned: Vec::new(),
            day: None,
            witnesses: Vec::new(),
            garden: None,
        }
    }
}
