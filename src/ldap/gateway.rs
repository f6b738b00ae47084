//! What every connection shares: the `Gateway` (directory, accounts, TLS acceptor), the
//! edge's limits with their defaults, and who a client is. Plain data; it runs nothing and
//! knows no socket.

use std::net::IpAddr;
use std::time::Duration;

use arc_swap::ArcSwap;
use ldap3_proto::proto::LdapSearchScope;
use tokio_rustls::TlsAcceptor;

use super::accounts::BindAccount;
use super::throttle::BindGuard;
use crate::directory::tree::Target;
use crate::metrics::LdapMetrics;
use crate::search::Directory;

/// Limits and policies of the LDAP edge (docs/configuration.md), as the validated
/// `[ldap]` table holds them; the `DEFAULT_*` values below are the defaults of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    pub max_connections: usize,
    /// Connections one client address may hold at once; more get a busy notice.
    pub max_connections_per_client: usize,
    /// Load balancers whose PROXY protocol header (v1 or v2) names the real client.
    pub proxy_protocol: Vec<IpAddr>,
    pub max_message_bytes: usize,
    /// BER nesting accepted by the decoder; deeper PDUs are answered protocolError.
    pub max_ber_depth: usize,
    pub max_filter_depth: usize,
    pub idle_timeout_secs: u64,
    pub size_limit: u32,
    pub time_limit_secs: u64,
    pub allow_anonymous: bool,
    pub require_tls_for_bind: bool,
    /// Paged searches kept per connection; the oldest is forgotten beyond it.
    pub max_paged_searches: usize,
    /// How long a paged-results cookie stays valid after its last page.
    pub paged_ttl: Duration,
    /// Searches and compares running at once on one connection; more are answered busy (51).
    pub max_operations_per_connection: usize,
    /// How long a TLS handshake (LDAPS or StartTLS) may take before the connection is closed.
    pub tls_handshake_timeout: Duration,
}

impl EdgeLimits {
    /// Default of `paged_ttl`: an unused paged cookie expires after five minutes.
    pub const DEFAULT_PAGED_TTL: Duration = Duration::from_secs(300);
    /// Default of `max_operations_per_connection`.
    pub const DEFAULT_MAX_OPERATIONS_PER_CONNECTION: usize = 32;
    /// Default of `tls_handshake_timeout`.
    pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default of `max_connections_per_client`.
    pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 64;

    /// BER nesting for a filter depth limit: deep enough that an over-deep filter still
    /// decodes and gets a clear result on its message id (max_filter_depth is checked
    /// after decoding); bounded so that decoding cannot exhaust the stack.
    pub fn ber_depth_for(max_filter_depth: usize) -> usize {
        (max_filter_depth * 2 + 16).max(300)
    }
}

/// Everything a session needs, shared by all connections.
pub struct Gateway {
    pub directory: Directory,
    pub limits: EdgeLimits,
    pub accounts: Vec<BindAccount>,
    /// The current TLS acceptor, swapped on reload; `None` without `[tls]`.
    pub tls: Option<ArcSwap<TlsAcceptor>>,
    /// Failed binds per client address, and the bounded pool that verifies passwords.
    pub binds: BindGuard,
    /// Where the edge counts operations and connections.
    pub metrics: LdapMetrics,
}

impl Gateway {
    /// True when `identity` may not read `base` with `scope`: with `allow_anonymous` off,
    /// an anonymous client reads only the root DSE and the subschema entry (scope base).
    pub fn refuses_anonymous(
        &self,
        identity: &Identity,
        base: &str,
        scope: &LdapSearchScope,
    ) -> bool {
        if *identity != Identity::Anonymous || self.limits.allow_anonymous {
            return false;
        }
        let open_entry = matches!(
            self.directory.tree.resolve(base),
            Target::RootDse | Target::Subschema
        );
        !(open_entry && *scope == LdapSearchScope::Base)
    }
}

/// Who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    Account { dn: String },
}
