//! Configuration (CONTRACT §3): reads the TOML file into the domain types of the modules
//! that own each value, calling their parsers and adding only the file, line and dotted
//! key to their errors. It has no rules of its own for DNs, bind names, URLs, tenant ids,
//! phone rules, TLS versions or mapping sources. Loading only validates: it never reads
//! secret, key or certificate files (the Graph client and TLS setup do that later), and
//! never echoes a secret value.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::directory::mapping::Override;
use crate::directory::phone::{PhoneMatch, Region};
use crate::directory::schema;
use crate::directory::tree::Tree;
use crate::graph::{Credential, GraphSettings, parse_base_url, parse_client_id, parse_tenant_id};
use crate::ldap::accounts::{self, AccountSecret, BindAccount};
use crate::ldap::gateway::EdgeLimits;
use crate::ldap::tls::TlsVersion;
use crate::search::membership::GroupSettings;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub ldap: LdapConfig,
    pub tls: Option<TlsConfig>,
    pub graph: GraphConfig,
    pub search: SearchConfig,
    pub phone: PhoneConfig,
    pub mapping: MappingConfig,
    pub metrics: MetricsConfig,
    pub compat: CompatConfig,
    /// `[groups]` (CONTRACT §9), as the engine takes it.
    pub groups: GroupSettings,
}

/// `[compat]`: compatibility profiles (CONTRACT §9). `active_directory` adds the AD
/// attributes, matching rules and ANR of `directory::compat`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompatConfig {
    pub active_directory: bool,
}

/// `[metrics]`: the HTTP listener serving Prometheus `/metrics` and `/healthz`
/// (docs/operations.md); off while `listen` is empty, as it is by default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsConfig {
    pub listen: Vec<SocketAddr>,
}

/// `[ldap]`: listeners, the naming context, binds and per-connection limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapConfig {
    pub listen: Vec<SocketAddr>,
    pub ldaps_listen: Vec<SocketAddr>,
    /// The tree under `base_dn`, parsed by the tree itself.
    pub tree: Tree,
    pub accounts: Vec<BindAccount>,
    /// Every other `[ldap]` key, as the edge's own type: the gateway takes it unchanged.
    pub limits: EdgeLimits,
}

/// `[tls]`: certificate and key for StartTLS and the LDAPS listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub min_version: TlsVersion,
}

/// `[graph]`: the tenant, the app registration and how Graph is queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// Tenant, app, credential, base URLs and request timeout, as the client takes them.
    /// The base URLs have no trailing slash: the token endpoint is
    /// `{login_url}/{tenant_id}/oauth2/v2.0/token`, requests go to `{graph_url}/v1.0/...`.
    pub client: GraphSettings,
    pub user_filter: String,
    pub include_contacts: bool,
    pub page_size: u32,
    /// `visible_groups` (CONTRACT §9): group ids or display names.
    pub visible_groups: Vec<String>,
}

/// `[search]`: how far the gateway goes to answer exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchConfig {
    pub strict_substrings: bool,
    /// Graph objects fetched for one search before it ends with adminLimitExceeded (11).
    pub max_scan: u32,
    /// Lifetime of cached Graph answers; 0 turns the cache off.
    pub cache_ttl_secs: u64,
    /// Most bytes (approximate) the cached Graph answers may hold together.
    pub cache_max_bytes: u64,
    /// Identical concurrent Graph requests share one round trip.
    pub coalesce: bool,
    /// Organizational contacts read for a phone-number search (Graph cannot filter them).
    pub contact_scan_limit: u32,
}

/// `[phone]`: phone number matching (CONTRACT §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneConfig {
    pub default_region: Region,
    /// The TOML key is `match`.
    pub match_mode: PhoneMatch,
    /// Keep the in-memory phone index of CONTRACT §7 (numbers and object ids only).
    pub index: bool,
    /// Seconds between two reads of the phone index's delta links.
    pub index_refresh_secs: u64,
}

/// `[mapping.users]` / `[mapping.contacts]`: `ldapAttr = "graphProperty"` overrides of the
/// default mapping (CONTRACT §5), in file order; an override without a source drops the
/// attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MappingConfig {
    pub users: Vec<Override>,
    pub contacts: Vec<Override>,
}

/// A configuration error an administrator can act on: file, line, dotted key, problem.
/// Displayed as `config.toml:12: ldap.size_limit: must be at least 1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub path: String,
    pub line: Option<usize>,
    /// Dotted key, e.g. `ldap.accounts[0].password_hash`; empty for TOML syntax errors.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Defaults for keys the file may leave out (documented in conf/config.example.toml).
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:389";
    pub const SIZE_LIMIT: u32 = 500;
    pub const TIME_LIMIT_SECS: u64 = 10;
    pub const MAX_CONNECTIONS: usize = 1024;
    pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
    pub const MAX_FILTER_DEPTH: usize = 32;
    pub const IDLE_TIMEOUT_SECS: u64 = 300;
    pub const MAX_PAGED_SEARCHES: usize = 8;
    pub const PAGED_TTL_SECS: u64 = super::EdgeLimits::DEFAULT_PAGED_TTL.as_secs();
    pub const MAX_OPERATIONS_PER_CONNECTION: usize =
        super::EdgeLimits::DEFAULT_MAX_OPERATIONS_PER_CONNECTION;
    pub const TLS_HANDSHAKE_TIMEOUT_SECS: u64 =
        super::EdgeLimits::DEFAULT_TLS_HANDSHAKE_TIMEOUT.as_secs();
    pub const MAX_CONNECTIONS_PER_CLIENT: usize =
        super::EdgeLimits::DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
    pub const TLS_MIN_VERSION: super::TlsVersion = super::TlsVersion::Tls12;
    pub const LOGIN_URL: &str = "https://login.microsoftonline.com";
    pub const GRAPH_URL: &str = "https://graph.microsoft.com";
    pub const USER_FILTER: &str = "accountEnabled eq true";
    pub const REQUEST_TIMEOUT_SECS: u64 = 10;
    /// GRAPH.md §4: `$top` on /users is at most 999.
    pub const PAGE_SIZE: u32 = 999;
    pub const MAX_SCAN: u32 = 10_000;
    pub const CACHE_TTL_SECS: u64 = 30;
    /// 64 MiB of cached Graph answers.
    pub const CACHE_MAX_BYTES: u64 = 64 * 1024 * 1024;
    pub const CONTACT_SCAN_LIMIT: u32 = 5_000;
    pub const DEFAULT_REGION: super::Region = super::Region::US;
    pub const MATCH_MODE: super::PhoneMatch = super::PhoneMatch::E164;
    pub const PHONE_INDEX: bool = true;
    pub const INDEX_REFRESH_SECS: u64 = 60;

    /// The edge limits of an `[ldap]` table that sets no limit key.
    pub fn edge_limits() -> super::EdgeLimits {
        super::EdgeLimits {
            max_connections: MAX_CONNECTIONS,
            max_connections_per_client: MAX_CONNECTIONS_PER_CLIENT,
            proxy_protocol: Vec::new(),
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_ber_depth: super::EdgeLimits::ber_depth_for(MAX_FILTER_DEPTH),
            max_filter_depth: MAX_FILTER_DEPTH,
            idle_timeout_secs: IDLE_TIMEOUT_SECS,
            size_limit: SIZE_LIMIT,
            time_limit_secs: TIME_LIMIT_SECS,
            allow_anonymous: false,
            require_tls_for_bind: true,
            max_paged_searches: MAX_PAGED_SEARCHES,
            paged_ttl: super::Duration::from_secs(PAGED_TTL_SECS),
            max_operations_per_connection: MAX_OPERATIONS_PER_CONNECTION,
            tls_handshake_timeout: super::Duration::from_secs(TLS_HANDSHAKE_TIMEOUT_SECS),
        }
    }
}

/// Smallest `max_message_bytes` accepted: a bind or a modest search must fit.
const MIN_MESSAGE_BYTES: usize = 1024;
/// GRAPH.md §4: `$top` on /users is at most 999.
const MAX_PAGE_SIZE: u32 = 999;

impl Config {
    /// Read and validate the file at `path`. Files the config names are not opened.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: origin.clone(),
            line: None,
            key: String::new(),
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::parse(&text, &origin)
    }

    /// Validate configuration text. `origin` names the file in errors, and its directory
    /// anchors relative paths inside the configuration.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let reader = ConfigReader {
            text,
            origin,
            base_dir: Path::new(origin).parent().unwrap_or(Path::new("")),
        };
        let raw: RawConfig = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => return Err(reader.serde_error(&e)),
        };
        reader.config(raw)
    }

    /// The configuration `demo` runs with: base `dc=example,dc=com`, anonymous search,
    /// binds allowed over plain LDAP, contacts included, Graph at `graph_base_url` (the
    /// in-process emulator serves both the token endpoint and Graph), defaults elsewhere.
    /// Fails only when `graph_base_url` or an id is refused by the Graph client's parsers.
    pub fn demo(
        listen: SocketAddr,
        graph_base_url: &str,
        tenant_id: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Config, String> {
        let base_url = parse_base_url(graph_base_url)?;
        Ok(Config {
            ldap: LdapConfig {
                listen: vec![listen],
                ldaps_listen: Vec::new(),
                tree: Tree::new("dc=example,dc=com")?,
                accounts: Vec::new(),
                limits: EdgeLimits {
                    allow_anonymous: true,
                    require_tls_for_bind: false,
                    ..defaults::edge_limits()
                },
            },
            tls: None,
            graph: GraphConfig {
                client: GraphSettings {
                    tenant_id: parse_tenant_id(tenant_id)?,
                    client_id: parse_client_id(client_id)?,
                    credential: Credential::Secret(client_secret.to_string()),
                    login_url: base_url.clone(),
                    graph_url: base_url,
                    request_timeout: Duration::from_secs(defaults::REQUEST_TIMEOUT_SECS),
                },
                user_filter: defaults::USER_FILTER.to_string(),
                include_contacts: true,
                page_size: defaults::PAGE_SIZE,
                visible_groups: Vec::new(),
            },
            search: SearchConfig::default(),
            phone: PhoneConfig::default(),
            mapping: MappingConfig::default(),
            metrics: MetricsConfig::default(),
            compat: CompatConfig::default(),
            groups: GroupSettings::default(),
        })
    }
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            strict_substrings: false,
            max_scan: defaults::MAX_SCAN,
            cache_ttl_secs: defaults::CACHE_TTL_SECS,
            cache_max_bytes: defaults::CACHE_MAX_BYTES,
            coalesce: true,
            contact_scan_limit: defaults::CONTACT_SCAN_LIMIT,
        }
    }
}

