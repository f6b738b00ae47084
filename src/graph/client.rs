//! The Graph HTTP client: one GET per collection page with the bearer token, the query's
//! headers and a per-request timeout bounded by the operation's deadline; retries for
//! 401, 429/503 (Retry-After), 5xx and connection errors. It does not build queries.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use super::error::GraphError;
use super::ids::{random_fraction, random_uuid};
use super::request::GraphRequest;
use super::settings::{
    GraphSettings, base_prefix, parse_client_id, parse_tenant_id, validated_base_url,
};
use super::token::{AccessToken, TokenSource, error_chain};
use crate::metrics::GraphMetrics;

/// Backoff for 429/503 without `Retry-After` (GRAPH.md §6: "use exponential backoff
/// when the header is absent"); also the most throttling retries per page.
const THROTTLE_BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// Pause before the one retry after a 500/502/504 or a connection error.
const QUICK_RETRY_DELAY: Duration = Duration::from_millis(200);
/// `check_online` allows this many request timeouts in all (token plus one GET).
const CHECK_ONLINE_TIMEOUTS: u32 = 3;
/// How much of an unparseable error body goes into a message.
const BODY_EXCERPT_CHARS: usize = 200;

/// One page of a Graph collection.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphPage {
    /// The objects of the `value` array, as Graph sent them.
    pub items: Vec<serde_json::Value>,
    /// `@odata.nextLink`: the full URL of the next page, absent on the last page.
    pub next_link: Option<String>,
    /// `@odata.deltaLink`: on the last page of a delta round, the URL that returns the
    /// changes since (GRAPH.md §10a).
    pub delta_link: Option<String>,
}

/// A cheaply clonable handle to the Graph client; clones share the token cache, the
/// connection pool and the request counter.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    http: reqwest::Client,
    graph_base: Url,
    graph_prefix: String,
    tokens: TokenSource,
    request_timeout: Duration,
    requests_sent: AtomicU64,
    metrics: GraphMetrics,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph_url", &self.inner.graph_prefix)
            .field("token_url", &self.inner.tokens.token_url())
            .field("requests_sent", &self.requests_sent())
            .finish_non_exhaustive()
    }
}

/// What the retry loop does after one attempt.
enum Attempt {
    Done(Result<GraphPage, GraphError>),
    /// Try again after this pause (already checked against the deadline).
    RetryAfter(Duration),
}

/// How many of each kind of retry one page has used.
#[derive(Default)]
struct RetryBudget {
    token_refreshed: bool,
    quick_retry_used: bool,
    throttle_retries: usize,
}

impl RetryBudget {
    fn total(&self) -> usize {
        usize::from(self.token_refreshed)
            + usize::from(self.quick_retry_used)
            + self.throttle_retries
    }
}

impl GraphClient {
    /// Validates the settings (CONTRACT §3: https, or http only for loopback hosts) and
    /// builds the HTTP client. Contacts nothing.
    pub fn new(settings: GraphSettings) -> Result<GraphClient, GraphError> {
        GraphClient::recording(settings, GraphMetrics::default())
    }

