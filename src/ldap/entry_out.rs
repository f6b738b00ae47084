//! Turning a directory entry into a SearchResultEntry PDU: requested attributes, `*`,
//! `+`, `1.1` and typesOnly (RFC 4511 §4.5.1.8). Unknown names are silently omitted.

use bytes::{BufMut, BytesMut};

use crate::directory::compat;
use crate::directory::entry::Entry;
use crate::directory::schema::{self, AttributeType};

/// What a search asked to see of each entry.
#[derive(Debug, Clone)]
pub struct AttributeSelection {
    all_user: bool,
    all_operational: bool,
    named: Vec<&'static AttributeType>,
    types_only: bool,
}

impl AttributeSelection {
    pub fn new(attrs: &[String], types_only: bool) -> Self {
        let mut sel = AttributeSelection {
            all_user: attrs.is_empty(),
            all_operational: false,
            named: Vec::new(),
            types_only,
        };
        for a in attrs {
            match a.trim() {
                "*" => sel.all_user = true,
                "+" => sel.all_operational = true,
                // "1.1" alone asks for no attributes; with others it is ignored (§4.5.1.8).
                "1.1" => {}
                name => {
                    if let Some(at) = schema::attribute(name)
                        && !sel.named.iter().any(|n| std::ptr::eq(*n, at))
                    {
                        sel.named.push(at);
                    }
                }
            }
        }
        sel
    }

    /// True when `at` (or one of its supertypes) was requested.
    fn wants(&self, at: &'static AttributeType) -> bool {
        if at.operational {
            if self.all_operational {
                return true;
            }
        } else if self.all_user {
            return true;
        }
        self.named.iter().any(|n| at.is_subtype_of(n))
    }

