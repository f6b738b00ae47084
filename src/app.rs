//! Wiring: builds the gateway from a configuration and runs the commands `serve`, `check`
//! and `explain` (`demo` lives with the binary, which alone links the Graph emulator).
//! Signals (SIGTERM/SIGINT shut down, SIGHUP re-reads TLS) and systemd readiness live
//! here; protocol and Graph logic do not, and neither does any parsing: the
//! configuration already holds each module's own types.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use ldap3_proto::proto::LdapSearchScope;
use tracing::{error, info};

use crate::config::Config;
use crate::directory::filter::parse_filter;
use crate::directory::mapping::Mapping;
use crate::directory::phone::PhoneRules;
use crate::graph::{GraphClient, GraphError};
use crate::ldap::gateway::Gateway;
use crate::ldap::server::{self, RunningServer};
use crate::ldap::throttle::BindGuard;
use crate::ldap::tls;
use crate::metrics::Metrics;
use crate::search::membership::GroupSettings;
use crate::search::{Directory, SearchSettings};
use crate::translate::explain_plan;

/// The directory (tree, mapping, phone rules, Graph client) a configuration describes,
/// recording nowhere (`check`, `explain`).
pub fn build_directory(cfg: &Config) -> Result<Directory, String> {
    build_recording_directory(cfg, &Metrics::new()).map(|(d, _)| d)
}

/// The directory, its engine and Graph client recording into `metrics`, and a handle to
/// that Graph client (sharing its token cache).
fn build_recording_directory(
    cfg: &Config,
    metrics: &Metrics,
) -> Result<(Directory, GraphClient), String> {
    let mapping = Mapping::configured(
        &cfg.mapping.users,
        &cfg.mapping.contacts,
        cfg.compat.active_directory.then(|| cfg.ldap.tree.base_dn()),
    );
    let phone = PhoneRules::for_region(cfg.phone.match_mode, cfg.phone.default_region);
    let graph = GraphClient::recording(cfg.graph.client.clone(), metrics.graph.clone())
        .map_err(|e| format!("graph: {e}"))?;
    let settings = SearchSettings {
        user_filter: cfg.graph.user_filter.clone(),
        include_contacts: cfg.graph.include_contacts,
        strict_substrings: cfg.search.strict_substrings,
        page_size: cfg.graph.page_size,
        max_scan: cfg.search.max_scan,
        contact_scan_limit: cfg.search.contact_scan_limit,
        cache_ttl: Duration::from_secs(cfg.search.cache_ttl_secs),
        coalesce: cfg.search.coalesce,
        cache_max_bytes: cfg.search.cache_max_bytes,
        phone_index: cfg.phone.index,
        index_refresh: Duration::from_secs(cfg.phone.index_refresh_secs.max(1)),
        groups: GroupSettings {
            visible_groups: cfg.graph.visible_groups.clone(),
            ..cfg.groups.clone()
        },
    };
    let directory = Directory::new(
        cfg.ldap.tree.clone(),
        mapping,
        phone,
        settings,
        graph.clone(),
    )
    .recording(metrics.search.clone());
    Ok((directory, graph))
}

/// The whole gateway for a configuration, recording into `metrics` (TLS certificates are
/// read here), and its Graph client.
pub fn build_gateway(cfg: &Config, metrics: &Metrics) -> Result<(Gateway, GraphClient), String> {
    let (directory, graph) = build_recording_directory(cfg, metrics)?;
    let tls = match &cfg.tls {
        Some(t) => Some(ArcSwap::from_pointee(tls::load_acceptor(
            &t.cert_file,
            &t.key_file,
            t.min_version,
        )?)),
        None => None,
    };
    Ok((
        Gateway {
            directory,
            limits: cfg.ldap.limits.clone(),
            accounts: cfg.ldap.accounts.clone(),
            tls,
            binds: BindGuard::new(),
            metrics: metrics.ldap.clone(),
        },
        graph,
    ))
}

/// Starts the listeners of a configuration.
pub async fn start(cfg: &Config) -> Result<(Arc<Gateway>, RunningServer), String> {
    start_observed(cfg)
        .await
        .map(|(gw, running, _)| (gw, running))
}

/// The metrics of a started gateway and where `/metrics` and `/healthz` are served
/// (empty with `[metrics] listen` unset).
pub struct Observed {
    pub metrics: Metrics,
    pub addrs: Vec<SocketAddr>,
}

/// Starts the listeners of a configuration, and the metrics listener when configured.
/// With one, a token is fetched at once (and again until one is obtained) so that
/// `/healthz` turns 200 without waiting for the first search.
pub async fn start_observed(
    cfg: &Config,
) -> Result<(Arc<Gateway>, RunningServer, Observed), String> {
    let metrics = Metrics::new();
    let (gw, graph) = build_gateway(cfg, &metrics)?;
    let gw = Arc::new(gw);
    let mut addrs = Vec::new();
    for addr in &cfg.metrics.listen {
        addrs.push(metrics.serve(*addr).await.map_err(|e| e.to_string())?);
    }
    gw.directory.start_phone_index();
    let running = server::start(gw.clone(), &cfg.ldap.listen, &cfg.ldap.ldaps_listen)
        .await
        .map_err(|e| e.to_string())?;
    metrics.listeners_bound();
    if !addrs.is_empty() {
        tokio::spawn(obtain_first_token(graph));
    }
    Ok((gw, running, Observed { metrics, addrs }))
}

