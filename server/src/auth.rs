//! Bearer tokens: when a token file is configured (`--auth-token-file`,
//! `RT_AUTH_TOKEN_FILE`, or `web_server.auth.token_file` in rtconfig.json),
//! every request needs `Authorization: Bearer <token>` with one of its
//! tokens, except the health probe (`GET /v1/core/version`) and the panel's
//! static shell (`/`, `/docs`, `/ui/...`: no data in them). Otherwise 401
//! with `WWW-Authenticate: Bearer realm="rt-server"`.
//!
//! The check runs inside every handler (dropshot has no middleware), so no
//! socket of the process answers without it, the CORS front's internal hop
//! included.
//!
//! The file holds one token per line; blank lines and lines starting with
//! `#` are ignored. It is read again on SIGHUP and when it changes (checked
//! every second), so tokens rotate without a restart. A file that cannot be
//! read, or holds no token, is refused at start and ignored on reload (the
//! tokens in force stay, and the log says why): a slip of an editor never
//! opens the server. Only SHA-256 digests of the tokens are kept, compared
//! in constant time; the log names a token by a short fingerprint, never by
//! itself.
//!
//! Browsers load some URLs without custom headers (`<img>` for the live
//! view, `<video>`, `EventSource`). For them, `POST /v1/session` with a
//! bearer token sets a session cookie (`rt_session`: random, `HttpOnly`,
//! `SameSite=Strict`, `Secure` under TLS, 12 hours) that stands in for the
//! token on **reads** (`GET`) only: no write is ever made with the cookie,
//! so a page of another site, or of another port of the same host, cannot
//! act through it, and the long-lived token never goes into a URL. A
//! session ends when it expires, on `DELETE /v1/session`, or when the token
//! that opened it is no longer in force.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use crate::error::Error;

/// How often the file is checked for a change.
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Why the token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("failed to read the token file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {} holds no token (one per line; '#' starts a comment)", path.display())]
    Empty { path: PathBuf },
}

/// What identifies a version of the file without reading it.
type Stamp = (Option<SystemTime>, u64);

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rt_session";

/// How long a browser session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// One browser session: the token that opened it (its digest) and when it
/// ends.
#[derive(Debug, Clone, Copy)]
struct Session {
    token: [u8; 32],
    until: Instant,
}

/// The tokens in force, and the browser sessions they opened.
#[derive(Debug)]
pub struct Auth {
    file: Option<PathBuf>,
    digests: RwLock<Vec<[u8; 32]>>,
    stamp: Mutex<Option<Stamp>>,
    /// By the digest of the session id (the cookie's value).
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

impl Auth {
    /// No tokens: every request is served.
    pub fn open() -> Auth {
        Auth {
            file: None,
            digests: RwLock::default(),
            stamp: Mutex::default(),
            sessions: Mutex::default(),
        }
    }

    /// The tokens of `file`; an unreadable file, or one without a token, is
    /// an error.
    pub fn from_file(file: &Path) -> Result<Auth, TokenFileError> {
        let (digests, fingerprints) = read(file)?;
        info!(file = %file.display(), tokens = ?fingerprints, "bearer tokens required");
        Ok(Auth {
            file: Some(file.to_path_buf()),
            digests: RwLock::new(digests),
            stamp: Mutex::new(stamp(file)),
            sessions: Mutex::default(),
        })
    }

    /// Whether requests need a token.
    pub fn required(&self) -> bool {
        self.file.is_some()
    }

    /// Reads the file again (SIGHUP). A file that cannot be used leaves the
    /// tokens in force.
    pub fn reload(&self) {
        let Some(file) = &self.file else { return };
        *self.stamp.lock().unwrap_or_else(|p| p.into_inner()) = stamp(file);
        match read(file) {
            Ok((digests, fingerprints)) => {
                *self.digests.write().unwrap_or_else(|p| p.into_inner()) = digests;
                info!(file = %file.display(), tokens = ?fingerprints, "bearer tokens reloaded");
            }
            Err(e) => {
                warn!(error = %crate::error::chain(&e), "token file not reloaded: the tokens in force stay")
            }
        }
    }

    /// Reads the file again if it changed since it was last read.
    pub fn reload_if_changed(&self) {
        let Some(file) = &self.file else { return };
        let now = stamp(file);
        let changed = *self.stamp.lock().unwrap_or_else(|p| p.into_inner()) != now;
        if changed {
            self.reload();
        }
    }

