//! A mergeable latency sketch (DDSketch, Masson et al., VLDB 2019): each
//! timing falls in the bin `ceil(log_γ(ms))`, with γ = (1 + α) / (1 − α), and
//! a bin answers for its values with `2γ^i / (γ + 1)`, within a relative
//! error α = 1% of every value in it. So any quantile read from the sketch is
//! within 1% of the exact one, whatever the number of timings, and two
//! sketches merge by adding their bins: a month is the sum of its days.
//!
//! Written by hand rather than taken from a crate because it is stored in the
//! monitor's state on every write: its serde form is one short string (the
//! first bin's index, then the counts of consecutive bins), about 3 bytes a
//! non-empty bin, where the crates' forms store a map or a float array.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The relative error of every quantile the sketch answers.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// Timings at or below this many milliseconds are counted as zero (a
/// loopback answer can take a few microseconds; nothing real is faster).
const MIN_MS: f64 = 0.001;

/// The bins kept, whatever a hostile portal's timings: from 1 µs to far
/// beyond any probe's time limit.
const MIN_INDEX: i32 = -350;
const MAX_INDEX: i32 = 1_100;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencySketch {
    /// Timings at or below `MIN_MS`.
    zero: u32,
    /// Index of `bins[0]`.
    first: i32,
    /// Counts of consecutive bins from `first`.
    bins: Vec<u32>,
}

impl LatencySketch {
    /// How many timings it holds.
    pub fn count(&self) -> u64 {
        u64::from(self.zero) + self.bins.iter().map(|c| u64::from(*c)).sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    fn index(ms: f64) -> i32 {
        let i = (ms.ln() / gamma().ln()).ceil();
        (i as i32).clamp(MIN_INDEX, MAX_INDEX)
    }

    fn value(index: i32) -> f64 {
        let g = gamma();
        2.0 * g.powi(index) / (g + 1.0)
    }

    /// Adds `count` timings of bin `index`, growing the dense run as needed.
    fn add_to(&mut self, index: i32, count: u32) {
        if self.bins.is_empty() {
            self.first = index;
        }
        if index < self.first {
            let grow = (self.first - index) as usize;
            self.bins.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = index;
        }
        let at = (index - self.first) as usize;
        if at >= self.bins.len() {
            self.bins.resize(at + 1, 0);
        }
        self.bins[at] = self.bins[at].saturating_add(count);
    }

    /// Counts one timing; a value that is not a finite number is ignored.
    pub fn add(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        if ms <= MIN_MS {
            self.zero = self.zero.saturating_add(1);
            return;
        }
        self.add_to(Self::index(ms), 1);
    }

    /// Adds every timing of `other`.
    pub fn merge(&mut self, other: &LatencySketch) {
        self.zero = self.zero.saturating_add(other.zero);
        for (i, c) in other.bins.iter().enumerate() {
            if *c > 0 {
                self.add_to(other.first + i as i32, *c);
            }
        }
    }

    /// The nearest-rank `q` quantile (the timing at rank ceil(q × n)),
    /// within `RELATIVE_ACCURACY` of the exact one; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = u64::from(self.zero);
        if seen >= rank {
            return Some(0.0);
        }
        for (i, c) in self.bins.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return Some(Self::value(self.first + i as i32));
            }
        }
        None
    }

    /// The compact form: `[z<zero>;]<first>:<counts>`, each count as
    /// `push_count` writes it: one or two characters a bin, no separators.
    fn encode(&self) -> String {
        let mut out = String::new();
        if self.zero > 0 {
            out.push_str(&format!("z{};", self.zero));
        }
        if !self.bins.is_empty() {
            out.push_str(&format!("{}:", self.first));
            for c in &self.bins {
                push_count(&mut out, *c);
            }
        }
        out
    }

    fn decode(s: &str) -> Result<Self, String> {
        let bad = || format!("not a latency sketch: {s:?}");
        let mut sketch = LatencySketch::default();
        let mut rest = s;
        if let Some(z) = rest.strip_prefix('z') {
            let (zero, tail) = z.split_once(';').ok_or_else(bad)?;
            sketch.zero = zero.parse().map_err(|_| bad())?;
            rest = tail;
        }
        if rest.is_empty() {
            return Ok(sketch);
        }
        let (first, counts) = rest.split_once(':').ok_or_else(bad)?;
        sketch.first = first.parse().map_err(|_| bad())?;
        if !(MIN_INDEX..=MAX_INDEX).contains(&sketch.first) {
            return Err(bad());
        }
        let mut rest: u64 = 0;
        for ch in counts.chars() {
            let last = match ch {
                'A'..='Z' => {
                    rest = rest * 26 + (ch as u64 - 'A' as u64);
                    None
                }
                '0'..='9' => Some(ch as u64 - '0' as u64),
                'a'..='v' => Some(ch as u64 - 'a' as u64 + 10),
                _ => return Err(bad()),
            };
            if rest > u64::from(u32::MAX) {
                return Err(bad());
            }
            if let Some(d) = last {
                let count = u32::try_from(rest * 32 + d).map_err(|_| bad())?;
                sketch.bins.push(count);
                rest = 0;
            }
        }
        let over = sketch.first + sketch.bins.len() as i32 - 1 > MAX_INDEX;
        if over || counts.ends_with(|c: char| c.is_ascii_uppercase()) {
            return Err(bad());
        }
        Ok(sketch)
    }
}

