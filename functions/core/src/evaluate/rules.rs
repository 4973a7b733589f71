//! The rules applied to each decided round: the 30-minute outage rule and
//! recovery, flapping, latency against the SLA, addresses, and the opening
//! of each incident.

use super::*;

impl Step<'_> {
    /// The probe into the state: a gap before it first, then its verdict in
    /// the flapping window.
    pub(super) fn record(&mut self, s: &mut MonitorState) {
        let t = self.probe.probed_at;
        if let Some(last) = s.last_probe_at {
            if t - last > dur(self.policy.blind_after) {
                self.events.push(Event::MonitorGap {
                    operator: s.operator.clone(),
                    from: last,
                    to: t,
                });
                // Nobody watched during the gap, so no run of failures (and no
                // streak of successes) can be claimed across it.
                s.down_since = None;
                s.consecutive_successes = 0;
                s.recent.clear();
                s.addresses_down.clear();
            }
        }
        s.last_probe_at = Some(t);
        s.last_outcome = Some(self.probe.outcome);
        s.last_reason = self.probe.reason;
        if self.probe.cert_expires_at.is_some() {
            s.cert_expires_at = self.probe.cert_expires_at;
        }
        let sla = self.policy.latency_sla_ms as f64;
        s.recent.push(Sample {
            at: t,
            up: self.probe.is_up(),
            slow: self
                .probe
                .trusted_latency_ms()
                .filter(|_| self.probe.is_up())
                .map(|ms| ms > sla),
        });
        let kept = self.policy.flapping.window.max(self.policy.latency.window);
        let horizon = t - dur(kept);
        s.recent.retain(|x| x.at > horizon);
    }

    /// The 30-minute rule: a run of failures longer than `outage_after`
    /// opens a High incident, or is held back by announced maintenance.
    pub(super) fn down(&mut self, s: &mut MonitorState) {
        let t = self.probe.probed_at;
        s.consecutive_successes = 0;
        let since = *s.down_since.get_or_insert(t);
        if t - since <= dur(self.policy.outage_after) || s.outage.is_some() {
            return;
        }
        if self.operator.in_maintenance(t) {
            if s.suppressed_run != Some(since) {
                s.suppressed_run = Some(since);
                self.events.push(Event::PageSuppressed {
                    operator: s.operator.clone(),
                    down_since: since,
                    at: t,
                });
            }
            return;
        }
        let incident = self.open(Severity::High, IncidentKind::PortalDown, since);
        s.outage = Some(open_ref(&incident));
        self.events.push(Event::IncidentOpened {
            incident,
            reason: self.probe.reason,
        });
    }

    /// Recovery: enough consecutive successes resolve the outage.
    pub(super) fn up(&mut self, s: &mut MonitorState) {
        s.down_since = None;
        s.consecutive_successes = s.consecutive_successes.saturating_add(1);
        if s.consecutive_successes < self.policy.recovery_successes {
            return;
        }
        if let Some(open) = s.outage.take() {
            // The outage already accounts for its failures; counting them
            // again would call the recovery "flapping" or a budget burn.
            s.recent.clear();
            s.buckets.clear();
            self.events.push(Event::IncidentResolved {
                incident: open,
                operator: s.operator.clone(),
                resolved_at: self.probe.probed_at,
            });
        }
    }

    /// The flapping rule, with hysteresis: opens above `open_above` failed
    /// with enough changes, closes at or below `close_at_or_below`.
    pub(super) fn flapping(&mut self, s: &mut MonitorState) {
        let (t, rule) = (self.probe.probed_at, &self.policy.flapping);
        let horizon = t - dur(rule.window);
        let window: Vec<&Sample> = s.recent.iter().filter(|x| x.at > horizon).collect();
        let total = window.len();
        if total < rule.min_probes {
            return;
        }
        let failed = window.iter().filter(|x| !x.up).count();
        let share = failed as f64 / total as f64;
        let changes = window.windows(2).filter(|w| w[0].up != w[1].up).count();
        if s.flapping.is_none()
            && s.outage.is_none()
            && share > rule.open_above
            && changes >= rule.min_changes
            && !self.operator.in_maintenance(t)
        {
            let started = window.iter().find(|x| !x.up).map_or(t, |x| x.at);
            let incident = self.open(Severity::Low, IncidentKind::Flapping, started);
            s.flapping = Some(open_ref(&incident));
            self.events.push(Event::IncidentOpened {
                incident,
                reason: self.probe.reason,
            });
        } else if share <= rule.close_at_or_below {
            if let Some(open) = s.flapping.take() {
                s.buckets.clear();
                self.events.push(Event::IncidentResolved {
                    incident: open,
                    operator: s.operator.clone(),
                    resolved_at: t,
                });
            }
        }
    }

    /// The latency SLA as an alert: the window's percentile of timed up
    /// probes above the SLA opens a Low incident (not during an outage or
    /// maintenance); back at or below it, the incident is resolved.
    pub(super) fn latency(&mut self, s: &mut MonitorState) {
        let (t, rule) = (self.probe.probed_at, &self.policy.latency);
        if !rule.enabled {
            return;
        }
        let horizon = t - dur(rule.window);
        let timed: Vec<&Sample> = s
            .recent
            .iter()
            .filter(|x| x.at > horizon && x.slow.is_some())
            .collect();
        if timed.len() < rule.min_probes {
            return;
        }
        let slow = timed.iter().filter(|x| x.slow == Some(true)).count();
        let broken = percentile_above_sla(slow, timed.len(), rule.percentile);
        if broken && s.latency.is_none() && s.outage.is_none() && !self.operator.in_maintenance(t) {
            let started = timed
                .iter()
                .find(|x| x.slow == Some(true))
                .map_or(t, |x| x.at);
            let incident = self.open(Severity::Low, IncidentKind::LatencySla, started);
            s.latency = Some(open_ref(&incident));
            self.events.push(Event::IncidentOpened {
                incident,
                reason: None,
            });
        } else if !broken {
            if let Some(open) = s.latency.take() {
                self.events.push(Event::IncidentResolved {
                    incident: open,
                    operator: s.operator.clone(),
                    resolved_at: t,
                });
            }
        }
    }

    /// The partial-outage rule: the portal answers, but an address of its
    /// name has failed for longer than `outage_after` (the 30 minutes of the
    /// whole portal's rule): a Low incident naming the addresses, resolved
    /// when every address answers again. Not during an outage or maintenance.
    pub(super) fn addresses(&mut self, s: &mut MonitorState) {
        let t = self.probe.probed_at;
        let down: Vec<std::net::IpAddr> = self
            .probe
            .addresses
            .iter()
            .filter(|a| a.outcome == Outcome::Down)
            .map(|a| a.address)
            .collect();
        // An address no longer failing, or no longer in the answer, leaves.
        s.addresses_down.retain(|a| down.contains(&a.address));
        for address in down {
            if !s.addresses_down.iter().any(|a| a.address == address) {
                s.addresses_down.push(AddressDown { address, since: t });
            }
        }
        let limit = dur(self.policy.outage_after);
        let longest = s
            .addresses_down
            .iter()
            .filter(|a| t - a.since > limit)
            .map(|a| a.since)
            .min();
        match longest {
            Some(since)
                if self.probe.is_up()
                    && s.partial.is_none()
                    && s.outage.is_none()
                    && !self.operator.in_maintenance(t) =>
            {
                let incident = self.open(Severity::Low, IncidentKind::PartialOutage, since);
                s.partial = Some(open_ref(&incident));
                self.events.push(Event::IncidentOpened {
                    incident,
                    reason: None,
                });
            }
            _ if s.addresses_down.is_empty() => {
                if let Some(open) = s.partial.take() {
                    self.events.push(Event::IncidentResolved {
                        incident: open,
                        operator: s.operator.clone(),
                        resolved_at: t,
                    });
                }
            }
            _ => {}
        }
    }

    pub(super) fn open(
        &self,
        severity: Severity,
        kind: IncidentKind,
        started_at: DateTime<Utc>,
    ) -> Incident {
        open_incident(
            self.operator,
            self.policy,
            severity,
            kind,
            started_at,
            self.probe.probed_at,
            self.probe,
        )
    }
}

