//! The Active Directory compatibility profile (`[compat] active_directory`, CONTRACT §9):
//! the AD attributes computed from Graph properties, AD's byte orders for objectGUID and
//! objectSid, the bitwise matching rules and ANR. Pure; it knows no Graph request or LDAP PDU.

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};
use serde_json::Value;

use super::Collection;
use super::mapping::{AttributeMapping, Source};
use super::matching;
use super::schema::{self, Equality};

/// An AD attribute the profile computes (CONTRACT §9, docs/configuration.md `[compat]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdAttribute {
    /// `CN=Person,CN=Schema,CN=Configuration,<base_dn>`: this DN, the same for every entry.
    ObjectCategory(String),
    /// 512 (NORMAL_ACCOUNT) when `accountEnabled` is true, 514 (also ACCOUNTDISABLE) when false.
    UserAccountControl,
    /// `id` as 16 bytes in AD's byte order (`guid_bytes`).
    ObjectGuid,
    /// `onPremisesSecurityIdentifier` as a binary SID (`sid_bytes`), when Graph has one.
    ObjectSid,
    /// The entry's own DN.
    DistinguishedName,
    /// `onPremisesSamAccountName`, else the part of `userPrincipalName` before the `@`.
    SamAccountName,
    /// `aNR`: never stored nor returned; a filter on it is rewritten (`anr_filter`).
    Anr,
}

/// userAccountControl flags (MS-ADTS 2.2.16): ACCOUNTDISABLE and NORMAL_ACCOUNT.
pub const UF_ACCOUNTDISABLE: u32 = 0x2;
pub const UF_NORMAL_ACCOUNT: u32 = 0x200;

/// The userAccountControl AD shows for an enabled or disabled ordinary user account.
pub fn user_account_control(enabled: bool) -> u32 {
    if enabled {
        UF_NORMAL_ACCOUNT
    } else {
        UF_NORMAL_ACCOUNT | UF_ACCOUNTDISABLE
    }
}

/// The attributes the profile adds to a collection's mapping. sAMAccountName replaces the
/// default `onPremisesSamAccountName|mailNickname` for users (the UPN's local part is what
/// people type at a login prompt that used to take their AD account name).
pub fn mappings(c: Collection, base_dn: &str) -> Vec<AttributeMapping> {
    let mut out = vec![(
        "objectCategory",
        AdAttribute::ObjectCategory(format!("CN=Person,CN=Schema,CN=Configuration,{base_dn}")),
    )];
    if c == Collection::Users {
        out.push(("userAccountControl", AdAttribute::UserAccountControl));
        out.push(("objectSid", AdAttribute::ObjectSid));
        out.push(("sAMAccountName", AdAttribute::SamAccountName));
    }
    out.push(("objectGUID", AdAttribute::ObjectGuid));
    out.push(("distinguishedName", AdAttribute::DistinguishedName));
    out.push(("aNR", AdAttribute::Anr));
    out.into_iter()
        .filter_map(|(name, ad)| {
            Some(AttributeMapping {
                attr: schema::attribute(name)?,
                source: Source::Ad(ad),
            })
        })
        .collect()
}

/// The attributes the profile adds to a group entry (CONTRACT §9): objectGUID,
/// objectCategory in its `CN=Group` form, distinguishedName.
pub fn group_attributes(base_dn: &str) -> Vec<(&'static str, AdAttribute)> {
    vec![
        ("objectGUID", AdAttribute::ObjectGuid),
        (
            "objectCategory",
            AdAttribute::ObjectCategory(format!("CN=Group,CN=Schema,CN=Configuration,{base_dn}")),
        ),
        ("distinguishedName", AdAttribute::DistinguishedName),
    ]
}

