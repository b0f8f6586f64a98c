//! TLS (`web_server.tls.cert` and `key`: PEM files, the key PKCS #8): the
//! API served as HTTPS, by dropshot itself or, with CORS on, by the front
//! in front of it (dropshot then listens on loopback only, in plain HTTP).
//! Plain HTTP stays the default. rustls on the crypto provider the build
//! already has (aws-lc-rs).
//!
//! The files are read again on SIGHUP (a renewed certificate applies to new
//! connections); files that cannot be used then leave the certificate in
//! force, and the log says why. At start they stop the start.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use dropshot::ConfigTls;

use crate::config::TlsFiles;

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unusable certificate {} or key {} (PEM, the key PKCS #8): {message}", cert.display(), key.display())]
    Invalid { cert: PathBuf, key: PathBuf, message: String },
}

/// The certificate and key, read and checked.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// As dropshot takes them (HTTP/2 and HTTP/1.1 offered).
    pub config: ConfigTls,
    /// As the CORS front takes them (HTTP/1.1, all it speaks).
    pub server: Arc<rustls::ServerConfig>,
}

/// Reads and checks `files`. (dropshot's own reading panics on a key that
/// does not match, so the files are read here and handed over built.)
pub fn load(files: &TlsFiles) -> Result<Loaded, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| TlsError::Read { path: path.clone(), source })
    };
    let (cert_pem, key_pem) = (read(&files.cert)?, read(&files.key)?);
    let invalid = |message: String| TlsError::Invalid {
        cert: files.cert.clone(),
        key: files.key.clone(),
        message,
    };
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid(format!("key: {e}")))?;
    let with_alpn = |alpn: &[&[u8]]| {
        let mut c = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| invalid(e.to_string()))?;
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok::<_, TlsError>(c)
    };
    Ok(Loaded {
        config: ConfigTls::Dynamic(with_alpn(&[b"h2", b"http/1.1"])?),
        server: Arc::new(with_alpn(&[b"http/1.1"])?),
    })
}

/// What the CORS front accepts connections with, swapped on reload.
pub type SharedServerConfig = Arc<RwLock<Arc<rustls::ServerConfig>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_files_are_refused_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let files = TlsFiles { cert: cert.clone(), key: key.clone() };
        assert!(matches!(load(&files), Err(TlsError::Read { path, .. }) if path == cert));
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap();
        let e = load(&files).unwrap_err().to_string();
        assert!(e.contains("cert.pem") && e.contains("key.pem"), "{e}");
    }
}