impl Default for PhoneConfig {
    fn default() -> Self {
        PhoneConfig {
            default_region: defaults::DEFAULT_REGION,
            match_mode: defaults::MATCH_MODE,
            index: defaults::PHONE_INDEX,
            index_refresh_secs: defaults::INDEX_REFRESH_SECS,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The file as written: every value keeps its span so a semantic error can name its line.

type Sp<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    ldap: Option<Sp<RawLdap>>,
    tls: Option<Sp<RawTls>>,
    graph: Option<Sp<RawGraph>>,
    search: Option<RawSearch>,
    phone: Option<RawPhone>,
    mapping: Option<RawMapping>,
    metrics: Option<RawMetrics>,
    compat: Option<RawCompat>,
    groups: Option<RawGroups>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompat {
    active_directory: Option<bool>,
}

/// `[mapping.types.<name>]`: how a name the built-in schema lacks is served.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    syntax: Option<Sp<String>>,
    equality: Option<Sp<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroups {
    enabled: Option<bool>,
    group_filter: Option<Sp<String>>,
    max_members: Option<Sp<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Sp<Vec<Sp<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLdap {
    listen: Option<Sp<Vec<Sp<String>>>>,
    ldaps_listen: Option<Sp<Vec<Sp<String>>>>,
    base_dn: Option<Sp<String>>,
    allow_anonymous: Option<bool>,
    size_limit: Option<Sp<u32>>,
    time_limit_secs: Option<Sp<u64>>,
    require_tls_for_bind: Option<bool>,
    accounts: Option<Vec<Sp<RawAccount>>>,
    max_connections: Option<Sp<usize>>,
    max_message_bytes: Option<Sp<usize>>,
    max_filter_depth: Option<Sp<usize>>,
    idle_timeout_secs: Option<Sp<u64>>,
    max_paged_searches: Option<Sp<usize>>,
    max_connections_per_client: Option<Sp<usize>>,
    proxy_protocol: Option<Sp<Vec<Sp<String>>>>,
    max_operations_per_connection: Option<Sp<usize>>,
    tls_handshake_timeout_secs: Option<Sp<u64>>,
    paged_ttl_secs: Option<Sp<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    dn: Option<Sp<String>>,
    names: Option<Vec<Sp<String>>>,
    password_hash: Option<Sp<String>>,
    password_file: Option<Sp<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<Sp<String>>,
    key_file: Option<Sp<String>>,
    min_version: Option<Sp<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    tenant_id: Option<Sp<String>>,
    client_id: Option<Sp<String>>,
    client_secret: Option<Sp<String>>,
    client_secret_file: Option<Sp<String>>,
    certificate_file: Option<Sp<String>>,
    private_key_file: Option<Sp<String>>,
    login_url: Option<Sp<String>>,
    graph_url: Option<Sp<String>>,
    user_filter: Option<Sp<String>>,
    include_contacts: Option<bool>,
    visible_groups: Option<Vec<String>>,
    request_timeout_secs: Option<Sp<u64>>,
    page_size: Option<Sp<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    strict_substrings: Option<bool>,
    max_scan: Option<Sp<u32>>,
    cache_ttl_secs: Option<u64>,
    cache_max_bytes: Option<Sp<u64>>,
    coalesce: Option<bool>,
    contact_scan_limit: Option<Sp<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhone {
    default_region: Option<Sp<String>>,
    #[serde(rename = "match")]
    match_mode: Option<Sp<String>>,
    index: Option<bool>,
    index_refresh_secs: Option<Sp<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    users: Option<std::collections::BTreeMap<String, Sp<String>>>,
    contacts: Option<std::collections::BTreeMap<String, Sp<String>>>,
    types: Option<std::collections::BTreeMap<String, Sp<RawType>>>,
}

/// Keys whose values are secret: errors about them never quote the value.
const SECRET_KEYS: &[&str] = &["client_secret", "password_hash"];

/// Turns the raw file into a `Config`, reporting the first problem with its key and line.
struct ConfigReader<'a> {
    text: &'a str,
    origin: &'a str,
    base_dir: &'a Path,
}

impl ConfigReader<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn error(
        &self,
        key: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            path: self.origin.to_string(),
            line: span.map(|s| self.line_of(&s)),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn at<T>(&self, key: &str, value: &Sp<T>, message: impl Into<String>) -> ConfigError {
        self.error(key, Some(value.span()), message)
    }

    /// A TOML syntax or type error: its span gives the line, and the key is the one whose
    /// key or value text contains that span.
    fn serde_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span();
        let key = span
            .as_ref()
            .and_then(|s| key_at_offset(self.text, s.start))
            .unwrap_or_default();
        let about_secret = key
            .split(['.', '['])
            .any(|segment| SECRET_KEYS.contains(&segment));
        let message = if about_secret && !e.message().starts_with("unknown field") {
            // serde quotes the offending value ("invalid type: integer `123`"): never a secret's.
            "must be a string".to_string()
        } else {
            friendly_serde_message(e.message())
        };
        self.error(&key, span, message)
    }

    fn path(&self, key: &str, value: &Sp<String>) -> Result<PathBuf, ConfigError> {
        let text = value.get_ref();
        if text.trim().is_empty() {
            return Err(self.at(key, value, "must not be empty"));
        }
        let path = Path::new(text);
        Ok(if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        })
    }

    fn at_least<T: Copy + PartialOrd + fmt::Display>(
        &self,
        key: &str,
        value: Option<Sp<T>>,
        minimum: T,
        default: T,
    ) -> Result<T, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if *v.get_ref() < minimum => {
                Err(self.at(key, &v, format!("must be at least {minimum}")))
            }
            Some(v) => Ok(v.into_inner()),
        }
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let tls = match raw.tls {
            Some(t) => Some(self.tls(t)?),
            None => None,
        };
        let ldap = match raw.ldap {
            Some(l) => self.ldap(l, tls.is_some())?,
            None => {
                return Err(self.error(
                    "ldap",
                    None,
                    "missing table [ldap] (at least ldap.base_dn is required)",
                ));
            }
        };
        let graph =
            match raw.graph {
                Some(g) => self.graph(g)?,
                None => return Err(self.error(
                    "graph",
                    None,
                    "missing table [graph] (tenant_id, client_id and a credential are required)",
                )),
            };
        let search = self.search(raw.search)?;
        let phone = self.phone(raw.phone)?;
        let mapping = self.mapping(raw.mapping)?;
        let metrics = self.metrics(raw.metrics)?;
        let compat = CompatConfig {
            active_directory: raw.compat.and_then(|c| c.active_directory).unwrap_or(false),
        };
        let groups = self.groups(raw.groups)?;
        Ok(Config {
            ldap,
            tls,
            graph,
            search,
            phone,
            mapping,
            metrics,
            compat,
            groups,
        })
    }

