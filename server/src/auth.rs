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

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

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

/// The tokens in force.
#[derive(Debug)]
pub struct Auth {
    file: Option<PathBuf>,
    digests: RwLock<Vec<[u8; 32]>>,
    stamp: Mutex<Option<Stamp>>,
}

impl Auth {
    /// No tokens: every request is served.
    pub fn open() -> Auth {
        Auth { file: None, digests: RwLock::default(), stamp: Mutex::default() }
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

    /// Whether `headers` carry a token in force (always, when none is
    /// required).
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Error> {
        if !self.required() {
            return Ok(());
        }
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
        // Every token is compared, in constant time, whichever matches.
        let known = self.digests.read().unwrap_or_else(|p| p.into_inner());
        let hit = known.iter().fold(subtle::Choice::from(0), |hit, d| hit | d.ct_eq(&given));
        if bool::from(hit) {
            Ok(())
        } else {
            Err(Error::Unauthorized { message: REFUSED.into(), invalid_token: true })
        }
    }
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
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "alpha-1\nbeta-2\n").unwrap();
        let auth = Auth::from_file(&file).unwrap();
        assert!(auth.check(&with("Bearer alpha-1")).is_ok());
        assert!(auth.check(&with("bearer  beta-2 ")).is_ok());
        for (headers, invalid_token) in [
            (HeaderMap::new(), false),
            (with("Basic YWxwaGEtMQ=="), false),
            (with("Bearer"), false),
            (with("Bearer "), false),
            (with("Bearer alpha-2"), true),
            (with("Bearer alpha-1x"), true),
        ] {
            match auth.check(&headers) {
                Err(Error::Unauthorized { invalid_token: i, .. }) => {
                    assert_eq!(i, invalid_token, "{headers:?}")
                }
                other => panic!("{headers:?}: {other:?}"),
            }
        }
        assert!(Auth::open().check(&HeaderMap::new()).is_ok(), "no file: open");
    }

    #[test]
    fn a_reload_takes_new_tokens_and_ignores_an_unusable_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "old\n").unwrap();
        let auth = Auth::from_file(&file).unwrap();
        std::fs::write(&file, "new\n").unwrap();
        auth.reload();
        assert!(auth.check(&with("Bearer new")).is_ok());
        assert!(auth.check(&with("Bearer old")).is_err());
        // Emptied or gone: the tokens in force stay.
        std::fs::write(&file, "# all commented out\n").unwrap();
        auth.reload();
        assert!(auth.check(&with("Bearer new")).is_ok());
        std::fs::remove_file(&file).unwrap();
        auth.reload();
        assert!(auth.check(&with("Bearer new")).is_ok());
        // And refused at start.
        assert!(matches!(Auth::from_file(&file), Err(TokenFileError::Read { .. })));
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(Auth::from_file(&file), Err(TokenFileError::Empty { .. })));
    }

    #[test]
    fn fingerprints_are_short_and_stable() {
        assert_eq!(fingerprint("abc"), "ba7816bf");
    }
}
