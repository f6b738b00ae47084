//! The mapping from Graph users and organizational contacts to LDAP attributes
//! (CONTRACT §5), configurable per attribute. Owns `$select` lists and which Graph
//! property backs an LDAP attribute; it does not decide what Graph can filter (translate).

use serde_json::Value;

use super::Collection;
use super::compat::{self, AdAttribute};
use super::entry::Entry;
use super::needed::Needed;
use super::schema::{self, AttributeType};
use super::tree::Tree;

/// Where an LDAP attribute's values come from in a Graph object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A string or string-collection property; every non-empty value.
    Property(String),
    /// The first of these properties that has a non-empty value (sAMAccountName).
    FirstOf(Vec<String>),
    /// orgContact `phones[]` entries of this `type`, their `number`.
    ContactPhone(String),
    /// A field of the first element of orgContact `addresses`.
    ContactAddress(String),
    /// An attribute of the Active Directory profile, computed (CONTRACT §9).
    Ad(AdAttribute),
}

/// One LDAP attribute and its Graph source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMapping {
    pub attr: &'static AttributeType,
    pub source: Source,
}

/// The mapping for both collections.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub users: Vec<AttributeMapping>,
    pub contacts: Vec<AttributeMapping>,
}

impl Mapping {
    /// Whether `at` is a known type (CONTRACT §6): standard, mapped by default, or an
    /// AD-style type (`ipPhone`) that this mapping serves in either collection.
    pub fn knows(&self, at: &AttributeType) -> bool {
        at.always_known()
            || [Collection::Users, Collection::Contacts].iter().any(|c| {
                self.for_collection(*c)
                    .iter()
                    .any(|m| std::ptr::eq(m.attr, at))
            })
    }

    /// The mappings of one collection.
    pub fn for_collection(&self, c: Collection) -> &[AttributeMapping] {
        match c {
            Collection::Users => &self.users,
            Collection::Contacts => &self.contacts,
        }
    }

    /// The sources of an LDAP attribute type in a collection (empty when unmapped).
    pub fn sources(&self, c: Collection, at: &AttributeType) -> Vec<&Source> {
        self.for_collection(c)
            .iter()
            .filter(|m| std::ptr::eq(m.attr, at))
            .map(|m| &m.source)
            .collect()
    }
}

/// The default mapping of users (CONTRACT §5).
const DEFAULT_USERS: &[(&str, &str)] = &[
    ("uid", "userPrincipalName"),
    ("userPrincipalName", "userPrincipalName"),
    ("cn", "displayName"),
    ("displayName", "displayName"),
    ("givenName", "givenName"),
    ("sn", "surname"),
    ("mail", "mail"),
    ("telephoneNumber", "businessPhones"),
    ("mobile", "mobilePhone"),
    ("facsimileTelephoneNumber", "faxNumber"),
    ("title", "jobTitle"),
    ("department", "department"),
    ("company", "companyName"),
    ("o", "companyName"),
    ("physicalDeliveryOfficeName", "officeLocation"),
    ("street", "streetAddress"),
    ("l", "city"),
    ("st", "state"),
    ("postalCode", "postalCode"),
    ("co", "country"),
    ("employeeNumber", "employeeId"),
    ("preferredLanguage", "preferredLanguage"),
    ("sAMAccountName", "onPremisesSamAccountName|mailNickname"),
    ("entryUUID", "id"),
];

/// The default mapping of organizational contacts (CONTRACT §5).
const DEFAULT_CONTACTS: &[(&str, &str)] = &[
    ("uid", "id"),
    ("cn", "displayName"),
    ("displayName", "displayName"),
    ("givenName", "givenName"),
    ("sn", "surname"),
    ("mail", "mail"),
    ("title", "jobTitle"),
    ("department", "department"),
    ("company", "companyName"),
    ("o", "companyName"),
    ("telephoneNumber", "phones:business"),
    ("mobile", "phones:mobile"),
    ("facsimileTelephoneNumber", "phones:businessFax"),
    ("homePhone", "phones:home"),
    ("street", "addresses:street"),
    ("l", "addresses:city"),
    ("st", "addresses:state"),
    ("postalCode", "addresses:postalCode"),
    ("co", "addresses:countryOrRegion"),
    ("entryUUID", "id"),
];