    /// `new`, counting requests, throttling and tokens into `metrics`.
    pub fn recording(
        settings: GraphSettings,
        metrics: GraphMetrics,
    ) -> Result<GraphClient, GraphError> {
        // reqwest is built without a default crypto provider (CRATES.md §2); installing
        // fails harmlessly when another part of the process already did it.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let login_base = validated_base_url("login_url", &settings.login_url)?;
        let graph_base = validated_base_url("graph_url", &settings.graph_url)?;
        let tenant_id = parse_tenant_id(&settings.tenant_id)
            .map_err(|e| GraphError::Config(format!("tenant_id: {e}")))?;
        let client_id = parse_client_id(&settings.client_id)
            .map_err(|e| GraphError::Config(format!("client_id: {e}")))?;
        if settings.request_timeout.is_zero() {
            return Err(GraphError::Config(
                "the Graph request timeout must be above zero".into(),
            ));
        }
        let http = reqwest::Client::builder()
            // A redirect could carry the bearer token elsewhere; Graph does not redirect
            // collection queries.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.request_timeout)
            .user_agent(concat!("ldap-graph-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Config(format!("cannot build the HTTP client: {e}")))?;
        let graph_prefix = base_prefix(&graph_base);
        let token_url = format!("{}/{tenant_id}/oauth2/v2.0/token", base_prefix(&login_base));
        let tokens = TokenSource::new(
            http.clone(),
            token_url,
            format!("{graph_prefix}/.default"),
            tenant_id,
            client_id,
            settings.credential,
            settings.request_timeout,
        )
        .recording(metrics.clone());
        Ok(GraphClient {
            inner: Arc::new(ClientInner {
                http,
                graph_base,
                graph_prefix,
                tokens,
                request_timeout: settings.request_timeout,
                requests_sent: AtomicU64::new(0),
                metrics,
            }),
        })
    }

    /// The first page of `q`.
    pub async fn first_page(
        &self,
        q: &GraphRequest,
        deadline: Instant,
    ) -> Result<GraphPage, GraphError> {
        let url = format!("{}{}", self.inner.graph_prefix, q.path_and_query);
        self.get_page(&url, &q.headers, &q.shown, deadline).await
    }

    /// The page at `next_link` (an `@odata.nextLink` of an earlier page of `q`), sent
    /// with `q`'s headers. The link must point at the configured Graph origin, so a
    /// forged link cannot carry the token elsewhere.
    pub async fn next_page(
        &self,
        next_link: &str,
        q: &GraphRequest,
        deadline: Instant,
    ) -> Result<GraphPage, GraphError> {
        let shown = self.checked_link(next_link, "@odata.nextLink")?;
        self.get_page(next_link, &q.headers, &shown, deadline).await
    }

    /// The first page of a request the caller built (`/v1.0/...`, encoded), without
    /// extra headers: for requests that are not collection queries, such as the delta
    /// rounds of GRAPH.md §10a.
    pub async fn get_path(
        &self,
        path_and_query: &str,
        deadline: Instant,
    ) -> Result<GraphPage, GraphError> {
        let url = format!("{}{path_and_query}", self.inner.graph_prefix);
        self.get_page(&url, &[], &request_line(path_and_query), deadline)
            .await
    }

    /// The page at a link Graph returned (`@odata.nextLink` or `@odata.deltaLink` of an
    /// earlier `get_path` page), checked like `next_page`'s.
    pub async fn follow_link(
        &self,
        link: &str,
        deadline: Instant,
    ) -> Result<GraphPage, GraphError> {
        let shown = self.checked_link(link, "a link from Graph")?;
        self.get_page(link, &[], &shown, deadline).await
    }

    /// The decoded request line of `link`, or an error when it is not a URL of the
    /// configured Graph origin.
    fn checked_link(&self, link: &str, what: &str) -> Result<String, GraphError> {
        let url = Url::parse(link)
            .map_err(|e| GraphError::Garbage(format!("{what} is not a URL ({e})")))?;
        if url.origin() != self.inner.graph_base.origin() {
            return Err(GraphError::Garbage(format!(
                "{what} points at {}, not at the configured Graph {}",
                url.origin().ascii_serialization(),
                self.inner.graph_base.origin().ascii_serialization()
            )));
        }
        Ok(request_line(link))
    }

    /// Fetches a token and asks Graph for one user id: a human report on success, the
    /// error (naming the cause) otherwise. For `check` and health probes.
    pub async fn check_online(&self) -> Result<String, GraphError> {
        let deadline = Instant::now() + self.inner.request_timeout * CHECK_ONLINE_TIMEOUTS;
        let token = self.inner.tokens.get(deadline).await?;
        let valid_for = token.expires_at.saturating_duration_since(Instant::now());
        let path = "/v1.0/users?$top=1&$select=id";
        let url = format!("{}{path}", self.inner.graph_prefix);
        let started = Instant::now();
        let page = self
            .get_page(&url, &[], &format!("GET {path}"), deadline)
            .await?;
        Ok(format!(
            "access token from {}: ok (valid for {} s); GET {}{path}: ok in {} ms ({} user(s) returned)",
            self.inner.tokens.token_url(),
            valid_for.as_secs(),
            self.inner.graph_prefix,
            started.elapsed().as_millis(),
            page.items.len()
        ))
    }

    /// The configured per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// Obtains an access token now (or confirms the cached one), within one request timeout.
    pub async fn fetch_token(&self) -> Result<(), GraphError> {
        let deadline = Instant::now() + self.inner.request_timeout;
        self.inner.tokens.get(deadline).await.map(|_| ())
    }

    /// Data requests sent to Graph so far, retries included (token requests excluded).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests_sent.load(Ordering::Relaxed)
    }

    /// GETs one collection page, retrying as CONTRACT §6 and GRAPH.md §6 describe.
    async fn get_page(
        &self,
        url: &str,
        headers: &[(&'static str, &'static str)],
        shown: &str,
        deadline: Instant,
    ) -> Result<GraphPage, GraphError> {
        let mut budget = RetryBudget::default();
        loop {
            if Instant::now() >= deadline {
                return Err(GraphError::Timeout(format!(
                    "the time limit passed before {shown} was answered"
                )));
            }
            let token = self.inner.tokens.get(deadline).await?;
            match self
                .attempt(url, headers, shown, deadline, &token, &mut budget)
                .await
            {
                Attempt::Done(result) => return result,
                Attempt::RetryAfter(pause) => tokio::time::sleep(pause).await,
            }
        }
    }

    /// One HTTP attempt and the decision what to do next.
    async fn attempt(
        &self,
        url: &str,
        headers: &[(&'static str, &'static str)],
        shown: &str,
        deadline: Instant,
        token: &AccessToken,
        budget: &mut RetryBudget,
    ) -> Attempt {
        let started = Instant::now();
        let remaining = deadline.saturating_duration_since(started);
        let timeout = self.inner.request_timeout.min(remaining);
        let client_request_id = random_uuid();
        let mut request = self
            .inner
            .http
            .get(url)
            .bearer_auth(&*token.value)
            .header(ACCEPT, "application/json")
            .header("client-request-id", &client_request_id)
            .timeout(timeout);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.inner.requests_sent.fetch_add(1, Ordering::Relaxed);
        let retry = budget.total();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let response_headers = response.headers().clone();
                response
                    .bytes()
                    .await
                    .map(|body| (status, response_headers, body))
            }
            Err(e) => Err(e),
        };
        let (status, response_headers, body) = match outcome {
            Ok(parts) => parts,
            Err(e) => {
                self.inner.metrics.no_answer(url, started.elapsed());
                tracing::debug!(
                    url = %shown,
                    error = %error_chain(&e),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    retry,
                    %client_request_id,
                    "graph request failed"
                );
                if Instant::now() >= deadline {
                    return Attempt::Done(Err(GraphError::Timeout(format!(
                        "the time limit passed while waiting for {shown}"
                    ))));
                }
                let cause = if e.is_timeout() {
                    format!("no answer within {} s", timeout.as_secs_f32())
                } else {
                    error_chain(&e)
                };
                return self.quick_retry_or(budget, deadline, || {
                    GraphError::Unavailable(format!("{shown} failed: {cause}"))
                });
            }
        };
        (self.inner.metrics).response(url, status.as_u16(), &response_headers, started.elapsed());
        tracing::debug!(
            url = %shown,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            resource_units = response_headers
                .get("x-ms-resource-unit")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            retry,
            %client_request_id,
            "graph request"
        );

