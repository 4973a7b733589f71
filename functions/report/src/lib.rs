//! The monthly SLA report: gathered from the stores, computed by the core,
//! rendered as plain text, as an HTML page with two SVG charts (daily
//! availability against the target; daily latency percentiles against the
//! 400 ms SLA, drawn with plotters), and as an email whose HTML part shows
//! the same charts as attached PNG images (`raster`): Gmail and Outlook do
//! not show inline SVG.

use chrono::{DateTime, Utc};
use livesite_core::notify::{Email, Notification, Topic};
use livesite_core::ports::{
    IncidentStore, Notifier, OperatorRegistry, Outbox, RecordStore, StateStore, Store, StoreError,
    SummaryStore,
};
use livesite_core::report::{Month, MonthlyReport, Standing};
use livesite_core::service::{deliver_pending, sweep, Duty, SweepReport};
use livesite_core::{Operator, Policy, Severity, Team};
use plotters::prelude::*;

pub use livesite_core::service::monthly_report as gather;

mod raster;

/// The email's chart images' content ids.
pub const AVAILABILITY_PNG: &str = "availability.png";
pub const LATENCY_PNG: &str = "latency.png";

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.3}%"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.0} ms"))
}

/// How much of a month in progress has gone by, and what is unknown so far.
fn progress(r: &MonthlyReport) -> Option<String> {
    (r.elapsed_minutes < r.minutes_in_month).then(|| {
        format!(
            "Month in progress: {:.1} of {:.1} days gone by; the figures are so far, and {:.1} min of them unknown",
            r.elapsed_minutes / 1440.0,
            r.minutes_in_month / 1440.0,
            r.unknown_minutes
        )
    })
}

pub fn text(r: &MonthlyReport, operator: &Operator) -> String {
    let mut s = format!(
        "livesite monthly SLA report: {name} ({id}), {month}\n\n\
         Availability (SLA, excluding announced maintenance and unknown time): {sla}  target {target:.2}%  {verdict}\n\
         {progress}\
         Availability (raw, whole month):                                      {raw:.3}%\n\
         Downtime counted: {down:.1} min   error budget {budget:.1} min, left {left:.1} min\n\
         Down during announced maintenance: {dm:.1} min   maintenance: {mt:.1} min   unknown (no decided round): {unk:.1} min\n\
         Rounds decided: {rounds} ({rdown} down, {runk} without enough locations to say) from {probes} probe results\n\
         Latency (up rounds, each percentile within 1%): p50 {p50}  p95 {p95}  p99 {p99}  over {sla_ms} ms: {over:.2}%\n",
        name = operator.name,
        id = operator.id,
        month = r.month,
        sla = pct(r.availability_percent),
        target = r.target_percent,
        verdict = r.standing.label(),
        progress = progress(r).map(|p| format!("{p}\n")).unwrap_or_default(),
        raw = r.availability_raw_percent,
        down = r.downtime_minutes,
        budget = r.error_budget_minutes,
        left = r.error_budget_left_minutes,
        dm = r.down_in_maintenance_minutes,
        mt = r.maintenance_minutes,
        unk = r.unknown_minutes,
        probes = r.probes,
        rounds = r.rounds,
        rdown = r.rounds_down,
        runk = r.rounds_unknown,
        p50 = ms(r.latency.p50_ms),
        p95 = ms(r.latency.p95_ms),
        p99 = ms(r.latency.p99_ms),
        sla_ms = r.latency_sla_ms,
        over = r.latency.over_sla_percent,
    );
    if r.latency.untrusted > 0 {
        s += &format!(
            "  {} timings left out of the latency figures: the monitor's own CPU wait was over {} ms\n",
            r.latency.untrusted,
            livesite_core::probe::MAX_CPU_WAIT_MS
        );
    }
    if r.latency.incidents > 0 {
        s += &format!(
            "  {} latency SLA incident(s): sustained breaches of the {} ms SLA\n",
            r.latency.incidents, r.latency_sla_ms
        );
    }
    s += &lists(r);
    s
}

