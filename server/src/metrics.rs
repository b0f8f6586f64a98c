//! `GET /metrics`: the server in the OpenMetrics text format (which
//! Prometheus scrapes), from `prometheus-client`.
//!
//! Families (labels in braces; every label value is an instance id, an
//! operation id, a status, a source state from a fixed list, or the name of
//! a configured MQTT handler, never a raw path or request data, so their
//! number is bounded by what is configured):
//!
//! - per instance `{instance_id}`: `rt_instance_running`, `rt_instance_fps`,
//!   `rt_instance_frames_processed_total`, `rt_instance_frames_dropped_total`,
//!   `rt_instance_inference_seconds` (histogram), `rt_instance_event_latency_seconds`
//!   (frame decoded to its events published, histogram),
//!   `rt_instance_source_state{state}` (1 for the current one),
//!   `rt_instance_source_reconnects_total`, `rt_instance_tracks`,
//!   `rt_instance_streams` (event streams and live views open);
//! - per MQTT handler `{instance_id, handler}`: `rt_mqtt_queue_depth`,
//!   `rt_mqtt_sent_total`, `rt_mqtt_dropped_total`, `rt_mqtt_connected`;
//! - the store writer: `rt_store_queue_depth`, `rt_store_lag_seconds`,
//!   `rt_store_events_written_total`, `rt_store_events_dropped_total`;
//! - `rt_streams_open`;
//! - HTTP `{operation, status}`: `rt_http_requests_total`, and
//!   `rt_http_request_duration_seconds{operation}` (histogram).
//!
//! HTTP requests are counted from dropshot's "request completed" record
//! (`logging.rs` hands it here): that covers the answers dropshot gives
//! itself (404, 405, a bad path parameter) too. The operation is found by
//! matching the method and path against the API's routes; anything else is
//! `operation="unknown"`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rt_pipeline::metrics::Snapshot;

use crate::context::ServerContext;

/// The media type of a scrape.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bounds (seconds) of the HTTP latency buckets.
const HTTP_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Source states, as the pipeline names them.
const SOURCE_STATES: [&str; 5] = ["Connecting", "Connected", "Reconnecting", "Failed", "Ended"];

type Labels = Vec<(&'static str, String)>;

/// The HTTP families and the route table that names operations.
#[derive(Debug)]
pub struct Http {
    requests: Family<Labels, Counter>,
    duration: Family<Labels, Histogram>,
    routes: Vec<Route>,
}

/// One route of the API: method, path segments (`None` for a variable; a
/// trailing wildcard matches the rest), operation.
#[derive(Debug)]
struct Route {
    method: String,
    segments: Vec<Option<String>>,
    wildcard: bool,
    operation: String,
}

impl Route {
    fn matches(&self, method: &str, segments: &[&str]) -> bool {
        if self.method != method {
            return false;
        }
        if self.wildcard {
            segments.len() >= self.segments.len()
                && self
                    .segments
                    .iter()
                    .zip(segments)
                    .all(|(r, s)| r.as_deref().is_none_or(|r| r == *s))
        } else {
            self.segments.len() == segments.len()
                && self
                    .segments
                    .iter()
                    .zip(segments)
                    .all(|(r, s)| r.as_deref().is_none_or(|r| r == *s))
        }
    }
}

/// The routes of the API: the published ones from its own description, and
/// the unpublished wildcard ones (registry keys, panel files) by hand.
fn routes() -> Vec<Route> {
    let mut out = Vec::new();
    let doc =
        crate::http_entrypoints::api().openapi("rt-server", semver::Version::new(0, 0, 0)).json();
    let doc = doc.unwrap_or_default();
    let parse = |path: &str| -> Vec<Option<String>> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
            .collect()
    };
    if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                    out.push(Route {
                        method: method.to_uppercase(),
                        segments: parse(path),
                        wildcard: false,
                        operation: id.to_string(),
                    });
                }
            }
        }
    }
    for (method, path, wildcard, id) in [
        ("GET", "/v1/rtregistry", true, "registry_get"),
        ("PUT", "/v1/rtregistry", true, "registry_put"),
        ("DELETE", "/v1/rtregistry", true, "registry_delete"),
        ("GET", "/ui", true, "get_panel_file"),
        ("GET", "/docs", false, "get_docs"),
        ("GET", "/", false, "get_panel"),
    ] {
        out.push(Route {
            method: method.into(),
            segments: parse(path),
            wildcard,
            operation: id.into(),
        });
    }
    out
}

