//! The state is written on every batch, and DynamoDB bills writes by the KB:
//! the two windows are stored as short strings rather than lists of maps, so
//! that a day of any probe history keeps the whole state item within one
//! write unit (test `the_hot_state_fits_one_write_unit` in tests/limits.rs).
//!
//! Both encodings start with a base time and then spend about one byte per
//! sample (and a few per bucket), because probes come at a steady step:
//!
//! * samples: `<first epoch>;<step>;<flags>`, a flag `u` or `d` per sample,
//!   each `step` seconds after the one before; a sample at another distance
//!   is written `+<seconds>` before its flag. `1764237600;30;uuddu+90u`.
//! * buckets: `<first start epoch>;<usual count>;<entries>`, one
//!   comma-separated entry per 15-minute slot from the first: the bad count
//!   of a bucket holding the usual number of probes (30 at two a minute),
//!   `good.bad` of any other, empty for a slot without a bucket, and `*n`
//!   after an entry repeated `n` times. `1764237600;30;0*3,2,,17.0`.
//!
//! * an open incident: `<kind>/<severity>/<start epoch>/<opened epoch>`; its
//!   id is `incident_id` of the state's operator, start and kind, so it is
//!   not written (an id of any other form is stored whole).
//!
//! The first format (`<epoch>u,<epoch>d` and `<epoch>:<good>:<bad>` lists,
//! without `;`) is still read, so states written before stay valid.

use super::{Bucket, OpenRef, Sample, BUCKET_MINUTES};
use crate::ids::key_time;
use crate::incident::{IncidentKind, Severity};
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// A value that is not a window this module wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad {what} {text:?}")]
pub struct BadWindow {
    what: &'static str,
    text: String,
}

fn bad(what: &'static str, text: &str) -> BadWindow {
    BadWindow {
        what,
        text: text.chars().take(40).collect(),
    }
}

fn epoch(text: &str) -> Option<DateTime<Utc>> {
    text.parse::<i64>()
        .ok()
        .and_then(|t| DateTime::from_timestamp(t, 0))
}

pub fn encode_samples(v: &[Sample]) -> String {
    let (Some(first), rest) = (v.first(), v.get(1..).unwrap_or_default()) else {
        return String::new();
    };
    let step = rest.first().map_or(0, |x| (x.at - first.at).num_seconds());
    let mut out = format!("{};{step};", first.at.timestamp());
    out.push(flag(first));
    for pair in v.windows(2) {
        let gap = (pair[1].at - pair[0].at).num_seconds();
        if gap != step {
            let _ = write!(out, "+{gap}");
        }
        out.push(flag(&pair[1]));
    }
    out
}

/// A sample's letter: `d` down; up and within the latency SLA `u`, slower
/// `s`, not timed (or timed with the prober's own CPU wait) `x`.
fn flag(x: &Sample) -> char {
    match (x.up, x.slow) {
        (false, _) => 'd',
        (true, Some(false)) => 'u',
        (true, Some(true)) => 's',
        (true, None) => 'x',
    }
}

fn sample(at: DateTime<Utc>, flag: char) -> Option<Sample> {
    let (up, slow) = match flag {
        'd' => (false, None),
        'u' => (true, Some(false)),
        's' => (true, Some(true)),
        'x' => (true, None),
        _ => return None,
    };
    Some(Sample { at, up, slow })
}

pub fn decode_samples(text: &str) -> Result<Vec<Sample>, BadWindow> {
    let err = || bad("samples", text);
    let mut parts = text.splitn(3, ';');
    let (Some(base), Some(step), Some(flags)) = (parts.next(), parts.next(), parts.next()) else {
        return decode_samples_v1(text);
    };
    let mut at = epoch(base).ok_or_else(err)?;
    let step: i64 = step.parse().map_err(|_| err())?;
    let mut out = Vec::with_capacity(flags.len());
    let mut gap: Option<i64> = None;
    let mut digits = String::new();
    for c in flags.chars() {
        match c {
            '+' => gap = Some(0),
            '0'..='9' if gap.is_some() => digits.push(c),
            'u' | 'd' | 's' | 'x' => {
                let g = match gap.take() {
                    // The first sample is at the base itself.
                    Some(_) if out.is_empty() => return Err(err()),
                    Some(_) => digits.parse().map_err(|_| err())?,
                    None if out.is_empty() => 0,
                    None => step,
                };
                digits.clear();
                at += chrono::Duration::seconds(g);
                out.extend(sample(at, c));
            }
            _ => return Err(err()),
        }
    }
    if gap.is_some() {
        return Err(err());
    }
    Ok(out)
}

