//! MQTT output handlers: `Output/handlers/<name>` in an instance's config
//! tree, each one publishing the instance's events to a broker.
//!
//! Every handler is one tokio task with its own broker connection. It
//! subscribes to the instance's [`EventBus`], keeps the events its `sink`
//! selects in a bounded queue, and publishes them in order, one at a time:
//! with `qos` 1 or 2 an event leaves the queue only once the broker has
//! acknowledged it, so a broker that goes away loses nothing that fits in
//! the queue. When the queue is full the oldest event is dropped and
//! counted. A lost connection is retried with exponential backoff, on a
//! fresh connection (the unacknowledged event is sent again: at least once).
//!
//! The [`Handlers`] supervisor watches the config tree and starts, restarts
//! (changed) and stops (removed or disabled) handlers while the instance
//! runs. Each handler's state shows in the `statistics` event.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    AsyncClient, Event as MqttEvent, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration,
    Transport,
};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::events::{Event, EventBus};

/// Where handlers live in the config tree.
pub const HANDLERS_PATH: &str = "Output/handlers";

/// What `GET .../config` shows instead of a password.
pub const SECRET_MASK: &str = "********";

const DEFAULT_QUEUE: usize = 1000;
const DEFAULT_TOPIC: &str = "rt/{instanceId}/{eventType}";
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Which events a handler publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Analytics events (`event-*`).
    Events,
    /// `track`.
    Tracks,
    /// `statistics`.
    Statistics,
    /// `crop`.
    Crops,
    /// `attribute*`.
    Attributes,
    /// Everything.
    All,
}

impl Sink {
    fn parse(s: &str) -> Option<Sink> {
        Some(match s {
            "events" => Sink::Events,
            "tracks" => Sink::Tracks,
            "statistics" => Sink::Statistics,
            "crops" => Sink::Crops,
            "attributes" => Sink::Attributes,
            "all" => Sink::All,
            _ => return None,
        })
    }

    /// Whether an event named `kind` goes to this sink.
    pub fn selects(self, kind: &str) -> bool {
        match self {
            Sink::Events => kind.starts_with("event-"),
            Sink::Tracks => kind == "track",
            Sink::Statistics => kind == "statistics",
            Sink::Crops => kind == "crop",
            Sink::Attributes => kind.starts_with("attribute"),
            Sink::All => true,
        }
    }
}

/// One validated handler.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerConfig {
    pub name: String,
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    /// `mqtts://`: TLS, verified against the system roots and `ca_file`.
    pub tls: bool,
    /// Extra trusted CA certificates (PEM), for `mqtts://`.
    pub ca_file: Option<String>,
    pub sink: Sink,
    pub client_id: String,
    /// With `{instanceId}` and `{eventType}` placeholders.
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub queue_size: usize,
}

