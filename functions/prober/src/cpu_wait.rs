//! How late the prober's own runtime is to run a task that is ready: the
//! CPU wait a probe's clock includes.
//!
//! A probe's latency is the time from its first DNS query to its verdict as
//! this process sees it. When the process cannot run (its CPU share used up,
//! as a 256 MB Lambda is throttled to 0.145 of a vCPU, or too many
//! handshakes queued at once), a portal that answered in time is recorded
//! late. A heartbeat task asks to wake every `PERIOD` and notes how late it
//! woke; a probe is charged the worst lateness seen while it ran. It is the
//! event-loop delay Node's `monitorEventLoopDelay` measures.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often the heartbeat asks to wake: a throttled stretch longer than
/// this cannot pass unseen. At 5 ms it costs 200 wake-ups a second.
const PERIOD: Duration = Duration::from_millis(5);
/// Lateness below this is the timer's own millisecond granularity, not a
/// CPU queue, and is not kept.
const NOTED: Duration = Duration::from_millis(1);
/// How long lateness is remembered: longer than any probe runs (its
/// timeout is at most 20 s).
const KEPT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct CpuWait {
    inner: Arc<Inner>,
}

struct Inner {
    base: Instant,
    /// When the heartbeat is next due (µs after `base`).
    due: AtomicU64,
    /// (due, late) in µs after `base`, for wake-ups at least `NOTED` late.
    late: Mutex<VecDeque<(u64, u64)>>,
}

impl Inner {
    fn micros(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_micros()).unwrap_or(u64::MAX)
    }
}

impl CpuWait {
    /// Starts the heartbeat on the current tokio runtime; it stops when the
    /// last clone of this is dropped.
    pub fn start() -> Self {
        let inner = Arc::new(Inner {
            base: Instant::now(),
            due: AtomicU64::new(u64::MAX),
            late: Mutex::new(VecDeque::new()),
        });
        tokio::spawn(heartbeat(Arc::downgrade(&inner)));
        Self { inner }
    }

    /// The worst lateness of the runtime between `from` and `to` (now or
    /// earlier): a wake-up due in that span, or one due and still waiting.
    pub fn worst_between(&self, from: Instant, to: Instant) -> Duration {
        let i = &self.inner;
        let (from, to, now) = (i.micros(from), i.micros(to), i.micros(Instant::now()));
        let mut worst = i
            .late
            .lock()
            .map(|log| {
                log.iter()
                    .filter(|&&(due, late)| due <= to && due + late >= from)
                    .map(|&(_, late)| late)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        // The heartbeat itself may not have run yet: its own lateness so far.
        let due = i.due.load(Ordering::Relaxed);
        if due <= to && now > due {
            worst = worst.max(now - due);
        }
        Duration::from_micros(worst)
    }
}

async fn heartbeat(inner: Weak<Inner>) {
    loop {
        let due = Instant::now() + PERIOD;
        match inner.upgrade() {
            Some(i) => i.due.store(i.micros(due), Ordering::Relaxed),
            None => return,
        }
        tokio::time::sleep_until(due.into()).await;
        let late = Instant::now().saturating_duration_since(due);
        let Some(i) = inner.upgrade() else { return };
        if late >= NOTED {
            let (due, now) = (i.micros(due), i.micros(Instant::now()));
            if let Ok(mut log) = i.late.lock() {
                log.push_back((due, u64::try_from(late.as_micros()).unwrap_or(u64::MAX)));
                let horizon = now.saturating_sub(KEPT.as_micros() as u64);
                while log.front().is_some_and(|&(d, _)| d < horizon) {
                    log.pop_front();
                }
            }
        }
    }
}
