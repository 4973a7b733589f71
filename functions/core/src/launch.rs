//! Launch readiness (the seed's go-live section): an operator's launch
//! record, its steps and who owes each, and the gate before go-live.
//!
//! This module holds the rules only: ICCIDs and their ranges as the
//! programme team configures them, the steps, and the go-live decision.
//! The API, the clocks (reminders like the incident clocks) and the
//! monitor following the stage are to come (docs/launch.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An ICCID: 19 or 20 digits, the last a Luhn check digit (ITU-T E.118).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iccid(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IccidError {
    #[error("{0:?}: an ICCID is 19 or 20 digits")]
    Shape(String),
    #[error("{0:?}: the check digit is wrong (Luhn)")]
    CheckDigit(String),
    #[error("a range runs from its first ICCID to its last, both the same length")]
    Range,
    #[error("a range's ICCIDs share their issuer prefix (the first 7 digits)")]
    Issuer,
}

/// Whether the digits' Luhn sum (with the last as the check digit) is a
/// multiple of ten.
fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl Iccid {
    pub fn parse(raw: &str) -> Result<Self, IccidError> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if !(19..=20).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IccidError::Shape(raw.to_string()));
        }
        if !luhn_ok(&s) {
            return Err(IccidError::CheckDigit(raw.to_string()));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Iccid {
    type Error = IccidError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Iccid> for String {
    fn from(i: Iccid) -> Self {
        i.0
    }
}

/// Which SIMs a range is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimKind {
    Esim,
    Sim,
}

/// The operator's choice: a test subset, or its full production range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeScope {
    TestSubset,
    Full,
}

/// An ICCID range the programme team configures in production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IccidRange {
    pub kind: SimKind,
    pub scope: RangeScope,
    pub first: Iccid,
    pub last: Iccid,
}

impl IccidRange {
    pub fn new(
        kind: SimKind,
        scope: RangeScope,
        first: Iccid,
        last: Iccid,
    ) -> Result<Self, IccidError> {
        // Same length, so the digits compare as numbers do.
        if first.0.len() != last.0.len() || first > last {
            return Err(IccidError::Range);
        }
        if first.0[..7] != last.0[..7] {
            return Err(IccidError::Issuer);
        }
        Ok(Self {
            kind,
            scope,
            first,
            last,
        })
    }

    pub fn contains(&self, iccid: &Iccid) -> bool {
        iccid.0.len() == self.first.0.len() && *iccid >= self.first && *iccid <= self.last
    }
}

/// The seed's steps before go-live, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Outstanding issues reviewed and addressed by both sides.
    IssuesReviewed,
    /// The operator's ICCID range configured in production by the team.
    IccidRangeConfigured,
    /// From the staging endpoint to production.
    MigratedToProduction,
    /// The operator's first run with eSIM, recorded.
    ValidatedWithEsim,
    /// The operator's first run with SIM, recorded.
    ValidatedWithSim,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::IssuesReviewed,
        Step::IccidRangeConfigured,
        Step::MigratedToProduction,
        Step::ValidatedWithEsim,
        Step::ValidatedWithSim,
    ];
}

/// Why go-live is refused, or what overriding it recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoLiveError {
    #[error("steps still open: {0:?}; approve with a recorded reason to go live anyway")]
    Missing(Vec<Step>),
    #[error("an override needs its reason written down")]
    NoReason,
    #[error("already live since {0}")]
    AlreadyLive(DateTime<Utc>),
}

/// An operator's launch: the steps done (and when), and go-live.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LaunchRecord {
    pub done: Vec<(Step, DateTime<Utc>)>,
    /// Integrated against a staging endpoint first: then the migration is a
    /// step; an operator that went straight to production has no such step.
    pub staging_first: bool,
    pub ranges: Vec<IccidRange>,
    pub live_since: Option<DateTime<Utc>>,
    /// Why the team went live with steps open, when it did.
    pub overridden: Option<String>,
}

impl LaunchRecord {
    /// The steps this launch needs: the migration only after staging; the
    /// eSIM and SIM runs only for the kinds of range configured (both when
    /// none is yet).
    pub fn required(&self) -> Vec<Step> {
        let has = |k: SimKind| self.ranges.is_empty() || self.ranges.iter().any(|r| r.kind == k);
        Step::ALL
            .into_iter()
            .filter(|s| match s {
                Step::MigratedToProduction => self.staging_first,
                Step::ValidatedWithEsim => has(SimKind::Esim),
                Step::ValidatedWithSim => has(SimKind::Sim),
                _ => true,
            })
            .collect()
    }