impl HandlerConfig {
    /// Validates the handler JSON stored at `Output/handlers/<name>`; an
    /// error names the offending field by its config path.
    pub fn from_json(name: &str, v: &Value) -> Result<HandlerConfig> {
        let at = |f: &str| format!("{HANDLERS_PATH}/{name}/{f}");
        let obj = v.as_object().ok_or_else(|| {
            Error::invalid(format!("{HANDLERS_PATH}/{name}"), "must be an object")
        })?;
        let uri = obj
            .get("uri")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid(at("uri"), "is required (mqtt://host:port)"))?;
        let (host, port, tls) = parse_uri(uri).map_err(|m| Error::invalid(at("uri"), m))?;
        let sink = match obj.get("sink") {
            None => Sink::Events,
            Some(s) => s.as_str().and_then(Sink::parse).ok_or_else(|| {
                Error::invalid(
                    at("sink"),
                    "must be one of events, tracks, statistics, crops, attributes, all",
                )
            })?,
        };
        let enabled = opt_bool(obj, "enabled", &at("enabled"))?.unwrap_or(true);
        let empty = Map::new();
        let config = match obj.get("config") {
            None => &empty,
            Some(c) => {
                c.as_object().ok_or_else(|| Error::invalid(at("config"), "must be an object"))?
            }
        };
        let cat = |f: &str| at(&format!("config/{f}"));
        let client_id = opt_str(config, "clientId", &cat("clientId"))?
            .unwrap_or_else(|| format!("rt-server-{name}"));
        if client_id.is_empty() {
            return Err(Error::invalid(cat("clientId"), "must not be empty"));
        }
        let topic =
            opt_str(config, "topic", &cat("topic"))?.unwrap_or_else(|| DEFAULT_TOPIC.into());
        if topic.is_empty() || topic.contains(['#', '+']) {
            return Err(Error::invalid(
                cat("topic"),
                "must be a non-empty topic without wildcards",
            ));
        }
        let qos = match config.get("qos") {
            None => 1,
            Some(q) => q
                .as_u64()
                .filter(|q| *q <= 2)
                .ok_or_else(|| Error::invalid(cat("qos"), "must be 0, 1 or 2"))?
                as u8,
        };
        let retain = opt_bool(config, "retain", &cat("retain"))?.unwrap_or(false);
        let username = opt_str(config, "username", &cat("username"))?;
        let password = opt_str(config, "password", &cat("password"))?;
        let ca_file = opt_str(config, "caFile", &cat("caFile"))?;
        if ca_file.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid(cat("caFile"), "must not be empty"));
        }
        let queue_size =
            match config.get("queueSize") {
                None => DEFAULT_QUEUE,
                Some(q) => q.as_u64().filter(|q| (1..=1_000_000).contains(q)).ok_or_else(|| {
                    Error::invalid(cat("queueSize"), "must be an integer 1-1000000")
                })? as usize,
            };
        Ok(HandlerConfig {
            name: name.into(),
            enabled,
            host,
            port,
            tls,
            ca_file,
            sink,
            client_id,
            topic,
            qos,
            retain,
            username,
            password,
            queue_size,
        })
    }

    /// The topic of an event named `kind` of instance `id`.
    pub fn topic_for(&self, id: Uuid, kind: &str) -> String {
        self.topic.replace("{instanceId}", &id.to_string()).replace("{eventType}", kind)
    }

    fn qos(&self) -> QoS {
        match self.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        }
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str, field: &str) -> Result<Option<bool>> {
    obj.get(key)
        .map(|v| v.as_bool().ok_or_else(|| Error::invalid(field, "must be a boolean")))
        .transpose()
}

fn opt_str(obj: &Map<String, Value>, key: &str, field: &str) -> Result<Option<String>> {
    obj.get(key)
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| Error::invalid(field, "must be a string"))
        })
        .transpose()
}

/// `(host, port, tls)` of an `mqtt://` or `mqtts://` URI.
fn parse_uri(uri: &str) -> std::result::Result<(String, u16, bool), String> {
    let bad = || format!("{uri:?} is not an mqtt://host:port or mqtts://host:port URI");
    let (rest, tls, default_port) = if let Some(r) = uri.strip_prefix("mqtt://") {
        (r, false, 1883)
    } else if let Some(r) = uri.strip_prefix("mqtts://") {
        (r, true, 8883)
    } else {
        return Err(bad());
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("bad port in {uri:?}"))?),
        None => (rest, default_port),
    };
    if host.is_empty() || host.contains(['/', '@']) || port == 0 {
        return Err(bad());
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port, tls))
}

/// The rustls client config of an `mqtts://` handler: the system roots plus
/// the certificates of `ca_file`, on the aws-lc-rs provider.
fn tls_config(ca_file: Option<&str>) -> std::result::Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: `caFile` may be all it takes.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|i| i.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| format!("caFile {path:?}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("caFile {path:?}: no PEM certificate in it"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("caFile {path:?}: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Every handler of a config tree, validated (disabled ones included).
pub fn from_tree(tree: &Map<String, Value>) -> Result<Vec<HandlerConfig>> {
    let Some(handlers) = tree.get("Output").and_then(|o| o.get("handlers")) else {
        return Ok(Vec::new());
    };
    let handlers = handlers
        .as_object()
        .ok_or_else(|| Error::invalid(HANDLERS_PATH, "must be an object of handlers by name"))?;
    handlers.iter().map(|(name, v)| HandlerConfig::from_json(name, v)).collect()
}

fn passwords_mut(tree: &mut Map<String, Value>) -> impl Iterator<Item = (&String, &mut Value)> {
    tree.get_mut("Output")
        .and_then(|o| o.get_mut("handlers"))
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|h| h.iter_mut())
        .filter_map(|(name, h)| {
            let p = h.get_mut("config")?.get_mut("password")?;
            p.is_string().then_some((name, p))
        })
}