    fn socket_addrs(
        &self,
        key: &str,
        values: &Sp<Vec<Sp<String>>>,
    ) -> Result<Vec<SocketAddr>, ConfigError> {
        values
            .get_ref()
            .iter()
            .map(|v| {
                v.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
                    self.at(
                        key,
                        v,
                        format!(
                            "`{}` is not a socket address (IP:port, IPv6 as [addr]:port)",
                            v.get_ref()
                        ),
                    )
                })
            })
            .collect()
    }

    fn ldap(&self, raw: Sp<RawLdap>, tls_configured: bool) -> Result<LdapConfig, ConfigError> {
        let table_span = raw.span();
        let raw = raw.into_inner();
        let listen = match &raw.listen {
            Some(l) => self.socket_addrs("ldap.listen", l)?,
            None => vec![SocketAddr::from(([127, 0, 0, 1], 389))],
        };
        let ldaps_listen = match &raw.ldaps_listen {
            Some(l) => {
                let addrs = self.socket_addrs("ldap.ldaps_listen", l)?;
                if !addrs.is_empty() && !tls_configured {
                    return Err(self.at(
                        "ldap.ldaps_listen",
                        l,
                        "LDAPS listeners need a [tls] table with cert_file and key_file",
                    ));
                }
                addrs
            }
            None => Vec::new(),
        };
        if listen.is_empty() && ldaps_listen.is_empty() {
            let span = raw
                .listen
                .as_ref()
                .map(|l| l.span())
                .unwrap_or(table_span.clone());
            return Err(self.error(
                "ldap.listen",
                Some(span),
                "no listener: ldap.listen and ldap.ldaps_listen are both empty",
            ));
        }
        for (i, addr) in ldaps_listen.iter().enumerate() {
            if listen.contains(addr) {
                let span = raw
                    .ldaps_listen
                    .as_ref()
                    .and_then(|l| l.get_ref().get(i))
                    .map(|v| v.span());
                return Err(self.error(
                    "ldap.ldaps_listen",
                    span,
                    format!("{addr} is also in ldap.listen"),
                ));
            }
        }
        let tree = match &raw.base_dn {
            Some(dn) => Tree::new(dn.get_ref()).map_err(|m| self.at("ldap.base_dn", dn, m))?,
            None => {
                return Err(self.error(
                    "ldap.base_dn",
                    Some(table_span),
                    "missing; e.g. base_dn = \"dc=example,dc=com\"",
                ));
            }
        };
        let mut accounts: Vec<BindAccount> = Vec::new();
        for (index, account) in raw.accounts.into_iter().flatten().enumerate() {
            let account = self.account(index, account)?;
            accounts.push(account);
        }
        if let Some(clash) = accounts::first_clash(&accounts) {
            let key = format!("ldap.accounts[{}].{}", clash.index, clash.field);
            return Err(ConfigError {
                path: self.origin.to_string(),
                line: key_line(self.text, &key),
                key,
                message: format!("`{}` names more than one account", clash.name),
            });
        }
        let max_filter_depth = self.at_least(
            "ldap.max_filter_depth",
            raw.max_filter_depth,
            1,
            defaults::MAX_FILTER_DEPTH,
        )?;
        let proxy_protocol = match &raw.proxy_protocol {
            Some(list) => list
                .get_ref()
                .iter()
                .map(|v| {
                    v.get_ref().trim().parse::<IpAddr>().map_err(|_| {
                        self.at(
                            "ldap.proxy_protocol",
                            v,
                            format!(
                                "`{}` is not an IP address (the load balancer's address, no port)",
                                v.get_ref()
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let limits = EdgeLimits {
            allow_anonymous: raw.allow_anonymous.unwrap_or(false),
            size_limit: self.at_least(
                "ldap.size_limit",
                raw.size_limit,
                1,
                defaults::SIZE_LIMIT,
            )?,
            time_limit_secs: self.at_least(
                "ldap.time_limit_secs",
                raw.time_limit_secs,
                1,
                defaults::TIME_LIMIT_SECS,
            )?,
            require_tls_for_bind: raw.require_tls_for_bind.unwrap_or(true),
            max_connections: self.at_least(
                "ldap.max_connections",
                raw.max_connections,
                1,
                defaults::MAX_CONNECTIONS,
            )?,
            max_connections_per_client: self.at_least(
                "ldap.max_connections_per_client",
                raw.max_connections_per_client,
                1,
                defaults::MAX_CONNECTIONS_PER_CLIENT,
            )?,
            proxy_protocol,
            max_message_bytes: self.at_least(
                "ldap.max_message_bytes",
                raw.max_message_bytes,
                MIN_MESSAGE_BYTES,
                defaults::MAX_MESSAGE_BYTES,
            )?,
            max_ber_depth: EdgeLimits::ber_depth_for(max_filter_depth),
            max_filter_depth,
            idle_timeout_secs: self.at_least(
                "ldap.idle_timeout_secs",
                raw.idle_timeout_secs,
                1,
                defaults::IDLE_TIMEOUT_SECS,
            )?,
            max_paged_searches: self.at_least(
                "ldap.max_paged_searches",
                raw.max_paged_searches,
                1,
                defaults::MAX_PAGED_SEARCHES,
            )?,
            paged_ttl: Duration::from_secs(self.at_least(
                "ldap.paged_ttl_secs",
                raw.paged_ttl_secs,
                1,
                defaults::PAGED_TTL_SECS,
            )?),
            max_operations_per_connection: self.at_least(
                "ldap.max_operations_per_connection",
                raw.max_operations_per_connection,
                1,
                defaults::MAX_OPERATIONS_PER_CONNECTION,
            )?,
            tls_handshake_timeout: Duration::from_secs(self.at_least(
                "ldap.tls_handshake_timeout_secs",
                raw.tls_handshake_timeout_secs,
                1,
                defaults::TLS_HANDSHAKE_TIMEOUT_SECS,
            )?),
        };
        Ok(LdapConfig {
            listen,
            ldaps_listen,
            tree,
            accounts,
            limits,
        })
    }

    fn account(&self, index: usize, raw: Sp<RawAccount>) -> Result<BindAccount, ConfigError> {
        let prefix = format!("ldap.accounts[{index}]");
        let key = |name: &str| format!("{prefix}.{name}");
        let span = raw.span();
        let raw = raw.into_inner();
        let dn = match &raw.dn {
            Some(dn) => {
                accounts::parse_account_dn(dn.get_ref()).map_err(|m| self.at(&key("dn"), dn, m))?
            }
            None => {
                return Err(self.error(
                    &key("dn"),
                    Some(span),
                    "missing: every account needs a dn",
                ));
            }
        };
        let names = raw
            .names
            .iter()
            .flatten()
            .map(|name| {
                accounts::parse_bind_name(name.get_ref())
                    .map_err(|m| self.at(&key("names"), name, m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secret = match (&raw.password_hash, &raw.password_file) {
            (Some(hash), None) => AccountSecret::parse_hash(hash.get_ref())
                .map_err(|m| self.at(&key("password_hash"), hash, m))?,
            (None, Some(file)) => {
                AccountSecret::PasswordFile(self.path(&key("password_file"), file)?)
            }
            (Some(_), Some(file)) => {
                return Err(self.at(
                    &key("password_file"),
                    file,
                    "set only one of password_hash and password_file",
                ));
            }
            (None, None) => {
                return Err(self.error(
                    &prefix,
                    Some(span),
                    "needs password_hash or password_file",
                ));
            }
        };
        Ok(BindAccount { dn, names, secret })
    }

    fn tls(&self, raw: Sp<RawTls>) -> Result<TlsConfig, ConfigError> {
        let span = raw.span();
        let raw = raw.into_inner();
        let cert_file = match &raw.cert_file {
            Some(f) => self.path("tls.cert_file", f)?,
            None => {
                return Err(self.error(
                    "tls.cert_file",
                    Some(span),
                    "missing: [tls] needs cert_file and key_file",
                ));
            }
        };
        let key_file = match &raw.key_file {
            Some(f) => self.path("tls.key_file", f)?,
            None => {
                return Err(self.error(
                    "tls.key_file",
                    Some(span),
                    "missing: [tls] needs cert_file and key_file",
                ));
            }
        };
        let min_version = match &raw.min_version {
            Some(v) => v
                .get_ref()
                .parse()
                .map_err(|m: String| self.at("tls.min_version", v, m))?,
            None => defaults::TLS_MIN_VERSION,
        };
        Ok(TlsConfig {
            cert_file,
            key_file,
            min_version,
        })
    }

    fn graph(&self, raw: Sp<RawGraph>) -> Result<GraphConfig, ConfigError> {
        let span = raw.span();
        let raw = raw.into_inner();
        let tenant_id = self.required(
            "graph.tenant_id",
            raw.tenant_id.as_ref(),
            &span,
            parse_tenant_id,
        )?;
        let client_id = self.required(
            "graph.client_id",
            raw.client_id.as_ref(),
            &span,
            parse_client_id,
        )?;
        let credential = self.credential(&raw, &span)?;
        let login_url = self.base_url(
            "graph.login_url",
            raw.login_url.as_ref(),
            defaults::LOGIN_URL,
        )?;
        let graph_url = self.base_url(
            "graph.graph_url",
            raw.graph_url.as_ref(),
            defaults::GRAPH_URL,
        )?;
        let user_filter = self.odata_filter(
            "graph.user_filter",
            raw.user_filter.as_ref(),
            defaults::USER_FILTER,
        )?;
        let page_size = match raw.page_size {
            Some(p) if *p.get_ref() > MAX_PAGE_SIZE => {
                return Err(self.at(
                    "graph.page_size",
                    &p,
                    format!("must be at most {MAX_PAGE_SIZE} (Graph's $top limit)"),
                ));
            }
            other => self.at_least("graph.page_size", other, 1, defaults::PAGE_SIZE)?,
        };
        let request_timeout = Duration::from_secs(self.at_least(
            "graph.request_timeout_secs",
            raw.request_timeout_secs,
            1,
            defaults::REQUEST_TIMEOUT_SECS,
        )?);
        Ok(GraphConfig {
            client: GraphSettings {
                tenant_id,
                client_id,
                credential,
                login_url,
                graph_url,
                request_timeout,
            },
            user_filter,
            include_contacts: raw.include_contacts.unwrap_or(true),
            page_size,
            visible_groups: raw
                .visible_groups
                .unwrap_or_default()
                .into_iter()
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
        })
    }

    /// A key the table must have, parsed by its owner's `parse`.
    fn required(
        &self,
        key: &str,
        value: Option<&Sp<String>>,
        table: &Range<usize>,
        parse: fn(&str) -> Result<String, String>,
    ) -> Result<String, ConfigError> {
        let Some(value) = value else {
            return Err(self.error(key, Some(table.clone()), "missing"));
        };
        parse(value.get_ref()).map_err(|m| self.at(key, value, m))
    }

    fn credential(&self, raw: &RawGraph, table: &Range<usize>) -> Result<Credential, ConfigError> {
        let given: Vec<(&str, &Sp<String>)> = [
            ("graph.client_secret", &raw.client_secret),
            ("graph.client_secret_file", &raw.client_secret_file),
            ("graph.certificate_file", &raw.certificate_file),
            ("graph.private_key_file", &raw.private_key_file),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        let kinds = usize::from(raw.client_secret.is_some())
            + usize::from(raw.client_secret_file.is_some())
            + usize::from(raw.certificate_file.is_some() || raw.private_key_file.is_some());
        if kinds > 1 {
            // Name the second one written, the one that conflicts.
            let mut by_position = given.clone();
            by_position.sort_by_key(|(_, v)| v.span().start);
            if let Some((key, value)) = by_position.get(1) {
                return Err(self.at(
                    key,
                    value,
                    "set exactly one credential: client_secret, client_secret_file, or certificate_file with private_key_file",
                ));
            }
        }
        match (&raw.client_secret, &raw.client_secret_file, &raw.certificate_file, &raw.private_key_file) {
            (Some(secret), None, None, None) => {
                if secret.get_ref().trim().is_empty() {
                    return Err(self.at("graph.client_secret", secret, "must not be empty"));
                }
                Ok(Credential::Secret(secret.get_ref().trim().to_string()))
            }
            (None, Some(file), None, None) => Ok(Credential::SecretFile(self.path("graph.client_secret_file", file)?)),
            (None, None, Some(cert), Some(key)) => Ok(Credential::Certificate {
                cert_file: self.path("graph.certificate_file", cert)?,
                key_file: self.path("graph.private_key_file", key)?,
            }),
            (None, None, Some(cert), None) => Err(self.at("graph.certificate_file", cert, "needs graph.private_key_file too")),
            (None, None, None, Some(key)) => Err(self.at("graph.private_key_file", key, "needs graph.certificate_file too")),
            _ => Err(self.error(
                "graph",
                Some(table.clone()),
                "no credential: set client_secret, client_secret_file, or certificate_file with private_key_file",
            )),
        }
    }

    /// A base URL as the Graph client parses it (https, or http to a loopback host),
    /// without a trailing slash.
    fn base_url(
        &self,
        key: &str,
        value: Option<&Sp<String>>,
        default: &str,
    ) -> Result<String, ConfigError> {
        let Some(value) = value else {
            return Ok(default.to_string());
        };
        parse_base_url(value.get_ref()).map_err(|m| self.at(key, value, m))
    }

    fn search(&self, raw: Option<RawSearch>) -> Result<SearchConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(SearchConfig::default());
        };
        Ok(SearchConfig {
            strict_substrings: raw.strict_substrings.unwrap_or(false),
            max_scan: self.at_least("search.max_scan", raw.max_scan, 1, defaults::MAX_SCAN)?,
            cache_ttl_secs: raw.cache_ttl_secs.unwrap_or(defaults::CACHE_TTL_SECS),
            cache_max_bytes: self.at_least(
                "search.cache_max_bytes",
                raw.cache_max_bytes,
                1,
                defaults::CACHE_MAX_BYTES,
            )?,
            coalesce: raw.coalesce.unwrap_or(true),
            contact_scan_limit: self.at_least(
                "search.contact_scan_limit",
                raw.contact_scan_limit,
                1,
                defaults::CONTACT_SCAN_LIMIT,
            )?,
        })
    }

    /// A configured OData `$filter` (`graph.user_filter`, `groups.group_filter`): one line.
    fn odata_filter(
        &self,
        key: &str,
        value: Option<&Sp<String>>,
        default: &str,
    ) -> Result<String, ConfigError> {
        match value {
            Some(f) if f.get_ref().chars().any(|c| c.is_control()) => Err(self.at(
                key,
                f,
                "must be one line of OData without control characters",
            )),
            Some(f) => Ok(f.get_ref().trim().to_string()),
            None => Ok(default.to_string()),
        }
    }

    fn groups(&self, raw: Option<RawGroups>) -> Result<GroupSettings, ConfigError> {
        let Some(raw) = raw else {
            return Ok(GroupSettings::default());
        };
        let defaults = GroupSettings::default();
        Ok(GroupSettings {
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            group_filter: self.odata_filter(
                "groups.group_filter",
                raw.group_filter.as_ref(),
                &defaults.group_filter,
            )?,
            max_members: self.at_least(
                "groups.max_members",
                raw.max_members,
                1,
                defaults.max_members,
            )?,
            // `[graph] visible_groups` is read with [graph]; the engine takes it from there.
            ..defaults
        })
    }

    fn metrics(&self, raw: Option<RawMetrics>) -> Result<MetricsConfig, ConfigError> {
        let listen = match raw.and_then(|r| r.listen) {
            Some(l) => self.socket_addrs("metrics.listen", &l)?,
            None => Vec::new(),
        };
        Ok(MetricsConfig { listen })
    }

    fn phone(&self, raw: Option<RawPhone>) -> Result<PhoneConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(PhoneConfig::default());
        };
        let default_region = match &raw.default_region {
            Some(r) => r
                .get_ref()
                .parse()
                .map_err(|m: String| self.at("phone.default_region", r, m))?,
            None => defaults::DEFAULT_REGION,
        };
        let match_mode = match &raw.match_mode {
            Some(m) => m
                .get_ref()
                .parse()
                .map_err(|e: String| self.at("phone.match", m, e))?,
            None => defaults::MATCH_MODE,
        };
        Ok(PhoneConfig {
            default_region,
            match_mode,
            index: raw.index.unwrap_or(defaults::PHONE_INDEX),
            index_refresh_secs: self.at_least(
                "phone.index_refresh_secs",
                raw.index_refresh_secs,
                1,
                defaults::INDEX_REFRESH_SECS,
            )?,
        })
    }

    fn mapping(&self, raw: Option<RawMapping>) -> Result<MappingConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(MappingConfig::default());
        };
        // Declared types first: the tables below then find them by name.
        for (name, ty) in raw.types.into_iter().flatten() {
            let key = format!("mapping.types.{name}");
            let t = ty.get_ref();
            let syntax = schema::DeclaredSyntax::parse(
                t.syntax.as_ref().map(|s| s.get_ref().as_str()),
                t.equality.as_ref().map(|s| s.get_ref().as_str()),
            )
            .map_err(|m| self.at(&key, &ty, m))?;
            if schema::attribute(&name).is_some_and(|at| at.origin != schema::Origin::Custom) {
                return Err(self.at(
                    &key,
                    &ty,
                    "is a built-in attribute type; only names the schema lacks are declared",
                ));
            }
            schema::declare(&name, syntax).map_err(|m| self.at(&key, &ty, m))?;
        }
        Ok(MappingConfig {
            users: self.mapping_table("mapping.users", raw.users)?,
            contacts: self.mapping_table("mapping.contacts", raw.contacts)?,
        })
    }

    fn mapping_table(
        &self,
        table: &str,
        raw: Option<std::collections::BTreeMap<String, Sp<String>>>,
    ) -> Result<Vec<Override>, ConfigError> {
        let mut entries: Vec<(String, Sp<String>)> = raw.into_iter().flatten().collect();
        entries.sort_by_key(|(_, v)| v.span().start);
        let mut out: Vec<Override> = Vec::new();
        for (attr, property) in entries {
            let key = format!("{table}.{attr}");
            let parsed = Override::parse(&attr, property.get_ref())
                .map_err(|m| self.at(&key, &property, m))?;
            if out.iter().any(|o| std::ptr::eq(o.attr, parsed.attr)) {
                return Err(self.at(
                    &key,
                    &property,
                    "is mapped twice (attribute names are case-insensitive)",
                ));
            }
            out.push(parsed);
        }
        Ok(out)
    }
}

/// serde names Rust integer types; an administrator reads "a whole number".
fn friendly_serde_message(message: &str) -> String {
    let mut text = message.trim_end().to_string();
    for (rust, plain) in [
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
    ] {
        text = text.replace(rust, plain);
    }
    text
}

/// One key or value in the parsed document: its dotted path and the spans of its key and
/// value text.
struct KeySpan {
    path: String,
    key: Range<usize>,
    value: Range<usize>,
}

fn collect_key_spans(table: &toml::de::DeTable<'_>, prefix: &str, out: &mut Vec<KeySpan>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.push(KeySpan {
            path: path.clone(),
            key: key.span(),
            value: value.span(),
        });
        collect_value_spans(value.get_ref(), &path, out);
    }
}

fn collect_value_spans(value: &toml::de::DeValue<'_>, path: &str, out: &mut Vec<KeySpan>) {
    match value {
        toml::de::DeValue::Table(t) => collect_key_spans(t, path, out),
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                if let toml::de::DeValue::Table(t) = item.get_ref() {
                    collect_key_spans(t, &item_path, out);
                } else {
                    out.push(KeySpan {
                        path: path.to_string(),
                        key: item.span(),
                        value: item.span(),
                    });
                }
            }
        }
        _ => {}
    }
}

