//! Runs the selected checks one after another, each bounded in time, deleting
//! what each created as soon as it ends (whether it passed, failed or timed
//! out), and collects the [`Report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use crate::checks::{self, Check};
use crate::ctx::{Ctx, Exchange, OnvifCamera, Settings, clean_up};
use crate::error::Error;
use crate::spec::Contract;

/// What to run, against what.
#[derive(Debug, Clone)]
pub struct Options {
    pub base_url: String,
    /// Leave out checks of `x-rt-extension` features.
    pub strict_rt: bool,
    /// Only checks whose name matches one of these (`*` is a wildcard;
    /// without one, a pattern matches names that contain it).
    pub only: Vec<String>,
    pub request_timeout: Duration,
    pub check_timeout: Duration,
    pub read_only_instance: Option<Uuid>,
    /// Run the shutdown operation's check, last: it stops the server.
    pub allow_shutdown: bool,
    /// A discovered ONVIF camera and its credentials, for the ONVIF checks.
    pub onvif_camera: Option<OnvifCamera>,
    /// A discovered camera that cannot be reached, for the ONVIF 406 check.
    pub onvif_unreachable_camera: Option<String>,
    /// Ends the run early (after cleaning up) when notified.
    pub stop: Option<Arc<tokio::sync::Notify>>,
    /// A bearer token for servers that require one (sent as
    /// `Authorization: Bearer` with every request; never in the report).
    pub token: Option<String>,
}

impl Options {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            strict_rt: false,
            only: Vec::new(),
            request_timeout: Duration::from_secs(10),
            check_timeout: Duration::from_secs(60),
            read_only_instance: None,
            allow_shutdown: false,
            onvif_camera: None,
            onvif_unreachable_camera: None,
            stop: None,
            token: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// One check's result, with what it sent and got.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub name: String,
    pub group: String,
    pub extension: bool,
    pub about: String,
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub millis: u64,
    pub exchanges: Vec<Exchange>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub base_url: String,
    /// The `info.version` of the contract the server was held to.
    pub contract_version: String,
    pub strict_rt: bool,
    pub millis: u64,
    pub checks: Vec<CheckReport>,
    /// Things the suite created and could not delete.
    pub cleanup_problems: Vec<String>,
    /// The run was stopped before every check ran.
    pub interrupted: bool,
}

impl Report {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }

    /// Every selected check passed (or could not apply) and nothing was left behind.
    pub fn passed(&self) -> bool {
        self.count(Outcome::Fail) == 0 && self.cleanup_problems.is_empty() && !self.interrupted
    }
}

/// Whether `name` is selected by `patterns` (all, when there are none).
pub fn selected(name: &str, patterns: &[String]) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| matches(name, p))
}

fn matches(name: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return name.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// The checks `options` selects from `contract`; the shutdown check, which
/// stops the server, goes last.
pub fn plan(contract: &Contract, options: &Options) -> Vec<Check> {
    let mut checks: Vec<Check> = checks::all(contract)
        .into_iter()
        .filter(|c| !(options.strict_rt && c.extension))
        .filter(|c| selected(&c.name, &options.only))
        .collect();
    checks.sort_by_key(|c| c.name.contains(".shutdown_system."));
    checks
}

/// Runs `checks`, calling `progress(done, total, report)` after each.
/// Fails before sending anything when the token is not a valid header value.
pub async fn run(
    contract: Arc<Contract>,
    options: &Options,
    checks: Vec<Check>,
    mut progress: impl FnMut(usize, usize, &CheckReport),
) -> Result<Report, Error> {
    let started = Instant::now();
    let run_id = Uuid::new_v4().simple().to_string();
    let settings = Arc::new(Settings {
        base_url: options.base_url.trim_end_matches('/').to_string(),
        request_timeout: options.request_timeout,
        prefix: format!("rt-conformance-{}-", &run_id[..8]),
        read_only_instance: options.read_only_instance,
        allow_shutdown: options.allow_shutdown,
        strict_rt: options.strict_rt,
        onvif_camera: options.onvif_camera.clone(),
        onvif_unreachable_camera: options.onvif_unreachable_camera.clone(),
        token: options.token.clone(),
    });
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = &options.token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::Usage("the token is not a valid header value".into()))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(options.request_timeout)
        .build()
        .expect("an HTTP client");
    let mut report = Report {
        base_url: settings.base_url.clone(),
        contract_version: contract.version().to_string(),
        strict_rt: options.strict_rt,
        millis: 0,
        checks: Vec::new(),
        cleanup_problems: Vec::new(),
        interrupted: false,
    };
    let total = checks.len();
    for (n, check) in checks.into_iter().enumerate() {
        let ctx = Ctx::new(settings.clone(), contract.clone(), http.clone());
        let begun = Instant::now();
        let future = tokio::time::timeout(options.check_timeout, (check.run)(ctx.clone()));
        let stop = async {
            match &options.stop {
                Some(stop) => stop.notified().await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            r = future => Some(r),
            () = stop => None,
        };
        let (outcome, mut message) = match result {
            None => {
                report.interrupted = true;
                (Outcome::Fail, Some("interrupted".to_string()))
            }
            Some(Err(_)) => {
                (Outcome::Fail, Some(format!("did not finish within {:?}", options.check_timeout)))
            }
            Some(Ok(Err(f))) if f.skip => (Outcome::Skip, Some(f.message)),
            Some(Ok(Err(f))) => (Outcome::Fail, Some(f.message)),
            Some(Ok(Ok(()))) => (Outcome::Pass, None),
        };
        let (exchanges, violations) = {
            let mut log = ctx.log.lock().expect("log");
            (std::mem::take(&mut log.exchanges), std::mem::take(&mut log.violations))
        };
        let outcome = if violations.is_empty() || (outcome == Outcome::Fail && report.interrupted) {
            outcome
        } else {
            let mut text = violations.join("\n");
            if let (Outcome::Fail, Some(m)) = (outcome, &message) {
                text = format!("{m}\n{text}");
            }
            message = Some(text);
            Outcome::Fail
        };
        let problems = clean_up(&http, &settings, &ctx.created).await;
        report.cleanup_problems.extend(problems);
        let entry = CheckReport {
            name: check.name,
            group: check.group,
            extension: check.extension,
            about: check.about,
            outcome,
            message,
            millis: begun.elapsed().as_millis() as u64,
            exchanges,
        };
        progress(n + 1, total, &entry);
        report.checks.push(entry);
        if report.interrupted {
            break;
        }
    }
    report.millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_select_names() {
        let cases = [
            ("sse.framing", "sse", true),
            ("sse.framing", "sse.*", true),
            ("core.start_instance.406", "core.*.406", true),
            ("core.start_instance.404", "core.*.406", false),
            ("keepalive.load_instance", "*load*", true),
            ("config.roundtrip", "securt", false),
            ("securt.securt_list_areas.200", "*.200", true),
        ];
        for (name, pattern, want) in cases {
            assert_eq!(matches(name, pattern), want, "{name} ~ {pattern}");
        }
        assert!(selected("anything", &[]));
    }
}
