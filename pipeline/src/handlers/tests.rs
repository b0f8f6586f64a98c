//! Handler validation and secrets (pure), and one handler against a real
//! mosquitto broker that the test starts, stops and restarts.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use serde_json::json;

use super::*;

fn tree(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn handler(v: Value) -> Map<String, Value> {
    tree(json!({"Output": {"handlers": {"H": v}}}))
}

#[test]
fn a_valid_handler_gets_defaults() {
    let h = &from_tree(&handler(json!({"uri": "mqtt://127.0.0.1:1884"}))).unwrap()[0];
    assert_eq!((h.host.as_str(), h.port, h.sink, h.qos), ("127.0.0.1", 1884, Sink::Events, 1));
    assert_eq!((h.enabled, h.queue_size, h.retain), (true, DEFAULT_QUEUE, false));
    let id = Uuid::nil();
    assert_eq!(h.topic_for(id, "event-intrusion"), format!("rt/{id}/event-intrusion"));
    assert!(!h.tls && h.ca_file.is_none());
    let h = &from_tree(&handler(json!({"uri": "mqtt://broker"}))).unwrap()[0];
    assert_eq!(h.port, 1883);
    let h = &from_tree(&handler(json!({"uri": "mqtts://broker"}))).unwrap()[0];
    assert_eq!((h.port, h.tls), (8883, true));
    let v = json!({"uri": "mqtts://broker:8884", "config": {"caFile": "/etc/ca.pem"}});
    let h = &from_tree(&handler(v)).unwrap()[0];
    assert_eq!((h.port, h.tls, h.ca_file.as_deref()), (8884, true, Some("/etc/ca.pem")));
}

#[test]
fn an_invalid_handler_names_the_field() {
    let cases = [
        (json!(3), "Output/handlers/H"),
        (json!({}), "Output/handlers/H/uri"),
        (json!({"uri": "http://x:1"}), "Output/handlers/H/uri"),
        (json!({"uri": "mqtts://x:0"}), "Output/handlers/H/uri"),
        (json!({"uri": "mqtts://x", "config": {"caFile": ""}}), "Output/handlers/H/config/caFile"),
        (json!({"uri": "mqtts://x", "config": {"caFile": 1}}), "Output/handlers/H/config/caFile"),
        (json!({"uri": "mqtt://x:notaport"}), "Output/handlers/H/uri"),
        (json!({"uri": "mqtt://x", "sink": "nope"}), "Output/handlers/H/sink"),
        (json!({"uri": "mqtt://x", "enabled": "yes"}), "Output/handlers/H/enabled"),
        (json!({"uri": "mqtt://x", "config": []}), "Output/handlers/H/config"),
        (json!({"uri": "mqtt://x", "config": {"qos": 3}}), "Output/handlers/H/config/qos"),
        (json!({"uri": "mqtt://x", "config": {"topic": "a/#"}}), "Output/handlers/H/config/topic"),
        (json!({"uri": "mqtt://x", "config": {"retain": 1}}), "Output/handlers/H/config/retain"),
        (
            json!({"uri": "mqtt://x", "config": {"password": 1}}),
            "Output/handlers/H/config/password",
        ),
        (
            json!({"uri": "mqtt://x", "config": {"queueSize": 0}}),
            "Output/handlers/H/config/queueSize",
        ),
        (
            json!({"uri": "mqtt://x", "config": {"clientId": ""}}),
            "Output/handlers/H/config/clientId",
        ),
    ];
    for (value, field) in cases {
        match from_tree(&handler(value.clone())) {
            Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{value}"),
            other => panic!("{value}: expected an error naming {field}, got {other:?}"),
        }
    }
    let bad = tree(json!({"Output": {"handlers": []}}));
    assert!(from_tree(&bad).is_err());
}

#[test]
fn sinks_select_event_kinds() {
    let cases = [
        (Sink::Events, "event-intrusion", true),
        (Sink::Events, "track", false),
        (Sink::Tracks, "track", true),
        (Sink::Statistics, "statistics", true),
        (Sink::Statistics, "track", false),
        (Sink::Crops, "crop", true),
        (Sink::All, "anything", true),
    ];
    for (sink, kind, want) in cases {
        assert_eq!(sink.selects(kind), want, "{sink:?} {kind}");
    }
}

#[test]
fn passwords_are_masked_and_the_mask_keeps_the_secret() {
    let stored =
        handler(json!({"uri": "mqtt://x", "config": {"username": "u", "password": "s3cret"}}));
    let mut shown = stored.clone();
    mask_secrets(&mut shown);
    assert_eq!(shown["Output"]["handlers"]["H"]["config"]["password"], json!(SECRET_MASK));
    // Written back as read: the secret stays.
    let mut written = shown.clone();
    keep_secrets(&stored, &mut written).unwrap();
    assert_eq!(written, stored);
    // A new password replaces it.
    let mut new = handler(json!({"uri": "mqtt://x", "config": {"password": "other"}}));
    keep_secrets(&stored, &mut new).unwrap();
    assert_eq!(new["Output"]["handlers"]["H"]["config"]["password"], json!("other"));
    // The mask with nothing stored is refused.
    let mut orphan = shown;
    assert!(keep_secrets(&Map::new(), &mut orphan).is_err());
}

/// A mosquitto broker on a fixed port that the test stops and restarts;
/// it persists sessions, so the subscriber's survives the restart.
struct Broker {
    port: u16,
    conf: std::path::PathBuf,
    child: Option<Child>,
}

impl Broker {
    fn start(dir: &Path) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = dir.join("mosquitto.conf");
        let data = dir.display();
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {data}/\nautosave_interval 1\n"
            ),
        )
        .unwrap();
        let mut b = Broker { port, conf, child: None };
        b.restart();
        b
    }

    fn restart(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (./dev installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it gracefully (SIGTERM: it saves its sessions) and waits.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Subscribes with a persistent session and forwards every payload.
fn subscriber(port: u16, topic: &str) -> mpsc::UnboundedReceiver<(String, String)> {
    let mut opts = MqttOptions::new("test-subscriber", "127.0.0.1", port);
    opts.set_clean_session(false);
    let (client, mut eventloop) = AsyncClient::new(opts, 16);
    let (tx, rx) = mpsc::unbounded_channel();
    let topic = topic.to_string();
    tokio::spawn(async move {
        let _client = client.clone();
        loop {
            match eventloop.poll().await {
                Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                }
                Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                    let body = String::from_utf8_lossy(&p.payload).into_owned();
                    if tx.send((p.topic.clone(), body)).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    rx
}

async fn receive(
    rx: &mut mpsc::UnboundedReceiver<(String, String)>,
    n: usize,
) -> Vec<(String, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(m)) => got.push(m),
            _ => panic!("received {} of {n} messages: {got:?}", got.len()),
        }
    }
    got
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn n_of(body: &str) -> u64 {
    serde_json::from_str::<Value>(body).unwrap()["n"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_broker_restart_within_the_queue_and_the_rest_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let id = Uuid::new_v4();
    let bus = Arc::new(EventBus::new(crate::events::BusOptions::default()));
    let mut rx = subscriber(broker.port, "rt/#");
    // The subscriber's session exists before anything is published.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cfg = tree(json!({"Output": {"handlers": {"Mqtt": {
        "uri": format!("mqtt://127.0.0.1:{}", broker.port), "sink": "events", "enabled": true,
        "config": {"clientId": "rt-test", "topic": "rt/{instanceId}/{eventType}", "qos": 1,
                   "queueSize": 8}}}}}));
    let (config_tx, config_rx) = watch::channel(Arc::new(cfg));
    let table = Arc::new(HandlerTable::default());
    let _handlers = Handlers::start(id, bus.clone(), config_rx, table.clone()).unwrap();
    wait_for("the handler to connect", || table.get("Mqtt").is_some_and(|s| s.connected)).await;

    let mut n = 0;
    let mut publish = |count: u64| {
        for _ in 0..count {
            bus.publish("event-intrusion", json!({"n": n}).as_object().unwrap().clone());
            n += 1;
        }
        // Not selected by the `events` sink.
        bus.publish("track", Map::new());
    };
    publish(5);
    let got = receive(&mut rx, 5).await;
    assert_eq!(got[0].0, format!("rt/{id}/event-intrusion"));
    let v: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!((v["$id"].clone(), v["n"].clone()), (json!("event-intrusion"), json!(0)));

    // Away for a while: 6 events fit in the queue of 8; none is lost.
    broker.stop();
    wait_for("the handler to notice", || table.get("Mqtt").is_some_and(|s| !s.connected)).await;
    publish(6);
    wait_for("the queue to hold 6", || table.get("Mqtt").is_some_and(|s| s.queue_size == 6)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.restart();
    let got = receive(&mut rx, 6).await;
    assert_eq!(got.iter().map(|m| n_of(&m.1)).collect::<Vec<_>>(), (5..11).collect::<Vec<_>>());
    assert_eq!(table.get("Mqtt").unwrap().dropped_count, 0);

    // Away again: 12 events, 8 kept (the newest), 4 dropped and counted.
    broker.stop();
    wait_for("the handler to notice", || table.get("Mqtt").is_some_and(|s| !s.connected)).await;
    publish(12);
    wait_for("4 dropped", || table.get("Mqtt").is_some_and(|s| s.dropped_count == 4)).await;
    broker.restart();
    let got = receive(&mut rx, 8).await;
    assert_eq!(got.iter().map(|m| n_of(&m.1)).collect::<Vec<_>>(), (15..23).collect::<Vec<_>>());
    wait_for("an empty queue", || table.get("Mqtt").is_some_and(|s| s.queue_size == 0)).await;
    assert!(tokio::time::timeout(Duration::from_millis(300), rx.recv()).await.is_err(), "no more");

    // Removed on the fly: the handler stops and leaves the table.
    config_tx.send_replace(Arc::new(Map::new()));
    wait_for("the handler to go", || table.get("Mqtt").is_none()).await;
}

