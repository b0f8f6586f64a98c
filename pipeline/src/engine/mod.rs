//! The instance registry and lifecycle state machine.
//!
//! An instance is an id, one config tree (the source of truth for its
//! settings), a lifecycle state `Registered -> Loaded -> Running`, a runtime
//! state tree that exists only while it is loaded, and the last error it met.
//! Persistent instances are written through [`InstanceStore`] before a change
//! is committed in memory, so what is on disk never runs ahead of or behind
//! what the API answered.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tracing::info;
use uuid::Uuid;

mod securt;

use crate::config_tree;
use crate::error::{Error, Result};
use crate::events::{BusOptions, EventBus};
use crate::handlers::{self, Handlers};
use crate::outputs::{self, OutputConfig};
pub use crate::runtime::ErrorRecord;
use crate::runtime::{ErrorCell, ErrorSink, PushedFrame, RunContext, RunStats, Runner, Running};
use crate::securt::SecurtConfig;
use crate::settings::{InputSource, Settings, SettingsPatch};
use crate::store::{InstanceFile, InstanceStore};

/// Where an instance is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleState {
    /// Known, holding no resources.
    Registered,
    /// Resources allocated; not processing.
    Loaded,
    /// Processing its input.
    Running,
}

impl fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LifecycleState::Registered => "registered (not loaded)",
            LifecycleState::Loaded => "loaded (not running)",
            LifecycleState::Running => "running",
        })
    }
}

/// A read-only copy of one instance, as `GET .../instance` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSnapshot {
    pub id: Uuid,
    pub settings: Settings,
    pub state: LifecycleState,
    pub read_only: bool,
    pub system_instance: bool,
    /// Frames processed per second, measured; 0 when not processing.
    pub fps: f64,
    /// When the instance last started running, if it runs.
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Instance {
    tree: Map<String, Value>,
    settings: Settings,
    state: LifecycleState,
    runtime: Map<String, Value>,
    read_only: bool,
    system_instance: bool,
    last_error: Arc<ErrorCell>,
    started_at: Option<DateTime<Utc>>,
    /// Outlives runs: SSE clients stay connected across stop and start.
    bus: Arc<EventBus>,
    /// Publishes the config tree to the running pipeline.
    live: watch::Sender<Arc<Map<String, Value>>>,
    stats: Arc<RunStats>,
    running: Option<Box<dyn Running>>,
    /// The MQTT handlers while running.
    handlers: Option<Handlers>,
}

impl Instance {
    fn new(tree: Map<String, Value>, settings: Settings) -> Self {
        let (live, _) = watch::channel(Arc::new(tree.clone()));
        Instance {
            tree,
            settings,
            state: LifecycleState::Registered,
            runtime: Map::new(),
            read_only: false,
            system_instance: false,
            last_error: Arc::default(),
            started_at: None,
            bus: Arc::new(EventBus::new(BusOptions::default())),
            live,
            stats: Arc::default(),
            running: None,
            handlers: None,
        }
    }

    /// Stops the pipeline, if one runs, and waits for it.
    fn stop_pipeline(&mut self) {
        self.handlers = None;
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }

    fn snapshot(&self, id: Uuid) -> InstanceSnapshot {
        InstanceSnapshot {
            id,
            settings: self.settings.clone(),
            state: self.state,
            read_only: self.read_only,
            system_instance: self.system_instance,
            fps: if self.running.is_some() { self.stats.fps.get() } else { 0.0 },
            started_at: self.started_at,
        }
    }

    fn file(&self, id: Uuid, tree: &Map<String, Value>) -> InstanceFile {
        InstanceFile {
            instance_id: id,
            read_only: self.read_only,
            system_instance: self.system_instance,
            config: tree.clone(),
        }
    }
}

/// What [`Engine::open`] found in the data directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub restored: usize,
    pub started: usize,
    /// Files that could not be restored, with the reason.
    pub failed: Vec<String>,
}

/// Owns every instance. Cheap operations under one lock; persistence happens
/// under it too, so file writes are ordered exactly like the changes. Starting
/// and stopping a pipeline also happens under it (a stop takes well under a
/// second), so lifecycle requests on one instance are strictly ordered.
#[derive(Debug)]
pub struct Engine {
    instances: Mutex<BTreeMap<Uuid, Instance>>,
    store: Option<InstanceStore>,
    last_error: Arc<ErrorCell>,
    runner: Arc<dyn Runner>,
}