/// Attributes the mapping may not change: the RDN and the identity (CONTRACT §4-§5).
const FIXED_ATTRIBUTES: &[&str] = &["uid", "entryUUID", "objectClass"];

impl Source {
    /// Parses a configured source: `prop`, `prop1|prop2` (first non-empty),
    /// `phones:<type>` and `addresses:<field>` (organizational contacts). A property may
    /// be a path into a complex property (`onPremisesExtensionAttributes/extensionAttribute1`)
    /// or a directory extension (`extension_<appid>_<name>`).
    pub fn parse(spec: &str) -> Result<Source, String> {
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '.')
        };
        let valid_name = |s: &str| s.split('/').all(valid_segment);
        let spec = spec.trim();
        let check = |s: &str| -> Result<String, String> {
            if valid_name(s) {
                Ok(s.to_string())
            } else {
                Err(format!("invalid Graph property name {s:?}"))
            }
        };
        if let Some(t) = spec.strip_prefix("phones:") {
            return Ok(Source::ContactPhone(check(t)?));
        }
        if let Some(f) = spec.strip_prefix("addresses:") {
            return Ok(Source::ContactAddress(check(f)?));
        }
        if spec.contains('|') {
            let props = spec
                .split('|')
                .map(|p| check(p.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Source::FirstOf(props));
        }
        Ok(Source::Property(check(spec)?))
    }

    /// The Graph properties to `$select` for this source: the top-level property of a
    /// path (Graph's `$select` names properties, not their members).
    pub fn graph_properties(&self) -> Vec<&str> {
        fn top(p: &str) -> &str {
            p.split('/').next().unwrap_or(p)
        }
        match self {
            Source::Property(p) => vec![top(p)],
            Source::FirstOf(ps) => ps.iter().map(|p| top(p)).collect(),
            Source::ContactPhone(_) => vec!["phones"],
            Source::ContactAddress(_) => vec!["addresses"],
            Source::Ad(ad) => ad.graph_properties(),
        }
    }

    /// The values of this source in the entry whose DN is `dn` (`values`, plus the AD
    /// attributes that depend on the entry, such as distinguishedName).
    pub fn entry_values(&self, obj: &Value, dn: &str) -> Vec<String> {
        match self {
            Source::Ad(ad) => ad.values(obj, dn),
            _ => self.values(obj),
        }
    }

    /// The values of this source in a Graph object: every non-empty string (numbers and
    /// booleans as JSON writes them); collections give every value.
    pub fn values(&self, obj: &Value) -> Vec<String> {
        match self {
            Source::Property(p) => json_values(member(obj, p)),
            Source::FirstOf(ps) => ps
                .iter()
                .map(|p| json_values(member(obj, p)))
                .find(|v| !v.is_empty())
                .unwrap_or_default(),
            Source::ContactPhone(kind) => obj
                .get("phones")
                .and_then(Value::as_array)
                .map(|phones| {
                    phones
                        .iter()
                        .filter(|p| {
                            p.get("type")
                                .and_then(Value::as_str)
                                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                        })
                        .flat_map(|p| json_values(p.get("number")))
                        .collect()
                })
                .unwrap_or_default(),
            Source::ContactAddress(field) => obj
                .get("addresses")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .map(|address| json_values(address.get(field)))
                .unwrap_or_default(),
            Source::Ad(ad) => ad.values(obj, ""),
        }
    }
}

/// A property, or a member of a complex property named by a `/` path.
fn member<'v>(obj: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('/').try_fold(obj, |v, segment| v.get(segment))
}

fn json_values(v: Option<&Value>) -> Vec<String> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(if *b { "TRUE" } else { "FALSE" }.to_string()),
            _ => None,
        }
    }
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn build(table: &[(&str, &str)]) -> Result<Vec<AttributeMapping>, String> {
    table
        .iter()
        .map(|(attr, spec)| {
            let at = schema::attribute(attr)
                .ok_or_else(|| format!("unknown LDAP attribute {attr:?} in mapping"))?;
            Ok(AttributeMapping {
                attr: at,
                source: Source::parse(spec)?,
            })
        })
        .collect()
}

