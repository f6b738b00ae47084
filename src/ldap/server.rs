//! Listeners: accepts plain and LDAPS connections under a connection cap, hands each to a
//! session, re-reads TLS certificates on demand and shuts down by letting in-flight
//! operations finish. It does not parse LDAP itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::gateway::Gateway;
use super::{session, tls};

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
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
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
            warn!(%peer, limit = gw.limits.max_connections, "connection refused: max_connections reached");
            gw.metrics.connection_refused();
            tracker.spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let gw = gw.clone();
        let shutdown = shutdown.clone();
        let id = CONN_IDS.fetch_add(1, Ordering::Relaxed);
        tracker.spawn(async move {
            let _permit = permit;
            let transport = if implicit_tls {
                let Some(acceptor) = gw.tls.as_ref().map(|t| t.load_full()) else {
                    return;
                };
                match tls::handshake(&acceptor, stream, gw.limits.tls_handshake_timeout).await {
                    Some(tls) => Either::Right(tls),
                    None => return,
                }
            } else {
                Either::Left(stream)
            };
            session::serve(transport, peer, gw, shutdown, id).await;
        });
    }
}

/// Tells a client over the connection cap why it is turned away.
async fn refuse(stream: TcpStream) {
    use futures_util::SinkExt;
    use ldap3_proto::LdapResultCode;
    use ldap3_proto::simple::DisconnectionNotice;
    let mut framed = tokio_util::codec::Framed::new(stream, ldap3_proto::LdapCodec::default());
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        framed.send(DisconnectionNotice::gen_response(
            LdapResultCode::Busy,
            "too many connections",
        )),
    )
    .await;
}
