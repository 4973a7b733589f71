//! The probe record: what one check of one portal found. This is the schema the
//! stores keep, the replay command reads and `livesite check --json` prints
//! (documented in docs/probe-record.md).

use crate::ids::OperatorId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The expected response came (status and body), however slowly.
    Up,
    /// The expected response did not come.
    Down,
}

/// Why a probe failed. A fixed set, so alerts and reports can group by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The host name did not resolve.
    Dns,
    /// No TCP connection (refused, unreachable, reset during connect).
    Connect,
    /// The TLS handshake failed (untrusted or expired certificate, wrong name, protocol).
    Tls,
    /// The overall time limit ran out.
    Timeout,
    /// A status code outside the expected set.
    Status,
    /// The expected text was not found in the scanned prefix of the body.
    Body,
    /// More redirects than allowed, or a redirect without a usable location.
    Redirect,
    /// The peer spoke something that is not HTTP/1.1, or closed mid-response.
    Protocol,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Status => "status",
            Self::Body => "body",
            Self::Redirect => "redirect",
            Self::Protocol => "protocol",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Time spent in each phase, in milliseconds, summed over every redirect hop.
/// A phase that did not happen (no TLS on http, no DNS for an IP literal) is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    pub ttfb_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub operator: OperatorId,
    pub probed_at: DateTime<Utc>,
    pub outcome: Outcome,
    #[serde(default)]
    pub reason: Option<FailureReason>,
    #[serde(default)]
    pub status: Option<u16>,
    /// Total time to the verdict in milliseconds (`phases.total_ms`); absent when
    /// no time was measured (a record imported from elsewhere).
    #[serde(default)]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redirects: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// Human-readable detail of a failure (the underlying error), never parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The longest the prober's own runtime was late to run a ready task
    /// while this probe ran, in milliseconds (its CPU share used up, or
    /// handshakes queued): the latency may be up to this much more than the
    /// portal's. Above `MAX_CPU_WAIT_MS` the timing is not trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_wait_ms: Option<f64>,
    /// Each address the portal's name resolved to, probed on its own with the
    /// portal's host name (Host and SNI), when there were several (at most
    /// `MAX_ADDRESSES`). The probe is down only when every address failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<AddressResult>,
    /// Where the probe ran: an AWS region or a private agent's id. Absent:
    /// the single default location (records written before locations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The round this result answers (:00 or :30 of its minute), from the
    /// schedule that started the probe, not from when it ran: locations meet
    /// in the slot whatever their schedulers' jitter. Absent (replayed
    /// history, an agent's push): the slot `probed_at` falls in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<DateTime<Utc>>,
}

/// The longest location name: `[a-z0-9-]`, like an AWS region or an agent id.
pub const MAX_LOCATION_LEN: usize = 64;

/// Whether `name` can name a location.
pub fn location_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LOCATION_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One address's outcome within a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressResult {
    pub address: std::net::IpAddr,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// The most addresses of one name a probe checks (and a record keeps): a
/// portal's DNS answer can't multiply the prober's work or the record.
pub const MAX_ADDRESSES: usize = 8;

/// The most CPU wait a probe's timing may include and still count in the
/// latency figures: the error a latency against a 400 ms SLA can bear.
pub const MAX_CPU_WAIT_MS: f64 = 10.0;

