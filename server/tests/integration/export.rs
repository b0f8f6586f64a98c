//! Exporting: MQTT handlers against a real mosquitto broker that the test
//! starts on a free port. The queue through broker restarts is tested in
//! `rt-pipeline` (`handlers::tests`); here, the server end to end.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use crate::common::TestServer;
use crate::media::{Record, media_server, read_sse, test_video};

/// `mosquitto -p PORT` on a free port, stopped when dropped.
struct Broker {
    port: u16,
    child: Child,
}

impl Broker {
    fn start() -> Broker {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (./dev installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { port, child }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Messages = Arc<Mutex<Vec<(String, Value)>>>;

/// Subscribes to `topic`; resolves once the broker confirmed it.
async fn subscribe(port: u16, topic: &str) -> Messages {
    let (client, mut eventloop) =
        AsyncClient::new(MqttOptions::new("export-test", "127.0.0.1", port), 64);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    let got: Messages = Arc::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sink = got.clone();
    tokio::spawn(async move {
        let _client = client;
        let mut tx = Some(tx);
        while let Ok(event) = eventloop.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let v = serde_json::from_slice(&p.payload).expect("MQTT payload is JSON");
                    sink.lock().unwrap().push((p.topic.clone(), v));
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), rx).await.unwrap().unwrap();
    got
}

async fn config(s: &TestServer, id: uuid::Uuid, path: &str, value: &Value) -> (u16, Value) {
    let body = json!({"path": path, "jsonValue": value.to_string()}).to_string();
    s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(&body)).await
}

#[tokio::test]
async fn mqtt_handlers_are_validated_and_hide_their_password() {
    let s = TestServer::start();
    let id = s.create_securt().await;
    let cases = [
        (json!({"sink": "events"}), "Output/handlers/Mqtt/uri"),
        (json!({"uri": "mqtt://127.0.0.1:1883", "sink": "frames"}), "Output/handlers/Mqtt/sink"),
        (
            json!({"uri": "mqtt://127.0.0.1:1883", "config": {"qos": 7}}),
            "Output/handlers/Mqtt/config/qos",
        ),
    ];
    for (handler, field) in cases {
        let (status, body) = config(&s, id, "Output/handlers/Mqtt", &handler).await;
        assert_eq!(status, 400, "{handler}: {body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{handler}: {body}");
    }
    let handler = json!({"uri": "mqtt://127.0.0.1:1883", "enabled": false,
        "config": {"username": "rt", "password": "s3cret"}});
    assert_eq!(config(&s, id, "Output/handlers/Mqtt", &handler).await.0, 204);
    let (_, tree) = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await;
    let shown = tree["Output"]["handlers"]["Mqtt"].clone();
    assert_eq!(shown["config"]["password"], "********");
    // Writing back what was read is accepted (the stored secret stays).
    assert_eq!(config(&s, id, "Output/handlers/Mqtt", &shown).await.0, 204);
    // The mask where nothing is stored is not a password.
    assert_eq!(config(&s, id, "Output/handlers/Other", &shown).await.0, 400);
}

#[tokio::test]
async fn a_subscriber_receives_every_sse_event_on_its_topic_as_the_same_json() {
    let broker = Broker::start();
    let messages = subscribe(broker.port, "rt/#").await;
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "name": "clip"})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    // Added to the running instance.
    let handler = json!({"uri": format!("mqtt://127.0.0.1:{}", broker.port), "sink": "all",
        "enabled": true, "config": {"clientId": "rt-clip", "topic": "rt/{instanceId}/{eventType}",
        "qos": 1, "queueSize": 5000}});
    assert_eq!(config(&s, id, "Output/handlers/Mqtt", &handler).await.0, 204);

    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let connected =
        |r: &Record| r.event == "statistics" && r.data["handlers"]["Mqtt"]["connected"] == true;
    let records = read_sse(&s, &path, None, Duration::from_secs(30), |rs| {
        rs.iter().filter(|r| connected(r)).count() >= 2
            && rs.iter().filter(|r| r.event == "track").count() >= 20
    })
    .await;
    assert!(records.iter().filter(|r| connected(r)).count() >= 2, "handler stats in statistics");
    // Every SSE event since the handler connected reaches the broker.
    let first = records.iter().position(connected).unwrap();
    let wanted = &records[first..];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = messages.lock().unwrap().clone();
        let missing: Vec<&Record> = wanted
            .iter()
            .filter(|r| !got.contains(&(format!("rt/{id}/{}", r.event), r.data.clone())))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} SSE events never reached MQTT, e.g. {:?}",
            missing.len(),
            wanted.len(),
            missing[0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = &records.iter().rev().find(|r| connected(r)).unwrap().data["handlers"]["Mqtt"];
    assert_eq!(stats["dropped_count"], 0, "{stats}");

    // Removed on the running instance: messages stop.
    assert_eq!(config(&s, id, "Output/handlers", &json!({})).await.0, 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = messages.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(messages.lock().unwrap().len(), before, "no messages after removal");
}