fn decode_samples_v1(text: &str) -> Result<Vec<Sample>, BadWindow> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (secs, flag) = p.split_at(p.len().saturating_sub(1));
            let at = epoch(secs).ok_or_else(|| bad("sample", p))?;
            match flag {
                "u" | "d" => {
                    sample(at, if flag == "u" { 'u' } else { 'd' }).ok_or_else(|| bad("sample", p))
                }
                _ => Err(bad("sample", p)),
            }
        })
        .collect()
}

const SLOT: i64 = BUCKET_MINUTES * 60;

/// A bucket's entry: its bad count alone when it holds the usual number of
/// probes, `good.bad` otherwise, empty for a slot without a bucket.
fn entry(b: Option<&Bucket>, usual: u32) -> String {
    match b {
        None => String::new(),
        Some(b) if b.good + b.bad == usual => b.bad.to_string(),
        Some(b) => format!("{}.{}", b.good, b.bad),
    }
}

/// The most common probe count of a bucket (30 at two probes a minute).
fn usual_count(v: &[Bucket]) -> u32 {
    let mut counts: Vec<u32> = v.iter().map(|b| b.good + b.bad).collect();
    counts.sort_unstable();
    counts
        .chunk_by(|a, b| a == b)
        .max_by_key(|run| run.len())
        .map_or(0, |run| run[0])
}

pub fn encode_buckets(v: &[Bucket]) -> String {
    let Some(first) = v.first() else {
        return String::new();
    };
    let usual = usual_count(v);
    // One entry per slot from the first bucket to the last, holes empty.
    let mut slots: Vec<String> = Vec::with_capacity(v.len());
    let mut next = first.start;
    for b in v {
        while next < b.start {
            slots.push(entry(None, usual));
            next += chrono::Duration::seconds(SLOT);
        }
        slots.push(entry(Some(b), usual));
        next = b.start + chrono::Duration::seconds(SLOT);
    }
    let mut out = format!("{};{usual};", first.start.timestamp());
    let mut i = 0;
    while i < slots.len() {
        let run = slots[i..].iter().take_while(|s| **s == slots[i]).count();
        if i > 0 {
            out.push(',');
        }
        out.push_str(&slots[i]);
        if run > 1 {
            let _ = write!(out, "*{run}");
        }
        i += run;
    }
    out
}

pub fn decode_buckets(text: &str) -> Result<Vec<Bucket>, BadWindow> {
    let mut parts = text.splitn(3, ';');
    let (Some(base), Some(usual), Some(entries)) = (parts.next(), parts.next(), parts.next())
    else {
        return decode_buckets_v1(text);
    };
    let err = || bad("buckets", text);
    let mut start = epoch(base).ok_or_else(err)?;
    let usual: u32 = usual.parse().map_err(|_| err())?;
    let mut out = Vec::new();
    for e in entries.split(',') {
        let (value, times) = match e.split_once('*') {
            Some((v, n)) => (v, n.parse::<usize>().map_err(|_| err())?),
            None => (e, 1),
        };
        let counts: Option<(u32, u32)> = match value.split_once('.') {
            _ if value.is_empty() => None,
            Some((g, b)) => Some((g.parse().map_err(|_| err())?, b.parse().map_err(|_| err())?)),
            None => {
                let bad: u32 = value.parse().map_err(|_| err())?;
                Some((usual.checked_sub(bad).ok_or_else(err)?, bad))
            }
        };
        // A run longer than a day of slots is no state this module wrote.
        if times == 0 || times > 24 * 60 / BUCKET_MINUTES as usize {
            return Err(err());
        }
        for _ in 0..times {
            if let Some((good, bad)) = counts {
                out.push(Bucket { start, good, bad });
            }
            start += chrono::Duration::seconds(SLOT);
        }
    }
    Ok(out)
}

fn decode_buckets_v1(text: &str) -> Result<Vec<Bucket>, BadWindow> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.split(':');
            let start = it.next().and_then(epoch).ok_or_else(|| bad("bucket", p))?;
            let mut count = || it.next().and_then(|n| n.parse().ok());
            match (count(), count()) {
                (Some(good), Some(bad)) => Ok(Bucket { start, good, bad }),
                _ => Err(bad("bucket", p)),
            }
        })
        .collect()
}

