//! One client connection: reads PDUs, keeps the bind state and the paged-results store,
//! runs searches and compares as tasks that can be abandoned, writes every response,
//! upgrades to TLS on StartTLS, and ends on unbind, idle timeout, framing errors or
//! shutdown. Every request gets an answer; no answer is ever dropped for lack of room.
//! An idle connection holds no buffers and no channel (docs/operations.md, "Memory per
//! connection"); a client's garbage is counted as a client fault and logged once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapResultCode;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapCompareRequest, LdapExtendedRequest, LdapExtendedResponse,
    LdapFilter, LdapMsg, LdapOp, LdapResult, LdapSearchRequest,
};
use ldap3_proto::simple::DisconnectionNotice;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Framed;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, info, info_span, warn};

use super::codec::{FramingError, Incoming, SafeCodec};
use super::gateway::{Gateway, Identity};
use super::outbox::{Last, Out};
use super::paged::{self, PagedStore};
use super::reply::{ldap_result as result, request_tag, response_to};
use super::rootdse::{OID_STARTTLS, OID_WHOAMI};
use super::throttle::Verdict;
use super::{accounts, compare_op, search_op, tls};
use crate::directory::filter::{filter_depth, filter_to_string};
use crate::metrics::ClientFault;

/// The transport: plain TCP, or TLS (LDAPS or after StartTLS). The TLS state is boxed so
/// that a plain connection does not carry its room.
pub type Transport = Either<TcpStream, Box<tokio_rustls::server::TlsStream<TcpStream>>>;

/// Password Modify (RFC 3062), refused: passwords live in Entra ID.
const OID_PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";

/// How much queued output one write gathers before the connection reads again.
const DRAIN_BYTES: usize = 64 * 1024;

/// How long a write may wait for a client that does not read before it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Room for PDUs queued by a connection's running operations before they wait.
const OUTBOX_CAPACITY: usize = 64;

struct Conn {
    gw: Arc<Gateway>,
    peer: SocketAddr,
    identity: Identity,
    tls: bool,
    ops: HashMap<i32, CancellationToken>,
    paged: PagedStore,
    /// The channel operations answer through; made for the first operation and dropped
    /// once nothing can send on it any more, so an idle connection holds none.
    outbox: Option<(mpsc::Sender<Out>, mpsc::Receiver<Out>)>,
    /// Operation tasks whose `Out::Finished` (always their last item) has not arrived,
    /// abandoned ones included.
    running: usize,
    /// Client faults seen on this connection (the first is logged at info, the rest at debug).
    faults: u64,
}

impl Conn {
    /// A sender for a new operation, making the channel if there is none.
    fn sender(&mut self) -> mpsc::Sender<Out> {
        self.outbox
            .get_or_insert_with(|| mpsc::channel(OUTBOX_CAPACITY))
            .0
            .clone()
    }

    /// Drops the channel when every operation task has sent its last item and nothing is
    /// queued: nothing can be lost.
    fn release_idle_outbox(&mut self) {
        let idle = matches!(&self.outbox, Some((_, rx)) if self.running == 0 && rx.is_empty());
        if idle {
            self.outbox = None;
            self.ops.shrink_to_fit();
        }
    }

    /// Counts a client fault and logs it: the connection's first at info (the span names
    /// the peer), later ones at debug, so that one client cannot flood the log.
    fn client_fault(&mut self, fault: ClientFault, detail: &dyn std::fmt::Display) {
        self.gw.metrics.client_fault(fault);
        self.faults += 1;
        if self.faults == 1 {
            info!(kind = fault.as_str(), %detail, "client fault (further ones on this connection are logged at debug)");
        } else {
            debug!(kind = fault.as_str(), %detail, "client fault");
        }
    }
}

