//! `rt-client` beyond the generated code, against the real server: the
//! hand-written operations (frame pushes, HLS) and `ClientBuilder` (the
//! bearer token on every kind of call, seen by a recording proxy; timeouts
//! that bound requests but not event streams).

use std::time::Duration;

use futures::StreamExt;
use rt_client::types::{InputType, InputWrite, OutputHlsWrite};
use rt_client::{Client, Codec, Error, HlsOutput};
use serde_json::json;

use crate::common::{RecordingProxy, TestServer, header};

const JPEG: &[u8] = include_bytes!("../../../conformance/fixtures/frame.jpg");
const H264: &[u8] = include_bytes!("../../../conformance/fixtures/frame.h264");

/// The status and `Error` message of a documented error answer.
#[track_caller]
fn error_answer<T: std::fmt::Debug>(
    result: Result<T, Error<rt_client::types::Error>>,
) -> (u16, String) {
    match result {
        Err(Error::ErrorResponse(e)) => (e.status().as_u16(), e.into_inner().message),
        other => panic!("expected a documented error answer, got {other:?}"),
    }
}

/// An instance with a `Manual` input, not started.
async fn manual_instance(s: &TestServer) -> uuid::Uuid {
    let id = s.create(json!({"solution": "securt", "name": "pushed"})).await;
    let manual = InputWrite { type_: InputType::Manual, uri: None };
    s.client().set_instance_input(&id, &manual).await.unwrap();
    id
}

#[tokio::test]
async fn frame_pushes_answer_through_the_typed_wrappers() {
    let s = TestServer::start();
    let c = s.client();
    let id = manual_instance(&s).await;
    let (status, message) = error_answer(c.push_compressed_frame(&id, JPEG, None).await);
    assert_eq!(status, 409, "not running yet: {message}");
    c.start_instance(&id).await.unwrap();
    // 409 also means the queue is full; each push is retried until accepted.
    for push in 0..2 {
        let accepted = loop {
            let answer = match push {
                0 => c.push_compressed_frame(&id, JPEG, Some(1_700_000_000_000)).await,
                _ => c.push_encoded_frame(&id, Codec::H264, H264, None).await,
            };
            match answer {
                Err(Error::ErrorResponse(e)) if e.status() == 409 => continue,
                other => break other.unwrap(),
            }
        };
        assert_eq!(accepted.status(), 204);
    }
    let (status, message) = error_answer(c.push_compressed_frame(&id, &b""[..], None).await);
    assert!(status == 400 && message.contains("frame"), "{status} {message}");
    let unknown = uuid::Uuid::new_v4();
    let (status, _) = error_answer(c.push_encoded_frame(&unknown, Codec::H265, H264, None).await);
    assert_eq!(status, 404);
}

#[tokio::test]
async fn hls_answers_both_outcomes_as_the_enum() {
    let s = TestServer::start();
    let c = s.client();
    let id = s.create_securt().await;
    let on = c.set_output_hls(&id, &OutputHlsWrite { enabled: true }).await.unwrap();
    assert_eq!(on.status(), 200);
    match on.into_inner() {
        HlsOutput::Enabled(e) => assert!(e.uri.ends_with(&format!("/hls/{id}.m3u8")), "{}", e.uri),
        other => panic!("enabling answered {other:?}"),
    }
    let off = c.set_output_hls(&id, &OutputHlsWrite { enabled: false }).await.unwrap();
    assert_eq!(off.status(), 204);
    assert!(matches!(off.into_inner(), HlsOutput::Disabled));
    let unknown = uuid::Uuid::new_v4();
    let (status, message) =
        error_answer(c.set_output_hls(&unknown, &OutputHlsWrite { enabled: true }).await);
    assert_eq!(status, 404, "{message}");
}

#[tokio::test]
async fn the_token_and_user_agent_go_with_every_kind_of_call() {
    let s = TestServer::start();
    let proxy = RecordingProxy::start(s.addr).await;
    let c = Client::builder(&proxy.base)
        .bearer_token("t0ken-of-the-test")
        .user_agent("rt-client-test/1")
        .build()
        .unwrap();
    // Generated operations, a hand-written one, and the event stream.
    c.get_version().await.unwrap();
    let id = manual_instance(&s).await;
    c.get_instance(&id).await.unwrap();
    c.set_output_hls(&id, &OutputHlsWrite { enabled: false }).await.unwrap();
    let _ = c.push_compressed_frame(&id, JPEG, None).await;
    let mut events = c.event_stream(&id).build();
    let reader = tokio::spawn(async move { events.next().await.map(|e| e.map(|e| e.name)) });
    proxy.wait_for("/consume_events_sse", Duration::from_secs(10)).await;
    reader.abort();

    let heads = proxy.heads();
    for path in ["/v1/core/version", "/output/hls", "/push/compressed", "/consume_events_sse"] {
        assert!(
            heads.iter().any(|h| h.lines().next().unwrap().contains(path)),
            "{path}: {heads:?}"
        );
    }
    for head in &heads {
        assert_eq!(header(head, "authorization"), Some("Bearer t0ken-of-the-test"), "{head}");
        assert_eq!(header(head, "user-agent"), Some("rt-client-test/1"), "{head}");
    }
}

#[tokio::test]
async fn timeouts_bound_requests_but_not_event_streams() {
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = Client::builder(format!("http://{}", silent.local_addr().unwrap()))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    match c.get_version().await {
        Err(Error::CommunicationError(e)) => assert!(e.is_timeout(), "{e}"),
        other => panic!("expected a timeout, got {other:?}"),
    }

    // The same bound on a real server: a running instance's stream outlives it.
    let s = TestServer::start();
    let c = Client::builder(&s.base).timeout(Duration::from_millis(300)).build().unwrap();
    let id = manual_instance(&s).await;
    c.start_instance(&id).await.unwrap();
    let mut events = c.event_stream(&id).build();
    let started = std::time::Instant::now();
    // Statistics come once a second: three of them span several timeouts.
    for _ in 0..3 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
        let event = event.expect("an event within 10 s").expect("the stream is open");
        assert_eq!(event.expect("no transport error").name, "statistics");
    }
    assert!(started.elapsed() > Duration::from_millis(900), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_given_tls_root_lets_the_client_reach_an_https_server() {
    let (s, cert, _dir) = TestServer::start_tls(&json!({}));
    let base = s.base.clone();
    let root = reqwest::Certificate::from_pem(&cert).unwrap();
    let trusting = Client::builder(&base).tls_root_certificate(root).tls_only_given_roots();
    let version = trusting.build().unwrap().get_version().await;
    let version = version.map_err(|e| rt_client::error_chain(&e)).unwrap().into_inner();
    assert!(!version.engine.is_empty());
    // Without that root the certificate is refused.
    match Client::builder(&base).build().unwrap().get_version().await {
        Err(Error::CommunicationError(e)) => assert!(e.is_connect(), "{e:?}"),
        other => panic!("an unknown certificate was accepted: {other:?}"),
    }
}