    /// Whether a request may be served: a bearer token in force, or, for a
    /// read (`GET`), a live session cookie. Always, when no token is
    /// required.
    pub fn check(&self, method: &http::Method, headers: &HeaderMap) -> Result<(), Error> {
        self.check_at(method, headers, Instant::now())
    }

    fn check_at(
        &self,
        method: &http::Method,
        headers: &HeaderMap,
        now: Instant,
    ) -> Result<(), Error> {
        if !self.required() {
            return Ok(());
        }
        if headers.get(http::header::AUTHORIZATION).is_none()
            && method == http::Method::GET
            && let Some(id) = cookie(headers, SESSION_COOKIE)
            && self.session_live(&digest(id), now)
        {
            return Ok(());
        }
        self.bearer(headers).map(|_| ())
    }

    /// The digest of the request's bearer token, if it is in force.
    fn bearer(&self, headers: &HeaderMap) -> Result<[u8; 32], Error> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(Error::Unauthorized { message: MISSING.into(), invalid_token: false });
        };
        let token = value.to_str().ok().and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(Error::Unauthorized { message: NOT_BEARER.into(), invalid_token: false });
        };
        let given = digest(token);
        if self.in_force(&given) {
            Ok(given)
        } else {
            Err(Error::Unauthorized { message: REFUSED.into(), invalid_token: true })
        }
    }

    /// Whether a token digest is in force: every token is compared, in
    /// constant time, whichever matches.
    fn in_force(&self, given: &[u8; 32]) -> bool {
        let known = self.digests.read().unwrap_or_else(|p| p.into_inner());
        bool::from(known.iter().fold(subtle::Choice::from(0), |hit, d| hit | d.ct_eq(given)))
    }

    fn session_live(&self, id: &[u8; 32], now: Instant) -> bool {
        let session = self.sessions.lock().unwrap_or_else(|p| p.into_inner()).get(id).copied();
        session.is_some_and(|s| s.until > now && self.in_force(&s.token))
    }

    /// `POST /v1/session`: a new session for the request's bearer token;
    /// its id is the cookie's value. `None` when no token is required.
    pub fn open_session(&self, headers: &HeaderMap) -> Result<Option<String>, Error> {
        self.open_session_at(headers, Instant::now())
    }

    fn open_session_at(&self, headers: &HeaderMap, now: Instant) -> Result<Option<String>, Error> {
        if !self.required() {
            return Ok(None);
        }
        let token = self.bearer(headers)?;
        // 256 bits from the operating system's generator (two v4 UUIDs' worth).
        let id: String = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .map(|u| u.simple().to_string())
            .collect();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| s.until > now);
        sessions.insert(digest(&id), Session { token, until: now + SESSION_LIFETIME });
        Ok(Some(id))
    }

    /// `DELETE /v1/session`: ends the request's session, if any.
    pub fn close_session(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(&digest(id));
        }
    }
}