/// Waits for the next item of the connection's channel; never, while it has none.
async fn next_out(outbox: &mut Option<(mpsc::Sender<Out>, mpsc::Receiver<Out>)>) -> Option<Out> {
    match outbox {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The framed connection with no buffer allocated: they are allocated as bytes arrive or
/// a reply is written, and released by [`release_idle_buffers`].
fn new_framed(
    stream: Transport,
    limits: &super::gateway::EdgeLimits,
) -> Framed<Transport, SafeCodec> {
    let mut framed = Framed::new(
        stream,
        SafeCodec::new(limits.max_message_bytes, limits.max_ber_depth),
    );
    release_idle_buffers(&mut framed);
    framed
}

/// What a read buffer gets when bytes arrive: what tokio-util gives one up front.
const READ_BUFFER: usize = 8 * 1024;

/// Frees the write buffer, and a plain connection's read buffer, when they hold nothing
/// (tokio-util allocates 8 KiB each up front and keeps whatever they grew to). A TLS
/// connection keeps its read buffer: rustls may hold decrypted bytes while the socket is
/// not readable, so [`next_request`] could not wait for the socket before allocating it.
fn release_idle_buffers(framed: &mut Framed<Transport, SafeCodec>) {
    let plain = matches!(framed.get_ref(), Either::Left(_));
    if plain && framed.read_buffer().is_empty() && framed.read_buffer().capacity() > 0 {
        *framed.read_buffer_mut() = bytes::BytesMut::new();
    }
    if framed.write_buffer().is_empty() && framed.write_buffer().capacity() > 0 {
        *framed.write_buffer_mut() = bytes::BytesMut::new();
    }
}

/// The next request. A plain connection that released its read buffer first waits until
/// the socket has bytes (or is closed), then reads them into a full-size buffer as before: a client's burst
/// is read whole, not through a few bytes of room (which would leave bytes unread when
/// a bad PDU closes the connection, and the close would become a reset that can destroy
/// the notice sent just before). Cancel-safe, like `next()`.
async fn next_request(
    framed: &mut Framed<Transport, SafeCodec>,
) -> Option<Result<Incoming, FramingError>> {
    if framed.read_buffer().capacity() == 0 {
        // A peek, not `readable()`: readiness may be reported before any byte arrived
        // (it is, for a fresh connection), and that would allocate for every idle one.
        if let Either::Left(tcp) = framed.get_ref()
            && let Err(e) = tcp.peek(&mut [0u8; 1]).await
        {
            return Some(Err(FramingError::Io(e)));
        }
        framed.read_buffer_mut().reserve(READ_BUFFER);
    }
    framed.next().await
}

/// Serves one connection until it ends.
pub async fn serve(
    stream: Transport,
    peer: SocketAddr,
    gw: Arc<Gateway>,
    shutdown: CancellationToken,
    conn_id: u64,
) {
    let span = info_span!("conn", id = conn_id, %peer);
    async move {
        debug!("connected");
        let _open = gw.metrics.connection_opened();
        let tls = matches!(stream, Either::Right(_));
        let paged = PagedStore::new(gw.limits.max_paged_searches, gw.limits.paged_ttl);
        let conn = Conn {
            gw,
            peer,
            identity: Identity::Anonymous,
            tls,
            ops: HashMap::new(),
            paged,
            outbox: None,
            running: 0,
            faults: 0,
        };
        run(conn, stream, shutdown).await;
        debug!("closed");
    }
    .instrument(span)
    .await
}

async fn run(mut conn: Conn, stream: Transport, shutdown: CancellationToken) {
    let mut framed = new_framed(stream, &conn.gw.limits);
    let idle = Duration::from_secs(conn.gw.limits.idle_timeout_secs.max(1));
    let mut idle_deadline = Instant::now() + idle;
    let mut draining = false;
    loop {
        // Between requests the connection holds only its socket and state.
        if conn.ops.is_empty() {
            release_idle_buffers(&mut framed);
            conn.release_idle_outbox();
        }
        tokio::select! {
            biased;
            // A request is read before more output is written: an abandon is seen
            // between the chunks of a long answer, not after all of it (RFC 4511 §4.11).
            incoming = next_request(&mut framed), if !draining => {
                idle_deadline = Instant::now() + idle;
                let msg = match incoming {
                    None => break,
                    Some(Err(FramingError::Io(e))) => {
                        debug!(error = %e, "connection lost");
                        break;
                    }
                    Some(Err(e)) => {
                        // The client's fault, not the server's; it ends the connection.
                        let fault = match e {
                            FramingError::TooLarge(..) => ClientFault::OversizedPdu,
                            _ => ClientFault::MalformedBer,
                        };
                        conn.client_fault(fault, &format_args!("{e}; ending the connection"));
                        let _ = framed
                            .send(DisconnectionNotice::gen_response(
                                LdapResultCode::ProtocolError,
                                &e.to_string(),
                            ))
                            .await;
                        break;
                    }
                    Some(Ok(Incoming::Bad { msgid, op_tag, reason })) => {
                        conn.client_fault(
                            ClientFault::UndecodableRequest,
                            &format_args!("undecodable request (msgid {msgid}, operation tag {op_tag:?}): {reason}"),
                        );
                        match bad_request_response(msgid, op_tag, &reason) {
                            Some(resp) => {
                                if !write(&mut framed, resp).await {
                                    break;
                                }
                                continue;
                            }
                            None => {
                                let _ = framed
                                    .send(DisconnectionNotice::gen_response(
                                        LdapResultCode::ProtocolError,
                                        &format!("undecodable request: {reason}"),
                                    ))
                                    .await;
                                break;
                            }
                        }
                    }
                    Some(Ok(Incoming::Msg(m, critical))) => (*m, critical),
                };
                let started = std::time::Instant::now();
                match handle(&mut conn, msg.0, msg.1).await {
                    Action::Reply(r) => {
                        conn.gw.metrics.finished(&r, started);
                        if !write(&mut framed, *r).await {
                            break;
                        }
                    }
                    Action::None => {}
                    Action::Close => break,
                    Action::StartTls(msgid) => {
                        // Boxed: the handshake's state is not carried by every connection.
                        match Box::pin(start_tls(&mut conn, framed, msgid)).await {
                            Some(f) => {
                                framed = f;
                                conn.tls = true;
                            }
                            None => return,
                        }
                    }
                }
            }
            out = next_out(&mut conn.outbox) => {
                let Some(out) = out else { break };
                // Feed what is already queued, then flush once.
                let mut next = Some(out);
                let mut failed = false;
                while let Some(out) = next.take() {
                    // An operation abandoned (or ended by a bind) is no longer in `ops`:
                    // what it had queued is dropped, and no response follows (RFC 4511 §4.11).
                    let (pdus, msg) = match out {
                        Out::Pdus(id, pdus) if conn.ops.contains_key(&id) => (Some(pdus), None),
                        Out::Pdus(..) => (None, None),
                        Out::Finished(id, last) => {
                            let live = conn.ops.remove(&id).is_some();
                            conn.running = conn.running.saturating_sub(1);
                            idle_deadline = Instant::now() + idle;
                            match last.filter(|_| live) {
                                Some(last) => (Some(last.pdus), Some(last.msg)),
                                None => (None, None),
                            }
                        }
                        Out::Paged(cookie, state) => {
                            conn.paged.keep(cookie, *state, std::time::Instant::now());
                            (None, None)
                        }
                    };
                    let fed = tokio::time::timeout(WRITE_TIMEOUT, async {
                        if let Some(pdus) = pdus.filter(|p| !p.is_empty()) {
                            framed.feed(pdus).await?;
                        }
                        if let Some(m) = msg {
                            framed.feed(m).await?;
                        }
                        Ok::<(), FramingError>(())
                    })
                    .await;
                    if !matches!(fed, Ok(Ok(()))) {
                        failed = true;
                        break;
                    }
                    // What is queued goes out in one write, up to about a chunk: past it
                    // the connection flushes and reads any request (an abandon) first.
                    if framed.write_buffer().len() < DRAIN_BYTES {
                        next = conn.outbox.as_mut().and_then(|(_, rx)| rx.try_recv().ok());
                    }
                }
                // A client that stops reading is dropped instead of holding the search.
                if failed
                    || !matches!(
                        tokio::time::timeout(WRITE_TIMEOUT, SinkExt::<LdapMsg>::flush(&mut framed)).await,
                        Ok(Ok(()))
                    )
                {
                    debug!("client stopped reading; closing");
                    break;
                }
                if draining && conn.ops.is_empty() {
                    break;
                }
            }
            _ = shutdown.cancelled(), if !draining => {
                draining = true;
                if conn.ops.is_empty() {
                    let _ = framed
                        .send(DisconnectionNotice::gen_response(
                            LdapResultCode::Unavailable,
                            "the server is shutting down",
                        ))
                        .await;
                    break;
                }
            }
            _ = tokio::time::sleep_until(idle_deadline), if conn.ops.is_empty() => {
                debug!("idle timeout");
                let _ = framed
                    .send(DisconnectionNotice::gen_response(
                        LdapResultCode::Unavailable,
                        "idle timeout",
                    ))
                    .await;
                break;
            }
        }
    }
    for (_, t) in conn.ops.drain() {
        t.cancel();
    }
}

/// The response to a PDU that could not be decoded, on its message id, when the
/// operation is known; `None` means only a Notice of Disconnection fits.
pub fn bad_request_response(msgid: i32, op_tag: Option<u64>, reason: &str) -> Option<LdapMsg> {
    if msgid <= 0 {
        return None;
    }
    let res = result(
        LdapResultCode::ProtocolError,
        format!("cannot decode the request: {reason}"),
    );
    let op = response_to(op_tag?, res)?;
    Some(LdapMsg::new(msgid, op))
}

/// Writes one reply from the connection task itself; false when the client is gone or
/// stopped reading.
async fn write(framed: &mut Framed<Transport, SafeCodec>, msg: LdapMsg) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, framed.send(msg)).await,
        Ok(Ok(()))
    )
}

