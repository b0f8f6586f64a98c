//! TLS built in (`web_server.tls`): HTTPS with a certificate made at run
//! time, by dropshot itself and by the CORS front; plain HTTP refused on
//! that port; a renewed certificate taken on SIGHUP for new connections,
//! and unusable files at reload leave the one in force.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{TestServer, failed_start, self_signed};
use crate::keepalive::wait_for_close;

fn trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem).unwrap()])
        .build()
        .unwrap()
}

/// `GET /v1/core/version` through `client` at `base`: its status, or the
/// error's chain.
async fn version(client: &reqwest::Client, base: &str) -> Result<u16, String> {
    client
        .get(format!("{base}/v1/core/version"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn https_by_dropshot_and_by_the_cors_front() {
    for config in [json!({}), json!({"web_server": {"cors": {"enabled": true}}})] {
        let (s, pem, _dir) = TestServer::start_tls(&config);
        assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
        assert_eq!(version(&trusting(&pem), &s.base).await, Ok(200), "{config}");
        // A client that does not trust the certificate is refused.
        let (other, _) = self_signed("someone else");
        assert!(version(&trusting(&other), &s.base).await.is_err(), "{config}");
        // Plain HTTP on the TLS port gets no answer of the API.
        let plain = s.base.replace("https://", "http://");
        assert_ne!(version(&reqwest::Client::new(), &plain).await, Ok(200), "{config}");
        // With CORS, the front's headers come over TLS too.
        if config["web_server"]["cors"]["enabled"] == true {
            let r = trusting(&pem).get(s.url("/v1/core/instances")).send().await.unwrap();
            assert_eq!(r.headers()["access-control-allow-origin"], "*");
        }
    }
}

#[tokio::test]
async fn a_renewed_certificate_is_taken_on_sighup() {
    for config in [json!({}), json!({"web_server": {"cors": {"enabled": true}}})] {
        let (s, old, dir) = TestServer::start_tls(&config);
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));

        // Unusable files at reload: the certificate in force stays.
        std::fs::write(&cert, "garbage").unwrap();
        s.sighup();
        s.wait_for_log(&format!("{config}: word of the failed reload"), |l| {
            l.contains("TLS files not reloaded")
        });
        assert_eq!(version(&trusting(&old), &s.base).await, Ok(200), "{config}");

        let (new, new_key) = self_signed("renewed");

        std::fs::write(&key, &new_key).unwrap();
        std::fs::write(&cert, &new).unwrap();
        s.sighup();
        let deadline = Instant::now() + Duration::from_secs(10);
        // New connections (a new client each time) get the new certificate.
        while version(&trusting(&new), &s.base).await != Ok(200) {
            assert!(Instant::now() < deadline, "{config}: the renewed certificate is not served");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(version(&trusting(&old), &s.base).await.is_err(), "{config}");
    }
}

#[tokio::test]
async fn unusable_files_stop_the_start_with_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, "not PEM").unwrap();
    std::fs::write(&key, "not PEM either").unwrap();
    let config = dir.path().join("rtconfig.json");
    std::fs::write(&config, json!({"web_server": {"tls": {"cert": cert, "key": key}}}).to_string())
        .unwrap();
    let data = dir.path().join("data");
    let err = failed_start(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    assert!(err.contains("cert.pem") && err.contains("TLS"), "{err}");
}

/// A client that connects to the TLS port and never starts its handshake is
/// disconnected, by dropshot (after 30 s) and by the CORS front (after 10 s)
/// alike: `wait_for_close` fails if the connection outlives 40 s.
#[tokio::test]
async fn a_silent_client_is_disconnected_before_its_handshake() {
    let mut waits = Vec::new();
    let mut servers = Vec::new();
    for config in [json!({}), json!({"web_server": {"cors": {"enabled": true}}})] {
        let (s, _pem, dir) = TestServer::start_tls(&config);
        let addr = s.addr;
        waits.push(tokio::task::spawn_blocking(move || {
            wait_for_close(std::net::TcpStream::connect(addr).unwrap(), |_| {});
        }));
        servers.push((s, dir));
    }
    for w in waits {
        w.await.unwrap();
    }
}
