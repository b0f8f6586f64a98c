//! One instance's supervisor: a thread that owns the instance's pipeline,
//! its MQTT handlers and its file, and runs the instance's changes (lifecycle
//! and configuration) one at a time from a command channel.
//!
//! What readers need (the config tree, the settings, the lifecycle state) is
//! in [`Shared`], behind a lock that is only ever held for a copy or an
//! assignment: never across a pipeline start or stop, a file write, or any
//! other blocking work. So `GET`s answer at once while a stop is in progress,
//! and the engine's directory lock is only held to find a handle.

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch};
use tracing::{info, warn};
use uuid::Uuid;

use super::{InstanceSnapshot, Lifecycle, LifecycleState, validate};
use crate::error::{Error, Result};
use crate::events::{BusOptions, EventBus};
use crate::handlers::{self, Handlers};
use crate::runtime::{ErrorCell, ErrorSink, RunContext, RunStats, Runner, Running};
use crate::settings::Settings;
use crate::store::{InstanceFile, InstanceStore};

/// How long a shutdown waits for an instance's MQTT handlers to send what
/// they hold: a broker that is up takes milliseconds; one that is away must
/// not hold the shutdown.
pub const MQTT_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What every supervisor shares with the engine.
#[derive(Debug)]
pub(crate) struct Core {
    pub store: Option<InstanceStore>,
    pub last_error: Arc<ErrorCell>,
    pub runner: Arc<dyn Runner>,
    pub events: broadcast::Sender<Lifecycle>,
    /// Where MQTT handlers run (`None` outside a runtime: engine unit tests).
    pub runtime: Option<tokio::runtime::Handle>,
}

impl Core {
    pub fn record_error(&self, source: &str, message: &str) {
        warn!(source, message, "error recorded");
        self.last_error.set(source, message);
    }

    pub fn announce(&self, event: Lifecycle) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }
}

/// The instance's committed state.
#[derive(Debug)]
pub(crate) struct Instance {
    pub tree: Map<String, Value>,
    pub settings: Settings,
    pub state: LifecycleState,
    pub runtime: Map<String, Value>,
    pub read_only: bool,
    pub system_instance: bool,
    pub started_at: Option<DateTime<Utc>>,
    /// Set by `delete`: commands still queued find the instance gone.
    pub deleted: bool,
    /// Sealed secrets that could not be opened at startup, by config path;
    /// written again while their nodes stay masked.
    pub sealed: std::collections::BTreeMap<String, String>,
    /// Why they could not be opened; the instance does not start meanwhile.
    pub locked: Option<String>,
}

impl Instance {
    pub fn new(tree: Map<String, Value>, settings: Settings) -> Self {
        Instance {
            tree,
            settings,
            state: LifecycleState::Registered,
            runtime: Map::new(),
            read_only: false,
            system_instance: false,
            started_at: None,
            deleted: false,
            sealed: Default::default(),
            locked: None,
        }
    }
}

/// What the API reads of an instance, and the parts the pipeline shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub id: Uuid,
    inst: Mutex<Instance>,
    pub last_error: Arc<ErrorCell>,
    /// Outlives runs: SSE clients stay connected across stop and start.
    pub bus: Arc<EventBus>,
    /// Publishes the config tree to the running pipeline.
    pub live: watch::Sender<Arc<Map<String, Value>>>,
    pub stats: Arc<RunStats>,
    /// The pipeline while it runs; pushed frames go through it. Taken out
    /// (under the lock, briefly) before it is stopped (without the lock).
    running: Mutex<Option<Box<dyn Running>>>,
}

impl Shared {
    /// The committed state, for a copy or an assignment only.
    pub fn lock(&self) -> MutexGuard<'_, Instance> {
        // Changes are committed by plain assignments: a poisoned lock still
        // guards a consistent instance.
        self.inst.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn lock_running(&self) -> MutexGuard<'_, Option<Box<dyn Running>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> InstanceSnapshot {
        let running = self.lock_running().is_some();
        let inst = self.lock();
        InstanceSnapshot {
            id: self.id,
            settings: inst.settings.clone(),
            state: inst.state,
            read_only: inst.read_only,
            system_instance: inst.system_instance,
            fps: if running { self.stats.fps.get() } else { 0.0 },
            started_at: inst.started_at,
        }
    }

    pub fn error_sink(&self, core: &Core) -> ErrorSink {
        ErrorSink::new(self.id, self.last_error.clone(), core.last_error.clone())
    }
}

type Command = Box<dyn FnOnce(&mut Supervisor) + Send>;