enum Action {
    Reply(Box<LdapMsg>),
    None,
    Close,
    StartTls(i32),
}

fn reply(msg: LdapMsg) -> Action {
    Action::Reply(Box::new(msg))
}

async fn handle(conn: &mut Conn, msg: LdapMsg, critical: Vec<String>) -> Action {
    let id = msg.msgid;
    let is_search = matches!(msg.op, LdapOp::SearchRequest(_));
    let has_response = !matches!(msg.op, LdapOp::UnbindRequest | LdapOp::AbandonRequest(_));
    // RFC 4511 §4.1.11: an unrecognised critical control fails the operation (12).
    if !is_search
        && has_response
        && let Err(e) = super::controls::check_non_search_controls(&msg.ctrl, &critical)
    {
        let res = result(e.result_code(), e.to_string());
        // Every operation with a response has a request tag; extended is the fallback.
        let tag = request_tag(&msg.op).unwrap_or(23);
        let op = response_to(tag, res.clone()).unwrap_or(LdapOp::ExtendedResponse(
            LdapExtendedResponse {
                res,
                name: None,
                value: None,
            },
        ));
        return reply(LdapMsg::new(id, op));
    }
    match msg.op {
        LdapOp::BindRequest(req) => {
            // RFC 4511 §4.2.1: a bind abandons every outstanding operation.
            for (_, t) in conn.ops.drain() {
                t.cancel();
            }
            // Boxed: the wait and the password check are not carried by every connection.
            let res = Box::pin(bind(conn, req.version, &req.dn, req.cred)).await;
            reply(LdapMsg::new(
                id,
                LdapOp::BindResponse(LdapBindResponse {
                    res,
                    saslcreds: None,
                }),
            ))
        }
        LdapOp::UnbindRequest => Action::Close,
        LdapOp::SearchRequest(req) => match start_search(conn, id, req, msg.ctrl, critical) {
            Some(refusal) => reply(refusal),
            None => Action::None,
        },
        LdapOp::AbandonRequest(target) => {
            if let Some(t) = conn.ops.remove(&target) {
                t.cancel();
            }
            Action::None
        }
        LdapOp::ExtendedRequest(req) => extended(conn, id, req),
        LdapOp::CompareRequest(req) => match start_compare(conn, id, req) {
            Some(refusal) => reply(refusal),
            None => Action::None,
        },
        LdapOp::AddRequest(_) => reply(LdapMsg::new(id, LdapOp::AddResponse(read_only()))),
        LdapOp::ModifyRequest(_) => reply(LdapMsg::new(id, LdapOp::ModifyResponse(read_only()))),
        LdapOp::DelRequest(_) => reply(LdapMsg::new(id, LdapOp::DelResponse(read_only()))),
        LdapOp::ModifyDNRequest(_) => {
            reply(LdapMsg::new(id, LdapOp::ModifyDNResponse(read_only())))
        }
        other => {
            conn.client_fault(
                ClientFault::UnexpectedOperation,
                &format_args!(
                    "a server-side operation from the client: {}",
                    format!("{other:?}").chars().take(120).collect::<String>()
                ),
            );
            reply(DisconnectionNotice::gen_response(
                LdapResultCode::ProtocolError,
                "a client sent a server-side operation",
            ))
        }
    }
}

