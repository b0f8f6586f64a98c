//! The server's error type and THE mapping of every error to an HTTP status.
//!
//! Nothing else in the server picks a status code: handlers return
//! [`Error`] (or an engine error, converted by `?`), and
//! `impl From<Error> for HttpError` below decides 400/401/403/404/405/406/409/412/500/503.
//! Error bodies are dropshot's `{request_id, error_code, message}`, the
//! contract's `Error` schema, which router-level 404/405 answers share.

use std::path::PathBuf;

use dropshot::{ClientErrorStatusCode, ErrorStatusCode, HttpError};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A refusal or failure of the engine.
    #[error(transparent)]
    Engine(#[from] rt_pipeline::Error),
    /// A system configuration field that is unknown or badly valued.
    #[error("{field}: {message}")]
    InvalidSystemConfig { field: String, message: String },
    /// `.../area/{areaRef}` or `.../line/{lineRef}` names no known type.
    #[error("unknown {kind} type '{given}' (known: {known})")]
    UnknownEntityType { kind: &'static str, given: String, known: String },
    /// A method the resource does not take; `allow` lists those it does
    /// (the `Allow` header), the message says why.
    #[error("{message}")]
    MethodNotAllowed { allow: &'static str, message: String },
    /// A field required by this operation is missing.
    #[error("{0}: is required")]
    Missing(&'static str),
    /// A requested file name that is not a plain file name.
    #[error("'{0}' is not a plain file name")]
    InvalidFileName(String),
    /// A requested file that does not exist (HLS off, segment expired).
    #[error("file '{0}' not found")]
    FileNotFound(String),
    /// No bearer token, or one not in force (`invalid_token`).
    #[error("{message}")]
    Unauthorized { message: String, invalid_token: bool },
    /// A stream refused: too many are open (the message says which cap).
    #[error("too many open streams: {0}; try again later")]
    TooManyStreams(String),
    /// A bug: state the server holds cannot be shown (the message says what).
    #[error("internal error: {0}")]
    Internal(String),
    /// rtconfig.json could not be written.
    #[error("failed to write server configuration {}", path.display())]
    WriteConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<Error> for HttpError {
    fn from(e: Error) -> Self {
        use rt_pipeline::Error as E;
        let client = |code: &str, status, msg: String| {
            HttpError::for_client_error(Some(code.into()), status, msg)
        };
        let message = e.to_string();
        match &e {
            Error::Engine(
                E::InstanceNotFound(_)
                | E::NotSecurt(_)
                | E::EntityNotFound { .. }
                | E::CameraNotFound(_)
                | E::KeyNotFound(_),
            )
            | Error::UnknownEntityType { .. }
            | Error::FileNotFound(_) => {
                client("NotFound", ClientErrorStatusCode::NOT_FOUND, message)
            }
            Error::Engine(
                E::InstanceExists(_) | E::EntityExists { .. } | E::PushRefused { .. },
            ) => client("Conflict", ClientErrorStatusCode::CONFLICT, message),
            Error::Engine(E::InvalidState { .. } | E::CameraUnavailable { .. }) => {
                client("InvalidState", ClientErrorStatusCode::NOT_ACCEPTABLE, message)
            }
            Error::Engine(E::PreconditionFailed(_)) => {
                client("PreconditionFailed", ClientErrorStatusCode::PRECONDITION_FAILED, message)
            }
            Error::Engine(E::ReadOnly(_) | E::CameraUnauthorized { .. }) => {
                client("Forbidden", ClientErrorStatusCode::FORBIDDEN, message)
            }
            Error::Engine(E::Invalid { .. })
            | Error::InvalidSystemConfig { .. }
            | Error::InvalidFileName(_)
            | Error::Missing(_) => {
                client("BadRequest", ClientErrorStatusCode::BAD_REQUEST, message)
            }
            Error::MethodNotAllowed { allow, .. } => {
                let status = ClientErrorStatusCode::METHOD_NOT_ALLOWED;
                let mut e = client("MethodNotAllowed", status, message);
                let _ = e.add_header(http::header::ALLOW, *allow);
                e
            }
            Error::Unauthorized { invalid_token, .. } => {
                let challenge = if *invalid_token {
                    r#"Bearer realm="rt-server", error="invalid_token""#
                } else {
                    r#"Bearer realm="rt-server""#
                };
                let mut e = client("Unauthorized", ClientErrorStatusCode::UNAUTHORIZED, message);
                let _ = e.add_header(http::header::WWW_AUTHENTICATE, challenge);
                e
            }
            Error::TooManyStreams(_) => {
                let mut e = HttpError {
                    status_code: ErrorStatusCode::SERVICE_UNAVAILABLE,
                    error_code: Some("Unavailable".into()),
                    external_message: message.clone(),
                    internal_message: message,
                    headers: None,
                };
                // Streams end when their clients go: a place frees soon.
                let _ = e.add_header(http::header::RETRY_AFTER, RETRY_AFTER_S);
                e
            }
            Error::Engine(
                E::Persist { .. }
                | E::ReadStore { .. }
                | E::Discovery(_)
                | E::Database(_)
                | E::Corrupt(_)
                | E::SecretKey { .. }
                | E::SecretKeyMismatch { .. }
                | E::SecretsLocked { .. },
            )
            | Error::WriteConfig { .. }
            | Error::Internal(_) => {
                // The cause (a full disk, a file path, a database error) is
                // for the operator's log, not for whoever called: the body
                // says only that it failed, and its request_id finds the
                // log line (dropshot logs the internal message with it).
                let full = chain(&e);
                tracing::error!(error = %full, "request failed");
                HttpError {
                    status_code: ErrorStatusCode::INTERNAL_SERVER_ERROR,
                    error_code: Some("Internal".into()),
                    external_message: INTERNAL_MESSAGE.into(),
                    internal_message: full,
                    headers: None,
                }
            }
        }
    }
}

pub use rt_pipeline::error::chain;

/// `Retry-After` (seconds) of a refused stream.
const RETRY_AFTER_S: &str = "5";

/// The message of every 500: the details are in the server log, under the
/// response's `request_id`.
pub const INTERNAL_MESSAGE: &str = "internal error: the request could not be completed; the server log has the details \
     under this request_id";
