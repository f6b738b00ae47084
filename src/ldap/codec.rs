//! Framing of LDAP PDUs that survives bad input: a PDU that does not decode is reported
//! with its message id and operation tag so the session can answer protocolError and
//! carry on; only oversized or unframeable input ends the connection.

use std::io;

use bytes::{Buf, BytesMut};
use ldap3_lber::common::TagClass;
use ldap3_lber::parse::Parser;
use ldap3_lber::structure::{PL, StructureTag};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::LdapMsg;
use tokio_util::codec::{Decoder, Encoder};

use super::ber;

/// What one framed PDU decoded to.
#[derive(Debug)]
pub enum Incoming {
    /// A well-formed LDAP message, with the OIDs of the controls it marks critical
    /// (ldap3_proto drops the flag for some controls it decodes).
    Msg(Box<LdapMsg>, Vec<String>),
    /// A complete PDU that is not a valid LDAP message; `op_tag` is the
    /// application tag of the protocol operation when it could be read.
    Bad {
        msgid: i32,
        op_tag: Option<u64>,
        reason: String,
    },
}

/// Why the connection cannot go on (answered with a Notice of Disconnection).
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("message of {0} bytes exceeds the limit of {1} bytes")]
    TooLarge(usize, usize),
    #[error("malformed BER framing: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Codec with a per-PDU size cap and BER depth cap.
pub struct SafeCodec {
    max_message_bytes: usize,
    max_ber_depth: usize,
    inner: LdapCodec,
}

impl SafeCodec {
    pub fn new(max_message_bytes: usize, max_ber_depth: usize) -> Self {
        SafeCodec {
            max_message_bytes,
            max_ber_depth,
            inner: LdapCodec::default(),
        }
    }
}

/// Reads the LDAPMessage header and returns the header size and content length, or
/// `None` when more bytes are needed.
fn ber_header(buf: &[u8]) -> Result<Option<(usize, usize)>, FramingError> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    // LDAPMessage is a universal constructed SEQUENCE (0x30), single-byte tag.
    if tag != 0x30 {
        return Err(FramingError::Malformed(format!(
            "expected a SEQUENCE, found tag byte 0x{tag:02x}"
        )));
    }
    match ber::header(buf) {
        ber::Header::Incomplete => Ok(None),
        ber::Header::Indefinite => Err(FramingError::Malformed(
            "indefinite length is not allowed in LDAP (RFC 4511 §5.1)".into(),
        )),
        ber::Header::TooLong(n) => Err(FramingError::Malformed(format!("{n}-byte length field"))),
        ber::Header::Definite { header, content } => Ok(Some((header, content))),
    }
}

/// Re-reads octet strings that are not UTF-8 as Latin-1 (old phones send ISO-8859-1),
/// so that `(cn=M\xfcller)` becomes `(cn=Müller)`. Integers and enumerations are left as is.
fn transcode_latin1(tag: &mut StructureTag) -> bool {
    let mut changed = false;
    match &mut tag.payload {
        PL::C(children) => {
            for c in children {
                changed |= transcode_latin1(c);
            }
        }
        PL::P(bytes) => {
            let is_text = matches!(
                (tag.class, tag.id),
                (TagClass::Universal, 4) | (TagClass::Context, _)
            );
            if is_text && std::str::from_utf8(bytes).is_err() {
                *bytes = bytes
                    .iter()
                    .map(|b| *b as char)
                    .collect::<String>()
                    .into_bytes();
                changed = true;
            }
        }
    }
    changed
}

fn msgid_and_op(tag: &StructureTag) -> (i32, Option<u64>) {
    let PL::C(children) = &tag.payload else {
        return (0, None);
    };
    let msgid = children
        .first()
        .and_then(|t| match &t.payload {
            PL::P(b) if t.class == TagClass::Universal && t.id == 2 && b.len() <= 4 => {
                Some(b.iter().fold(0i64, |acc, x| (acc << 8) | *x as i64) as i32)
            }
            _ => None,
        })
        .unwrap_or(0);
    let op = children
        .get(1)
        .filter(|t| t.class == TagClass::Application)
        .map(|t| t.id);
    (msgid, op)
}

