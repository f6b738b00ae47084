//! Test certificates for the TLS tests: a throw-away CA and a server certificate for
//! `127.0.0.1` (IP SAN) written to a temporary directory, and rustls client configurations
//! that trust only that CA. Nothing here touches the system trust store.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ldap_graph_gateway::config::TlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::crypto::ring;
use rustls::pki_types::CertificateDer;

/// A CA and a server certificate for 127.0.0.1, as PEM files in a temporary directory
/// that lives as long as this value.
pub struct TestPki {
    pub dir: tempfile::TempDir,
    /// The CA certificate (what `LDAPTLS_CACERT` points to).
    pub ca_file: PathBuf,
    /// The server chain: leaf then CA.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_der: CertificateDer<'static>,
}

impl TestPki {
    /// Generates a fresh CA and a server certificate with SANs `127.0.0.1` and `localhost`.
    pub fn generate() -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ldap-graph-gateway test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("ca key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca certificate");

        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        leaf_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca)
            .expect("leaf certificate");

        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = dir.path().join("ca.pem");
        let cert_file = dir.path().join("cert.pem");
        let key_file = dir.path().join("key.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write ca.pem");
        std::fs::write(&cert_file, format!("{}{}", leaf.pem(), ca.pem())).expect("write cert.pem");
        std::fs::write(&key_file, leaf_key.serialize_pem()).expect("write key.pem");
        TestPki {
            ca_der: ca.der().clone(),
            dir,
            ca_file,
            cert_file,
            key_file,
        }
    }

    /// The gateway's `[tls]` section for this certificate.
    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig {
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            min_version: ldap_graph_gateway::ldap::tls::TlsVersion::Tls12,
        }
    }

    /// A rustls client configuration that trusts only this CA (TLS 1.2 and 1.3).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.client_config_with(&[&rustls::version::TLS13, &rustls::version::TLS12])
    }

    /// The same, limited to TLS 1.2 (what older phones speak).
    pub fn client_config_tls12(&self) -> Arc<rustls::ClientConfig> {
        self.client_config_with(&[&rustls::version::TLS12])
    }

    fn client_config_with(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca_der.clone())
            .expect("CA into the root store");
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_protocol_versions(versions)
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        Arc::new(config)
    }

    /// Environment for OpenLDAP tools that verifies the server against this CA.
    pub fn verifying_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "LDAPTLS_CACERT".to_string(),
                self.ca_file.display().to_string(),
            ),
            ("LDAPTLS_REQCERT".to_string(), "demand".to_string()),
        ]
    }
}

/// The `ldaps://` URL of an LDAPS listener.
pub fn ldaps_url(addr: SocketAddr) -> String {
    format!("ldaps://{addr}")
}

/// An ephemeral loopback address for a listener.
pub fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
