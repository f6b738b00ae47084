//! The signed client-assertion JWT of a certificate credential (GRAPH.md §7): PS256 over
//! `header.claims`, `x5t#S256` thumbprint, signed with rustls' ring provider (no extra
//! crypto crate). It reads the PEM files; it does not talk to the token endpoint.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::SignatureScheme;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::GraphError;
use super::ids::random_uuid;

/// Lifetime of an assertion: Microsoft recommends `exp` 5-10 minutes after `nbf`
/// (GRAPH.md §7, certificate-credentials page).
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// Reads the certificate and RSA key and returns a fresh signed assertion for
/// `token_url` (the `aud`) and `client_id` (`iss` and `sub`).
pub(crate) fn signed_assertion(
    cert_file: &Path,
    key_file: &Path,
    client_id: &str,
    token_url: &str,
) -> Result<String, GraphError> {
    let cert = CertificateDer::from_pem_file(cert_file).map_err(|e| {
        GraphError::Config(format!(
            "cannot read a PEM certificate from {}: {e}",
            cert_file.display()
        ))
    })?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        GraphError::Config(format!(
            "cannot read a PEM private key from {}: {e}",
            key_file.display()
        ))
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    sign_assertion(&cert, &key, client_id, token_url, now, &random_uuid()).map_err(|e| match e {
        GraphError::Config(m) => GraphError::Config(format!("{m} ({})", key_file.display())),
        other => other,
    })
}

/// When the PEM certificate in `cert_file` stops being valid (its notAfter, RFC 5280
/// §4.1.2.5), in seconds since the Unix epoch.
pub(crate) fn certificate_not_after(cert_file: &Path) -> Result<i64, GraphError> {
    let cert = CertificateDer::from_pem_file(cert_file).map_err(|e| {
        GraphError::Config(format!(
            "cannot read a PEM certificate from {}: {e}",
            cert_file.display()
        ))
    })?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).map_err(|e| {
        GraphError::Config(format!(
            "cannot parse the certificate {}: {e}",
            cert_file.display()
        ))
    })?;
    Ok(parsed.validity().not_after.timestamp())
}

fn sign_assertion(
    cert: &CertificateDer<'_>,
    key: &PrivateKeyDer<'_>,
    client_id: &str,
    token_url: &str,
    now: u64,
    jti: &str,
) -> Result<String, GraphError> {
    let signing_key = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|e| GraphError::Config(format!("unusable private key: {e}")))?;
    // Entra ID accepts RSA keys only; PS256 is RSASSA-PSS with SHA-256 and a 32-byte salt
    // (RFC 7518 §3.5), which is what ring's RSA_PSS_SHA256 produces.
    let signer = signing_key
        .choose_scheme(&[SignatureScheme::RSA_PSS_SHA256])
        .ok_or_else(|| {
            GraphError::Config(
                "the private key is not an RSA key; Entra ID certificate credentials need RSA"
                    .into(),
            )
        })?;
    let header = serde_json::json!({
        "alg": "PS256",
        "typ": "JWT",
        "x5t#S256": base64url(&sha256(cert.as_ref())),
    });
    let claims = serde_json::json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": jti,
        "nbf": now,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let signature = signer
        .sign(signing_input.as_bytes())
        .map_err(|e| GraphError::Config(format!("signing the client assertion failed: {e}")))?;
    Ok(format!("{signing_input}.{}", base64url(&signature)))
}

/// SHA-256 from the ring provider's TLS 1.3 suite hash (the only public way to reach
/// ring's digest without depending on ring directly).
fn sha256(data: &[u8]) -> Vec<u8> {
    match rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13() {
        Some(suite) => suite.common.hash_provider.hash(data).as_ref().to_vec(),
        // TLS13_AES_128_GCM_SHA256 is a TLS 1.3 suite by definition.
        None => Vec::new(),
    }
}