        if status.is_success() {
            return Attempt::Done(parse_page(&body, status, &response_headers, shown));
        }
        match status {
            StatusCode::UNAUTHORIZED if !budget.token_refreshed => {
                // CONTRACT §6: a 401 makes the gateway fetch a new token once and retry.
                budget.token_refreshed = true;
                self.inner.tokens.invalidate(token).await;
                Attempt::RetryAfter(Duration::ZERO)
            }
            StatusCode::UNAUTHORIZED => {
                let (code, message) = graph_error_body(status, &body);
                Attempt::Done(Err(GraphError::Auth(format!(
                    "Graph refused a freshly fetched access token for {shown} (HTTP 401, {code}: {message})"
                ))))
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                self.throttled(status, &response_headers, shown, deadline, budget)
            }
            StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::GATEWAY_TIMEOUT => self.quick_retry_or(budget, deadline, || {
                let (code, message) = graph_error_body(status, &body);
                GraphError::Unavailable(format!(
                    "{shown} answered HTTP {status} ({code}: {message})"
                ))
            }),
            _ if status.is_client_error() || status.is_server_error() => {
                let (code, message) = graph_error_body(status, &body);
                Attempt::Done(Err(GraphError::Rejected {
                    status: status.as_u16(),
                    code,
                    message,
                }))
            }
            _ => Attempt::Done(Err(GraphError::Garbage(format!(
                "{shown} answered HTTP {status}, which is not a collection page"
            )))),
        }
    }

    /// The one quick retry after a 5xx or a connection error, or `error` once it is used
    /// (or would end after the deadline).
    fn quick_retry_or(
        &self,
        budget: &mut RetryBudget,
        deadline: Instant,
        error: impl FnOnce() -> GraphError,
    ) -> Attempt {
        if !budget.quick_retry_used && Instant::now() + QUICK_RETRY_DELAY < deadline {
            budget.quick_retry_used = true;
            return Attempt::RetryAfter(QUICK_RETRY_DELAY);
        }
        Attempt::Done(Err(error()))
    }

    /// 429 and 503: wait `Retry-After` (or back off) and retry, but only when the wait
    /// ends before the deadline (GRAPH.md §6); otherwise give up at once.
    fn throttled(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        shown: &str,
        deadline: Instant,
        budget: &mut RetryBudget,
    ) -> Attempt {
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let make_error = |why: &str| {
            let advice = match retry_after {
                Some(secs) => format!("Retry-After {secs} s"),
                None => "no Retry-After".to_string(),
            };
            let text = format!("{shown} answered HTTP {status} ({advice}); {why}");
            if status == StatusCode::TOO_MANY_REQUESTS {
                GraphError::Throttled(text)
            } else {
                GraphError::Unavailable(text)
            }
        };
        let Some(backoff) = THROTTLE_BACKOFF.get(budget.throttle_retries) else {
            return Attempt::Done(Err(make_error(&format!(
                "gave up after {} retries",
                budget.throttle_retries
            ))));
        };
        let wait = match retry_after {
            Some(secs) => Duration::from_secs(secs),
            None => backoff.mul_f64(1.0 + 0.25 * random_fraction()),
        };
        if Instant::now() + wait >= deadline {
            return Attempt::Done(Err(make_error(
                "waiting would outlast the operation's time limit",
            )));
        }
        budget.throttle_retries += 1;
        self.inner.metrics.retry_wait(wait);
        Attempt::RetryAfter(wait)
    }
}

