//! The instance registry and lifecycle state machine.
//!
//! An instance is an id, one config tree (the source of truth for its
//! settings), a lifecycle state `Registered -> Loaded -> Running`, a runtime
//! state tree that exists only while it is loaded, and the last error it met.
//! Persistent instances are written through [`InstanceStore`] before a change
//! is committed in memory, so what is on disk never runs ahead of or behind
//! what the API answered. Each instance has a supervisor (`supervisor`)
//! that runs its changes in order; [`Engine`] is a directory of them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tracing::info;
use uuid::Uuid;

mod securt;
mod supervisor;

use self::supervisor::{Core, Handle, Instance, Supervisor};
use crate::config_tree;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::handlers;
use crate::outputs::{self, OutputConfig};
pub use crate::runtime::ErrorRecord;
use crate::runtime::{PushError, PushedFrame, RunStats, Runner, Running};
use crate::secrets::Secrets;
use crate::securt::SecurtConfig;
use crate::settings::{InputSource, Settings, SettingsPatch};
use crate::store::InstanceStore;

/// Lifecycle announcements kept for a slow subscriber; one that falls
/// further behind is told it lagged and re-reads [`Engine::list`].
const LIFECYCLE_BACKLOG: usize = 1024;

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

/// What a running instance changed into; announced on [`Engine::subscribe`]
/// so that the store writer, handlers, metrics and anything later follow
/// instances without polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Created(Uuid),
    Started(Uuid),
    Stopped(Uuid),
    Deleted(Uuid),
}

/// What [`Engine::open`] found in the data directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub restored: usize,
    pub started: usize,
    /// Files that could not be restored, with the reason.
    pub failed: Vec<String>,
}

/// Owns every instance. The engine's map is only a directory of
/// [`Handle`]s, locked just long enough to find or change an entry. Each
/// instance has its own supervisor thread that owns its pipeline, its MQTT
/// handlers and its file, and runs the instance's changes one at a time: so
/// lifecycle calls and writes on one instance stay strictly ordered, calls on
/// different instances run in parallel, and reads (`get`, `list`, `config`,
/// ...) see the last committed state at once, never waiting for a start, a
/// stop or a file write in progress.
///
/// Calls that change an instance wait for its supervisor (a stop can take up
/// to a second): callers on an async runtime run them on a blocking thread.
#[derive(Debug)]
pub struct Engine {
    dir: Mutex<BTreeMap<Uuid, Arc<Handle>>>,
    core: Arc<Core>,
}

impl Engine {
    /// An engine that keeps nothing on disk (persistent instances are lost).
    pub fn in_memory(runner: Arc<dyn Runner>) -> Self {
        Self::with_store(None, runner)
    }

    fn with_store(store: Option<InstanceStore>, runner: Arc<dyn Runner>) -> Self {
        let (events, _) = broadcast::channel(LIFECYCLE_BACKLOG);
        Engine {
            dir: Mutex::new(BTreeMap::new()),
            core: Arc::new(Core {
                store,
                last_error: Arc::default(),
                runner,
                events,
                // MQTT handlers run on the runtime the engine was made on.
                runtime: tokio::runtime::Handle::try_current().ok(),
            }),
        }
    }

    /// Opens the instances directory, restores every persistent instance and
    /// starts those marked `autoStart`.
    pub fn open(
        instances_dir: impl Into<PathBuf>,
        runner: Arc<dyn Runner>,
    ) -> Result<(Self, RestoreReport)> {
        Self::open_sealed(instances_dir, runner, None)
    }

