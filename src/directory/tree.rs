//! The directory tree (CONTRACT §4): DN parsing and normalisation (RFC 4514), which
//! object a DN names, and the fixed entries (base, ou=users, ou=contacts, ou=groups). Owns DNs; it
//! does not talk to Graph and does not decide scopes of searches over Graph results.

use super::Collection;
use super::entry::Entry;
use super::group::GroupKey;
use super::matching;
use super::schema::{self, Equality};

/// One attribute-value assertion of an RDN: the type as written, the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    pub attr: String,
    pub value: String,
}

/// A relative distinguished name: one or more AVAs joined by `+`.
pub type Rdn = Vec<Ava>;

/// Parses an RFC 4514 DN string into RDNs, leftmost first. Accepts escapes (`\,`,
/// `\2c`, UTF-8 as `\c3\a9`), spaces around `=`, `,` and `+`, `;` as an RDN separator
/// and quoted values (RFC 1779 leniency, as OpenLDAP does); `#hex` values are kept as
/// written. The empty string is the empty DN.
pub fn parse_dn(dn: &str) -> Result<Vec<Rdn>, String> {
    let chars: Vec<char> = dn.chars().collect();
    let mut pos = 0;
    let mut rdns: Vec<Rdn> = Vec::new();
    let skip_spaces = |pos: &mut usize| {
        while *pos < chars.len() && chars[*pos] == ' ' {
            *pos += 1;
        }
    };
    skip_spaces(&mut pos);
    if pos == chars.len() {
        return Ok(rdns);
    }
    let mut rdn: Rdn = Vec::new();
    loop {
        // attribute type
        skip_spaces(&mut pos);
        let start = pos;
        while pos < chars.len() && chars[pos] != '=' && chars[pos] != ' ' {
            pos += 1;
        }
        let attr: String = chars[start..pos].iter().collect();
        skip_spaces(&mut pos);
        if pos >= chars.len() || chars[pos] != '=' {
            return Err(format!(
                "{attr:?} in DN {dn:?} is not attribute=value (missing '=')"
            ));
        }
        if !is_attribute_type(&attr) {
            return Err(format!("invalid attribute type {attr:?} in DN {dn:?}"));
        }
        pos += 1;
        skip_spaces(&mut pos);
        // attribute value
        let mut bytes: Vec<u8> = Vec::new();
        // length of `bytes` up to the last character that was escaped or non-space,
        // so unescaped trailing spaces are dropped (RFC 4514 §3).
        let mut significant = 0;
        if pos < chars.len() && chars[pos] == '"' {
            pos += 1;
            loop {
                match chars.get(pos) {
                    None => return Err(format!("unterminated quoted value in DN {dn:?}")),
                    Some('"') => {
                        pos += 1;
                        break;
                    }
                    Some('\\') => {
                        let c = chars
                            .get(pos + 1)
                            .ok_or_else(|| format!("dangling backslash in DN {dn:?}"))?;
                        push_char(&mut bytes, *c);
                        pos += 2;
                    }
                    Some(c) => {
                        push_char(&mut bytes, *c);
                        pos += 1;
                    }
                }
            }
            significant = bytes.len();
            skip_spaces(&mut pos);
        } else {
            while pos < chars.len() {
                let c = chars[pos];
                match c {
                    ',' | ';' | '+' => break,
                    '\\' => {
                        let next = chars
                            .get(pos + 1)
                            .ok_or_else(|| format!("dangling backslash in DN {dn:?}"))?;
                        let hex = chars
                            .get(pos + 2)
                            .filter(|_| next.is_ascii_hexdigit())
                            .and_then(|h2| {
                                let s: String = [*next, *h2].iter().collect();
                                u8::from_str_radix(&s, 16).ok()
                            });
                        if let Some(b) = hex {
                            bytes.push(b);
                            pos += 3;
                        } else if "\"+,;<>\\= #".contains(*next) || !next.is_ascii() {
                            push_char(&mut bytes, *next);
                            pos += 2;
                        } else {
                            return Err(format!("invalid escape \\{next} in DN {dn:?}"));
                        }
                        significant = bytes.len();
                    }
                    _ => {
                        push_char(&mut bytes, c);
                        if c != ' ' {
                            significant = bytes.len();
                        }
                        pos += 1;
                    }
                }
            }
        }
        bytes.truncate(significant);
        let value = String::from_utf8(bytes)
            .map_err(|_| format!("escaped value is not UTF-8 in DN {dn:?}"))?;
        rdn.push(Ava { attr, value });
        match chars.get(pos) {
            None => {
                rdns.push(rdn);
                return Ok(rdns);
            }
            Some('+') => pos += 1,
            Some(',') | Some(';') => {
                rdns.push(std::mem::take(&mut rdn));
                pos += 1;
            }
            Some(c) => return Err(format!("unexpected {c:?} in DN {dn:?}")),
        }
    }
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// RFC 4512 §1.4 `descr` or `numericoid`, optionally with options (`cn;lang-de`).
fn is_attribute_type(s: &str) -> bool {
    let base = s.split(';').next().unwrap_or("");
    let mut chars = base.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => base
            .split('.')
            .all(|arc| !arc.is_empty() && arc.chars().all(|c| c.is_ascii_digit())),
        _ => false,
    }
}