/// The dotted key whose key or value text holds byte `offset`: the innermost one.
fn key_at_offset(text: &str, offset: usize) -> Option<String> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut spans = Vec::new();
    collect_key_spans(document.get_ref(), "", &mut spans);
    spans
        .into_iter()
        .flat_map(|s| [(s.path.clone(), s.key), (s.path, s.value)])
        .filter(|(_, span)| span.start <= offset && offset < span.end.max(span.start + 1))
        .min_by_key(|(_, span)| span.end - span.start)
        .map(|(path, _)| path)
}

/// The line of a dotted key's key text, e.g. `ldap.accounts[1].dn`.
fn key_line(text: &str, dotted: &str) -> Option<usize> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut spans = Vec::new();
    collect_key_spans(document.get_ref(), "", &mut spans);
    let span = spans.into_iter().find(|s| s.path == dotted)?.key;
    Some(
        text.as_bytes()[..span.start.min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-VALUE-never-shown";

    const GRAPH: &str = r#"
[graph]
tenant_id = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "s3cr3t-VALUE-never-shown"
"#;

    /// A valid argon2id PHC string for tests, made with the argon2 crate itself.
    fn argon2id_hash() -> String {
        use argon2::PasswordHasher;
        let salt = argon2::password_hash::SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
        argon2::Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string()
    }

    fn with_graph(ldap_part: &str) -> String {
        format!("{ldap_part}\n{GRAPH}")
    }

    /// The 1-based line of the first line of `text` containing `needle`.
    fn line_containing(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    fn parse_err(text: &str) -> ConfigError {
        Config::parse(text, "config.toml").unwrap_err()
    }

    /// Asserts the error names `key` on the line holding `needle` (None: no line).
    fn assert_error(text: &str, key: &str, needle: Option<&str>, message_part: &str) {
        let e = parse_err(text);
        assert_eq!(e.key, key, "wrong key for {e}\n--- in ---\n{text}");
        assert_eq!(
            e.line,
            needle.map(|n| line_containing(text, n)),
            "wrong line for {e}\n--- in ---\n{text}"
        );
        assert!(
            e.message.contains(message_part),
            "message of {e} lacks {message_part:?}"
        );
        assert!(!e.to_string().contains(SECRET), "secret in {e}");
        assert!(!format!("{e:?}").contains(SECRET), "secret in {e:?}");
    }

    #[test]
    fn example_file_parses_with_documented_defaults() {
        let text = include_str!("../conf/config.example.toml");
        let config = Config::parse(text, "/etc/ldap-graph-gateway/config.toml").unwrap();
        let ldap = &config.ldap;
        assert_eq!(
            ldap.listen,
            vec!["127.0.0.1:389".parse::<SocketAddr>().unwrap()]
        );
        assert!(ldap.ldaps_listen.is_empty());
        assert_eq!(ldap.tree.base_dn(), "dc=example,dc=com");
        assert!(!ldap.limits.allow_anonymous);
        assert!(ldap.limits.require_tls_for_bind);
        assert_eq!(ldap.limits.size_limit, defaults::SIZE_LIMIT);
        assert_eq!(ldap.limits.time_limit_secs, defaults::TIME_LIMIT_SECS);
        assert_eq!(ldap.limits.max_connections, 1024);
        assert_eq!(ldap.limits.max_message_bytes, 256 * 1024);
        assert_eq!(ldap.limits.max_filter_depth, 32);
        assert_eq!(ldap.limits.idle_timeout_secs, 300);
        assert_eq!(ldap.limits.max_paged_searches, 8);
        assert_eq!(ldap.accounts.len(), 1);
        assert_eq!(ldap.accounts[0].dn, "cn=phones,dc=example,dc=com");
        assert_eq!(
            ldap.accounts[0].names,
            vec!["phones@example.com".to_string()]
        );
        assert!(
            matches!(&ldap.accounts[0].secret, AccountSecret::Hash(h) if h.starts_with("$argon2id$"))
        );
        let tls = config.tls.as_ref().unwrap();
        assert_eq!(
            tls.cert_file,
            PathBuf::from("/etc/ldap-graph-gateway/tls/cert.pem")
        );
        assert_eq!(tls.min_version, TlsVersion::Tls12);
        let graph = &config.graph;
        assert_eq!(
            graph.client.credential,
            Credential::SecretFile(PathBuf::from(
                "/run/credentials/ldap-graph-gateway.service/graph-client-secret"
            ))
        );
        assert_eq!(graph.client.login_url, defaults::LOGIN_URL);
        assert_eq!(graph.client.graph_url, defaults::GRAPH_URL);
        assert_eq!(graph.user_filter, defaults::USER_FILTER);
        assert!(graph.include_contacts);
        assert_eq!(graph.client.request_timeout, Duration::from_secs(10));
        assert_eq!(graph.page_size, 999);
        assert_eq!(config.search, SearchConfig::default());
        assert_eq!(config.phone, PhoneConfig::default());
        assert_eq!(config.mapping, MappingConfig::default());
    }

    #[test]
    fn metrics_listener_is_off_by_default_and_parsed_like_ldap_listen() {
        let head = "[ldap]\nbase_dn = \"dc=x\"\n[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\n\
                    client_secret = \"not-a-real-secret\"\n";
        assert!(Config::parse(head, "c").unwrap().metrics.listen.is_empty());
        let on = format!("{head}[metrics]\nlisten = [\" 127.0.0.1:9389\", \"[::1]:9389\"]\n");
        assert_eq!(
            Config::parse(&on, "c").unwrap().metrics.listen,
            vec![
                "127.0.0.1:9389".parse::<SocketAddr>().unwrap(),
                "[::1]:9389".parse().unwrap()
            ]
        );
        let bad = format!("{head}[metrics]\nlisten = [\"localhost:9389\"]\n");
        let e = Config::parse(&bad, "c").unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("metrics.listen", Some(8)), "{e}");
        let unknown = format!("{head}[metrics]\nport = 9389\n");
        assert!(
            Config::parse(&unknown, "c")
                .unwrap_err()
                .message
                .contains("unknown field")
        );
    }

    /// Every key the parser accepts is documented in the example and in docs/configuration.md.
    #[test]
    fn every_key_is_documented() {
        let example = include_str!("../conf/config.example.toml");
        let reference = include_str!("../docs/configuration.md");
        let keys = [
            "listen",
            "ldaps_listen",
            "base_dn",
            "allow_anonymous",
            "size_limit",
            "time_limit_secs",
            "require_tls_for_bind",
            "max_connections",
            "max_message_bytes",
            "max_filter_depth",
            "idle_timeout_secs",
            "max_paged_searches",
            "dn",
            "names",
            "password_hash",
            "password_file",
            "cert_file",
            "key_file",
            "min_version",
            "tenant_id",
            "client_id",
            "client_secret",
            "client_secret_file",
            "certificate_file",
            "private_key_file",
            "login_url",
            "graph_url",
            "user_filter",
            "include_contacts",
            "request_timeout_secs",
            "page_size",
            "strict_substrings",
            "max_scan",
            "cache_ttl_secs",
            "cache_max_bytes",
            "coalesce",
            "contact_scan_limit",
            "default_region",
            "match",
            "index",
            "index_refresh_secs",
            "active_directory",
            "syntax",
            "equality",
        ];
        for key in keys {
            assert!(
                example.lines().any(|l| l
                    .trim_start_matches(['#', ' '])
                    .starts_with(&format!("{key} = "))),
                "{key} missing from conf/config.example.toml"
            );
            assert!(
                reference.contains(&format!("| `{key}` |")),
                "{key} missing from docs/configuration.md"
            );
        }
        // And the parser really accepts each of them: an unknown key would be refused.
        let missing =
            Config::parse("[ldap]\nbase_dn = \"dc=x\"\nno_such_key = 1\n", "c").unwrap_err();
        assert!(missing.message.contains("unknown field"));
    }

    #[test]
    fn minimal_config_gets_defaults_and_relative_paths_follow_the_config_file() {
        let text = "[ldap]\nbase_dn = \"o=Example\"\n[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\n\
                    client_secret_file = \"secret.txt\"\n[tls]\ncert_file = \"tls/cert.pem\"\n\
                    key_file = \"/abs/key.pem\"\n";
        let config = Config::parse(text, "/etc/gw/config.toml").unwrap();
        assert_eq!(
            config.graph.client.credential,
            Credential::SecretFile(PathBuf::from("/etc/gw/secret.txt"))
        );
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert_file, PathBuf::from("/etc/gw/tls/cert.pem"));
        assert_eq!(tls.key_file, PathBuf::from("/abs/key.pem"));
        assert_eq!(
            config.ldap.listen,
            vec![SocketAddr::from(([127, 0, 0, 1], 389))]
        );
        assert_eq!(config.ldap.limits.size_limit, 500);
        assert!(config.ldap.accounts.is_empty());
    }

    #[test]
    fn edge_keys_reach_the_edge_limits_unchanged() {
        let text = with_graph(
            "[ldap]\nbase_dn = \"dc=x\"\nproxy_protocol = [\" 10.0.0.5\", \"2001:db8::7\"]\n\
             max_connections_per_client = 3\nmax_operations_per_connection = 4\n\
             tls_handshake_timeout_secs = 7\npaged_ttl_secs = 60\nmax_filter_depth = 200\n",
        );
        let l = Config::parse(&text, "c").unwrap().ldap.limits;
        assert_eq!(
            l.proxy_protocol,
            vec![
                "10.0.0.5".parse::<IpAddr>().unwrap(),
                "2001:db8::7".parse().unwrap()
            ]
        );
        assert_eq!(l.max_connections_per_client, 3);
        assert_eq!(l.max_operations_per_connection, 4);
        assert_eq!(l.tls_handshake_timeout, Duration::from_secs(7));
        assert_eq!(l.paged_ttl, Duration::from_secs(60));
        assert_eq!(l.max_ber_depth, 416);
        let none = Config::parse(&with_graph("[ldap]\nbase_dn = \"dc=x\"\n"), "c").unwrap();
        assert_eq!(none.ldap.limits, defaults::edge_limits());
        assert!(none.ldap.limits.proxy_protocol.is_empty());
        assert_eq!(none.ldap.limits.max_connections_per_client, 64);
        assert_error(
            &with_graph("[ldap]\nbase_dn = \"dc=x\"\nproxy_protocol = [\"10.0.0.5:389\"]\n"),
            "ldap.proxy_protocol",
            Some("proxy_protocol"),
            "not an IP address",
        );
        assert_error(
            &with_graph("[ldap]\nbase_dn = \"dc=x\"\nmax_connections_per_client = 0\n"),
            "ldap.max_connections_per_client",
            Some("max_connections_per_client"),
            "at least 1",
        );
    }

    #[test]
    fn demo_config_is_a_valid_config() {
        let listen: SocketAddr = "127.0.0.1:3389".parse().unwrap();
        let demo = Config::demo(
            listen,
            "http://127.0.0.1:4567/",
            "demo-tenant",
            "demo-client",
            "demo-secret",
        )
        .unwrap();
        // The same settings written as a file must pass every check and give the same value.
        let text = r#"
[ldap]
listen = ["127.0.0.1:3389"]
base_dn = "dc=example,dc=com"
allow_anonymous = true
require_tls_for_bind = false
[graph]
tenant_id = "demo-tenant"
client_id = "demo-client"
client_secret = "demo-secret"
login_url = "http://127.0.0.1:4567"
graph_url = "http://127.0.0.1:4567/"
include_contacts = true
"#;
        assert_eq!(Config::parse(text, "demo").unwrap(), demo);
        assert_eq!(demo.graph.client.graph_url, "http://127.0.0.1:4567");
    }

    #[test]
    fn display_names_file_line_and_key() {
        let text = with_graph("[ldap]\nbase_dn = \"dc=x\"\nsize_limit = 0\n");
        let e = Config::parse(&text, "config.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config.toml:3: ldap.size_limit: must be at least 1"
        );
        let e = Config::parse("[ldap]\nbase_dn = \"dc=x\"\n", "/etc/c.toml").unwrap_err();
        assert_eq!(e.line, None);
        assert!(
            e.to_string()
                .starts_with("/etc/c.toml: graph: missing table [graph]"),
            "{e}"
        );
    }

    #[test]
    fn syntax_and_type_errors_name_key_and_line() {
        assert_error(
            &with_graph("[ldap]\nbase_dn = \"dc=x\"\nsize_limt = 3\n"),
            "ldap.size_limt",
            Some("size_limt"),
            "unknown field",
        );
        assert_error(
            &with_graph("[ldapx]\nbase_dn = \"dc=x\"\n"),
            "ldapx",
            Some("[ldapx]"),
            "unknown field",
        );
        assert_error(
            &with_graph("[ldap]\nbase_dn = \"dc=x\"\nsize_limit = \"a\"\n"),
            "ldap.size_limit",
            Some("size_limit"),
            "whole number",
        );
        assert_error(
            &with_graph("[ldap]\nbase_dn = \"dc=x\"\nidle_timeout_secs = -5\n"),
            "ldap.idle_timeout_secs",
            Some("idle_timeout"),
            "whole number",
        );
        assert_error(
            &with_graph("[ldap]\nbase_dn = \"dc=x\"\nallow_anonymous = \"yes\"\n"),
            "ldap.allow_anonymous",
            Some("allow_anonymous"),
            "invalid type",
        );
        assert_error(
            &with_graph("[ldap]\nbase_dn = \"dc=x\"\n[search]\ncoalesce = 1\n"),
            "search.coalesce",
            Some("coalesce"),
            "invalid type",
        );
        let accounts = with_graph(
            "[ldap]\nbase_dn = \"dc=x\"\n[[ldap.accounts]]\ndn = \"cn=a\"\npassword_file = \"a\"\n[[ldap.accounts]]\ndn = \"cn=b\"\npasword_file = \"b\"\n",
        );
        assert_error(
            &accounts,
            "ldap.accounts[1].pasword_file",
            Some("pasword_file"),
            "unknown field",
        );
        // A syntax error has a line but no key.
        let e = parse_err(&with_graph("[ldap]\nbase_dn = = \"dc=x\"\n"));
        assert_eq!((e.key.as_str(), e.line), ("", Some(2)));
        assert!(e.to_string().starts_with("config.toml:2: "), "{e}");
    }

    #[test]
    fn ldap_value_errors_name_key_and_line() {
        let cases: &[(&str, &str, Option<&str>, &str)] = &[
            (
                "[ldap]\nbase_dn = \"dc=x\"\nsize_limit = 0\n",
                "ldap.size_limit",
                Some("size_limit"),
                "at least 1",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\ntime_limit_secs = 0\n",
                "ldap.time_limit_secs",
                Some("time_limit"),
                "at least 1",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\nmax_message_bytes = 100\n",
                "ldap.max_message_bytes",
                Some("max_message"),
                "at least 1024",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\nmax_filter_depth = 0\n",
                "ldap.max_filter_depth",
                Some("max_filter"),
                "at least 1",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\nmax_paged_searches = 0\n",
                "ldap.max_paged_searches",
                Some("max_paged"),
                "at least 1",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\nmax_connections = 0\n",
                "ldap.max_connections",
                Some("max_conn"),
                "at least 1",
            ),
            (
                "[ldap]\nsize_limit = 5\nbase_dn = \"cn=admin,dc=x\"\n",
                "ldap.base_dn",
                Some("base_dn"),
                "dc= or o=",
            ),
            (
                "[ldap]\nbase_dn = \"example.com\"\n",
                "ldap.base_dn",
                Some("base_dn"),
                "attribute=value",
            ),
            (
                "[ldap]\nbase_dn = \"dc=a+o=b,dc=c\"\n",
                "ldap.base_dn",
                Some("base_dn"),
                "multi-valued",
            ),
            (
                "[ldap]\nbase_dn = \"\"\n",
                "ldap.base_dn",
                Some("base_dn"),
                "empty",
            ),
            (
                "[ldap]\nsize_limit = 5\n",
                "ldap.base_dn",
                Some("[ldap]"),
                "missing",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\nlisten = [\n  \"127.0.0.1:389\",\n  \"localhost\",\n]\n",
                "ldap.listen",
                Some("\"localhost\""),
                "not a socket address",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\nlisten = []\n",
                "ldap.listen",
                Some("listen"),
                "no listener",
            ),
            (
                "[ldap]\nbase_dn = \"dc=x\"\nldaps_listen = [\"0.0.0.0:636\"]\n",
                "ldap.ldaps_listen",
                Some("ldaps_listen"),
                "[tls]",
            ),
        ];
        for (ldap, key, needle, message) in cases {
            assert_error(&with_graph(ldap), key, *needle, message);
        }
        let both = "[ldap]\nbase_dn = \"dc=x\"\nlisten = [\"0.0.0.0:636\"]\nldaps_listen = [\"0.0.0.0:636\"]\n[tls]\ncert_file = \"c\"\nkey_file = \"k\"\n";
        assert_error(
            &with_graph(both),
            "ldap.ldaps_listen",
            Some("ldaps_listen"),
            "also in ldap.listen",
        );
        assert_error(GRAPH, "ldap", None, "missing table [ldap]");
    }

    #[test]
    fn account_errors_name_key_and_line() {
        let hash = argon2id_hash();
        let good = format!(
            "[ldap]\nbase_dn = \"dc=x\"\n[[ldap.accounts]]\ndn = \"cn=a,dc=x\"\npassword_hash = \"{hash}\"\n"
        );
        let config = Config::parse(&with_graph(&good), "c").unwrap();
        assert_eq!(
            config.ldap.accounts[0].secret,
            AccountSecret::Hash(hash.clone())
        );

        let argon2i = hash.replacen("$argon2id$", "$argon2i$", 1);
        let cases: Vec<(String, &str, Option<&str>, &str)> = vec![
            (
                format!(
                    "{good}[[ldap.accounts]]\ndn = \"cn=b,dc=x\"\npassword_hash = \"{argon2i}\"\n"
                ),
                "ldap.accounts[1].password_hash",
                Some("$argon2i$"),
                "$argon2id$",
            ),
            (
                format!(
                    "{good}[[ldap.accounts]]\ndn = \"cn=b,dc=x\"\npassword_hash = \"$argon2id$garbage\"\n"
                ),
                "ldap.accounts[1].password_hash",
                Some("garbage"),
                "PHC",
            ),
            (
                format!("{good}[[ldap.accounts]] # second\ndn = \"cn=b,dc=x\"\nnames = [\"b\"]\n"),
                "ldap.accounts[1]",
                Some("# second"),
                "needs password_hash or password_file",
            ),
            (
                format!(
                    "{good}[[ldap.accounts]]\ndn = \"cn=b,dc=x\"\npassword_hash = \"{hash}\"\npassword_file = \"/p\"\n"
                ),
                "ldap.accounts[1].password_file",
                Some("password_file"),
                "only one",
            ),
            (
                format!("{good}[[ldap.accounts]] # second\npassword_file = \"/p\"\n"),
                "ldap.accounts[1].dn",
                Some("# second"),
                "missing",
            ),
            (
                format!("{good}[[ldap.accounts]]\ndn = \"cn b,dc=x\"\npassword_file = \"/p\"\n"),
                "ldap.accounts[1].dn",
                Some("cn b,dc=x"),
                "attribute=value",
            ),
            (
                format!("{good}[[ldap.accounts]]\ndn = \"CN=A, DC=X\"\npassword_file = \"/p\"\n"),
                "ldap.accounts[1].dn",
                Some("CN=A"),
                "more than one account",
            ),
        ];
        for (ldap, key, needle, message) in cases {
            let text = with_graph(&ldap);
            assert_error(&text, key, needle, message);
        }
    }

    #[test]
    fn graph_tls_phone_and_mapping_errors_name_key_and_line() {
        let ldap = "[ldap]\nbase_dn = \"dc=x\"\n";
        let graph_head = "[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\n";
        let cases: Vec<(String, &str, Option<&str>, &str)> = vec![
            (
                format!(
                    "{ldap}{graph_head}client_secret = \"{SECRET}\"\nclient_secret_file = \"/s\"\n"
                ),
                "graph.client_secret_file",
                Some("client_secret_file"),
                "exactly one credential",
            ),
            (
                format!(
                    "{ldap}{graph_head}client_secret_file = \"/s\"\ncertificate_file = \"/c\"\nprivate_key_file = \"/k\"\n"
                ),
                "graph.certificate_file",
                Some("certificate_file"),
                "exactly one credential",
            ),
            (
                format!("{ldap}{graph_head}"),
                "graph",
                Some("[graph]"),
                "no credential",
            ),
            (
                format!("{ldap}{graph_head}certificate_file = \"/c\"\n"),
                "graph.certificate_file",
                Some("certificate_file"),
                "private_key_file",
            ),
            (
                format!("{ldap}{graph_head}client_secret = \"  \"\n"),
                "graph.client_secret",
                Some("client_secret"),
                "empty",
            ),
            (
                format!("{ldap}[graph]\nclient_id = \"c\"\nclient_secret = \"{SECRET}\"\n"),
                "graph.tenant_id",
                Some("[graph]"),
                "missing",
            ),
            (
                format!(
                    "{ldap}[graph]\ntenant_id = \"a/b\"\nclient_id = \"c\"\nclient_secret = \"{SECRET}\"\n"
                ),
                "graph.tenant_id",
                Some("a/b"),
                "GUID",
            ),
            (
                format!(
                    "{ldap}{graph_head}client_secret = \"{SECRET}\"\nlogin_url = \"http://login.example.com\"\n"
                ),
                "graph.login_url",
                Some("login_url"),
                "loopback",
            ),
            (
                format!(
                    "{ldap}{graph_head}client_secret = \"{SECRET}\"\ngraph_url = \"http://10.0.0.1:8080\"\n"
                ),
                "graph.graph_url",
                Some("graph_url"),
                "loopback",
            ),
            (
                format!(
                    "{ldap}{graph_head}client_secret = \"{SECRET}\"\ngraph_url = \"ftp://graph\"\n"
                ),
                "graph.graph_url",
                Some("graph_url"),
                "https",
            ),
            (
                format!(
                    "{ldap}{graph_head}client_secret = \"{SECRET}\"\ngraph_url = \"graph.microsoft.com\"\n"
                ),
                "graph.graph_url",
                Some("graph_url"),
                "absolute URL",
            ),
            (
                format!("{ldap}{graph_head}client_secret = \"{SECRET}\"\npage_size = 1000\n"),
                "graph.page_size",
                Some("page_size"),
                "at most 999",
            ),
            (
                format!(
                    "{ldap}{graph_head}client_secret = \"{SECRET}\"\nrequest_timeout_secs = 0\n"
                ),
                "graph.request_timeout_secs",
                Some("request_timeout"),
                "at least 1",
            ),
            (
                format!("{ldap}{graph_head}client_secret = 12345\n"),
                "graph.client_secret",
                Some("12345"),
                "must be a string",
            ),
            (
                format!("{ldap}[tls]\ncert_file = \"c\"\n{GRAPH}"),
                "tls.key_file",
                Some("[tls]"),
                "missing",
            ),
            (
                format!(
                    "{ldap}[tls]\ncert_file = \"c\"\nkey_file = \"k\"\nmin_version = \"1.1\"\n{GRAPH}"
                ),
                "tls.min_version",
                Some("min_version"),
                "\"1.2\" or \"1.3\"",
            ),
            (
                format!("{ldap}{GRAPH}[phone]\nmatch = \"fuzzy\"\n"),
                "phone.match",
                Some("fuzzy"),
                "e164",
            ),
            (
                format!("{ldap}{GRAPH}[phone]\ndefault_region = \"us\"\n"),
                "phone.default_region",
                Some("\"us\""),
                "region code",
            ),
            (
                format!("{ldap}{GRAPH}[phone]\ndefault_region = \"XX\"\n"),
                "phone.default_region",
                Some("XX"),
                "region code",
            ),
            (
                format!("{ldap}{GRAPH}[phone]\nmatch_mode = \"e164\"\n"),
                "phone.match_mode",
                Some("match_mode"),
                "unknown field",
            ),
            (
                format!("{ldap}{GRAPH}[search]\nmax_scan = 0\n"),
                "search.max_scan",
                Some("max_scan"),
                "at least 1",
            ),
            (
                format!("{ldap}{GRAPH}[search]\ncontact_scan_limit = 0\n"),
                "search.contact_scan_limit",
                Some("contact_scan"),
                "at least 1",
            ),
            (
                format!(
                    "{ldap}{GRAPH}[mapping.users]\ntitle = \"jobTitle\"\n\"bad attr\" = \"x\"\n"
                ),
                "mapping.users.bad attr",
                Some("bad attr"),
                "LDAP attribute name",
            ),
            (
                format!("{ldap}{GRAPH}[mapping.contacts]\ncn = \"display Name\"\n"),
                "mapping.contacts.cn",
                Some("display Name"),
                "Graph property",
            ),
            (
                format!("{ldap}{GRAPH}[mapping.users]\nmail = \"mail\"\nMAIL = \"\"\n"),
                "mapping.users.mail",
                Some("MAIL"),
                "mapped twice",
            ),
        ];
        for (text, key, needle, message) in cases {
            // "mapped twice" reports the second spelling's line; its key is the other one's
            // name in BTreeMap order, so compare the line only for that case.
            if message == "mapped twice" {
                let e = parse_err(&text);
                assert_eq!(e.line, Some(line_containing(&text, needle.unwrap())), "{e}");
                assert!(e.message.contains(message));
                continue;
            }
            assert_error(&text, key, needle, message);
        }
    }

    #[test]
    fn accepted_urls_and_mapping() {
        for url in [
            "https://graph.microsoft.us",
            "http://127.0.0.1:8080",
            "http://localhost:1/x",
            "http://[::1]:80",
            "HTTPS://Graph.Example/",
        ] {
            assert!(parse_base_url(url.trim_end_matches('/')).is_ok(), "{url}");
        }
        let text = format!(
            "[ldap]\nbase_dn = \"dc=x\"\n{GRAPH}[mapping.users]\ntitle = \"jobTitle\"\nemployeeType = \"employeeType\"\nfacsimileTelephoneNumber = \"\"\n"
        );
        let config = Config::parse(&text, "c").unwrap();
        let parsed = |attr: &str, property: &str| Override::parse(attr, property).unwrap();
        assert_eq!(
            config.mapping.users,
            vec![
                parsed("title", "jobTitle"),
                parsed("employeeType", "employeeType"),
                parsed("facsimileTelephoneNumber", ""),
            ]
        );
        assert_eq!(config.mapping.users[2].source, None);
        assert_eq!(
            config.graph.client.credential,
            Credential::Secret(SECRET.to_string())
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let hash = argon2id_hash();
        let text = format!(
            "[ldap]\nbase_dn = \"dc=x\"\n[[ldap.accounts]]\ndn = \"cn=a\"\npassword_hash = \"{hash}\"\n{GRAPH}"
        );
        let config = Config::parse(&text, "c").unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains(&hash), "{debug}");
        assert!(debug.contains("<redacted>"));
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains(SECRET) && !pretty.contains(&hash));
        let demo = Config::demo(
            "127.0.0.1:1".parse().unwrap(),
            "http://127.0.0.1:2",
            "t",
            "c",
            SECRET,
        )
        .unwrap();
        assert!(!format!("{demo:?}").contains(SECRET));
    }

    #[test]
    fn secrets_never_appear_in_errors() {
        let ldap = "[ldap]\nbase_dn = \"dc=x\"\n";
        let head = "[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\n";
        for text in [
            format!("{ldap}{head}client_secret = [\"{SECRET}\"]\n"),
            format!("{ldap}{head}client_secret = \"{SECRET}\"\nclient_secret_file = \"/s\"\n"),
            format!("{ldap}{head}client_secret_file = \"/s\"\nclient_secret = \"{SECRET}\"\n"),
            format!("{ldap}{head}client_secret = \"{SECRET}\"\nbogus = 1\n"),
            format!("{ldap}{head}client_secret = \"{SECRET}\nclient_id = \"x\"\n"),
            format!(
                "{ldap}[[ldap.accounts]]\ndn = \"cn=a\"\npassword_hash = \"{SECRET}\"\n{GRAPH}"
            ),
            format!(
                "{ldap}[[ldap.accounts]]\ndn = \"cn=a\"\npassword_hash = {{ v = \"{SECRET}\" }}\n{GRAPH}"
            ),
        ] {
            let e = parse_err(&text);
            assert!(!e.to_string().contains(SECRET), "{e}");
            assert!(!format!("{e:?}").contains(SECRET), "{e:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the secret and wherever the mistake, errors never carry the secret.
        #[test]
        fn no_error_ever_quotes_a_secret(
            secret in "[A-Za-z0-9~._-]{12,40}",
            mistake in 0usize..6,
        ) {
            let ldap = "[ldap]\nbase_dn = \"dc=x\"\n";
            let head = "[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\n";
            let text = match mistake {
                0 => format!("{ldap}{head}client_secret = [\"{secret}\"]\n"),
                1 => format!("{ldap}{head}client_secret = \"{secret}\"\nclient_secret_file = \"/s\"\n"),
                2 => format!("{ldap}{head}client_secret = \"{secret}\"\nsize = 1\n"),
                3 => format!("{ldap}{head}client_secret = \"{secret}\nclient_id = \"x\"\n"),
                4 => format!("{ldap}[[ldap.accounts]]\ndn = \"cn=a\"\npassword_hash = \"$argon2id${secret}\"\n{head}client_secret = \"{secret}\"\n"),
                _ => format!("{ldap}[[ldap.accounts]]\ndn = \"cn=a\"\npassword_hash = [\"{secret}\"]\n{head}"),
            };
            let e = Config::parse(&text, "c").unwrap_err();
            proptest::prop_assert!(!e.to_string().contains(&secret), "{}", e);
            let debug = format!("{e:?}");
            proptest::prop_assert!(!debug.contains(&secret));
        }

        /// The reported line follows the key wherever comments and blank lines move it.
        #[test]
        fn reported_line_follows_the_key(padding in proptest::collection::vec(0usize..3, 0..20)) {
            let mut text = String::from("[ldap]\nbase_dn = \"dc=x\"\n");
            for p in &padding {
                text.push_str(["\n", "# comment\n", "allow_anonymous = true # again\n"][*p]);
            }
            // `allow_anonymous` may appear only once; drop repeats to keep the TOML valid.
            let mut seen = false;
            let mut text: String = text
                .lines()
                .filter(|l| !l.starts_with("allow_anonymous") || !std::mem::replace(&mut seen, true))
                .map(|l| format!("{l}\n"))
                .collect();
            text.push_str("size_limit = 0\n");
            text.push_str(GRAPH);
            let e = Config::parse(&text, "c").unwrap_err();
            proptest::prop_assert_eq!(e.key.as_str(), "ldap.size_limit");
            proptest::prop_assert_eq!(e.line, Some(line_containing(&text, "size_limit = 0")));
        }
    }

    #[test]
    fn load_reads_the_file_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            with_graph("[ldap]\nbase_dn = \"dc=x\"\nsize_limit = 0\n"),
        )
        .unwrap();
        let e = Config::load(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}:3: ldap.size_limit: must be at least 1", path.display())
        );
        std::fs::write(
            &path,
            with_graph(
                "[ldap]\nbase_dn = \"dc=x\"\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
            ),
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.tls.unwrap().cert_file, dir.path().join("c.pem"));
        let missing = Config::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(missing.message.contains("cannot read"), "{missing}");
    }
}

