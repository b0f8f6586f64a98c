//! ONVIF credentials kept across restarts: one JSON file in the data
//! directory (`onvif-credentials.json`), one entry per camera uuid with its
//! address and user name, the password sealed (see `secrets`). Written
//! atomically (temporary file, flush, rename) on every change.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::Credentials;
use crate::error::{Error, Result, chain};
use crate::secrets::Secrets;

/// One camera's stored credentials, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    address: String,
    username: String,
    /// Sealed.
    password: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileBody {
    cameras: BTreeMap<String, Entry>,
}

/// Credentials read back at startup: opened, or why not.
#[derive(Debug, Clone)]
pub struct Restored {
    pub address: String,
    pub credentials: std::result::Result<Credentials, String>,
}

/// The credentials file and the key that seals it.
#[derive(Debug)]
pub struct SavedCredentials {
    path: PathBuf,
    secrets: Arc<Secrets>,
    /// As on disk (entries that did not open are kept, sealed).
    entries: Mutex<BTreeMap<String, Entry>>,
}

/// What a camera's password is bound to (sealed values do not move).
fn context(uuid: &str) -> String {
    format!("onvif/{uuid}/password")
}

impl SavedCredentials {
    /// Reads the file (none yet: nothing stored) and opens every entry.
    pub fn open(
        path: impl Into<PathBuf>,
        secrets: Arc<Secrets>,
    ) -> Result<(Self, BTreeMap<String, Restored>)> {
        let path = path.into();
        let body: FileBody = match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::Corrupt(format!("ONVIF credentials file {}: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileBody::default(),
            Err(source) => return Err(Error::ReadStore { path, source }),
        };
        let restored = body
            .cameras
            .iter()
            .map(|(uuid, e)| {
                let credentials = secrets
                    .open(&context(uuid), &e.password)
                    .map(|password| Credentials { username: e.username.clone(), password })
                    .map_err(|err| chain(&err));
                (uuid.clone(), Restored { address: e.address.clone(), credentials })
            })
            .collect();
        Ok((SavedCredentials { path, secrets, entries: Mutex::new(body.cameras) }, restored))
    }

    /// Seals and writes one camera's credentials; the file is rewritten
    /// before this returns.
    pub fn store(&self, uuid: &str, address: &str, c: &Credentials) -> Result<()> {
        let password = self.secrets.seal(&context(uuid), &c.password)?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = entries.clone();
        next.insert(
            uuid.to_string(),
            Entry { address: address.to_string(), username: c.username.clone(), password },
        );
        write_atomically(&self.path, &FileBody { cameras: next.clone() })?;
        *entries = next;
        Ok(())
    }
}

fn write_atomically(path: &Path, body: &FileBody) -> Result<()> {
    let persist = |source| Error::Persist { path: path.to_path_buf(), source };
    let bytes = serde_json::to_vec_pretty(body).map_err(|e| persist(e.into()))?;
    crate::store::write_atomically(path, &path.with_extension("json.tmp"), &bytes).map_err(persist)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{KeySource, SecretKey};

    #[test]
    fn credentials_come_back_with_the_key_and_say_why_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onvif-credentials.json");
        let key = SecretKey::generate();
        let given = |k: &SecretKey| {
            Arc::new(Secrets::new(KeySource::Given {
                name: "RT_SECRET_KEY".into(),
                key: k.clone(),
            }))
        };
        let (saved, none) = SavedCredentials::open(&path, given(&key)).unwrap();
        assert!(none.is_empty());
        let c = Credentials { username: "admin".into(), password: "s3cret".into() };
        saved.store("urn:uuid:1", "192.0.2.7", &c).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cret") && text.contains("admin"), "{text}");

        let (_, back) = SavedCredentials::open(&path, given(&key)).unwrap();
        assert_eq!(back["urn:uuid:1"].credentials.as_ref().unwrap(), &c);
        assert_eq!(back["urn:uuid:1"].address, "192.0.2.7");

        let (_, wrong) = SavedCredentials::open(&path, given(&SecretKey::generate())).unwrap();
        let why = wrong["urn:uuid:1"].credentials.as_ref().unwrap_err();
        assert!(why.contains("sealed with key") && why.contains("RT_SECRET_KEY"), "{why}");

        fs::write(&path, "{").unwrap();
        assert!(matches!(SavedCredentials::open(&path, given(&key)), Err(Error::Corrupt(_))));
    }
}
