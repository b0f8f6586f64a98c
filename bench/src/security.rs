//! `rt-bench --security SERVER_BINARY` (issue 16): what bearer tokens and
//! TLS cost a request. The same server three ways (plain; tokens; tokens and
//! TLS), each answering `GET /v1/core/instances` (ten instances listed) to
//! one keep-alive client, 2,000 times in a row after 200 warm-up calls;
//! p50/p99 and the ratio to plain.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::{Server, percentile};

const CALLS: usize = 2_000;
const WARM_UP: usize = 200;
const TOKEN: &str = "bench-token-5f0e2a";

/// A self-signed certificate for 127.0.0.1 (PEM) and its key, by openssl.
fn certificate(dir: &std::path::Path) -> Result<Vec<u8>> {
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "1", "-subj", "/CN=rt-bench"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .context("openssl")?;
    if !status.success() {
        bail!("openssl could not make a certificate");
    }
    Ok(std::fs::read(dir.join("cert.pem"))?)
}

/// Latencies (ms, sorted) of `CALLS` list calls.
async fn measure(http: &reqwest::Client, base: &str, token: Option<&str>) -> Result<Vec<f64>> {
    let authed = |r: reqwest::RequestBuilder| match token {
        Some(t) => r.bearer_auth(t),
        None => r,
    };
    let call = || authed(http.get(format!("{base}/v1/core/instances")));
    for _ in 0..10 {
        let r = http.post(format!("{base}/v1/core/instance")).body(r#"{"name": "bench"}"#);
        authed(r).send().await?.error_for_status()?;
    }
    let mut out = Vec::with_capacity(CALLS);
    for i in 0..WARM_UP + CALLS {
        let t = Instant::now();
        call().send().await?.error_for_status()?.bytes().await?;
        if i >= WARM_UP {
            out.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

pub async fn run(binary: &str) -> Result<String> {
    let head = crate::heading();
    let root = std::env::temp_dir().join(format!("rt-bench-security-{}", std::process::id()));
    let mut rows = Vec::new();
    let mut plain_p50 = f64::NAN;
    for (name, tokens, tls) in [
        ("plain HTTP", false, false),
        ("bearer token", true, false),
        ("bearer token + TLS", true, true),
    ] {
        let data = root.join(name.replace(' ', "-").replace('+', "and"));
        std::fs::create_dir_all(&data)?;
        let mut web = json!({});
        if tokens {
            std::fs::write(data.join("tokens"), format!("{TOKEN}\n"))?;
            web["auth"] = json!({"token_file": data.join("tokens")});
        }
        let mut http = reqwest::Client::builder();
        if tls {
            let pem = certificate(&data)?;
            web["tls"] = json!({"cert": data.join("cert.pem"), "key": data.join("key.pem")});
            http = http.tls_certs_only([reqwest::Certificate::from_pem(&pem)?]);
        }
        std::fs::write(data.join("rtconfig.json"), json!({"web_server": web}).to_string())?;
        let server = Server::start(binary, &data)?;
        let latencies = measure(&http.build()?, &server.base, tokens.then_some(TOKEN)).await?;
        drop(server);
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        if !tokens {
            plain_p50 = p50;
        }
        rows.push(format!("| {name} | {p50:.3} / {p99:.3} ms | {:.2} |", p50 / plain_p50));
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(format!(
        "{head}### Request cost of tokens and TLS (issue 16)\n\n\
         `GET /v1/core/instances` (10 instances) from one keep-alive client, {CALLS} calls \
         after {WARM_UP} warm-up calls.\n\n\
         | server | p50 / p99 | p50 ratio to plain |\n|---|---|---|\n{}\n",
        rows.join("\n")
    ))
}