    /// [`Engine::open`], with instances' secrets sealed at rest with
    /// `secrets`. An instance whose secrets cannot be opened (missing or
    /// wrong key) is restored, records why at `.../error` and in the log,
    /// and refuses to start until its secrets are set again or the key is
    /// back.
    pub fn open_sealed(
        instances_dir: impl Into<PathBuf>,
        runner: Arc<dyn Runner>,
        secrets: Option<Arc<Secrets>>,
    ) -> Result<(Self, RestoreReport)> {
        let store = InstanceStore::open(instances_dir)?.with_secrets(secrets);
        let (files, bad) = store.load_all()?;
        let engine = Self::with_store(Some(store), runner);
        let mut report = RestoreReport::default();
        for b in bad {
            let msg = format!("skipped instance file {}: {}", b.path.display(), b.reason);
            engine.record_error("store", &msg);
            report.failed.push(msg);
        }
        let mut autostart = Vec::new();
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
                    inst.sealed = f.sealed;
                    inst.locked = f.locked.clone();
                    engine.insert(id, inst);
                    if let Some(reason) = f.locked {
                        let msg = format!("stored credentials cannot be decrypted: {reason}");
                        tracing::error!(instance_id = %id, error = %msg, "instance restored locked");
                        engine.record_instance_error(id, &msg);
                    }
                    report.restored += 1;
                }
                Err(e) => {
                    let msg = format!("skipped instance {id}: invalid configuration: {e}");
                    engine.record_error("store", &msg);
                    report.failed.push(msg);
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

    fn lock_dir(&self) -> MutexGuard<'_, BTreeMap<Uuid, Arc<Handle>>> {
        // Entries are inserted and removed whole: a poisoned lock still
        // holds a consistent map.
        self.dir.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn handle(&self, id: Uuid) -> Result<Arc<Handle>> {
        self.lock_dir().get(&id).cloned().ok_or(Error::InstanceNotFound(id))
    }

    /// Adds an instance to the directory with its supervisor; refused when
    /// the id is taken.
    fn insert(&self, id: Uuid, inst: Instance) -> Option<Arc<Handle>> {
        let mut dir = self.lock_dir();
        if dir.contains_key(&id) {
            return None;
        }
        let handle = Arc::new(Handle::spawn(id, inst, self.core.clone()));
        dir.insert(id, handle.clone());
        Some(handle)
    }

    /// Lifecycle announcements from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Lifecycle> {
        self.core.events.subscribe()
    }

    /// Records a failure that is not tied to one instance.
    pub fn record_error(&self, source: &str, message: &str) {
        self.core.record_error(source, message);
    }

    fn record_instance_error(&self, id: Uuid, message: &str) {
        match self.handle(id) {
            Ok(h) => h.shared.error_sink(&self.core).report(message),
            Err(_) => self.record_error(&format!("instance {id}"), message),
        }
    }

    /// The most recent failure of any kind.
    pub fn last_error(&self) -> Option<ErrorRecord> {
        self.core.last_error.get()
    }

    /// The most recent failure of one instance.
    pub fn instance_error(&self, id: Uuid) -> Result<Option<ErrorRecord>> {
        Ok(self.handle(id)?.shared.last_error.get())
    }

    /// The instance's event bus (it outlives runs of the instance).
    pub fn bus(&self, id: Uuid) -> Result<Arc<EventBus>> {
        Ok(self.handle(id)?.shared.bus.clone())
    }

    /// The instance's live measurements.
    pub fn stats(&self, id: Uuid) -> Result<Arc<RunStats>> {
        Ok(self.handle(id)?.shared.stats.clone())
    }

    /// Hands a pushed frame to a running instance (`Manual` input).
    pub fn push(&self, id: Uuid, frame: PushedFrame) -> Result<()> {
        self.pushing(id, |r| r.push(frame))
    }

    /// Whether instance `id` would take a frame pushed now (running, input
    /// `Manual`, room in its queue): asked before an image is decoded.
    pub fn ready_for_push(&self, id: Uuid) -> Result<()> {
        self.pushing(id, |r| r.ready_for_push())
    }

