//! The web panel and the interactive docs: the files of `server/ui/`,
//! embedded in the binary at build time, served at `/` (the panel),
//! `/docs` (Swagger UI on `/openapi.yaml`) and `/ui/<path>` (everything
//! they load). No request leaves for another host: the pages' Content
//! Security Policy allows this server only.
//!
//! Every file has an ETag (its content hash); a client that sends it back
//! in `If-None-Match` gets a 304, so a reload costs one small round trip
//! per file. Text files go out gzip-compressed to clients that accept it
//! (compressed once, on first request).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use dropshot::{Body, HttpError};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "ui/"]
#[exclude = "tests/*"]
#[exclude = "node_modules/*"]
#[exclude = "package.json"]
#[exclude = "package-lock.json"]
#[exclude = ".gitignore"]
struct Files;

/// The pages' policy: scripts, styles, images and connections from this
/// server only (inline styles and `data:`/`blob:` images, which the
/// vendored libraries use, aside); no framing by other sites.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; \
                   base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Files smaller than this are sent as they are: gzip would not pay.
const GZIP_FROM: usize = 1024;

/// The response for the panel file `name` (`index.html`, `js/app.js`).
pub fn file(name: &str, request: &HeaderMap) -> Result<Response<Body>, HttpError> {
    if name.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(HttpError::for_bad_request(None, format!("not a file of the panel: {name:?}")));
    }
    let Some(f) = Files::get(name) else {
        return Err(HttpError::for_not_found(None, format!("no such file: /ui/{name}")));
    };
    let hash = f.metadata.sha256_hash();
    let etag = etag(&hash);
    let kind = content_type(name);
    let mut r = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::VARY, "Accept-Encoding")
        .header("X-Content-Type-Options", "nosniff");
    if kind.starts_with("text/html") {
        r = r.header(header::CONTENT_SECURITY_POLICY, CSP).header("Referrer-Policy", "no-referrer");
    }
    if request.get_all(header::IF_NONE_MATCH).iter().any(|v| matches(v, &etag)) {
        return r.status(StatusCode::NOT_MODIFIED).body(Body::empty()).map_err(internal);
    }
    r = r.status(StatusCode::OK).header(header::CONTENT_TYPE, kind);
    // Embedded files are static: served without a copy.
    let data = match f.data {
        Cow::Borrowed(b) => Bytes::from_static(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    let body = if compressible(kind) && data.len() >= GZIP_FROM && accepts_gzip(request) {
        r = r.header(header::CONTENT_ENCODING, "gzip");
        gzipped(hash, &data)
    } else {
        data
    };
    r.body(Body::from(body)).map_err(internal)
}

fn internal(e: http::Error) -> HttpError {
    HttpError::for_internal_error(e.to_string())
}

fn etag(hash: &[u8; 32]) -> String {
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether an `If-None-Match` value names `etag` (a list, `*`, or a weak
/// validator of the same value).
fn matches(value: &HeaderValue, etag: &str) -> bool {
    value.to_str().is_ok_and(|v| {
        v.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
    })
}

fn accepts_gzip(request: &HeaderMap) -> bool {
    request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next() == Some("gzip") && !parts.any(|p| p.replace(' ', "") == "q=0")
        })
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") | None => "text/plain; charset=utf-8",
        Some(_) => "application/octet-stream",
    }
}

fn compressible(kind: &str) -> bool {
    kind.starts_with("text/") || kind == "application/json" || kind == "image/svg+xml"
}

/// Compressed files by the SHA-256 of their content.
type GzipCache = Mutex<HashMap<[u8; 32], Bytes>>;

/// `data` gzip-compressed, made once per content (`hash` is its SHA-256).
fn gzipped(hash: [u8; 32], data: &[u8]) -> Bytes {
    static CACHE: OnceLock<GzipCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&hash) {
        return hit.clone();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let out = Bytes::from(enc.write_all(data).and_then(|()| enc.finish()).unwrap_or_default());
    cache.lock().unwrap_or_else(|p| p.into_inner()).insert(hash, out.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (header::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_accept_it() {
        for (accept, gzip) in [
            ("gzip", true),
            ("gzip, deflate, br", true),
            ("br;q=1.0, gzip;q=0.8", true),
            ("gzip;q=0", false),
            ("deflate", false),
            ("", false),
        ] {
            assert_eq!(accepts_gzip(&headers(&[("accept-encoding", accept)])), gzip, "{accept}");
        }
    }

    #[test]
    fn if_none_match_compares_strong_weak_and_lists() {
        let tag = "\"abc\"";
        for (value, hit) in [
            ("\"abc\"", true),
            ("W/\"abc\"", true),
            ("\"x\", \"abc\"", true),
            ("*", true),
            ("\"abd\"", false),
        ] {
            assert_eq!(matches(&HeaderValue::from_str(value).unwrap(), tag), hit, "{value}");
        }
    }

    #[test]
    fn paths_that_leave_the_panel_are_refused() {
        for bad in ["../Cargo.toml", "js/../../x", "", "a//b", "./index.html"] {
            let e = file(bad, &HeaderMap::new()).unwrap_err();
            assert_eq!(e.status_code.as_u16(), 400, "{bad}");
        }
        assert_eq!(file("no/such.js", &HeaderMap::new()).unwrap_err().status_code.as_u16(), 404);
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("vendor/LICENSE"), "text/plain; charset=utf-8");
        assert!(compressible(content_type("app.css")));
        assert!(!compressible(content_type("logo.png")));
    }
}
