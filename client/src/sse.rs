//! Server-Sent Events for `consume_events_sse`: a framing parser that keeps
//! everything the wire says (comments, ids, unknown fields) and a typed
//! [`EventStream`] of decoded payloads that reconnects with `Last-Event-ID`.
//!
//! ```no_run
//! # async fn demo(id: uuid::Uuid) {
//! use futures::StreamExt;
//! let client = rt_client::Client::new("http://127.0.0.1:3546");
//! let mut events = client.event_stream(&id).build();
//! while let Some(item) = events.next().await {
//!     match item {
//!         Ok(event) => println!("{} {:?}", event.name, event.payload),
//!         Err(error) => eprintln!("{error}"),
//!     }
//! }
//! # }
//! ```

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};

use crate::types::SseEventPayload;

/// The per-request timeout of a stream: it lifts the client's bound on
/// whole requests (15 s with [`crate::Client::new`]), which would otherwise
/// cut every stream after that long; connecting stays bounded.
const OPEN_ENDED: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// One unit of the `text/event-stream` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A comment line (`: keep-alive`), without its leading colon.
    Comment(String),
    /// The fields up to a blank line.
    Record(Record),
}

/// The fields of one record, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The last `id:` field, if any.
    pub id: Option<String>,
    /// The last `event:` field, if any (`message` is meant when absent).
    pub event: Option<String>,
    /// Each `data:` line, in order.
    pub data: Vec<String>,
    /// The last valid `retry:` field, in milliseconds.
    pub retry: Option<u64>,
    /// Names of fields the format does not define (a framing fault).
    pub unknown_fields: Vec<String>,
}

impl Record {
    /// The data lines joined with `\n`, as the SSE specification assembles them.
    pub fn data(&self) -> String {
        self.data.join("\n")
    }

    /// The event name, `message` when the record has none.
    pub fn name(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }

    fn is_empty(&self) -> bool {
        self.id.is_none() && self.event.is_none() && self.data.is_empty() && self.retry.is_none()
    }
}

/// Incremental `text/event-stream` parser: feed it bytes as they arrive.
///
/// Lines end with LF, CRLF or a lone CR; a blank line ends a record. Records
/// with no field at all (two blank lines in a row) are not reported.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    after_cr: bool,
    record: Record,
}

impl Parser {
    /// Parses `bytes`, returning the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut frames),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut frames);
                }
                _ => self.line.push(b),
            }
        }
        frames
    }

    fn end_line(&mut self, frames: &mut Vec<Frame>) {
        let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
        if line.is_empty() {
            let record = std::mem::take(&mut self.record);
            if !record.is_empty() || !record.unknown_fields.is_empty() {
                frames.push(Frame::Record(record));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            frames.push(Frame::Comment(comment.strip_prefix(' ').unwrap_or(comment).to_string()));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "id" => self.record.id = Some(value.to_string()),
            "event" => self.record.event = Some(value.to_string()),
            "data" => self.record.data.push(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.record.retry = Some(ms);
                }
            }
            other => self.record.unknown_fields.push(other.to_string()),
        }
    }
}

/// The frames of an open `text/event-stream` response, as they arrive.
pub fn frames(response: reqwest::Response) -> impl Stream<Item = Result<Frame, reqwest::Error>> {
    let mut parser = Parser::default();
    response
        .bytes_stream()
        .map(move |chunk| match chunk {
            Ok(bytes) => {
                futures::stream::iter(parser.push(&bytes).into_iter().map(Ok)).left_stream()
            }
            Err(e) => futures::stream::iter([Err(e)]).right_stream(),
        })
        .flatten()
}

/// A decoded event.
#[derive(Debug, Clone)]
pub struct Event {
    /// The record's `id` (the value to resume after).
    pub id: Option<String>,
    /// The `event:` name (`track`, `statistics`, `event-intrusion`, ...).
    pub name: String,
    /// The `data:` payload, decoded.
    pub payload: SseEventPayload,
}