impl AdAttribute {
    /// The Graph properties this attribute is computed from (`$select`).
    pub fn graph_properties(&self) -> Vec<&'static str> {
        match self {
            AdAttribute::UserAccountControl => vec!["accountEnabled"],
            AdAttribute::ObjectSid => vec!["onPremisesSecurityIdentifier"],
            AdAttribute::SamAccountName => vec!["onPremisesSamAccountName", "userPrincipalName"],
            AdAttribute::ObjectGuid => vec!["id"],
            AdAttribute::ObjectCategory(_) | AdAttribute::DistinguishedName | AdAttribute::Anr => {
                Vec::new()
            }
        }
    }

    /// The values of this attribute for a Graph object whose entry has `dn`. Binary
    /// values are carried as `binary_text`.
    pub fn values(&self, obj: &Value, dn: &str) -> Vec<String> {
        let text = |p: &str| obj.get(p).and_then(Value::as_str).filter(|s| !s.is_empty());
        match self {
            AdAttribute::ObjectCategory(category) => vec![category.clone()],
            AdAttribute::UserAccountControl => obj
                .get("accountEnabled")
                .and_then(Value::as_bool)
                .map(|e| user_account_control(e).to_string())
                .into_iter()
                .collect(),
            AdAttribute::ObjectGuid => text("id")
                .and_then(guid_bytes)
                .map(|b| binary_text(&b))
                .into_iter()
                .collect(),
            AdAttribute::ObjectSid => text("onPremisesSecurityIdentifier")
                .and_then(sid_bytes)
                .map(|b| binary_text(&b))
                .into_iter()
                .collect(),
            AdAttribute::DistinguishedName => vec![dn.to_string()],
            AdAttribute::SamAccountName => text("onPremisesSamAccountName")
                .map(str::to_string)
                .or_else(|| {
                    text("userPrincipalName")
                        .and_then(|u| u.split('@').next())
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                })
                .into_iter()
                .collect(),
            AdAttribute::Anr => Vec::new(),
        }
    }
}

/// A GUID (`4a9e1a2b-0b8f-4c33-9d7e-1f2a3b4c5d6e`) as the 16 bytes AD stores in
/// objectGUID: the first three fields little-endian, the last two as written (the
/// Windows GUID structure, MS-DTYP 2.3.4). `None` for anything that is not a GUID.
pub fn guid_bytes(guid: &str) -> Option<[u8; 16]> {
    let hex: String = guid.chars().filter(|c| *c != '-').collect();
    let groups: Vec<&str> = guid.split('-').collect();
    if hex.len() != 32
        || groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12]
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let mut raw = [0u8; 16];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    raw[0..4].reverse();
    raw[4..6].reverse();
    raw[6..8].reverse();
    Some(raw)
}