impl Decoder for SafeCodec {
    type Item = Incoming;
    type Error = FramingError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, FramingError> {
        let Some((header, len)) = ber_header(buf)? else {
            return Ok(None);
        };
        let total = header.saturating_add(len);
        if total > self.max_message_bytes {
            return Err(FramingError::TooLarge(total, self.max_message_bytes));
        }
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let pdu = buf[..total].to_vec();
        buf.advance(total);
        let mut tag = match Parser::new(self.max_ber_depth).parse(&pdu) {
            Ok((_, tag)) => tag,
            Err(e) => {
                return Ok(Some(Incoming::Bad {
                    msgid: 0,
                    op_tag: None,
                    reason: format!("undecodable BER: {e:?}")
                        .chars()
                        .take(120)
                        .collect(),
                }));
            }
        };
        let (msgid, op_tag) = msgid_and_op(&tag);
        let critical = super::controls::critical_control_oids(&tag);
        match LdapMsg::try_from(tag.clone()) {
            Ok(msg) => Ok(Some(Incoming::Msg(Box::new(msg), critical))),
            Err(first_err) => {
                if transcode_latin1(&mut tag)
                    && let Ok(msg) = LdapMsg::try_from(tag)
                {
                    return Ok(Some(Incoming::Msg(Box::new(msg), critical)));
                }
                Ok(Some(Incoming::Bad {
                    msgid,
                    op_tag,
                    reason: format!("{first_err:?}"),
                }))
            }
        }
    }
}

/// PDUs encoded elsewhere (a search's entries, `entry_out`) are written as they are.
impl Encoder<bytes::Bytes> for SafeCodec {
    type Error = FramingError;

    fn encode(&mut self, pdus: bytes::Bytes, buf: &mut BytesMut) -> Result<(), FramingError> {
        buf.extend_from_slice(&pdus);
        Ok(())
    }
}

impl Encoder<LdapMsg> for SafeCodec {
    type Error = FramingError;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> Result<(), FramingError> {
        self.inner.encode(msg, buf).map_err(FramingError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::proto::LdapOp;

    fn encode(msg: LdapMsg) -> BytesMut {
        let mut b = BytesMut::new();
        LdapCodec::default().encode(msg, &mut b).unwrap();
        b
    }

    #[test]
    fn decodes_a_split_message() {
        let mut codec = SafeCodec::new(1 << 16, 64);
        let bytes = encode(LdapMsg::new(7, LdapOp::UnbindRequest));
        let mut buf = BytesMut::from(&bytes[..3]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&bytes[3..]);
        match codec.decode(&mut buf).unwrap() {
            Some(Incoming::Msg(m, _)) => assert_eq!(m.msgid, 7),
            other => panic!("unexpected {other:?}"),
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_declared_length_is_refused_before_buffering() {
        let mut codec = SafeCodec::new(1024, 64);
        let mut buf = BytesMut::from(&[0x30u8, 0x84, 0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FramingError::TooLarge(_, 1024))
        ));
    }

    #[test]
    fn unknown_operation_reports_msgid() {
        // SEQUENCE { INTEGER 5, [APPLICATION 30] primitive "x" }
        let mut buf = BytesMut::from(&[0x30u8, 0x06, 0x02, 0x01, 0x05, 0x5e, 0x01, b'x'][..]);
        let mut codec = SafeCodec::new(1024, 64);
        match codec.decode(&mut buf).unwrap() {
            Some(Incoming::Bad { msgid, op_tag, .. }) => {
                assert_eq!(msgid, 5);
                assert_eq!(op_tag, Some(30));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn latin1_filter_values_are_transcoded() {
        // ldapsearch-like request with filter (cn=M\xfcller) in ISO-8859-1.
        let filter_val = [b'M', 0xfc, b'l', b'l', b'e', b'r'];
        let mut search = vec![
            0x04, 0x00, // base ""
            0x0a, 0x01, 0x02, // scope sub
            0x0a, 0x01, 0x00, // deref never
            0x02, 0x01, 0x00, // size
            0x02, 0x01, 0x00, // time
            0x01, 0x01, 0x00, // typesOnly
            0xa3, 0x0c, 0x04, 0x02, b'c', b'n', 0x04, 0x06,
        ];
        search.extend_from_slice(&filter_val);
        search.extend_from_slice(&[0x30, 0x00]);
        let mut pdu = vec![0x30, 0x00, 0x02, 0x01, 0x02, 0x63, search.len() as u8];
        pdu.extend_from_slice(&search);
        pdu[1] = (pdu.len() - 2) as u8;
        let mut buf = BytesMut::from(&pdu[..]);
        let mut codec = SafeCodec::new(1024, 64);
        match codec.decode(&mut buf).unwrap() {
            Some(Incoming::Msg(m, _)) => match m.op {
                LdapOp::SearchRequest(s) => assert_eq!(
                    s.filter,
                    ldap3_proto::proto::LdapFilter::Equality("cn".into(), "Müller".into())
                ),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    }
}