/// An instance in the engine's directory: its shared state and the command
/// channel of its supervisor. Dropping the last handle ends the supervisor
/// once its queue is empty.
pub(crate) struct Handle {
    pub shared: Arc<Shared>,
    tx: Mutex<mpsc::Sender<Command>>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("id", &self.shared.id).finish_non_exhaustive()
    }
}

impl Handle {
    /// Starts the supervisor of `inst`.
    pub fn spawn(id: Uuid, inst: Instance, core: Arc<Core>) -> Self {
        let (live, _) = watch::channel(Arc::new(inst.tree.clone()));
        let shared = Arc::new(Shared {
            id,
            inst: Mutex::new(inst),
            last_error: Arc::default(),
            bus: Arc::new(EventBus::new(BusOptions::default())),
            live,
            stats: Arc::default(),
            running: Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel::<Command>();
        let mut sup = Supervisor { shared: shared.clone(), core, handlers: None };
        let spawned = std::thread::Builder::new()
            .name(format!("supervisor-{}", &id.to_string()[..8]))
            .spawn(move || {
                while let Ok(command) = rx.recv() {
                    command(&mut sup);
                }
                // The instance left the directory: nothing may keep running.
                sup.stop_pipeline();
            });
        if let Err(e) = spawned {
            // Commands then fail with "instance not found", and say why here.
            warn!(instance_id = %id, error = %e, "cannot start the instance's supervisor thread");
        }
        Handle { shared, tx: Mutex::new(tx) }
    }

    /// Queues `f` on the supervisor; the receiver gets its result. `None`
    /// when the supervisor is gone.
    pub fn send<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Supervisor) -> T + Send + 'static,
    ) -> Option<mpsc::Receiver<T>> {
        let (reply, rx) = mpsc::sync_channel(1);
        let command: Command = Box::new(move |sup| {
            let _ = reply.send(f(sup));
        });
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        tx.send(command).ok().map(|()| rx)
    }

    /// Runs `f` on the supervisor, after everything queued before it, and
    /// waits for its result.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Supervisor) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let id = self.shared.id;
        self.send(move |sup| {
            if sup.shared.lock().deleted {
                return Err(Error::InstanceNotFound(id));
            }
            f(sup)
        })
        .and_then(|rx| wait_off_runtime(|| rx.recv().ok()))
        .unwrap_or(Err(Error::InstanceNotFound(id)))
    }
}

