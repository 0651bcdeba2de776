//! The TLS client configuration of a Skydive analyzer connection (`wss://`):
//! its CA file or the system's trust roots, and a client certificate.

use std::path::PathBuf;
use std::sync::Arc;

/// What a TLS connection to an analyzer is configured with.
pub(super) struct TlsFiles<'a> {
    /// The analyzer's URL, for messages.
    pub url: &'a str,
    /// CA certificates (PEM); `None`: the system's trust roots.
    pub ca_file: Option<&'a PathBuf>,
    /// Client certificate chain (PEM), with `client_key`.
    pub client_cert: Option<&'a PathBuf>,
    /// Client private key (PEM), with `client_cert`.
    pub client_key: Option<&'a PathBuf>,
}

fn read_pem(path: &PathBuf, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// The rustls configuration of an analyzer: its CA file, and a client
/// certificate when configured.
pub(super) fn tls_config(a: &TlsFiles<'_>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    match a.ca_file {
        Some(ca_file) => {
            let pem = read_pem(ca_file, "CA file")?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("CA file {}: {e}", ca_file.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA file {}: {e}", ca_file.display()))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "CA file {}: no certificate in it",
                    ca_file.display()
                ));
            }
        }
        None => {
            // The system's trust roots (SSL_CERT_FILE and SSL_CERT_DIR are
            // honoured).
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(format!(
                    "{}: no CA file (ca_file) and no trust root of the system{why}",
                    a.url
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (a.client_cert, a.client_key) {
        (Some(cert), Some(key)) => {
            let pem = read_pem(cert, "client certificate")?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))?;
            let key_pem = read_pem(key, "client key")?;
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| format!("client key {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(format!("{}: client_cert and client_key go together", a.url)),
    };
    Ok(Arc::new(config))
}