/// Escapes an attribute value for a DN string (RFC 4514 §2.4): `"+,;<>\` anywhere, `#`
/// and space at the start, space at the end, NUL as `\00`.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// The normalised key of one AVA: canonical lowercase type name, value prepared with
/// the attribute's equality rule (caseIgnore when the type is unknown).
fn normalize_ava(ava: &Ava) -> String {
    let at = schema::attribute(ava.attr.split(';').next().unwrap_or(""));
    let attr = at.map_or_else(
        || ava.attr.to_ascii_lowercase(),
        |a| a.name.to_ascii_lowercase(),
    );
    let value = match at.map(|a| a.equality) {
        Some(Equality::CaseExact) | Some(Equality::CaseExactIa5) | Some(Equality::OctetString) => {
            ava.value.clone()
        }
        Some(Equality::TelephoneNumber) => {
            matching::telephone_key(&ava.value).unwrap_or_else(|| ava.value.clone())
        }
        _ => matching::case_ignore_key(&ava.value),
    };
    format!("{attr}={}", escape_value(&value))
}

fn normalize_rdn(rdn: &Rdn) -> String {
    let mut avas: Vec<String> = rdn.iter().map(normalize_ava).collect();
    avas.sort();
    avas.join("+")
}

/// The normalised form of a DN (distinguishedNameMatch key), `None` when it is not a
/// valid DN.
pub fn normalize_dn(dn: &str) -> Option<String> {
    let rdns = parse_dn(dn).ok()?;
    Some(rdns.iter().map(normalize_rdn).collect::<Vec<_>>().join(","))
}

/// What a DN names in the gateway's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    RootDse,
    Subschema,
    Base,
    OrgUnit(Collection),
    /// A user or contact: its collection and the unescaped `uid` value
    /// (userPrincipalName for users, id for contacts).
    Object(Collection, String),
    /// `ou=groups` (CONTRACT §9; served only with `[groups] enabled`).
    GroupsOu,
    /// A group: `uid=<id>`, or the `cn=<displayName>` alias.
    Group(GroupKey),
    NoSuchObject,
}

/// The RDN value of the organizational unit that holds the groups.
pub const GROUPS_OU: &str = "groups";

/// The gateway's tree under the configured base DN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The base DN as served (types as configured, values re-escaped).
    base_dn: String,
    /// Normalised RDNs of the base, leftmost first.
    base_rdns: Vec<String>,
    /// The base entry's RDN attribute (`dc` or `o`) and value.
    base_attr: &'static schema::AttributeType,
    base_value: String,
}

/// The DN of the subschema subentry (CONTRACT §4).
pub const SUBSCHEMA_DN: &str = "cn=Subschema";