/// Replaces every handler password with [`SECRET_MASK`] (for reading).
pub fn mask_secrets(tree: &mut Map<String, Value>) {
    for (_, p) in passwords_mut(tree) {
        *p = Value::String(SECRET_MASK.into());
    }
}

/// Where `new` holds the mask as a password, puts back the one `old`
/// stores for the same handler: writing back what was read keeps the secret.
pub fn keep_secrets(old: &Map<String, Value>, new: &mut Map<String, Value>) -> Result<()> {
    let stored = |name: &str| {
        old.get("Output")?.get("handlers")?.get(name)?.get("config")?.get("password").cloned()
    };
    for (name, p) in passwords_mut(new) {
        if p.as_str() == Some(SECRET_MASK) {
            *p = stored(name).ok_or_else(|| {
                Error::invalid(
                    format!("{HANDLERS_PATH}/{name}/config/password"),
                    "the mask \"********\" stands for a stored password, and none is stored",
                )
            })?;
        }
    }
    Ok(())
}

/// The live state of one handler (`statistics.handlers.<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerState {
    pub connected: bool,
    pub queue_size: u64,
    pub dropped_count: u64,
    /// Messages the broker took (acknowledged, or sent at QoS 0).
    pub sent_count: u64,
    /// Why the last connection attempt or connection failed; `None` once
    /// connected.
    pub last_error: Option<String>,
}

/// The state of every running handler, by name.
#[derive(Debug, Default)]
pub struct HandlerTable(Mutex<BTreeMap<String, HandlerState>>);

impl HandlerTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, HandlerState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, name: &str, state: HandlerState) {
        self.lock().insert(name.into(), state);
    }

    fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn get(&self, name: &str) -> Option<HandlerState> {
        self.lock().get(name).cloned()
    }

    /// Every handler's state, by name.
    pub fn all(&self) -> Vec<(String, HandlerState)> {
        self.lock().iter().map(|(n, s)| (n.clone(), s.clone())).collect()
    }

    /// `statistics.handlers`, or `None` without handlers.
    pub fn to_json(&self) -> Option<Value> {
        let t = self.lock();
        (!t.is_empty()).then(|| {
            Value::Object(
                t.iter()
                    .map(|(n, s)| {
                        let mut v = json!({"connected": s.connected,
                            "queue_size": s.queue_size, "dropped_count": s.dropped_count});
                        if let Some(e) = &s.last_error {
                            v["last_error"] = json!(e);
                        }
                        (n.clone(), v)
                    })
                    .collect(),
            )
        })
    }
}

/// Aborts its task when dropped.
#[derive(Debug)]
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The handlers of one running instance; dropping it stops them all at
/// once, [`Handlers::close`] after they sent what they hold.
#[derive(Debug)]
pub struct Handlers {
    task: Task,
    closing: watch::Sender<bool>,
}

impl Handlers {
    /// Starts the supervisor on the current tokio runtime; `None` outside
    /// one (engine unit tests), where handlers do not run.
    pub fn start(
        id: Uuid,
        bus: Arc<EventBus>,
        config: watch::Receiver<Arc<Map<String, Value>>>,
        table: Arc<HandlerTable>,
    ) -> Option<Handlers> {
        let rt = tokio::runtime::Handle::try_current().ok()?;
        Some(Self::start_on(&rt, id, bus, config, table))
    }

    /// Starts the supervisor on `rt` (from a thread outside the runtime,
    /// such as an instance's supervisor).
    pub fn start_on(
        rt: &tokio::runtime::Handle,
        id: Uuid,
        bus: Arc<EventBus>,
        config: watch::Receiver<Arc<Map<String, Value>>>,
        table: Arc<HandlerTable>,
    ) -> Handlers {
        let closing = watch::Sender::new(false);
        let task = rt.spawn(supervise(id, bus, config, table, closing.subscribe()));
        Handlers { task: Task(task), closing }
    }

