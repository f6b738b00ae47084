//! What the Graph client needs to know: tenant, app, credential and the two base URLs,
//! and the check that those URLs are safe to send a credential to (CONTRACT §3). It does
//! not read the TOML file; `config` builds these settings.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::error::GraphError;

/// How the app proves its identity to the token endpoint (GRAPH.md §7).
#[derive(Clone)]
pub enum Credential {
    /// A client secret given inline.
    Secret(String),
    /// A file holding the client secret; re-read at every token fetch so a rotated
    /// secret is picked up without a restart. Surrounding whitespace is ignored.
    SecretFile(PathBuf),
    /// A certificate credential: a signed client-assertion JWT (PEM files, RSA key).
    Certificate {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
}

impl fmt::Debug for Credential {
    /// Never prints the secret itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Secret(<redacted>)"),
            Credential::SecretFile(path) => f.debug_tuple("SecretFile").field(path).finish(),
            Credential::Certificate {
                cert_file,
                key_file,
            } => f
                .debug_struct("Certificate")
                .field("cert_file", cert_file)
                .field("key_file", key_file)
                .finish(),
        }
    }
}

/// Everything the client needs; `GraphClient::new` validates it.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// e.g. `https://login.microsoftonline.com`; token endpoint is
    /// `{login_url}/{tenant_id}/oauth2/v2.0/token`.
    pub login_url: String,
    /// e.g. `https://graph.microsoft.com`; requests go to `{graph_url}/v1.0/...` and the
    /// token scope is `{graph_url}/.default`.
    pub graph_url: String,
    /// Upper bound for one HTTP request (the operation's deadline may cut it shorter).
    pub request_timeout: Duration,
}

/// Parses a base URL and refuses anything a credential must not be sent to: only
/// `https`, or `http` to a loopback host (CONTRACT §3: tests and local emulators), and
/// no query, fragment or user info. The result has no trailing slash.
pub(crate) fn validated_base_url(key: &str, raw: &str) -> Result<Url, GraphError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| GraphError::Config(format!("{key} = {raw:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(GraphError::Config(format!(
                "{key} = {raw:?}: plain http:// is accepted only for loopback hosts; use https://"
            )));
        }
        other => {
            return Err(GraphError::Config(format!(
                "{key} = {raw:?}: scheme {other:?} is not supported; use https://"
            )));
        }
    }
    if url.host().is_none() {
        return Err(GraphError::Config(format!("{key} = {raw:?} has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(GraphError::Config(format!(
            "{key} = {raw:?} must not have a query or fragment"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(GraphError::Config(format!(
            "{key} must not carry user information"
        )));
    }
    Ok(url)
}

/// The base URL as a string prefix without a trailing slash, ready for `{base}/path`.
pub(crate) fn base_prefix(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // IPv6 hosts come bracketed: `[::1]`.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for ok in [
            "https://graph.microsoft.com",
            "https://login.microsoftonline.us/",
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://localhost:1234/",
            "http://[::1]:9000",
        ] {
            assert!(validated_base_url("graph_url", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn http_to_other_hosts_and_odd_urls_are_refused() {
        for bad in [
            "http://graph.microsoft.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "ftp://127.0.0.1",
            "graph.microsoft.com",
            "https://graph.microsoft.com/?x=1",
            "https://user:pw@graph.microsoft.com",
        ] {
            let err = validated_base_url("graph_url", bad).err();
            assert!(matches!(err, Some(GraphError::Config(_))), "{bad}: {err:?}");
        }
    }

    #[test]
    fn base_prefix_has_no_trailing_slash() {
        let url = validated_base_url("k", "https://graph.microsoft.us/").unwrap();
        assert_eq!(base_prefix(&url), "https://graph.microsoft.us");
        let url = validated_base_url("k", "http://127.0.0.1:81/emu/").unwrap();
        assert_eq!(base_prefix(&url), "http://127.0.0.1:81/emu");
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let c = Credential::Secret("s3cr3t-value".into());
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