impl Http {
    fn new() -> Http {
        Http {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS)),
            routes: routes(),
        }
    }

    /// The operation a request went to.
    fn operation(&self, method: &str, uri: &str) -> &str {
        let path = uri.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // Exact routes first: a wildcard only takes what nothing else does.
        let exact =
            self.routes.iter().filter(|r| !r.wildcard).find(|r| r.matches(method, &segments));
        exact
            .or_else(|| {
                self.routes.iter().filter(|r| r.wildcard).find(|r| r.matches(method, &segments))
            })
            .map_or("unknown", |r| r.operation.as_str())
    }

    /// One answered request.
    pub fn record(&self, method: &str, uri: &str, status: u16, latency_us: u64) {
        let operation = self.operation(method, uri).to_string();
        self.requests
            .get_or_create(&vec![("operation", operation.clone()), ("status", status.to_string())])
            .inc();
        self.duration
            .get_or_create(&vec![("operation", operation)])
            .observe(latency_us as f64 / 1e6);
    }
}

/// The process's HTTP families (one API, so one table).
pub fn http() -> &'static Http {
    static HTTP: OnceLock<Http> = OnceLock::new();
    HTTP.get_or_init(Http::new)
}

/// What one scrape reports besides HTTP, read from the running server.
#[derive(Debug)]
struct Scrape {
    ctx: Arc<ServerContext>,
}

fn instance(id: uuid::Uuid) -> Labels {
    vec![("instance_id", id.to_string())]
}

