//! The app-only access token (OAuth 2.0 client credentials, GRAPH.md §7): fetched from
//! the tenant's token endpoint, cached, shared by concurrent requests (one fetch at a
//! time) and refreshed before it expires without stalling requests that hold a valid
//! token. It never logs or returns a token or a secret.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::assertion::{certificate_not_after, signed_assertion};
use super::error::GraphError;
use super::settings::Credential;
use crate::metrics::GraphMetrics;

/// Form fields of a token request, and the secret to scrub from error text.
type CredentialForm = (Vec<(&'static str, String)>, Option<String>);

/// Refresh when less than this much lifetime is left (Entra tokens live 60-90 minutes).
const REFRESH_MARGIN_MAX: Duration = Duration::from_secs(5 * 60);
/// After a failed early refresh, keep using the old token this long before trying again.
const REFRESH_RETRY_PAUSE: Duration = Duration::from_secs(10);
/// RFC 7523 §2.2 / GRAPH.md §7: the client-assertion type for a certificate credential.
const JWT_BEARER_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A bearer token and when it stops working. Debug never shows the token.
#[derive(Clone)]
pub(crate) struct AccessToken {
    pub(crate) value: Arc<str>,
    pub(crate) expires_at: Instant,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Clone)]
struct CachedToken {
    token: AccessToken,
    /// From this instant on, the next caller tries to fetch a new token.
    refresh_after: Instant,
}

/// Fetches and caches the access token. One per `GraphClient`.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    scope: String,
    tenant_id: String,
    client_id: String,
    credential: Credential,
    request_timeout: Duration,
    /// The current token; locked only to read or replace it, never across a fetch.
    cache: std::sync::Mutex<Option<CachedToken>>,
    /// Held across a fetch, so callers without a valid token wait for one fetch instead of
    /// each starting their own, and only one early refresh runs at a time.
    fetching: Mutex<()>,
    metrics: GraphMetrics,
}

/// How early to refresh a token that lives `lifetime`: five minutes, or a tenth of the
/// lifetime for short-lived tokens.
fn refresh_margin(lifetime: Duration) -> Duration {
    REFRESH_MARGIN_MAX.min(lifetime / 10)
}

