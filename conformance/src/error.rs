//! The crate's one error type: what stops the suite from running at all.
//! (A server that fails a check is a report, not an error.)

/// Why the suite could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The contract could not be read.
    #[error("contract: {0}")]
    Spec(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A command-line value is not usable.
    #[error("{0}")]
    Usage(String),
}
