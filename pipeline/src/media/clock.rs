//! Time as the worker sees it, behind two small traits so tests can run a
//! worker on simulated time: a [`Clock`] (monotonic now and wall-clock
//! milliseconds) and a [`Sleeper`] (waits that a stop request cuts short).
//! [`SystemClock`] and [`StopSignal`] are the real ones.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where the worker reads the time.
pub trait Clock: Send + Sync {
    /// Monotonic time, for intervals (backoff, statistics, latency).
    fn now(&self) -> Instant;
    /// Wall-clock time, milliseconds since the Unix epoch.
    fn wall_ms(&self) -> i64;
}

/// How the worker waits, and learns that it should stop.
pub trait Sleeper: Send + Sync {
    /// Whether a stop has been requested.
    fn stopped(&self) -> bool;
    /// Waits for `d`, or less: returns at once when a stop is requested,
    /// before or during the wait.
    fn sleep(&self, d: Duration);
}

/// The system's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A stop request shared by a worker and whoever stops it; its waits wake
/// the moment [`StopSignal::stop`] is called.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(Mutex<bool>, Condvar)>);

impl StopSignal {
    /// Requests a stop and wakes every wait.
    pub fn stop(&self) {
        let (flag, woken) = &*self.0;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        woken.notify_all();
    }
}

impl Sleeper for StopSignal {
    fn stopped(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sleep(&self, d: Duration) {
        let (flag, woken) = &*self.0;
        let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
        // Spurious wake-ups are handled by `wait_timeout_while`.
        let _ = woken.wait_timeout_while(guard, d, |stopped| !*stopped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_returns_at_once_when_stop_is_requested_during_it() {
        let signal = StopSignal::default();
        let (started_tx, started) = std::sync::mpsc::channel();
        let s = signal.clone();
        let waiter = std::thread::spawn(move || {
            started_tx.send(Instant::now()).unwrap();
            s.sleep(Duration::from_secs(60));
            Instant::now()
        });
        let began = started.recv().unwrap();
        signal.stop();
        let ended = waiter.join().unwrap();
        assert!(ended - began < Duration::from_secs(1), "woke after {:?}", ended - began);
        assert!(signal.stopped());
    }

    #[test]
    fn a_wait_after_a_stop_does_not_wait() {
        let signal = StopSignal::default();
        assert!(!signal.stopped());
        signal.stop();
        let began = Instant::now();
        signal.sleep(Duration::from_secs(60));
        assert!(began.elapsed() < Duration::from_secs(1));
    }
}