    /// Shutdown: every handler takes what its bus still has for it, sends its
    /// queue to its broker, and ends; after `limit` (a broker that is away)
    /// what is left is dropped.
    pub async fn close(mut self, limit: Duration) {
        self.closing.send_replace(true);
        if tokio::time::timeout(limit, &mut self.task.0).await.is_err() {
            warn!(?limit, "mqtt handlers did not send their queues in time; dropped");
        }
    }
}

async fn supervise(
    id: Uuid,
    bus: Arc<EventBus>,
    mut config: watch::Receiver<Arc<Map<String, Value>>>,
    table: Arc<HandlerTable>,
    mut closing: watch::Receiver<bool>,
) {
    let mut running: BTreeMap<String, (HandlerConfig, Task)> = BTreeMap::new();
    loop {
        let tree = config.borrow_and_update().clone();
        // The engine validated the tree; an invalid one here changes nothing.
        if let Ok(wanted) = from_tree(&tree) {
            let wanted: BTreeMap<_, _> =
                wanted.into_iter().filter(|h| h.enabled).map(|h| (h.name.clone(), h)).collect();
            running.retain(|name, (cfg, _)| {
                let keep = wanted.get(name) == Some(cfg);
                if !keep {
                    info!(instance_id = %id, handler = %name, "mqtt handler stopped");
                    table.remove(name);
                }
                keep
            });
            for (name, cfg) in wanted {
                if running.contains_key(&name) {
                    continue;
                }
                info!(instance_id = %id, handler = %name, host = %cfg.host, port = cfg.port,
                    "mqtt handler started");
                table.set(&name, HandlerState::default());
                let live = bus.subscribe(None).live;
                let task = tokio::spawn(run_handler(
                    id,
                    cfg.clone(),
                    live,
                    table.clone(),
                    closing.clone(),
                ));
                running.insert(name, (cfg, Task(task)));
            }
        }
        tokio::select! {
            changed = config.changed() => if changed.is_err() { break },
            () = until_closed(&mut closing) => {
                // Each handler sends what it holds and ends.
                for (_, task) in running.values_mut() {
                    let _ = (&mut task.0).await;
                }
                break;
            }
        }
    }
    for name in running.keys() {
        table.remove(name);
    }
}

/// One connection attempt: a fresh client whose event loop runs in its own
/// task and reports over a channel (so nothing polls it half-way).
struct Connection {
    client: AsyncClient,
    events: mpsc::Receiver<std::result::Result<MqttEvent, String>>,
    _poll: Task,
}

fn connect(cfg: &HandlerConfig) -> Connection {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_clean_session(true);
    if let Some(user) = &cfg.username {
        opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    let tls = if cfg.tls {
        tls_config(cfg.ca_file.as_deref()).map(|c| {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(c))));
        })
    } else {
        Ok(())
    };
    let (client, mut eventloop) = AsyncClient::new(opts, 16);
    let (tx, events) = mpsc::channel(64);
    let poll = tokio::spawn(async move {
        if let Err(e) = tls {
            let _ = tx.send(Err(e)).await;
            return;
        }
        loop {
            let r = eventloop.poll().await.map_err(|e| e.to_string());
            let failed = r.is_err();
            if tx.send(r).await.is_err() || failed {
                break;
            }
        }
    });
    Connection { client, events, _poll: Task(poll) }
}

