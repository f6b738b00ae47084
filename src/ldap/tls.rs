//! TLS for LDAPS and StartTLS with rustls (ring provider): loading the certificate chain
//! and key, the protocol versions and cipher suites offered. Re-reading on SIGHUP is done
//! by swapping the acceptor; open connections keep the one they started with.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::ring;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::info;

/// The lowest TLS version offered (`tls.min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3 (the default).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl std::str::FromStr for TlsVersion {
    type Err = String;

    /// `"1.2"` or `"1.3"`.
    fn from_str(text: &str) -> Result<TlsVersion, String> {
        match text {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            _ => Err("must be \"1.2\" or \"1.3\"".to_string()),
        }
    }
}

/// Builds an acceptor from PEM files offering `min_version` and above.
///
/// Cipher suites are rustls' ring defaults: TLS 1.3 AES-128-GCM, AES-256-GCM and
/// CHACHA20-POLY1305; TLS 1.2 ECDHE-ECDSA/ECDHE-RSA with AES-128-GCM, AES-256-GCM and
/// CHACHA20-POLY1305. CBC and static-RSA suites are not offered (rustls never does).
pub fn load_acceptor(
    cert_file: &Path,
    key_file: &Path,
    min_version: TlsVersion,
) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("tls.cert_file {}: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.cert_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls.cert_file {}: no certificate found",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("tls.key_file {}: {e}", key_file.display()))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = if min_version == TlsVersion::Tls13
    {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: certificate and key do not fit together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The server side of a TLS handshake (LDAPS, or StartTLS after its response), bounded by
/// `timeout`; `None` (logged) when it fails or takes too long.
pub async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    timeout: Duration,
) -> Option<TlsStream<TcpStream>> {
    let peer = tcp.peer_addr().ok();
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            info!(?peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            info!(?peer, ?timeout, "TLS handshake timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_version_parses_the_two_versions_offered() {
        assert_eq!("1.2".parse(), Ok(TlsVersion::Tls12));
        assert_eq!("1.3".parse(), Ok(TlsVersion::Tls13));
        for bad in ["1.1", "1.0", "TLS1.3", " 1.3", ""] {
            assert!(bad.parse::<TlsVersion>().is_err(), "{bad}");
        }
        assert_eq!(TlsVersion::default(), TlsVersion::Tls12);
    }
}
