//! CORS (`web_server.cors.enabled`): an HTTP/1.1 front on the public
//! address that answers preflights itself and forwards every other request
//! to dropshot on an internal loopback port, adding the CORS headers to every
//! response.
//!
//! Why a front: dropshot has no middleware and no per-request hook, and its
//! own answers (400 for a bad path parameter, 404, 405) never reach our
//! handlers, so "every response carries `Access-Control-Allow-Origin`" and
//! "`OPTIONS` on any path is a preflight" can only be kept in front of it.
//! When CORS is off none of this runs: dropshot listens on the public address
//! itself, as before.
//!
//! Policy, in one place:
//! - `Access-Control-Allow-Origin: *` on every response (the server has no
//!   cookies or other credentials a browser would attach, and the bearer
//!   token planned for auth is an explicit `Authorization` header, which `*`
//!   allows). Since the answer does not depend on `Origin`, it is sent
//!   whether or not the request has one, and no `Vary: Origin` is needed.
//! - `Access-Control-Expose-Headers`: [`EXPOSE_HEADERS`], the response
//!   headers the server sends that are not CORS-safelisted.
//! - A preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) on any path gets 204 with the methods
//!   the API uses, the headers it reads plus whatever was asked for, and
//!   [`MAX_AGE_SECS`]. Other `OPTIONS` requests go to dropshot.
//!
//! Each accepted connection gets one upstream connection (opened lazily,
//! reopened if dropshot closed it), so requests keep their order, bodies
//! stream both ways (SSE arrives event by event) and body-less writes are
//! forwarded as such. The front speaks HTTP/1.x only (browsers never use
//! dropshot's cleartext HTTP/2), and dropshot's request log shows the
//! front's loopback address as `remote_addr`; the front logs the client's at
//! debug level. Only this module answers a status of its own: 502 with
//! the contract's `Error` body when dropshot cannot be reached.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::tls::SharedServerConfig;

/// Methods the API serves (`Access-Control-Allow-Methods`).
pub const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers the API reads; allowed in every preflight answer, with
/// whatever else the browser asks for.
pub const ALLOW_HEADERS: &[&str] = &["Content-Type", "Authorization", "Last-Event-ID", "If-Match"];
/// Response headers the server sends that scripts may read (the others it
/// sends, `Content-Type`, `Cache-Control`, `Content-Length`, are safelisted).
pub const EXPOSE_HEADERS: &str = "ETag, X-Request-Id";
/// How long a browser may cache a preflight answer (Chromium caps it at 2 h).
pub const MAX_AGE_SECS: u32 = 7200;

/// What the front answers with: a forwarded body or one of its own.
type Body = Either<Incoming, Full<Bytes>>;

/// The running front; [`Front::close`] stops it.
#[derive(Debug)]
pub struct Front {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    /// With TLS (`web_server.tls`), the acceptor of new connections.
    tls: Option<SharedServerConfig>,
}

/// Longest a client may take over its TLS handshake.
const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

/// Binds the public address (before dropshot starts, so that a taken port
/// fails the start the same way with or without CORS).
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

impl Front {
    /// Serves `listener` (HTTPS with `tls`), forwarding to dropshot at
    /// `upstream`.
    pub fn start(
        listener: TcpListener,
        upstream: SocketAddr,
        tls: Option<SharedServerConfig>,
    ) -> std::io::Result<Front> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, upstream, tls.clone(), stopped));
        info!(address = %addr, %upstream, "CORS enabled: requests pass through a front to the API");
        Ok(Front { addr, stop, task, tls })
    }

    /// A new certificate for new connections (a reload).
    pub fn set_tls(&self, server: Arc<rustls::ServerConfig>) {
        if let Some(tls) = &self.tls {
            *tls.write().unwrap_or_else(|p| p.into_inner()) = server;
        }
    }

    /// The public address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes idle connections and waits for the requests
    /// in flight (event streams end when the server's shutdown flag is set).
    pub async fn close(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            warn!(error = %e, "CORS front ended abnormally");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    tls: Option<SharedServerConfig>,
    mut stop: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, retry.
                    warn!(error = %e, "CORS front: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        debug!(%remote, "CORS front: accepted connection");
        let link = Arc::new(Upstream { addr: upstream, link: Mutex::new(None) });
        let service = service_fn(move |req| {
            let link = link.clone();
            async move { Ok::<_, Infallible>(handle(req, &link).await) }
        });
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let acceptor = tls
            .as_ref()
            .map(|t| TlsAcceptor::from(t.read().unwrap_or_else(|p| p.into_inner()).clone()));
        tokio::spawn(async move {
            let served = match acceptor {
                None => {
                    watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await
                }
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            return debug!(%remote, error = %e, "CORS front: TLS handshake failed");
                        }
                        Err(_) => return debug!(%remote, "CORS front: TLS handshake timed out"),
                    };
                    watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await
                }
            };
            if let Err(e) = served {
                debug!(%remote, error = %e, "CORS front: connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    debug!("CORS front stopped");
}

/// One client connection's way to dropshot.
struct Upstream {
    addr: SocketAddr,
    link: Mutex<Option<Link>>,
}

/// An open upstream connection; dropping it closes it.
struct Link {
    sender: SendRequest<Incoming>,
    task: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    async fn open(addr: SocketAddr) -> Result<Link, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let task = tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, "CORS front: upstream connection ended with an error");
            }
        });
        Ok(Link { sender, task })
    }
}

