//! The monthly report's memory and reads: a 31-day month of three locations
//! voting twice a minute (267,840 probe results), decided by the evaluator
//! into 31 day summaries, then reported on from the embedded store. Heap is
//! counted by a global allocator around each call; for contrast, the same
//! month read back as raw rows (what the report did before it read days).
//!
//! cargo bench -p livesite-local --bench report
//!
//! With `LIVESITE_BENCH_DB=PATH` the month is built into that SQLite file
//! when it is missing, and only reported on when it is there: so the
//! report alone can run under the function's CPU share and memory
//! (bench/report-share.sh).

use chrono::{DateTime, Duration, Utc};
use livesite_core::config::LocationPolicy;
use livesite_core::evaluate::{evaluate, Evaluation, Event, MonitorState};
use livesite_core::ports::{ProbeLog, StateStore, SummaryStore};
use livesite_core::probe::AddressResult;
use livesite_core::{
    EmailAddress, FailureReason, Operator, OperatorId, Outcome, Policy, PortalCheck, ProbeResult,
};
use livesite_local::SqliteStore;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The system allocator, counting the bytes live and the most live at once.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`, returning its value and the most heap it held above what was
/// live when it started.
async fn peak_of<T>(f: impl std::future::Future<Output = T>) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f.await;
    (out, PEAK.load(Ordering::Relaxed) - base)
}

fn operator() -> Operator {
    Operator {
        id: OperatorId::new("contoso").expect("id"),
        name: "Contoso Mobile".into(),
        portal: PortalCheck::new("https://modirect.contoso.example/".parse().expect("url")),
        contacts: vec![EmailAddress::parse("noc@contoso.example").expect("email")],
        timezone: livesite_core::Tz::UTC,
        holidays: Default::default(),
        workdays: livesite_core::BusinessCalendar::default().workdays,
        maintenance: vec![],
        api_clients: vec![],
        escalation_phones: vec![],
        agents: vec![],
    }
}

const LOCATIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-1"];

/// Round `r`'s vote from location `l`: up in 80 to 400 ms on a dual-stack
/// name, except an hour down every day.
fn vote(start: DateTime<Utc>, r: i64, l: usize) -> ProbeResult {
    let t = start + Duration::seconds(30 * r);
    let up = r % 2880 >= 120;
    let address = |ip: &str| AddressResult {
        address: ip.parse().expect("ip"),
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: (!up).then_some(FailureReason::Connect),
        latency_ms: Some(90.0),
    };
    ProbeResult {
        operator: OperatorId::new("contoso").expect("id"),
        probed_at: t + Duration::milliseconds(137 * l as i64),
        outcome: if up { Outcome::Up } else { Outcome::Down },
        reason: (!up).then_some(FailureReason::Connect),
        status: up.then_some(200),
        latency_ms: Some(80.0 + ((r * 7 + l as i64 * 13) % 320) as f64),
        phases: None,
        url: Some("https://modirect.contoso.example/".into()),
        redirects: 0,
        cert_expires_at: Some(start + Duration::days(80)),
        detail: None,
        cpu_wait_ms: Some(0.3),
        addresses: vec![address("203.0.113.7"), address("2001:db8::7")],
        location: Some(LOCATIONS[l].into()),
        slot: Some(t),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let op = operator();
    let policy = Policy {
        locations: LocationPolicy {
            expected: LOCATIONS.map(String::from).to_vec(),
            ..LocationPolicy::default()
        },
        ..Policy::default()
    };
    let start: DateTime<Utc> = "2027-01-01T00:00:00Z".parse().expect("t");
    let rounds = 31 * 2880;
    let path = std::env::var("LIVESITE_BENCH_DB").ok();
    let built = path
        .as_ref()
        .is_some_and(|p| std::path::Path::new(p).exists());
    let store = match &path {
        Some(p) => SqliteStore::open(std::path::Path::new(p)).expect("sqlite"),
        None => SqliteStore::in_memory().expect("sqlite"),
    };
    let decided = Instant::now();
    let mut raw_rows = 0;
    if !built {
        let mut state = MonitorState::new(op.id.clone());
        for r in 0..=rounds {
            for l in 0..LOCATIONS.len() {
                let v = vote(start, r, l);
                store.append(&v).await.expect("append");
                raw_rows += 1;
                if let Evaluation::Applied {
                    state: next,
                    events,
                } = evaluate(&state, &v, &op, &policy, &Default::default())
                {
                    state = next;
                    for e in events {
                        if let Event::DayClosed { summary, .. } = e {
                            store.put_day(&op.id, &summary).await.expect("day");
                        }
                    }
                }
            }
        }
        store.save_state(&state, None).await.expect("state");
    }
    let decided = decided.elapsed();
    let month = "2027-01".parse().expect("month");
    let took = Instant::now();
    let (report, heap) = peak_of(livesite_core::service::monthly_report(
        &store,
        &op,
        month,
        &policy,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    ))
    .await;
    let report = report.expect("report");
    let took = took.elapsed();
    println!("| what | figure |\n| --- | --- |");
    println!("| probe results stored and evaluated | {raw_rows} ({decided:.1?} in all) |");
    println!(
        "| report: rounds, down minutes, p95 | {}, {:.1}, {:.1} ms |",
        report.rounds,
        report.downtime_minutes,
        report.latency.p95_ms.unwrap_or_default()
    );
    println!(
        "| report from the decided days: peak heap, time | {:.1} KB, {took:.1?} |",
        heap as f64 / 1024.0
    );
    use std::io::Write;
    std::io::stdout().flush().expect("flush");
    let (rows, raw_heap) = peak_of(store.range(&op.id, start, start + Duration::days(31))).await;
    let rows = rows.expect("rows");
    println!(
        "| the same month as raw rows (the report before): peak heap | {:.1} MB for {} rows, {:.0} bytes a row |",
        raw_heap as f64 / (1024.0 * 1024.0),
        rows.len(),
        raw_heap as f64 / rows.len() as f64
    );
    assert_eq!(report.rounds, 31 * 2880);
    assert!(heap < 64 * 1024 * 1024, "the report's budget");
}