/// The short form of an open incident, when its id is the one
/// `incident_id` gives it (the operator's, as every incident in a state is);
/// `None` for any other id, which is then stored whole.
pub fn encode_open_ref(r: &OpenRef) -> Option<String> {
    let suffix = format!("-{}-{}", key_time(r.started_at), r.kind.as_str());
    r.id.ends_with(&suffix).then(|| {
        format!(
            "{}/{}/{}/{}",
            r.kind.as_str(),
            r.severity,
            r.started_at.timestamp(),
            r.opened_at.timestamp()
        )
    })
}

/// A snake_case enum name, as serde spells it.
fn variant<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    let d: serde::de::value::StrDeserializer<serde::de::value::Error> = name.into_deserializer();
    T::deserialize(d).ok()
}

/// An open incident from its short form, its id still empty: the state
/// fills it in from its operator (`MonitorState`'s `Deserialize`).
pub fn decode_open_ref(text: &str) -> Result<OpenRef, BadWindow> {
    let err = || bad("open incident", text);
    let parts: Vec<&str> = text.split('/').collect();
    let [kind, severity, started, opened] = parts[..] else {
        return Err(err());
    };
    Ok(OpenRef {
        id: String::new(),
        severity: variant::<Severity>(severity).ok_or_else(err)?,
        kind: variant::<IncidentKind>(kind).ok_or_else(err)?,
        started_at: epoch(started).ok_or_else(err)?,
        opened_at: epoch(opened).ok_or_else(err)?,
    })
}

/// serde glue: `#[serde(with = "compact::open_ref")]`. The first format, a
/// map of the fields, is still read (and written for an id of another form).
pub mod open_ref {
    use super::OpenRef;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Short(String),
        Full(OpenRef),
    }

    pub fn serialize<S: Serializer>(v: &Option<OpenRef>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(r) => match super::encode_open_ref(r) {
                Some(short) => s.serialize_some(&short),
                None => s.serialize_some(r),
            },
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OpenRef>, D::Error> {
        match Option::<Stored>::deserialize(d)? {
            None => Ok(None),
            Some(Stored::Full(r)) => Ok(Some(r)),
            Some(Stored::Short(text)) => super::decode_open_ref(&text)
                .map(Some)
                .map_err(D::Error::custom),
        }
    }
}

