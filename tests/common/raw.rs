//! A bare LDAP client over one TCP connection, framed with ldap3_proto's codec: it sends
//! any request (abandon, a bind in the middle of searches, many searches at once) and
//! reads every response with its message id, which the high-level clients hide.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResult,
    LdapSearchRequest, LdapSearchScope,
};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// The Notice of Disconnection's OID (RFC 4511 §4.4.1).
pub const NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";

pub struct RawLdap {
    framed: Framed<TcpStream, LdapCodec>,
}

/// What `recv` saw.
#[derive(Debug)]
pub enum Received {
    Msg(Box<LdapMsg>),
    /// The server closed the connection.
    Closed,
    /// Nothing arrived in time.
    Silent,
}

impl RawLdap {
    pub async fn connect(addr: SocketAddr) -> RawLdap {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        RawLdap {
            framed: Framed::new(stream, LdapCodec::default()),
        }
    }

    /// A client on a stream already connected (from another source address, or after a
    /// PROXY protocol header).
    pub fn from_stream(stream: TcpStream) -> RawLdap {
        RawLdap {
            framed: Framed::new(stream, LdapCodec::default()),
        }
    }

    pub async fn send(&mut self, msgid: i32, op: LdapOp) {
        self.framed
            .send(LdapMsg::new(msgid, op))
            .await
            .expect("send a request to the gateway");
    }

    /// Sends a request with controls.
    pub async fn send_with(
        &mut self,
        msgid: i32,
        op: LdapOp,
        ctrl: Vec<ldap3_proto::control::LdapControl>,
    ) {
        self.framed
            .send(LdapMsg { msgid, op, ctrl })
            .await
            .expect("send a request to the gateway");
    }

    /// Every message of `msgid` up to and including its SearchResultDone.
    pub async fn search_until_done(&mut self, msgid: i32) -> Vec<LdapMsg> {
        let mut out = Vec::new();
        loop {
            match self.recv(Duration::from_secs(20)).await {
                Received::Msg(m) => {
                    let done = m.msgid == msgid && matches!(m.op, LdapOp::SearchResultDone(_));
                    out.push(*m);
                    if done {
                        return out;
                    }
                }
                other => panic!("search {msgid} got no SearchResultDone: {other:?}"),
            }
        }
    }

    /// The next message within `wait`.
    pub async fn recv(&mut self, wait: Duration) -> Received {
        match tokio::time::timeout(wait, self.framed.next()).await {
            Err(_) => Received::Silent,
            Ok(None) | Ok(Some(Err(_))) => Received::Closed,
            Ok(Some(Ok(msg))) => Received::Msg(Box::new(msg)),
        }
    }

    /// Every message until `wait` passes with nothing new (or the connection closes).
    pub async fn drain(&mut self, wait: Duration) -> Vec<LdapMsg> {
        let mut out = Vec::new();
        while let Received::Msg(m) = self.recv(wait).await {
            out.push(*m);
        }
        out
    }

    /// Sends a simple bind and returns its result.
    pub async fn bind(&mut self, msgid: i32, dn: &str, password: &str) -> LdapResult {
        self.send(msgid, bind_op(dn, password)).await;
        loop {
            match self.recv(Duration::from_secs(20)).await {
                Received::Msg(m) if m.msgid == msgid => match m.op {
                    LdapOp::BindResponse(r) => return r.res,
                    other => panic!("bind {msgid} answered with {other:?}"),
                },
                Received::Msg(_) => continue,
                other => panic!("no bind response: {other:?}"),
            }
        }
    }
}

pub fn bind_op(dn: &str, password: &str) -> LdapOp {
    LdapOp::BindRequest(LdapBindRequest {
        version: 3,
        dn: dn.to_string(),
        cred: LdapBindCred::Simple(password.to_string()),
    })
}

/// A subtree search with an equality filter, returning `attrs`.
pub fn search_eq(base: &str, attr: &str, value: &str, attrs: &[&str]) -> LdapOp {
    search_op(
        base,
        LdapSearchScope::Subtree,
        LdapFilter::Equality(attr.to_string(), value.to_string()),
        attrs,
    )
}

pub fn search_op(base: &str, scope: LdapSearchScope, filter: LdapFilter, attrs: &[&str]) -> LdapOp {
    LdapOp::SearchRequest(LdapSearchRequest {
        base: base.to_string(),
        scope,
        aliases: LdapDerefAliases::Never,
        sizelimit: 0,
        timelimit: 0,
        typesonly: false,
        filter,
        attrs: attrs.iter().map(|a| a.to_string()).collect(),
    })
}

/// The DNs of the SearchResultEntry messages of `msgid` in `msgs`.
pub fn entry_dns(msgs: &[LdapMsg], msgid: i32) -> Vec<String> {
    msgs.iter()
        .filter(|m| m.msgid == msgid)
        .filter_map(|m| match &m.op {
            LdapOp::SearchResultEntry(e) => Some(e.dn.clone()),
            _ => None,
        })
        .collect()
}

/// A simple paged-results control (RFC 2696) asking for `size` entries after `cookie`.
pub fn paged(size: i64, cookie: &[u8]) -> Vec<ldap3_proto::control::LdapControl> {
    vec![ldap3_proto::control::LdapControl::SimplePagedResults {
        size,
        cookie: cookie.to_vec(),
    }]
}

/// The paged-results cookie on the SearchResultDone of `msgid`, if any.
pub fn paged_cookie(msgs: &[LdapMsg], msgid: i32) -> Option<Vec<u8>> {
    msgs.iter()
        .filter(|m| m.msgid == msgid && matches!(m.op, LdapOp::SearchResultDone(_)))
        .flat_map(|m| m.ctrl.iter())
        .find_map(|c| match c {
            ldap3_proto::control::LdapControl::SimplePagedResults { cookie, .. } => {
                Some(cookie.clone())
            }
            _ => None,
        })
}

/// The SearchResultDone of `msgid` in `msgs`, if any.
pub fn search_done(msgs: &[LdapMsg], msgid: i32) -> Option<LdapResult> {
    msgs.iter()
        .filter(|m| m.msgid == msgid)
        .find_map(|m| match &m.op {
            LdapOp::SearchResultDone(r) => Some(r.clone()),
            _ => None,
        })
}