/// One configured change of the default mapping: an LDAP attribute and its new source,
/// or `None` to drop the attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub attr: &'static AttributeType,
    pub source: Option<Source>,
}

impl Override {
    /// Parses `ldapAttr = "source"` of `[mapping.users]` or `[mapping.contacts]`: the
    /// attribute may be remapped (not `uid`, `entryUUID`, `objectClass` or an operational
    /// one); a name the built-in schema does not know is declared as a Directory String
    /// with caseIgnore rules unless `[mapping.types]` declared it first
    /// (`schema::declare`). The source is `Source::parse`'s, and an empty one drops the
    /// attribute.
    pub fn parse(name: &str, spec: &str) -> Result<Override, String> {
        let name = name.trim();
        let at = match schema::attribute(name) {
            Some(at) => at,
            None => schema::declare(name, schema::DeclaredSyntax::DirectoryString)?,
        };
        if FIXED_ATTRIBUTES.contains(&at.name)
            || (at.operational && at.name != "entryUUID")
            || at.origin == schema::Origin::AdCompat
        {
            return Err(format!(
                "{name:?} cannot be remapped: it is fixed by the directory tree"
            ));
        }
        let source = if spec.trim().is_empty() {
            None
        } else {
            Some(Source::parse(spec)?)
        };
        Ok(Override { attr: at, source })
    }
}

fn apply_overrides(base: &mut Vec<AttributeMapping>, overrides: &[Override]) {
    for o in overrides {
        base.retain(|m| !std::ptr::eq(m.attr, o.attr));
        if let Some(source) = &o.source {
            base.push(AttributeMapping {
                attr: o.attr,
                source: source.clone(),
            });
        }
    }
}

impl Mapping {
    /// The default mapping of CONTRACT §5.
    pub fn default_mapping() -> Mapping {
        // The default tables only name known attributes and valid sources (tested).
        Mapping {
            users: build(DEFAULT_USERS).unwrap_or_default(),
            contacts: build(DEFAULT_CONTACTS).unwrap_or_default(),
        }
    }

