//! Unit tests of the runner's stop: it returns within a second even while
//! the worker is stuck in a model load, and the worker still finishes and
//! releases everything afterwards.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fakes::{FakeLoader, FakeOpener, FakeTime, Harness, Log, options};
use super::{MediaRun, Running};

/// Longest a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(20);

/// A worker for `tree` started on a fake detector whose load signals
/// `started`, and the receiver told when the detector is dropped.
fn start(
    tree: Value,
    sources: FakeOpener,
    loader: impl FnOnce(&mut FakeLoader),
) -> (Box<dyn Running>, mpsc::Receiver<()>, mpsc::Receiver<()>) {
    let mut harness = Harness::new(tree);
    let ctx = harness.ctx.take().expect("a fresh harness has its context");
    let log = sources.log.clone();
    let (started_tx, started) = mpsc::channel();
    let (dropped_tx, dropped) = mpsc::channel();
    let mut detectors = FakeLoader::new(&log);
    let started_tx = Mutex::new(started_tx);
    detectors.on_load = Some(Box::new(move || {
        let _ = started_tx.lock().unwrap().send(());
    }));
    detectors.dropped = Some(dropped_tx);
    loader(&mut detectors);
    let run = MediaRun::spawn(ctx, options(), Box::new(sources), Box::new(detectors));
    (Box::new(run), started, dropped)
}

/// An opener whose opens all succeed (with sources that only time out),
/// and its log.
fn opener(script: Vec<Option<Vec<super::source::Next>>>) -> (FakeOpener, Arc<Log>) {
    let log = Arc::new(Log::default());
    (FakeOpener::new(&FakeTime::new(), &log, script), log)
}

fn no_input() -> Value {
    json!({"solution": "securt"})
}

#[test]
fn stop_returns_within_a_second_while_the_model_is_still_loading() {
    let (gate_tx, gate) = mpsc::channel::<()>();
    let (sources, log) = opener(Vec::new());
    let input = json!({"solution": "securt", "Input": {"type": "File", "uri": "/clip.mp4"}});
    let (run, started, dropped) = start(input, sources, |l| l.gate = Some(Mutex::new(gate)));
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
    let (sources, _log) = opener(Vec::new());
    let (run, started, dropped) = start(no_input(), sources, |_| {});
    started.recv_timeout(PATIENCE).expect("the load started");

    let began = Instant::now();
    run.stop();
    assert!(began.elapsed() < Duration::from_secs(1), "stop took {:?}", began.elapsed());
    // Joined: the detector was released before `stop` returned.
    assert_eq!(dropped.try_recv(), Ok(()));
}

#[test]
fn stop_returns_at_once_while_the_source_is_reconnecting() {
    // Every open fails: after the first, the worker waits out its backoff.
    let (mut sources, log) = opener((0..100).map(|_| None).collect());
    let (opened_tx, opened) = mpsc::channel();
    sources.opened = Some(Mutex::new(opened_tx));
    let input = json!({"solution": "securt", "Input": {"type": "RTSP", "uri": "rtsp://cam/1"}});
    let (run, _started, dropped) = start(input, sources, |_| {});
    opened.recv_timeout(PATIENCE).expect("a first open");

    let began = Instant::now();
    run.stop();
    assert!(began.elapsed() < Duration::from_secs(1), "stop took {:?}", began.elapsed());
    assert_eq!(dropped.try_recv(), Ok(()), "joined");
    // No attempt after the first: the stop came during the backoff.
    assert_eq!(log.opens().len(), 1);
}
