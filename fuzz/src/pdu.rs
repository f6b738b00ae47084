//! Target `pdu`: bytes as a client's socket delivers them, through the session's framing
//! (`ldap::codec::SafeCodec` over ldap3_proto, with the default `[ldap]` limits) and what the
//! session does next with each result: the filter-depth check and controls of a search, the
//! controls check of other operations, the base DN's place in the tree, and the encoded
//! replies to undecodable PDUs and to framing errors. Knows no Graph.
//!
//! Oracle besides no panic: the same bytes delivered one at a time decode to the same results.

use bytes::BytesMut;
use ldap_graph_gateway::config::defaults;
use ldap_graph_gateway::directory::filter::{filter_depth, filter_to_string};
use ldap_graph_gateway::ldap::codec::{FramingError, Incoming, SafeCodec};
use ldap_graph_gateway::ldap::controls::{
    check_non_search_controls, parse_request_controls_with_critical,
};
use ldap_graph_gateway::ldap::session::bad_request_response;
use ldap3_proto::LdapResultCode;
use ldap3_proto::proto::{LdapMsg, LdapOp};
use ldap3_proto::simple::DisconnectionNotice;
use tokio_util::codec::{Decoder, Encoder};

use crate::fixtures;

pub fn run(data: &[u8]) {
    let whole = decode_stream(data, data.len().max(1));
    let byte_by_byte = decode_stream(data, 1);
    assert_eq!(
        whole, byte_by_byte,
        "the result depends on how the bytes arrive"
    );
}

fn codec() -> SafeCodec {
    let limits = defaults::edge_limits();
    SafeCodec::new(limits.max_message_bytes, limits.max_ber_depth)
}

/// Feeds `data` in chunks of `chunk` bytes, decoding after each as `Framed` does, until the
/// end or a framing error (which ends a session); returns what each PDU became.
fn decode_stream(data: &[u8], chunk: usize) -> Vec<String> {
    let mut codec = codec();
    let mut buf = BytesMut::new();
    let mut seen = Vec::new();
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(incoming)) => seen.push(handle(incoming, &mut codec)),
                Ok(None) => break,
                Err(e) => {
                    seen.push(framing_error(e, &mut codec));
                    return seen;
                }
            }
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(Some(incoming)) => seen.push(handle(incoming, &mut codec)),
        Ok(None) => {}
        Err(e) => seen.push(framing_error(e, &mut codec)),
    }
    seen
}

/// What the session does with one decoded PDU before any operation runs.
fn handle(incoming: Incoming, codec: &mut SafeCodec) -> String {
    match incoming {
        Incoming::Msg(msg, critical) => {
            match &msg.op {
                LdapOp::SearchRequest(req) => {
                    let _ = filter_depth(&req.filter);
                    let _ = filter_to_string(&req.filter);
                    let _ = fixtures::get().tree.resolve(&req.base);
                    let _ = parse_request_controls_with_critical(&msg.ctrl, &critical);
                }
                _ => {
                    let _ = check_non_search_controls(&msg.ctrl, &critical);
                }
            }
            format!("message {msg:?} critical {critical:?}")
        }
        Incoming::Bad {
            msgid,
            op_tag,
            reason,
        } => {
            if let Some(reply) = bad_request_response(msgid, op_tag, &reason) {
                encode(reply, codec);
            }
            format!("bad {msgid} {op_tag:?} {reason}")
        }
    }
}

/// The Notice of Disconnection a session sends on a framing error (I/O errors cannot
/// happen here).
fn framing_error(e: FramingError, codec: &mut SafeCodec) -> String {
    let text = e.to_string();
    encode(
        DisconnectionNotice::gen_response(LdapResultCode::ProtocolError, &text),
        codec,
    );
    format!("framing error {text}")
}

fn encode(msg: LdapMsg, codec: &mut SafeCodec) {
    let mut out = BytesMut::new();
    codec
        .encode(msg, &mut out)
        .expect("encoding into memory cannot fail");
    assert!(!out.is_empty(), "a reply encodes to no bytes");
}