/// One family of constant values, one per label set.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    (name, help): (&str, &str),
    kind: MetricType,
    values: Vec<(Labels, M)>,
) -> Result<(), std::fmt::Error> {
    let mut m = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in values {
        v.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One value without labels.
fn one<M>(v: M) -> Vec<(Labels, M)> {
    vec![(Labels::new(), v)]
}

/// A pipeline histogram, in seconds, as a metric.
#[derive(Debug)]
struct Seconds(Snapshot);

impl EncodeMetric for Seconds {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = self
            .0
            .buckets
            .iter()
            .map(|(b, c)| (if b.is_finite() { b / 1000.0 } else { f64::MAX }, *c))
            .collect();
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.0.sum_ms / 1000.0,
            self.0.count,
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let ctx = &self.ctx;
        let instances = ctx.engine.list();
        let stats: Vec<_> =
            instances.iter().filter_map(|i| Some((i, ctx.engine.stats(i.id).ok()?))).collect();
        let gauge = |f: &dyn Fn(&rt_pipeline::runtime::RunStats) -> f64| {
            stats.iter().map(|(i, s)| (instance(i.id), ConstGauge::new(f(s)))).collect::<Vec<_>>()
        };
        let counter = |f: &dyn Fn(&rt_pipeline::runtime::RunStats) -> u64| {
            stats.iter().map(|(i, s)| (instance(i.id), ConstCounter::new(f(s)))).collect::<Vec<_>>()
        };
        let running = instances
            .iter()
            .map(|i| {
                let on = i.state == rt_pipeline::LifecycleState::Running;
                (instance(i.id), ConstGauge::new(i64::from(on)))
            })
            .collect();
        family(
            &mut e,
            ("rt_instance_running", "1 while the instance runs"),
            MetricType::Gauge,
            running,
        )?;
        family(
            &mut e,
            ("rt_instance_fps", "Frames processed per second (last second)"),
            MetricType::Gauge,
            gauge(&|s| s.fps.get()),
        )?;
        family(
            &mut e,
            ("rt_instance_frames_processed", "Frames processed in this run"),
            MetricType::Counter,
            counter(&|s| s.frames_processed.load(Ordering::Relaxed)),
        )?;
        family(
            &mut e,
            ("rt_instance_frames_dropped", "Frames skipped in this run (rate limit, overload)"),
            MetricType::Counter,
            counter(&|s| s.frames_dropped.load(Ordering::Relaxed)),
        )?;
        family(
            &mut e,
            ("rt_instance_tracks", "Confirmed tracks alive now"),
            MetricType::Gauge,
            gauge(&|s| s.track_count.load(Ordering::Relaxed) as f64),
        )?;
        let histogram = |f: &dyn Fn(&rt_pipeline::runtime::RunStats) -> Snapshot| {
            stats.iter().map(|(i, s)| (instance(i.id), Seconds(f(s)))).collect::<Vec<_>>()
        };
        family(
            &mut e,
            ("rt_instance_inference_seconds", "Time per model run"),
            MetricType::Histogram,
            histogram(&|s| s.inference_ms.snapshot()),
        )?;
        family(
            &mut e,
            (
                "rt_instance_event_latency_seconds",
                "Time from a frame decoded to its events published",
            ),
            MetricType::Histogram,
            histogram(&|s| s.event_latency_ms.snapshot()),
        )?;
        let mut states = Vec::new();
        let mut reconnects = Vec::new();
        for (i, s) in &stats {
            let (state, n) = *s.source.lock().unwrap_or_else(|p| p.into_inner());
            for known in SOURCE_STATES {
                let mut l = instance(i.id);
                l.push(("state", known.to_string()));
                states.push((l, ConstGauge::new(i64::from(state == known))));
            }
            reconnects.push((instance(i.id), ConstCounter::new(n)));
        }
        family(
            &mut e,
            ("rt_instance_source_state", "1 for the input's current state"),
            MetricType::Gauge,
            states,
        )?;
        family(
            &mut e,
            ("rt_instance_source_reconnects", "Times the input was reopened in this run"),
            MetricType::Counter,
            reconnects,
        )?;
        let streams = instances
            .iter()
            .map(|i| (instance(i.id), ConstGauge::new(ctx.streams.open_for(i.id) as i64)))
            .collect();
        family(
            &mut e,
            ("rt_instance_streams", "Event streams and live views open"),
            MetricType::Gauge,
            streams,
        )?;

        let (mut depth, mut sent, mut dropped, mut connected) = (vec![], vec![], vec![], vec![]);
        for (i, s) in &stats {
            for (name, h) in s.handlers.all() {
                let l = || {
                    let mut l = instance(i.id);
                    l.push(("handler", name.clone()));
                    l
                };
                depth.push((l(), ConstGauge::new(h.queue_size as i64)));
                sent.push((l(), ConstCounter::new(h.sent_count)));
                dropped.push((l(), ConstCounter::new(h.dropped_count)));
                connected.push((l(), ConstGauge::new(i64::from(h.connected))));
            }
        }
        family(
            &mut e,
            ("rt_mqtt_queue_depth", "Events waiting for the broker"),
            MetricType::Gauge,
            depth,
        )?;
        family(&mut e, ("rt_mqtt_sent", "Events the broker took"), MetricType::Counter, sent)?;
        family(
            &mut e,
            ("rt_mqtt_dropped", "Events dropped (queue full)"),
            MetricType::Counter,
            dropped,
        )?;
        family(
            &mut e,
            ("rt_mqtt_connected", "1 while connected to the broker"),
            MetricType::Gauge,
            connected,
        )?;

        let w = ctx.writer.stats();
        family(
            &mut e,
            ("rt_store_queue_depth", "Rows waiting to be stored"),
            MetricType::Gauge,
            one(ConstGauge::new(w.pending.load(Ordering::Relaxed) as i64)),
        )?;
        family(
            &mut e,
            ("rt_store_lag_seconds", "Age of the oldest row of the last batch when stored"),
            MetricType::Gauge,
            one(ConstGauge::new(w.lag_ms.load(Ordering::Relaxed) as f64 / 1000.0)),
        )?;
        family(
            &mut e,
            ("rt_store_events_written", "Events stored"),
            MetricType::Counter,
            one(ConstCounter::new(w.events_written.load(Ordering::Relaxed))),
        )?;
        family(
            &mut e,
            ("rt_store_events_dropped", "Events lost before being stored"),
            MetricType::Counter,
            one(ConstCounter::new(w.dropped.load(Ordering::Relaxed))),
        )?;
        family(
            &mut e,
            ("rt_streams_open", "Streams open (events, registry watches, live views)"),
            MetricType::Gauge,
            one(ConstGauge::new(ctx.streams.open() as i64)),
        )?;
        Ok(())
    }
}

/// The text of one scrape.
pub fn render(ctx: &Arc<ServerContext>) -> String {
    let mut registry = Registry::default();
    let h = http();
    registry.register("rt_http_requests", "HTTP requests answered", h.requests.clone());
    registry.register(
        "rt_http_request_duration_seconds",
        "Time to answer an HTTP request (to its headers, for streams)",
        h.duration.clone(),
    );
    registry.register_collector(Box::new(Scrape { ctx: ctx.clone() }));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_named_by_their_operation_never_by_their_path() {
        let h = http();
        for (method, uri, op) in [
            ("GET", "/v1/core/instances", "list_instances"),
            ("GET", "/v1/core/instance/3fa85f64-5717-4562-b3fc-2c963f66afa6", "get_instance"),
            (
                "POST",
                "/v1/core/instance/3fa85f64-5717-4562-b3fc-2c963f66afa6/start",
                "start_instance",
            ),
            ("GET", "/v1/core/version?x=1", "get_version"),
            ("PUT", "/v1/rtregistry/a/b/c", "registry_put"),
            ("GET", "/v1/rtregistry_watch", "registry_watch"),
            ("GET", "/ui/js/app.js", "get_panel_file"),
            ("GET", "/", "get_panel"),
            ("GET", "/no/such/path", "unknown"),
            ("PATCH", "/v1/core/version", "unknown"),
        ] {
            assert_eq!(h.operation(method, uri), op, "{method} {uri}");
        }
    }

    #[derive(Debug)]
    struct Probe;

    impl Collector for Probe {
        fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
            let id = uuid::Uuid::nil();
            family(
                &mut e,
                ("rt_a", "a"),
                MetricType::Gauge,
                vec![(instance(id), ConstGauge::new(1i64))],
            )?;
            family(&mut e, ("rt_b", "b"), MetricType::Counter, one(ConstCounter::new(3u64)))?;
            let h = rt_pipeline::metrics::Histogram::default();
            h.observe(7.0);
            family(
                &mut e,
                ("rt_c_seconds", "c"),
                MetricType::Histogram,
                vec![(instance(id), Seconds(h.snapshot()))],
            )?;
            Ok(())
        }
    }

    #[test]
    fn collected_families_are_encoded() {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Probe));
        let mut out = String::new();
        let r = prometheus_client::encoding::text::encode(&mut out, &registry);
        assert!(r.is_ok(), "{r:?}: {out}");
        assert!(
            out.contains("rt_a{instance_id=\"00000000-0000-0000-0000-000000000000\"} 1"),
            "{out}"
        );
        assert!(out.contains("rt_b_total{} 3"), "{out}");
        assert!(
            out.contains(
                "rt_c_seconds_count{instance_id=\"00000000-0000-0000-0000-000000000000\"} 1"
            ),
            "{out}"
        );
        assert!(out.contains("le=\"0.01\""), "{out}");
        assert!(out.ends_with("# EOF\n"), "{out}");
    }
}