/// Each rule the checker used to keep a copy of, and how the copy disagreed with the
/// module that owns the value: now the owner's parser decides, and `check`
/// (this parser) and `serve` (`app::build_gateway`) accept exactly the same files.
#[cfg(test)]
mod one_parser_per_value {
    use super::*;

    const LDAP: &str = "[ldap]\nbase_dn = \"dc=x\"\n";
    const GRAPH: &str = "[graph]\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\nclient_secret = \"not-a-real-secret\"\n";

    fn line_of(text: &str, needle: &str) -> Option<usize> {
        text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
    }

    /// The file is refused, naming `key` on the line holding `needle`.
    fn refused(text: &str, key: &str, needle: &str) -> ConfigError {
        let e = Config::parse(text, "config.toml").unwrap_err();
        assert_eq!(e.key, key, "{e}");
        assert_eq!(e.line, line_of(text, needle), "{e}");
        e
    }

    /// The file is accepted, and serve builds a gateway from it.
    fn accepted(text: &str) -> Config {
        let config = Config::parse(text, "config.toml").unwrap_or_else(|e| panic!("{e}"));
        crate::app::build_directory(&config).unwrap_or_else(|e| panic!("{e}"));
        config
    }

    #[test]
    fn compat_and_declared_types_are_read_and_checked() {
        let config = accepted(&format!(
            "{LDAP}{GRAPH}[compat]\nactive_directory = true\n\
             [mapping.types.cfgTestLevel]\nsyntax = \"integer\"\n\
             [mapping.users]\ncfgTestLevel = \"extension_0a1b_level\"\n\
             cfgTestCode = \"onPremisesExtensionAttributes/extensionAttribute2\"\n"
        ));
        assert!(config.compat.active_directory);
        let level = schema::attribute("cfgTestLevel").unwrap();
        assert_eq!(level.equality, schema::Equality::Integer);
        let code = schema::attribute("cfgTestCode").unwrap();
        assert_eq!(code.equality, schema::Equality::CaseIgnore);
        assert!(!accepted(&format!("{LDAP}{GRAPH}")).compat.active_directory);
        let text = format!("{LDAP}{GRAPH}[mapping.types.cfgTestOther]\nsyntax = \"jpeg\"\n");
        let e = refused(&text, "mapping.types.cfgTestOther", "cfgTestOther");
        assert!(e.message.contains("unsupported syntax"), "{e}");
        let text = format!("{LDAP}{GRAPH}[mapping.types.cn]\nsyntax = \"integer\"\n");
        let e = refused(&text, "mapping.types.cn", "[mapping.types.cn]");
        assert!(e.message.contains("built-in"), "{e}");
        let text = format!("{LDAP}{GRAPH}[compat]\nactive_directory = true\nsamba = true\n");
        assert!(Config::parse(&text, "config.toml").is_err());
        let text =
            format!("{LDAP}{GRAPH}[mapping.users]\nuserAccountControl = \"accountEnabled\"\n");
        refused(&text, "mapping.users.userAccountControl", "accountEnabled");
    }