/// What an [`EventStream`] reports besides events. Only [`SseError::Status`]
/// for a 4xx answer ends the stream; after the others it reconnects.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// Connecting failed or the connection broke.
    #[error("event stream transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server refused the stream.
    #[error("event stream refused with HTTP {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The answer's body, for its message.
        body: String,
    },
    /// A record whose `data` is not a known payload.
    #[error("event `{name}` (id {id:?}) is not a known payload: {error}; data: {data}")]
    Decode {
        /// The record's `id`.
        id: Option<String>,
        /// The record's event name.
        name: String,
        /// The record's data.
        data: String,
        /// Why it did not decode.
        error: serde_json::Error,
    },
}

/// Configures an [`EventStream`]; from [`crate::Client::event_stream`]. The
/// stream uses the client's settings (bearer token, user agent, TLS roots;
/// see [`crate::ClientBuilder`]).
#[derive(Debug, Clone)]
pub struct EventStreamBuilder {
    http: reqwest::Client,
    url: String,
    last_event_id: Option<String>,
    reconnect_delay: Duration,
    max_reconnects: Option<u32>,
}

impl EventStreamBuilder {
    /// Resume after this event id (sent as `Last-Event-ID` on the first connection too).
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// The wait before reconnecting (default 1 s; a `retry:` field from the server overrides it).
    pub fn reconnect_delay(mut self, delay: Duration) -> Self {
        self.reconnect_delay = delay;
        self
    }

    /// Give up after this many reconnections (default: never).
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.max_reconnects = Some(n);
        self
    }

    /// Opens the stream (the first connection is made on the first poll).
    pub fn build(self) -> EventStream {
        let state = State {
            http: self.http,
            url: self.url,
            last_id: self.last_event_id,
            delay: self.reconnect_delay,
            reconnects_left: self.max_reconnects,
            body: None,
            parser: Parser::default(),
            pending: VecDeque::new(),
            connected: false,
            done: false,
        };
        EventStream { inner: futures::stream::unfold(state, State::next).boxed() }
    }
}

impl crate::Client {
    /// The typed event stream of an instance (`consume_events_sse`).
    pub fn event_stream(&self, instance_id: &uuid::Uuid) -> EventStreamBuilder {
        EventStreamBuilder {
            http: self.client.clone(),
            url: self.url(&format!("/v1/core/instance/{instance_id}/consume_events_sse")),
            last_event_id: None,
            reconnect_delay: Duration::from_secs(1),
            max_reconnects: None,
        }
    }
}

/// A `Stream` of decoded events that reconnects, resuming with
/// `Last-Event-ID` after the last id it saw.
pub struct EventStream {
    inner: BoxStream<'static, Result<Event, SseError>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<Event, SseError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct State {
    http: reqwest::Client,
    url: String,
    last_id: Option<String>,
    delay: Duration,
    reconnects_left: Option<u32>,
    body: Option<BoxStream<'static, reqwest::Result<bytes::Bytes>>>,
    parser: Parser,
    pending: VecDeque<Frame>,
    connected: bool,
    done: bool,
}

