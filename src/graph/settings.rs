//! What the Graph client needs to know: tenant, app, credential and the two base URLs,
//! and the one parser of each (the base URLs must be safe to send a credential to,
//! CONTRACT §3). It does not read the TOML file; `config` calls these parsers.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::error::GraphError;

/// How the app proves its identity to the token endpoint (GRAPH.md §7).
#[derive(Clone, PartialEq, Eq)]
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

/// Everything the client needs; `GraphClient::new` validates it with the parsers below.
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// no query, fragment or user info.
fn parse_url(raw: &str) -> Result<Url, String> {
    let raw = raw.trim();
    let url = Url::parse(raw)
        .map_err(|e| format!("`{raw}` is not an absolute URL (https://host): {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "`{raw}`: plain http:// is accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1); use https://"
            ));
        }
        other => {
            return Err(format!(
                "`{raw}`: scheme {other:?} is not supported; use https://"
            ));
        }
    }
    if url.host().is_none() {
        return Err(format!("`{raw}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{raw}` must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry user information".to_string());
    }
    Ok(url)
}

/// The one parser of `login_url` and `graph_url`: the URL as the client will use it,
/// without a trailing slash.
pub fn parse_base_url(raw: &str) -> Result<String, String> {
    parse_url(raw).map(|url| base_prefix(&url))
}

/// `parse_url` for the client, naming the setting in the error.
pub(crate) fn validated_base_url(key: &str, raw: &str) -> Result<Url, GraphError> {
    parse_url(raw).map_err(|e| GraphError::Config(format!("{key}: {e}")))
}

/// The one parser of `tenant_id`: a tenant GUID or domain name, which goes into the
/// token URL's path unescaped, so nothing outside letters, digits, `-` and `.`.
pub fn parse_tenant_id(raw: &str) -> Result<String, String> {
    parse_id(
        raw,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'),
        "must be a tenant GUID or domain name (letters, digits, '-', '.')",
    )
}

/// The one parser of `client_id`: the app registration's id (a GUID), sent in a form
/// field; nothing that needs escaping.
pub fn parse_client_id(raw: &str) -> Result<String, String> {
    parse_id(
        raw,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'),
        "must be a GUID (letters, digits, '-', '.', '_')",
    )
}

/// A non-empty id made of `allowed` characters only, trimmed.
fn parse_id(raw: &str, allowed: fn(char) -> bool, shape: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("must not be empty".to_string());
    }
    if !text.chars().all(allowed) {
        return Err(format!("`{text}` {shape}"));
    }
    Ok(text.to_string())
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
    fn tenant_and_client_ids_are_what_goes_into_urls_and_forms() {
        for ok in [
            "contoso.onmicrosoft.com",
            " 72f988bf-86f1-41af-91ab-2d7cd011db47 ",
        ] {
            assert_eq!(parse_tenant_id(ok).unwrap(), ok.trim());
        }
        for bad in ["", "  ", "a/b", "con_toso", "a b", "tenant?x"] {
            assert!(parse_tenant_id(bad).is_err(), "{bad}");
        }
        assert!(parse_client_id("11111111-2222-3333-4444-555555555555").is_ok());
        assert!(parse_client_id("a/b").is_err());
        assert!(parse_client_id(" ").is_err());
    }

    #[test]
    fn parse_base_url_gives_the_prefix_the_client_uses() {
        assert_eq!(
            parse_base_url(" HTTPS://Graph.Example/ ").unwrap(),
            "https://graph.example"
        );
        assert_eq!(
            parse_base_url("http://127.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        let e = parse_base_url("graph.microsoft.com").unwrap_err();
        assert!(e.contains("absolute URL"), "{e}");
        assert!(parse_base_url("https://graph.microsoft.com:99999").is_err());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let c = Credential::Secret("s3cr3t-value".into());
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
