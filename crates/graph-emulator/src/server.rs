//! The emulator's HTTP side: axum routes for the Entra token endpoint and `/v1.0/users`,
//! `/v1.0/contacts`, bearer-token checks, paging, statistics and the fault switch.
//! Query semantics live in `odata`/`search`; this file never logs secrets or tokens.

use super::delta;
use super::errors::{GraphError, TokenError, format_utc, throttled_body};
use super::odata::{self, Filter};
use super::resource::{CONTACTS, Resource, Support, USERS};
use super::search::{self, Search};
use super::tenant::Tenant;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Graph's documented URL length limit for advanced queries (GRAPH.md §4, [doc S12]).
pub const MAX_URL_CHARS: usize = 2048;
/// Page size bounds on /users (GRAPH.md §4, [doc S4]); applied to /contacts too ([?] there).
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 999;
const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3599;
/// The host real Graph URLs are measured with when checking the URL length limit.
const GRAPH_HOST_FOR_LENGTH: &str = "https://graph.microsoft.com";
const SKIPTOKEN_PREFIX: &str = "RFNwdAoAAQAAAA";

/// A failure the emulator injects into data requests (the token endpoint only honours
/// `Unavailable`). Set for every request with `set_fault`, or for one page of every paged
/// answer with `set_page_fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 503 without `Retry-After`.
    Unavailable,
    /// 429 with `Retry-After: retry_after_secs` (GRAPH.md §6, throttled row).
    Throttle {
        retry_after_secs: u64,
    },
    /// 200 whose body is not JSON.
    Garbage,
    /// Never answers (until the emulator shuts down).
    Hang,
    /// Answers normally after a delay (a slow Graph; lets tests overlap requests).
    Slow {
        millis: u64,
    },
    /// A request carrying a `$skiptoken` gets 400 `Directory_ExpiredPageToken`, as Graph
    /// answers a nextLink whose page token has expired (see `GraphError::expired_page_token`).
    /// Requests without a skiptoken (first pages, single objects) are served normally.
    ExpiredSkiptoken,
}

/// The fault of one page of every paged collection answer: page 1 is the request without
/// `$skiptoken`, page N the one whose skiptoken starts at object `(N-1) × $top`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFault {
    pub page: usize,
    pub fault: Fault,
}

/// Request lines kept for `request_log`; the older half is dropped when it is reached.
pub const REQUEST_LOG_LIMIT: usize = 20_000;