/// The report's lists: addresses, incidents and maintenance notices.
fn lists(r: &MonthlyReport) -> String {
    let mut s = String::new();
    if !r.addresses.is_empty() {
        s += "\nAddresses (share of the rounds that listed each):\n";
        for a in &r.addresses {
            s += &format!(
                "  {:<39}  {:.3}%  ({} of {} rounds up)\n",
                a.address.to_string(),
                a.availability_percent,
                a.up,
                a.probes
            );
        }
    }
    s += &format!("\nIncidents: {}\n", r.incidents.len());
    for i in &r.incidents {
        s += &format!(
            "  {} [{}] opened {}  acknowledged {}  {}\n",
            i.id,
            i.severity,
            i.opened_at.format("%Y-%m-%d %H:%M UTC"),
            i.minutes_to_acknowledge
                .map_or("never".into(), |m| format!("after {m:.0} min")),
            if i.acknowledged_on_time {
                "on time"
            } else {
                "LATE"
            }
        );
    }
    s += &format!(
        "\nMaintenance notices: {} on time, {} late\n",
        r.maintenance_on_time, r.maintenance_late
    );
    for m in &r.maintenance {
        s += &format!(
            "  {}  {} business days ahead{}\n",
            m.id,
            m.lead_business_days,
            match (m.late, m.approved) {
                (false, _) => "",
                (true, true) => "  LATE, approved",
                (true, false) => "  LATE, not approved: counted as no maintenance",
            }
        );
    }
    s
}

fn chart_error(e: impl std::fmt::Display) -> String {
    format!("<p>chart unavailable: {}</p>", escape(&e.to_string()))
}

/// Daily availability (SLA figure) against the target, as SVG.
pub fn availability_chart(r: &MonthlyReport) -> String {
    let mut out = String::new();
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut out, (640, 260)).into_drawing_area();
        root.fill(&WHITE)?;
        let days = r.days.len() as u32;
        let lowest = r
            .days
            .iter()
            .filter_map(|d| d.availability_percent)
            .fold(r.target_percent, f64::min);
        let floor = (lowest - 0.1).max(0.0).min(r.target_percent - 0.1);
        let mut chart = ChartBuilder::on(&root)
            .caption("Daily availability (%)", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(1u32..days.max(2), floor..100.0f64)?;
        chart
            .configure_mesh()
            .x_desc("day")
            .y_label_formatter(&|v| format!("{v:.2}"))
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                [(1, r.target_percent), (days.max(2), r.target_percent)],
                RED.stroke_width(1),
            ))?
            .label(format!("target {:.2}%", r.target_percent))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED));
        let points: Vec<(u32, f64)> = r
            .days
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.availability_percent.map(|a| (i as u32 + 1, a)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))?
            .label("availability")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 2, BLUE.filled())))?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match result {
        Ok(()) => out,
        Err(e) => chart_error(e),
    }
}

/// Daily latency percentiles against the SLA, as SVG.
pub fn latency_chart(r: &MonthlyReport) -> String {
    let mut out = String::new();
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut out, (640, 260)).into_drawing_area();
        root.fill(&WHITE)?;
        let days = r.days.len() as u32;
        let top = r
            .days
            .iter()
            .filter_map(|d| d.latency.p99_ms)
            .fold(r.latency_sla_ms as f64 * 1.25, f64::max);
        let mut chart = ChartBuilder::on(&root)
            .caption("Daily latency (ms)", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(1u32..days.max(2), 0f64..top)?;
        chart.configure_mesh().x_desc("day").draw()?;
        let sla = r.latency_sla_ms as f64;
        chart
            .draw_series(LineSeries::new(
                [(1, sla), (days.max(2), sla)],
                RED.stroke_width(1),
            ))?
            .label(format!("SLA {} ms", r.latency_sla_ms))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED));
        let series = [
            ("p50", GREEN, 0usize),
            ("p95", BLUE, 1),
            ("p99", MAGENTA, 2),
        ];
        for (name, colour, which) in series {
            let pts: Vec<(u32, f64)> = r
                .days
                .iter()
                .enumerate()
                .filter_map(|(i, d)| {
                    let v = [d.latency.p50_ms, d.latency.p95_ms, d.latency.p99_ms][which];
                    v.map(|v| (i as u32 + 1, v))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match result {
        Ok(()) => out,
        Err(e) => chart_error(e),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The rows of the report's two tables: incidents, maintenance notices.
fn html_rows(r: &MonthlyReport) -> (String, String) {
    let mut incidents = String::new();
    for i in &r.incidents {
        incidents += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&i.id),
            i.severity,
            i.opened_at.format("%Y-%m-%d %H:%M"),
            i.minutes_to_acknowledge
                .map_or("never".into(), |m| format!("{m:.0} min")),
            if i.acknowledged_on_time {
                "on time"
            } else {
                "<b>late</b>"
            }
        );
    }
    let mut notices = String::new();
    for m in &r.maintenance {
        notices += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.id),
            m.lead_business_days,
            match (m.late, m.approved) {
                (false, _) => "on time",
                (true, true) => "<b>late</b>, approved",
                (true, false) => "<b>late, not approved</b>: counted as no maintenance",
            }
        );
    }
    (incidents, notices)
}

