//! The benchmark's query mix: which searches a phone sends (exact name, name prefix, the
//! Yealink name template, caller ID with the Yealink number template, a Poly browse page),
//! how many entries each must return on the generated tenant, and their pre-encoded PDUs.
//! It knows the tenant's naming (`tenant_gen`), not how a server answers.

use bytes::BytesMut;
use ldap3_proto::proto::{LdapDerefAliases, LdapMsg, LdapOp, LdapSearchRequest, LdapSearchScope};
use ldap3_proto::{LdapCodec, control::LdapControl};
use tokio_util::codec::Encoder;

use super::tenant_gen::{DIGITS, caller_id, name, surname};

/// The search base: the users' container holds every generated user.
pub const BASE: &str = "dc=example,dc=com";
/// The attributes a phone asks for (Yealink `name_attr`/`numb_attr`, Poly's attribute list).
pub const ATTRS: [&str; 5] = ["cn", "sn", "givenName", "telephoneNumber", "mobile"];
/// Poly's `dir.corp.pageSize` in the working configuration of CLIENTS.md §2.
pub const POLY_PAGE: usize = 32;

/// One kind of search in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `(cn=user00042)`: one entry.
    Exact,
    /// `(cn=user0004*)`: ten entries.
    Prefix,
    /// Yealink's `ldap.name_filter = (|(cn=%)(sn=%))`, the phone adding `*`: ten entries.
    YealinkName,
    /// Yealink's `ldap.number_filter` with the caller's number in E.164, stored spaced.
    CallerId,
    /// Poly's browse: GE/LE bracket and the typed prefix, first page of a paged search.
    PolyBrowse,
}

pub const KINDS: [Kind; 5] = [
    Kind::Exact,
    Kind::Prefix,
    Kind::YealinkName,
    Kind::CallerId,
    Kind::PolyBrowse,
];

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Exact => "exact (cn=userNNNNN)",
            Kind::Prefix => "prefix (cn=userNNNN*)",
            Kind::YealinkName => "Yealink name",
            Kind::CallerId => "caller ID",
            Kind::PolyBrowse => "Poly browse page",
        }
    }

    /// Entries every search of this kind returns (its page, for the browse).
    pub fn expected(self) -> usize {
        match self {
            Kind::Exact | Kind::CallerId => 1,
            Kind::Prefix | Kind::YealinkName => 10,
            Kind::PolyBrowse => POLY_PAGE,
        }
    }

    /// How many different searches of this kind a tenant of `users` users allows.
    fn variety(self, users: usize) -> usize {
        match self {
            Kind::Exact | Kind::CallerId => users,
            Kind::Prefix | Kind::YealinkName => users / 10,
            Kind::PolyBrowse => users / 100,
        }
    }

    /// The `i`-th search's filter (`i` below `variety`).
    pub fn filter(self, i: usize) -> String {
        let stem = |n: usize, cut: usize| name(n)[..4 + DIGITS - cut].to_string();
        match self {
            Kind::Exact => format!("(cn={})", name(i)),
            Kind::Prefix => format!("(cn={}*)", stem(i * 10, 1)),
            Kind::YealinkName => {
                let typed = stem(i * 10, 1);
                format!("(|(cn={typed}*)(sn={typed}*))")
            }
            Kind::CallerId => {
                let number = caller_id(i);
                format!("(|(telephoneNumber={number})(mobile={number})(ipPhone={number}))")
            }
            Kind::PolyBrowse => {
                let typed = &surname(i * 100)[..4 + DIGITS - 2];
                format!("(&(objectClass=*)(sn>={typed})(sn<=zz)(sn={typed}*))")
            }
        }
    }

    /// Whether the search carries the paged results control (RFC 2696).
    pub fn paged(self) -> bool {
        self == Kind::PolyBrowse
    }

    /// Up to `most` filters of this kind spread over the tenant.
    pub fn filters(self, users: usize, most: usize) -> Vec<String> {
        let variety = self.variety(users).max(1);
        let step = (variety / most.min(variety)).max(1);
        (0..variety)
            .step_by(step)
            .take(most)
            .map(|i| self.filter(i))
            .collect()
    }
}

/// A search request as sent on the wire (message id 1: one operation at a time per
/// connection, RFC 4511 §4.1.1 allows reusing it once the previous one is done).
pub fn encode(filter: &str, paged: bool) -> Vec<u8> {
    // ldap3_proto's own parser, not the gateway's: the PDU is the same for both servers.
    let filter = ldap3_proto::parse_ldap_filter_str(filter)
        .unwrap_or_else(|e| panic!("benchmark filter {filter}: {e:?}"));
    let ctrl = if paged {
        vec![LdapControl::SimplePagedResults {
            size: POLY_PAGE as i64,
            cookie: Vec::new(),
        }]
    } else {
        Vec::new()
    };
    let msg = LdapMsg {
        msgid: 1,
        op: LdapOp::SearchRequest(LdapSearchRequest {
            base: BASE.to_string(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: ATTRS.iter().map(|a| a.to_string()).collect(),
        }),
        ctrl,
    };
    let mut buf = BytesMut::new();
    LdapCodec::default()
        .encode(msg, &mut buf)
        .expect("a search request encodes");
    buf.to_vec()
}
