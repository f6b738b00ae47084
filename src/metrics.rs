//! Observability: owns the Prometheus registry, the small recording handles the edge
//! (`LdapMetrics`), the engine (`SearchMetrics`) and the Graph client (`GraphMetrics`) are
//! given, the health state, and the HTTP listener serving `/metrics` and `/healthz`.
//! It decides nothing about LDAP or Graph: callers say what happened, it counts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldap3_proto::proto::{LdapMsg, LdapOp};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Latency buckets: 1 ms to about 33 s, doubling (an LDAP answer from cache to a slow
/// multi-page Graph scan).
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
    /// The LDAP result code as a number (RFC 4511 §4.1.9), e.g. 0, 32, 49.
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationKind {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabel {
    kind: &'static str,
}

/// What a client did wrong (the `kind` label of `ldap_client_faults_total`): input that is
/// the client's fault, never the server's, so it is counted and not logged as an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientFault {
    /// A complete BER PDU that is not a valid LDAP message (bad message id, a request
    /// missing its fields, an unknown operation, BER that does not parse).
    UndecodableRequest,
    /// Input that cannot be framed as LDAP PDUs (not a SEQUENCE, indefinite or overlong lengths).
    MalformedBer,
    /// A PDU declaring more than `max_message_bytes`.
    OversizedPdu,
    /// A server-side operation (a response) sent by the client.
    UnexpectedOperation,
    /// A trusted balancer's connection without a valid PROXY header.
    BadProxyHeader,
    /// A TLS handshake (LDAPS or StartTLS) that failed or timed out.
    TlsHandshake,
}