/// The HTML page: headline figures, both charts as inline SVG, the tables
/// (`livesite report --format html`, a browser's).
pub fn html(r: &MonthlyReport, operator: &Operator) -> String {
    page(r, operator, (availability_chart(r), latency_chart(r)))
}

/// The email's HTML part: the page with each chart an attached PNG shown
/// by `cid:`, its scale and legend written beside it.
pub fn email_html(r: &MonthlyReport, operator: &Operator) -> String {
    let availability = format!(
        "<p><b>Daily availability (%)</b>: each day's bar from {floor:.2}% (bottom) to 100% (top); green at or over the {target:.2}% target (dashed red line), red under it, a short grey bar for a day nothing was observed.</p>\
         <img src=\"cid:{AVAILABILITY_PNG}\" width=\"{w}\" height=\"{h}\" alt=\"Daily availability against the {target:.2}% target\">",
        floor = raster::availability_floor(r),
        target = r.target_percent,
        w = raster::WIDTH,
        h = raster::HEIGHT,
    );
    let latency = format!(
        "<p><b>Daily latency (ms)</b>: from 0 (bottom) to {top:.0} ms (top); p50 green, p95 blue, p99 magenta; the {sla} ms SLA as a dashed red line.</p>\
         <img src=\"cid:{LATENCY_PNG}\" width=\"{w}\" height=\"{h}\" alt=\"Daily latency percentiles against the {sla} ms SLA\">",
        top = raster::latency_top(r),
        sla = r.latency_sla_ms,
        w = raster::WIDTH,
        h = raster::HEIGHT,
    );
    page(r, operator, (availability, latency))
}