/// The `Set-Cookie` of a new session.
pub fn session_cookie(id: &str, secure: bool) -> String {
    let max_age = SESSION_LIFETIME.as_secs();
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The `Set-Cookie` that makes a browser forget its session.
pub fn expired_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The value of cookie `name` in the request.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

const MISSING: &str = "this server requires a bearer token: send 'Authorization: Bearer <token>'";
const NOT_BEARER: &str = "the Authorization header must be 'Bearer <token>'";
const REFUSED: &str = "the bearer token is not valid on this server";

fn stamp(file: &Path) -> Option<Stamp> {
    std::fs::metadata(file).ok().map(|m| (m.modified().ok(), m.len()))
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A token's name in the log: the first 8 hex digits of its SHA-256.
pub fn fingerprint(token: &str) -> String {
    digest(token)[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The tokens of a file's text: one per line, trimmed; blank lines and
/// `#` comments skipped.
fn tokens(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The digests and fingerprints of the file's tokens.
fn read(file: &Path) -> Result<(Vec<[u8; 32]>, Vec<String>), TokenFileError> {
    let text = std::fs::read_to_string(file)
        .map_err(|source| TokenFileError::Read { path: file.to_path_buf(), source })?;
    let found = tokens(&text);
    if found.is_empty() {
        return Err(TokenFileError::Empty { path: file.to_path_buf() });
    }
    Ok((found.iter().map(|t| digest(t)).collect(), found.iter().map(|t| fingerprint(t)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `Auth` over a token file holding `text` (the file, kept alive by
    /// the directory, can be rewritten by the test).
    fn auth_with(text: &str) -> (tempfile::TempDir, PathBuf, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, text).unwrap();
        let auth = Auth::from_file(&file).unwrap();
        (dir, file, auth)
    }

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn the_file_holds_one_token_per_line_with_comments() {
        let text = "# operators\nalpha-1\n\n  beta-2  \n#gamma\n";
        assert_eq!(tokens(text), ["alpha-1", "beta-2"]);
        assert!(tokens("# nothing\n\n").is_empty());
    }

    #[test]
    fn requests_are_checked_against_every_token() {
        let (_dir, _file, auth) = auth_with("alpha-1\nbeta-2\n");
        assert!(auth.check(&http::Method::GET, &with("Bearer alpha-1")).is_ok());
        assert!(auth.check(&http::Method::GET, &with("bearer  beta-2 ")).is_ok());
        for (headers, invalid_token) in [
            (HeaderMap::new(), false),
            (with("Basic YWxwaGEtMQ=="), false),
            (with("Bearer"), false),
            (with("Bearer "), false),
            (with("Bearer alpha-2"), true),
            (with("Bearer alpha-1x"), true),
        ] {
            match auth.check(&http::Method::GET, &headers) {
                Err(Error::Unauthorized { invalid_token: i, .. }) => {
                    assert_eq!(i, invalid_token, "{headers:?}")
                }
                other => panic!("{headers:?}: {other:?}"),
            }
        }
        assert!(Auth::open().check(&http::Method::GET, &HeaderMap::new()).is_ok(), "no file: open");
    }

    #[test]
    fn a_reload_takes_new_tokens_and_ignores_an_unusable_file() {
        let (_dir, file, auth) = auth_with("old\n");
        std::fs::write(&file, "new\n").unwrap();
        auth.reload();
        assert!(auth.check(&http::Method::GET, &with("Bearer new")).is_ok());
        assert!(auth.check(&http::Method::GET, &with("Bearer old")).is_err());
        // Emptied or gone: the tokens in force stay.
        std::fs::write(&file, "# all commented out\n").unwrap();
        auth.reload();
        assert!(auth.check(&http::Method::GET, &with("Bearer new")).is_ok());
        std::fs::remove_file(&file).unwrap();
        auth.reload();
        assert!(auth.check(&http::Method::GET, &with("Bearer new")).is_ok());
        // And refused at start.
        assert!(matches!(Auth::from_file(&file), Err(TokenFileError::Read { .. })));
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(Auth::from_file(&file), Err(TokenFileError::Empty { .. })));
    }

    #[test]
    fn a_session_cookie_stands_in_for_the_token_on_reads_only() {
        let (_dir, file, auth) = auth_with("alpha-1\nbeta-2\n");
        let t0 = Instant::now();
        assert!(auth.open_session_at(&HeaderMap::new(), t0).is_err(), "a session needs the token");
        let id = auth.open_session_at(&with("Bearer alpha-1"), t0).unwrap().unwrap();
        assert_eq!(id.len(), 64);
        let mut jar = HeaderMap::new();
        jar.insert(http::header::COOKIE, format!("theme=dark; rt_session={id}").parse().unwrap());
        let (get, post) = (http::Method::GET, http::Method::POST);
        assert!(auth.check_at(&get, &jar, t0).is_ok());
        assert!(auth.check_at(&post, &jar, t0).is_err(), "never a write with the cookie");
        let mut other = HeaderMap::new();
        other.insert(http::header::COOKIE, "rt_session=0000".parse().unwrap());
        assert!(auth.check_at(&get, &other, t0).is_err(), "an unknown session");
        assert!(auth.check_at(&get, &jar, t0 + SESSION_LIFETIME).is_err(), "expired");
        // The token that opened it is removed: the session ends with it.
        std::fs::write(&file, "beta-2\n").unwrap();
        auth.reload();
        assert!(auth.check_at(&get, &jar, t0).is_err());
        // Closed by the client.
        let id = auth.open_session_at(&with("Bearer beta-2"), t0).unwrap().unwrap();
        jar.insert(http::header::COOKIE, format!("rt_session={id}").parse().unwrap());
        assert!(auth.check_at(&get, &jar, t0).is_ok());
        auth.close_session(&jar);
        assert!(auth.check_at(&get, &jar, t0).is_err());
        // No tokens: nothing to open.
        assert_eq!(Auth::open().open_session(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn fingerprints_are_short_and_stable() {
        assert_eq!(fingerprint("abc"), "ba7816bf");
    }
}