impl Tree {
    /// A tree rooted at `base_dn`, whose first RDN must be a single `dc=...` or `o=...`:
    /// the one parser of the configured base DN (`ldap.base_dn`).
    pub fn new(base_dn: &str) -> Result<Tree, String> {
        let rdns = parse_dn(base_dn)?;
        let first = rdns
            .first()
            .ok_or_else(|| "must not be empty".to_string())?;
        let [ava] = first.as_slice() else {
            return Err(format!(
                "{base_dn:?}: the first RDN must be a single dc=... or o=..., not a multi-valued one"
            ));
        };
        let at = schema::attribute(&ava.attr)
            .filter(|a| a.name == "dc" || a.name == "o")
            .ok_or_else(|| {
                format!(
                    "{base_dn:?} must start with dc= or o= (the base entry is a domain or an organization), e.g. dc=example,dc=com; not {}=",
                    ava.attr
                )
            })?;
        if ava.value.is_empty() {
            return Err(format!("{base_dn:?}: empty {} value", ava.attr));
        }
        let pretty = rdns
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|a| format!("{}={}", a.attr, escape_value(&a.value)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(",");
        Ok(Tree {
            base_dn: pretty,
            base_rdns: rdns.iter().map(normalize_rdn).collect(),
            base_attr: at,
            base_value: ava.value.clone(),
        })
    }

    /// The base DN as the gateway writes it.
    pub fn base_dn(&self) -> &str {
        &self.base_dn
    }

    /// `ou=users,<base>` or `ou=contacts,<base>`.
    pub fn ou_dn(&self, c: Collection) -> String {
        format!("ou={},{}", c.ou(), self.base_dn)
    }

    /// `uid=<escaped upn>,ou=users,<base>`.
    pub fn user_dn(&self, upn: &str) -> String {
        format!(
            "uid={},{}",
            escape_value(upn),
            self.ou_dn(Collection::Users)
        )
    }

    /// `uid=<escaped id>,ou=contacts,<base>`.
    pub fn contact_dn(&self, id: &str) -> String {
        format!(
            "uid={},{}",
            escape_value(id),
            self.ou_dn(Collection::Contacts)
        )
    }

    /// `ou=groups,<base>`.
    pub fn groups_ou_dn(&self) -> String {
        format!("ou={GROUPS_OU},{}", self.base_dn)
    }

    /// `uid=<escaped id>,ou=groups,<base>`.
    pub fn group_dn(&self, id: &str) -> String {
        format!("uid={},{}", escape_value(id), self.groups_ou_dn())
    }

    /// The DN of an object of a collection.
    pub fn object_dn(&self, c: Collection, key: &str) -> String {
        match c {
            Collection::Users => self.user_dn(key),
            Collection::Contacts => self.contact_dn(key),
        }
    }

    /// What `dn` names. An invalid DN, one outside the base, or one deeper than an
    /// object is `NoSuchObject`.
    pub fn resolve(&self, dn: &str) -> Target {
        let Ok(rdns) = parse_dn(dn) else {
            return Target::NoSuchObject;
        };
        if rdns.is_empty() {
            return Target::RootDse;
        }
        let normalized: Vec<String> = rdns.iter().map(normalize_rdn).collect();
        if normalized.len() == 1 && normalized[0] == "cn=subschema" {
            return Target::Subschema;
        }
        let Some(extra) = normalized.len().checked_sub(self.base_rdns.len()) else {
            return Target::NoSuchObject;
        };
        if normalized[extra..] != self.base_rdns[..] {
            return Target::NoSuchObject;
        }
        let collection_of = |rdn: &String| {
            [Collection::Users, Collection::Contacts]
                .into_iter()
                .find(|c| *rdn == format!("ou={}", c.ou()))
        };
        let groups_ou = format!("ou={GROUPS_OU}");
        match extra {
            0 => Target::Base,
            1 if normalized[0] == groups_ou => Target::GroupsOu,
            1 => collection_of(&normalized[0]).map_or(Target::NoSuchObject, Target::OrgUnit),
            2 if normalized[1] == groups_ou => match rdns[0].as_slice() {
                [ava] => match schema::attribute(&ava.attr).map(|a| a.name) {
                    Some("uid") => Target::Group(GroupKey::Id(ava.value.clone())),
                    Some("cn") => Target::Group(GroupKey::Name(ava.value.clone())),
                    _ => Target::NoSuchObject,
                },
                _ => Target::NoSuchObject,
            },
            2 => {
                let Some(c) = collection_of(&normalized[1]) else {
                    return Target::NoSuchObject;
                };
                match rdns[0].as_slice() {
                    [ava] if schema::attribute(&ava.attr).is_some_and(|a| a.name == "uid") => {
                        Target::Object(c, ava.value.clone())
                    }
                    _ => Target::NoSuchObject,
                }
            }
            _ => Target::NoSuchObject,
        }
    }

    /// distinguishedNameMatch of two DNs; false when either is invalid.
    pub fn is_dn_match(&self, a: &str, b: &str) -> bool {
        match (normalize_dn(a), normalize_dn(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        }
    }

    /// Adds the operational attributes every entry carries (CONTRACT §4).
    pub fn add_operational(&self, entry: &mut Entry, structural: &str, has_subordinates: bool) {
        let types = schema::entry_types();
        let dn = entry.dn.clone();
        entry.push(types.entry_dn, [dn]);
        entry.push(
            types.has_subordinates,
            [if has_subordinates { "TRUE" } else { "FALSE" }.to_string()],
        );
        entry.push(types.structural_object_class, [structural.to_string()]);
        entry.push(types.subschema_subentry, [SUBSCHEMA_DN.to_string()]);
    }

    /// The base entry: `top, domain` with `dc`, or `top, organization` with `o`.
    pub fn base_entry(&self) -> Entry {
        let mut entry = Entry::new(self.base_dn.clone());
        let structural = if self.base_attr.name == "dc" {
            "domain"
        } else {
            "organization"
        };
        push_named(
            &mut entry,
            "objectClass",
            vec!["top".to_string(), structural.to_string()],
        );
        entry.push(self.base_attr, vec![self.base_value.clone()]);
        self.add_operational(&mut entry, structural, true);
        entry
    }

    /// The root DSE (RFC 4512 §5.1, CONTRACT §4): readable anonymously, always. The LDAP
    /// edge passes the controls and extended operations it implements.
    pub fn root_dse_entry(
        &self,
        supported_controls: &[&str],
        supported_extensions: &[&str],
    ) -> Entry {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut entry = Entry::new("");
        push_named(&mut entry, "objectClass", vec!["top".to_string()]);
        push_named(&mut entry, "namingContexts", vec![self.base_dn.clone()]);
        push_named(&mut entry, "supportedLDAPVersion", vec!["3".to_string()]);
        push_named(&mut entry, "supportedControl", strings(supported_controls));
        push_named(
            &mut entry,
            "supportedExtension",
            strings(supported_extensions),
        );
        // RFC 3673 (`+` lists all operational attributes) and RFC 4526 (`(&)`, `(|)`).
        push_named(
            &mut entry,
            "supportedFeatures",
            vec![
                "1.3.6.1.4.1.4203.1.5.1".to_string(),
                "1.3.6.1.4.1.4203.1.5.3".to_string(),
            ],
        );
        push_named(
            &mut entry,
            "subschemaSubentry",
            vec![SUBSCHEMA_DN.to_string()],
        );
        push_named(
            &mut entry,
            "vendorName",
            vec!["ldap-graph-gateway".to_string()],
        );
        push_named(
            &mut entry,
            "vendorVersion",
            vec![env!("CARGO_PKG_VERSION").to_string()],
        );
        entry
    }

    /// `ou=users` or `ou=contacts`: `top, organizationalUnit` and `ou`.
    pub fn ou_entry(&self, c: Collection) -> Entry {
        self.org_unit(self.ou_dn(c), c.ou())
    }

    /// `ou=groups` (CONTRACT §9), like the other organizational units.
    pub fn groups_ou_entry(&self) -> Entry {
        self.org_unit(self.groups_ou_dn(), GROUPS_OU)
    }

    fn org_unit(&self, dn: String, ou: &str) -> Entry {
        let mut entry = Entry::new(dn);
        push_named(
            &mut entry,
            "objectClass",
            vec!["top".to_string(), "organizationalUnit".to_string()],
        );
        push_named(&mut entry, "ou", vec![ou.to_string()]);
        self.add_operational(&mut entry, "organizationalUnit", true);
        entry
    }
}

/// Pushes values to a schema attribute named by a constant of this module.
pub(crate) fn push_named(entry: &mut Entry, name: &str, values: Vec<String>) {
    if let Some(at) = schema::attribute(name) {
        entry.push(at, values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        Tree::new("dc=Example, dc=com").unwrap()
    }

    #[test]
    fn parses_escapes_and_spaces() {
        let rdns = parse_dn(r"uid = a\,b\2cc\+ , ou=users ,dc=x").unwrap();
        assert_eq!(rdns.len(), 3);
        assert_eq!(rdns[0][0].value, "a,b,c+");
        assert_eq!(rdns[0][0].attr, "uid");
        assert_eq!(rdns[1][0].value, "users");
        let utf8 = parse_dn(r"cn=Ren\c3\a9").unwrap();
        assert_eq!(utf8[0][0].value, "René");
        let multi = parse_dn("cn=a+sn=b,dc=x").unwrap();
        assert_eq!(multi[0].len(), 2);
        assert_eq!(parse_dn(r"cn=\ lead\ ").unwrap()[0][0].value, " lead ");
        assert_eq!(parse_dn("cn=\"a,b\"").unwrap()[0][0].value, "a,b");
        assert!(parse_dn("").unwrap().is_empty());
        assert!(parse_dn("cn").is_err());
        assert!(parse_dn("=x").is_err());
        assert!(parse_dn(r"cn=\ff").is_err());
        assert!(parse_dn(r"cn=a\").is_err());
    }

    #[test]
    fn escape_round_trips() {
        for v in [" a,b+c ", "#x", "a\\b\"c<d>;", "plain", "Müller"] {
            let dn = format!("cn={}", escape_value(v));
            assert_eq!(parse_dn(&dn).unwrap()[0][0].value, v, "{dn}");
        }
    }

    #[test]
    fn normalises_case_types_and_aliases() {
        assert_eq!(
            normalize_dn("CommonName=John  SMITH , DC=Example").unwrap(),
            "cn=john smith,dc=example"
        );
        let t = tree();
        assert!(t.is_dn_match(
            "uid=A@x.com,ou=Users,dc=example,dc=com",
            "UID=a@X.COM, ou=users, DC=EXAMPLE,DC=COM"
        ));
        assert!(t.is_dn_match("cn=a+sn=b", "sn=B+cn=A"));
        assert!(!t.is_dn_match("cn=a", "cn=b"));
        assert!(!t.is_dn_match("cn", "cn"));
    }

    #[test]
    fn builds_dns() {
        let t = tree();
        assert_eq!(t.base_dn(), "dc=Example,dc=com");
        assert_eq!(
            t.user_dn("a,b@x.com"),
            r"uid=a\,b@x.com,ou=users,dc=Example,dc=com"
        );
        assert_eq!(
            t.contact_dn("id-1"),
            "uid=id-1,ou=contacts,dc=Example,dc=com"
        );
    }

    #[test]
    fn resolves_groups_by_id_and_name() {
        let t = tree();
        assert_eq!(t.group_dn("g,1"), r"uid=g\,1,ou=groups,dc=Example,dc=com");
        assert_eq!(t.resolve("OU=Groups,dc=example,dc=com"), Target::GroupsOu);
        assert_eq!(
            t.resolve(r"uid=g\,1,ou=groups,dc=example,dc=com"),
            Target::Group(GroupKey::Id("g,1".into()))
        );
        assert_eq!(
            t.resolve(r"CN=Sales\2c EMEA,ou=groups,dc=example,dc=com"),
            Target::Group(GroupKey::Name("Sales, EMEA".into()))
        );
        assert_eq!(
            t.resolve("sn=x,ou=groups,dc=example,dc=com"),
            Target::NoSuchObject
        );
        let ou = t.groups_ou_entry();
        assert_eq!(ou.dn, "ou=groups,dc=Example,dc=com");
    }

    #[test]
    fn resolves_targets() {
        let t = tree();
        assert_eq!(t.resolve(""), Target::RootDse);
        assert_eq!(t.resolve("  "), Target::RootDse);
        assert_eq!(t.resolve("cn=subschema"), Target::Subschema);
        assert_eq!(t.resolve("CN=Subschema"), Target::Subschema);
        assert_eq!(t.resolve("dc=example,dc=com"), Target::Base);
        assert_eq!(
            t.resolve("ou=USERS,dc=example,dc=com"),
            Target::OrgUnit(Collection::Users)
        );
        assert_eq!(
            t.resolve("ou=contacts,dc=example,dc=com"),
            Target::OrgUnit(Collection::Contacts)
        );
        assert_eq!(
            t.resolve(r"uid=o\27brien\2c jr@x.com,ou=users,dc=example,dc=com"),
            Target::Object(Collection::Users, "o'brien, jr@x.com".to_string())
        );
        assert_eq!(
            t.resolve("userid=abc,ou=contacts,dc=example,dc=com"),
            Target::Object(Collection::Contacts, "abc".to_string())
        );
        assert_eq!(
            t.resolve("cn=abc,ou=contacts,dc=example,dc=com"),
            Target::NoSuchObject
        );
        assert_eq!(
            t.resolve("uid=a,uid=b,ou=users,dc=example,dc=com"),
            Target::NoSuchObject
        );
        // ou=groups is resolved (CONTRACT §9); `coverage` refuses it while groups are off.
        assert_eq!(
            t.resolve("ou=printers,dc=example,dc=com"),
            Target::NoSuchObject
        );
        assert_eq!(t.resolve("dc=com"), Target::NoSuchObject);
        assert_eq!(t.resolve("dc=other,dc=com"), Target::NoSuchObject);
        assert_eq!(
            t.resolve("uid=x,ou=users,dc=other,dc=com"),
            Target::NoSuchObject
        );
        assert_eq!(t.resolve("not a dn"), Target::NoSuchObject);
        let rt = t.resolve(&t.user_dn(" lead,+#x "));
        assert_eq!(
            rt,
            Target::Object(Collection::Users, " lead,+#x ".to_string())
        );
    }

    #[test]
    fn rejects_bad_bases() {
        assert!(Tree::new("").is_err());
        assert!(Tree::new("ou=x,dc=com").is_err());
        assert!(Tree::new("dc=a+o=b").is_err());
        assert!(Tree::new("o=Example Corp").is_ok());
    }

    #[test]
    fn root_dse() {
        let dse = tree().root_dse_entry(&["1.2.840.113556.1.4.319"], &["1.3.6.1.4.1.4203.1.11.3"]);
        let get = |n: &str| {
            dse.get(schema::attribute(n).unwrap())
                .map(<[String]>::to_vec)
        };
        assert_eq!(dse.dn, "");
        assert_eq!(get("namingContexts").unwrap(), ["dc=Example,dc=com"]);
        assert_eq!(get("supportedLDAPVersion").unwrap(), ["3"]);
        assert_eq!(get("supportedControl").unwrap(), ["1.2.840.113556.1.4.319"]);
        assert_eq!(
            get("supportedExtension").unwrap(),
            ["1.3.6.1.4.1.4203.1.11.3"]
        );
        assert_eq!(get("subschemaSubentry").unwrap(), ["cn=Subschema"]);
        assert_eq!(get("vendorName").unwrap(), ["ldap-graph-gateway"]);
        assert!(get("vendorVersion").is_some());
        // every root DSE attribute is operational: none is returned for `*`
        assert!(
            dse.attrs
                .iter()
                .all(|(a, _)| a.operational || a.name == "objectClass")
        );
    }

    #[test]
    fn fixed_entries() {
        let t = tree();
        let base = t.base_entry();
        let get = |e: &Entry, n: &str| e.get(schema::attribute(n).unwrap()).map(<[String]>::to_vec);
        assert_eq!(get(&base, "objectClass").unwrap(), ["top", "domain"]);
        assert_eq!(get(&base, "dc").unwrap(), ["Example"]);
        assert_eq!(get(&base, "entryDN").unwrap(), ["dc=Example,dc=com"]);
        assert_eq!(get(&base, "subschemaSubentry").unwrap(), ["cn=Subschema"]);
        let org = Tree::new("o=Acme").unwrap().base_entry();
        assert_eq!(get(&org, "objectClass").unwrap(), ["top", "organization"]);
        assert_eq!(get(&org, "o").unwrap(), ["Acme"]);
        let ou = t.ou_entry(Collection::Contacts);
        assert_eq!(ou.dn, "ou=contacts,dc=Example,dc=com");
        assert_eq!(get(&ou, "ou").unwrap(), ["contacts"]);
        assert_eq!(
            get(&ou, "structuralObjectClass").unwrap(),
            ["organizationalUnit"]
        );
        assert_eq!(get(&ou, "hasSubordinates").unwrap(), ["TRUE"]);
    }
}