impl Engine {
    /// An engine that keeps nothing on disk (persistent instances are lost).
    pub fn in_memory(runner: Arc<dyn Runner>) -> Self {
        Engine {
            instances: Mutex::new(BTreeMap::new()),
            store: None,
            last_error: Arc::default(),
            runner,
        }
    }

    /// Opens the instances directory, restores every persistent instance and
    /// starts those marked `autoStart`.
    pub fn open(
        instances_dir: impl Into<PathBuf>,
        runner: Arc<dyn Runner>,
    ) -> Result<(Self, RestoreReport)> {
        let store = InstanceStore::open(instances_dir)?;
        let (files, bad) = store.load_all()?;
        let engine = Engine { store: Some(store), ..Engine::in_memory(runner) };
        let mut report = RestoreReport::default();
        for b in bad {
            let msg = format!("skipped instance file {}: {}", b.path.display(), b.reason);
            engine.record_error("store", &msg);
            report.failed.push(msg);
        }
        let mut autostart = Vec::new();
        {
            let mut map = engine.lock();
            for f in files {
                let id = f.instance_id;
                match validate(&f.config) {
                    Ok(settings) => {
                        if settings.auto_start {
                            autostart.push(id);
                        }
                        let mut inst = Instance::new(f.config, settings);
                        inst.read_only = f.read_only;
                        inst.system_instance = f.system_instance;
                        map.insert(id, inst);
                        report.restored += 1;
                    }
                    Err(e) => {
                        let msg = format!("skipped instance {id}: invalid configuration: {e}");
                        engine.record_error("store", &msg);
                        report.failed.push(msg);
                    }
                }
            }
        }
        for id in autostart {
            match engine.start(id) {
                Ok(()) => report.started += 1,
                Err(e) => engine.record_instance_error(id, &format!("autoStart failed: {e}")),
            }
        }
        Ok((engine, report))
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Uuid, Instance>> {
        // A panic while holding the lock cannot leave an instance half
        // changed (changes are committed by plain assignments at the end),
        // so a poisoned lock is still usable.
        self.instances.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a failure that is not tied to one instance.
    pub fn record_error(&self, source: &str, message: &str) {
        tracing::warn!(source, message, "error recorded");
        self.last_error.set(source, message);
    }

    fn error_sink(&self, id: Uuid, inst: &Instance) -> ErrorSink {
        ErrorSink::new(id, inst.last_error.clone(), self.last_error.clone())
    }

    fn record_instance_error(&self, id: Uuid, message: &str) {
        let sink = self.lock().get(&id).map(|inst| self.error_sink(id, inst));
        match sink {
            Some(sink) => sink.report(message),
            None => self.record_error(&format!("instance {id}"), message),
        }
    }

    /// The most recent failure of any kind.
    pub fn last_error(&self) -> Option<ErrorRecord> {
        self.last_error.get()
    }

    /// The most recent failure of one instance.
    pub fn instance_error(&self, id: Uuid) -> Result<Option<ErrorRecord>> {
        Ok(self.lock().get(&id).ok_or(Error::InstanceNotFound(id))?.last_error.get())
    }

    /// The instance's event bus (it outlives runs of the instance).
    pub fn bus(&self, id: Uuid) -> Result<Arc<EventBus>> {
        Ok(self.lock().get(&id).ok_or(Error::InstanceNotFound(id))?.bus.clone())
    }

    /// The instance's live measurements.
    pub fn stats(&self, id: Uuid) -> Result<Arc<RunStats>> {
        Ok(self.lock().get(&id).ok_or(Error::InstanceNotFound(id))?.stats.clone())
    }

    /// Hands a pushed frame to a running instance (`Manual` input).
    pub fn push(&self, id: Uuid, frame: PushedFrame) -> Result<()> {
        let map = self.lock();
        let inst = map.get(&id).ok_or(Error::InstanceNotFound(id))?;
        let Some(running) = &inst.running else {
            return Err(Error::PushRefused {
                id,
                reason: format!("it is {}: start it first", inst.state),
            });
        };
        running.push(frame).map_err(|e| Error::PushRefused { id, reason: e.to_string() })
    }

    /// Every instance, ordered by id.
    pub fn list(&self) -> Vec<InstanceSnapshot> {
        self.lock().iter().map(|(id, inst)| inst.snapshot(*id)).collect()
    }

    /// One instance.
    pub fn get(&self, id: Uuid) -> Result<InstanceSnapshot> {
        Ok(self.lock().get(&id).ok_or(Error::InstanceNotFound(id))?.snapshot(id))
    }

    /// Creates an instance. `id` is generated when `None`; an existing `id`
    /// is refused. `patch.solution` defaults to `securt`, as RT's own
    /// clients assume.
    pub fn create(&self, id: Option<Uuid>, patch: &SettingsPatch) -> Result<Uuid> {
        let solution = patch.solution.as_deref().unwrap_or(crate::solutions::SECURT);
        let id = id.unwrap_or_else(Uuid::new_v4);
        let mut map = self.lock();
        if map.contains_key(&id) {
            return Err(Error::InstanceExists(id));
        }
        let mut tree = Map::new();
        let mut defaults = Settings::defaults(solution);
        defaults.name = format!("Instance {}", &id.to_string()[..8]);
        defaults.write_to(&mut tree);
        patch.apply_to(&mut tree);
        let settings = validate(&tree)?;
        let inst = Instance::new(tree, settings);
        if inst.settings.persistent {
            self.save(id, &inst, &inst.tree)?;
        }
        info!(instance_id = %id, solution, persistent = inst.settings.persistent, "instance created");
        map.insert(id, inst);
        Ok(id)
    }

    /// Deletes an instance, stopping it first if it runs.
    pub fn delete(&self, id: Uuid) -> Result<()> {
        let mut map = self.lock();
        let inst = map.get(&id).ok_or(Error::InstanceNotFound(id))?;
        if inst.read_only {
            return Err(Error::ReadOnly(id));
        }
        if inst.settings.persistent {
            self.remove_file(id)?;
        }
        if let Some(mut inst) = map.remove(&id) {
            inst.stop_pipeline();
        }
        info!(instance_id = %id, "instance deleted");
        Ok(())
    }

    /// Applies a partial settings update.
    pub fn update(&self, id: Uuid, patch: &SettingsPatch) -> Result<()> {
        self.change_tree(id, |tree| {
            patch.apply_to(tree);
            Ok(())
        })
    }

    /// The whole config tree, handler passwords masked.
    pub fn config(&self, id: Uuid) -> Result<Map<String, Value>> {
        let mut tree = self.lock().get(&id).ok_or(Error::InstanceNotFound(id))?.tree.clone();
        handlers::mask_secrets(&mut tree);
        Ok(tree)
    }

    /// `POST .../config`: writes `json_value` (JSON text) at `path`.
    pub fn set_config(&self, id: Uuid, path: &str, json_value: &str) -> Result<()> {
        let value = config_tree::parse_json_value(json_value)?;
        self.change_tree(id, |tree| config_tree::set(tree, path, value))
    }

    /// `POST .../input`: sets where the instance reads video from.
    pub fn set_input(&self, id: Uuid, input: &InputSource) -> Result<()> {
        input.validate()?;
        self.change_tree(id, |tree| {
            input.write_to(tree);
            Ok(())
        })
    }

    /// `POST .../output/hls`: HLS while the instance runs (or not).
    pub fn set_output_hls(&self, id: Uuid, enabled: bool) -> Result<()> {
        self.change_tree(id, |tree| {
            outputs::set_hls(tree, enabled);
            Ok(())
        })
    }

    /// `POST .../output/rtsp`: the RTSP re-stream; `uri` is required when
    /// enabling.
    pub fn set_output_rtsp(&self, id: Uuid, enabled: bool, uri: Option<&str>) -> Result<()> {
        if enabled {
            outputs::parse_rtsp(uri.unwrap_or_default(), "uri")?;
        }
        self.change_tree(id, |tree| {
            outputs::set_rtsp(tree, enabled, uri);
            Ok(())
        })
    }

    /// `POST .../render_preset`: the overlay on output video.
    pub fn set_render_preset(&self, id: Uuid, preset: &str) -> Result<()> {
        if outputs::RenderPreset::parse(preset).is_none() {
            return Err(Error::invalid("presetName", "must be \"Default\" or \"\" (clean video)"));
        }
        self.change_tree(id, |tree| {
            outputs::set_render_preset(tree, preset);
            Ok(())
        })
    }

    /// The runtime state tree; only while loaded or running.
    pub fn state(&self, id: Uuid) -> Result<Map<String, Value>> {
        let map = self.lock();
        let inst = map.get(&id).ok_or(Error::InstanceNotFound(id))?;
        require_loaded(id, inst, "read the runtime state of")?;
        Ok(inst.runtime.clone())
    }

    /// `POST .../state`: writes a runtime value; lost when unloaded.
    pub fn set_state(&self, id: Uuid, path: &str, json_value: &str) -> Result<()> {
        let value = config_tree::parse_json_value(json_value)?;
        let mut map = self.lock();
        let inst = map.get_mut(&id).ok_or(Error::InstanceNotFound(id))?;
        require_loaded(id, inst, "set the runtime state of")?;
        config_tree::set(&mut inst.runtime, path, value)
    }

    /// Registered -> Loaded.
    pub fn load(&self, id: Uuid) -> Result<()> {
        self.transition(id, "load", |s| match s {
            LifecycleState::Registered => Ok(Some(LifecycleState::Loaded)),
            _ => Err(""),
        })
    }

    /// Loaded or Running -> Registered (a running instance is stopped first).
    pub fn unload(&self, id: Uuid) -> Result<()> {
        self.transition(id, "unload", |s| match s {
            LifecycleState::Registered => Err(""),
            _ => Ok(Some(LifecycleState::Registered)),
        })
    }

    /// Registered or Loaded -> Running (loading first when needed). On a
    /// running instance it changes nothing: clients retry, and nothing in
    /// CVEDIA's SDK shows RT refusing it.
    pub fn start(&self, id: Uuid) -> Result<()> {
        self.transition(id, "start", |s| match s {
            LifecycleState::Running => Ok(None),
            _ => Ok(Some(LifecycleState::Running)),
        })
    }

    /// Running -> Loaded. On an instance that is not running it changes
    /// nothing (a Registered one stays Registered), for the same reason.
    pub fn stop(&self, id: Uuid) -> Result<()> {
        self.transition(id, "stop", |s| match s {
            LifecycleState::Running => Ok(Some(LifecycleState::Loaded)),
            _ => Ok(None),
        })
    }

    /// Running -> Running, through a stop and a start.
    pub fn restart(&self, id: Uuid) -> Result<()> {
        self.transition(id, "restart", |s| match s {
            LifecycleState::Running => Ok(Some(LifecycleState::Running)),
            _ => Err("; use start"),
        })
    }

    /// Stops every running instance (graceful shutdown). Their `autoStart`
    /// setting, not this stop, decides whether they run after a restart.
    pub fn stop_all(&self) {
        for inst in self.lock().values_mut() {
            if inst.state == LifecycleState::Running {
                inst.stop_pipeline();
                inst.state = LifecycleState::Loaded;
                inst.started_at = None;
            }
        }
    }

    /// Moves the instance to the state `next` gives for its current one:
    /// `Ok(None)` leaves it as it is, `Err(hint)` refuses with 406.
    fn transition(
        &self,
        id: Uuid,
        action: &'static str,
        next: impl FnOnce(LifecycleState) -> Result<Option<LifecycleState>, &'static str>,
    ) -> Result<()> {
        let mut map = self.lock();
        let inst = map.get_mut(&id).ok_or(Error::InstanceNotFound(id))?;
        let from = inst.state;
        let Some(to) =
            next(from).map_err(|hint| Error::InvalidState { id, action, state: from, hint })?
        else {
            info!(instance_id = %id, action, state = ?from, "instance lifecycle: nothing to do");
            return Ok(());
        };
        if to == LifecycleState::Registered {
            inst.runtime.clear();
        }
        // restart is Running -> Running: the pipeline is stopped and started.
        inst.stop_pipeline();
        if to == LifecycleState::Running {
            inst.started_at = Some(Utc::now());
            inst.stats.reset();
            let ctx = RunContext {
                instance_id: id,
                bus: inst.bus.clone(),
                config: inst.live.subscribe(),
                stats: inst.stats.clone(),
                errors: self.error_sink(id, inst),
            };
            inst.running = Some(self.runner.start(ctx));
            inst.handlers = Handlers::start(
                id,
                inst.bus.clone(),
                inst.live.subscribe(),
                inst.stats.handlers.clone(),
            );
        } else {
            inst.started_at = None;
        }
        inst.state = to;
        info!(instance_id = %id, action, from = ?from, to = ?to, "instance lifecycle");
        Ok(())
    }

    /// Applies `f` to a copy of the tree, validates the result, persists it
    /// (or removes the file when the instance stops being persistent), and
    /// only then commits it. Any failure leaves the instance unchanged.
    fn change_tree(
        &self,
        id: Uuid,
        f: impl FnOnce(&mut Map<String, Value>) -> Result<()>,
    ) -> Result<()> {
        let mut map = self.lock();
        let inst = map.get_mut(&id).ok_or(Error::InstanceNotFound(id))?;
        if inst.read_only {
            return Err(Error::ReadOnly(id));
        }
        let mut tree = inst.tree.clone();
        f(&mut tree)?;
        handlers::keep_secrets(&inst.tree, &mut tree)?;
        let settings = validate(&tree)?;
        if settings.persistent {
            self.save(id, inst, &tree)?;
        } else if inst.settings.persistent {
            self.remove_file(id)?;
        }
        inst.live.send_replace(Arc::new(tree.clone()));
        inst.tree = tree;
        inst.settings = settings;
        Ok(())
    }

    fn remove_file(&self, id: Uuid) -> Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        store.remove(id).inspect_err(|e| {
            self.record_error(&format!("instance {id}"), &crate::error::chain(e));
        })
    }

    fn save(&self, id: Uuid, inst: &Instance, tree: &Map<String, Value>) -> Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        store.save(&inst.file(id, tree)).inspect_err(|e| {
            self.record_error(&format!("instance {id}"), &crate::error::chain(e));
        })
    }
}