impl TokenSource {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        scope: String,
        tenant_id: String,
        client_id: String,
        credential: Credential,
        request_timeout: Duration,
    ) -> Self {
        TokenSource {
            http,
            token_url,
            scope,
            tenant_id,
            client_id,
            credential,
            request_timeout,
            cache: std::sync::Mutex::new(None),
            fetching: Mutex::new(()),
            metrics: GraphMetrics::default(),
        }
    }

    /// Counts token requests (and their outcome, for `/healthz`) into `metrics`.
    pub(crate) fn recording(mut self, metrics: GraphMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub(crate) fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A token valid now. Fetches one if none is cached or the cached one expired (callers
    /// without a valid token wait for that one fetch). When the token is close to expiry,
    /// one caller refreshes it early while every other caller goes on with the still-valid
    /// token at once; if the early refresh fails, the old token is used until it expires
    /// (a refresh failure must not fail or stall searches).
    pub(crate) async fn get(&self, deadline: Instant) -> Result<AccessToken, GraphError> {
        if let Some(cached) = self.cached() {
            let now = Instant::now();
            if now < cached.refresh_after {
                return Ok(cached.token);
            }
            if now < cached.token.expires_at {
                return Ok(self.refresh_early(cached.token, deadline).await);
            }
        }
        let _fetching = tokio::time::timeout_at(deadline, self.fetching.lock())
            .await
            .map_err(|_| {
                GraphError::Timeout(
                    "the time limit passed while waiting for an access token".into(),
                )
            })?;
        // The fetch this caller waited for may have stored a token.
        if let Some(cached) = self.cached()
            && Instant::now() < cached.token.expires_at
        {
            return Ok(cached.token);
        }
        self.store(None);
        let fresh = self.fetch(deadline, self.request_timeout).await?;
        let token = fresh.token.clone();
        self.store(Some(fresh));
        Ok(token)
    }

    /// The early refresh of a still-valid `current` token: the caller that wins the fetch
    /// lock refreshes (spending at most half its remaining time), every other caller gets
    /// `current` without waiting.
    async fn refresh_early(&self, current: AccessToken, deadline: Instant) -> AccessToken {
        let Ok(_fetching) = self.fetching.try_lock() else {
            return current;
        };
        // Another caller may have refreshed between our look at the cache and the lock.
        if let Some(cached) = self.cached()
            && !Arc::ptr_eq(&cached.token.value, &current.value)
            && Instant::now() < cached.token.expires_at
        {
            return cached.token;
        }
        let budget = self
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()) / 2);
        match self.fetch(deadline, budget).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                self.store(Some(fresh));
                token
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "refreshing the Graph access token failed; using the current one until it expires"
                );
                let mut cache = self.lock_cache();
                if let Some(cached) = cache.as_mut()
                    && Arc::ptr_eq(&cached.token.value, &current.value)
                {
                    cached.refresh_after =
                        (Instant::now() + REFRESH_RETRY_PAUSE).min(cached.token.expires_at);
                }
                current
            }
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<CachedToken>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached(&self) -> Option<CachedToken> {
        self.lock_cache().clone()
    }

    fn store(&self, token: Option<CachedToken>) {
        *self.lock_cache() = token;
    }

    /// Forgets `used` after Graph refused it (401), unless it was already replaced.
    pub(crate) async fn invalidate(&self, used: &AccessToken) {
        let mut cache = self.lock_cache();
        if cache
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.token.value, &used.value))
        {
            *cache = None;
        }
    }

    /// Test hook: makes the cached token due for an early refresh (still valid).
    #[cfg(test)]
    pub(crate) async fn pretend_refresh_due(&self) {
        if let Some(cached) = self.lock_cache().as_mut() {
            cached.refresh_after = Instant::now();
        }
    }

    async fn fetch(&self, deadline: Instant, budget: Duration) -> Result<CachedToken, GraphError> {
        let fetched = self.request_token(deadline, budget).await;
        match &fetched {
            Ok(t) => (self.metrics)
                .token_obtained(t.token.expires_at.saturating_duration_since(Instant::now())),
            Err(e) => self.metrics.token_failed(&e.to_string()),
        }
        fetched
    }

    async fn request_token(
        &self,
        deadline: Instant,
        budget: Duration,
    ) -> Result<CachedToken, GraphError> {
        let now = Instant::now();
        if now >= deadline || budget.is_zero() {
            return Err(GraphError::Timeout(
                "the time limit passed before an access token could be requested".into(),
            ));
        }
        let timeout = budget.min(deadline - now);
        let (form, secret) = self.credential_form()?;
        let started = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout)
            .form(&form)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) if Instant::now() >= deadline => {
                return Err(GraphError::Timeout(format!(
                    "the token endpoint {} did not answer within the time limit ({})",
                    self.token_url,
                    redact(&e.to_string(), secret.as_deref())
                )));
            }
            Err(e) => {
                return Err(GraphError::Unavailable(format!(
                    "the token endpoint {} is unreachable: {}",
                    self.token_url,
                    redact(&error_chain(&e), secret.as_deref())
                )));
            }
        };
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            GraphError::Unavailable(format!(
                "reading the answer of the token endpoint {} failed: {e}",
                self.token_url
            ))
        })?;
        tracing::debug!(
            url = %self.token_url,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "token request"
        );
        if status.is_success() {
            let parsed = parse_token_response(&body).ok_or_else(|| {
                GraphError::Garbage(format!(
                    "the token endpoint {} answered {status} without access_token and expires_in",
                    self.token_url
                ))
            })?;
            let lifetime = Duration::from_secs(parsed.expires_in);
            let expires_at = started + lifetime;
            return Ok(CachedToken {
                token: AccessToken {
                    value: Arc::from(parsed.access_token),
                    expires_at,
                },
                refresh_after: expires_at - refresh_margin(lifetime),
            });
        }
        if status.is_server_error() {
            return Err(GraphError::Unavailable(format!(
                "the token endpoint {} answered {status}",
                self.token_url
            )));
        }
        Err(GraphError::Auth(redact(
            &describe_token_error(status, &body, &self.token_url, &self.tenant_id),
            secret.as_deref(),
        )))
    }

    /// The form fields of a token request, plus the secret (for redaction) if any.
    fn credential_form(&self) -> Result<CredentialForm, GraphError> {
        let mut form = vec![
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
            ("grant_type", "client_credentials".to_string()),
        ];
        let secret = match &self.credential {
            Credential::Secret(s) => Some(s.trim().to_string()),
            Credential::SecretFile(path) => {
                // Read at every fetch so a rotated secret needs no restart.
                let text = std::fs::read_to_string(path).map_err(|e| {
                    GraphError::Config(format!(
                        "cannot read the client secret file {}: {e}",
                        path.display()
                    ))
                })?;
                Some(text.trim().to_string())
            }
            Credential::Certificate {
                cert_file,
                key_file,
            } => {
                let assertion =
                    signed_assertion(cert_file, key_file, &self.client_id, &self.token_url)?;
                if let Ok(not_after) = certificate_not_after(cert_file) {
                    self.metrics.credential_expires_at(not_after);
                }
                form.push((
                    "client_assertion_type",
                    JWT_BEARER_ASSERTION_TYPE.to_string(),
                ));
                form.push(("client_assertion", assertion));
                None
            }
        };
        if let Some(secret) = &secret {
            if secret.is_empty() {
                return Err(GraphError::Config("the client secret is empty".into()));
            }
            form.push(("client_secret", secret.clone()));
        }
        Ok((form, secret))
    }
}

struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

fn parse_token_response(body: &[u8]) -> Option<TokenResponse> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let access_token = json.get("access_token")?.as_str()?.to_string();
    if access_token.is_empty() {
        return None;
    }
    // A number in v2.0 answers; some endpoints send it as a string.
    let expires_in = match json.get("expires_in")? {
        serde_json::Value::Number(n) => n.as_u64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(TokenResponse {
        access_token,
        expires_in,
    })
}

/// An administrator's reading of a refused token request: the AADSTS code, the first
/// line of Entra's description, and a hint for the common causes (GRAPH.md §7).
fn describe_token_error(
    status: reqwest::StatusCode,
    body: &[u8],
    token_url: &str,
    tenant_id: &str,
) -> String {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let error = field("error").unwrap_or_else(|| "no error code".into());
    let description = field("error_description").unwrap_or_default();
    let first_line = description.lines().next().unwrap_or("").trim().to_string();
    let aadsts = json
        .as_ref()
        .and_then(|j| j.get("error_codes"))
        .and_then(|c| c.get(0))
        .and_then(|c| c.as_u64())
        .or_else(|| aadsts_from_description(&first_line));
    let mut message =
        format!("the token endpoint {token_url} refused the credential (HTTP {status}, {error}");
    if let Some(code) = aadsts {
        message.push_str(&format!(", AADSTS{code}"));
    }
    message.push(')');
    if !first_line.is_empty() {
        message.push_str(": ");
        message.push_str(&first_line);
    }
    let hint = match aadsts {
        Some(7000215) => Some(
            "the client secret is wrong; configure the secret's Value, not its Secret ID"
                .to_string(),
        ),
        Some(7000222) => Some(
            "the client secret has expired; create a new one in the app registration".to_string(),
        ),
        Some(700016) => Some(format!(
            "no application with this client_id exists in tenant {tenant_id}; check client_id and tenant_id"
        )),
        Some(90002) => Some(format!("tenant {tenant_id} was not found; check tenant_id")),
        Some(700027) => Some(
            "the assertion signature is invalid; upload this certificate to the app registration"
                .to_string(),
        ),
        _ => None,
    };
    if let Some(hint) = hint {
        message.push_str(" — hint: ");
        message.push_str(&hint);
    }
    message
}