/// One count in the compact form: the count's remainder by 32 as its last
/// character (`0`-`9`, `a`-`v`), what is left of it before that in base 26
/// (`A`-`Z`), most significant first.
fn push_count(out: &mut String, count: u32) {
    const LAST: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut rest = count / 32;
    let mut more = Vec::new();
    while rest > 0 {
        more.push(b'A' + (rest % 26) as u8);
        rest /= 26;
    }
    out.extend(more.iter().rev().map(|c| *c as char));
    out.push(LAST[(count % 32) as usize] as char);
}

impl Serialize for LatencySketch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for LatencySketch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::decode(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest-rank quantile of sorted values, as the report defines it.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// A small deterministic generator (no dependency for a test's noise).
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Every quantile the report reads is within 1% of the exact one, on
    /// shapes a portal produces: tight, long-tailed, two modes, and a
    /// month made of 31 merged days.
    #[test]
    fn quantiles_are_within_one_percent_of_exact() {
        let mut seed = 7;
        let shapes: Vec<(&str, Vec<f64>)> = vec![
            (
                "tight",
                (0..2880).map(|_| 95.0 + 10.0 * lcg(&mut seed)).collect(),
            ),
            (
                "long tail",
                (0..2880)
                    .map(|_| 40.0 / (1.0 - lcg(&mut seed)).max(1e-4))
                    .collect(),
            ),
            (
                "two modes",
                (0..2880)
                    .map(|i| if i % 10 == 0 { 900.0 } else { 80.0 } * (1.0 + lcg(&mut seed)))
                    .collect(),
            ),
            ("one value", vec![400.0; 100]),
            ("loopback", (0..500).map(|_| 0.2 * lcg(&mut seed)).collect()),
        ];
        for (name, values) in shapes {
            let mut sketch = LatencySketch::default();
            values.iter().for_each(|v| sketch.add(*v));
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.5, 0.95, 0.99, 1.0] {
                let (got, want) = (sketch.quantile(q).unwrap(), exact(&sorted, q));
                let err = if want <= MIN_MS {
                    got
                } else {
                    (got - want).abs() / want
                };
                assert!(
                    err <= RELATIVE_ACCURACY + 1e-12,
                    "{name} q{q}: {got} vs {want}"
                );
            }
            assert_eq!(sketch.count(), values.len() as u64);
        }
    }

    #[test]
    fn days_merge_into_the_month_they_make() {
        let mut seed = 11;
        let mut month = LatencySketch::default();
        let mut whole = LatencySketch::default();
        let mut all = Vec::new();
        for day in 0..31 {
            let mut sketch = LatencySketch::default();
            for _ in 0..2880 {
                let v = 50.0 + day as f64 * 10.0 + 100.0 * lcg(&mut seed);
                sketch.add(v);
                whole.add(v);
                all.push(v);
            }
            month.merge(&sketch);
        }
        assert_eq!(month, whole);
        all.sort_by(f64::total_cmp);
        for q in [0.5, 0.95, 0.99] {
            let (got, want) = (month.quantile(q).unwrap(), exact(&all, q));
            assert!((got - want).abs() / want <= RELATIVE_ACCURACY, "q{q}");
        }
    }

    /// The stored form reads back as what was written, stays short, and a
    /// corrupt one is refused rather than read as something else.
    #[test]
    fn the_compact_form_round_trips_and_refuses_garbage() {
        let mut sketch = LatencySketch::default();
        for v in [0.0, 12.0, 12.1, 250.0, 251.0, 4000.0] {
            sketch.add(v);
        }
        let json = serde_json::to_string(&sketch).unwrap();
        let back: LatencySketch = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sketch);
        assert!(json.starts_with("\"z1;"), "{json}");
        let empty: LatencySketch = serde_json::from_str("\"\"").unwrap();
        assert!(empty.is_empty() && empty.quantile(0.5).is_none());
        let mut big = LatencySketch::default();
        big.add_to(3, u32::MAX);
        big.add_to(5, 32);
        big.add_to(6, 31);
        big.add_to(7, 26 * 32);
        let json = serde_json::to_string(&big).unwrap();
        assert_eq!(serde_json::from_str::<LatencySketch>(&json).unwrap(), big);
        for bad in [
            "\"x\"",
            "\"5:w\"",
            "\"5:1A\"",
            "\"z;\"",
            "\"99999:1\"",
            "\"1100:11\"",
            "\"1:ZZZZZZZZv\"",
        ] {
            assert!(serde_json::from_str::<LatencySketch>(bad).is_err(), "{bad}");
        }
        // A tight day of 2,880 timings stays a few hundred bytes.
        let mut day = LatencySketch::default();
        (0..2880).for_each(|i| day.add(80.0 + (i % 100) as f64));
        assert!(day.encode().len() < 120, "{}", day.encode().len());
        // Negative or non-finite timings are not counted.
        let mut odd = LatencySketch::default();
        [f64::NAN, -1.0, f64::INFINITY]
            .iter()
            .for_each(|v| odd.add(*v));
        assert!(odd.is_empty());
    }
}