/// Base64url without padding (RFC 4648 §5; JWS, RFC 7515 §2).
fn base64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throw-away RSA key and self-signed certificate made by the `openssl` command for
    /// this test run (no key is kept in the repository), and the certificate's SHA-256
    /// thumbprint as `openssl x509 -outform DER | openssl dgst -sha256 -binary` gives it.
    fn test_key_and_cert() -> (String, String, Vec<u8>) {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=ldap-graph-gateway-test", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the openssl command is installed");
        assert!(status.status.success(), "{status:?}");
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap()
            .stdout;
        let mut digest = Command::new("openssl")
            .args(["dgst", "-sha256", "-binary"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            digest.stdin.take().unwrap().write_all(&der).unwrap();
        }
        let thumbprint = digest.wait_with_output().unwrap().stdout;
        (
            std::fs::read_to_string(&key).unwrap(),
            std::fs::read_to_string(&cert).unwrap(),
            thumbprint,
        )
    }

    #[test]
    fn certificate_expiry_is_read_from_not_after() {
        let (_, cert, _) = test_key_and_cert();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, cert).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        // `openssl req -days 1`: valid for one day from now.
        let not_after = certificate_not_after(&path).unwrap();
        assert!(
            (not_after - (now + 86_400)).abs() < 120,
            "{not_after} vs {now}"
        );
        std::fs::write(&path, "not a certificate").unwrap();
        assert!(certificate_not_after(&path).is_err());
    }

    fn base64url_decode(s: &str) -> Vec<u8> {
        let value = |c: u8| -> u32 {
            match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'-' => 62,
                b'_' => 63,
                _ => panic!("not base64url: {c}"),
            }
        };
        let mut out = Vec::new();
        for chunk in s.as_bytes().chunks(4) {
            let mut n = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                n |= value(*c) << (18 - 6 * i);
            }
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..chunk.len() - 1]);
        }
        out
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        // RFC 4648 §10 vectors, padding removed.
        let vectors = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64url(plain.as_bytes()), encoded);
            assert_eq!(base64url_decode(encoded), plain.as_bytes());
        }
        // The URL-safe alphabet: 0xfb 0xff encodes to `-_8`, not `+/8`.
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn sha256_matches_known_digest() {
        assert_eq!(
            base64url(&sha256(b"abc")),
            // SHA-256("abc") = ba7816bf...15ad (FIPS 180-2 appendix B.1)
            base64url(&[
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
                0xf2, 0x00, 0x15, 0xad
            ])
        );
    }

    #[test]
    fn assertion_has_entra_header_and_claims_and_a_valid_ps256_signature() {
        let (test_key, test_cert, thumbprint) = test_key_and_cert();
        assert_eq!(thumbprint.len(), 32);
        let cert = CertificateDer::from_pem_slice(test_cert.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(test_key.as_bytes()).unwrap();
        let url = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token";
        let jwt = sign_assertion(&cert, &key, "app-id", url, 1_700_000_000, "jti-1").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);

        let header: serde_json::Value =
            serde_json::from_slice(&base64url_decode(parts[0])).unwrap();
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t#S256"], base64url(&thumbprint));
        assert_eq!(
            base64url_decode(header["x5t#S256"].as_str().unwrap()),
            thumbprint
        );

        let claims: serde_json::Value =
            serde_json::from_slice(&base64url_decode(parts[1])).unwrap();
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "app-id");
        assert_eq!(claims["sub"], "app-id");
        assert_eq!(claims["jti"], "jti-1");
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_600u64);

        // Verify with ring's PSS-SHA256 verifier over the RSA public key.
        let signing_key = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
        let spki = signing_key.public_key().unwrap();
        let spki = spki.as_ref();
        // SPKI of a 2048-bit RSA key: SEQUENCE(4) AlgorithmIdentifier(15) BIT STRING(4) 00.
        assert_eq!((spki[19], spki[23]), (0x03, 0x00));
        let public_key = &spki[24..];
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let (_, verifiers) = algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == SignatureScheme::RSA_PSS_SHA256)
            .unwrap();
        let signature = base64url_decode(parts[2]);
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(verifiers.iter().any(|v| {
            v.verify_signature(public_key, signed.as_bytes(), &signature)
                .is_ok()
        }));
        let tampered = format!("{}.{}x", parts[0], parts[1]);
        assert!(verifiers.iter().all(|v| {
            v.verify_signature(public_key, tampered.as_bytes(), &signature)
                .is_err()
        }));
    }

    #[test]
    fn missing_files_are_config_errors_naming_the_file() {
        let err = signed_assertion(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
            "app",
            "https://x/token",
        )
        .unwrap_err();
        match err {
            GraphError::Config(m) => assert!(m.contains("/nonexistent/cert.pem"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