    #[test]
    fn the_base_dn_is_parsed_by_the_tree() {
        // An escape RFC 4514 does not allow: check used to accept it, and serve then
        // failed building the tree.
        let text = format!("[ldap]\nbase_dn = \"dc=ex\\\\zz,dc=com\"\n{GRAPH}");
        let e = refused(&text, "ldap.base_dn", "base_dn");
        assert_eq!(Some(e.message), Tree::new("dc=ex\\zz,dc=com").err());
        // `;` separates RDNs for the tree, as it did not for check.
        let config = accepted(&format!("[ldap]\nbase_dn = \"dc=example;dc=com\"\n{GRAPH}"));
        assert_eq!(config.ldap.tree.base_dn(), "dc=example,dc=com");
    }

    #[test]
    fn account_dns_are_parsed_by_the_tree() {
        // A quoted value with a comma: check used to split it and refuse the DN.
        let text = format!(
            "{LDAP}[[ldap.accounts]]\ndn = 'cn=\"Phones, Lobby\",dc=x'\npassword_file = \"/p\"\n{GRAPH}"
        );
        let config = accepted(&text);
        assert_eq!(config.ldap.accounts[0].dn, "cn=\"Phones, Lobby\",dc=x");
        // An escape the tree refuses is refused by check too.
        let text = format!(
            "{LDAP}[[ldap.accounts]]\ndn = 'cn=a\\zz,dc=x'\npassword_file = \"/p\"\n{GRAPH}"
        );
        refused(&text, "ldap.accounts[0].dn", "cn=a\\zz");
    }

