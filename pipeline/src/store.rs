//! Persistence of instances as one JSON file each, written atomically.
//!
//! A file is written to a temporary name in the same directory, flushed to
//! disk, renamed over `<instanceId>.json`, and the directory is flushed. A
//! crash (even `kill -9`) at any moment leaves either the old or the new file,
//! never a torn one; stale temporary files are removed at the next start.
//! Operators may drop files here by hand: `readOnly`/`systemInstance` files
//! describe instances that the API can run but not change.
//!
//! With [`Secrets`] (the server always has them), secrets of the config tree
//! (`secrets` decides which) are written sealed, in the file's `sealed` map,
//! and masked in its `config`; they are opened again when read.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{Error, Result, chain};
use crate::secrets::{self, Secrets};

/// What one instance file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceFile {
    pub instance_id: Uuid,
    /// Set by the operator for instances the API must not change.
    #[serde(default)]
    pub read_only: bool,
    /// Set by the operator for instances that belong to the system.
    #[serde(default)]
    pub system_instance: bool,
    /// The instance's whole config tree (as read: secrets opened; as
    /// written: secrets masked).
    pub config: Map<String, Value>,
    /// Sealed secrets by config path. On disk: every secret. Once read:
    /// those that could not be opened (their nodes stay masked); given to
    /// [`InstanceStore::save`]: those to keep while their nodes stay masked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sealed: BTreeMap<String, String>,
    /// Once read: why some secrets could not be opened, if any could not.
    #[serde(skip)]
    pub locked: Option<String>,
}

/// A directory of instance files.
#[derive(Debug)]
pub struct InstanceStore {
    dir: PathBuf,
    secrets: Option<Arc<Secrets>>,
}

/// A file that could not be restored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFile {
    pub path: PathBuf,
    pub reason: String,
}

const TMP_PREFIX: &str = ".tmp-";

impl InstanceStore {
    /// Opens (creating if needed) the directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)
            .map_err(|source| Error::ReadStore { path: dir.clone(), source })?;
        Ok(InstanceStore { dir, secrets: None })
    }

    /// Seals secrets with `secrets` from now on (and opens them when read).
    pub fn with_secrets(mut self, secrets: Option<Arc<Secrets>>) -> Self {
        self.secrets = secrets;
        self
    }

    /// The directory this store writes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Reads every instance file. Unreadable or malformed files are reported,
    /// not fatal, and left in place for the operator to inspect.
    pub fn load_all(&self) -> Result<(Vec<InstanceFile>, Vec<BadFile>)> {
        let read_err = |source| Error::ReadStore { path: self.dir.clone(), source };
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let mut entries: Vec<_> = fs::read_dir(&self.dir)
            .map_err(read_err)?
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(read_err)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) {
                // A write that never reached its rename: the real file (if
                // any) is intact, so the leftover is garbage.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            match Self::read_one(&path, stem) {
                Ok(mut file) => {
                    self.open_secrets(&mut file);
                    good.push(file)
                }
                Err(reason) => bad.push(BadFile { path, reason }),
            }
        }
        Ok((good, bad))
    }

    fn read_one(path: &Path, stem: &str) -> Result<InstanceFile, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        let file: InstanceFile =
            serde_json::from_str(&text).map_err(|e| format!("not a valid instance file: {e}"))?;
        if file.instance_id.to_string() != stem {
            return Err(format!(
                "instanceId {} does not match the file name (expected {stem}.json)",
                file.instance_id
            ));
        }
        Ok(file)
    }

    /// Opens the file's sealed secrets into its config; keeps in `sealed`
    /// those that do not open, and says why in `locked`.
    fn open_secrets(&self, file: &mut InstanceFile) {
        let failed = secrets::open_tree(&mut file.config, &file.sealed, self.secrets.as_deref());
        file.locked = (!failed.is_empty())
            .then(|| failed.values().map(|(_, e)| chain(e)).collect::<Vec<_>>().join("; "));
        file.sealed = failed.into_iter().map(|(p, (v, _))| (p, v)).collect();
    }

    /// Writes one instance file atomically (see the module docs).
    pub fn save(&self, file: &InstanceFile) -> Result<()> {
        let path = self.path_of(file.instance_id);
        let sealed_file;
        let file = match &self.secrets {
            Some(s) => {
                let (config, sealed) = secrets::seal_tree(&file.config, s, &file.sealed)?;
                sealed_file = InstanceFile { config, sealed, ..file.clone() };
                &sealed_file
            }
            None => file,
        };
        let tmp = self.dir.join(format!("{TMP_PREFIX}{}.json", file.instance_id));
        let persist_err = |source| Error::Persist { path: path.clone(), source };
        let bytes = serde_json::to_vec_pretty(file).map_err(|e| persist_err(e.into()))?;
        write_atomically(&path, &tmp, &bytes).map_err(persist_err)
    }

    /// Removes one instance file; a file that is already gone is fine.
    pub fn remove(&self, id: Uuid) -> Result<()> {
        let path = self.path_of(id);
        match fs::remove_file(&path) {
            Ok(()) => fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| Error::Persist { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Persist { path, source }),
        }
    }
}

/// Writes `bytes` to `path` atomically, the one way the server saves a
/// file (instance files, ONVIF credentials, rtconfig.json): into `tmp`
/// beside it, flushed to disk, renamed over `path`, and the directory
/// flushed, so a crash at any point leaves the old file or the new one,
/// never a torn one. On a failure `tmp` is removed and `path` is as it was.
pub fn write_atomically(path: &Path, tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(dir)?;
        let mut f = fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(tmp, path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(tmp);
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn file(id: Uuid) -> InstanceFile {
        InstanceFile {
            instance_id: id,
            read_only: false,
            system_instance: false,
            config: json!({"name": "x", "Output": {"a": [1]}}).as_object().unwrap().clone(),
            sealed: Default::default(),
            locked: None,
        }
    }

    #[test]
    fn save_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = InstanceStore::open(dir.path().join("instances")).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        store.save(&file(a)).unwrap();
        store.save(&file(b)).unwrap();
        store.save(&file(a)).unwrap();
        let (good, bad) = store.load_all().unwrap();
        assert_eq!(good.len(), 2);
        assert!(bad.is_empty());
        store.remove(a).unwrap();
        store.remove(a).unwrap();
        let (good, _) = store.load_all().unwrap();
        assert_eq!(good, vec![file(b)]);
    }

    #[test]
    fn torn_writes_and_foreign_files_never_load_as_instances() {
        let dir = tempfile::tempdir().unwrap();
        let store = InstanceStore::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        store.save(&file(id)).unwrap();
        // A crash between create and rename leaves only a temporary file.
        fs::write(dir.path().join(format!("{TMP_PREFIX}{id}.json")), "{\"instanceId\": ").unwrap();
        fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        let other = Uuid::new_v4();
        fs::write(dir.path().join(format!("{other}.json")), "{ truncated").unwrap();
        let wrong = Uuid::new_v4();
        fs::write(
            dir.path().join(format!("{wrong}.json")),
            serde_json::to_string(&file(Uuid::new_v4())).unwrap(),
        )
        .unwrap();
        let (good, bad) = store.load_all().unwrap();
        assert_eq!(good, vec![file(id)]);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(!dir.path().join(format!("{TMP_PREFIX}{id}.json")).exists());
    }
}