struct Shared {
    tenant: Tenant,
    /// The users and contacts served, changeable at run time (delta query sees changes).
    directory: Mutex<delta::Directory>,
    base_url: String,
    requests: AtomicU64,
    rejections: AtomicU64,
    log: Mutex<Vec<String>>,
    fault: Mutex<Fault>,
    page_fault: Mutex<Option<PageFault>>,
    token_lifetime_secs: AtomicU64,
    token_delay_millis: AtomicU64,
    refuse_tokens: std::sync::atomic::AtomicBool,
    token_requests: AtomicU64,
    tokens: Mutex<HashMap<String, Instant>>,
    serial: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running emulator. Dropping it stops the server in the background; `shutdown` waits for it.
pub struct EmulatorHandle {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`, usable as both `login_url` and `graph_url`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Graph data requests received (every `/v1.0/...` request, whatever its answer; token
    /// requests excluded).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Data requests answered 4xx/5xx because the query was invalid (not 401s, 404s or faults).
    pub fn rejections(&self) -> u64 {
        self.shared.rejections.load(Ordering::SeqCst)
    }

    /// Decoded request lines, e.g. `GET /v1.0/users?$filter=mail eq 'a+b@x'`, newest last:
    /// the newest `REQUEST_LOG_LIMIT / 2` at least (a long benchmark run must not grow it).
    pub fn request_log(&self) -> Vec<String> {
        lock(&self.shared.log).clone()
    }

    pub fn reset_stats(&self) {
        self.shared.requests.store(0, Ordering::SeqCst);
        self.shared.rejections.store(0, Ordering::SeqCst);
        lock(&self.shared.log).clear();
    }

    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.shared.fault) = fault;
    }

    /// Injects `fault` into page `page` (1-based) of every paged `/users` or `/contacts`
    /// answer from now on, in place of the `set_fault` fault for that page; `None` clears it.
    /// Page 1 is the request without `$skiptoken`; later pages are counted from the
    /// skiptoken's offset and the request's `$top` (default 100), so they are exact for
    /// the nextLinks the emulator issues.
    pub fn set_page_fault(&self, fault: Option<PageFault>) {
        *lock(&self.shared.page_fault) = fault;
    }

    /// Token requests received (whatever their answer).
    pub fn token_requests(&self) -> u64 {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// The token endpoint waits this long before answering (a slow Entra).
    pub fn set_token_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared
            .token_delay_millis
            .store(millis, Ordering::SeqCst);
    }

    /// While `refuse` is true, the token endpoint refuses the client secret as expired
    /// (401 `invalid_client`, AADSTS7000222, GRAPH.md §7). Tokens issued before stay valid
    /// until their own expiry, as Entra's do: a secret expiring does not revoke them.
    pub fn refuse_token_requests(&self, refuse: bool) {
        self.shared.refuse_tokens.store(refuse, Ordering::SeqCst);
    }

    /// Lifetime of tokens issued from now on (default 3599 s, GRAPH.md §7).
    pub fn set_token_lifetime_secs(&self, secs: u64) {
        self.shared
            .token_lifetime_secs
            .store(secs, Ordering::SeqCst);
    }

    /// Adds a user or replaces the one with its `id`; `/users/delta` reports it.
    pub fn upsert_user(&self, user: Value) -> bool {
        lock(&self.shared.directory).upsert(true, user)
    }

    /// Adds an organizational contact or replaces the one with its `id`.
    pub fn upsert_contact(&self, contact: Value) -> bool {
        lock(&self.shared.directory).upsert(false, contact)
    }

    /// Deletes a user; `/users/delta` reports it `@removed`. False when there is none.
    pub fn delete_user(&self, id: &str) -> bool {
        lock(&self.shared.directory).delete(true, id)
    }

    /// Deletes an organizational contact; false when there is none.
    pub fn delete_contact(&self, id: &str) -> bool {
        lock(&self.shared.directory).delete(false, id)
    }

    /// Every delta token issued so far is refused from now on (`syncStateNotFound`).
    pub fn expire_delta_tokens(&self) {
        lock(&self.shared.directory).expire_tokens();
    }

    /// Stops accepting, lets in-flight requests finish (hanging ones get a 503), and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .field("requests", &self.requests())
            .field("rejections", &self.rejections())
            .finish()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Binds `addr` (port 0 = any free port) and serves `tenant` until shut down.
pub async fn start(mut tenant: Tenant, addr: SocketAddr) -> std::io::Result<EmulatorHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    // The directory owns the objects; `tenant` keeps the credentials (one copy of 100,000 users).
    let directory = Mutex::new(delta::Directory::new(
        std::mem::take(&mut tenant.users),
        std::mem::take(&mut tenant.contacts),
    ));
    let shared = Arc::new(Shared {
        tenant,
        directory,
        base_url: format!("http://{addr}"),
        requests: AtomicU64::new(0),
        rejections: AtomicU64::new(0),
        log: Mutex::new(Vec::new()),
        fault: Mutex::new(Fault::None),
        page_fault: Mutex::new(None),
        token_lifetime_secs: AtomicU64::new(DEFAULT_TOKEN_LIFETIME_SECS),
        token_delay_millis: AtomicU64::new(0),
        refuse_tokens: std::sync::atomic::AtomicBool::new(false),
        token_requests: AtomicU64::new(0),
        tokens: Mutex::new(HashMap::new()),
        serial: AtomicU64::new(1),
        shutdown: stopped.clone(),
    });
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_endpoint))
        .fallback(data_endpoint)
        .with_state(shared.clone());
    let mut signal = stopped;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "graph emulator stopped with an error");
        }
    });
    tracing::debug!(%addr, "graph emulator listening");
    Ok(EmulatorHandle {
        addr,
        shared,
        stop,
        task: Some(task),
    })
}

// ---------------------------------------------------------------- helpers

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Shared {
    /// A fresh GUID-shaped id for request-id/trace-id fields.
    fn new_id(&self) -> String {
        let n = self.serial.fetch_add(1, Ordering::SeqCst);
        let mut h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
        h ^= h >> 29;
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            h >> 32,
            (h >> 16) & 0xffff,
            h & 0xfff,
            n & 0xfff,
            n & 0xffff_ffff_ffff
        )
    }

    fn fault(&self) -> Fault {
        *lock(&self.fault)
    }

    /// The fault for this request: the page fault when the request is a collection page
    /// of that number, else the fault set for every request.
    fn fault_for(&self, raw_path: &str, params: &[QueryParam]) -> Fault {
        let page_fault = *lock(&self.page_fault);
        if let Some(page_fault) = page_fault
            && matches!(route(raw_path), Ok(Target::List(_)))
            && page_number(params) == Some(page_fault.page)
        {
            return page_fault.fault;
        }
        self.fault()
    }

    fn graph_error(&self, error: &GraphError, client_request_id: &str) -> Response {
        let request_id = self.new_id();
        let body = error.body(&format_utc(now_unix()), &request_id, client_request_id);
        json_response(error.status, &body, &request_id, client_request_id)
    }

    fn rejection(&self, error: &GraphError, client_request_id: &str) -> Response {
        self.rejections.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(code = error.code, message = %error.message, "graph emulator rejected a query");
        self.graph_error(error, client_request_id)
    }
}

fn json_response(
    status: StatusCode,
    body: &Value,
    request_id: &str,
    client_request_id: &str,
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        ),
    );
    for (name, value) in [
        ("request-id", request_id),
        ("client-request-id", client_request_id),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    if status.is_success() {
        // GRAPH.md §6: Graph reports the resource units a request cost; the emulator
        // charges one per answered request.
        headers.insert("x-ms-resource-unit", HeaderValue::from_static("1"));
    }
    response
}

/// Decodes a query-string component: `+` is a space (GRAPH.md §5: Graph's own examples use it
/// so), then percent-decoding. Invalid UTF-8 is an error.
fn decode_query_component(raw: &str) -> Result<String, GraphError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| GraphError::bad_request("The query string is not valid UTF-8."))
}

/// Decodes a path segment (no `+` rule in paths).
fn decode_path(raw: &str) -> Result<String, GraphError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| GraphError::bad_request("The request path is not valid UTF-8."))
}

/// One `name=value` of the query string, raw and decoded.
struct QueryParam {
    raw: String,
    name: String,
    value: String,
}

fn parse_query(raw_query: &str) -> Result<Vec<QueryParam>, GraphError> {
    raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok(QueryParam {
                raw: piece.to_string(),
                name: decode_query_component(name)?,
                value: decode_query_component(value)?,
            })
        })
        .collect()
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

// ---------------------------------------------------------------- token endpoint

fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Some((
                decode_query_component(name).ok()?,
                decode_query_component(value).ok()?,
            ))
        })
        .collect()
}

/// `POST /{tenant}/oauth2/v2.0/token`, client-credentials grant (GRAPH.md §7, [doc S27]).
async fn token_endpoint(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let delay = shared.token_delay_millis.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if shared.fault() == Fault::Unavailable {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    let mut form = parse_form(&body);
    // The client secret may also arrive by HTTP Basic auth (GRAPH.md §7, [doc S27]).
    if let Some((id, secret)) = basic_credentials(&headers) {
        form.entry("client_id".into()).or_insert(id);
        form.entry("client_secret".into()).or_insert(secret);
    }
    let issued = if shared.refuse_tokens.load(Ordering::SeqCst) {
        Err(TokenError::expired_secret(
            form.get("client_id").map_or("", String::as_str),
        ))
    } else {
        issue_token(&shared, &tenant, &form)
    };
    match issued {
        Ok(token) => {
            let lifetime = shared.token_lifetime_secs.load(Ordering::SeqCst);
            lock(&shared.tokens).insert(
                token.clone(),
                Instant::now() + Duration::from_secs(lifetime),
            );
            let body = json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            });
            json_response(StatusCode::OK, &body, &shared.new_id(), "")
        }
        Err(error) => {
            tracing::debug!(
                error = error.error,
                code = error.aadsts,
                "graph emulator refused a token request"
            );
            let trace = shared.new_id();
            let timestamp = format!("{}Z", format_utc(now_unix()).replace('T', " "));
            let body = error.body(&timestamp, &trace, &shared.new_id());
            json_response(error.status, &body, &trace, "")
        }
    }
}

/// `Authorization: Basic base64(url-encoded id ":" url-encoded secret)` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?.trim();
    let decoded = String::from_utf8(base64_decode(encoded)?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((
        decode_query_component(id).ok()?,
        decode_query_component(secret).ok()?,
    ))
}

/// Standard base64 (RFC 4648 §4) with optional padding.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn missing(parameter: &str) -> TokenError {
    TokenError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

fn issue_token(
    shared: &Shared,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<String, TokenError> {
    let t = &shared.tenant;
    if !tenant.eq_ignore_ascii_case(&t.tenant_id) {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are \
                 signing into the correct cloud."
            ),
        ));
    }
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = form.get("client_id").ok_or_else(|| missing("client_id"))?;
    let scope = form.get("scope").ok_or_else(|| missing("scope"))?;
    let Some(resource) = scope.strip_suffix("/.default") else {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a \
                 scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    let localhost = shared.base_url.replacen("127.0.0.1", "localhost", 1);
    if resource != shared.base_url && resource != localhost {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This \
                 can happen if the application has not been installed by the administrator of the tenant."
            ),
        ));
    }
    if !client_id.eq_ignore_ascii_case(&t.client_id) {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This \
                 can happen if the application has not been installed by the administrator of the tenant \
                 or consented to by any user in the tenant. You may have sent your authentication request \
                 to the wrong tenant."
            ),
        ));
    }
    if form.contains_key("client_assertion") {
        // The emulator holds no certificate, so it cannot verify an assertion signature.
        return Err(TokenError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature.",
        ));
    }
    let secret = form.get("client_secret").ok_or_else(|| {
        TokenError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    })?;
    if secret != &t.client_secret {
        return Err(TokenError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client \
                 secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ));
    }
    let id = shared.new_id().replace('-', "");
    Ok(format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.{id}.emulator"))
}

// ---------------------------------------------------------------- data endpoint

/// What a data request asks for, after routing.
enum Target {
    List(&'static Resource),
    Count(&'static Resource),
    One(&'static Resource, String),
}

fn route(path: &str) -> Result<Target, GraphError> {
    let Some(rest) = path.strip_prefix("/v1.0/") else {
        return Err(GraphError::bad_request(format!(
            "Invalid version: the path '{path}' does not start with /v1.0/."
        )));
    };
    let raw_segments: Vec<&str> = rest.split('/').collect();
    let first = decode_path(raw_segments.first().copied().unwrap_or_default())?;
    let resource_of = |name: &str| -> Option<&'static Resource> {
        [&USERS, &CONTACTS].into_iter().find(|r| r.segment == name)
    };
    // `/users('key')` form (GRAPH.md §8): the key is an OData string literal.
    if let Some((name, key)) = first.split_once("('")
        && let (Some(resource), Some(key)) = (resource_of(name), key.strip_suffix("')"))
        && raw_segments.len() == 1
    {
        return Ok(Target::One(resource, key.replace("''", "'")));
    }
    let Some(resource) = resource_of(&first) else {
        return Err(GraphError::bad_request(format!(
            "Resource not found for the segment '{first}'."
        )));
    };
    match raw_segments.as_slice() {
        [_] | [_, ""] => Ok(Target::List(resource)),
        [_, "$count"] => Ok(Target::Count(resource)),
        [_, key] => {
            let key = decode_path(key)?;
            if key.starts_with('$') {
                // GRAPH.md §8: a UPN starting with `$` fails in the path form.
                return Err(GraphError::bad_request(format!(
                    "Resource not found for the segment '{key}'."
                )));
            }
            Ok(Target::One(resource, key))
        }
        [_, _, segment, ..] => Err(GraphError::bad_request(format!(
            "Resource not found for the segment '{}'.",
            decode_path(segment).unwrap_or_default()
        ))),
        [] => Err(GraphError::bad_request("Empty request path.")),
    }
}

/// The system query options of a request.
#[derive(Default)]
struct Options {
    filter: Option<String>,
    search: Option<String>,
    select: Option<String>,
    top: Option<String>,
    count: Option<String>,
    orderby: Option<String>,
    skiptoken: Option<String>,
}

fn read_options(params: &[QueryParam]) -> Result<Options, GraphError> {
    let mut options = Options::default();
    for param in params {
        // Query option names are case-insensitive (OData 4.01, GRAPH.md §5 [obs S19]).
        let name = param.name.to_ascii_lowercase();
        let slot = match name.as_str() {
            "$filter" => &mut options.filter,
            "$search" => &mut options.search,
            "$select" => &mut options.select,
            "$top" => &mut options.top,
            "$count" => &mut options.count,
            "$orderby" => &mut options.orderby,
            "$skiptoken" => &mut options.skiptoken,
            "$skip" => {
                // GRAPH.md §4: `$skip` is not supported on /users.
                return Err(GraphError::directory_bad_request(
                    "'$skip' is not supported by the service.",
                ));
            }
            other if other.starts_with('$') => {
                return Err(GraphError::bad_request(format!(
                    "Query option '{}' is not supported by the emulator.",
                    param.name
                )));
            }
            _ => continue,
        };
        if slot.is_some() {
            return Err(GraphError::bad_request(format!(
                "Query option '{}' was specified more than once, but it must be specified at most once.",
                param.name
            )));
        }
        *slot = Some(param.value.clone());
    }
    Ok(options)
}

fn header_is(headers: &HeaderMap, name: &str, want: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(want))
        })
}

/// The properties to return: `id` plus the `$select`ed ones, or the default set.
fn selected(
    resource: &Resource,
    select: Option<&str>,
    collection: bool,
) -> Result<Option<Vec<&'static str>>, GraphError> {
    let Some(select) = select else {
        return Ok(None);
    };
    let mut fields = Vec::new();
    for name in select.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(GraphError::bad_request(format!(
                "Syntax error at position {} in '{select}'.",
                select.len()
            )));
        }
        let Some(canonical) = resource.property(name) else {
            return Err(GraphError::unknown_property(name, resource.type_name));
        };
        if collection && resource.single_object_only.contains(&canonical) {
            return Err(GraphError::new(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                format!(
                    "The property '{canonical}' can only be selected when a single {} is retrieved.",
                    resource.entity
                ),
            ));
        }
        if !fields.contains(&canonical) {
            fields.push(canonical);
        }
    }
    Ok(Some(fields))
}

fn project(object: &Value, resource: &Resource, fields: Option<&[&'static str]>) -> Value {
    let names: Vec<&str> = match (fields, resource.default_select) {
        (Some(fields), _) => std::iter::once("id")
            .chain(fields.iter().copied())
            .collect(),
        (None, Some(defaults)) => defaults.to_vec(),
        (None, None) => resource.properties.to_vec(),
    };
    let mut out = Map::new();
    for name in names {
        let value = odata::property(object, name).cloned().unwrap_or_else(|| {
            if resource.is_collection(name) {
                json!([])
            } else {
                Value::Null
            }
        });
        out.insert(name.to_string(), value);
    }
    Value::Object(out)
}

fn context_url(base: &str, resource: &Resource, fields: Option<&[&str]>, entity: bool) -> String {
    let select = fields.map_or(String::new(), |f| format!("({})", f.join(",")));
    let suffix = if entity { "/$entity" } else { "" };
    format!("{base}/v1.0/$metadata#{}{select}{suffix}", resource.segment)
}

struct SortKey {
    property: &'static str,
    descending: bool,
}

fn parse_orderby(
    text: &str,
    resource: &Resource,
    advanced: bool,
    filtered: bool,
) -> Result<Vec<SortKey>, GraphError> {
    let mut keys = Vec::new();
    for clause in text.split(',') {
        let mut words = clause.split_whitespace();
        let name = words.next().unwrap_or_default();
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(GraphError::bad_request(format!(
                    "Syntax error at position {} in '{text}'.",
                    clause.len()
                )));
            }
        };
        if words.next().is_some() {
            return Err(GraphError::bad_request(format!(
                "Syntax error in $orderby '{text}'."
            )));
        }
        let Some(property) = resource.property(name) else {
            return Err(GraphError::unknown_property(name, resource.type_name));
        };
        // GRAPH.md §1: only displayName and userPrincipalName sort by default on users.
        let support = resource
            .caps(property)
            .map_or(Support::Unsupported, |c| c.order_by);
        match support {
            Support::Unsupported => {
                return Err(GraphError::unsupported_query(format!(
                    "Sorting not supported for property '{property}' of resource '{}'.",
                    resource.entity
                )));
            }
            Support::Advanced if !advanced => {
                return Err(GraphError::needs_advanced_parameters("orderby"));
            }
            _ => {}
        }
        keys.push(SortKey {
            property,
            descending,
        });
    }
    // GRAPH.md §1: $filter (or $search) combined with $orderby needs the advanced parameters.
    if filtered && !advanced {
        return Err(GraphError::unsupported_query(
            "Sorting not supported for current query.",
        ));
    }
    Ok(keys)
}

fn sort_value(object: &Value, property: &str) -> Option<String> {
    odata::property(object, property)
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}

/// The validated query over a collection.
struct Query {
    filter: Option<Filter>,
    search: Option<Search>,
    fields: Option<Vec<&'static str>>,
    sort: Vec<SortKey>,
    page_size: usize,
    advanced: bool,
    offset: usize,
}

impl Shared {
    fn check_auth(&self, headers: &HeaderMap) -> Result<(), GraphError> {
        let unauthorized = |message: &str| {
            GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            )
        };
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(unauthorized("Access token is empty."));
        };
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(unauthorized("Access token is empty."));
        };
        match lock(&self.tokens).get(token.trim()) {
            None => Err(unauthorized(
                "IDX14100: JWT is not well formed, there are no dots (.).",
            )),
            Some(expiry) if *expiry <= Instant::now() => Err(unauthorized(
                "Lifetime validation failed, the token is expired.",
            )),
            Some(_) => Ok(()),
        }
    }

    fn validate_query(
        &self,
        resource: &'static Resource,
        raw_path: &str,
        params: &[QueryParam],
        options: &Options,
        headers: &HeaderMap,
    ) -> Result<Query, GraphError> {
        let eventual = header_is(headers, "consistencylevel", "eventual");
        let count_requested = match options.count.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                return Err(GraphError::bad_request(format!(
                    "The value '{v}' of $count is not valid; expected true or false."
                )));
            }
        };
        // GRAPH.md vocabulary: advanced = the header AND $count=true.
        let advanced = eventual && count_requested;

        let url_length = GRAPH_HOST_FOR_LENGTH.len()
            + raw_path.len()
            + params
                .iter()
                .filter(|p| !p.name.eq_ignore_ascii_case("$skiptoken"))
                .map(|p| p.raw.len() + 1)
                .sum::<usize>();
        if url_length > MAX_URL_CHARS {
            return Err(GraphError::unsupported_query(format!(
                "The request URL is {url_length} characters long. Max allowed: {MAX_URL_CHARS}."
            )));
        }

        let page_size = match &options.top {
            None => DEFAULT_PAGE_SIZE,
            Some(top) => match top.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => {
                    return Err(GraphError::bad_request(format!(
                        "Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE_SIZE} inclusive."
                    )));
                }
            },
        };
        let fields = selected(resource, options.select.as_deref(), true)?;

        let search = match &options.search {
            None => None,
            Some(text) => {
                if !eventual {
                    // GRAPH.md §6, [doc S1].
                    return Err(GraphError::unsupported_query(
                        "Request with $search query parameter only works through MSGraph with a special \
                         request header: 'ConsistencyLevel: eventual'",
                    ));
                }
                if text.contains('&') && !header_is(headers, "prefer", "legacysearch=false") {
                    // GRAPH.md §2 known issue [doc S12].
                    return Err(GraphError::unsupported_query(
                        "Unrecognized query argument specified: ''.",
                    ));
                }
                Some(search::parse(text, resource)?)
            }
        };
        let filter = match &options.filter {
            None => None,
            Some(text) => {
                let filter = odata::parse(text)?;
                odata::check(&filter, resource, advanced)?;
                Some(filter)
            }
        };
        let sort = match &options.orderby {
            None => Vec::new(),
            Some(text) => parse_orderby(
                text,
                resource,
                advanced,
                filter.is_some() || search.is_some(),
            )?,
        };
        let offset = match &options.skiptoken {
            None => 0,
            Some(token) => parse_skiptoken(token, options_fingerprint(raw_path, params))?,
        };
        Ok(Query {
            filter,
            search,
            fields,
            sort,
            page_size,
            advanced,
            offset,
        })
    }

    fn list(
        &self,
        resource: &'static Resource,
        raw_path: &str,
        params: &[QueryParam],
        query: &Query,
    ) -> Value {
        let directory = lock(&self.directory);
        let mut hits: Vec<&Value> =
            directory.matching(resource, query.filter.as_ref(), query.search.as_ref());
        if !query.sort.is_empty() {
            hits.sort_by(|a, b| {
                for key in &query.sort {
                    let order = sort_value(a, key.property).cmp(&sort_value(b, key.property));
                    let order = if key.descending {
                        order.reverse()
                    } else {
                        order
                    };
                    if order.is_ne() {
                        return order;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let total = hits.len();
        let page: Vec<Value> = hits
            .iter()
            .skip(query.offset)
            .take(query.page_size)
            .map(|o| project(o, resource, query.fields.as_deref()))
            .collect();
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::String(context_url(
                &self.base_url,
                resource,
                query.fields.as_deref(),
                false,
            )),
        );
        // GRAPH.md §4: @odata.count only with the advanced parameters, first page only.
        if query.advanced && query.offset == 0 {
            body.insert("@odata.count".into(), json!(total));
        }
        let next = query.offset.saturating_add(query.page_size);
        if next < total {
            let kept: Vec<&str> = params
                .iter()
                .filter(|p| !p.name.eq_ignore_ascii_case("$skiptoken"))
                .map(|p| p.raw.as_str())
                .collect();
            let token = make_skiptoken(next, options_fingerprint(raw_path, params));
            let mut link = format!("{}{raw_path}?", self.base_url);
            for piece in kept {
                link.push_str(piece);
                link.push('&');
            }
            link.push_str("$skiptoken=");
            link.push_str(&token);
            body.insert("@odata.nextLink".into(), Value::String(link));
        }
        body.insert("value".into(), Value::Array(page));
        Value::Object(body)
    }

    async fn serve_data(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| self.new_id(), str::to_string);
        let raw_path = uri.path();
        let raw_query = uri.query().unwrap_or_default();

        self.requests.fetch_add(1, Ordering::SeqCst);
        let params = parse_query(raw_query);
        let mut line = format!(
            "{method} {}",
            decode_path(raw_path).unwrap_or_else(|_| raw_path.to_string())
        );
        if let Ok(params) = &params
            && !params.is_empty()
        {
            let decoded: Vec<String> = params
                .iter()
                .map(|p| format!("{}={}", p.name, p.value))
                .collect();
            line.push('?');
            line.push_str(&decoded.join("&"));
        }
        tracing::debug!(request = %line, "graph emulator request");
        {
            let mut log = lock(&self.log);
            if log.len() >= REQUEST_LOG_LIMIT {
                log.drain(..REQUEST_LOG_LIMIT / 2);
            }
            log.push(line);
        }

        let fault = match &params {
            Ok(params) => self.fault_for(raw_path, params),
            Err(_) => self.fault(),
        };
        match fault {
            Fault::None => {}
            Fault::ExpiredSkiptoken => {
                let carries_skiptoken = params.as_ref().is_ok_and(|params| {
                    params
                        .iter()
                        .any(|p| p.name.eq_ignore_ascii_case("$skiptoken"))
                });
                if carries_skiptoken {
                    return self.graph_error(&GraphError::expired_page_token(), &client_request_id);
                }
            }
            Fault::Slow { millis } => {
                tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            }
            Fault::Unavailable => {
                let e = GraphError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "serviceNotAvailable",
                    "The service is temporarily unavailable. Please retry later.",
                );
                return self.graph_error(&e, &client_request_id);
            }
            Fault::Throttle { retry_after_secs } => {
                let request_id = self.new_id();
                let body = throttled_body(&format_utc(now_unix()), &request_id);
                let mut response = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    &body,
                    &request_id,
                    &client_request_id,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                return response;
            }
            Fault::Garbage => {
                let mut response =
                    (StatusCode::OK, "<html><body>Bad gateway</body></html>").into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return response;
            }
            Fault::Hang => {
                let mut stopped = self.shutdown.clone();
                let _ = stopped.wait_for(|stop| *stop).await;
                return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
            }
        }

        if let Err(e) = self.check_auth(headers) {
            let mut response = self.graph_error(&e, &client_request_id);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
            );
            return response;
        }
        if method != Method::GET {
            let e = GraphError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            );
            return self.rejection(&e, &client_request_id);
        }
        let params = match params {
            Ok(p) => p,
            Err(e) => return self.rejection(&e, &client_request_id),
        };
        if let Some(resource) = delta::delta_target(raw_path) {
            return self.serve_delta(resource, raw_path, &params, &client_request_id);
        }
        let target = match route(raw_path) {
            Ok(t) => t,
            Err(e) => return self.rejection(&e, &client_request_id),
        };
        let options = match read_options(&params) {
            Ok(o) => o,
            Err(e) => return self.rejection(&e, &client_request_id),
        };
        match target {
            Target::One(resource, key) => {
                let fields = match selected(resource, options.select.as_deref(), false) {
                    Ok(f) => f,
                    Err(e) => return self.rejection(&e, &client_request_id),
                };
                let directory = lock(&self.directory);
                let found = directory.objects(resource).iter().find(|o| {
                    o["id"]
                        .as_str()
                        .is_some_and(|id| id.eq_ignore_ascii_case(&key))
                        || (resource.segment == USERS.segment
                            && o["userPrincipalName"]
                                .as_str()
                                .is_some_and(|upn| upn.eq_ignore_ascii_case(&key)))
                });
                let Some(object) = found else {
                    return self.graph_error(&GraphError::not_found(&key), &client_request_id);
                };
                let Value::Object(mut body) = project(object, resource, fields.as_deref()) else {
                    return self.graph_error(&GraphError::not_found(&key), &client_request_id);
                };
                body.insert(
                    "@odata.context".into(),
                    Value::String(context_url(
                        &self.base_url,
                        resource,
                        fields.as_deref(),
                        true,
                    )),
                );
                json_response(
                    StatusCode::OK,
                    &Value::Object(body),
                    &self.new_id(),
                    &client_request_id,
                )
            }
            Target::Count(resource) => {
                if !header_is(headers, "consistencylevel", "eventual") {
                    // GRAPH.md §6: `/users/$count` without the header.
                    let e = GraphError::directory_bad_request("$count is not currently supported.");
                    return self.rejection(&e, &client_request_id);
                }
                let mut forced = options;
                forced.count = Some("true".into());
                forced.top = Some(MAX_PAGE_SIZE.to_string());
                forced.select = None;
                let query = match self.validate_query(resource, raw_path, &params, &forced, headers)
                {
                    Ok(q) => q,
                    Err(e) => return self.rejection(&e, &client_request_id),
                };
                let body = self.list(
                    resource,
                    raw_path,
                    &params,
                    &Query {
                        page_size: usize::MAX,
                        ..query
                    },
                );
                let count = body["value"].as_array().map_or(0, Vec::len);
                let mut response = (StatusCode::OK, count.to_string()).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                response
            }
            Target::List(resource) => {
                match self.validate_query(resource, raw_path, &params, &options, headers) {
                    Ok(query) => {
                        let body = self.list(resource, raw_path, &params, &query);
                        json_response(StatusCode::OK, &body, &self.new_id(), &client_request_id)
                    }
                    Err(e) => self.rejection(&e, &client_request_id),
                }
            }
        }
    }
}

impl Shared {
    /// `/v1.0/users/delta`, `/v1.0/contacts/delta` (GRAPH.md §10a), served by `delta`.
    fn serve_delta(
        &self,
        resource: &'static Resource,
        raw_path: &str,
        params: &[QueryParam],
        client_request_id: &str,
    ) -> Response {
        let decoded: Vec<(String, String)> = params
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        let answer = lock(&self.directory).delta(
            resource,
            &self.base_url,
            raw_path,
            &decoded,
            &|select| selected(resource, select, true),
            &|object, fields| project(object, resource, fields),
        );
        match answer {
            Ok(body) => json_response(StatusCode::OK, &body, &self.new_id(), client_request_id),
            Err(e) => self.rejection(&e, client_request_id),
        }
    }
}

/// A fingerprint of the path and every decoded option but `$skiptoken`, so a skiptoken only
/// works with the options it was issued for (GRAPH.md §4: don't build skiptokens).
fn options_fingerprint(raw_path: &str, params: &[QueryParam]) -> u64 {
    let mut parts = vec![raw_path];
    for p in params {
        if !p.name.eq_ignore_ascii_case("$skiptoken") {
            parts.push(&p.name);
            parts.push(&p.value);
        }
    }
    fnv1a(&parts)
}

fn make_skiptoken(offset: usize, fingerprint: u64) -> String {
    format!(
        "{SKIPTOKEN_PREFIX}{fingerprint:016x}{:08x}",
        offset as u64 ^ 0x5A5A_5A5A
    )
}

/// The 1-based page a collection request asks for, from its skiptoken's offset and its
/// `$top` (for page faults); `None` when the skiptoken is not one the emulator issued.
fn page_number(params: &[QueryParam]) -> Option<usize> {
    let find = |name: &str| {
        params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    };
    let page_size = find("$top")
        .and_then(|top| top.trim().parse::<usize>().ok())
        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let Some(token) = find("$skiptoken") else {
        return Some(1);
    };
    let hex = token.strip_prefix(SKIPTOKEN_PREFIX)?;
    let offset = u64::from_str_radix(hex.get(16..)?, 16).ok()? ^ 0x5A5A_5A5A;
    Some(usize::try_from(offset).ok()? / page_size + 1)
}

fn parse_skiptoken(token: &str, fingerprint: u64) -> Result<usize, GraphError> {
    let invalid = || {
        GraphError::directory_bad_request(
            "The specified page token value has expired or is invalid.",
        )
    };
    let hex = token.strip_prefix(SKIPTOKEN_PREFIX).ok_or_else(invalid)?;
    if hex.len() != 24 || !hex.is_ascii() {
        return Err(invalid());
    }
    let issued_for = u64::from_str_radix(&hex[..16], 16).map_err(|_| invalid())?;
    let offset = u64::from_str_radix(&hex[16..], 16).map_err(|_| invalid())? ^ 0x5A5A_5A5A;
    if issued_for != fingerprint {
        return Err(invalid());
    }
    usize::try_from(offset).map_err(|_| invalid())
}

async fn data_endpoint(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    shared.serve_data(&method, &uri, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    struct Reply {
        status: u16,
        headers: HashMap<String, String>,
        body: String,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
        }

        fn code(&self) -> String {
            self.json()["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }

        fn message(&self) -> String {
            self.json()["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    }

    /// A minimal HTTP/1.1 client: one request per connection.
    async fn http(
        addr: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request =
            format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect::<HashMap<_, _>>();
        assert!(
            !headers.contains_key("transfer-encoding"),
            "chunked replies are not parsed here"
        );
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn token_form(secret: &str, scope: &str) -> String {
        format!(
            "client_id={SAMPLE}&client_secret={secret}&scope={scope}&grant_type=client_credentials",
            SAMPLE = crate::SAMPLE_CLIENT_ID
        )
    }

    async fn emulator() -> (EmulatorHandle, String) {
        let handle = start(Tenant::sample(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let scope = format!("{}/.default", handle.base_url())
            .replace(':', "%3A")
            .replace('/', "%2F");
        let path = format!("/{}/oauth2/v2.0/token", crate::SAMPLE_TENANT_ID);
        let form = token_form(crate::SAMPLE_CLIENT_SECRET, &scope);
        let reply = http(
            handle.addr,
            "POST",
            &path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let token = reply.json()["access_token"].as_str().unwrap().to_string();
        (handle, token)
    }

    async fn get(handle: &EmulatorHandle, token: &str, target: &str, advanced: bool) -> Reply {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("Authorization", auth.as_str())];
        if advanced {
            headers.push(("ConsistencyLevel", "eventual"));
        }
        http(handle.addr, "GET", target, &headers, "").await
    }

    fn names(reply: &Reply) -> Vec<String> {
        reply.json()["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["displayName"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[tokio::test]
    async fn token_issuance_and_refusals() {
        let (handle, token) = emulator().await;
        assert!(!token.is_empty());
        let path = format!("/{}/oauth2/v2.0/token", crate::SAMPLE_TENANT_ID);
        let scope = format!("{}/.default", handle.base_url());
        let ok = http(
            handle.addr,
            "POST",
            &path,
            &[],
            &token_form(crate::SAMPLE_CLIENT_SECRET, &scope),
        )
        .await;
        assert_eq!(ok.json()["token_type"], "Bearer");
        assert_eq!(ok.json()["expires_in"], 3599);

        let bad = http(
            handle.addr,
            "POST",
            &path,
            &[],
            &token_form("wrong", &scope),
        )
        .await;
        assert_eq!(bad.status, 401);
        assert_eq!(bad.json()["error"], "invalid_client");
        assert!(
            bad.json()["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS7000215:")
        );
        assert!(!bad.body.contains(crate::SAMPLE_CLIENT_SECRET));

        let no_default = http(
            handle.addr,
            "POST",
            &path,
            &[],
            &token_form(crate::SAMPLE_CLIENT_SECRET, &handle.base_url()),
        )
        .await;
        assert_eq!(no_default.status, 400);
        assert_eq!(no_default.json()["error"], "invalid_scope");

        let other_tenant = http(
            handle.addr,
            "POST",
            "/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token",
            &[],
            &token_form(crate::SAMPLE_CLIENT_SECRET, &scope),
        )
        .await;
        assert_eq!(other_tenant.status, 400);
        assert_eq!(other_tenant.json()["error_codes"][0], 90002);

        let form =
            format!("client_id=nobody&client_secret=x&scope={scope}&grant_type=client_credentials");
        let unknown_client = http(handle.addr, "POST", &path, &[], &form).await;
        assert_eq!(unknown_client.json()["error_codes"][0], 700016);

        // Data requests need a token the emulator issued and that has not expired.
        let none = http(handle.addr, "GET", "/v1.0/users", &[], "").await;
        assert_eq!(none.status, 401);
        assert_eq!(none.code(), "InvalidAuthenticationToken");
        let forged = get(&handle, "forged", "/v1.0/users", false).await;
        assert_eq!(forged.status, 401);
        handle.set_token_lifetime_secs(0);
        let short = http(
            handle.addr,
            "POST",
            &path,
            &[],
            &token_form(crate::SAMPLE_CLIENT_SECRET, &scope),
        )
        .await;
        let expired = short.json()["access_token"].as_str().unwrap().to_string();
        let reply = get(&handle, &expired, "/v1.0/users", false).await;
        assert_eq!(reply.status, 401);
        assert!(reply.message().contains("expired"));
        assert_eq!(handle.rejections(), 0);
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn filter_results_and_default_properties() {
        let (handle, token) = emulator().await;
        let reply = get(
            &handle,
            &token,
            "/v1.0/users?$filter=startswith(displayName,%27megan%27)",
            false,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(names(&reply), ["Megan Bowen"]);
        let megan = &reply.json()["value"][0];
        assert_eq!(megan["businessPhones"][0], "+1 425 555 0100");
        assert!(megan.get("department").is_none(), "not in the default set");
        assert!(megan.get("preferredLanguage").is_some());
        assert!(
            reply.json()["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("/v1.0/$metadata#users")
        );
        assert!(reply.json().get("@odata.count").is_none());

        // Case-insensitive eq, and $select returns only id plus the selected properties.
        let reply = get(&handle, &token, "/v1.0/users?$filter=userPrincipalName%20eq%20%27MEGAN.BOWEN@example.com%27&$select=displayName,department", false).await;
        let value = reply.json()["value"][0].clone();
        assert_eq!(value["displayName"], "Megan Bowen");
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["department", "displayName", "id"]);
        assert!(
            reply.json()["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("#users(displayName,department)")
        );

        // Single objects by UPN, by id and in the ('key') form; unknown ones are 404.
        let by_upn = get(
            &handle,
            &token,
            "/v1.0/users/megan.bowen@example.com",
            false,
        )
        .await;
        let id = by_upn.json()["id"].as_str().unwrap().to_string();
        let by_id = get(
            &handle,
            &token,
            &format!("/v1.0/users/{id}?$select=mail"),
            false,
        )
        .await;
        assert_eq!(by_id.json()["mail"], "megan.bowen@example.com");
        let by_key = get(
            &handle,
            &token,
            "/v1.0/users('megan.bowen%40example.com')",
            false,
        )
        .await;
        assert_eq!(by_key.json()["id"], id.as_str());
        let guest = get(
            &handle,
            &token,
            "/v1.0/users/jane_contoso.com%23EXT%23@example.onmicrosoft.com",
            false,
        )
        .await;
        assert_eq!(guest.json()["displayName"], "Jane Doe");
        let missing = get(&handle, &token, "/v1.0/users/nobody@example.com", false).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.code(), "Request_ResourceNotFound");
        assert!(missing.json()["error"]["innerError"]["request-id"].is_string());
        assert_eq!(handle.rejections(), 0);

        // Advanced: phones, count.
        let reply = get(&handle, &token, "/v1.0/users?$filter=businessPhones/any(p:p%20eq%20%27%2B1%20425%20555%200100%27)&$count=true", true).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(names(&reply), ["Megan Bowen"]);
        assert_eq!(reply.json()["@odata.count"], 1);

        let contacts = get(&handle, &token, "/v1.0/contacts?$top=5", false).await;
        let first = &contacts.json()["value"][0];
        assert!(first["phones"].is_array() && first["addresses"].is_array());
        let id = first["id"].as_str().unwrap().to_string();
        let one = get(&handle, &token, &format!("/v1.0/contacts/{id}"), false).await;
        assert_eq!(one.json()["id"], id.as_str());
        assert_eq!(handle.requests(), 10);
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn rejections_carry_graph_codes() {
        let (handle, token) = emulator().await;
        let cases: &[(&str, bool, u16, &str, &str)] = &[
            (
                "/v1.0/users?$filter=companyName%20eq%20%27Contoso%27",
                false,
                400,
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified for property 'companyName' of resource 'User'.",
            ),
            (
                "/v1.0/users?$filter=endswith(mail,%27@example.com%27)",
                false,
                400,
                "Request_UnsupportedQuery",
                "Operator 'endsWith' is not supported",
            ),
            (
                "/v1.0/users?$filter=contains(displayName,%27an%27)",
                true,
                400,
                "Request_UnsupportedQuery",
                "Unsupported property filter clause operator 'Contains'.",
            ),
            (
                "/v1.0/users?$filter=accountEnabled%20eq%20%27true%27",
                false,
                400,
                "BadRequest",
                "Invalid filter clause",
            ),
            (
                "/v1.0/users?$filter=displayName%20eq%20%27a",
                false,
                400,
                "BadRequest",
                "Invalid filter clause: Syntax error at position 15 in 'displayName eq 'a'.",
            ),
            (
                "/v1.0/users?$search=%22displayName:smi%22",
                false,
                400,
                "Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ),
            (
                "/v1.0/users?$search=%22displayName:a%26b%22",
                true,
                400,
                "Request_UnsupportedQuery",
                "Unrecognized query argument specified: ''.",
            ),
            (
                "/v1.0/users?$top=1000",
                false,
                400,
                "BadRequest",
                "Invalid page size specified: '1000'.",
            ),
            (
                "/v1.0/users?$orderby=department",
                false,
                400,
                "Request_UnsupportedQuery",
                "Sorting not supported for property 'department'",
            ),
            (
                "/v1.0/users?$orderby=displayName&$filter=startsWith(displayName,%27a%27)",
                false,
                400,
                "Request_UnsupportedQuery",
                "Sorting not supported for current query.",
            ),
            (
                "/v1.0/users?$select=skills",
                false,
                501,
                "NotImplemented",
                "single User",
            ),
            (
                "/v1.0/users?$skip=10",
                false,
                400,
                "Request_BadRequest",
                "'$skip' is not supported",
            ),
            (
                "/v1.0/users/$count",
                false,
                400,
                "Request_BadRequest",
                "$count is not currently supported.",
            ),
            (
                "/v1.0/contacts?$filter=phones/any(p:p/number%20eq%20%27x%27)",
                true,
                400,
                "Request_UnsupportedQuery",
                "'phones' of resource 'OrgContact'",
            ),
            (
                "/v1.0/users?$skiptoken=RFNwdAoAAQAAAA0000000000000000deadbeef",
                false,
                400,
                "Request_BadRequest",
                "page token",
            ),
        ];
        for (n, (target, advanced, status, code, message)) in cases.iter().enumerate() {
            let target = if *advanced && !target.contains("$search") {
                format!("{target}&$count=true")
            } else {
                target.to_string()
            };
            let reply = get(&handle, &token, &target, *advanced).await;
            assert_eq!(reply.status, *status, "{target}: {}", reply.body);
            assert_eq!(reply.code(), *code, "{target}");
            assert!(
                reply.message().contains(message),
                "{target}: {}",
                reply.message()
            );
            assert_eq!(handle.rejections(), n as u64 + 1);
        }
        // The same `&` is fine with `Prefer: legacySearch=false` (GRAPH.md §2).
        let auth = format!("Bearer {token}");
        let reply = http(
            handle.addr,
            "GET",
            "/v1.0/users?$search=%22displayName:a%26b%22",
            &[
                ("Authorization", &auth),
                ("ConsistencyLevel", "eventual"),
                ("Prefer", "legacySearch=false"),
            ],
            "",
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);

        // Default-mode limits: 16 OR children, 121-char values, 2048-char URLs.
        let ors: Vec<String> = (0..16)
            .map(|i| format!("mail%20eq%20%27u{i}@example.com%27"))
            .collect();
        let reply = get(
            &handle,
            &token,
            &format!("/v1.0/users?$filter={}", ors.join("%20or%20")),
            false,
        )
        .await;
        assert!(
            reply.message().starts_with("Too many child clauses"),
            "{}",
            reply.body
        );
        let reply = get(
            &handle,
            &token,
            &format!("/v1.0/users?$filter={}&$count=true", ors.join("%20or%20")),
            true,
        )
        .await;
        assert_eq!(reply.status, 200);
        let long = "x".repeat(121);
        let reply = get(
            &handle,
            &token,
            &format!("/v1.0/users?$filter=displayName%20eq%20%27{long}%27"),
            false,
        )
        .await;
        assert_eq!(reply.status, 400);
        let huge = "x".repeat(2100);
        let reply = get(
            &handle,
            &token,
            &format!("/v1.0/users?$filter=displayName%20eq%20%27{huge}%27&$count=true"),
            true,
        )
        .await;
        assert_eq!(reply.status, 400);
        assert!(reply.message().contains("2048"));
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn paging_follows_next_links() {
        let (handle, token) = emulator().await;
        let mut target = "/v1.0/users?$select=displayName&$top=50&$count=true".to_string();
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let reply = get(&handle, &token, &target, true).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let body = reply.json();
            assert_eq!(body.get("@odata.count").is_some(), pages == 0);
            seen.extend(
                body["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["id"].as_str().unwrap().to_string()),
            );
            pages += 1;
            match body["@odata.nextLink"].as_str() {
                Some(link) => {
                    assert!(
                        link.contains("$top=50") && link.contains("$skiptoken="),
                        "{link}"
                    );
                    target = link.strip_prefix(&handle.base_url()).unwrap().to_string();
                }
                None => break,
            }
        }
        let total = Tenant::sample().users.len();
        assert_eq!(seen.len(), total);
        assert_eq!(pages, total.div_ceil(50));
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), total);
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn search_is_word_prefix() {
        let (handle, token) = emulator().await;
        let reply = get(
            &handle,
            &token,
            "/v1.0/users?$search=%22displayName:smi%22",
            true,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let found = names(&reply);
        assert!(
            found.contains(&"John Smith".to_string()) && found.contains(&"Smith, John".to_string())
        );
        assert!(
            found.iter().all(|n| n
                .to_lowercase()
                .split([' ', ','])
                .any(|w| w.starts_with("smi"))),
            "{found:?}"
        );
        let reply = get(
            &handle,
            &token,
            "/v1.0/users?$search=%22displayName:mith%22",
            true,
        )
        .await;
        assert!(!names(&reply).contains(&"John Smith".to_string()));
        // $search and $filter are ANDed.
        let reply = get(&handle, &token, "/v1.0/users?$search=%22displayName:smith%22&$filter=city%20eq%20%27chicago%27&$select=displayName,city", true).await;
        let found = names(&reply);
        assert!(
            found.contains(&"Smith, John".to_string())
                && !found.contains(&"John Smith".to_string()),
            "{found:?}"
        );
        assert!(
            reply.json()["value"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["city"] == "Chicago")
        );
        let reply = get(
            &handle,
            &token,
            "/v1.0/contacts?$search=%22displayName:wa%22&$count=true",
            true,
        )
        .await;
        assert!(names(&reply).contains(&"Nicole Wagner".to_string()));
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn reserved_characters_round_trip() {
        let (handle, token) = emulator().await;
        // `'` doubled, `#` as %23, `+` as %2B, `&` as %26, `%` as %25, `\` and `*` raw-encoded.
        for (target, want) in [
            (
                "/v1.0/users?$filter=surname%20eq%20%27O%27%27Brien%27",
                "Conor O'Brien",
            ),
            (
                "/v1.0/users?$filter=userPrincipalName%20eq%20%27jane_contoso.com%23EXT%23%40example.onmicrosoft.com%27",
                "Jane Doe",
            ),
            (
                "/v1.0/users?$filter=department%20eq%20%27Research%20%26%20Development%27%20and%20startsWith(displayName,%27Brian%27)",
                "Brian Johnson",
            ),
            (
                "/v1.0/users?$filter=displayName%20eq%20%27Backup%20%5C%20Legacy%20Service%27",
                "Backup \\ Legacy Service",
            ),
            (
                "/v1.0/users?$filter=startsWith(displayName,%27Build%20*%27)",
                "Build * Agent",
            ),
            (
                "/v1.0/users?$filter=displayName%20eq%20%27Smith,%20John%27",
                "Smith, John",
            ),
            (
                "/v1.0/users?$filter=displayName%20eq%20%27%E5%B1%B1%E7%94%B0%20%E5%A4%AA%E9%83%8E%27",
                "山田 太郎",
            ),
        ] {
            let reply = get(&handle, &token, target, false).await;
            assert_eq!(reply.status, 200, "{target}: {}", reply.body);
            assert_eq!(names(&reply), [want], "{target}");
        }
        // A raw `+` is a space, as in Graph's own examples: only %2B finds Megan's phone.
        let plus = get(
            &handle,
            &token,
            "/v1.0/users?$filter=startsWith(mobilePhone,%27%2B1%20425%20555%200150%27)&$count=true",
            true,
        )
        .await;
        assert_eq!(names(&plus), ["Megan Bowen"]);
        let raw_plus = get(
            &handle,
            &token,
            "/v1.0/users?$filter=startsWith(mobilePhone,%27+1%20425%20555%200150%27)&$count=true",
            true,
        )
        .await;
        assert!(names(&raw_plus).is_empty());
        let percent = get(
            &handle,
            &token,
            "/v1.0/users?$filter=displayName%20eq%20%27100%25%27",
            false,
        )
        .await;
        assert_eq!(percent.status, 200);
        let log = handle.request_log();
        assert!(
            log.iter()
                .any(|l| l == "GET /v1.0/users?$filter=displayName eq '100%'"),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l.contains("'jane_contoso.com#EXT#@example.onmicrosoft.com'"))
        );
        handle.reset_stats();
        assert!(handle.request_log().is_empty());
        assert_eq!(handle.requests(), 0);
        handle.shutdown().await;
    }

    #[test]
    fn base64_decodes_rfc4648_vectors() {
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64_decode("Zg").unwrap(), b"f");
        assert!(base64_decode("Zm9v!").is_none());
    }

    #[tokio::test]
    async fn basic_auth_sorting_and_count_segment() {
        let (handle, token) = emulator().await;
        let path = format!("/{}/oauth2/v2.0/token", crate::SAMPLE_TENANT_ID);
        // base64("6731de76-14a6-49ae-97bc-6eba6914391e:emulator-secret-not-for-production")
        let basic = "Basic NjczMWRlNzYtMTRhNi00OWFlLTk3YmMtNmViYTY5MTQzOTFlOmVtdWxhdG9yLXNlY3JldC1ub3QtZm9yLXByb2R1Y3Rpb24=";
        let form = format!(
            "scope={}/.default&grant_type=client_credentials",
            handle.base_url()
        );
        let reply = http(
            handle.addr,
            "POST",
            &path,
            &[("Authorization", basic)],
            &form,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);

        let reply = get(
            &handle,
            &token,
            "/v1.0/users?$orderby=displayName%20desc&$top=999&$select=displayName",
            false,
        )
        .await;
        let sorted = names(&reply);
        assert_eq!(sorted.len(), Tenant::sample().users.len());
        assert!(
            sorted
                .windows(2)
                .all(|w| w[0].to_lowercase() >= w[1].to_lowercase())
        );

        let reply = get(
            &handle,
            &token,
            "/v1.0/users/$count?$filter=startsWith(displayName,%27Ann%27)",
            true,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let want = Tenant::sample()
            .users
            .iter()
            .filter(|u| {
                u["displayName"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().starts_with("ann"))
            })
            .count();
        assert!(want >= 3);
        assert_eq!(reply.body, want.to_string());

        let reply = get(
            &handle,
            &token,
            "/v1.0/users('conor.o''brien%40example.com')",
            false,
        )
        .await;
        assert_eq!(reply.status, 404, "a UPN without the quote does not exist");
        let reply = get(&handle, &token, "/v1.0/contacts?$filter=startsWith(displayName,%27nicole%27)&$select=displayName,phones", false).await;
        assert_eq!(names(&reply), ["Nicole Wagner"]);
        assert!(reply.json()["value"][0]["phones"].is_array());
        assert!(format!("{handle:?}").contains("requests"));
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn faults_apply_to_data_requests() {
        let (handle, token) = emulator().await;
        handle.set_fault(Fault::Throttle {
            retry_after_secs: 7,
        });
        let reply = get(&handle, &token, "/v1.0/users", false).await;
        assert_eq!(reply.status, 429);
        assert_eq!(reply.headers["retry-after"], "7");
        assert_eq!(reply.code(), "TooManyRequests");
        handle.set_fault(Fault::Unavailable);
        let reply = get(&handle, &token, "/v1.0/users", false).await;
        assert_eq!(reply.status, 503);
        assert!(!reply.headers.contains_key("retry-after"));
        handle.set_fault(Fault::Garbage);
        let reply = get(&handle, &token, "/v1.0/users", false).await;
        assert_eq!(reply.status, 200);
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());
        handle.set_fault(Fault::Hang);
        let hung = tokio::time::timeout(
            Duration::from_millis(300),
            get(&handle, &token, "/v1.0/users", false),
        )
        .await;
        assert!(hung.is_err(), "a hanging emulator answered");
        handle.set_fault(Fault::None);
        assert_eq!(get(&handle, &token, "/v1.0/users", false).await.status, 200);
        assert_eq!(handle.rejections(), 0);
        handle.set_fault(Fault::Hang);
        tokio::time::timeout(Duration::from_secs(5), handle.shutdown())
            .await
            .unwrap();
    }

    /// Follows nextLinks from `first`, returning each page's status and, on failure, its body.
    async fn walk_pages(handle: &EmulatorHandle, token: &str, first: &str) -> Vec<Reply> {
        let mut target = first.to_string();
        let mut replies = Vec::new();
        loop {
            let reply = get(handle, token, &target, false).await;
            let next = (reply.status == 200)
                .then(|| reply.json()["@odata.nextLink"].as_str().map(str::to_string))
                .flatten();
            replies.push(reply);
            match next {
                Some(link) => target = link.strip_prefix(&handle.base_url()).unwrap().to_string(),
                None => return replies,
            }
        }
    }

    #[tokio::test]
    async fn page_faults_hit_only_their_page() {
        let (handle, token) = emulator().await;
        let first = "/v1.0/users?$select=displayName&$top=100";
        let pages = Tenant::sample().users.len().div_ceil(100);
        assert!(pages >= 4, "the sample tenant spans several pages of 100");

        handle.set_page_fault(Some(PageFault {
            page: 3,
            fault: Fault::Unavailable,
        }));
        let replies = walk_pages(&handle, &token, first).await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            vec![200, 200, 503],
            "page 3 fails, pages 1-2 do not"
        );
        assert_eq!(replies[2].code(), "serviceNotAvailable");
        // A single-object read is no page and is never hit.
        let id = Tenant::sample().users[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let one = get(&handle, &token, &format!("/v1.0/users/{id}"), false).await;
        assert_eq!(one.status, 200, "{}", one.body);

        handle.set_page_fault(Some(PageFault {
            page: 2,
            fault: Fault::ExpiredSkiptoken,
        }));
        let replies = walk_pages(&handle, &token, first).await;
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1].status, 400);
        assert_eq!(replies[1].code(), "Directory_ExpiredPageToken");
        assert!(
            replies[1]
                .message()
                .contains("page token value has expired")
        );

        handle.set_page_fault(Some(PageFault {
            page: 2,
            fault: Fault::Slow { millis: 600 },
        }));
        let started = Instant::now();
        let replies = walk_pages(&handle, &token, first).await;
        assert_eq!(replies.len(), pages);
        assert!(replies.iter().all(|r| r.status == 200));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(600),
            "page 2 was not slowed: {took:?}"
        );

        handle.set_page_fault(None);
        let replies = walk_pages(&handle, &token, first).await;
        assert_eq!(replies.len(), pages);

        // Expired skiptokens everywhere: first pages still work.
        handle.set_fault(Fault::ExpiredSkiptoken);
        let replies = walk_pages(&handle, &token, first).await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![200, 400]);
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn refused_token_endpoint_keeps_issued_tokens_valid() {
        let (handle, token) = emulator().await;
        assert_eq!(handle.token_requests(), 1);
        handle.refuse_token_requests(true);
        let scope = format!("{}/.default", handle.base_url());
        let path = format!("/{}/oauth2/v2.0/token", crate::SAMPLE_TENANT_ID);
        let form = token_form(crate::SAMPLE_CLIENT_SECRET, &scope);
        let started = Instant::now();
        handle.set_token_delay(Duration::from_millis(300));
        let reply = http(
            handle.addr,
            "POST",
            &path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "not delayed"
        );
        assert_eq!(reply.status, 401, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"][0], 7000222);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS7000222: The provided client secret keys for app"),
            "{body}"
        );
        assert_eq!(handle.token_requests(), 2);
        // The token issued before the refusal still reads the directory.
        assert_eq!(
            get(&handle, &token, "/v1.0/users?$top=1", false)
                .await
                .status,
            200
        );
        handle.refuse_token_requests(false);
        handle.set_token_delay(Duration::ZERO);
        let reply = http(
            handle.addr,
            "POST",
            &path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        handle.shutdown().await;
    }
}
