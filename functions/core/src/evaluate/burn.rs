//! Error-budget burn rates over 15-minute buckets, and the nearest-rank
//! latency test.

use super::*;

/// Whether the nearest-rank `percentile` of `n` timings is above the SLA,
/// knowing only how many of them are (`slow`): the value at rank
/// ceil(p/100 x n) is above it exactly when more than n minus that rank are.
/// The monthly report's percentiles are nearest-rank too.
pub fn percentile_above_sla(slow: usize, n: usize, percentile: f64) -> bool {
    if n == 0 {
        return false;
    }
    let rank = ((percentile / 100.0) * n as f64)
        .ceil()
        .clamp(1.0, n as f64) as usize;
    slow > n - rank
}

pub(super) fn bucket_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = BUCKET_MINUTES * 60;
    DateTime::from_timestamp(t.timestamp().div_euclid(secs) * secs, 0).unwrap_or(t)
}

/// Multi-window burn rates (docs/rules.md): counts probes outside maintenance
/// in 15-minute buckets and warns at most once per tier a day.
pub(super) fn burn_rates(
    s: &mut MonitorState,
    probe: &ProbeResult,
    operator: &Operator,
    policy: &Policy,
    events: &mut Vec<Event>,
) {
    let t = probe.probed_at;
    if operator.in_maintenance(t) {
        return;
    }
    let start = bucket_start(t);
    match s.buckets.last_mut() {
        Some(b) if b.start == start => {
            if probe.is_up() {
                b.good += 1
            } else {
                b.bad += 1
            }
        }
        _ => s.buckets.push(Bucket {
            start,
            good: u32::from(probe.is_up()),
            bad: u32::from(!probe.is_up()),
        }),
    }
    let keep = t - Duration::hours(24);
    s.buckets
        .retain(|b| b.start + Duration::minutes(BUCKET_MINUTES) > keep);
    s.burn_warned.resize(policy.burn_tiers.len(), None);
    let allowed = (100.0 - policy.availability_target_percent) / 100.0;
    // Only burns no incident already covers, noticed while the portal answers:
    // an outage in progress is the 30-minute rule's business, flapping has
    // its own incident.
    if allowed <= 0.0 || s.outage.is_some() || s.flapping.is_some() || !probe.is_up() {
        return;
    }
    let window = |d: Duration| {
        let from = bucket_start(t - d + Duration::minutes(BUCKET_MINUTES));
        s.buckets
            .iter()
            .filter(|b| b.start >= from)
            .fold((0u32, 0u32), |(g, b), x| (g + x.good, b + x.bad))
    };
    for (i, tier) in policy.burn_tiers.iter().enumerate() {
        let (long, short) = (dur(tier.long), dur(tier.short));
        // At most one warning per tier a day: a portal that keeps burning is
        // told daily, not every window.
        if s.burn_warned[i].is_some_and(|w| t - w < long.max(Duration::hours(24))) {
            continue;
        }
        let (lg, lb) = window(long);
        let (sg, sb) = window(short);
        if lg + lb < policy.burn_min_probes {
            continue;
        }
        let long_burn = share(lb, lg + lb) / allowed;
        let short_burn = share(sb, sg + sb) / allowed;
        if long_burn >= tier.factor && short_burn >= tier.factor {
            s.burn_warned[i] = Some(t);
            events.push(Event::BudgetBurn {
                operator: s.operator.clone(),
                at: t,
                long_minutes: long.num_minutes(),
                short_minutes: short.num_minutes(),
                factor: tier.factor,
                long_burn,
                short_burn,
            });
        }
    }
}

/// `bad` of `total` as a fraction; nothing observed is no failure.
pub(super) fn share(bad: u32, total: u32) -> f64 {
    if total == 0 {
        0.0
    } else {
        f64::from(bad) / f64::from(total)
    }
}