/// Every check a config tree must pass before it is kept.
fn validate(tree: &Map<String, Value>) -> Result<Settings> {
    let settings = Settings::from_tree(tree)?;
    SecurtConfig::from_tree(tree)?;
    handlers::from_tree(tree)?;
    OutputConfig::from_tree(tree)?;
    Ok(settings)
}

fn require_loaded(id: Uuid, inst: &Instance, action: &'static str) -> Result<()> {
    match inst.state {
        LifecycleState::Registered => Err(Error::InvalidState {
            id,
            action,
            state: inst.state,
            hint: "; load or start it first",
        }),
        _ => Ok(()),
    }
}

/// A runner for the engine's unit tests: it counts starts and stops and
/// processes nothing (the media pipeline has its own tests).
#[cfg(test)]
pub(crate) mod test_runner {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::runtime::{PushError, PushedFrame, RunContext, Runner, Running};

    #[derive(Debug, Default)]
    pub struct Counting {
        pub started: AtomicUsize,
        pub stopped: Arc<AtomicUsize>,
    }

    #[derive(Debug)]
    struct Run(Arc<AtomicUsize>);

    impl Runner for Counting {
        fn start(&self, _ctx: RunContext) -> Box<dyn Running> {
            self.started.fetch_add(1, Ordering::SeqCst);
            Box::new(Run(self.stopped.clone()))
        }
    }