fn read_only() -> LdapResult {
    result(
        LdapResultCode::UnwillingToPerform,
        "the directory is read-only: it is served from Microsoft Graph",
    )
}

async fn bind(conn: &mut Conn, version: i64, dn: &str, cred: LdapBindCred) -> LdapResult {
    if version != 2 && version != 3 {
        return result(
            LdapResultCode::ProtocolError,
            format!("LDAP version {version} is not supported"),
        );
    }
    let password = match cred {
        LdapBindCred::Simple(p) => p,
        LdapBindCred::SASL(s) => {
            return result(
                LdapResultCode::AuthMethodNotSupported,
                format!(
                    "SASL mechanism {} is not supported; use a simple bind",
                    s.mechanism
                ),
            );
        }
        LdapBindCred::Unsupported => {
            return result(
                LdapResultCode::AuthMethodNotSupported,
                "only simple binds are supported",
            );
        }
    };
    conn.identity = Identity::Anonymous;
    if dn.is_empty() && password.is_empty() {
        return result(LdapResultCode::Success, "");
    }
    if password.is_empty() {
        // RFC 4513 §5.1.2: an unauthenticated bind (name, no password) is refused.
        return result(
            LdapResultCode::UnwillingToPerform,
            "unauthenticated bind (a name without a password) is not allowed",
        );
    }
    if conn.gw.limits.require_tls_for_bind && !conn.tls {
        return result(
            LdapResultCode::ConfidentialityRequired,
            "a bind with a password needs TLS (LDAPS or StartTLS); see require_tls_for_bind",
        );
    }
    let client = conn.peer.ip();
    let binds = &conn.gw.binds;
    match binds.verdict(client) {
        Verdict::LockedOut { remaining } => {
            info!(name = %dn, "bind refused: client locked out after failed binds");
            return result(
                LdapResultCode::InvalidCredentials,
                format!(
                    "too many failed binds from {client}; binds from this address are refused for {} more seconds",
                    remaining.as_secs().max(1)
                ),
            );
        }
        // Each failure beyond the first few makes the next bind wait longer; the wait
        // holds only this connection.
        Verdict::Proceed { delay } => tokio::time::sleep(delay).await,
    }
    let Some(account) = accounts::find(&conn.gw.accounts, dn) else {
        info!(name = %dn, "bind refused: unknown account");
        binds.record(client, false);
        return result(LdapResultCode::InvalidCredentials, "invalid credentials");
    };
    let ok = accounts::verify(account, &password, &binds.pool).await;
    binds.record(client, ok);
    if ok {
        info!(account = %account.dn, "bound");
        conn.identity = Identity::Account {
            dn: account.dn.clone(),
        };
        result(LdapResultCode::Success, "")
    } else {
        info!(account = %account.dn, "bind refused: wrong password");
        result(LdapResultCode::InvalidCredentials, "invalid credentials")
    }
}