fn aadsts_from_description(text: &str) -> Option<u64> {
    let rest = &text[text.find("AADSTS")? + "AADSTS".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A reqwest error with its sources ("error sending request: connection refused").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// Removes the secret from text that came from outside (a defence: Entra does not echo
/// secrets, but a proxy or an emulator might).
fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() => text.replace(s, "<redacted>"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_is_five_minutes_or_a_tenth_of_short_lifetimes() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3599)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(600)),
            Duration::from_secs(60)
        );
        assert_eq!(refresh_margin(Duration::from_secs(0)), Duration::ZERO);
    }

    #[test]
    fn token_response_accepts_number_or_string_lifetime() {
        let a = parse_token_response(
            br#"{"token_type":"Bearer","expires_in":3599,"access_token":"t"}"#,
        )
        .unwrap();
        assert_eq!((a.access_token.as_str(), a.expires_in), ("t", 3599));
        let b = parse_token_response(br#"{"expires_in":"60","access_token":"t"}"#).unwrap();
        assert_eq!(b.expires_in, 60);
        assert!(parse_token_response(br#"{"access_token":"t"}"#).is_none());
        assert!(parse_token_response(br#"{"access_token":"","expires_in":1}"#).is_none());
        assert!(parse_token_response(b"<html>").is_none());
    }

    #[test]
    fn token_errors_name_the_aadsts_code_and_hint() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}"#;
        let m = describe_token_error(
            reqwest::StatusCode::UNAUTHORIZED,
            body,
            "https://l/t",
            "ten",
        );
        assert!(m.contains("AADSTS7000215"), "{m}");
        assert!(m.contains("invalid_client"), "{m}");
        assert!(m.contains("Secret ID"), "{m}");
        assert!(!m.contains("Trace ID"), "{m}");

        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'x' are expired."}"#;
        let m = describe_token_error(reqwest::StatusCode::BAD_REQUEST, body, "u", "ten");
        assert!(m.contains("AADSTS7000222") && m.contains("expired"), "{m}");

        let body = br#"{"error":"unauthorized_client","error_description":"AADSTS700016: Application not found","error_codes":[700016]}"#;
        let m = describe_token_error(reqwest::StatusCode::BAD_REQUEST, body, "u", "ten-1");
        assert!(m.contains("ten-1") && m.contains("client_id"), "{m}");

        let m = describe_token_error(reqwest::StatusCode::FORBIDDEN, b"nope", "u", "t");
        assert!(m.contains("403"), "{m}");
    }

    #[test]
    fn redact_removes_the_secret() {
        assert_eq!(redact("a s3cr3t b", Some("s3cr3t")), "a <redacted> b");
        assert_eq!(redact("abc", Some("")), "abc");
        assert_eq!(redact("abc", None), "abc");
    }

    /// A token source against the in-tree emulator's token endpoint.
    fn source_for(emu: &graph_emulator::EmulatorHandle) -> TokenSource {
        let _ = rustls::crypto::ring::default_provider().install_default();
        TokenSource::new(
            reqwest::Client::new(),
            format!(
                "{}/{}/oauth2/v2.0/token",
                emu.base_url(),
                graph_emulator::SAMPLE_TENANT_ID
            ),
            format!("{}/.default", emu.base_url()),
            graph_emulator::SAMPLE_TENANT_ID.to_string(),
            graph_emulator::SAMPLE_CLIENT_ID.to_string(),
            Credential::Secret(graph_emulator::SAMPLE_CLIENT_SECRET.to_string()),
            Duration::from_secs(5),
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_slow_refresh_does_not_stall_callers_holding_a_valid_token() {
        let emu = graph_emulator::start(
            graph_emulator::Tenant::sample(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let source = Arc::new(source_for(&emu));
        let deadline = || Instant::now() + Duration::from_secs(10);
        let old = source.get(deadline()).await.unwrap();
        assert_eq!(emu.token_requests(), 1);

        source.pretend_refresh_due().await;
        emu.set_token_delay(Duration::from_millis(1500));
        let refresher = {
            let source = source.clone();
            tokio::spawn(async move { source.get(deadline()).await })
        };
        // Let the refresh start and hold whatever it holds.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(emu.token_requests(), 2, "the early refresh has started");

        let started = Instant::now();
        let callers: Vec<_> = (0..6)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move {
                    let token = source.get(deadline()).await;
                    (token, Instant::now())
                })
            })
            .collect();
        for caller in callers {
            let (token, done) = caller.await.unwrap();
            let token = token.unwrap();
            assert!(
                Arc::ptr_eq(&token.value, &old.value),
                "a caller during the refresh gets the valid cached token"
            );
            let waited = done - started;
            assert!(
                waited < Duration::from_millis(500),
                "a caller holding a valid token waited {waited:?} for the refresh"
            );
        }
        assert_eq!(emu.token_requests(), 2, "one refresh at a time");

        let fresh = refresher.await.unwrap().unwrap();
        assert!(
            !Arc::ptr_eq(&fresh.value, &old.value),
            "the refresh replaced the token"
        );
        emu.set_token_delay(Duration::ZERO);
        let after = source.get(deadline()).await.unwrap();
        assert!(
            Arc::ptr_eq(&after.value, &fresh.value),
            "the fresh token is cached"
        );
        assert_eq!(emu.token_requests(), 2);
        emu.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_refused_refresh_keeps_the_valid_token_and_an_expired_one_fails_with_the_aadsts_code()
    {
        let emu = graph_emulator::start(
            graph_emulator::Tenant::sample(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        emu.set_token_lifetime_secs(2);
        let source = source_for(&emu);
        let deadline = || Instant::now() + Duration::from_secs(5);
        let old = source.get(deadline()).await.unwrap();
        emu.refuse_token_requests(true);
        source.pretend_refresh_due().await;
        let kept = source.get(deadline()).await.unwrap();
        assert!(Arc::ptr_eq(&kept.value, &old.value));
        assert_eq!(emu.token_requests(), 2, "the refresh was tried");
        tokio::time::sleep_until(old.expires_at + Duration::from_millis(50)).await;
        let err = source.get(deadline()).await.unwrap_err();
        assert!(matches!(err, GraphError::Auth(_)), "{err:?}");
        assert!(err.to_string().contains("AADSTS7000222"), "{err}");
        emu.shutdown().await;
    }
}