    /// `f` on instance `id`'s running pipeline; refused when it is not
    /// running.
    fn pushing(
        &self,
        id: Uuid,
        f: impl FnOnce(&dyn Running) -> std::result::Result<(), PushError>,
    ) -> Result<()> {
        let shared = self.handle(id)?.shared.clone();
        let running = shared.lock_running();
        let Some(running) = running.as_ref() else {
            let state = shared.lock().state;
            return Err(Error::PushRefused {
                id,
                reason: format!("it is {state}: start it first"),
            });
        };
        f(running.as_ref()).map_err(|e| Error::PushRefused { id, reason: e.to_string() })
    }

    /// Every instance, ordered by id.
    pub fn list(&self) -> Vec<InstanceSnapshot> {
        let handles: Vec<Arc<Handle>> = self.lock_dir().values().cloned().collect();
        handles.iter().map(|h| h.shared.snapshot()).collect()
    }

    /// One instance.
    pub fn get(&self, id: Uuid) -> Result<InstanceSnapshot> {
        Ok(self.handle(id)?.shared.snapshot())
    }

    /// Creates an instance. `id` is generated when `None`; an existing `id`
    /// is refused. `patch.solution` defaults to `securt`, as RT's own
    /// clients assume.
    pub fn create(&self, id: Option<Uuid>, patch: &SettingsPatch) -> Result<Uuid> {
        let solution = patch.solution.as_deref().unwrap_or(crate::solutions::SECURT);
        let id = id.unwrap_or_else(Uuid::new_v4);
        let mut tree = Map::new();
        let mut defaults = Settings::defaults(solution);
        defaults.name = format!("Instance {}", &id.to_string()[..8]);
        defaults.write_to(&mut tree);
        patch.apply_to(&mut tree);
        let settings = validate(&tree)?;
        let persistent = settings.persistent;
        let handle =
            self.insert(id, Instance::new(tree, settings)).ok_or(Error::InstanceExists(id))?;
        if persistent && let Err(e) = handle.call(|sup| sup.save_current()) {
            self.lock_dir().remove(&id);
            return Err(e);
        }
        info!(instance_id = %id, solution, persistent, "instance created");
        self.core.announce(Lifecycle::Created(id));
        Ok(id)
    }

    /// Deletes an instance, stopping it first if it runs.
    pub fn delete(&self, id: Uuid) -> Result<()> {
        let handle = self.handle(id)?;
        handle.call(Supervisor::delete)?;
        self.lock_dir().remove(&id);
        info!(instance_id = %id, "instance deleted");
        self.core.announce(Lifecycle::Deleted(id));
        Ok(())
    }

    /// Applies a partial settings update.
    pub fn update(&self, id: Uuid, patch: &SettingsPatch) -> Result<()> {
        let patch = patch.clone();
        self.change_tree(id, move |tree| {
            patch.apply_to(tree);
            Ok(())
        })
    }

    /// The whole config tree, secrets (handler passwords, the input URI's
    /// password) masked.
    pub fn config(&self, id: Uuid) -> Result<Map<String, Value>> {
        let mut tree = self.handle(id)?.shared.lock().tree.clone();
        crate::secrets::mask_tree(&mut tree);
        Ok(tree)
    }

    /// Reads the config tree in place.
    fn with_tree<T>(&self, id: Uuid, f: impl FnOnce(&Map<String, Value>) -> T) -> Result<T> {
        Ok(f(&self.handle(id)?.shared.lock().tree))
    }

    /// `POST .../config`: writes `json_value` (JSON text) at `path`.
    pub fn set_config(&self, id: Uuid, path: &str, json_value: &str) -> Result<()> {
        let value = config_tree::parse_json_value(json_value)?;
        let path = path.to_string();
        self.change_tree(id, move |tree| config_tree::set(tree, &path, value))
    }

    /// `POST .../input`: sets where the instance reads video from.
    pub fn set_input(&self, id: Uuid, input: &InputSource) -> Result<()> {
        input.validate()?;
        let input = input.clone();
        self.change_tree(id, move |tree| {
            input.write_to(tree);
            Ok(())
        })
    }