fn extended(conn: &mut Conn, id: i32, req: LdapExtendedRequest) -> Action {
    let reply = |code, msg: &str, name: Option<&str>, value: Option<Vec<u8>>| {
        reply(LdapMsg::new(
            id,
            LdapOp::ExtendedResponse(LdapExtendedResponse {
                res: result(code, msg),
                name: name.map(str::to_string),
                value,
            }),
        ))
    };
    match req.name.as_str() {
        OID_STARTTLS => {
            if conn.gw.tls.is_none() {
                reply(
                    LdapResultCode::Unavailable,
                    "StartTLS is not available: no [tls] is configured",
                    Some(OID_STARTTLS),
                    None,
                )
            } else if conn.tls {
                reply(
                    LdapResultCode::OperationsError,
                    "TLS is already active",
                    Some(OID_STARTTLS),
                    None,
                )
            } else if !conn.ops.is_empty() {
                reply(
                    LdapResultCode::OperationsError,
                    "StartTLS with operations outstanding (RFC 4511 §4.14.1)",
                    Some(OID_STARTTLS),
                    None,
                )
            } else {
                Action::StartTls(id)
            }
        }
        OID_WHOAMI => {
            let authz = match &conn.identity {
                Identity::Anonymous => String::new(),
                Identity::Account { dn } => format!("dn:{dn}"),
            };
            reply(LdapResultCode::Success, "", None, Some(authz.into_bytes()))
        }
        OID_PASSWORD_MODIFY => reply(
            LdapResultCode::UnwillingToPerform,
            "passwords are managed in Entra ID",
            None,
            None,
        ),
        other => reply(
            LdapResultCode::ProtocolError,
            &format!("unsupported extended operation {other}"),
            None,
            None,
        ),
    }
}