    /// The default mapping changed by configured overrides: LDAP attribute name → Graph
    /// source (`prop`, `a|b`, `phones:<type>`, `addresses:<field>`); an empty source
    /// drops the attribute. Unknown LDAP attribute names, and `uid`, `entryUUID`,
    /// `objectClass`, are errors.
    pub fn with_overrides(
        users: &[(String, String)],
        contacts: &[(String, String)],
    ) -> Result<Mapping, String> {
        let parse = |table: &[(String, String)], collection: &str| {
            table
                .iter()
                .map(|(name, spec)| {
                    Override::parse(name, spec).map_err(|e| format!("[mapping.{collection}] {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Mapping::with_parsed_overrides(
            &parse(users, "users")?,
            &parse(contacts, "contacts")?,
        ))
    }

    /// The default mapping changed by overrides already parsed (`Override::parse`),
    /// applied in order.
    pub fn with_parsed_overrides(users: &[Override], contacts: &[Override]) -> Mapping {
        Mapping::configured(users, contacts, None)
    }

    /// The configured mapping: the default one, then (with `[compat] active_directory`,
    /// `ad_base_dn` being the base DN) the attributes of the AD profile (CONTRACT §9),
    /// then the overrides in order.
    pub fn configured(
        users: &[Override],
        contacts: &[Override],
        ad_base_dn: Option<&str>,
    ) -> Mapping {
        let mut mapping = Mapping::default_mapping();
        if let Some(base_dn) = ad_base_dn {
            for c in [Collection::Users, Collection::Contacts] {
                let added = compat::mappings(c, base_dn);
                let table = match c {
                    Collection::Users => &mut mapping.users,
                    Collection::Contacts => &mut mapping.contacts,
                };
                table.retain(|m| !added.iter().any(|a| std::ptr::eq(a.attr, m.attr)));
                table.extend(added);
            }
        }
        apply_overrides(&mut mapping.users, users);
        apply_overrides(&mut mapping.contacts, contacts);
        mapping
    }

    /// Whether the AD profile is on (`[compat] active_directory`).
    pub fn active_directory(&self) -> bool {
        self.users
            .iter()
            .any(|m| matches!(m.source, Source::Ad(AdAttribute::Anr)))
    }

    /// Graph properties for `$select`: always `id` (and `userPrincipalName` for users),
    /// then every mapped property, each once.
    pub fn select(&self, c: Collection) -> Vec<String> {
        let mut out: Vec<String> = vec!["id".to_string()];
        if c == Collection::Users {
            out.push("userPrincipalName".to_string());
        }
        for m in self.for_collection(c) {
            for p in m.source.graph_properties() {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
        out
    }

    /// The LDAP entry of a Graph object: objectClass (CONTRACT §5), the mapped attributes
    /// the search needs that have values, and the operational attributes of §4. `None`
    /// when the object lacks its key (`userPrincipalName` for users, `id` for contacts).
    pub fn to_entry(
        &self,
        c: Collection,
        obj: &Value,
        tree: &Tree,
        needed: &Needed,
    ) -> Option<Entry> {
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let key = match c {
            Collection::Users => obj
                .get("userPrincipalName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())?,
            Collection::Contacts => id?,
        };
        let mut entry = Entry::new(tree.object_dn(c, key));
        let auxiliary = match c {
            Collection::Users => "user",
            Collection::Contacts => "contact",
        };
        let types = schema::entry_types();
        entry.push(
            types.object_class,
            [
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                auxiliary,
            ]
            .map(String::from),
        );
        // The RDN value is always present, whatever the mapping says (CONTRACT §8:
        // every DN the gateway returns reads back).
        entry.push(types.uid, [key.to_string()]);
        let dn = entry.dn.clone();
        for m in self
            .for_collection(c)
            .iter()
            .filter(|m| needed.wants(m.attr))
        {
            entry.push(m.attr, m.source.entry_values(obj, &dn));
        }
        if let Some(id) = id {
            entry.push(types.entry_uuid, [id.to_string()]);
        }
        tree.add_operational(&mut entry, "inetOrgPerson", false);
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree() -> Tree {
        Tree::new("dc=example,dc=com").unwrap()
    }

    fn values(e: &Entry, name: &str) -> Vec<String> {
        e.get(schema::attribute(name).unwrap())
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }

    fn graph_user() -> Value {
        json!({
            "id": "4a9e1a2b-0b8f-4c33-9d7e-1f2a3b4c5d6e",
            "userPrincipalName": "adele.vance@contoso.com",
            "displayName": "Adele Vance",
            "givenName": "Adele",
            "surname": "Vance",
            "mail": "AdeleV@contoso.com",
            "businessPhones": ["+1 425 555 0109", "+1 425 555 0110"],
            "mobilePhone": null,
            "faxNumber": "",
            "jobTitle": "Retail Manager",
            "department": "Retail",
            "companyName": "Contoso",
            "officeLocation": "18/2111",
            "streetAddress": "205 108th Ave NE",
            "city": "Bellevue",
            "state": "WA",
            "postalCode": "98004",
            "country": "United States",
            "employeeId": "12345",
            "preferredLanguage": "en-US",
            "onPremisesSamAccountName": null,
            "mailNickname": "AdeleV"
        })
    }

    #[test]
    fn maps_a_realistic_user() {
        let m = Mapping::default_mapping();
        let e = m
            .to_entry(Collection::Users, &graph_user(), &tree(), &Needed::All)
            .unwrap();
        assert_eq!(
            e.dn,
            "uid=adele.vance@contoso.com,ou=users,dc=example,dc=com"
        );
        assert_eq!(
            values(&e, "objectClass"),
            [
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                "user"
            ]
        );
        assert_eq!(values(&e, "uid"), ["adele.vance@contoso.com"]);
        assert_eq!(values(&e, "userPrincipalName"), ["adele.vance@contoso.com"]);
        assert_eq!(values(&e, "cn"), ["Adele Vance"]);
        assert_eq!(values(&e, "displayName"), ["Adele Vance"]);
        assert_eq!(values(&e, "sn"), ["Vance"]);
        assert_eq!(
            values(&e, "telephoneNumber"),
            ["+1 425 555 0109", "+1 425 555 0110"]
        );
        assert!(values(&e, "mobile").is_empty());
        assert!(values(&e, "facsimileTelephoneNumber").is_empty());
        assert_eq!(values(&e, "company"), ["Contoso"]);
        assert_eq!(values(&e, "o"), ["Contoso"]);
        assert_eq!(values(&e, "co"), ["United States"]);
        assert_eq!(values(&e, "employeeNumber"), ["12345"]);
        assert_eq!(values(&e, "sAMAccountName"), ["AdeleV"]);
        assert_eq!(
            values(&e, "entryUUID"),
            ["4a9e1a2b-0b8f-4c33-9d7e-1f2a3b4c5d6e"]
        );
        assert_eq!(values(&e, "entryDN"), vec![e.dn.clone()]);
        assert_eq!(values(&e, "hasSubordinates"), ["FALSE"]);
        assert_eq!(values(&e, "structuralObjectClass"), ["inetOrgPerson"]);
        assert_eq!(values(&e, "subschemaSubentry"), ["cn=Subschema"]);
        // onPremisesSamAccountName wins when present
        let mut u = graph_user();
        u["onPremisesSamAccountName"] = json!("avance");
        let e = m
            .to_entry(Collection::Users, &u, &tree(), &Needed::All)
            .unwrap();
        assert_eq!(values(&e, "sAMAccountName"), ["avance"]);
    }

    #[test]
    fn user_without_surname_has_no_sn_and_without_upn_no_entry() {
        let m = Mapping::default_mapping();
        let mut u = graph_user();
        u["surname"] = Value::Null;
        let e = m
            .to_entry(Collection::Users, &u, &tree(), &Needed::All)
            .unwrap();
        assert!(values(&e, "sn").is_empty());
        u["userPrincipalName"] = json!("");
        assert!(
            m.to_entry(Collection::Users, &u, &tree(), &Needed::All)
                .is_none()
        );
    }

    #[test]
    fn maps_a_realistic_contact() {
        let contact = json!({
            "id": "25caf5a6-8e4b-4d2d-a1bd-3e0f4c9a1234",
            "displayName": "Hans Müller",
            "givenName": "Hans",
            "surname": "Müller",
            "mail": "hans.mueller@fabrikam.de",
            "jobTitle": "Einkauf",
            "companyName": "Fabrikam GmbH",
            "department": null,
            "phones": [
                {"type": "business", "number": "+49 30 1234567"},
                {"type": "businessFax", "number": "+49 30 1234568"},
                {"type": "mobile", "number": "+49 171 2345678"},
                {"type": "home", "number": null},
                {"type": "business", "number": "+49 30 7654321"}
            ],
            "addresses": [
                {"city": "Berlin", "countryOrRegion": "Germany", "officeLocation": null,
                 "postalCode": "10115", "state": "", "street": "Invalidenstr. 1"},
                {"city": "Hamburg"}
            ]
        });
        let e = Mapping::default_mapping()
            .to_entry(Collection::Contacts, &contact, &tree(), &Needed::All)
            .unwrap();
        assert_eq!(
            e.dn,
            "uid=25caf5a6-8e4b-4d2d-a1bd-3e0f4c9a1234,ou=contacts,dc=example,dc=com"
        );
        assert_eq!(values(&e, "objectClass")[4], "contact");
        assert_eq!(
            values(&e, "telephoneNumber"),
            ["+49 30 1234567", "+49 30 7654321"]
        );
        assert_eq!(values(&e, "facsimileTelephoneNumber"), ["+49 30 1234568"]);
        assert_eq!(values(&e, "mobile"), ["+49 171 2345678"]);
        assert!(values(&e, "homePhone").is_empty());
        assert_eq!(values(&e, "l"), ["Berlin"]);
        assert!(values(&e, "st").is_empty());
        assert_eq!(values(&e, "co"), ["Germany"]);
        assert_eq!(values(&e, "street"), ["Invalidenstr. 1"]);
        assert!(values(&e, "department").is_empty());
        assert_eq!(values(&e, "uid"), ["25caf5a6-8e4b-4d2d-a1bd-3e0f4c9a1234"]);
        assert_eq!(
            values(&e, "entryUUID"),
            ["25caf5a6-8e4b-4d2d-a1bd-3e0f4c9a1234"]
        );
    }

    #[test]
    fn select_lists_every_source_once() {
        let m = Mapping::default_mapping();
        let users = m.select(Collection::Users);
        assert_eq!(&users[..2], ["id", "userPrincipalName"]);
        for p in [
            "displayName",
            "businessPhones",
            "onPremisesSamAccountName",
            "mailNickname",
            "companyName",
        ] {
            assert_eq!(users.iter().filter(|u| *u == p).count(), 1, "{p}");
        }
        let contacts = m.select(Collection::Contacts);
        assert!(contacts.contains(&"phones".to_string()));
        assert!(contacts.contains(&"addresses".to_string()));
        assert!(!contacts.contains(&"userPrincipalName".to_string()));
    }

    #[test]
    fn overrides_add_rename_and_drop() {
        let m = Mapping::with_overrides(
            &[
                ("ipPhone".into(), "extension_abc_ipPhone".into()),
                ("CN".into(), "".into()),
                ("sn".into(), "surname".into()),
            ],
            &[("pager".into(), "phones:pager".into())],
        )
        .unwrap();
        let cn = schema::attribute("cn").unwrap();
        assert!(m.sources(Collection::Users, cn).is_empty());
        assert_eq!(m.sources(Collection::Contacts, cn).len(), 1);
        let ip = schema::attribute("ipPhone").unwrap();
        assert_eq!(
            m.sources(Collection::Users, ip),
            [&Source::Property("extension_abc_ipPhone".into())]
        );
        assert!(
            m.select(Collection::Users)
                .contains(&"extension_abc_ipPhone".to_string())
        );
        let pager = schema::attribute("pager").unwrap();
        assert_eq!(
            m.sources(Collection::Contacts, pager),
            [&Source::ContactPhone("pager".into())]
        );
        // A name the schema lacks is declared (CONTRACT §9); one that is not a name is not.
        let m2 = Mapping::with_overrides(&[("bogusAttr".into(), "x".into())], &[]).unwrap();
        let bogus = schema::attribute("bogusattr").unwrap();
        assert!(m2.knows(bogus) && !m.knows(bogus));
        assert!(Mapping::with_overrides(&[("bogus attr".into(), "x".into())], &[]).is_err());
        assert!(Mapping::with_overrides(&[("uid".into(), "mail".into())], &[]).is_err());
        assert!(Mapping::with_overrides(&[("mail".into(), "bad name".into())], &[]).is_err());
    }

    #[test]
    fn override_parser_names_what_is_wrong() {
        let title = Override::parse("Title", " jobTitle ").unwrap();
        assert_eq!(title.attr, schema::attribute("title").unwrap());
        assert_eq!(title.source, Some(Source::Property("jobTitle".into())));
        assert_eq!(Override::parse("mail", " ").unwrap().source, None);
        assert_eq!(
            Override::parse("sAMAccountName", "onPremisesSamAccountName|mailNickname")
                .unwrap()
                .source,
            Some(Source::FirstOf(vec![
                "onPremisesSamAccountName".into(),
                "mailNickname".into()
            ]))
        );
        let e = Override::parse("bad attr", "x").unwrap_err();
        assert!(e.contains("LDAP attribute name"), "{e}");
        let e = Override::parse("uid", "mail").unwrap_err();
        assert!(e.contains("cannot be remapped"), "{e}");
        let e = Override::parse("cn", "display Name").unwrap_err();
        assert!(e.contains("Graph property"), "{e}");
    }

    #[test]
    fn nested_properties_and_extensions_are_read_and_selected_by_their_top_level() {
        let m = Mapping::with_overrides(
            &[
                (
                    "extensionAttribute1".into(),
                    "onPremisesExtensionAttributes/extensionAttribute1".into(),
                ),
                ("costCenter".into(), "extension_0123abcd_costCenter".into()),
                ("employeeID".into(), "employeeId".into()),
            ],
            &[],
        )
        .unwrap();
        let select = m.select(Collection::Users);
        assert!(select.contains(&"onPremisesExtensionAttributes".to_string()));
        assert!(!select.iter().any(|p| p.contains('/')), "{select:?}");
        assert!(select.contains(&"extension_0123abcd_costCenter".to_string()));
        let mut u = graph_user();
        u["onPremisesExtensionAttributes"] =
            json!({"extensionAttribute1": "Contoso-42", "extensionAttribute2": null});
        u["extension_0123abcd_costCenter"] = json!("CC-7");
        let e = m
            .to_entry(Collection::Users, &u, &tree(), &Needed::All)
            .unwrap();
        assert_eq!(values(&e, "extensionAttribute1"), ["Contoso-42"]);
        assert_eq!(values(&e, "costCenter"), ["CC-7"]);
        assert_eq!(values(&e, "employeeID"), ["12345"]);
        let ext1 = schema::attribute("extensionattribute1").unwrap();
        assert_eq!(ext1.origin, schema::Origin::Custom);
        assert_eq!(ext1.equality, schema::Equality::CaseIgnore);
        assert!(m.knows(ext1));
        // A path that is not there, or through a scalar, gives no value.
        u["onPremisesExtensionAttributes"] = json!("flat");
        let e = m
            .to_entry(Collection::Users, &u, &tree(), &Needed::All)
            .unwrap();
        assert!(values(&e, "extensionAttribute1").is_empty());
        assert!(Source::parse("a//b").is_err());
        assert!(Source::parse("/a").is_err());
    }

    #[test]
    fn the_ad_profile_adds_its_attributes_before_the_overrides() {
        let m = Mapping::configured(&[], &[], Some("dc=example,dc=com"));
        assert!(m.active_directory());
        assert!(!Mapping::default_mapping().active_directory());
        let mut u = graph_user();
        u["accountEnabled"] = json!(true);
        u["onPremisesSecurityIdentifier"] = json!("S-1-5-21-1-2-3-1104");
        let e = m
            .to_entry(Collection::Users, &u, &tree(), &Needed::All)
            .unwrap();
        assert_eq!(
            values(&e, "objectCategory"),
            ["CN=Person,CN=Schema,CN=Configuration,dc=example,dc=com"]
        );
        assert_eq!(values(&e, "userAccountControl"), ["512"]);
        assert_eq!(values(&e, "distinguishedName"), vec![e.dn.clone()]);
        // The UPN's local part, not mailNickname, when onPremisesSamAccountName is empty.
        assert_eq!(values(&e, "sAMAccountName"), ["adele.vance"]);
        assert_eq!(values(&e, "objectGUID")[0].chars().count(), 16);
        assert_eq!(values(&e, "objectSid")[0].chars().count(), 8 + 5 * 4);
        assert!(values(&e, "aNR").is_empty());
        let select = m.select(Collection::Users);
        for p in [
            "accountEnabled",
            "onPremisesSecurityIdentifier",
            "onPremisesSamAccountName",
        ] {
            assert!(select.contains(&p.to_string()), "{p}");
        }
        let contact = json!({"id": "25caf5a6-8e4b-4d2d-a1bd-3e0f4c9a1234", "displayName": "X"});
        let c = m
            .to_entry(Collection::Contacts, &contact, &tree(), &Needed::All)
            .unwrap();
        assert!(values(&c, "userAccountControl").is_empty());
        assert_eq!(values(&c, "objectCategory").len(), 1);
        // An override still wins, and the profile's computed ones cannot be remapped.
        let o = Override::parse("sAMAccountName", "mailNickname").unwrap();
        let m = Mapping::configured(&[o], &[], Some("dc=example,dc=com"));
        let e = m
            .to_entry(Collection::Users, &u, &tree(), &Needed::All)
            .unwrap();
        assert_eq!(values(&e, "sAMAccountName"), ["AdeleV"]);
        assert!(Override::parse("userAccountControl", "accountEnabled").is_err());
    }

    #[test]
    fn default_tables_build() {
        assert_eq!(build(DEFAULT_USERS).unwrap().len(), DEFAULT_USERS.len());
        assert_eq!(
            build(DEFAULT_CONTACTS).unwrap().len(),
            DEFAULT_CONTACTS.len()
        );
    }
}