/// Fetches a token until one is obtained, waiting 1 s, then longer (up to 30 s), between
/// tries; the client records each outcome for `/healthz`.
async fn obtain_first_token(graph: GraphClient) {
    let mut pause = Duration::from_secs(1);
    while let Err(e) = graph.fetch_token().await {
        tracing::warn!(error = %e, "no Graph access token yet; /healthz answers 503");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

/// Re-reads the TLS certificate and key; open connections keep their session.
pub fn reload_tls(cfg: &Config, gw: &Gateway) {
    let (Some(t), Some(current)) = (&cfg.tls, &gw.tls) else {
        return;
    };
    match tls::load_acceptor(&t.cert_file, &t.key_file, t.min_version) {
        Ok(acceptor) => {
            current.store(Arc::new(acceptor));
            info!("TLS certificate re-read");
        }
        Err(e) => error!(error = %e, "TLS reload failed; keeping the previous certificate"),
    }
}

/// `serve`: runs until SIGTERM or SIGINT; SIGHUP re-reads the TLS certificate.
pub async fn serve(cfg: Config) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let (gw, running, _observed) = start_observed(&cfg).await?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    info!("ready");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hup.recv() => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
                reload_tls(&cfg, &gw);
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            }
        }
    }
    info!("shutting down; letting in-flight operations finish");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    running
        .shutdown(Duration::from_secs(cfg.ldap.limits.time_limit_secs + 5))
        .await;
    Ok(())
}

/// Stands for the phone index's candidates in `explain`, which does not read Graph.
const PLACEHOLDER_ID: &str = "00000000-0000-0000-0000-000000000000";

/// `explain`: the Graph requests a search becomes, without contacting Graph.
pub fn explain(
    cfg: &Config,
    base: Option<&str>,
    scope: &str,
    filter: &str,
) -> Result<String, String> {
    let directory = build_directory(cfg)?;
    let f = parse_filter(filter).map_err(|e| format!("filter: {e}"))?;
    let scope = match scope {
        "base" => LdapSearchScope::Base,
        "one" | "onelevel" => LdapSearchScope::OneLevel,
        "sub" | "subtree" => LdapSearchScope::Subtree,
        other => return Err(format!("scope must be base, one or sub, not {other}")),
    };
    let base = base.unwrap_or(directory.tree.base_dn());
    let mut out = format!("search base \"{base}\" scope {scope:?} filter {filter}\n");
    let crate::search::Coverage {
        fixed,
        collections,
        groups,
    } = directory.coverage(base, scope).map_err(|e| e.message)?;
    for e in &fixed {
        out.push_str(&format!("fixed entry (no Graph request): {}\n", e.dn));
    }
    if collections.is_empty() && groups == crate::search::membership::GroupReach::Nothing {
        out.push_str("no Graph request\n");
    }
    for (c, key) in collections {
        out.push_str(&format!("\n/{}:\n", c.graph_path()));
        // CONTRACT §9: a search that requires a membership reads member lists instead.
        if key.is_none()
            && let Some(route) = directory.explain_route(&f, c)
        {
            out.push_str(&route);
            continue;
        }
        // Offline the index is never loaded: this is the spelling-pushdown path.
        let pushdown = directory.plan(&f, c, key.as_deref());
        if cfg.phone.index && !pushdown.phone_index.is_empty() {
            // CONTRACT §7: once loaded, phone items take their candidates from the index.
            let indexed = directory.plan_with_index(&f, c, key.as_deref(), &|_, _| {
                Some(Ok(vec![PLACEHOLDER_ID.to_string()]))
            });
            out.push_str(
                "path once the phone index is loaded (each phone item becomes `id in (...)` of the \
                 ids the index holds for it, shown here as one placeholder id):\n",
            );
            out.push_str(&explain_plan(&indexed));
            out.push_str(
                "\npath while the phone index loads (the first seconds after start, or after a \
                 refused delta token):\n",
            );
        }
        out.push_str(&explain_plan(&pushdown));
    }
    out.push_str(&directory.explain_groups(&groups, &f));
    out.push_str(&directory.explain_member_of_items(&f));
    out.push_str(&format!(
        "\nlocal check: every entry returned by Graph is re-checked against {filter} \
         with LDAP matching rules (phone match: {:?})\n",
        directory.phone.mode
    ));
    Ok(out)
}

/// The request `check --online` probes the group permission with (`[groups] enabled`).
const GROUPS_PROBE: &str = "/v1.0/groups?$top=1&$select=id";

/// `check --online`: a token and one Graph query; with `[groups] enabled`, one group read
/// too, which needs GroupMember.Read.All (CONTRACT §9, GRAPH.md §12).
pub async fn check_online(cfg: &Config) -> Result<String, String> {
    let graph = GraphClient::new(cfg.graph.client.clone()).map_err(|e| e.to_string())?;
    let mut report = graph.check_online().await.map_err(|e| e.to_string())?;
    if cfg.groups.enabled {
        let deadline = tokio::time::Instant::now() + graph.request_timeout();
        match graph.get_path(GROUPS_PROBE, deadline).await {
            Ok(page) => report.push_str(&format!(
                "\nGET {GROUPS_PROBE}: ok ({} group(s) returned; [groups] enabled can read groups)",
                page.items.len()
            )),
            Err(GraphError::Rejected {
                status: 403, code, ..
            }) => {
                return Err(format!(
                    "{report}\nGET {GROUPS_PROBE}: 403 {code}: the app may not read groups, which \
                     [groups] enabled needs: grant it the application permission \
                     GroupMember.Read.All (or Group.Read.All) with admin consent, or set \
                     [groups] enabled = false"
                ));
            }
            Err(e) => return Err(format!("{report}\nGET {GROUPS_PROBE}: {e}")),
        }
    }
    Ok(report)
}