/// serde glue: `#[serde(with = "compact::samples")]`.
pub mod samples {
    use super::Sample;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Sample], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode_samples(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Sample>, D::Error> {
        super::decode_samples(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// serde glue: `#[serde(with = "compact::buckets")]`.
pub mod buckets {
    use super::Bucket;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Bucket], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode_buckets(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Bucket>, D::Error> {
        super::decode_buckets(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_237_600 + secs, 0).unwrap()
    }

    fn samples(script: &[(i64, bool)]) -> Vec<Sample> {
        script
            .iter()
            .map(|&(s, up)| Sample {
                at: t(s),
                up,
                slow: up.then_some(false),
            })
            .collect()
    }

    #[test]
    fn samples_are_a_byte_each_at_the_steady_step() {
        let table: &[(&[(i64, bool)], &str)] = &[
            (&[], ""),
            (&[(0, true)], "1764237600;0;u"),
            (&[(0, true), (30, false)], "1764237600;30;ud"),
            (
                &[
                    (0, true),
                    (30, false),
                    (60, false),
                    (150, true),
                    (180, true),
                ],
                "1764237600;30;udd+90uu",
            ),
            // A second sample at the same second stays a sample of its own.
            (&[(0, true), (30, true), (30, false)], "1764237600;30;uu+0d"),
        ];
        // Up probes carry their latency verdict: within the SLA, slower, untimed.
        let timed = vec![
            Sample {
                at: t(0),
                up: true,
                slow: Some(false),
            },
            Sample {
                at: t(30),
                up: true,
                slow: Some(true),
            },
            Sample {
                at: t(60),
                up: true,
                slow: None,
            },
            Sample {
                at: t(90),
                up: false,
                slow: None,
            },
        ];
        assert_eq!(encode_samples(&timed), "1764237600;30;usxd");
        assert_eq!(decode_samples("1764237600;30;usxd").unwrap(), timed);
        for (script, text) in table {
            let v = samples(script);
            assert_eq!(encode_samples(&v), *text, "{script:?}");
            assert_eq!(decode_samples(text).unwrap(), v, "{text}");
        }
    }

    #[test]
    fn buckets_run_length_encode_their_slots() {
        let b = |slot: i64, good, bad| Bucket {
            start: t(slot * SLOT),
            good,
            bad,
        };
        let table: Vec<(Vec<Bucket>, &str)> = vec![
            (vec![], ""),
            (vec![b(0, 30, 0)], "1764237600;30;0"),
            (
                vec![
                    b(0, 30, 0),
                    b(1, 30, 0),
                    b(2, 30, 0),
                    b(3, 28, 2),
                    b(5, 17, 0),
                ],
                "1764237600;30;0*3,2,,17.0",
            ),
            (vec![b(0, 0, 30), b(4, 0, 30)], "1764237600;30;30,*3,30"),
            // Partly probed slots keep both counts.
            (
                vec![b(0, 15, 0), b(1, 14, 1), b(2, 30, 0)],
                "1764237600;15;0,1,30.0",
            ),
        ];
        for (v, text) in table {
            assert_eq!(encode_buckets(&v), text);
            assert_eq!(decode_buckets(text).unwrap(), v, "{text}");
        }
    }

    #[test]
    fn an_open_incident_is_its_kind_severity_start_and_opening() {
        let r = OpenRef {
            id: "mo-net-2-20261127T100000Z-portal_down".into(),
            severity: Severity::High,
            kind: IncidentKind::PortalDown,
            started_at: "2026-11-27T10:00:00Z".parse().unwrap(),
            opened_at: "2026-11-27T10:30:30Z".parse().unwrap(),
        };
        let text = encode_open_ref(&r).unwrap();
        assert_eq!(text, "portal_down/high/1795773600/1795775430");
        assert_eq!(
            decode_open_ref(&text).unwrap(),
            OpenRef {
                id: String::new(),
                ..r.clone()
            }
        );
        // An id of another form is not reduced.
        let other = OpenRef {
            id: "INC-7".into(),
            ..r
        };
        assert_eq!(encode_open_ref(&other), None);
        for text in [
            "portal_down/high/1795773600",
            "portal_down/urgent/1795773600/1795775430",
            "portal_up/high/1795773600/1795775430",
            "portal_down/high/x/1795775430",
            "portal_down/high/1795773600/1795775430/1",
        ] {
            assert!(decode_open_ref(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_day_of_one_repeated_entry_is_the_longest_run() {
        let v = decode_buckets("1764237600;30;0*96").unwrap();
        assert_eq!(v.len(), 96);
        assert_eq!(v[95].start, t(95 * SLOT));
        assert_eq!(encode_buckets(&v), "1764237600;30;0*96");
    }

    #[test]
    fn the_first_format_is_still_read() {
        assert_eq!(
            decode_samples("1764237600u,1764237630d").unwrap(),
            samples(&[(0, true), (30, false)])
        );
        assert_eq!(
            decode_buckets("1764237600:29:1,1764238500:30:0").unwrap(),
            vec![
                Bucket {
                    start: t(0),
                    good: 29,
                    bad: 1
                },
                Bucket {
                    start: t(SLOT),
                    good: 30,
                    bad: 0
                },
            ]
        );
    }

    #[test]
    fn what_was_never_written_is_refused() {
        for text in [
            "x;30;u",
            "1764237600;x;u",
            "1764237600;30;uq",
            "1764237600;30;u+",
            "1764237600;30;u5u",
            "1764237600;30;+5",
            "1764237600;30;+5u",
        ] {
            assert!(decode_samples(text).is_err(), "{text}");
        }
        for text in [
            "x;30;0",
            "1764237600;30;3x",
            "1764237600;x;3",
            "1764237600;30;0*0",
            "1764237600;30;0*97",
            "1764237600;30;0*1000",
            "1764237600;30;1.x",
            "1764237600;30;31",
            "1764237600u",
        ] {
            assert!(decode_buckets(text).is_err(), "{text}");
        }
        // The first format's mistakes too.
        assert!(decode_samples("1764237600x,1764237630u").is_err());
        assert!(decode_buckets("1764237600:1").is_err());
    }
}