/// A 2xx body as a page: a JSON object with a `value` array (GRAPH.md §4).
fn parse_page(
    body: &[u8],
    status: StatusCode,
    headers: &HeaderMap,
    shown: &str,
) -> Result<GraphPage, GraphError> {
    let mut json: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type");
        GraphError::Garbage(format!(
            "{shown} answered HTTP {status} with a body that is not JSON ({content_type}, {} bytes: {e})",
            body.len()
        ))
    })?;
    // Moved out, not cloned: a page of 999 users is most of the request's work otherwise.
    let items = match json.get_mut("value").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(items)) => items,
        _ => {
            return Err(GraphError::Garbage(format!(
                "{shown} answered HTTP {status} with JSON that has no `value` array"
            )));
        }
    };
    let link = |name: &str| match json.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(link)) => Ok(Some(link.clone())),
        Some(_) => Err(GraphError::Garbage(format!(
            "{shown} answered with an {name} that is not a string"
        ))),
    };
    let next_link = link("@odata.nextLink")?;
    let delta_link = link("@odata.deltaLink")?;
    Ok(GraphPage {
        items,
        next_link,
        delta_link,
    })
}

/// Graph's `error.code` and `error.message` (GRAPH.md §6), or the HTTP reason and an
/// excerpt of the body when it is not Graph's error envelope.
fn graph_error_body(status: StatusCode, body: &[u8]) -> (String, String) {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().and_then(|j| j.get("error"));
    let text = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match (text("code"), text("message")) {
        (Some(code), message) => (code, message.unwrap_or_default()),
        (None, _) => {
            let code = status
                .canonical_reason()
                .unwrap_or("unknown status")
                .to_string();
            let excerpt: String = String::from_utf8_lossy(body)
                .chars()
                .take(BODY_EXCERPT_CHARS)
                .collect();
            let message = if excerpt.trim().is_empty() {
                "empty body".to_string()
            } else {
                excerpt.trim().to_string()
            };
            (code, message)
        }
    }
}

/// How a GET of `target` (a path or a URL, percent-encoded) reads in logs and errors.
fn request_line(target: &str) -> String {
    format!(
        "GET {}",
        percent_encoding::percent_decode_str(target).decode_utf8_lossy()
    )
}

#[cfg(test)]
mod tests {
    //! Over real sockets: a small axum stub on 127.0.0.1 stands in for the token
    //! endpoint and `/v1.0/users`; each test scripts its answers by call number.

    use super::*;
    use crate::graph::settings::Credential;
    use axum::body::Body;
    use axum::http::{HeaderMap as StubHeaders, Response, Uri};
    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::AtomicUsize;

    const SECRET: &str = "SUPER-SECRET-value-42";

    /// What the stub saw of one `/v1.0/users` request.
    #[derive(Debug, Clone)]
    struct SeenRequest {
        authorization: String,
        consistency_level: Option<String>,
        client_request_id: Option<String>,
        query: String,
    }

    type TokenScript = Arc<dyn Fn(usize, &str) -> Response<Body> + Send + Sync>;
    type UsersScript = Arc<dyn Fn(usize, &str) -> Response<Body> + Send + Sync>;

    struct Stub {
        base: String,
        token_calls: Arc<AtomicUsize>,
        user_calls: Arc<AtomicUsize>,
        seen: Arc<StdMutex<Vec<SeenRequest>>>,
        token_forms: Arc<StdMutex<Vec<String>>>,
    }

    fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<String>) -> Response<Body> {
        let mut builder = Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::from(body.into())).unwrap()
    }

    fn json(status: u16, value: serde_json::Value) -> Response<Body> {
        respond(
            status,
            &[("content-type", "application/json")],
            value.to_string(),
        )
    }

    /// Tokens `tok-0`, `tok-1`, ... valid one hour.
    fn good_tokens() -> TokenScript {
        Arc::new(|n, _form| {
            json(
                200,
                serde_json::json!({"token_type":"Bearer","expires_in":3600,"access_token":format!("tok-{n}")}),
            )
        })
    }

    fn one_user_page() -> UsersScript {
        Arc::new(|_n, _query| json(200, serde_json::json!({"value":[{"id":"u1"}]})))
    }

    async fn start_stub(token: TokenScript, users: UsersScript) -> Stub {
        let token_calls = Arc::new(AtomicUsize::new(0));
        let user_calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let token_forms = Arc::new(StdMutex::new(Vec::new()));
        let app = {
            let token_calls = token_calls.clone();
            let user_calls = user_calls.clone();
            let seen = seen.clone();
            let token_forms = token_forms.clone();
            axum::Router::new()
                .route(
                    "/{tenant}/oauth2/v2.0/token",
                    axum::routing::post(move |form: String| async move {
                        let n = token_calls.fetch_add(1, Ordering::SeqCst);
                        token_forms.lock().unwrap().push(form.clone());
                        token(n, &form)
                    }),
                )
                .route(
                    "/v1.0/users",
                    axum::routing::get(move |headers: StubHeaders, uri: Uri| async move {
                        let n = user_calls.fetch_add(1, Ordering::SeqCst);
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string)
                        };
                        let query = uri.query().unwrap_or("").to_string();
                        seen.lock().unwrap().push(SeenRequest {
                            authorization: header("authorization").unwrap_or_default(),
                            consistency_level: header("consistencylevel"),
                            client_request_id: header("client-request-id"),
                            query: query.clone(),
                        });
                        if query.contains("slow") {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                        users(n, &query)
                    }),
                )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Stub {
            base,
            token_calls,
            user_calls,
            seen,
            token_forms,
        }
    }

    fn settings(login_url: &str, graph_url: &str) -> GraphSettings {
        GraphSettings {
            tenant_id: "contoso.onmicrosoft.com".into(),
            client_id: "app-1".into(),
            credential: Credential::Secret(SECRET.into()),
            login_url: login_url.into(),
            graph_url: graph_url.into(),
            request_timeout: Duration::from_secs(2),
        }
    }

    fn client_for(stub: &Stub) -> GraphClient {
        GraphClient::new(settings(&stub.base, &stub.base)).unwrap()
    }

    fn users_query() -> GraphRequest {
        GraphRequest {
            path_and_query: "/v1.0/users?$select=id,displayName".into(),
            headers: Vec::new(),
            shown: "GET /v1.0/users?$select=id,displayName".into(),
        }
    }

    fn in_secs(secs: f64) -> Instant {
        Instant::now() + Duration::from_secs_f64(secs)
    }

    fn calls(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn token_is_fetched_once_and_shared_by_concurrent_requests() {
        let stub = start_stub(good_tokens(), one_user_page()).await;
        let client = client_for(&stub);
        let q = users_query();
        let page = client.first_page(&q, in_secs(5.0)).await.unwrap();
        assert_eq!(page.items, vec![serde_json::json!({"id":"u1"})]);
        assert_eq!(page.next_link, None);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let client = client.clone();
            let q = q.clone();
            tasks.push(tokio::spawn(async move {
                client.first_page(&q, in_secs(5.0)).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(calls(&stub.token_calls), 1);
        assert_eq!(calls(&stub.user_calls), 9);
        assert_eq!(client.requests_sent(), 9);
        let seen = stub.seen.lock().unwrap().clone();
        assert!(seen.iter().all(|s| s.authorization == "Bearer tok-0"));
        // Each request carries its own client-request-id.
        let ids: std::collections::HashSet<_> = seen
            .iter()
            .map(|s| s.client_request_id.clone().unwrap())
            .collect();
        assert_eq!(ids.len(), 9);
        // The token request was a client-credentials grant for {graph_url}/.default.
        let form = stub.token_forms.lock().unwrap()[0].clone();
        assert!(form.contains("grant_type=client_credentials"), "{form}");
        assert!(form.contains("client_id=app-1"), "{form}");
        assert!(form.contains(&format!("client_secret={SECRET}")), "{form}");
        let scope = format!("{}/.default", stub.base)
            .replace(':', "%3A")
            .replace('/', "%2F");
        assert!(form.contains(&format!("scope={scope}")), "{form}");
    }

    /// Pretends the cached token is close to expiry (still valid).
    async fn age_cached_token(client: &GraphClient) {
        client.inner.tokens.pretend_refresh_due().await;
    }

    #[tokio::test]
    async fn token_near_expiry_is_refreshed_and_a_failed_refresh_keeps_the_old_one() {
        // Token call 1 fails (the endpoint is down); calls 0 and 2 succeed.
        let tokens: TokenScript = Arc::new(|n, _| {
            if n == 1 {
                respond(503, &[], "down")
            } else {
                json(
                    200,
                    serde_json::json!({"expires_in":3600,"access_token":format!("tok-{n}")}),
                )
            }
        });
        let stub = start_stub(tokens, one_user_page()).await;
        let client = client_for(&stub);
        let q = users_query();
        client.first_page(&q, in_secs(5.0)).await.unwrap();
        age_cached_token(&client).await;
        // The refresh fails, the search still succeeds with the old token.
        client.first_page(&q, in_secs(5.0)).await.unwrap();
        assert_eq!(calls(&stub.token_calls), 2);
        // Refresh is not retried on every request right after a failure.
        client.first_page(&q, in_secs(5.0)).await.unwrap();
        assert_eq!(calls(&stub.token_calls), 2);
        age_cached_token(&client).await;
        client.first_page(&q, in_secs(5.0)).await.unwrap();
        assert_eq!(calls(&stub.token_calls), 3);
        let auth: Vec<String> = stub
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.authorization.clone())
            .collect();
        assert_eq!(
            auth,
            [
                "Bearer tok-0",
                "Bearer tok-0",
                "Bearer tok-0",
                "Bearer tok-2"
            ]
        );
    }

    #[tokio::test]
    async fn unauthorized_refetches_the_token_and_retries_once() {
        let users: UsersScript = Arc::new(|n, _| {
            if n == 0 {
                json(
                    401,
                    serde_json::json!({"error":{"code":"InvalidAuthenticationToken","message":"expired"}}),
                )
            } else {
                json(200, serde_json::json!({"value":[]}))
            }
        });
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        let page = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap();
        assert!(page.items.is_empty());
        assert_eq!(calls(&stub.token_calls), 2);
        assert_eq!(client.requests_sent(), 2);
        let seen = stub.seen.lock().unwrap().clone();
        assert_eq!(seen[0].authorization, "Bearer tok-0");
        assert_eq!(seen[1].authorization, "Bearer tok-1");
    }

    #[tokio::test]
    async fn unauthorized_twice_is_an_auth_error() {
        let users: UsersScript = Arc::new(|_, _| {
            json(
                401,
                serde_json::json!({"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure."}}),
            )
        });
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        let err = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap_err();
        match &err {
            GraphError::Auth(m) => assert!(m.contains("InvalidAuthenticationToken"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(calls(&stub.user_calls), 2);
        assert_eq!(calls(&stub.token_calls), 2);
    }

    #[tokio::test]
    async fn throttled_request_waits_retry_after_then_succeeds() {
        let users: UsersScript = Arc::new(|n, _| {
            if n == 0 {
                respond(
                    429,
                    &[("retry-after", "1"), ("content-type", "application/json")],
                    r#"{"error":{"code":"TooManyRequests","message":"Please retry again later."}}"#,
                )
            } else {
                json(200, serde_json::json!({"value":[{"id":"u1"}]}))
            }
        });
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        let started = Instant::now();
        let page = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(client.requests_sent(), 2);
    }

    #[tokio::test]
    async fn throttling_longer_than_the_deadline_fails_at_once_as_busy() {
        let users: UsersScript =
            Arc::new(|_, _| respond(429, &[("retry-after", "30")], "throttled"));
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        let started = Instant::now();
        let err = client
            .first_page(&users_query(), in_secs(2.0))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(1000));
        match &err {
            GraphError::Throttled(m) => {
                assert!(m.contains("429") && m.contains("Retry-After 30"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(calls(&stub.user_calls), 1);
    }

    #[tokio::test]
    async fn service_unavailable_is_retried_then_reported_unavailable() {
        let users: UsersScript = Arc::new(|_, _| respond(503, &[("retry-after", "0")], ""));
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        let err = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap_err();
        match &err {
            GraphError::Unavailable(m) => assert!(m.contains("503"), "{m}"),
            other => panic!("{other:?}"),
        }
        // The first attempt and one retry per backoff step.
        assert_eq!(calls(&stub.user_calls), 1 + THROTTLE_BACKOFF.len());
    }

    #[tokio::test]
    async fn service_unavailable_without_retry_after_does_not_wait_past_the_deadline() {
        let users: UsersScript = Arc::new(|_, _| respond(503, &[], ""));
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        let started = Instant::now();
        let err = client
            .first_page(&users_query(), in_secs(0.8))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(800));
        assert!(
            matches!(err, GraphError::Unavailable(ref m) if m.contains("no Retry-After")),
            "{err:?}"
        );
        assert_eq!(calls(&stub.user_calls), 1);
    }

    #[tokio::test]
    async fn server_error_gets_one_quick_retry() {
        let users: UsersScript = Arc::new(|n, _| {
            if n == 0 {
                respond(502, &[], "bad gateway")
            } else {
                json(200, serde_json::json!({"value":[]}))
            }
        });
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap();
        assert_eq!(client.requests_sent(), 2);

        let always: UsersScript = Arc::new(|_, _| respond(500, &[], "boom"));
        let stub = start_stub(good_tokens(), always).await;
        let client = client_for(&stub);
        let err = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GraphError::Unavailable(ref m) if m.contains("500")),
            "{err:?}"
        );
        assert_eq!(calls(&stub.user_calls), 2);
    }

    #[tokio::test]
    async fn connection_refused_is_unavailable() {
        let stub = start_stub(good_tokens(), one_user_page()).await;
        // A port that was just free: nothing listens on it any more.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let client = GraphClient::new(settings(&stub.base, &dead_url)).unwrap();
        let err = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap_err();
        assert!(matches!(err, GraphError::Unavailable(_)), "{err:?}");
        assert_eq!(client.requests_sent(), 2);

        // The token endpoint unreachable is also unavailable.
        let client = GraphClient::new(settings(&dead_url, &stub.base)).unwrap();
        let err = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GraphError::Unavailable(ref m) if m.contains("token endpoint")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn passing_deadline_is_a_timeout() {
        let stub = start_stub(good_tokens(), one_user_page()).await;
        let client = client_for(&stub);
        let mut q = users_query();
        q.path_and_query = "/v1.0/users?$filter=slow&$select=id,displayName".into();
        let started = Instant::now();
        let err = client.first_page(&q, in_secs(0.5)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(1500));
        assert!(matches!(err, GraphError::Timeout(_)), "{err:?}");
    }

    #[tokio::test]
    async fn bodies_that_are_not_pages_are_garbage() {
        let users: UsersScript = Arc::new(|n, _| match n {
            0 => respond(
                200,
                &[("content-type", "text/html")],
                "<html>proxy login</html>",
            ),
            1 => json(200, serde_json::json!({"foo":1})),
            _ => json(200, serde_json::json!({"value":{"id":"x"}})),
        });
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        for _ in 0..3 {
            let err = client
                .first_page(&users_query(), in_secs(5.0))
                .await
                .unwrap_err();
            assert!(matches!(err, GraphError::Garbage(_)), "{err:?}");
        }
    }

    #[tokio::test]
    async fn rejected_query_carries_graphs_error_code_and_message() {
        let users: UsersScript = Arc::new(|_, _| {
            json(
                400,
                serde_json::json!({"error":{"code":"Request_UnsupportedQuery","message":"Unsupported or invalid query filter clause specified for property 'companyName' of resource 'User'.","innerError":{"request-id":"r"}}}),
            )
        });
        let stub = start_stub(good_tokens(), users).await;
        let client = client_for(&stub);
        let err = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            GraphError::Rejected {
                status: 400,
                code: "Request_UnsupportedQuery".into(),
                message: "Unsupported or invalid query filter clause specified for property 'companyName' of resource 'User'.".into(),
            }
        );
        assert_eq!(calls(&stub.user_calls), 1);
    }

    #[tokio::test]
    async fn delta_links_are_returned_and_followed_on_the_graph_origin_only() {
        let base = Arc::new(StdMutex::new(String::new()));
        let users: UsersScript = {
            let base = base.clone();
            Arc::new(move |_, query| {
                let b = base.lock().unwrap().clone();
                if query.contains("deltatoken") {
                    json(
                        200,
                        serde_json::json!({"value":[{"id":"u1","@removed":{"reason":"changed"}}],
                        "@odata.deltaLink": format!("{b}/v1.0/users?$deltatoken=B")}),
                    )
                } else {
                    json(
                        200,
                        serde_json::json!({"value":[{"id":"u1"}],
                        "@odata.deltaLink": format!("{b}/v1.0/users?$deltatoken=A")}),
                    )
                }
            })
        };
        let stub = start_stub(good_tokens(), users).await;
        *base.lock().unwrap() = stub.base.clone();
        let client = client_for(&stub);
        let first = client
            .get_path("/v1.0/users?$select=id%2CbusinessPhones", in_secs(5.0))
            .await
            .unwrap();
        assert_eq!(first.next_link, None);
        let link = first.delta_link.unwrap();
        assert!(link.ends_with("$deltatoken=A"), "{link}");
        let changes = client.follow_link(&link, in_secs(5.0)).await.unwrap();
        assert_eq!(changes.items[0]["@removed"]["reason"], "changed");
        assert!(changes.delta_link.unwrap().ends_with("$deltatoken=B"));
        let seen = stub.seen.lock().unwrap().clone();
        assert_eq!(seen[0].query, "$select=id%2CbusinessPhones");
        assert!(seen.iter().all(|s| s.consistency_level.is_none()));
        let err = client
            .follow_link(
                "https://evil.example/v1.0/users?$deltatoken=A",
                in_secs(5.0),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, GraphError::Garbage(ref m) if m.contains("evil.example")));
        assert_eq!(calls(&stub.user_calls), 2);
    }

    #[tokio::test]
    async fn next_link_is_followed_with_the_querys_headers() {
        let base = Arc::new(StdMutex::new(String::new()));
        let users: UsersScript = {
            let base = base.clone();
            Arc::new(move |_, query| {
                if query.contains("skiptoken") {
                    json(200, serde_json::json!({"value":[{"id":"u2"}]}))
                } else {
                    let link = format!("{}/v1.0/users?$skiptoken=X%27Y", base.lock().unwrap());
                    json(
                        200,
                        serde_json::json!({"value":[{"id":"u1"}],"@odata.nextLink":link}),
                    )
                }
            })
        };
        let stub = start_stub(good_tokens(), users).await;
        *base.lock().unwrap() = stub.base.clone();
        let client = client_for(&stub);
        let q = GraphRequest {
            path_and_query:
                "/v1.0/users?$filter=startsWith(displayName%2C%27a%27)&$select=id,displayName&$count=true"
                    .into(),
            headers: vec![("ConsistencyLevel", "eventual")],
            shown: "GET /v1.0/users?$filter=startsWith(displayName,'a')&$count=true".into(),
        };
        let first = client.first_page(&q, in_secs(5.0)).await.unwrap();
        let link = first.next_link.unwrap();
        let second = client.next_page(&link, &q, in_secs(5.0)).await.unwrap();
        assert_eq!(second.items, vec![serde_json::json!({"id":"u2"})]);
        assert_eq!(second.next_link, None);
        let seen = stub.seen.lock().unwrap().clone();
        assert_eq!(seen[1].query, "$skiptoken=X%27Y");
        assert!(
            seen[0].query.contains("$filter=startsWith"),
            "{}",
            seen[0].query
        );
        assert!(
            seen.iter()
                .all(|s| s.consistency_level.as_deref() == Some("eventual"))
        );

        // A link to another origin never gets the token.
        let err = client
            .next_page(
                "https://evil.example/v1.0/users?$skiptoken=1",
                &q,
                in_secs(5.0),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, GraphError::Garbage(ref m) if m.contains("evil.example")),
            "{err:?}"
        );
        assert_eq!(calls(&stub.user_calls), 2);
    }

    #[tokio::test]
    async fn the_secret_never_appears_in_errors_or_debug_output() {
        // A token endpoint that (unlike Entra) echoes the secret in its description.
        let tokens: TokenScript = Arc::new(|_, form| {
            json(
                401,
                serde_json::json!({"error":"invalid_client","error_description":format!("AADSTS7000215: Invalid client secret provided: {form}"),"error_codes":[7000215]}),
            )
        });
        let stub = start_stub(tokens, one_user_page()).await;
        let s = settings(&stub.base, &stub.base);
        assert!(!format!("{s:?}").contains(SECRET));
        let client = GraphClient::new(s).unwrap();
        assert!(!format!("{client:?}").contains(SECRET));
        let err = client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap_err();
        // The secret was sent, and is nowhere in what comes back.
        assert!(stub.token_forms.lock().unwrap()[0].contains(SECRET));
        for text in [format!("{err}"), format!("{err:?}")] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(
                text.contains("AADSTS7000215") && text.contains("Secret ID"),
                "{text}"
            );
        }
        assert!(matches!(err, GraphError::Auth(_)));
        let check = client.check_online().await.unwrap_err();
        assert!(!format!("{check:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn secret_file_is_reread_at_each_token_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "first-secret\n").unwrap();
        let stub = start_stub(good_tokens(), one_user_page()).await;
        let mut s = settings(&stub.base, &stub.base);
        s.credential = Credential::SecretFile(path.clone());
        let client = GraphClient::new(s).unwrap();
        client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap();
        std::fs::write(&path, "  second-secret  ").unwrap();
        age_cached_token(&client).await;
        client
            .first_page(&users_query(), in_secs(5.0))
            .await
            .unwrap();
        let forms = stub.token_forms.lock().unwrap().clone();
        assert!(
            forms[0].contains("client_secret=first-secret&")
                || forms[0].ends_with("client_secret=first-secret"),
            "{}",
            forms[0]
        );
        assert!(
            forms[1].contains("client_secret=second-secret"),
            "{}",
            forms[1]
        );
    }

    #[tokio::test]
    async fn check_online_reports_token_and_graph() {
        let stub = start_stub(good_tokens(), one_user_page()).await;
        let client = client_for(&stub);
        let report = client.check_online().await.unwrap();
        assert!(
            report.contains("access token from") && report.contains("1 user(s)"),
            "{report}"
        );
        let seen = stub.seen.lock().unwrap().clone();
        assert_eq!(seen[0].query, "$top=1&$select=id");
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let err = GraphClient::new(settings(
            "https://login.microsoftonline.com",
            "http://graph.microsoft.com",
        ))
        .unwrap_err();
        assert!(
            matches!(err, GraphError::Config(ref m) if m.contains("graph_url")),
            "{err:?}"
        );
        let err = GraphClient::new(settings(
            "http://login.microsoftonline.com",
            "https://graph.microsoft.com",
        ))
        .unwrap_err();
        assert!(
            matches!(err, GraphError::Config(ref m) if m.contains("login_url")),
            "{err:?}"
        );
        assert!(
            GraphClient::new(settings(
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com"
            ))
            .is_ok()
        );
    }
}
