//! Credentials at rest: the secret key, sealing and opening one value, and
//! which nodes of a config tree are secrets.
//!
//! Camera passwords (an RTSP `Input/uri` with `user:password@`, MQTT
//! handler passwords, ONVIF camera credentials) are written to the data
//! directory only sealed with XChaCha20-Poly1305 under a key kept apart
//! from it: a key file (created `0600` on first use, refused when group or
//! others may read it) or a key given in the environment. A sealed value is
//! `rtsec1:<key id>:<base64url(nonce || ciphertext)>`: a random 24-byte nonce
//! per value, and the node's path as associated data, so a value moved to
//! another node does not open. The key id (8 hex digits of a SHA-1 of the
//! key) tells a wrong key from a damaged value, so the error can say which.
//!
//! Pure apart from reading and creating the key file (std only): no system
//! library, unit-tested on any machine. What it does not own: where sealed
//! values are stored (`store`, `onvif`), and reading them back over the API
//! (masked there by [`mask_tree`]).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};
use sha1::Digest as _;

use crate::config_tree;
use crate::error::{Error, Result};
use crate::handlers::SECRET_MASK;

/// The prefix of a sealed value (format version 1).
const PREFIX: &str = "rtsec1";
/// XChaCha20-Poly1305's nonce: long enough that random ones never repeat.
const NONCE_LEN: usize = 24;
/// Poly1305's tag, at the end of every ciphertext.
const TAG_LEN: usize = 16;

/// The config tree node of an instance's input address.
pub const INPUT_URI_PATH: &str = "Input/uri";

/// A 256-bit key. `Debug` shows only its id.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id())
    }
}

impl SecretKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        SecretKey(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// A key from its base64 text (a key file's content, `RT_SECRET_KEY`).
    pub fn from_base64(text: &str) -> std::result::Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64 ({e}); expected 32 random bytes in base64"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!("{} bytes; expected 32 random bytes in base64", b.len())
        })?;
        Ok(SecretKey(bytes))
    }

    /// The key as base64 text.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A short public name of the key (8 hex digits), to tell keys apart in
    /// messages without showing them.
    pub fn id(&self) -> String {
        let mut h = sha1::Sha1::new();
        h.update(b"rt-server secret key id\0");
        h.update(self.0);
        h.finalize()[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals `plain`, bound to `context` (the node's path).
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let cipher = XChaCha20Poly1305::new(&self.0.into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = cipher
            .encrypt(&nonce, Payload { msg: plain.as_bytes(), aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encrypts any message below 256 GiB");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{PREFIX}:{}:{}", self.id(), URL_SAFE_NO_PAD.encode(blob))
    }

    /// Opens a value [`SecretKey::seal`] made for `context`; `key` names
    /// where this key came from, for the messages.
    pub fn open(&self, key: &str, context: &str, sealed: &str) -> Result<String> {
        let corrupt = |why: &str| Error::Corrupt(format!("sealed value of {context}: {why}"));
        let mut parts = sealed.splitn(3, ':');
        let (Some(PREFIX), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt("not a sealed value (expected rtsec1:<key id>:<data>)"));
        };
        if id != self.id() {
            return Err(Error::SecretKeyMismatch {
                key: key.to_string(),
                sealed_with: id.to_string(),
                found: self.id(),
            });
        }
        let blob = URL_SAFE_NO_PAD.decode(body).map_err(|_| corrupt("not base64url"))?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(corrupt("truncated"));
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        let cipher = XChaCha20Poly1305::new(&self.0.into());
        let plain = cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map_err(|_| corrupt("does not authenticate (damaged, or moved from another node)"))?;
        String::from_utf8(plain).map_err(|_| corrupt("not UTF-8"))
    }
}

/// Where the key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key file, created on first use.
    File(PathBuf),
    /// A key given directly (e.g. `RT_SECRET_KEY`); `name` says where.
    Given { name: String, key: SecretKey },
}

/// The server's sealing service: the key source, and the key once read.
#[derive(Debug)]
pub struct Secrets {
    source: KeySource,
    key: Mutex<Option<SecretKey>>,
}

impl Secrets {
    pub fn new(source: KeySource) -> Self {
        let key = match &source {
            KeySource::Given { key, .. } => Some(key.clone()),
            KeySource::File(_) => None,
        };
        Secrets { source, key: Mutex::new(key) }
    }

    /// Where the key is, for messages and logs: the key file's path, or the
    /// name of the variable that held it (never the key).
    pub fn describe(&self) -> String {
        match &self.source {
            KeySource::File(p) => format!("key file {}", p.display()),
            KeySource::Given { name, .. } => name.clone(),
        }
    }

    /// The key, read (or, when `create`, created) once.
    fn key(&self, create: bool) -> Result<SecretKey> {
        let mut slot = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let KeySource::File(path) = &self.source else {
            unreachable!("a given key is set at construction");
        };
        let key = read_key_file(path, create)
            .map_err(|reason| Error::SecretKey { key: self.describe(), reason })?;
        *slot = Some(key.clone());
        Ok(key)
    }

    /// Seals `plain` for the node `context`; creates the key file on first use.
    pub fn seal(&self, context: &str, plain: &str) -> Result<String> {
        Ok(self.key(true)?.seal(context, plain))
    }

    /// Opens a sealed value of the node `context`; never creates a key.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String> {
        self.key(false)?.open(&self.describe(), context, sealed)
    }
}