pub(crate) fn open_ref(i: &Incident) -> OpenRef {
    OpenRef {
        id: i.id.clone(),
        severity: i.severity,
        kind: i.kind,
        started_at: i.started_at,
        opened_at: i.opened_at,
    }
}

pub(super) fn open_incident(
    operator: &Operator,
    policy: &Policy,
    severity: Severity,
    kind: IncidentKind,
    started_at: DateTime<Utc>,
    at: DateTime<Utc>,
    probe: &ProbeResult,
) -> Incident {
    let why = probe
        .reason
        .map_or("unknown".to_string(), |r| r.to_string());
    let summary = match kind {
        // "More than": the rule opens strictly after the limit (30:30, say),
        // and "for 30 minutes" read as exactly the limit.
        IncidentKind::PortalDown => format!(
            "{} MO Direct portal: expected response missing for more than {} minutes (since {}, last failure: {why})",
            operator.name,
            policy.outage_after.as_secs() / 60,
            started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        ),
        IncidentKind::PartialOutage => format!(
            "{} MO Direct portal answers, but not on every address: {} failing for more than {} minutes (of {} addresses)",
            operator.name,
            probe
                .addresses
                .iter()
                .filter(|a| a.outcome == Outcome::Down)
                .map(|a| format!("{} ({})", a.address, a.reason.map_or("unknown", |r| r.as_str())))
                .collect::<Vec<_>>()
                .join(", "),
            policy.outage_after.as_secs() / 60,
            probe.addresses.len(),
        ),
        IncidentKind::WalledGarden => format!(
            "{} MO Direct portal: not answered inside the operator's walled garden for more than {} minutes (its own agent {}, since {}, last failure: {why}), whatever the monitor's own locations see",
            operator.name,
            policy.outage_after.as_secs() / 60,
            probe.location.as_deref().unwrap_or("-"),
            started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        ),
        IncidentKind::LatencySla => format!(
            "{} MO Direct portal is slow: its p{:.0} latency over the last {} minutes is above the {} ms SLA (last probe: {} ms)",
            operator.name,
            policy.latency.percentile,
            policy.latency.window.as_secs() / 60,
            policy.latency_sla_ms,
            probe.latency_ms.map_or("-".to_string(), |ms| format!("{ms:.0}")),
        ),
        _ => format!(
            "{} MO Direct portal is flapping: more than {:.0}% of probes failed over the last {} minutes (last failure: {why})",
            operator.name,
            policy.flapping.open_above * 100.0,
            policy.flapping.window.as_secs() / 60,
        ),
    };
    Incident::open(
        Opening {
            form: IdForm::Monitored,
            operator: &operator.id,
            severity,
            kind,
            raised_by: Party::Team,
            started_at,
            opened_at: at,
            summary,
        },
        policy,
        &operator.calendar(),
    )
}