    impl Running for Run {
        fn stop(self: Box<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn push(&self, _frame: PushedFrame) -> Result<(), PushError> {
            Err(PushError::NotManual)
        }
    }

    pub fn runner() -> Arc<Counting> {
        Arc::new(Counting::default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::settings::InputType;

    fn securt() -> SettingsPatch {
        SettingsPatch { solution: Some("securt".into()), ..Default::default() }
    }

    fn persistent(auto_start: bool) -> SettingsPatch {
        SettingsPatch { persistent: Some(true), auto_start: Some(auto_start), ..securt() }
    }

    #[test]
    fn lifecycle_table() {
        use LifecycleState::*;
        type Step = fn(&Engine, Uuid) -> Result<()>;
        // Some(to): succeeds and ends in `to`; None: refused, state kept.
        let cases: &[(&str, LifecycleState, Step, Option<LifecycleState>)] = &[
            ("load", Registered, Engine::load, Some(Loaded)),
            ("load", Loaded, Engine::load, None),
            ("load", Running, Engine::load, None),
            ("start", Registered, Engine::start, Some(Running)),
            ("start", Loaded, Engine::start, Some(Running)),
            ("start", Running, Engine::start, Some(Running)),
            ("stop", Registered, Engine::stop, Some(Registered)),
            ("stop", Loaded, Engine::stop, Some(Loaded)),
            ("stop", Running, Engine::stop, Some(Loaded)),
            ("unload", Registered, Engine::unload, None),
            ("unload", Loaded, Engine::unload, Some(Registered)),
            ("unload", Running, Engine::unload, Some(Registered)),
            ("restart", Registered, Engine::restart, None),
            ("restart", Loaded, Engine::restart, None),
            ("restart", Running, Engine::restart, Some(Running)),
        ];
        for (name, from, step, want) in cases {
            let e = Engine::in_memory(test_runner::runner());
            let id = e.create(None, &securt()).unwrap();
            match from {
                Registered => {}
                Loaded => e.load(id).unwrap(),
                Running => e.start(id).unwrap(),
            }
            let got = step(&e, id);
            match want {
                Some(to) => {
                    got.unwrap_or_else(|err| panic!("{name} from {from:?}: {err}"));
                    assert_eq!(e.get(id).unwrap().state, *to, "{name} from {from:?}");
                }
                None => {
                    let err = got.expect_err(name).to_string();
                    assert!(err.contains(&format!("it is {from}")), "{name} from {from:?}: {err}");
                    assert_eq!(
                        e.get(id).unwrap().state,
                        *from,
                        "{name} from {from:?} changed state"
                    );
                }
            }
        }
    }

    #[test]
    fn pipelines_start_and_stop_with_the_lifecycle() {
        use std::sync::atomic::Ordering::SeqCst;
        let runner = test_runner::runner();
        let e = Engine::in_memory(runner.clone());
        let id = e.create(None, &securt()).unwrap();
        e.start(id).unwrap();
        // A repeated start or stop is a no-op: no pipeline starts or stops.
        e.start(id).unwrap();
        e.restart(id).unwrap();
        e.stop(id).unwrap();
        e.stop(id).unwrap();
        e.start(id).unwrap();
        e.unload(id).unwrap();
        e.start(id).unwrap();
        e.delete(id).unwrap();
        let other = e.create(None, &securt()).unwrap();
        e.start(other).unwrap();
        e.stop_all();
        assert_eq!((runner.started.load(SeqCst), runner.stopped.load(SeqCst)), (5, 5));
    }

    #[test]
    fn runtime_state_needs_load_and_is_cleared_by_unload() {
        let e = Engine::in_memory(test_runner::runner());
        let id = e.create(None, &securt()).unwrap();
        assert!(matches!(e.state(id), Err(Error::InvalidState { .. })));
        assert!(matches!(e.set_state(id, "a", "1"), Err(Error::InvalidState { .. })));
        e.load(id).unwrap();
        e.set_state(id, "a/b", "[1,2]").unwrap();
        assert_eq!(Value::Object(e.state(id).unwrap()), json!({"a": {"b": [1, 2]}}));
        e.unload(id).unwrap();
        e.load(id).unwrap();
        assert!(e.state(id).unwrap().is_empty());
    }

    #[test]
    fn typed_fields_and_tree_agree_both_ways() {
        let e = Engine::in_memory(test_runner::runner());
        let id = e.create(None, &securt()).unwrap();
        e.set_config(id, "frameRateLimit", "12.5").unwrap();
        assert_eq!(e.get(id).unwrap().settings.frame_rate_limit, 12.5);
        e.update(id, &SettingsPatch { name: Some("door".into()), ..Default::default() }).unwrap();
        assert_eq!(e.config(id).unwrap()["name"], json!("door"));
        let before = e.config(id).unwrap();
        let err = e.set_config(id, "frameRateLimit", "\"fast\"").unwrap_err();
        assert!(err.to_string().starts_with("frameRateLimit:"), "{err}");
        assert_eq!(e.config(id).unwrap(), before);
        e.set_input(id, &InputSource { kind: InputType::Rtsp, uri: Some("rtsp://cam/1".into()) })
            .unwrap();
        assert_eq!(e.config(id).unwrap()["Input"], json!({"type": "RTSP", "uri": "rtsp://cam/1"}));
    }

    #[test]
    fn create_defaults_to_securt_and_requires_a_known_solution_and_a_free_id() {
        let e = Engine::in_memory(test_runner::runner());
        let id = e.create(None, &SettingsPatch::default()).unwrap();
        assert_eq!(e.get(id).unwrap().settings.solution, "securt");
        e.delete(id).unwrap();
        let err = e
            .create(None, &SettingsPatch { solution: Some("lpr".into()), ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("solution: unknown solution 'lpr'"), "{err}");
        let id = Uuid::new_v4();
        e.create(Some(id), &securt()).unwrap();
        assert!(matches!(e.create(Some(id), &securt()), Err(Error::InstanceExists(x)) if x == id));
        assert_eq!(e.list().len(), 1);
    }

    #[test]
    fn persistence_follows_the_persistent_flag_and_restores() {
        let dir = tempfile::tempdir().unwrap();
        let (e, _) = Engine::open(dir.path(), test_runner::runner()).unwrap();
        let keep = e.create(None, &persistent(false)).unwrap();
        let run = e.create(None, &persistent(true)).unwrap();
        let gone = e.create(None, &securt()).unwrap();
        let demoted = e.create(None, &persistent(false)).unwrap();
        e.set_config(keep, "Output/render_preset", "\"Default\"").unwrap();
        e.update(demoted, &SettingsPatch { persistent: Some(false), ..Default::default() })
            .unwrap();
        e.start(keep).unwrap();
        drop(e);

        let (e, report) = Engine::open(dir.path(), test_runner::runner()).unwrap();
        assert_eq!(report, RestoreReport { restored: 2, started: 1, failed: vec![] });
        let ids: Vec<Uuid> = e.list().iter().map(|s| s.id).collect();
        assert!(ids.contains(&keep) && ids.contains(&run));
        assert!(!ids.contains(&gone) && !ids.contains(&demoted));
        assert_eq!(e.get(keep).unwrap().state, LifecycleState::Registered);
        assert_eq!(e.get(run).unwrap().state, LifecycleState::Running);
        assert_eq!(e.config(keep).unwrap()["Output"], json!({"render_preset": "Default"}));
        e.delete(keep).unwrap();
        let (e, _) = Engine::open(dir.path(), test_runner::runner()).unwrap();
        assert_eq!(e.list().len(), 1);
    }

    #[test]
    fn read_only_instances_refuse_changes_but_run() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4();
        let mut config = Map::new();
        Settings::defaults("securt").write_to(&mut config);
        let file = InstanceFile { instance_id: id, read_only: true, system_instance: true, config };
        InstanceStore::open(dir.path()).unwrap().save(&file).unwrap();
        let (e, _) = Engine::open(dir.path(), test_runner::runner()).unwrap();
        assert!(matches!(e.set_config(id, "a", "1"), Err(Error::ReadOnly(_))));
        assert!(matches!(e.update(id, &SettingsPatch::default()), Err(Error::ReadOnly(_))));
        assert!(matches!(e.delete(id), Err(Error::ReadOnly(_))));
        e.start(id).unwrap();
        assert!(e.get(id).unwrap().system_instance);
    }

    #[test]
    fn a_failed_save_changes_nothing_and_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("instances");
        let (e, _) = Engine::open(&sub, test_runner::runner()).unwrap();
        let id = e.create(None, &persistent(false)).unwrap();
        let before = e.config(id).unwrap();
        // Replace the directory by a file: every later save must fail.
        std::fs::remove_dir_all(&sub).unwrap();
        std::fs::write(&sub, "not a directory").unwrap();
        let err = e.set_config(id, "a", "1").unwrap_err();
        assert!(matches!(err, Error::Persist { .. }), "{err}");
        assert_eq!(e.config(id).unwrap(), before);
        assert!(e.last_error().unwrap().message.contains("failed to persist"));
    }
}