/// Reads a key file, or creates it (`0600`, parent `0700`) when `create`
/// and it does not exist. Refuses a file that group or others may access.
pub fn read_key_file(path: &Path, create: bool) -> std::result::Result<SecretKey, String> {
    match fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "its permissions are {mode:o}: group and others must have none \
                     (chmod 600 {})",
                    path.display()
                ));
            }
            let text = fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
            SecretKey::from_base64(&text).map_err(|e| format!("its content is {e}"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => create_key_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("it does not exist: the stored credentials were sealed with a key that is not \
             there (restore the key file, or set the credentials again)"
                .into())
        }
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

fn create_key_file(path: &Path) -> std::result::Result<SecretKey, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create its directory: {e}"))?;
    }
    let key = SecretKey::generate();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create it: {e}"))?;
    writeln!(f, "{}", key.to_base64())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write it: {e}"))?;
    tracing::info!(path = %path.display(), key_id = %key.id(), "secret key file created");
    Ok(key)
}

/// The byte range of the password in a URI's user information, if any.
fn password_range(uri: &str) -> Option<std::ops::Range<usize>> {
    let start = uri.find("://")? + 3;
    let rest = &uri[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let colon = userinfo.find(':')?;
    Some(start + colon + 1..start + userinfo.len())
}

/// `uri` with its password (if any) replaced by the mask.
pub fn mask_uri(uri: &str) -> String {
    match password_range(uri) {
        Some(r) => format!("{}{SECRET_MASK}{}", &uri[..r.start], &uri[r.end..]),
        None => uri.to_string(),
    }
}

/// `message` with `uri`'s password (if any) replaced by the mask, wherever
/// it appears (an error quoting the URI).
pub fn redact_password(uri: &str, message: &str) -> String {
    match password_range(uri).map(|r| &uri[r]) {
        Some(pw) if !pw.is_empty() => message.replace(pw, SECRET_MASK),
        _ => message.to_string(),
    }
}

/// Whether the node's value is a secret as written (not masked).
fn is_clear_secret(path: &str, v: &Value) -> bool {
    match (path, v.as_str()) {
        (INPUT_URI_PATH, Some(uri)) => {
            password_range(uri).is_some_and(|r| &uri[r.clone()] != SECRET_MASK && !r.is_empty())
        }
        (_, Some(p)) => p != SECRET_MASK,
        _ => false,
    }
}

/// Whether the node's value is masked (a secret that is not here).
fn is_masked(path: &str, v: &Value) -> bool {
    match (path, v.as_str()) {
        (INPUT_URI_PATH, Some(uri)) => password_range(uri).is_some_and(|r| &uri[r] == SECRET_MASK),
        (_, Some(p)) => p == SECRET_MASK,
        _ => false,
    }
}

fn masked(path: &str, v: &Value) -> Value {
    match (path, v.as_str()) {
        (INPUT_URI_PATH, Some(uri)) => Value::String(mask_uri(uri)),
        _ => Value::String(SECRET_MASK.into()),
    }
}

/// The paths of the tree's secret nodes: `Input/uri` and every handler's
/// `config/password` (handler names holding `/` have no path and are
/// left as they are).
fn secret_paths(tree: &Map<String, Value>) -> Vec<String> {
    let mut out = vec![INPUT_URI_PATH.to_string()];
    if let Some(h) = tree.get("Output").and_then(|o| o.get("handlers")).and_then(Value::as_object) {
        out.extend(
            h.keys()
                .filter(|n| !n.is_empty() && !n.contains('/'))
                .map(|n| format!("{}/{n}/config/password", crate::handlers::HANDLERS_PATH)),
        );
    }
    out
}

/// The tree as the API shows it: every secret masked.
pub fn mask_tree(tree: &mut Map<String, Value>) {
    crate::handlers::mask_secrets(tree);
    if let Some(Value::String(uri)) = tree.get_mut("Input").and_then(|i| i.get_mut("uri")) {
        *uri = mask_uri(uri);
    }
}

/// Where `new`'s `Input/uri` holds the mask as its password, puts back the
/// password of `old`'s: writing back what was read keeps the secret.
pub fn keep_uri_password(old: &Map<String, Value>, new: &mut Map<String, Value>) -> Result<()> {
    let Some(Value::String(uri)) = config_tree::get(new, INPUT_URI_PATH).cloned() else {
        return Ok(());
    };
    let Some(r) = password_range(&uri).filter(|r| &uri[r.clone()] == SECRET_MASK) else {
        return Ok(());
    };
    let old_pw = config_tree::get(old, INPUT_URI_PATH)
        .and_then(Value::as_str)
        .and_then(|o| password_range(o).map(|or| o[or].to_string()))
        .ok_or_else(|| {
            Error::invalid(
                INPUT_URI_PATH,
                "the mask \"********\" stands for a stored password, and none is stored",
            )
        })?;
    let kept = format!("{}{old_pw}{}", &uri[..r.start], &uri[r.end..]);
    config_tree::set(new, INPUT_URI_PATH, Value::String(kept))
}

/// The tree as written to disk: every clear secret sealed (path -> sealed
/// value) and masked in the tree. A node still masked keeps its sealed
/// value from `keep` (one that could not be opened at startup).
pub fn seal_tree(
    tree: &Map<String, Value>,
    secrets: &Secrets,
    keep: &BTreeMap<String, String>,
) -> Result<(Map<String, Value>, BTreeMap<String, String>)> {
    let mut out = tree.clone();
    let mut sealed = BTreeMap::new();
    for path in secret_paths(tree) {
        let Some(v) = config_tree::get(tree, &path) else { continue };
        if is_clear_secret(&path, v) {
            let plain = v.as_str().unwrap_or_default();
            sealed.insert(path.clone(), secrets.seal(&path, plain)?);
            config_tree::set(&mut out, &path, masked(&path, v))?;
        } else if is_masked(&path, v)
            && let Some(s) = keep.get(&path)
        {
            sealed.insert(path, s.clone());
        }
    }
    Ok((out, sealed))
}

/// Puts the opened secrets back into a tree read from disk. Returns those
/// that could not be opened (path -> (sealed value, why)); their nodes stay
/// masked.
pub fn open_tree(
    tree: &mut Map<String, Value>,
    sealed: &BTreeMap<String, String>,
    secrets: Option<&Secrets>,
) -> BTreeMap<String, (String, Error)> {
    let mut failed = BTreeMap::new();
    for (path, s) in sealed {
        let opened = match secrets {
            Some(secrets) => secrets.open(path, s),
            None => Err(Error::SecretKey {
                key: "no key".into(),
                reason: "no secret key is configured".into(),
            }),
        };
        match opened.and_then(|plain| config_tree::set(tree, path, Value::String(plain))) {
            Ok(()) => {}
            Err(e) => {
                failed.insert(path.clone(), (s.clone(), e));
            }
        }
    }
    failed
}

/// Whether the tree still holds a masked value at `path` (a secret that
/// was not opened).
pub fn still_masked(tree: &Map<String, Value>, path: &str) -> bool {
    config_tree::get(tree, path).is_some_and(|v| is_masked(path, v))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn given(key: &SecretKey) -> Secrets {
        Secrets::new(KeySource::Given { name: "RT_SECRET_KEY".into(), key: key.clone() })
    }

    #[test]
    fn values_open_with_their_key_and_context_only() {
        let k = SecretKey::generate();
        let other = SecretKey::generate();
        let s = k.seal("Input/uri", "rtsp://u:pw@cam/x");
        assert!(!s.contains("pw@"), "{s}");
        assert_ne!(s, k.seal("Input/uri", "rtsp://u:pw@cam/x"), "a fresh nonce per value");
        assert_eq!(k.open("k", "Input/uri", &s).unwrap(), "rtsp://u:pw@cam/x");
        let (body_at, _) = s.rmatch_indices(':').next().unwrap();
        let mut flipped = s.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let cases: Vec<(&str, &SecretKey, &str, String, &str)> = vec![
            ("wrong key", &other, "Input/uri", s.clone(), "sealed with key"),
            ("other node", &k, "Output/x", s.clone(), "does not authenticate"),
            ("corrupted", &k, "Input/uri", flipped, "does not authenticate"),
            ("truncated", &k, "Input/uri", s[..body_at + 13].to_string(), "truncated"),
            ("not base64", &k, "Input/uri", format!("{}!!", &s[..body_at + 1]), "base64"),
            ("no prefix", &k, "Input/uri", "rtsp://u:pw@cam".into(), "not a sealed value"),
            ("empty", &k, "Input/uri", String::new(), "not a sealed value"),
        ];
        for (name, key, ctx, value, want) in cases {
            let err = key.open("the key", ctx, &value).unwrap_err().to_string();
            assert!(err.contains(want), "{name}: {err}");
            assert!(!err.contains("pw"), "{name}: {err}");
        }
    }

    #[test]
    fn a_wrong_key_names_both_keys_and_where_the_key_is() {
        let k = SecretKey::generate();
        let s = k.seal("p", "x");
        let err = given(&SecretKey::generate()).open("p", &s).unwrap_err();
        assert!(matches!(err, Error::SecretKeyMismatch { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&k.id()) && msg.contains("RT_SECRET_KEY"), "{msg}");
    }

    #[test]
    fn key_text_is_32_bytes_of_base64() {
        let k = SecretKey::generate();
        assert_eq!(SecretKey::from_base64(&format!(" {}\n", k.to_base64())).unwrap(), k);
        for (text, want) in
            [("", "0 bytes"), ("c2hvcnQ=", "5 bytes"), ("not base64!", "not base64")]
        {
            let err = SecretKey::from_base64(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
        assert!(!format!("{k:?}").contains(&k.to_base64()));
    }

    #[test]
    fn key_files_are_created_once_private_and_refused_when_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conf/rt-server/secret.key");
        let missing = read_key_file(&path, false).unwrap_err();
        assert!(missing.contains("does not exist"), "{missing}");
        let created = read_key_file(&path, true).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_key_file(&path, true).unwrap(), created, "created once");
        for (mode, ok) in [(0o600, true), (0o400, true), (0o640, false), (0o604, false)] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let got = read_key_file(&path, false);
            assert_eq!(got.is_ok(), ok, "{mode:o}: {got:?}");
            if let Err(e) = got {
                assert!(e.contains("chmod 600"), "{e}");
            }
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "garbage").unwrap();
        assert!(read_key_file(&path, false).unwrap_err().contains("base64"));
    }

    #[test]
    fn opening_never_creates_a_key_and_says_which_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let s = Secrets::new(KeySource::File(path.clone()));
        let sealed = SecretKey::generate().seal("p", "x");
        let err = s.open("p", &sealed).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains("does not exist"));
        assert!(!path.exists());
        let again = s.seal("p", "x").unwrap();
        assert!(path.exists());
        assert_eq!(s.open("p", &again).unwrap(), "x");
    }

    #[test]
    fn uri_passwords_are_found_and_masked() {
        for (uri, want) in [
            ("rtsp://u:pw@cam:554/x", "rtsp://u:********@cam:554/x"),
            ("rtsp://u:p@ss:w@cam/x", "rtsp://u:********@cam/x"),
            ("rtsp://u@cam/x", "rtsp://u@cam/x"),
            ("rtsp://cam/x@y", "rtsp://cam/x@y"),
            ("/videos/a:b@c.mp4", "/videos/a:b@c.mp4"),
            ("file:///v/a:b@c.mp4", "file:///v/a:b@c.mp4"),
        ] {
            assert_eq!(mask_uri(uri), want, "{uri}");
        }
    }

    #[test]
    fn trees_seal_mask_and_open_back() {
        let key = SecretKey::generate();
        let s = given(&key);
        // Secrets long enough never to turn up in the sealed values' random
        // text by chance (a two-letter one once did).
        let tree = json!({
            "Input": {"type": "RTSP", "uri": "rtsp://u:camera-secret@cam/x"},
            "Output": {"handlers": {"H": {"uri": "mqtt://b", "config": {"password": "broker-secret"}}}},
        });
        let tree = tree.as_object().unwrap().clone();
        let (disk, sealed) = seal_tree(&tree, &s, &BTreeMap::new()).unwrap();
        let text = serde_json::to_string(&(&disk, &sealed)).unwrap();
        assert!(!text.contains("camera-secret") && !text.contains("broker-secret"), "{text}");
        assert_eq!(disk["Input"]["uri"], json!("rtsp://u:********@cam/x"));
        assert_eq!(sealed.len(), 2);

        let mut back = disk.clone();
        assert!(open_tree(&mut back, &sealed, Some(&s)).is_empty());
        assert_eq!(back, tree);

        // A wrong key leaves the nodes masked, and saving again keeps the
        // sealed values it could not open.
        let mut locked = disk.clone();
        let failed = open_tree(&mut locked, &sealed, Some(&given(&SecretKey::generate())));
        assert_eq!(failed.len(), 2);
        assert!(still_masked(&locked, INPUT_URI_PATH));
        let keep = failed.into_iter().map(|(p, (v, _))| (p, v)).collect();
        let (_, resealed) = seal_tree(&locked, &s, &keep).unwrap();
        assert_eq!(resealed, sealed);

        // The API view masks; writing the mask back keeps the password.
        let mut shown = tree.clone();
        mask_tree(&mut shown);
        assert_eq!(shown, disk);
        keep_uri_password(&tree, &mut shown).unwrap();
        assert_eq!(shown["Input"], tree["Input"]);
        let err = keep_uri_password(&Map::new(), &mut disk.clone()).unwrap_err();
        assert!(err.to_string().contains("none is stored"), "{err}");
    }
}