/// Shutdown: `close` makes the handler send every event the bus published
/// before it, even those it had not read yet, and then end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_sends_everything_published_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let id = Uuid::new_v4();
    let bus = Arc::new(EventBus::new(crate::events::BusOptions::default()));
    let mut rx = subscriber(broker.port, "rt/#");
    // The subscriber's session exists before anything is published.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cfg = tree(json!({"Output": {"handlers": {"Mqtt": {
        "uri": format!("mqtt://127.0.0.1:{}", broker.port),
        "config": {"clientId": "rt-close", "qos": 1, "queueSize": 1000}}}}}));
    let (_config_tx, config_rx) = watch::channel(Arc::new(cfg));
    let table = Arc::new(HandlerTable::default());
    let handlers = Handlers::start(id, bus.clone(), config_rx, table.clone()).unwrap();
    wait_for("the handler to connect", || table.get("Mqtt").is_some_and(|s| s.connected)).await;
    let n = 300;
    for i in 0..n {
        bus.publish("event-intrusion", json!({"n": i}).as_object().unwrap().clone());
    }
    // At once: most of them are still on the bus or in the queue.
    tokio::time::timeout(Duration::from_secs(30), handlers.close(Duration::from_secs(20)))
        .await
        .expect("close returns");
    let got = receive(&mut rx, n as usize).await;
    assert_eq!(got.iter().map(|m| n_of(&m.1)).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A throwaway CA and a certificate for 127.0.0.1 that it signed, made
/// at run time in `dir`: `ca.crt`, `server.crt`, `server.key`.
fn make_certs(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=rt test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "s.csr"];
    csr.extend(ec);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &["x509", "-req", "-in", "s.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"]
            .into_iter()
            .chain(["-days", "1", "-extfile", "ext.cnf", "-out", "server.crt"])
            .collect::<Vec<_>>(),
    );
    // mosquitto started as root reads them as its own user.
    use std::os::unix::fs::PermissionsExt;
    for f in ["", "ca.crt", "server.crt", "server.key"] {
        let mode = if f.is_empty() { 0o755 } else { 0o644 };
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// `mosquitto_sub` over TLS, trusting `ca`: forwards its SUBACK line, then
/// `topic payload` lines.
fn tls_subscriber(port: u16, ca: &Path) -> (Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    // Line-buffered: its debug lines (the SUBACK) are not flushed otherwise.
    let mut child = Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "rt/#",
            "-q",
            "1",
            "-v",
            "-d",
        ])
        .arg("--cafile")
        .arg(ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub is installed");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let forward = line.starts_with("rt/") || line.contains("SUBACK");
            if forward && tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_handlers_verify_the_broker_against_their_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\ncafile {0}/ca.crt\n\
             certfile {0}/server.crt\nkeyfile {0}/server.key\n",
            d.display()
        ),
    )
    .unwrap();
    let broker = Command::new("mosquitto")
        .arg("-c")
        .arg(d.join("mosquitto.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto is installed (./dev installs it)");
    let mut broker = Broker { port, conf: d.join("mosquitto.conf"), child: Some(broker) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ca = d.join("ca.crt");
    let (mut sub, lines) = tls_subscriber(port, &ca);
    let line = lines.recv_timeout(Duration::from_secs(20)).expect("mosquitto_sub subscribes");
    assert!(line.contains("SUBACK"), "{line}");

    let uri = format!("mqtts://127.0.0.1:{port}");
    let missing = d.join("missing.pem");
    let cfg = tree(json!({"Output": {"handlers": {
        "Trusted": {"uri": uri, "config": {"clientId": "rt-trusted", "caFile": ca}},
        "Untrusted": {"uri": uri, "config": {"clientId": "rt-untrusted"}},
        "NoCaFile": {"uri": uri, "config": {"clientId": "rt-nocafile", "caFile": missing}}}}}));
    let id = Uuid::new_v4();
    let bus = Arc::new(EventBus::new(crate::events::BusOptions::default()));
    let (_config_tx, config_rx) = watch::channel(Arc::new(cfg));
    let table = Arc::new(HandlerTable::default());
    let _handlers = Handlers::start(id, bus.clone(), config_rx, table.clone()).unwrap();
    wait_for("the trusted handler to connect", || {
        table.get("Trusted").is_some_and(|s| s.connected && s.last_error.is_none())
    })
    .await;
    // Without the CA the broker's certificate does not verify: the handler
    // says so and keeps retrying, and nothing else is disturbed.
    wait_for("the untrusted handler to fail", || {
        table.get("Untrusted").is_some_and(|s| s.last_error.is_some())
    })
    .await;
    let s = table.get("Untrusted").unwrap();
    let error = s.last_error.clone().unwrap();
    assert!(!s.connected);
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    wait_for("the bad caFile to show", || {
        table.get("NoCaFile").is_some_and(|s| s.last_error.is_some())
    })
    .await;
    let error = table.get("NoCaFile").unwrap().last_error.unwrap();
    assert!(error.contains("missing.pem"), "{error}");
    let stats = table.to_json().unwrap();
    assert_eq!(stats["Untrusted"]["connected"], json!(false), "{stats}");
    assert!(stats["Untrusted"]["last_error"].is_string(), "{stats}");
    assert!(stats["Trusted"].get("last_error").is_none(), "{stats}");

    for n in 0..3 {
        bus.publish("event-intrusion", json!({"n": n}).as_object().unwrap().clone());
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => got.push(l),
            Err(e) => panic!("received {got:?} of 3 messages: {e}"),
        }
    }
    // Only the trusted handler delivered them, each once, in order.
    for (n, line) in got.iter().enumerate() {
        let (topic, body) = line.split_once(' ').unwrap();
        assert_eq!(topic, format!("rt/{id}/event-intrusion"));
        assert_eq!(n_of(body), n as u64, "{got:?}");
    }
    assert!(lines.recv_timeout(Duration::from_millis(500)).is_err(), "no more");
    assert!(!table.get("Untrusted").unwrap().connected);
    let _ = sub.kill();
    let _ = sub.wait();
    broker.stop();
}