async fn start_tls(
    conn: &mut Conn,
    mut framed: Framed<Transport, SafeCodec>,
    msgid: i32,
) -> Option<Framed<Transport, SafeCodec>> {
    let acceptor = conn.gw.tls.as_ref()?.load_full();
    let ok = LdapMsg::new(
        msgid,
        LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(LdapResultCode::Success, ""),
            name: Some(OID_STARTTLS.to_string()),
            value: None,
        }),
    );
    framed.send(ok).await.ok()?;
    // RFC 4511 §4.14.1: bytes sent after the request and before the TLS handshake would
    // be plaintext injected into the TLS session; refuse them.
    if !framed.read_buffer().is_empty() {
        warn!(peer = %conn.peer, "data after StartTLS before the handshake; closing");
        return None;
    }
    let parts = framed.into_parts();
    let Either::Left(tcp) = parts.io else {
        return None;
    };
    let timeout = conn.gw.limits.tls_handshake_timeout;
    let Some(tls) = tls::handshake(&acceptor, tcp, timeout).await else {
        // Logged by the handshake, with the peer.
        conn.gw.metrics.client_fault(ClientFault::TlsHandshake);
        return None;
    };
    Some(new_framed(Either::Right(Box::new(tls)), &conn.gw.limits))
}

/// Starts a search off the connection task; a refusal is returned for the connection
/// task to write itself, so it cannot be lost behind a streaming search.
fn start_search(
    conn: &mut Conn,
    id: i32,
    req: LdapSearchRequest,
    ctrls: Vec<ldap3_proto::control::LdapControl>,
    critical: Vec<String>,
) -> Option<LdapMsg> {
    let done = |code, msg: String| LdapMsg::new(id, LdapOp::SearchResultDone(result(code, msg)));
    let depth = filter_depth(&req.filter);
    if depth > conn.gw.limits.max_filter_depth {
        return Some(done(
            LdapResultCode::UnwillingToPerform,
            format!(
                "the filter is nested {depth} levels deep; the limit is {} (max_filter_depth)",
                conn.gw.limits.max_filter_depth
            ),
        ));
    }
    if let Some(busy) = over_operation_cap(conn, id, 3) {
        return Some(busy);
    }
    let gw = conn.gw.clone();
    let identity = conn.identity.clone();
    let tx = conn.sender();
    let resume = conn.paged.take(
        paged::request_cookie(&ctrls),
        &paged::fingerprint(&req),
        std::time::Instant::now(),
    );
    let span =
        info_span!("search", msgid = id, base = %req.base, filter = %short_filter(&req.filter));
    spawn_operation(conn, id, span, async move {
        search_op::run(&gw, &identity, id, &req, (&ctrls, &critical), resume, &tx).await
    });
    None
}