    /// `POST .../output/hls`: HLS while the instance runs (or not).
    pub fn set_output_hls(&self, id: Uuid, enabled: bool) -> Result<()> {
        self.change_tree(id, move |tree| {
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
        let uri = uri.map(String::from);
        self.change_tree(id, move |tree| {
            outputs::set_rtsp(tree, enabled, uri.as_deref());
            Ok(())
        })
    }

    /// `POST .../render_preset`: the overlay on output video.
    pub fn set_render_preset(&self, id: Uuid, preset: &str) -> Result<()> {
        if outputs::RenderPreset::parse(preset).is_none() {
            return Err(Error::invalid("presetName", "must be \"Default\" or \"\" (clean video)"));
        }
        let preset = preset.to_string();
        self.change_tree(id, move |tree| {
            outputs::set_render_preset(tree, &preset);
            Ok(())
        })
    }

    /// The runtime state tree; only while loaded or running.
    pub fn state(&self, id: Uuid) -> Result<Map<String, Value>> {
        let handle = self.handle(id)?;
        let inst = handle.shared.lock();
        require_loaded(id, &inst, "read the runtime state of")?;
        Ok(inst.runtime.clone())
    }

    /// `POST .../state`: writes a runtime value; lost when unloaded.
    pub fn set_state(&self, id: Uuid, path: &str, json_value: &str) -> Result<()> {
        let value = config_tree::parse_json_value(json_value)?;
        let path = path.to_string();
        // Through the supervisor: ordered with the load and unload that
        // create and clear the runtime tree.
        self.handle(id)?.call(move |sup| {
            let mut inst = sup.shared.lock();
            require_loaded(id, &inst, "set the runtime state of")?;
            config_tree::set(&mut inst.runtime, &path, value)
        })
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

    /// Stops every running instance (graceful shutdown), all at once. Their
    /// `autoStart` setting, not this stop, decides whether they run after a
    /// restart.
    pub fn stop_all(&self) {
        let handles: Vec<Arc<Handle>> = self.lock_dir().values().cloned().collect();
        let pending: Vec<_> =
            handles.iter().map(|h| h.send(|sup| sup.stop_for_shutdown())).collect();
        for reply in pending.into_iter().flatten() {
            let _ = reply.recv();
        }
    }

    /// Moves the instance to the state `next` gives for its current one:
    /// `Ok(None)` leaves it as it is, `Err(hint)` refuses with 406.
    fn transition(
        &self,
        id: Uuid,
        action: &'static str,
        next: impl FnOnce(LifecycleState) -> Result<Option<LifecycleState>, &'static str>
        + Send
        + 'static,
    ) -> Result<()> {
        self.handle(id)?.call(move |sup| sup.transition(action, next))
    }

    /// Applies `f` to a copy of the tree, validates the result, persists it
    /// (or removes the file when the instance stops being persistent), and
    /// only then commits it, all on the instance's supervisor. Any failure
    /// leaves the instance unchanged.
    fn change_tree(
        &self,
        id: Uuid,
        f: impl FnOnce(&mut Map<String, Value>) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        self.handle(id)?.call(move |sup| sup.change_tree(f))
    }
}

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
    use crate::store::InstanceFile;

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
        let file = InstanceFile {
            instance_id: id,
            read_only: true,
            system_instance: true,
            config,
            sealed: Default::default(),
            locked: None,
        };
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

/// The supervisor: reads never wait for a stop in progress, other instances
/// go on meanwhile, one instance's calls stay ordered, and changes are
/// announced.
#[cfg(test)]
mod supervisor_tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::runtime::{PushError, PushedFrame, RunContext, Running};

    /// A runner whose stops block until the test lets them go, and say when
    /// they have begun.
    #[derive(Debug)]
    struct SlowStop {
        began: Mutex<mpsc::Sender<()>>,
        release: Arc<Mutex<mpsc::Receiver<()>>>,
    }

    #[derive(Debug)]
    struct Run {
        began: mpsc::Sender<()>,
        release: Arc<Mutex<mpsc::Receiver<()>>>,
    }

    impl Runner for SlowStop {
        fn start(&self, _ctx: RunContext) -> Box<dyn Running> {
            let began = self.began.lock().unwrap().clone();
            Box::new(Run { began, release: self.release.clone() })
        }
    }

    impl Running for Run {
        fn stop(self: Box<Self>) {
            self.began.send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        fn push(&self, _frame: PushedFrame) -> std::result::Result<(), PushError> {
            Ok(())
        }
    }

    fn slow_engine() -> (Arc<Engine>, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (began_tx, began) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let runner =
            SlowStop { began: Mutex::new(began_tx), release: Arc::new(Mutex::new(release_rx)) };
        (Arc::new(Engine::in_memory(Arc::new(runner))), began, release)
    }

    fn securt() -> SettingsPatch {
        SettingsPatch { solution: Some("securt".into()), ..Default::default() }
    }

    #[test]
    fn reads_and_other_instances_never_wait_for_a_stop_in_progress() {
        let (e, began, release) = slow_engine();
        let (a, b) = (e.create(None, &securt()).unwrap(), e.create(None, &securt()).unwrap());
        e.start(a).unwrap();
        let stopping = {
            let e = e.clone();
            std::thread::spawn(move || e.stop(a))
        };
        began.recv_timeout(Duration::from_secs(5)).expect("the stop began");
        // While `a`'s stop is blocked: reads of it answer, with its last
        // committed state, and `b` starts, stops and changes meanwhile.
        assert_eq!(e.get(a).unwrap().state, LifecycleState::Running);
        assert_eq!(e.list().len(), 2);
        assert!(e.config(a).is_ok());
        e.start(b).unwrap();
        e.set_config(b, "x", "1").unwrap();
        assert!(!stopping.is_finished(), "the stop of a is still held");
        release.send(()).unwrap(); // b's stop, queued after a's, needs one too
        release.send(()).unwrap();
        stopping.join().unwrap().unwrap();
        assert_eq!(e.get(a).unwrap().state, LifecycleState::Loaded);
        e.stop(b).unwrap();
        assert_eq!(e.get(b).unwrap().state, LifecycleState::Loaded);
    }

    #[test]
    fn one_instances_calls_run_in_order_after_a_slow_stop() {
        let (e, began, release) = slow_engine();
        let id = e.create(None, &securt()).unwrap();
        e.start(id).unwrap();
        let stopping = {
            let e = e.clone();
            std::thread::spawn(move || e.stop(id))
        };
        began.recv_timeout(Duration::from_secs(5)).unwrap();
        // Queued behind the stop: it sees the stopped instance.
        let writing = {
            let e = e.clone();
            std::thread::spawn(move || e.set_config(id, "after", "\"stop\""))
        };
        assert!(!writing.is_finished());
        release.send(()).unwrap();
        stopping.join().unwrap().unwrap();
        writing.join().unwrap().unwrap();
        assert_eq!(e.config(id).unwrap()["after"], "stop");
    }

    #[test]
    fn lifecycle_changes_are_announced() {
        let e = Engine::in_memory(super::test_runner::runner());
        let mut events = e.subscribe();
        let id = e.create(None, &securt()).unwrap();
        e.start(id).unwrap();
        e.restart(id).unwrap();
        e.stop(id).unwrap();
        e.start(id).unwrap();
        e.delete(id).unwrap();
        let got: Vec<Lifecycle> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        use Lifecycle::*;
        assert_eq!(
            got,
            [
                Created(id),
                Started(id),
                Stopped(id),
                Started(id),
                Stopped(id),
                Started(id),
                Stopped(id),
                Deleted(id)
            ]
        );
        // A call on the deleted instance finds it gone.
        assert!(matches!(e.start(id), Err(Error::InstanceNotFound(_))));
    }
}
