//! Logging: `tracing` everywhere, a ring of recent lines for
//! `GET /v1/core/log`, a live-adjustable level, and a bridge that routes
//! dropshot's slog records into tracing.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Lines kept for `GET /v1/core/log`: enough for the last minutes of a busy
/// server, small enough (a few MiB) to never matter.
pub const LOG_LINES_KEPT: usize = 10_000;

/// The last [`LOG_LINES_KEPT`] lines the server logged.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl LogBuffer {
    /// The last `count` lines (all kept lines when `count` is 0), joined by
    /// newlines, oldest first.
    pub fn tail(&self, count: usize) -> String {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let skip = if count == 0 { 0 } else { lines.len().saturating_sub(count) };
        let mut out = String::new();
        for line in lines.iter().skip(skip) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    fn push(&self, text: &str) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        for line in text.lines().filter(|l| !l.is_empty()) {
            if lines.len() == LOG_LINES_KEPT {
                lines.pop_front();
            }
            lines.push_back(line.to_string());
        }
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Changes the active log level (`error` ... `trace`) while running.
pub type LevelControl = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// A slog drain that re-emits dropshot's records as tracing events, with
/// slog's key-values folded into the message.
#[derive(Debug)]
pub struct SlogToTracing;

impl slog::Drain for SlogToTracing {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        let mut kv = KvText(String::new());
        let _ = slog::KV::serialize(&record.kv(), record, &mut kv);
        let _ = slog::KV::serialize(values, record, &mut kv);
        let msg = record.msg();
        // A literal message: compared without formatting it.
        if msg.as_str() == Some("request completed") {
            let mut r = Completed::default();
            let _ = slog::KV::serialize(&record.kv(), record, &mut r);
            let _ = slog::KV::serialize(values, record, &mut r);
            if let Some(status) = r.status {
                crate::metrics::http().record(&r.method, &r.uri, status, r.latency_us);
            }
        }
        let kv = kv.0;
        match record.level() {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "dropshot", "{msg}{kv}")
            }
            slog::Level::Warning => tracing::warn!(target: "dropshot", "{msg}{kv}"),
            slog::Level::Info => tracing::info!(target: "dropshot", "{msg}{kv}"),
            slog::Level::Debug => tracing::debug!(target: "dropshot", "{msg}{kv}"),
            slog::Level::Trace => tracing::trace!(target: "dropshot", "{msg}{kv}"),
        }
        Ok(())
    }
}

/// What `/metrics` takes from dropshot's "request completed" record.
#[derive(Default)]
struct Completed {
    method: String,
    uri: String,
    status: Option<u16>,
    latency_us: u64,
}

impl slog::Serializer for Completed {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        match key.to_string().as_str() {
            "method" => self.method = val.to_string(),
            "uri" => self.uri = val.to_string(),
            "response_code" => self.status = val.to_string().parse().ok(),
            "latency_us" => self.latency_us = val.to_string().parse().unwrap_or(0),
            _ => {}
        }
        Ok(())
    }
}

struct KvText(String);

impl slog::Serializer for KvText {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

/// A slog logger for dropshot that feeds tracing.
pub fn dropshot_logger() -> slog::Logger {
    slog::Logger::root(slog::Fuse(SlogToTracing), slog::o!())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn tail_returns_the_newest_lines_and_drops_the_oldest() {
        let mut b = LogBuffer::default();
        b.write_all(b"one\ntwo\n").unwrap();
        b.write_all(b"three\n").unwrap();
        assert_eq!(b.tail(2), "two\nthree\n");
        assert_eq!(b.tail(0), "one\ntwo\nthree\n");
        for i in 0..LOG_LINES_KEPT {
            b.write_all(format!("l{i}\n").as_bytes()).unwrap();
        }
        assert!(!b.tail(0).contains("three"));
        assert_eq!(b.tail(1), format!("l{}\n", LOG_LINES_KEPT - 1));
    }
}