async fn run_handler(
    id: Uuid,
    cfg: HandlerConfig,
    mut live: broadcast::Receiver<Arc<Event>>,
    table: Arc<HandlerTable>,
    mut closing: watch::Receiver<bool>,
) {
    let mut queue: VecDeque<Arc<Event>> = VecDeque::new();
    // Set on shutdown: nothing more comes from the bus; send the queue, end.
    let mut closed = false;
    let mut state = HandlerState::default();
    let mut conn = Some(connect(&cfg));
    let mut backoff = BACKOFF_MIN;
    let mut retry_at = tokio::time::Instant::now();
    // Whether the queue's front has been handed to the client and awaits
    // its acknowledgement (or, at qos 0, its sending).
    let mut inflight = false;
    loop {
        let was = state.clone();
        tokio::select! {
            e = live.recv(), if !closed => match e {
                Ok(e) => enqueue(&cfg, &mut queue, &mut state, inflight, e),
                Err(broadcast::error::RecvError::Lagged(n)) => state.dropped_count += n,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            () = until_closed(&mut closing), if !closed => {
                closed = true;
                // What the bus published before the pipeline stopped.
                loop {
                    match live.try_recv() {
                        Ok(e) => enqueue(&cfg, &mut queue, &mut state, inflight, e),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => state.dropped_count += n,
                        Err(_) => break,
                    }
                }
            },
            r = async { conn.as_mut().expect("guarded").events.recv().await }, if conn.is_some() => {
                let event = match r {
                    Some(Ok(event)) => event,
                    Some(Err(error)) => {
                        if state.connected {
                            warn!(instance_id = %id, handler = %cfg.name, error = %error,
                                "mqtt handler lost its broker; reconnecting");
                        } else if state.last_error.as_ref() != Some(&error) {
                            warn!(instance_id = %id, handler = %cfg.name, error = %error,
                                "mqtt handler cannot connect; retrying");
                        }
                        state.connected = false;
                        state.last_error = Some(error);
                        inflight = false;
                        conn = None;
                        retry_at = tokio::time::Instant::now() + backoff;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        publish_state(&mut state, &queue, &table, &cfg.name, was);
                        continue;
                    }
                    None => {
                        conn = None;
                        continue;
                    }
                };
                match event {
                    MqttEvent::Incoming(Packet::ConnAck(_)) => {
                        state.connected = true;
                        state.last_error = None;
                        backoff = BACKOFF_MIN;
                        inflight = false;
                    }
                    MqttEvent::Incoming(Packet::PubAck(_) | Packet::PubComp(_))
                        if inflight && cfg.qos > 0 => {
                        queue.pop_front();
                        state.sent_count += 1;
                        inflight = false;
                    }
                    MqttEvent::Outgoing(Outgoing::Publish(_)) if inflight && cfg.qos == 0 => {
                        queue.pop_front();
                        state.sent_count += 1;
                        inflight = false;
                    }
                    _ => {}
                }
            },
            () = tokio::time::sleep_until(retry_at), if conn.is_none() => {
                conn = Some(connect(&cfg));
            }
        }
        if state.connected
            && !inflight
            && let (Some(c), Some(front)) = (&conn, queue.front())
        {
            let topic = cfg.topic_for(id, &front.kind);
            match c.client.try_publish(topic, cfg.qos(), cfg.retain, front.data.as_bytes().to_vec())
            {
                Ok(()) => inflight = true,
                Err(e) => {
                    warn!(instance_id = %id, handler = %cfg.name, error = %e, "mqtt publish refused")
                }
            }
        }
        publish_state(&mut state, &queue, &table, &cfg.name, was);
        if closed && queue.is_empty() {
            break;
        }
    }
}

/// Resolves once shutdown closes the handlers (or whoever could was gone).
async fn until_closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

/// Queues `e` if the handler's sink wants it; a full queue drops its oldest
/// (unless that one is in flight: its acknowledgement pops the front).
fn enqueue(
    cfg: &HandlerConfig,
    queue: &mut VecDeque<Arc<Event>>,
    state: &mut HandlerState,
    inflight: bool,
    e: Arc<Event>,
) {
    if !cfg.sink.selects(&e.kind) {
        return;
    }
    if queue.len() < cfg.queue_size {
        queue.push_back(e);
    } else {
        state.dropped_count += 1;
        if queue.remove(usize::from(inflight)).is_some() {
            queue.push_back(e);
        }
    }
}

/// Publishes a changed handler state.
fn publish_state(
    state: &mut HandlerState,
    queue: &VecDeque<Arc<Event>>,
    table: &HandlerTable,
    name: &str,
    was: HandlerState,
) {
    state.queue_size = queue.len() as u64;
    if *state != was {
        table.set(name, state.clone());
    }
}

#[cfg(test)]
mod tests;