/// Starts a compare off the connection task, so a Graph round trip stalls neither
/// abandon nor the connection's other operations.
fn start_compare(conn: &mut Conn, id: i32, req: LdapCompareRequest) -> Option<LdapMsg> {
    if let Some(busy) = over_operation_cap(conn, id, 14) {
        return Some(busy);
    }
    let gw = conn.gw.clone();
    let identity = conn.identity.clone();
    let span = info_span!("compare", msgid = id, dn = %req.dn, attribute = %req.atype);
    spawn_operation(conn, id, span, async move {
        let res = compare_op::compare(&gw, &identity, &req).await;
        Some(Last::response(LdapMsg::new(id, LdapOp::CompareResult(res))))
    });
    None
}

/// busy (51) on the request's own response when the connection already runs
/// `max_operations_per_connection` operations.
fn over_operation_cap(conn: &Conn, id: i32, request_tag: u64) -> Option<LdapMsg> {
    let cap = conn.gw.limits.max_operations_per_connection;
    if conn.ops.len() < cap {
        return None;
    }
    let res = result(
        LdapResultCode::Busy,
        format!("too many operations outstanding on this connection (limit {cap})"),
    );
    response_to(request_tag, res).map(|op| LdapMsg::new(id, op))
}

/// Runs `work` as an operation of the connection: abandonable by its message id, counted
/// until it ends. Its final PDU travels with the end, so the connection forgets the
/// operation exactly when the client sees it finish (StartTLS checks that none is running).
fn spawn_operation(
    conn: &mut Conn,
    id: i32,
    span: Span,
    work: impl std::future::Future<Output = Option<Last>> + Send + 'static,
) {
    let token = CancellationToken::new();
    conn.ops.insert(id, token.clone());
    conn.running += 1;
    let tx = conn.sender();
    let (metrics, started) = (conn.gw.metrics.clone(), std::time::Instant::now());
    tokio::spawn(
        async move {
            let last = tokio::select! {
                _ = token.cancelled() => {
                    debug!("abandoned");
                    None
                }
                last = work => last,
            };
            last.iter().for_each(|l| metrics.finished(&l.msg, started));
            let _ = tx.send(Out::Finished(id, last.map(Box::new))).await;
        }
        .instrument(span),
    );
}

fn short_filter(f: &LdapFilter) -> String {
    let s = filter_to_string(f);
    if s.len() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future an async fn returns, known from its type alone.
    fn future_size<A, F: std::future::Future>(_: impl FnOnce(A) -> F) -> usize {
        size_of::<F>()
    }

    /// Every held connection is one task holding this future: what a connection does
    /// only rarely (a bind's wait, a TLS handshake) is boxed, not carried by all.
    #[test]
    fn a_connection_future_is_small() {
        type Args = (Transport, SocketAddr, Arc<Gateway>, CancellationToken, u64);
        let serve_size = future_size(|a: Args| serve(a.0, a.1, a.2, a.3, a.4));
        let framed_size = size_of::<Framed<Transport, SafeCodec>>();
        println!("serve future {serve_size} B, framed transport {framed_size} B");
        assert!(framed_size <= 256, "framed transport {framed_size} B");
        // 2,280 B in a debug build, the one tests run.
        assert!(serve_size <= 3072, "serve future {serve_size} B");
    }
}