    /// Appends the SearchResultEntry PDUs of `entries` (message `msgid`) to `out`: the
    /// bytes ldap3_proto's codec writes for them (RFC 4511 §4.5.2; X.690 definite lengths
    /// in their shortest form), written straight from the entries instead of through an
    /// `LdapMsg` and a BER tree, so a search's answer is encoded off the connection task.
    pub fn encode_entries(&self, msgid: i32, entries: &[Entry], out: &mut BytesMut) {
        // Every entry of a search carries the same few types: decide each once.
        let mut decided: Vec<(&'static AttributeType, bool)> = Vec::new();
        let mut shown: Vec<Shown> = Vec::new();
        for entry in entries {
            shown.clear();
            for (i, (at, vals)) in entry.attrs.iter().enumerate() {
                let wanted = match decided.iter().find(|(a, _)| std::ptr::eq(*a, *at)) {
                    Some((_, w)) => *w,
                    None => {
                        let w = self.wants(at);
                        decided.push((at, w));
                        w
                    }
                };
                if !wanted {
                    continue;
                }
                let set: usize = if self.types_only {
                    0
                } else {
                    vals.iter().map(|v| tlv(value_len(at, v))).sum()
                };
                shown.push(Shown {
                    index: i,
                    set,
                    attribute: tlv(at.name.len()) + tlv(set),
                });
            }
            let list: usize = shown.iter().map(|s| tlv(s.attribute)).sum();
            let op = tlv(entry.dn.len()) + tlv(list);
            let (id, skip) = integer_octets(msgid);
            let id = &id[skip..];
            out.reserve(tlv(tlv(id.len()) + tlv(op)));
            header(out, SEQUENCE, tlv(id.len()) + tlv(op));
            header(out, INTEGER, id.len());
            out.extend_from_slice(id);
            header(out, SEARCH_RESULT_ENTRY, op);
            octets(out, entry.dn.as_bytes());
            header(out, SEQUENCE, list);
            for s in &shown {
                let (at, vals) = &entry.attrs[s.index];
                header(out, SEQUENCE, s.attribute);
                octets(out, at.name.as_bytes());
                header(out, SET, s.set);
                if self.types_only {
                    continue;
                }
                for v in vals {
                    if at.is_binary() {
                        // objectGUID, objectSid: one byte per char (CONTRACT §9).
                        octets(out, &compat::text_bytes(v));
                    } else {
                        octets(out, v.as_bytes());
                    }
                }
            }
        }
    }
}

/// One attribute of an entry that is sent: its place in the entry and the content
/// lengths of its value set and of its PartialAttribute.
struct Shown {
    index: usize,
    set: usize,
    attribute: usize,
}

/// X.690 identifier octets of the types a SearchResultEntry is made of.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
/// `[APPLICATION 4]` constructed (RFC 4511 §4.5.2).
const SEARCH_RESULT_ENTRY: u8 = 0x64;

/// The encoded size of a value: binary ones are sent one byte per char.
fn value_len(at: &AttributeType, v: &str) -> usize {
    if at.is_binary() {
        compat::text_bytes(v).len()
    } else {
        v.len()
    }
}

/// The size of a whole element (identifier, length octets, contents) with `content` bytes.
fn tlv(content: usize) -> usize {
    1 + length_size(content) + content
}

/// X.690 §8.1.3: the short form below 128, else the long form in as few octets as fit.
fn length_size(n: usize) -> usize {
    if n < 128 {
        1
    } else {
        1 + (usize::BITS - n.leading_zeros()).div_ceil(8) as usize
    }
}

fn header(out: &mut BytesMut, tag: u8, content: usize) {
    out.put_u8(tag);
    if content < 128 {
        out.put_u8(content as u8);
    } else {
        let octets = length_size(content) - 1;
        out.put_u8(0x80 | octets as u8);
        out.extend_from_slice(&content.to_be_bytes()[size_of::<usize>() - octets..]);
    }
}

fn octets(out: &mut BytesMut, bytes: &[u8]) {
    header(out, OCTET_STRING, bytes.len());
    out.extend_from_slice(bytes);
}

/// X.690 §8.3: two's complement in as few octets as keep the sign.
fn integer_octets(n: i32) -> ([u8; 4], usize) {
    let bytes = n.to_be_bytes();
    let mut skip = 0;
    while skip < 3 {
        let (b, next) = (bytes[skip], bytes[skip + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            skip += 1;
        } else {
            break;
        }
    }
    (bytes, skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::LdapCodec;
    use ldap3_proto::proto::{LdapMsg, LdapOp, LdapPartialAttribute, LdapSearchResultEntry};
    use proptest::prelude::*;
    use tokio_util::codec::Encoder;

    fn at(name: &str) -> &'static AttributeType {
        schema::attribute(name).unwrap()
    }

    /// What ldap3_proto's own codec writes for the entry `dn` with `attributes`.
    fn reference(msgid: i32, dn: &str, attributes: Vec<(&str, Vec<Vec<u8>>)>) -> Vec<u8> {
        let msg = LdapMsg::new(
            msgid,
            LdapOp::SearchResultEntry(LdapSearchResultEntry {
                dn: dn.to_string(),
                attributes: attributes
                    .into_iter()
                    .map(|(atype, vals)| LdapPartialAttribute {
                        atype: atype.to_string(),
                        vals,
                    })
                    .collect(),
            }),
        );
        let mut buf = BytesMut::new();
        LdapCodec::default().encode(msg, &mut buf).unwrap();
        buf.to_vec()
    }

    fn encode(sel: &AttributeSelection, msgid: i32, entries: &[Entry]) -> Vec<u8> {
        let mut out = BytesMut::new();
        sel.encode_entries(msgid, entries, &mut out);
        out.to_vec()
    }

    fn sample() -> Entry {
        let mut e = Entry::new("uid=adele@contoso.com,ou=users,dc=example,dc=com");
        e.push(at("objectClass"), ["top".into(), "inetOrgPerson".into()]);
        e.push(at("cn"), ["Adele Vance".into()]);
        e.push(at("sn"), ["Vance".into()]);
        e.push(at("mail"), ["AdeleV@contoso.com".into()]);
        e.push(at("telephoneNumber"), ["+1 425 555 0109".into()]);
        e.push(
            at("entryDN"),
            ["uid=adele@contoso.com,ou=users,dc=example,dc=com".into()],
        );
        e
    }

    fn list(attrs: &[&str]) -> Vec<String> {
        attrs.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn named_attributes_their_subtypes_plus_and_types_only() {
        let e = sample();
        let dn = e.dn.clone();
        let v = |s: &str| vec![s.as_bytes().to_vec()];
        // `name` asks for its subtypes cn and sn (RFC 4512 §2.5.1); unknown names are omitted.
        let sel = AttributeSelection::new(&list(&["name", "telephoneNumber", "nosuch"]), false);
        assert_eq!(
            encode(&sel, 2, std::slice::from_ref(&e)),
            reference(
                2,
                &dn,
                vec![
                    ("cn", v("Adele Vance")),
                    ("sn", v("Vance")),
                    ("telephoneNumber", v("+1 425 555 0109")),
                ]
            )
        );
        // `*` leaves entryDN out, `+` adds it; typesOnly sends empty value sets.
        let sel = AttributeSelection::new(&list(&["*"]), true);
        let types: Vec<_> = ["objectClass", "cn", "sn", "mail", "telephoneNumber"]
            .into_iter()
            .map(|a| (a, Vec::new()))
            .collect();
        assert_eq!(
            encode(&sel, 3, std::slice::from_ref(&e)),
            reference(3, &dn, types)
        );
        let sel = AttributeSelection::new(&list(&["+", "cn"]), false);
        assert_eq!(
            encode(&sel, 4, std::slice::from_ref(&e)),
            reference(4, &dn, vec![("cn", v("Adele Vance")), ("entryDN", v(&dn))])
        );
        // "1.1" alone: no attributes at all.
        let sel = AttributeSelection::new(&list(&["1.1"]), false);
        assert_eq!(encode(&sel, 5, &[e]), reference(5, &dn, Vec::new()));
    }

    #[test]
    fn binary_values_are_sent_one_byte_per_char() {
        let mut e = Entry::new("uid=a,ou=users,dc=example,dc=com");
        let guid: String = [0x00u8, 0x7f, 0x80, 0xff]
            .iter()
            .map(|b| char::from(*b))
            .collect();
        e.push(at("objectGUID"), [guid]);
        let sel = AttributeSelection::new(&list(&["objectGUID"]), false);
        assert_eq!(
            encode(&sel, 1, std::slice::from_ref(&e)),
            reference(
                1,
                &e.dn,
                vec![("objectGUID", vec![vec![0x00, 0x7f, 0x80, 0xff]])]
            )
        );
    }

    proptest! {
        /// Every length form (short, one to three long octets), every message id width,
        /// several entries in one buffer: the same bytes as ldap3_proto's codec.
        #[test]
        fn the_same_bytes_as_the_codec(
            msgid in prop_oneof![0i32..300, 65_000i32..70_000, Just(i32::MAX)],
            entries in proptest::collection::vec(
                (
                    "[a-z]{1,3}",
                    proptest::collection::vec(
                        prop_oneof![".{0,3}", "[a-z]{100,140}", "[a-z]{250,300}", "[a-z]{70000}"],
                        1..4,
                    ),
                    proptest::collection::vec(".{1,20}", 0..3),
                ),
                1..3,
            )
        ) {
            let sel = AttributeSelection::new(&[], false);
            let mut expected = Vec::new();
            let built: Vec<Entry> = entries
                .iter()
                .map(|(rdn, cns, mails)| {
                    let mut e = Entry::new(format!("uid={rdn},ou=users,dc=example,dc=com"));
                    e.push(at("cn"), cns.clone());
                    e.push(at("mail"), mails.clone());
                    // As the entry holds them: empty strings dropped, duplicates merged.
                    let attrs = e
                        .attrs
                        .iter()
                        .map(|(a, vals)| (a.name, vals.iter().map(|v| v.as_bytes().to_vec()).collect()))
                        .collect();
                    expected.extend(reference(msgid, &e.dn, attrs));
                    e
                })
                .collect();
            prop_assert_eq!(encode(&sel, msgid, &built), expected);
        }
    }
}