impl State {
    async fn next(mut self) -> Option<(Result<Event, SseError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(frame) = self.pending.pop_front() {
                if let Some(item) = self.decode(frame) {
                    return Some((item, self));
                }
                continue;
            }
            if let Some(body) = self.body.as_mut() {
                match body.next().await {
                    Some(Ok(bytes)) => {
                        let frames = self.parser.push(&bytes);
                        self.pending.extend(frames);
                    }
                    Some(Err(e)) => {
                        self.disconnect();
                        return Some((Err(SseError::Transport(e)), self));
                    }
                    None => self.disconnect(),
                }
                continue;
            }
            if self.connected {
                match self.reconnects_left.as_mut() {
                    Some(0) => return None,
                    Some(n) => *n -= 1,
                    None => {}
                }
                tokio::time::sleep(self.delay).await;
            }
            self.connected = true;
            if let Err(error) = self.connect().await {
                if matches!(&error, SseError::Status { status, .. } if *status < 500) {
                    self.done = true;
                }
                return Some((Err(error), self));
            }
        }
    }

    async fn connect(&mut self) -> Result<(), SseError> {
        let mut request = self
            .http
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .timeout(OPEN_ENDED);
        if let Some(id) = &self.last_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(SseError::Status { status: status.as_u16(), body });
        }
        self.body = Some(response.bytes_stream().boxed());
        Ok(())
    }

    fn disconnect(&mut self) {
        self.body = None;
        self.parser = Parser::default();
    }

    fn decode(&mut self, frame: Frame) -> Option<Result<Event, SseError>> {
        let Frame::Record(record) = frame else {
            return None;
        };
        if let Some(id) = &record.id {
            self.last_id = Some(id.clone());
        }
        if let Some(ms) = record.retry {
            self.delay = Duration::from_millis(ms);
        }
        if record.data.is_empty() {
            return None;
        }
        let data = record.data();
        let name = record.name().to_string();
        Some(match serde_json::from_str(&data) {
            Ok(payload) => Ok(Event { id: record.id, name, payload }),
            Err(error) => Err(SseError::Decode { id: record.id, name, data, error }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: Option<&str>, event: Option<&str>, data: &[&str]) -> Frame {
        Frame::Record(Record {
            id: id.map(str::to_string),
            event: event.map(str::to_string),
            data: data.iter().map(|s| s.to_string()).collect(),
            ..Record::default()
        })
    }

    /// (case, chunks as they arrive, frames expected)
    type Case<'a> = (&'a str, &'a [&'a [u8]], Vec<Frame>);

    #[test]
    fn parses_the_wire_forms() {
        let cases: &[Case] = &[
            (
                "lf",
                &[b"id: 1\nevent: track\ndata: {}\n\n"],
                vec![record(Some("1"), Some("track"), &["{}"])],
            ),
            ("crlf", &[b"id: 1\r\ndata: {}\r\n\r\n"], vec![record(Some("1"), None, &["{}"])]),
            ("lone cr", &[b"id: 1\rdata: {}\r\r"], vec![record(Some("1"), None, &["{}"])]),
            (
                "split across chunks, crlf split too",
                &[b"id: 4", b"2\r", b"\nevent: stat", b"istics\ndata: {\"a\"", b":1}\n", b"\n"],
                vec![record(Some("42"), Some("statistics"), &["{\"a\":1}"])],
            ),
            ("comment", &[b": keep-alive\n\n"], vec![Frame::Comment("keep-alive".into())]),
            ("no space after colon", &[b"data:x\n\n"], vec![record(None, None, &["x"])]),
            ("multi-line data", &[b"data: a\ndata: b\n\n"], vec![record(None, None, &["a", "b"])]),
            ("unterminated record is held", &[b"id: 1\ndata: x\n"], vec![]),
            ("blank lines alone", &[b"\n\n\n"], vec![]),
        ];
        for (name, chunks, want) in cases {
            let mut parser = Parser::default();
            let got: Vec<Frame> = chunks.iter().flat_map(|c| parser.push(c)).collect();
            assert_eq!(&got, want, "{name}");
        }
    }

    #[test]
    fn keeps_retry_and_unknown_fields() {
        let mut parser = Parser::default();
        let got = parser.push(b"retry: 250\nretry: soon\nbogus: 1\nnocolon\ndata: x\n\n");
        let Frame::Record(r) = &got[0] else { panic!("{got:?}") };
        assert_eq!(r.retry, Some(250));
        assert_eq!(r.unknown_fields, vec!["bogus".to_string(), "nocolon".to_string()]);
        assert_eq!(r.name(), "message");
    }
}