    #[test]
    fn names_bind_treats_as_one_are_one_account() {
        // cn and commonName are one attribute type: bind found the first account for
        // both, while check counted two accounts.
        let text = format!(
            "{LDAP}[[ldap.accounts]]\ndn = \"cn=a,dc=x\"\npassword_file = \"/p\"\n\
             [[ldap.accounts]]\ndn = \"commonName=a,dc=x\"\npassword_file = \"/q\"\n{GRAPH}"
        );
        let e = refused(&text, "ldap.accounts[1].dn", "commonName=a");
        assert!(e.message.contains("more than one account"), "{e}");
        let text = format!(
            "{LDAP}[[ldap.accounts]]\ndn = \"cn=a,dc=x\"\npassword_file = \"/p\"\n\
             [[ldap.accounts]]\ndn = \"cn=b,dc=x\"\nnames = [\"CN=A, DC=X\"]\npassword_file = \"/q\"\n{GRAPH}"
        );
        refused(&text, "ldap.accounts[1].names", "names =");
    }

    #[test]
    fn tenant_id_is_what_the_graph_client_accepts() {
        let text = format!(
            "{LDAP}[graph]\ntenant_id = \"contoso_tenant\"\nclient_id = \"c\"\nclient_secret = \"not-a-real-secret\"\n"
        );
        let e = refused(&text, "graph.tenant_id", "contoso_tenant");
        assert!(e.message.contains("GUID"), "{e}");
        // The client refuses the same value with the same words.
        let mut settings = Config::parse(&format!("{LDAP}{GRAPH}"), "c")
            .unwrap()
            .graph
            .client;
        settings.tenant_id = "contoso_tenant".into();
        let client = crate::graph::GraphClient::new(settings).unwrap_err();
        assert!(client.to_string().contains(&e.message), "{client}");
    }

