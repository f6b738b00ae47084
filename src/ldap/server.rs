//! Listeners: accepts plain and LDAPS connections under a connection cap and a per-client
//! cap, takes the real client address from a trusted balancer's PROXY header, hands each
//! connection to a session and shuts down by letting in-flight operations finish. It
//! does not parse LDAP itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::gateway::Gateway;
use super::proxy_protocol::{self, ProxyHeader};
use super::{session, tls};
use crate::metrics::{ClientFault, LdapMetrics};

/// A running set of listeners.
pub struct RunningServer {
    /// Bound addresses of the plain listeners, in configuration order.
    pub ldap_addrs: Vec<SocketAddr>,
    /// Bound addresses of the LDAPS listeners.
    pub ldaps_addrs: Vec<SocketAddr>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl RunningServer {
    /// Stops accepting, lets in-flight operations finish (up to `grace`), then returns.
    pub async fn shutdown(self, grace: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("connections still open after the shutdown grace period");
        }
    }
}

/// Binds every listener and starts accepting.
pub async fn start(
    gw: Arc<Gateway>,
    listen: &[SocketAddr],
    ldaps_listen: &[SocketAddr],
) -> std::io::Result<RunningServer> {
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(gw.limits.max_connections.max(1)));
    let clients = Arc::new(ClientCounts::default());
    let mut ldap_addrs = Vec::new();
    let mut ldaps_addrs = Vec::new();
    let mut listeners = Vec::new();
    for addr in listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        ldap_addrs.push(l.local_addr()?);
        listeners.push((l, false));
    }
    for addr in ldaps_listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        ldaps_addrs.push(l.local_addr()?);
        listeners.push((l, true));
    }
    for (listener, implicit_tls) in listeners {
        let addr = listener.local_addr()?;
        info!(%addr, ldaps = implicit_tls, "listening");
        tracker.spawn(accept_loop(
            listener,
            implicit_tls,
            gw.clone(),
            permits.clone(),
            clients.clone(),
            shutdown.clone(),
            tracker.clone(),
        ));
    }
    Ok(RunningServer {
        ldap_addrs,
        ldaps_addrs,
        shutdown,
        tracker,
    })
}

static CONN_IDS: AtomicU64 = AtomicU64::new(1);

async fn accept_loop(
    listener: TcpListener,
    implicit_tls: bool,
    gw: Arc<Gateway>,
    permits: Arc<Semaphore>,
    clients: Arc<ClientCounts>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (mut stream, balancer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(10);
                a
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            warn!(peer = %balancer, limit = gw.limits.max_connections, "connection refused: max_connections reached");
            gw.metrics.connection_refused();
            tracker.spawn(refuse(stream, "too many connections"));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let gw = gw.clone();
        let shutdown = shutdown.clone();
        let id = CONN_IDS.fetch_add(1, Ordering::Relaxed);
        let clients = clients.clone();
        tracker.spawn(async move {
            let _permit = permit;
            let Some(peer) =
                client_address(&mut stream, balancer, &gw.limits.proxy_protocol, &gw.metrics).await
            else {
                return;
            };
            let Some(_client_slot) = clients.take(peer.ip(), gw.limits.max_connections_per_client)
            else {
                info!(%peer, limit = gw.limits.max_connections_per_client, "connection refused: max_connections_per_client reached");
                gw.metrics.connection_refused();
                refuse(stream, "too many connections from your address").await;
                return;
            };
            let transport = if implicit_tls {
                let Some(acceptor) = gw.tls.as_ref().map(|t| t.load_full()) else {
                    return;
                };
                // Boxed, like the TLS state: a plain connection carries neither.
                let handshake = tls::handshake(&acceptor, stream, gw.limits.tls_handshake_timeout);
                match Box::pin(handshake).await {
                    Some(tls) => Either::Right(Box::new(tls)),
                    None => {
                        // Logged by the handshake, with the peer.
                        gw.metrics.client_fault(ClientFault::TlsHandshake);
                        return;
                    }
                }
            } else {
                Either::Left(stream)
            };
            session::serve(transport, peer, gw, shutdown, id).await;
        });
    }
}

/// The client's address: the peer's, or for a trusted balancer (`proxy_protocol`) the one
/// its PROXY header names. A trusted peer must send a header (a balancer that relays
/// without one is misconfigured, and its clients would all look like one); a LOCAL header
/// (its health checks) keeps the balancer's address. Others are not asked: a header from
/// them reaches the LDAP decoder, which ends the connection with protocolError.
async fn client_address(
    stream: &mut TcpStream,
    peer: SocketAddr,
    trusted: &[IpAddr],
    metrics: &LdapMetrics,
) -> Option<SocketAddr> {
    if !trusted.contains(&peer.ip()) && !trusted.contains(&canonical(peer.ip())) {
        return Some(peer);
    }
    match proxy_protocol::read_header(stream).await {
        Ok(ProxyHeader::Proxied { source, .. }) => Some(source),
        Ok(ProxyHeader::Local) => Some(peer),
        Err(reason) => {
            info!(%peer, %reason, "connection from a trusted balancer closed: no valid PROXY header");
            metrics.client_fault(ClientFault::BadProxyHeader);
            None
        }
    }
}

/// An IPv4-mapped IPv6 peer (`::ffff:a.b.c.d`) as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Open connections per client address; an address's entry goes with its last connection,
/// so the table is never larger than the connections open.
#[derive(Default)]
struct ClientCounts {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted for its client; uncounted when dropped.
struct ClientSlot {
    counts: Arc<ClientCounts>,
    ip: IpAddr,
}

impl ClientCounts {
    fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
                debug!(client = %self.ip, "last connection of the client closed");
            }
        }
    }
}

/// Tells a client over a connection cap why it is turned away.
async fn refuse(stream: TcpStream, why: &str) {
    use futures_util::SinkExt;
    use ldap3_proto::LdapResultCode;
    use ldap3_proto::simple::DisconnectionNotice;
    let mut framed = tokio_util::codec::Framed::new(stream, ldap3_proto::LdapCodec::default());
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        framed.send(DisconnectionNotice::gen_response(LdapResultCode::Busy, why)),
    )
    .await;
}
