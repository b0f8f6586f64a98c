//! Unit tests of the runner's stop: it returns within a second even while
//! the worker is stuck in a model load, and the worker still finishes and
//! releases everything afterwards.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::fakes::{FakeLoader, FakeOpener, FakeTime, Harness, Log, options};
use super::{MediaRun, Running};

/// Longest a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(20);

/// A worker started on a fake detector whose load signals `started`, and
/// the receiver told when the detector is dropped.
fn start(
    loader: impl FnOnce(&mut FakeLoader),
) -> (Box<dyn Running>, Arc<Log>, mpsc::Receiver<()>, mpsc::Receiver<()>) {
    let mut harness = Harness::new(json!({"solution": "securt"}));
    let ctx = harness.ctx.take().expect("a fresh harness has its context");
    let log = Arc::new(Log::default());
    let (started_tx, started) = mpsc::channel();
    let (dropped_tx, dropped) = mpsc::channel();
    let mut detectors = FakeLoader::new(&log);
    let started_tx = Mutex::new(started_tx);
    detectors.on_load = Some(Box::new(move || {
        let _ = started_tx.lock().unwrap().send(());
    }));
    detectors.dropped = Some(dropped_tx);
    loader(&mut detectors);
    let sources = FakeOpener::new(&FakeTime::new(), &log, []);
    let run = MediaRun::spawn(ctx, options(), Box::new(sources), Box::new(detectors));
    (Box::new(run), log, started, dropped)
}

#[test]
fn stop_returns_within_a_second_while_the_model_is_still_loading() {
    let (gate_tx, gate) = mpsc::channel::<()>();
    let (run, log, started, dropped) = start(|l| l.gate = Some(Mutex::new(gate)));
    started.recv_timeout(PATIENCE).expect("the load started");

    let began = Instant::now();
    run.stop();
    let took = began.elapsed();
    assert!(took < Duration::from_secs(1), "stop took {took:?}");
    assert_eq!(log.loads(), 0, "the load is still in progress");

    // The load finishes in the background; the worker then drops the
    // detector and ends, having opened nothing.
    drop(gate_tx);
    dropped.recv_timeout(PATIENCE).expect("the detector is released once its load returns");
    assert_eq!(log.loads(), 1);
    assert!(log.opens().is_empty());
}

#[test]
fn stop_waits_for_a_worker_that_is_only_waiting() {
    // No input: the worker loads its detector, then waits for an input.
    let (run, _log, started, dropped) = start(|_| {});
    started.recv_timeout(PATIENCE).expect("the load started");

    let began = Instant::now();
    run.stop();
    assert!(began.elapsed() < Duration::from_secs(1), "stop took {:?}", began.elapsed());
    // Joined: the detector was released before `stop` returned.
    assert_eq!(dropped.try_recv(), Ok(()));
}