    #[test]
    fn base_urls_are_what_the_graph_client_accepts() {
        let with_url = |url: &str| format!("{LDAP}{GRAPH}graph_url = \"{url}\"\n");
        // A port out of range: check used to accept it and the client refused it.
        let text = with_url("https://graph.microsoft.com:99999");
        refused(&text, "graph.graph_url", "graph_url");
        // A loopback address in short form: the client accepted it and check refused it.
        let config = accepted(&with_url("http://127.1:8080/"));
        assert_eq!(config.graph.client.graph_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn mapping_sources_are_what_the_mapping_accepts() {
        // Sources the mapping knows and check refused: `a|b` and `phones:<type>`.
        let text = format!(
            "{LDAP}{GRAPH}[mapping.users]\nsAMAccountName = \"mailNickname|onPremisesSamAccountName\"\n\
             [mapping.contacts]\npager = \"phones:pager\"\n"
        );
        let config = accepted(&text);
        assert_eq!(
            config.mapping.contacts[0].source,
            Some(crate::directory::mapping::Source::ContactPhone(
                "pager".into()
            ))
        );
        // Attributes check accepted and serve refused: names that are not LDAP names and
        // the RDN. A name the schema lacks is declared (CONTRACT §9).
        accepted(&format!("{LDAP}{GRAPH}[mapping.users]\nfooBar = \"x\"\n"));
        for (line, needle) in [("foo_bar = \"x\"", "foo_bar"), ("uid = \"mail\"", "uid")] {
            let text = format!("{LDAP}{GRAPH}[mapping.users]\n{line}\n");
            refused(&text, &format!("mapping.users.{needle}"), needle);
        }
        // An attribute and its alias are one attribute, mapped twice.
        let text =
            format!("{LDAP}{GRAPH}[mapping.users]\ncn = \"displayName\"\ncommonName = \"\"\n");
        let e = Config::parse(&text, "c").unwrap_err();
        assert!(e.message.contains("mapped twice"), "{e}");
    }

    #[test]
    fn enumerated_values_are_domain_types() {
        let text = format!(
            "{LDAP}[tls]\ncert_file = \"c\"\nkey_file = \"k\"\nmin_version = \"1.3\"\n{GRAPH}\
             [phone]\nmatch = \"rfc4517\"\ndefault_region = \"DE\"\n"
        );
        let config = Config::parse(&text, "c").unwrap();
        assert_eq!(config.tls.map(|t| t.min_version), Some(TlsVersion::Tls13));
        assert_eq!(config.phone.match_mode, PhoneMatch::Rfc4517);
        assert_eq!(config.phone.default_region.code(), "DE");
        assert!(config.phone.index);
        assert_eq!(
            config.phone.index_refresh_secs,
            defaults::INDEX_REFRESH_SECS
        );
    }
}
