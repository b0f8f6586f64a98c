//! The engine's error type. It names what went wrong in domain terms; the
//! server decides which HTTP status each variant becomes.

use std::path::PathBuf;

use uuid::Uuid;

use crate::engine::LifecycleState;

/// Everything the engine can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No instance has this id.
    #[error("instance {0} not found")]
    InstanceNotFound(Uuid),
    /// An instance with this id exists already.
    #[error("instance {0} already exists")]
    InstanceExists(Uuid),
    /// The instance exists but is not a SecuRT instance.
    #[error("instance {0} is not a SecuRT instance")]
    NotSecurt(Uuid),
    /// No area (or no line: `kind`) of the instance has this id.
    #[error("{kind} '{id}' not found")]
    EntityNotFound { kind: &'static str, id: String },
    /// An area (or a line: `kind`) of the instance already has this id.
    #[error("{kind} '{id}' already exists")]
    EntityExists { kind: &'static str, id: String },
    /// A pushed frame was refused (not running, not a `Manual` input, busy).
    #[error("cannot push a frame to instance {id}: {reason}")]
    PushRefused { id: Uuid, reason: String },
    /// The operation is not allowed in the instance's current lifecycle state.
    #[error("cannot {action} instance {id}: it is {state}{hint}")]
    InvalidState {
        id: Uuid,
        action: &'static str,
        state: LifecycleState,
        /// Extra advice appended to the message (may be empty).
        hint: &'static str,
    },
    /// The instance is read-only (a system instance provisioned by the
    /// operator); its settings and configuration cannot be changed over the API.
    #[error("instance {0} is read-only: its configuration cannot be changed or deleted")]
    ReadOnly(Uuid),
    /// A request value is invalid; `field` names the field or config path.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// An instance file could not be written or removed.
    #[error("failed to persist instance file {}", path.display())]
    Persist {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No ONVIF camera has this uuid or address.
    #[error("ONVIF camera {0} not found")]
    CameraNotFound(String),
    /// The ONVIF camera needs credentials, or refused the stored ones.
    #[error("ONVIF camera {camera} is Unauthorized: {message}")]
    CameraUnauthorized { camera: String, message: String },
    /// The ONVIF camera is unreachable or answered badly.
    #[error("ONVIF camera {camera} is Unknown: {message}")]
    CameraUnavailable { camera: String, message: String },
    /// The WS-Discovery socket could not be opened or used.
    #[error("ONVIF discovery failed")]
    Discovery(#[source] std::io::Error),
    /// The instances directory could not be read at startup.
    #[error("failed to read instances directory {}", path.display())]
    ReadStore {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The database failed (unreachable, full disk, a bug in a query).
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The secret key that seals stored credentials cannot be used (missing
    /// file, permissions, content); `key` says where it is.
    #[error("secret key ({key}) cannot be used: {reason}")]
    SecretKey { key: String, reason: String },
    /// Stored credentials were sealed with another key than the one given.
    #[error(
        "stored credentials were sealed with key {sealed_with}, but the {key} holds key {found}: \
         restore the key they were sealed with, or set the credentials again"
    )]
    SecretKeyMismatch { key: String, sealed_with: String, found: String },
    /// The instance's stored credentials could not be decrypted at startup.
    #[error("instance {id} cannot start: its stored credentials cannot be decrypted: {reason}")]
    SecretsLocked { id: Uuid, reason: String },
    /// A stored value could not be read back (the message says why).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// No live registry key has this name.
    #[error("registry key '{0}' not found")]
    KeyNotFound(String),
    /// `If-Match` named another version of the key (or it does not exist).
    #[error("registry key '{0}' does not match If-Match (changed, deleted or never set)")]
    PreconditionFailed(String),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }
}

/// An error and its sources, joined with `: ` (for logs and messages).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// The crate's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