fn is_zero(n: &u8) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeRecordError {
    #[error("field `reason`: a down probe needs a reason (one of dns, connect, tls, timeout, status, body, redirect, protocol)")]
    DownWithoutReason,
    #[error("field `reason`: an up probe has no failure reason, got {0:?}")]
    UpWithReason(FailureReason),
    #[error("field `latency_ms`: must be a finite, non-negative number of milliseconds")]
    BadLatency,
    #[error("field `cpu_wait_ms`: must be a finite, non-negative number of milliseconds")]
    BadCpuWait,
    #[error("field `status`: {0} is not an HTTP status code (100-599)")]
    BadStatus(u16),
    #[error("field `addresses`: {0} entries, more than the {MAX_ADDRESSES} a probe checks")]
    TooManyAddresses(usize),
    #[error("field `location`: 1 to {MAX_LOCATION_LEN} characters of a-z, 0-9 and '-'")]
    BadLocation,
    #[error("field `{field}`: {len} bytes, more than the {max} a probe record keeps")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

/// The longest `url` a probe record keeps, in bytes. A portal chooses its
/// redirect targets, so the final URL is bounded before it is stored: one
/// portal's answer can never make a shared batch write fail (DynamoDB's
/// 400 KB item limit, docs/aws-limits.md), and with `MAX_DETAIL_BYTES` every
/// probe item, whatever it holds, is one 1 KB write unit (test
/// `the_hot_writes_fit_one_write_unit_each`). A cut URL ends in `…`.
pub const MAX_URL_BYTES: usize = 384;
/// The longest `detail` a probe record keeps, in bytes.
pub const MAX_DETAIL_BYTES: usize = 256;

/// An operator's stable place in [0, 1) within a round's spread of probe
/// starts: FNV-1a of its id, then MurmurHash3's finaliser (FNV alone leaves
/// ids that differ in their last characters in one clump). The same on every
/// build and instance, so an operator keeps its place round after round.
pub fn spread_fraction(id: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn truncate(s: &mut String, max: usize) {
    const MARK: &str = "…";
    if s.len() <= max {
        return;
    }
    let mut end = max - MARK.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(MARK);
}

impl ProbeResult {
    /// Checks the record is self-consistent; readers of untrusted input call this.
    pub fn validate(&self) -> Result<(), ProbeRecordError> {
        match (self.outcome, self.reason) {
            (Outcome::Down, None) => return Err(ProbeRecordError::DownWithoutReason),
            (Outcome::Up, Some(r)) => return Err(ProbeRecordError::UpWithReason(r)),
            _ => {}
        }
        if let Some(l) = self.latency_ms {
            if !l.is_finite() || l < 0.0 {
                return Err(ProbeRecordError::BadLatency);
            }
        }
        if self.cpu_wait_ms.is_some_and(|w| !w.is_finite() || w < 0.0) {
            return Err(ProbeRecordError::BadCpuWait);
        }
        if self.location.as_deref().is_some_and(|l| !location_ok(l)) {
            return Err(ProbeRecordError::BadLocation);
        }
        if self.addresses.len() > MAX_ADDRESSES {
            return Err(ProbeRecordError::TooManyAddresses(self.addresses.len()));
        }
        for a in &self.addresses {
            match (a.outcome, a.reason) {
                (Outcome::Down, None) => return Err(ProbeRecordError::DownWithoutReason),
                (Outcome::Up, Some(r)) => return Err(ProbeRecordError::UpWithReason(r)),
                _ => {}
            }
            if a.latency_ms.is_some_and(|l| !l.is_finite() || l < 0.0) {
                return Err(ProbeRecordError::BadLatency);
            }
        }
        if let Some(s) = self.status {
            if !(100..=599).contains(&s) {
                return Err(ProbeRecordError::BadStatus(s));
            }
        }
        for (field, value, max) in [
            ("url", &self.url, MAX_URL_BYTES),
            ("detail", &self.detail, MAX_DETAIL_BYTES),
        ] {
            if let Some(v) = value.as_deref().filter(|v| v.len() > max) {
                return Err(ProbeRecordError::TooLong {
                    field,
                    len: v.len(),
                    max,
                });
            }
        }
        Ok(())
    }

    /// The record with its free-text fields cut to what a record keeps
    /// (`MAX_URL_BYTES`, `MAX_DETAIL_BYTES`); the prober stores only these.
    pub fn bounded(mut self) -> Self {
        if let Some(u) = &mut self.url {
            truncate(u, MAX_URL_BYTES);
        }
        if let Some(d) = &mut self.detail {
            truncate(d, MAX_DETAIL_BYTES);
        }
        self.addresses.truncate(MAX_ADDRESSES);
        self
    }

    pub fn is_up(&self) -> bool {
        self.outcome == Outcome::Up
    }

    /// The latency, when it can be trusted: measured, and with no more than
    /// `MAX_CPU_WAIT_MS` of the prober's own CPU wait in it.
    pub fn trusted_latency_ms(&self) -> Option<f64> {
        let reliable = self.cpu_wait_ms.is_none_or(|w| w <= MAX_CPU_WAIT_MS);
        self.latency_ms.filter(|_| reliable)
    }

    /// Up and no slower than the latency SLA. A probe without a measured
    /// latency cannot be shown to meet it.
    pub fn within_latency_sla(&self, sla_ms: u64) -> bool {
        meets_latency_sla(self.outcome, self.latency_ms, sla_ms)
    }
}

/// The latency SLA: the expected response came, no slower than `sla_ms`.
pub fn meets_latency_sla(outcome: Outcome, latency_ms: Option<f64>, sla_ms: u64) -> bool {
    outcome == Outcome::Up && latency_ms.is_some_and(|l| l <= sla_ms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timing_with_too_much_cpu_wait_is_not_trusted() {
        let mut p = ProbeResult {
            operator: OperatorId::new("contoso").unwrap(),
            probed_at: "2026-11-27T10:00:00Z".parse().unwrap(),
            outcome: Outcome::Up,
            reason: None,
            status: Some(200),
            latency_ms: Some(120.0),
            phases: None,
            url: None,
            redirects: 0,
            cert_expires_at: None,
            detail: None,
            cpu_wait_ms: None,
            addresses: vec![],
            location: None,
            slot: None,
        };
        let table = [
            (None, Some(120.0)),
            (Some(0.0), Some(120.0)),
            (Some(MAX_CPU_WAIT_MS), Some(120.0)),
            (Some(MAX_CPU_WAIT_MS + 0.001), None),
            (Some(300.0), None),
        ];
        for (wait, trusted) in table {
            p.cpu_wait_ms = wait;
            assert_eq!(p.trusted_latency_ms(), trusted, "{wait:?}");
            assert_eq!(p.validate(), Ok(()));
        }
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            p.cpu_wait_ms = Some(bad);
            assert_eq!(p.validate(), Err(ProbeRecordError::BadCpuWait), "{bad}");
        }
    }

    /// The places are part of the schedule: a changed hash moves every
    /// operator's probe within the round.
    #[test]
    fn spread_places_are_these_exact_values_on_every_build() {
        let table = [
            ("contoso", 0.669_958_555_085_604_4),
            ("fabrikam", 0.510_445_877_927_524_3),
            ("operator-1", 0.699_714_537_611_622_6),
            ("operator-2", 0.883_094_324_888_074_2),
        ];
        for (id, place) in table {
            assert_eq!(spread_fraction(id), place, "{id}");
        }
    }

    #[test]
    fn reasons_have_one_name_and_records_keep_their_edges() {
        use FailureReason::*;
        for (r, name) in [
            (Dns, "dns"),
            (Connect, "connect"),
            (Tls, "tls"),
            (Timeout, "timeout"),
            (Status, "status"),
            (Body, "body"),
            (Redirect, "redirect"),
            (Protocol, "protocol"),
        ] {
            assert_eq!((r.as_str(), r.to_string()), (name, name.to_string()));
            assert_eq!(serde_json::to_value(r).unwrap(), name);
        }
        let mut p: ProbeResult = serde_json::from_str(
            r#"{"operator":"contoso","probed_at":"2026-11-27T10:00:00Z","outcome":"up","latency_ms":0.0}"#,
        )
        .unwrap();
        assert_eq!(p.validate(), Ok(()), "a zero latency is a latency");
        assert!(
            !serde_json::to_string(&p).unwrap().contains("redirects"),
            "0 is left out"
        );
        p.redirects = 2;
        assert!(serde_json::to_string(&p)
            .unwrap()
            .contains(r#""redirects":2"#));
        p.url = Some("u".repeat(MAX_URL_BYTES));
        p.detail = Some("d".repeat(MAX_DETAIL_BYTES));
        assert_eq!(p.validate(), Ok(()), "at the bounds");
    }

    #[test]
    fn spread_places_are_stable_and_cover_the_round() {
        assert_eq!(spread_fraction("contoso"), spread_fraction("contoso"));
        assert_ne!(spread_fraction("contoso"), spread_fraction("fabrikam"));
        // 1,000 operators fill the spread: every tenth of it gets 60 to 140.
        let mut tenths = [0usize; 10];
        for i in 0..1000 {
            let f = spread_fraction(&format!("operator-{i}"));
            assert!((0.0..1.0).contains(&f));
            tenths[(f * 10.0) as usize] += 1;
        }
        assert!(tenths.iter().all(|n| (60..=140).contains(n)), "{tenths:?}");
    }

    #[test]
    fn bounded_cuts_url_and_detail_on_a_character_boundary_and_validates() {
        let mut p: ProbeResult = serde_json::from_str(
            r#"{"operator":"contoso","probed_at":"2026-11-27T10:00:00Z","outcome":"down","reason":"redirect"}"#,
        )
        .unwrap();
        // Multi-byte characters straddle the cut.
        p.url = Some(format!("https://x.example/{}", "é".repeat(300_000)));
        p.detail = Some("ü".repeat(100_000));
        assert!(matches!(
            p.validate(),
            Err(ProbeRecordError::TooLong { field: "url", .. })
        ));
        let b = p.bounded();
        let (url, detail) = (b.url.clone().unwrap(), b.detail.clone().unwrap());
        assert!(
            url.len() <= MAX_URL_BYTES && url.len() > MAX_URL_BYTES - 4,
            "{}",
            url.len()
        );
        assert!(url.ends_with('…') && url.starts_with("https://x.example/é"));
        assert!(detail.len() <= MAX_DETAIL_BYTES && detail.len() > MAX_DETAIL_BYTES - 4);
        assert_eq!(b.validate(), Ok(()));
        // Short values are kept as they are.
        let mut short = b.clone();
        short.url = Some("https://x.example/".into());
        assert_eq!(
            short.clone().bounded().url.as_deref(),
            Some("https://x.example/")
        );
        short.detail = Some("x".repeat(MAX_DETAIL_BYTES));
        assert_eq!(
            short.clone().bounded().detail,
            short.detail,
            "exactly the bound is kept"
        );
    }

    #[test]
    fn minimal_record_parses_and_validates() {
        let line = r#"{"operator":"contoso","probed_at":"2026-11-27T10:00:00Z","outcome":"down","reason":"timeout","status":null,"latency_ms":10000}"#;
        let p: ProbeResult = serde_json::from_str(line).unwrap();
        assert_eq!(p.reason, Some(FailureReason::Timeout));
        p.validate().unwrap();
        assert!(!p.within_latency_sla(400));
    }

    #[test]
    fn validation_table() {
        let base: ProbeResult = serde_json::from_str(
            r#"{"operator":"a","probed_at":"2026-11-27T10:00:00Z","outcome":"up","status":200,"latency_ms":120}"#,
        )
        .unwrap();
        base.validate().unwrap();
        assert!(base.within_latency_sla(400));
        let cases: Vec<(ProbeResult, ProbeRecordError)> = vec![
            (
                ProbeResult {
                    outcome: Outcome::Down,
                    ..base.clone()
                },
                ProbeRecordError::DownWithoutReason,
            ),
            (
                ProbeResult {
                    reason: Some(FailureReason::Body),
                    ..base.clone()
                },
                ProbeRecordError::UpWithReason(FailureReason::Body),
            ),
            (
                ProbeResult {
                    latency_ms: Some(-1.0),
                    ..base.clone()
                },
                ProbeRecordError::BadLatency,
            ),
            (
                ProbeResult {
                    status: Some(42),
                    ..base.clone()
                },
                ProbeRecordError::BadStatus(42),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(p.validate(), Err(want));
        }
        let slow = ProbeResult {
            latency_ms: Some(400.5),
            ..base.clone()
        };
        assert!(!slow.within_latency_sla(400));
        let edge = ProbeResult {
            latency_ms: Some(400.0),
            ..base
        };
        assert!(edge.within_latency_sla(400));
    }
}