impl Upstream {
    /// Sends `req` to dropshot, on this client's upstream connection. One
    /// request at a time: HTTP/1.1 answers in order, and the next request is
    /// only read from the client once this response has been written.
    async fn forward(&self, mut req: Request<Incoming>) -> Result<Response<Incoming>, String> {
        let mut slot = self.link.lock().await;
        // A second try only when dropshot closed an idle connection just as
        // the request went out (the request comes back unsent).
        for _ in 0..2 {
            let link = match slot.take() {
                Some(l) if !l.sender.is_closed() => slot.insert(l),
                _ => slot.insert(Link::open(self.addr).await?),
            };
            if link.sender.ready().await.is_err() {
                *slot = None;
                continue;
            }
            match link.sender.try_send_request(req).await {
                Ok(resp) => return Ok(resp),
                Err(mut e) => {
                    *slot = None;
                    match e.take_message() {
                        Some(unsent) => req = unsent,
                        None => return Err(e.into_error().to_string()),
                    }
                }
            }
        }
        Err("the API closed the connection".into())
    }
}

async fn handle(req: Request<Incoming>, upstream: &Upstream) -> Response<Body> {
    if is_preflight(&req) {
        debug!(path = %req.uri().path(), "CORS preflight");
        return preflight(req.headers());
    }
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    // The front already answered any `Expect: 100-continue`.
    parts.headers.remove(header::EXPECT);
    parts.version = Version::HTTP_11;
    let mut resp = match upstream.forward(Request::from_parts(parts, body)).await {
        Ok(resp) => resp.map(Either::Left),
        Err(e) => {
            warn!(%method, %uri, error = %e, "CORS front: the API could not be reached");
            bad_gateway(&e)
        }
    };
    strip_hop_by_hop(resp.headers_mut());
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
    resp
}

fn is_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight, on any path.
fn preflight(request: &HeaderMap) -> Response<Body> {
    let mut allowed: Vec<&str> = ALLOW_HEADERS.to_vec();
    let asked = request.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS);
    for name in asked.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let name = name.trim();
        if !name.is_empty()
            && HeaderName::from_bytes(name.as_bytes()).is_ok()
            && !allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
        {
            allowed.push(name);
        }
    }
    let mut resp = Response::new(Either::Right(Full::default()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
    // Chromium's Private Network Access: a dashboard on a public origin
    // asking for a server on the local network.
    if request
        .get("access-control-request-private-network")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
    {
        h.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers"),
    );
    resp
}

/// 502 with the contract's `Error` body.
fn bad_gateway(message: &str) -> Response<Body> {
    let body = serde_json::json!({
        "request_id": uuid::Uuid::new_v4().to_string(),
        "error_code": "BadGateway",
        "message": format!("the API behind the CORS front could not be reached: {message}"),
    });
    let mut resp = Response::new(Either::Right(Full::from(body.to_string())));
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Removes the headers that describe one hop (RFC 9110 §7.6.1), including
/// those `Connection` names: each side of the front frames its own messages.
fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        h.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ] {
        h.remove(name);
    }
    h.remove("keep-alive");
    h.remove("proxy-connection");
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs = &'static [(&'static str, &'static str)];

    fn headers(pairs: Pairs) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn preflight_allows_the_api_headers_and_what_was_asked() {
        let cases: &[(Pairs, &str, Option<&str>)] = &[
            (&[], "Content-Type, Authorization, Last-Event-ID, If-Match", None),
            (
                &[("access-control-request-headers", "content-type, x-trace,  x-b")],
                "Content-Type, Authorization, Last-Event-ID, If-Match, x-trace, x-b",
                None,
            ),
            (
                &[
                    ("access-control-request-headers", "bad header, ok"),
                    ("access-control-request-private-network", "true"),
                ],
                "Content-Type, Authorization, Last-Event-ID, If-Match, ok",
                Some("true"),
            ),
        ];
        for (asked, allowed, pna) in cases {
            let resp = preflight(&headers(asked));
            let h = resp.headers();
            assert_eq!(resp.status(), StatusCode::NO_CONTENT);
            assert_eq!(h["access-control-allow-headers"], *allowed, "{asked:?}");
            assert_eq!(h["access-control-allow-methods"], ALLOW_METHODS);
            assert_eq!(h["access-control-allow-origin"], "*");
            assert_eq!(h["access-control-max-age"], "7200");
            assert_eq!(
                h.get("access-control-allow-private-network").map(|v| v.to_str().unwrap()),
                *pna
            );
        }
    }

    #[test]
    fn hop_by_hop_headers_go_and_the_others_stay() {
        let mut h = headers(&[
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("content-length", "3"),
            ("etag", "\"1\""),
        ]);
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["content-length", "etag"]);
    }
}