/// The email's chart images, or none if one could not be drawn.
pub fn email_images(r: &MonthlyReport) -> Vec<livesite_core::notify::InlineImage> {
    use base64::Engine;
    let png = |id: &str, drawn: Result<Vec<u8>, png::EncodingError>| {
        drawn.ok().map(|bytes| livesite_core::notify::InlineImage {
            content_id: id.to_string(),
            content_type: "image/png".into(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    };
    [
        png(AVAILABILITY_PNG, raster::availability(r)),
        png(LATENCY_PNG, raster::latency(r)),
    ]
    .into_iter()
    .collect::<Option<Vec<_>>>()
    .unwrap_or_default()
}

fn page(r: &MonthlyReport, operator: &Operator, (chart_a, chart_l): (String, String)) -> String {
    let colour = match r.standing {
        Standing::Met => "#1b7f3b",
        Standing::Missed => "#b00020",
        Standing::InProgress | Standing::NoData => "#555555",
    };
    let verdict = format!("<b style=\"color:{colour}\">{}</b>", r.standing.label());
    let progress = progress(r)
        .map(|p| format!("<p><i>{}</i></p>", escape(&p)))
        .unwrap_or_default();
    let (incidents, notices) = html_rows(r);
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:680px\">\
         <h2>{title}</h2>{progress}\
         <table style=\"border-collapse:collapse\" cellpadding=\"4\">\
         <tr><td>Availability (SLA)</td><td><b>{sla}</b> against {target:.2}%: {verdict}</td></tr>\
         <tr><td>Availability (raw)</td><td>{raw:.3}%</td></tr>\
         <tr><td>Downtime counted</td><td>{down:.1} min of a {budget:.1} min error budget ({left:.1} min left)</td></tr>\
         <tr><td>Announced maintenance</td><td>{mt:.1} min ({dm:.1} min down inside it, not counted)</td></tr>\
         <tr><td>Unknown (no decided round)</td><td>{unk:.1} min, not counted</td></tr>\
         <tr><td>Latency p50 / p95 / p99</td><td>{p50} / {p95} / {p99}; {over:.2}% of up rounds over {sla_ms} ms{untrusted}</td></tr>\
         </table>\
         <div id=\"availability-chart\">{chart_a}</div>\
         <div id=\"latency-chart\">{chart_l}</div>\
         <h3>Incidents ({ni})</h3><table border=\"1\" style=\"border-collapse:collapse\" cellpadding=\"4\">\
         <tr><th>incident</th><th>severity</th><th>opened (UTC)</th><th>acknowledged after</th><th>initial response</th></tr>{incidents}</table>\
         <h3>Maintenance notices ({on} on time, {late} late)</h3><table border=\"1\" style=\"border-collapse:collapse\" cellpadding=\"4\">\
         <tr><th>window</th><th>business days ahead</th><th></th></tr>{notices}</table>\
         <p style=\"color:#666;font-size:small\">livesite · DYNAMO live-site monitor. Unknown time is when no probe result arrived; it counts neither as up nor as down.</p>\
         </body></html>",
        title = escape(&format!("{} ({}): SLA report for {}", operator.name, operator.id, r.month)),
        sla = pct(r.availability_percent),
        target = r.target_percent,
        raw = r.availability_raw_percent,
        down = r.downtime_minutes,
        budget = r.error_budget_minutes,
        left = r.error_budget_left_minutes,
        mt = r.maintenance_minutes,
        dm = r.down_in_maintenance_minutes,
        unk = r.unknown_minutes,
        p50 = ms(r.latency.p50_ms),
        p95 = ms(r.latency.p95_ms),
        p99 = ms(r.latency.p99_ms),
        over = r.latency.over_sla_percent,
        sla_ms = r.latency_sla_ms,
        untrusted = if r.latency.untrusted > 0 {
            format!(
                "; {} timings left out (the monitor's own CPU wait over {} ms)",
                r.latency.untrusted,
                livesite_core::probe::MAX_CPU_WAIT_MS
            )
        } else {
            String::new()
        },
        chart_a = chart_a,
        chart_l = chart_l,
        ni = r.incidents.len(),
        on = r.maintenance_on_time,
        late = r.maintenance_late,
    )
}

/// The report as an email to the operator, the team in copy.
pub fn email(
    r: &MonthlyReport,
    operator: &Operator,
    team: &Team,
    at: DateTime<Utc>,
) -> Notification {
    Notification::email(
        Email {
            key: format!("{}#report-{}", operator.id, r.month),
            topic: Topic::MonthlyReport,
            operator: &operator.id,
            incident: None,
            severity: Some(Severity::Low),
            to: operator.contacts.clone(),
            cc: team.mailbox(livesite_core::Purpose::Programme),
            subject: format!(
                "[SLA REPORT] {} {}: {} ({})",
                operator.name,
                r.month,
                pct(r.availability_percent),
                r.standing.label()
            ),
            text: text(r, operator),
            at,
        },
        team,
    )
    .with_html(email_html(r, operator))
    .with_images(email_images(r))
}

/// Records last month's report email for every operator monitored that
/// month, once per month, once that month has ended on the operator's own
/// calendar (the key is checked first, so the report is computed only while
/// it is missing). One operator's report failing does not hold back
/// the others'; the failures are returned with the keys queued.
pub async fn queue_monthly_reports<S>(
    store: &S,
    team: &Team,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<QueuedReports, StoreError>
where
    S: StateStore + SummaryStore + IncidentStore + RecordStore + Outbox + OperatorRegistry,
{
    queue_monthly_reports_while(store, team, policy, now, &|| true).await
}

/// The same, starting no further operator's report once `keep_going` says
/// no (the sweep's time budget): the operators left are counted and their
/// reports recorded by a later sweep.
pub async fn queue_monthly_reports_while<S>(
    store: &S,
    team: &Team,
    policy: &Policy,
    now: DateTime<Utc>,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<QueuedReports, StoreError>
where
    S: StateStore + SummaryStore + IncidentStore + RecordStore + Outbox + OperatorRegistry,
{
    let mut out = QueuedReports::default();
    for op in store.list_operators().await? {
        if !keep_going() {
            out.deferred += 1;
            continue;
        }
        let month = Month::previous_in(now, op.timezone);
        if let Err(e) = queue_one(store, &op, month, team, policy, now, &mut out.queued).await {
            out.failed.push((op.id.to_string(), e));
        }
    }
    Ok(out)
}

/// What one pass of the monthly reports did.
#[derive(Debug, Default)]
pub struct QueuedReports {
    /// Outbox keys of the reports recorded by this pass.
    pub queued: Vec<String>,
    /// Operators whose report could not be computed or recorded.
    pub failed: Vec<(String, StoreError)>,
    /// Operators left for a later pass when the time budget ran out.
    pub deferred: usize,
}

async fn queue_one<S>(
    store: &S,
    op: &Operator,
    month: Month,
    team: &Team,
    policy: &Policy,
    now: DateTime<Utc>,
    queued: &mut Vec<String>,
) -> Result<(), StoreError>
where
    S: StateStore + SummaryStore + IncidentStore + RecordStore + Outbox,
{
    let key = format!("{}#report-{}", op.id, month);
    if store.get_entry(&key).await?.is_some() {
        return Ok(());
    }
    let report = gather(store, op, month, policy, now).await?;
    if report.probes == 0 {
        // Not monitored that month (onboarded later): nothing to report.
        return Ok(());
    }
    if store.enqueue(&email(&report, op, team, now)).await? {
        queued.push(key);
    }
    Ok(())
}

/// How long one sweep's duties and delivery may take, of its 60 seconds,
/// before the outbox's rest waits for the next sweep (five minutes later):
/// the reports and the sweep's own metrics still fit.
pub const DELIVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(25);

/// How long one sweep spends on monthly reports, of its 60 seconds: the
/// contract's clocks, the outbox and blindness have run before; the
/// operators left wait for the next sweep, five minutes later.
pub const REPORTS_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// The whole sweep: every duty of the core's sweep first (the clocks, the
/// outbox, blindness, certificates: none can be held back by a report),
/// then the monthly reports within `REPORTS_BUDGET`, then one more delivery
/// for the reports just recorded. No duty's failure stops another: each is
/// reported by name in `SweepReport::failed`; a failing report is counted
/// there and tried again by every later sweep until it is recorded.
pub async fn sweep_with_reports<S, N>(
    store: &S,
    notifier: &N,
    team: &Team,
    policy: &Policy,
    now: DateTime<Utc>,
) -> (SweepReport, Vec<String>)
where
    S: Store + RecordStore + OperatorRegistry,
    N: Notifier,
{
    let swept = std::time::Instant::now();
    let delivering = move || swept.elapsed() < DELIVERY_BUDGET;
    let mut report = sweep(store, notifier, team, policy, now, &delivering).await;
    let started = std::time::Instant::now();
    let keep_going = move || started.elapsed() < REPORTS_BUDGET;
    let queued = match queue_monthly_reports_while(store, team, policy, now, &keep_going).await {
        Ok(q) => {
            for (op, e) in q.failed {
                report.failed.push((Duty::Reports, format!("{op}: {e}")));
            }
            if q.deferred > 0 {
                tracing::warn!(
                    deferred = q.deferred,
                    "monthly reports left for the next sweep"
                );
            }
            q.queued
        }
        Err(e) => {
            report.failed.push((Duty::Reports, e.to_string()));
            Vec::new()
        }
    };
    if !queued.is_empty() {
        match deliver_pending(
            store,
            notifier,
            team,
            now,
            chrono::Duration::minutes(2),
            500,
        )
        .await
        {
            Ok(more) => report.delivery.absorb(more),
            Err(e) => report.failed.push((Duty::Delivery, e.to_string())),
        }
    }
    (report, queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use livesite_core::report::{monthly, ReportInput};
    use livesite_core::{
        EmailAddress, FailureReason, OperatorId, Outcome, PortalCheck, ProbeResult,
    };

    fn operator() -> Operator {
        Operator {
            id: OperatorId::new("contoso").unwrap(),
            name: "Contoso <Mobile>".into(),
            portal: PortalCheck::new("https://p.contoso.example/".parse().unwrap()),
            contacts: vec![EmailAddress::parse("noc@contoso.example").unwrap()],
            timezone: livesite_core::Tz::UTC,
            holidays: Default::default(),
            workdays: livesite_core::BusinessCalendar::default().workdays,
            maintenance: vec![],
            api_clients: vec![],
            escalation_phones: vec![],
            agents: vec![],
        }
    }

    fn report() -> MonthlyReport {
        let month: Month = "2026-02".parse().unwrap();
        let mut probes = Vec::new();
        let mut t = month.start();
        while t < month.end() {
            let down = t.format("%d %H").to_string() == "10 10";
            probes.push(ProbeResult {
                operator: operator().id,
                probed_at: t,
                outcome: if down { Outcome::Down } else { Outcome::Up },
                reason: down.then_some(FailureReason::Timeout),
                status: None,
                latency_ms: Some(if t.format("%d").to_string() == "03" {
                    650.0
                } else {
                    120.0
                }),
                phases: None,
                url: None,
                redirects: 0,
                cert_expires_at: None,
                detail: None,
                // Two slow timings that were our own CPU queue.
                cpu_wait_ms: (t.format("%d %H:%M:%S").to_string() == "05 10:00:00"
                    || t.format("%d %H:%M:%S").to_string() == "05 11:00:00")
                    .then_some(80.0),
                addresses: vec![],
                location: None,
                slot: None,
            });
            t += Duration::seconds(30);
        }
        let policy = Policy::default();
        let days =
            livesite_core::summary::decide_days(&operator(), &policy, &Default::default(), &probes);
        monthly(ReportInput {
            operator: operator().id,
            month,
            policy: &policy,
            days: &days,
            incidents: &[],
            notices: &[],
            timezone: livesite_core::Tz::UTC,
            now: chrono::DateTime::<Utc>::MAX_UTC,
        })
    }

    #[test]
    fn the_html_email_carries_both_charts_and_escapes_names() {
        let r = report();
        assert!(!r.met_target, "an hour down misses 99.9%");
        let h = html(&r, &operator());
        // For a look in a browser: `LIVESITE_REPORT_HTML=/tmp/report.html
        // cargo test -p livesite-report`, then a headless Chromium screenshot.
        if let Ok(path) = std::env::var("LIVESITE_REPORT_HTML") {
            std::fs::write(path, &h).unwrap();
        }
        assert_eq!(h.matches("<svg").count(), 2, "two charts inline");
        assert!(h.contains("Daily availability (%)") && h.contains("Daily latency (ms)"));
        assert!(
            h.matches("<polyline").count() + h.matches("<path").count() >= 5,
            "lines drawn"
        );
        assert!(h.contains("Contoso &lt;Mobile&gt;") && !h.contains("Contoso <Mobile>"));
        assert!(h.contains("MISSED"));
        assert!(h.contains("; 2 timings left out (the monitor's own CPU wait over 10 ms)"));
        let t = text(&r, &operator());
        assert!(t.contains("MISSED") && t.contains("p99"), "{t}");
        assert!(
            t.contains("2 timings left out of the latency figures: the monitor's own CPU wait was over 10 ms"),
            "{t}"
        );
        let n = email(
            &r,
            &operator(),
            &Team {
                sender: EmailAddress::parse("l@d.example").unwrap(),
                emails: vec![],
                channels: Default::default(),
                phone: None,
                calendar: Default::default(),
                api_url: None,
            },
            Utc::now(),
        );
        assert_eq!(n.key, "contoso#report-2026-02");
        assert!(n.html.is_some() && !n.subject.contains('\n'));
        assert_eq!(n.images.len(), 2, "both charts, as PNG");
    }

    /// The pixels of a PNG chart, as (width, height, RGB bytes).
    fn pixels(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width, info.height, buf[..info.buffer_size()].to_vec())
    }

    fn count(rgb: &[u8], colour: [u8; 3]) -> usize {
        rgb.chunks(3).filter(|p| *p == colour).count()
    }

    /// The email's charts: one bar a day, green when the day met the target
    /// and red the day an hour was down; the latency lines and the dashed
    /// SLA line; the HTML states each scale and shows each by its cid.
    #[test]
    fn the_email_charts_are_drawn_as_the_month_went() {
        let r = report();
        let (w, h, a) = pixels(&raster::availability(&r).unwrap());
        assert_eq!((w, h), (raster::WIDTH, raster::HEIGHT));
        let (green, red) = (count(&a, [27, 127, 59]), count(&a, [176, 0, 32]));
        assert!(green > 1000, "27 days met the target: {green}");
        assert!(
            red > 100,
            "the 10th (an hour down) and the target line: {red}"
        );
        let (_, _, l) = pixels(&raster::latency(&r).unwrap());
        let lines = count(&l, [27, 127, 59]) + count(&l, [25, 90, 200]) + count(&l, [170, 40, 160]);
        assert!(lines > 1000 && count(&l, [176, 0, 32]) > 100, "{lines}");
        let html = email_html(&r, &operator());
        assert!(!html.contains("<svg"));
        for id in [AVAILABILITY_PNG, LATENCY_PNG] {
            assert_eq!(
                html.matches(&format!("src=\"cid:{id}\"")).count(),
                1,
                "{id}"
            );
        }
        assert!(
            html.contains("green at or over the 99.90% target"),
            "{html}"
        );
        if let Ok(dir) = std::env::var("LIVESITE_DUMP_CHARTS") {
            std::fs::write(
                format!("{dir}/{AVAILABILITY_PNG}"),
                raster::availability(&r).unwrap(),
            )
            .unwrap();
            std::fs::write(format!("{dir}/{LATENCY_PNG}"), raster::latency(&r).unwrap()).unwrap();
        }
    }
}