/// The GUID text of AD-ordered objectGUID bytes (the inverse of `guid_bytes`).
pub fn guid_text(bytes: &[u8]) -> Option<String> {
    let mut raw: [u8; 16] = bytes.try_into().ok()?;
    raw[0..4].reverse();
    raw[4..6].reverse();
    raw[6..8].reverse();
    let h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A SID in its string form (`S-1-5-21-…-1104`) as the binary SID AD stores in objectSid
/// (MS-DTYP 2.4.2.2): revision, sub-authority count, the 48-bit authority big-endian,
/// then each sub-authority as 32 bits little-endian.
pub fn sid_bytes(sid: &str) -> Option<Vec<u8>> {
    let mut parts = sid
        .strip_prefix("S-")
        .or_else(|| sid.strip_prefix("s-"))?
        .split('-');
    let revision: u8 = parts.next()?.parse().ok()?;
    let authority: u64 = parts.next()?.parse().ok()?;
    if authority >= 1 << 48 {
        return None;
    }
    let subs = parts
        .map(|p| p.parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()?;
    if subs.is_empty() || subs.len() > 15 {
        return None;
    }
    let mut out = vec![revision, u8::try_from(subs.len()).ok()?];
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    for s in subs {
        out.extend_from_slice(&s.to_le_bytes());
    }
    Some(out)
}

/// Binary values travel inside the entry's `String`s one byte per char (U+0000..U+00FF);
/// `text_bytes` gives the bytes back for the wire (only for `AttributeType::is_binary`).
pub fn binary_text(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

/// The bytes of a `binary_text` value; a char above U+00FF (not made by `binary_text`)
/// is sent as its UTF-8 bytes.
pub fn text_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => out.push(b),
            Err(_) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// The byte strings (as `binary_text`) an assertion value on a binary attribute may stand
/// for. The PDU decoder (`ldap::codec`) reads an octet string that is not UTF-8 as
/// Latin-1, one char per byte — the carrier itself — and a UTF-8 one as its text, whose
/// bytes are the UTF-8 encoding. Text of chars up to U+00FF with some above U+007F can
/// come from either, so both are candidates; their lengths differ, so a 16-byte objectGUID
/// or a SID matches at most one of them.
pub fn binary_assertions(assertion: &str) -> Vec<String> {
    let utf8 = binary_text(assertion.as_bytes());
    let mut out = vec![utf8];
    if assertion.chars().all(|c| u32::from(c) <= 0xFF) && out[0] != assertion {
        out.push(assertion.to_string());
    }
    out
}

/// The two bitwise matching rules of AD (MS-ADTS 3.1.1.3.4.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bitwise {
    /// LDAP_MATCHING_RULE_BIT_AND, 1.2.840.113556.1.4.803: every asserted bit is set.
    And,
    /// LDAP_MATCHING_RULE_BIT_OR, 1.2.840.113556.1.4.804: some asserted bit is set.
    Or,
}

impl Bitwise {
    /// The rule named by an extensible match's OID.
    pub fn from_oid(oid: &str) -> Option<Bitwise> {
        match oid.trim() {
            "1.2.840.113556.1.4.803" => Some(Bitwise::And),
            "1.2.840.113556.1.4.804" => Some(Bitwise::Or),
            _ => None,
        }
    }

    /// The rule on one integer value; `None` (Undefined) when either is not an integer.
    /// AD compares the values as 64-bit integers; negative ones (a 32-bit flag word
    /// written signed, `-2147483648`) keep their two's-complement bits.
    pub fn matches(self, value: &str, assertion: &str) -> Option<bool> {
        let v = parse_integer(value)?;
        let a = parse_integer(assertion)?;
        Some(match self {
            Bitwise::And => v & a == a,
            Bitwise::Or => v & a != 0,
        })
    }
}

fn parse_integer(s: &str) -> Option<i64> {
    let s = s.trim();
    if !matching::assertion_is_valid(Equality::Integer, s) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// AD's objectCategory equality (MS-ADTS 3.1.1.3.1.3.3): an assertion that is not a DN
/// names a class by its lDAPDisplayName and stands for that class's
/// defaultObjectCategory — `person`, `user`, `organizationalPerson`, `inetOrgPerson` and
/// `contact` all default to CN=Person (MS-ADSC), so Jenkins' `(objectCategory=User)` and
/// GLPI's `(objectCategory=person)` both match a user; a DN is compared as a DN.
pub fn object_category_matches(value: &str, assertion: &str) -> Option<bool> {
    let a = assertion.trim();
    if !a.contains('=') {
        let first = value.split(',').next()?;
        let cn = first.split_once('=').map(|(_, v)| v.trim())?;
        return Some(!a.is_empty() && cn.eq_ignore_ascii_case(default_object_category(a)));
    }
    matching::equality_match(Equality::DistinguishedName, value, a)
}

/// The CN of a class's defaultObjectCategory (MS-ADSC), for the classes the gateway serves.
fn default_object_category(class: &str) -> &str {
    const PERSON: &[&str] = &[
        "person",
        "organizationalPerson",
        "user",
        "inetOrgPerson",
        "contact",
    ];
    if PERSON.iter().any(|c| c.eq_ignore_ascii_case(class)) {
        "Person"
    } else {
        class
    }
}

/// The attributes ANR searches (CONTRACT §9), each as a prefix match.
pub const ANR_ATTRIBUTES: &[&str] = &[
    "cn",
    "givenName",
    "sn",
    "displayName",
    "mail",
    "sAMAccountName",
];

/// `(anr=value)` rewritten as MS-ADTS 3.1.1.3.1.3.4 does, over `ANR_ATTRIBUTES`: an OR of
/// `(A=value*)`; when the value holds a space, also `(&(givenName=first*)(sn=rest*))` and
/// `(&(givenName=rest*)(sn=first*))` split at the first space; a value starting with `=`
/// asks for equality instead of a prefix. An empty value matches nothing.
pub fn anr_filter(value: &str) -> LdapFilter {
    let (exact, v) = match value.strip_prefix('=') {
        Some(rest) => (true, rest.trim()),
        None => (false, value.trim()),
    };
    if v.is_empty() {
        return LdapFilter::Or(Vec::new());
    }
    let item = |attr: &str, text: &str| {
        if exact {
            LdapFilter::Equality(attr.to_string(), text.to_string())
        } else {
            LdapFilter::Substring(
                attr.to_string(),
                LdapSubstringFilter {
                    initial: Some(text.to_string()),
                    any: Vec::new(),
                    final_: None,
                },
            )
        }
    };
    let mut alternatives: Vec<LdapFilter> = ANR_ATTRIBUTES.iter().map(|a| item(a, v)).collect();
    if let Some((first, rest)) = v.split_once(' ') {
        let (first, rest) = (first.trim(), rest.trim());
        if !first.is_empty() && !rest.is_empty() {
            alternatives.push(LdapFilter::And(vec![
                item("givenName", first),
                item("sn", rest),
            ]));
            alternatives.push(LdapFilter::And(vec![
                item("givenName", rest),
                item("sn", first),
            ]));
        }
    }
    LdapFilter::Or(alternatives)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::filter::filter_to_string;
    use crate::directory::needed::Needed;
    use serde_json::json;

    #[test]
    fn guid_bytes_use_ads_byte_order_and_round_trip() {
        // MS-DTYP 2.3.4.2: {00112233-4455-6677-8899-AABBCCDDEEFF} is stored as
        // 33 22 11 00 55 44 77 66 88 99 AA BB CC DD EE FF.
        let b = guid_bytes("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(
            b,
            [
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        assert_eq!(
            guid_text(&b).unwrap(),
            "00112233-4455-6677-8899-aabbccddeeff"
        );
        assert!(guid_bytes("not-a-guid").is_none());
        assert!(guid_bytes("0011223-34455-6677-8899-aabbccddeeff").is_none());
        assert!(guid_text(&b[..15]).is_none());
    }

    #[test]
    fn sid_bytes_follow_ms_dtyp() {
        // S-1-5-32-544 (BUILTIN\Administrators): 01 02 00 00 00 00 00 05 20 00 00 00 20 02 00 00
        assert_eq!(
            sid_bytes("S-1-5-32-544").unwrap(),
            [1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 0x02, 0, 0]
        );
        let domain = sid_bytes("S-1-5-21-3623811015-3361044348-30300820-1013").unwrap();
        assert_eq!(domain.len(), 8 + 5 * 4);
        assert_eq!(&domain[24..], 1013u32.to_le_bytes());
        assert!(sid_bytes("S-1-5").is_none());
        assert!(sid_bytes("X-1-5-21").is_none());
        assert!(sid_bytes("S-1-5-21-x").is_none());
    }

    #[test]
    fn binary_values_survive_the_text_carrier() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(text_bytes(&binary_text(&bytes)), bytes);
        // A filter's `\33\22` escapes arrive as the UTF-8 text of those bytes; bytes that
        // are not UTF-8 (`\91\1c`) arrive as Latin-1 text, one char per byte.
        assert_eq!(
            binary_assertions("\u{33}\u{22}"),
            [binary_text(&[0x33, 0x22])]
        );
        assert_eq!(
            binary_assertions("\u{91}\u{1c}"),
            [binary_text(&[0xc2, 0x91, 0x1c]), binary_text(&[0x91, 0x1c])]
        );
    }

    #[test]
    fn bitwise_rules_are_ads() {
        assert_eq!(Bitwise::And.matches("514", "2"), Some(true));
        assert_eq!(Bitwise::And.matches("512", "2"), Some(false));
        assert_eq!(Bitwise::And.matches("514", "514"), Some(true));
        assert_eq!(Bitwise::And.matches("514", "516"), Some(false));
        assert_eq!(Bitwise::Or.matches("512", "514"), Some(true));
        assert_eq!(Bitwise::Or.matches("512", "2"), Some(false));
        assert_eq!(Bitwise::And.matches("512", "0"), Some(true));
        assert_eq!(Bitwise::Or.matches("512", "0"), Some(false));
        assert_eq!(Bitwise::And.matches("512", "two"), None);
        assert_eq!(
            Bitwise::from_oid("1.2.840.113556.1.4.803"),
            Some(Bitwise::And)
        );
        assert_eq!(
            Bitwise::from_oid("1.2.840.113556.1.4.804"),
            Some(Bitwise::Or)
        );
        assert_eq!(Bitwise::from_oid("1.2.840.113556.1.4.1941"), None);
    }

    #[test]
    fn object_category_takes_the_class_name_or_the_dn() {
        let v = "CN=Person,CN=Schema,CN=Configuration,dc=example,dc=com";
        assert_eq!(object_category_matches(v, "person"), Some(true));
        assert_eq!(object_category_matches(v, "Person"), Some(true));
        assert_eq!(object_category_matches(v, "group"), Some(false));
        assert_eq!(object_category_matches(v, "User"), Some(true));
        assert_eq!(object_category_matches(v, "inetOrgPerson"), Some(true));
        assert_eq!(object_category_matches(v, "computer"), Some(false));
        assert_eq!(object_category_matches(v, ""), Some(false));
        assert_eq!(
            object_category_matches(v, "cn=person,cn=schema,cn=configuration,DC=Example,dc=com"),
            Some(true)
        );
        assert_eq!(
            object_category_matches(v, "CN=Group,CN=Schema,CN=Configuration,dc=example,dc=com"),
            Some(false)
        );
    }

    #[test]
    fn anr_rewrites_as_ms_adts_says() {
        assert_eq!(
            filter_to_string(&anr_filter("Adele")),
            "(|(cn=Adele*)(givenName=Adele*)(sn=Adele*)(displayName=Adele*)(mail=Adele*)(sAMAccountName=Adele*))"
        );
        let two = filter_to_string(&anr_filter("Adele Va"));
        assert!(
            two.ends_with("(&(givenName=Adele*)(sn=Va*))(&(givenName=Va*)(sn=Adele*)))"),
            "{two}"
        );
        assert_eq!(
            filter_to_string(&anr_filter("=AdeleV")),
            "(|(cn=AdeleV)(givenName=AdeleV)(sn=AdeleV)(displayName=AdeleV)(mail=AdeleV)(sAMAccountName=AdeleV))"
        );
        assert_eq!(filter_to_string(&anr_filter(" ")), "(|)");
    }

    #[test]
    fn values_come_from_graph_properties() {
        let user = json!({
            "id": "00112233-4455-6677-8899-aabbccddeeff",
            "userPrincipalName": "adele.vance@contoso.com",
            "accountEnabled": false,
            "onPremisesSecurityIdentifier": "S-1-5-32-544",
            "onPremisesSamAccountName": null
        });
        let dn = "uid=adele.vance@contoso.com,ou=users,dc=example,dc=com";
        assert_eq!(AdAttribute::UserAccountControl.values(&user, dn), ["514"]);
        assert_eq!(
            AdAttribute::SamAccountName.values(&user, dn),
            ["adele.vance"]
        );
        assert_eq!(AdAttribute::DistinguishedName.values(&user, dn), [dn]);
        let guid = AdAttribute::ObjectGuid.values(&user, dn);
        assert_eq!(text_bytes(&guid[0])[0], 0x33);
        assert_eq!(
            text_bytes(&AdAttribute::ObjectSid.values(&user, dn)[0]).len(),
            16
        );
        let mut synced = user.clone();
        synced["onPremisesSamAccountName"] = json!("avance");
        synced["accountEnabled"] = json!(true);
        assert_eq!(AdAttribute::SamAccountName.values(&synced, dn), ["avance"]);
        assert_eq!(AdAttribute::UserAccountControl.values(&synced, dn), ["512"]);
        synced["accountEnabled"] = Value::Null;
        assert!(
            AdAttribute::UserAccountControl
                .values(&synced, dn)
                .is_empty()
        );
        assert!(AdAttribute::Anr.values(&synced, dn).is_empty());
    }

    #[test]
    fn filters_evaluate_the_ad_attributes_locally() {
        use crate::directory::filter::{MatchContext, Tri, evaluate, parse_filter};
        use crate::directory::mapping::Mapping;
        use crate::directory::phone::{PhoneMatch, PhoneRules};
        use crate::directory::tree::Tree;
        let tree = Tree::new("dc=example,dc=com").unwrap();
        let ad = Mapping::configured(&[], &[], Some("dc=example,dc=com"));
        let plain = Mapping::default_mapping();
        let rules = PhoneRules::new(PhoneMatch::E164, "US").unwrap();
        let user = |enabled: bool| {
            json!({
                "id": "00112233-4455-6677-1122-334455667711",
                "userPrincipalName": "adele.vance@contoso.com",
                "displayName": "Adele Vance", "givenName": "Adele", "surname": "Vance",
                "accountEnabled": enabled
            })
        };
        let eval = |m: &Mapping, obj: &Value, f: &str| {
            let e = m
                .to_entry(Collection::Users, obj, &tree, &Needed::All)
                .unwrap();
            let ctx = MatchContext {
                phone: &rules,
                mapping: m,
                memberships: None,
            };
            evaluate(&parse_filter(f).unwrap(), &e, &ctx)
        };
        let preset = "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";
        assert_eq!(eval(&ad, &user(true), preset), Tri::True);
        assert_eq!(eval(&ad, &user(false), preset), Tri::False);
        // Without the profile, the names and the rule are unknown: Undefined, as in slapd.
        assert_eq!(eval(&plain, &user(true), preset), Tri::Undefined);
        assert_eq!(
            eval(
                &plain,
                &user(true),
                "(userPrincipalName:1.2.840.113556.1.4.803:=2)"
            ),
            Tri::Undefined
        );
        assert_eq!(
            eval(
                &ad,
                &user(false),
                "(userAccountControl:1.2.840.113556.1.4.804:=3)"
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                &ad,
                &user(true),
                "(userAccountControl:1.2.840.113556.1.4.803:=x)"
            ),
            Tri::Undefined
        );
        // The rule needs an INTEGER attribute.
        assert_eq!(
            eval(&ad, &user(true), "(cn:1.2.840.113556.1.4.803:=2)"),
            Tri::Undefined
        );
        assert_eq!(
            eval(&ad, &user(true), "(userAccountControl=512)"),
            Tri::True
        );
        assert_eq!(
            eval(&ad, &user(true), "(userAccountControl>=513)"),
            Tri::False
        );
        assert_eq!(eval(&ad, &user(true), "(objectCategory=Person)"), Tri::True);
        assert_eq!(eval(&ad, &user(true), "(objectCategory=group)"), Tri::False);
        assert_eq!(
            eval(&ad, &user(true), "(sAMAccountName=ADELE.vance)"),
            Tri::True
        );
        assert_eq!(eval(&ad, &user(true), "(anr=vanc)"), Tri::True);
        assert_eq!(eval(&ad, &user(true), "(anr=Adele V)"), Tri::True);
        assert_eq!(eval(&ad, &user(true), "(anr=Vance Ad)"), Tri::True);
        assert_eq!(eval(&ad, &user(true), "(anr=ance)"), Tri::False);
        assert_eq!(eval(&ad, &user(true), "(anr=Ad*)"), Tri::True);
        assert_eq!(eval(&plain, &user(true), "(anr=Adele)"), Tri::Undefined);
        assert_eq!(
            eval(
                &ad,
                &user(true),
                "(distinguishedName=UID=adele.vance@contoso.com,ou=users,dc=example,dc=com)"
            ),
            Tri::True
        );
        // objectGUID in AD's byte order, as `\xx` escapes.
        let escaped: String = guid_bytes("00112233-4455-6677-1122-334455667711")
            .unwrap()
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect();
        assert_eq!(
            eval(&ad, &user(true), &format!("(objectGUID={escaped})")),
            Tri::True
        );
        assert_eq!(eval(&ad, &user(true), "(objectGUID=\\00)"), Tri::False);
        assert_eq!(eval(&ad, &user(true), "(objectGUID=*)"), Tri::True);
        assert_eq!(eval(&ad, &user(true), "(objectSid=*)"), Tri::False);
    }
}