    pub fn missing(&self) -> Vec<Step> {
        self.required()
            .into_iter()
            .filter(|s| !self.done.iter().any(|(d, _)| d == s))
            .collect()
    }

    /// Records a step once (a second record keeps the first time).
    pub fn complete(&mut self, step: Step, at: DateTime<Utc>) {
        if !self.done.iter().any(|(d, _)| *d == step) {
            self.done.push((step, at));
        }
    }

    /// The team's go-live: refused while a required step is open, unless
    /// overridden with a reason, which is kept.
    pub fn go_live(
        &mut self,
        at: DateTime<Utc>,
        override_reason: Option<&str>,
    ) -> Result<(), GoLiveError> {
        if let Some(since) = self.live_since {
            return Err(GoLiveError::AlreadyLive(since));
        }
        let missing = self.missing();
        match override_reason.map(str::trim) {
            _ if missing.is_empty() => {}
            None => return Err(GoLiveError::Missing(missing)),
            Some("") => return Err(GoLiveError::NoReason),
            Some(reason) => self.overridden = Some(reason.to_string()),
        }
        self.live_since = Some(at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn iccids_are_19_or_20_digits_with_a_luhn_check_digit() {
        let table = [
            ("8934071234567890125", true),     // 19 digits, valid
            ("89340712345678901234", true),    // 20 digits, valid
            ("8934 0712 3456 7890 125", true), // spaces as printed on cards
            ("8934071234567890127", false),    // wrong check digit
            ("893407123456789012", false),     // 18 digits
            ("893407123456789012345", false),  // 21 digits
            ("893407123456789012X", false),
        ];
        for (raw, ok) in table {
            assert_eq!(Iccid::parse(raw).is_ok(), ok, "{raw}");
        }
        assert!(matches!(
            Iccid::parse("8934071234567890127"),
            Err(IccidError::CheckDigit(_))
        ));
    }

    #[test]
    fn a_range_runs_up_within_one_issuer() {
        let i = |s| Iccid::parse(s).unwrap();
        let r = IccidRange::new(
            SimKind::Esim,
            RangeScope::TestSubset,
            i("8934071234567890125"),
            i("8934071234567890992"),
        )
        .unwrap();
        assert!(r.contains(&i("8934071234567890505")));
        assert!(!r.contains(&i("8934071234567891008")));
        let backwards = IccidRange::new(
            SimKind::Sim,
            RangeScope::Full,
            i("8934071234567890992"),
            i("8934071234567890125"),
        );
        assert_eq!(backwards, Err(IccidError::Range));
        let lengths = IccidRange::new(
            SimKind::Sim,
            RangeScope::Full,
            i("8934071234567890125"),
            i("89340712345678901234"),
        );
        assert_eq!(lengths, Err(IccidError::Range));
        let issuers = IccidRange::new(
            SimKind::Sim,
            RangeScope::Full,
            i("8934071234567890125"),
            i("8944071234567890124"),
        );
        assert_eq!(issuers, Err(IccidError::Issuer));
    }

    #[test]
    fn go_live_waits_for_every_required_step_or_a_written_reason() {
        let mut r = LaunchRecord {
            staging_first: true,
            ..Default::default()
        };
        assert_eq!(r.required().len(), 5);
        let at = t("2026-12-07T10:00:00Z");
        assert!(matches!(r.go_live(at, None), Err(GoLiveError::Missing(m)) if m.len() == 5));
        assert_eq!(r.go_live(at, Some("  ")), Err(GoLiveError::NoReason));
        for s in Step::ALL {
            r.complete(s, at);
        }
        r.complete(Step::IssuesReviewed, t("2026-12-08T10:00:00Z"));
        assert_eq!(r.done[0].1, at, "the first time stands");
        r.go_live(at, None).unwrap();
        assert_eq!(r.go_live(at, None), Err(GoLiveError::AlreadyLive(at)));

        // Straight to production with eSIM only: no migration, no SIM run.
        let i = |s| Iccid::parse(s).unwrap();
        let mut esim = LaunchRecord::default();
        esim.ranges.push(
            IccidRange::new(
                SimKind::Esim,
                RangeScope::Full,
                i("8934071234567890125"),
                i("8934071234567890992"),
            )
            .unwrap(),
        );
        assert_eq!(
            esim.required(),
            [
                Step::IssuesReviewed,
                Step::IccidRangeConfigured,
                Step::ValidatedWithEsim
            ]
        );
        esim.go_live(at, Some("launch date fixed by the board; SIM later"))
            .unwrap();
        assert_eq!(
            esim.overridden.as_deref(),
            Some("launch date fixed by the board; SIM later")
        );
    }
}