impl ClientFault {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientFault::UndecodableRequest => "undecodable_request",
            ClientFault::MalformedBer => "malformed_ber",
            ClientFault::OversizedPdu => "oversized_pdu",
            ClientFault::UnexpectedOperation => "unexpected_operation",
            ClientFault::BadProxyHeader => "bad_proxy_header",
            ClientFault::TlsHandshake => "tls_handshake",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GraphRequestLabels {
    resource: &'static str,
    /// The HTTP status, or `error` when no answer arrived (connection error, timeout).
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabel {
    resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabel {
    credential: &'static str,
}

type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// What `/healthz` reports: listeners bound, a token obtained, and the last token error.
#[derive(Default)]
struct Health {
    listeners_bound: AtomicBool,
    token_obtained: AtomicBool,
    last_token_error: Mutex<Option<String>>,
}

/// The edge's handle: operations, latency, connections. Clones share the counters.
#[derive(Clone)]
pub struct LdapMetrics {
    operations: Family<OperationLabels, Counter>,
    latency: LatencyFamily<OperationKind>,
    open: Gauge,
    accepted: Counter,
    refused: Counter,
    client_faults: Family<FaultLabel, Counter>,
}

/// The Graph client's handle: requests, resource units, throttling, tokens.
#[derive(Clone)]
pub struct GraphMetrics {
    requests: Family<GraphRequestLabels, Counter>,
    latency: LatencyFamily<ResourceLabel>,
    resource_units: Family<ResourceLabel, Counter>,
    throttled: Family<ResourceLabel, Counter>,
    retry_waits: Counter,
    retry_wait_seconds: Counter<f64, AtomicU64>,
    throttle_limit: Gauge<f64, AtomicU64>,
    tokens: Family<OutcomeLabel, Counter>,
    token_lifetime: Gauge,
    credential_expiry_days: Family<CredentialLabel, Gauge<f64, AtomicU64>>,
    /// When the credential stops being valid, in Unix seconds (unset: not known).
    credential_not_after: Arc<Mutex<Option<i64>>>,
    health: Arc<Health>,
}

/// The engine's handle: answer cache, coalescing, phone index.
#[derive(Clone, Default)]
pub struct SearchMetrics {
    cache_hits: Counter,
    result_hits: Counter,
    coalesced: Counter,
    graph_fetches: Counter,
    index_objects: Gauge,
    index_numbers: Gauge,
    index_age: Gauge<f64, AtomicU64>,
    /// When the phone index was last loaded or refreshed (unset: never).
    index_refreshed: Arc<Mutex<Option<Instant>>>,
}

impl Default for LdapMetrics {
    fn default() -> Self {
        LdapMetrics {
            operations: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            open: Gauge::default(),
            accepted: Counter::default(),
            refused: Counter::default(),
            client_faults: Family::default(),
        }
    }
}

impl Default for GraphMetrics {
    fn default() -> Self {
        GraphMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            resource_units: Family::default(),
            throttled: Family::default(),
            retry_waits: Counter::default(),
            retry_wait_seconds: Counter::default(),
            throttle_limit: Gauge::default(),
            tokens: Family::default(),
            token_lifetime: Gauge::default(),
            credential_expiry_days: Family::default(),
            credential_not_after: Arc::default(),
            health: Arc::default(),
        }
    }
}

/// Decrements the open-connections gauge when the connection ends.
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The LDAP operation a response finishes and its result code; `None` for PDUs that
/// finish nothing (entries, references, intermediate responses).
fn finished_operation(msg: &LdapMsg) -> Option<(&'static str, u16)> {
    let (op, res) = match &msg.op {
        LdapOp::BindResponse(r) => ("bind", &r.res),
        LdapOp::SearchResultDone(r) => ("search", r),
        LdapOp::CompareResult(r) => ("compare", r),
        LdapOp::ExtendedResponse(r) => ("extended", &r.res),
        LdapOp::ModifyResponse(r) => ("modify", r),
        LdapOp::AddResponse(r) => ("add", r),
        LdapOp::DelResponse(r) => ("delete", r),
        LdapOp::ModifyDNResponse(r) => ("modrdn", r),
        _ => return None,
    };
    Some((op, res.code.clone() as u16))
}

impl LdapMetrics {
    /// Counts the operation `msg` finishes (if any), `started` being when it was read.
    pub fn finished(&self, msg: &LdapMsg, started: Instant) {
        let Some((operation, code)) = finished_operation(msg) else {
            return;
        };
        self.operations
            .get_or_create(&OperationLabels { operation, code })
            .inc();
        self.latency
            .get_or_create(&OperationKind { operation })
            .observe(started.elapsed().as_secs_f64());
    }

    /// A connection was accepted; the gauge drops when the guard does.
    pub fn connection_opened(&self) -> OpenConnection {
        self.accepted.inc();
        self.open.inc();
        OpenConnection(self.open.clone())
    }

    /// A connection was turned away at `max_connections`.
    pub fn connection_refused(&self) {
        self.refused.inc();
    }

    /// A client sent something that is its fault (each occurrence counts).
    pub fn client_fault(&self, fault: ClientFault) {
        self.client_faults
            .get_or_create(&FaultLabel {
                kind: fault.as_str(),
            })
            .inc();
    }
}

/// The bounded `resource` label of a Graph URL: the collection (`users`, `contacts`,
/// `organization`, ...), `users/delta` for delta rounds, `users/{id}` for one object, and
/// `other` for anything else, so that ids and queries never become label values.
pub fn graph_resource(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path
        .split('/')
        .skip_while(|s| *s != "v1.0" && *s != "beta")
        .skip(1)
        .filter(|s| !s.is_empty());
    let (first, second) = (segments.next(), segments.next());
    match (first, second) {
        (Some("users"), None) => "users",
        (Some("users"), Some("delta")) => "users/delta",
        (Some("users"), Some(_)) => "users/{id}",
        (Some("contacts"), None) => "contacts",
        (Some("contacts"), Some("delta")) => "contacts/delta",
        (Some("contacts"), Some(_)) => "contacts/{id}",
        (Some("organization"), _) => "organization",
        _ => "other",
    }
}

impl GraphMetrics {
    /// One HTTP answer from Graph: status, latency, and the throttling headers of
    /// GRAPH.md §6 (`x-ms-resource-unit`, `x-ms-throttle-limit-percentage`).
    pub fn response(
        &self,
        url: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        elapsed: Duration,
    ) {
        let resource = graph_resource(url);
        self.requests
            .get_or_create(&GraphRequestLabels {
                resource,
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&ResourceLabel { resource })
            .observe(elapsed.as_secs_f64());
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        if let Some(units) = header("x-ms-resource-unit").and_then(|v| v.parse::<u64>().ok()) {
            self.resource_units
                .get_or_create(&ResourceLabel { resource })
                .inc_by(units);
        }
        if let Some(p) = header("x-ms-throttle-limit-percentage")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|p| p.is_finite())
        {
            self.throttle_limit.set(p);
        }
        if status == 429 {
            self.throttled
                .get_or_create(&ResourceLabel { resource })
                .inc();
        }
    }

    /// A request that got no HTTP answer (connection error or timeout).
    pub fn no_answer(&self, url: &str, elapsed: Duration) {
        let resource = graph_resource(url);
        self.requests
            .get_or_create(&GraphRequestLabels {
                resource,
                status: "error".to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&ResourceLabel { resource })
            .observe(elapsed.as_secs_f64());
    }

    /// The client waits `wait` before retrying a throttled (429/503) request.
    pub fn retry_wait(&self, wait: Duration) {
        self.retry_waits.inc();
        self.retry_wait_seconds.inc_by(wait.as_secs_f64());
    }

    /// The token endpoint issued a token living `lifetime`.
    pub fn token_obtained(&self, lifetime: Duration) {
        self.tokens
            .get_or_create(&OutcomeLabel { result: "ok" })
            .inc();
        self.token_lifetime
            .set(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
        self.health.token_obtained.store(true, Ordering::SeqCst);
        *lock(&self.health.last_token_error) = None;
    }

    /// The credential (a certificate) stops being valid at `not_after` (Unix seconds).
    pub fn credential_expires_at(&self, not_after: i64) {
        *lock(&self.credential_not_after) = Some(not_after);
    }

    fn update_expiry(&self) {
        if let Some(not_after) = *lock(&self.credential_not_after) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            // A family, so that nothing is exported while the expiry is unknown.
            self.credential_expiry_days
                .get_or_create(&CredentialLabel {
                    credential: "certificate",
                })
                .set((not_after as f64 - now) / 86_400.0);
        }
    }

    /// A token request failed with `error` (already redacted by the caller).
    pub fn token_failed(&self, error: &str) {
        self.tokens
            .get_or_create(&OutcomeLabel { result: "error" })
            .inc();
        *lock(&self.health.last_token_error) = Some(error.to_string());
    }
}

impl SearchMetrics {
    /// A Graph query answered from the answer cache.
    pub fn cache_hit(&self) {
        self.cache_hits.inc();
    }

    /// A whole search answered from the result cache (no Graph query planned).
    pub fn result_hit(&self) {
        self.result_hits.inc();
    }

    /// A Graph query that shared an identical request already in flight.
    pub fn coalesced(&self) {
        self.coalesced.inc();
    }

    /// A Graph query that went to Graph (neither cached nor coalesced).
    pub fn graph_fetch(&self) {
        self.graph_fetches.inc();
    }

    /// The phone index was loaded or refreshed and now holds these counts.
    pub fn phone_index_refreshed(&self, objects: usize, numbers: usize) {
        self.index_objects
            .set(i64::try_from(objects).unwrap_or(i64::MAX));
        self.index_numbers
            .set(i64::try_from(numbers).unwrap_or(i64::MAX));
        *lock(&self.index_refreshed) = Some(Instant::now());
    }

    fn update_age(&self) {
        if let Some(at) = *lock(&self.index_refreshed) {
            self.index_age.set(at.elapsed().as_secs_f64());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The registry and every handle. Clones share everything.
#[derive(Clone)]
pub struct Metrics {
    pub ldap: LdapMetrics,
    pub graph: GraphMetrics,
    pub search: SearchMetrics,
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric registered under the `ldap_graph_gateway` prefix (docs/operations.md).
    pub fn new() -> Self {
        let (ldap, graph, search) = (
            LdapMetrics::default(),
            GraphMetrics::default(),
            SearchMetrics::default(),
        );
        let mut r = Registry::with_prefix("ldap_graph_gateway");
        r.register(
            "ldap_operations",
            "LDAP operations finished, by operation and LDAP result code",
            ldap.operations.clone(),
        );
        r.register(
            "ldap_operation_duration_seconds",
            "Time from reading an LDAP request to its final response",
            ldap.latency.clone(),
        );
        r.register(
            "ldap_connections_open",
            "LDAP connections open now",
            ldap.open.clone(),
        );
        r.register(
            "ldap_connections_accepted",
            "LDAP connections accepted",
            ldap.accepted.clone(),
        );
        r.register(
            "ldap_connections_refused",
            "LDAP connections refused because max_connections was reached",
            ldap.refused.clone(),
        );
        r.register(
            "ldap_client_faults",
            "Client faults (garbage PDUs, bad PROXY headers, failed TLS handshakes), by kind",
            ldap.client_faults.clone(),
        );
        r.register(
            "graph_requests",
            "Graph data requests (retries included), by resource and HTTP status",
            graph.requests.clone(),
        );
        r.register(
            "graph_request_duration_seconds",
            "Time of one Graph HTTP request",
            graph.latency.clone(),
        );
        r.register(
            "graph_resource_units",
            "Resource units Graph charged, summed from the x-ms-resource-unit header",
            graph.resource_units.clone(),
        );
        r.register(
            "graph_throttled",
            "Graph answers with HTTP 429 Too Many Requests",
            graph.throttled.clone(),
        );
        r.register(
            "graph_retry_waits",
            "Waits before retrying a throttled (429/503) Graph request",
            graph.retry_waits.clone(),
        );
        r.register(
            "graph_retry_wait_seconds",
            "Seconds spent waiting (Retry-After or backoff) before retrying throttled requests",
            graph.retry_wait_seconds.clone(),
        );
        r.register(
            "graph_throttle_limit_percentage",
            "Last x-ms-throttle-limit-percentage seen (0.8 to 1.8 of the limit; 0 until Graph sends it)",
            graph.throttle_limit.clone(),
        );
        r.register(
            "graph_token_requests",
            "Access token requests to the token endpoint, by result",
            graph.tokens.clone(),
        );
        r.register(
            "graph_token_lifetime_seconds",
            "Lifetime of the last access token obtained",
            graph.token_lifetime.clone(),
        );
        r.register(
            "graph_credential_expiry_days",
            "Days until the client certificate expires (negative: expired); absent for client secrets",
            graph.credential_expiry_days.clone(),
        );
        r.register(
            "search_cache_hits",
            "Graph queries answered from the answer cache",
            search.cache_hits.clone(),
        );
        r.register(
            "search_result_cache_hits",
            "Searches answered whole from the result cache (identical search within cache_ttl_secs)",
            search.result_hits.clone(),
        );
        r.register(
            "search_coalesced",
            "Graph queries that shared an identical request already in flight",
            search.coalesced.clone(),
        );
        r.register(
            "search_graph_fetches",
            "Graph queries sent to Graph (not cached, not coalesced)",
            search.graph_fetches.clone(),
        );
        r.register(
            "phone_index_objects",
            "Users and contacts with a number in the phone index",
            search.index_objects.clone(),
        );
        r.register(
            "phone_index_numbers",
            "Phone numbers in the phone index",
            search.index_numbers.clone(),
        );
        r.register(
            "phone_index_age_seconds",
            "Seconds since the phone index was last loaded or refreshed (absent value 0: never)",
            search.index_age.clone(),
        );
        Metrics {
            ldap,
            graph,
            search,
            registry: Arc::new(r),
        }
    }

    /// The LDAP listeners are bound (half of `/healthz`).
    pub fn listeners_bound(&self) {
        self.graph
            .health
            .listeners_bound
            .store(true, Ordering::SeqCst);
    }

    /// `None` when healthy, otherwise why not.
    pub fn unhealthy(&self) -> Option<String> {
        let h = &self.graph.health;
        if !h.listeners_bound.load(Ordering::SeqCst) {
            return Some("the LDAP listeners are not bound yet".into());
        }
        if !h.token_obtained.load(Ordering::SeqCst) {
            return Some(match &*lock(&h.last_token_error) {
                Some(e) => format!("no Graph access token obtained yet: {e}"),
                None => "no Graph access token obtained yet".into(),
            });
        }
        None
    }

    /// The scrape: OpenMetrics text.
    pub fn render(&self) -> String {
        self.search.update_age();
        self.graph.update_expiry();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Binds `addr` and serves `/metrics` and `/healthz` until the process ends.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        use axum::http::{StatusCode, header};
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr} for metrics: {e}"),
            )
        })?;
        let bound = listener.local_addr()?;
        let (m, h) = (self.clone(), self.clone());
        let app = axum::Router::new()
            .route(
                "/metrics",
                get(move || {
                    let m = m.clone();
                    async move {
                        (
                            [(
                                header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            m.render(),
                        )
                    }
                }),
            )
            .route(
                "/healthz",
                get(move || {
                    let h = h.clone();
                    async move {
                        match h.unhealthy() {
                            None => (StatusCode::OK, "ok\n".to_string()),
                            Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
                        }
                    }
                }),
            );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
        tracing::info!(addr = %bound, "metrics listening (/metrics, /healthz)");
        Ok(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::LdapResultCode;
    use ldap3_proto::proto::{LdapBindResponse, LdapResult};

    #[test]
    fn resource_labels_are_bounded() {
        let b = "https://graph.microsoft.com/v1.0";
        assert_eq!(graph_resource(&format!("{b}/users?$filter=x")), "users");
        assert_eq!(graph_resource(&format!("{b}/users/")), "users");
        assert_eq!(
            graph_resource(&format!("{b}/users/delta?$deltatoken=abc")),
            "users/delta"
        );
        assert_eq!(
            graph_resource(&format!("{b}/users/0f1e2d3c-aaaa-bbbb-cccc-123456789abc")),
            "users/{id}"
        );
        assert_eq!(graph_resource(&format!("{b}/contacts?$top=5")), "contacts");
        assert_eq!(graph_resource(&format!("{b}/organization")), "organization");
        assert_eq!(graph_resource(&format!("{b}/groups/x/members")), "other");
        assert_eq!(
            graph_resource("http://127.0.0.1:1/v1.0/contacts/delta"),
            "contacts/delta"
        );
        assert_eq!(graph_resource("not a url"), "other");
    }

    #[test]
    fn finished_operations_carry_their_result_code() {
        let bind = LdapMsg::new(
            1,
            LdapOp::BindResponse(LdapBindResponse {
                res: LdapResult {
                    code: LdapResultCode::InvalidCredentials,
                    matcheddn: String::new(),
                    message: String::new(),
                    referral: Vec::new(),
                },
                saslcreds: None,
            }),
        );
        assert_eq!(finished_operation(&bind), Some(("bind", 49)));
        let m = Metrics::new();
        m.ldap.finished(&bind, Instant::now());
        let text = m.render();
        assert!(
            text.contains(
                "ldap_graph_gateway_ldap_operations_total{operation=\"bind\",code=\"49\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn health_needs_listeners_and_a_token() {
        let m = Metrics::new();
        assert!(m.unhealthy().unwrap().contains("listeners"));
        m.listeners_bound();
        m.graph.token_failed("AADSTS7000222: the secret expired");
        assert!(m.unhealthy().unwrap().contains("AADSTS7000222"));
        m.graph.token_obtained(Duration::from_secs(3599));
        assert_eq!(m.unhealthy(), None);
    }

    #[test]
    fn credential_expiry_counts_down_in_days() {
        let m = Metrics::new();
        assert!(
            !m.render().contains("expiry_days{"),
            "unknown expiry is not exported"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        m.graph.credential_expires_at(now + 10 * 86_400 - 60);
        let days = m
            .render()
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    "ldap_graph_gateway_graph_credential_expiry_days{credential=\"certificate\"} ",
                )
            })
            .map(|v| v.parse::<f64>().unwrap())
            .unwrap();
        assert!(days > 9.9 && days < 10.0, "{days}");
    }

    #[test]
    fn throttling_headers_are_read() {
        let m = Metrics::new();
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ms-resource-unit", "3".parse().unwrap());
        h.insert("x-ms-throttle-limit-percentage", " 0.9".parse().unwrap());
        m.graph
            .response("http://h/v1.0/users", 200, &h, Duration::from_millis(5));
        m.graph.response(
            "http://h/v1.0/users",
            429,
            &reqwest::header::HeaderMap::new(),
            Duration::ZERO,
        );
        let text = m.render();
        assert!(
            text.contains("ldap_graph_gateway_graph_resource_units_total{resource=\"users\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("ldap_graph_gateway_graph_throttle_limit_percentage 0.9"),
            "{text}"
        );
        assert!(
            text.contains("ldap_graph_gateway_graph_throttled_total{resource=\"users\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "ldap_graph_gateway_graph_requests_total{resource=\"users\",status=\"429\"} 1"
            ),
            "{text}"
        );
    }
}