/// Runs `wait` (which blocks until a supervisor answers: up to a stop's
/// second, or a file write) without holding up an async runtime: on a
/// worker of a multi-threaded runtime, the worker hands its other tasks over
/// first (`block_in_place`), so no request or event stream waits for it.
fn wait_off_runtime<T>(wait: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// Runs one instance's changes; lives on the instance's supervisor thread.
pub(crate) struct Supervisor {
    pub shared: Arc<Shared>,
    core: Arc<Core>,
    /// The MQTT handlers while running.
    handlers: Option<Handlers>,
}

impl Supervisor {
    fn id(&self) -> Uuid {
        self.shared.id
    }

    /// Stops the pipeline, if one runs, and waits for it (the runner bounds
    /// the wait), holding no lock meanwhile.
    fn stop_pipeline(&mut self) {
        self.handlers = None;
        let running = self.shared.lock_running().take();
        if let Some(running) = running {
            running.stop();
        }
    }

    fn file(&self, tree: &Map<String, Value>) -> InstanceFile {
        let inst = self.shared.lock();
        InstanceFile {
            instance_id: self.id(),
            read_only: inst.read_only,
            system_instance: inst.system_instance,
            config: tree.clone(),
            sealed: inst.sealed.clone(),
            locked: None,
        }
    }

    fn save(&self, tree: &Map<String, Value>) -> Result<()> {
        let Some(store) = &self.core.store else {
            return Ok(());
        };
        store.save(&self.file(tree)).inspect_err(|e| {
            self.core.record_error(&format!("instance {}", self.id()), &crate::error::chain(e));
        })
    }

    fn remove_file(&self) -> Result<()> {
        let Some(store) = &self.core.store else {
            return Ok(());
        };
        store.remove(self.id()).inspect_err(|e| {
            self.core.record_error(&format!("instance {}", self.id()), &crate::error::chain(e));
        })
    }

    /// Writes the instance's file as it is (a new persistent instance).
    pub fn save_current(&mut self) -> Result<()> {
        let tree = self.shared.lock().tree.clone();
        self.save(&tree)
    }

    /// Stops the instance and removes its file; queued commands then find
    /// it gone.
    pub fn delete(&mut self) -> Result<()> {
        let (read_only, persistent) = {
            let inst = self.shared.lock();
            (inst.read_only, inst.settings.persistent)
        };
        if read_only {
            return Err(Error::ReadOnly(self.id()));
        }
        if persistent {
            self.remove_file()?;
        }
        self.shared.lock().deleted = true;
        let was_running = self.shared.lock_running().is_some();
        self.stop_pipeline();
        if was_running {
            self.core.announce(Lifecycle::Stopped(self.id()));
        }
        Ok(())
    }

    /// See `Engine::transition`.
    pub fn transition(
        &mut self,
        action: &'static str,
        next: impl FnOnce(LifecycleState) -> std::result::Result<Option<LifecycleState>, &'static str>,
    ) -> Result<()> {
        let id = self.id();
        let from = self.shared.lock().state;
        let Some(to) =
            next(from).map_err(|hint| Error::InvalidState { id, action, state: from, hint })?
        else {
            info!(instance_id = %id, action, state = ?from, "instance lifecycle: nothing to do");
            return Ok(());
        };
        if to == LifecycleState::Running
            && let Some(reason) = self.shared.lock().locked.clone()
        {
            return Err(Error::SecretsLocked { id, reason });
        }
        // restart is Running -> Running: the pipeline is stopped and started.
        let was_running = self.shared.lock_running().is_some();
        self.stop_pipeline();
        if was_running {
            self.core.announce(Lifecycle::Stopped(id));
        }
        let started_at = if to == LifecycleState::Running {
            self.start_pipeline();
            Some(Utc::now())
        } else {
            None
        };
        {
            let mut inst = self.shared.lock();
            if to == LifecycleState::Registered {
                inst.runtime.clear();
            }
            inst.state = to;
            inst.started_at = started_at;
        }
        if to == LifecycleState::Running {
            self.core.announce(Lifecycle::Started(id));
        }
        info!(instance_id = %id, action, from = ?from, to = ?to, "instance lifecycle");
        Ok(())
    }

    fn start_pipeline(&mut self) {
        let s = &self.shared;
        s.stats.reset();
        let ctx = RunContext {
            instance_id: s.id,
            bus: s.bus.clone(),
            config: s.live.subscribe(),
            stats: s.stats.clone(),
            errors: s.error_sink(&self.core),
        };
        let running = self.core.runner.start(ctx);
        *s.lock_running() = Some(running);
        self.handlers = self.core.runtime.as_ref().map(|rt| {
            Handlers::start_on(
                rt,
                s.id,
                s.bus.clone(),
                s.live.subscribe(),
                s.stats.handlers.clone(),
            )
        });
    }

    /// Graceful shutdown: stops a running instance, keeping its state as
    /// `Loaded` (its `autoStart` decides what runs after a restart). The
    /// pipeline stops first (its last events reach the bus), then the MQTT
    /// handlers send what they hold, for at most [`MQTT_FLUSH_LIMIT`].
    pub fn stop_for_shutdown(&mut self) {
        if self.shared.lock_running().is_none() {
            return;
        }
        let handlers = self.handlers.take();
        self.stop_pipeline();
        if let (Some(h), Some(rt)) = (handlers, &self.core.runtime) {
            rt.block_on(h.close(MQTT_FLUSH_LIMIT));
        }
        {
            let mut inst = self.shared.lock();
            inst.state = LifecycleState::Loaded;
            inst.started_at = None;
        }
        self.core.announce(Lifecycle::Stopped(self.id()));
    }

    /// See `Engine::change_tree`.
    pub fn change_tree(
        &mut self,
        f: impl FnOnce(&mut Map<String, Value>) -> Result<()>,
    ) -> Result<()> {
        let (mut tree, was_persistent, read_only) = {
            let inst = self.shared.lock();
            (inst.tree.clone(), inst.settings.persistent, inst.read_only)
        };
        if read_only {
            return Err(Error::ReadOnly(self.id()));
        }
        let current = tree.clone();
        f(&mut tree)?;
        handlers::keep_secrets(&current, &mut tree)?;
        crate::secrets::keep_uri_password(&current, &mut tree)?;
        let settings = validate(&tree)?;
        if settings.persistent {
            self.save(&tree)?;
        } else if was_persistent {
            self.remove_file()?;
        }
        self.shared.live.send_replace(Arc::new(tree.clone()));
        let mut inst = self.shared.lock();
        // A secret that could not be opened and has since been replaced
        // (or removed) no longer holds the instance back.
        inst.sealed.retain(|path, _| crate::secrets::still_masked(&tree, path));
        if inst.sealed.is_empty() {
            inst.locked = None;
        }
        inst.tree = tree;
        inst.settings = settings;
        Ok(())
    }
}
