//! Attribute types and object classes the gateway knows (RFC 4519, 4524, 2798 plus the
//! AD-style ones it maps), with their matching rules. Owns name/alias/OID lookup; it does
//! not evaluate filters (see `filter`) or normalise values (see `matching`).

/// Equality matching rule of an attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Equality {
    /// caseIgnoreMatch (2.5.13.2).
    CaseIgnore,
    /// caseExactMatch (2.5.13.5).
    CaseExact,
    /// caseIgnoreIA5Match (1.3.6.1.4.1.1466.109.114.2).
    CaseIgnoreIa5,
    /// caseExactIA5Match (1.3.6.1.4.1.1466.109.114.1).
    CaseExactIa5,
    /// telephoneNumberMatch (2.5.13.20).
    TelephoneNumber,
    /// objectIdentifierMatch (2.5.13.0).
    ObjectIdentifier,
    /// distinguishedNameMatch (2.5.13.1).
    DistinguishedName,
    /// UUIDMatch (1.3.6.1.1.16.2).
    Uuid,
    /// integerMatch (2.5.13.14).
    Integer,
    /// booleanMatch (2.5.13.13).
    Boolean,
    /// octetStringMatch (2.5.13.17).
    OctetString,
    /// numericStringMatch (2.5.13.8): spaces are insignificant.
    NumericString,
    /// objectIdentifierFirstComponentMatch (2.5.13.30), for the subschema attributes.
    ObjectIdentifierFirstComponent,
    /// generalizedTimeMatch (2.5.13.27).
    GeneralizedTime,
    /// No equality rule: only presence can test the attribute.
    None,
}

/// Substrings matching rule of an attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Substrings {
    CaseIgnore,
    CaseExact,
    CaseIgnoreIa5,
    TelephoneNumber,
    /// numericStringSubstringsMatch (2.5.13.10).
    NumericString,
    None,
}

/// Ordering matching rule used for `>=`, `<=` and sorting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// caseIgnoreOrderingMatch; the gateway uses it for every text attribute (CONTRACT §6).
    CaseIgnore,
    CaseExact,
    Integer,
    Uuid,
    /// generalizedTimeOrderingMatch (2.5.13.28).
    GeneralizedTime,
    None,
}

/// An attribute type as published in `cn=Subschema` and used for matching.
#[derive(Debug, PartialEq, Eq)]
pub struct AttributeType {
    /// Canonical name, as returned in entries and published in the schema.
    pub name: &'static str,
    /// Other names, matched case-insensitively (`gn`, `surname`, `commonName`, ...).
    pub aliases: &'static [&'static str],
    pub oid: &'static str,
    /// Syntax OID (e.g. 1.3.6.1.4.1.1466.115.121.1.15 Directory String).
    pub syntax: &'static str,
    /// Supertype name, if any (e.g. cn SUP name).
    pub sup: Option<&'static str>,
    pub equality: Equality,
    pub substrings: Substrings,
    pub ordering: Ordering,
    pub single_value: bool,
    /// Operational attributes are returned for `+` or by name, never for `*`.
    pub operational: bool,
    /// RFC 4512 USAGE of an operational attribute: `directoryOperation` or `dSAOperation`.
    pub usage: Usage,
    /// NO-USER-MODIFICATION (every operational attribute the gateway serves).
    pub no_user_modification: bool,
    /// Where the type comes from, which decides whether it is known (CONTRACT §6).
    pub origin: Origin,
}

/// Where an attribute type comes from (CONTRACT §6: the gateway knows the standard schemas
/// and the AD-style types it maps; any other name is unknown and its filter item Undefined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// RFC 4519, 4524, 2798, or an operational attribute the gateway serves.
    Standard,
    /// An AD-style type the default mapping serves (CONTRACT §5): always known.
    AdMapped,
    /// An AD-style type defined only so that `[mapping]` can serve it (`ipPhone`): known
    /// where a configured mapping serves it, unknown otherwise (not in `cn=Subschema`).
    AdOptional,
    /// Served only with `[compat] active_directory` (CONTRACT §9): known where the
    /// mapping serves it, like `AdOptional`.
    AdCompat,
    /// A name the built-in schema does not know, declared by the configured mapping
    /// (`declare`): known where the mapping serves it.
    Custom,
}

/// RFC 4512 §4.1.2 attribute usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    UserApplications,
    DirectoryOperation,
    DsaOperation,
}

impl AttributeType {
    /// True unless the type is an AD-style one only a configured mapping can serve.
    pub fn always_known(&self) -> bool {
        matches!(self.origin, Origin::Standard | Origin::AdMapped)
    }

    /// True for binary values (Octet String syntax: objectGUID, objectSid): the entry
    /// holds each byte as one char U+0000..U+00FF (`binary_text`), sent as raw bytes.
    pub fn is_binary(&self) -> bool {
        self.syntax == OCTET_STRING
    }

    /// True for attributes whose equality is telephoneNumberMatch (phone attributes).
    pub fn is_phone(&self) -> bool {
        self.equality == Equality::TelephoneNumber
    }

    /// True when this type is `sup` or inherits from it (`cn` and `sn` from `name`,
    /// RFC 4512 §2.5.1). The walk is bounded in case a table ever holds a cycle.
    pub fn is_subtype_of(&self, sup: &AttributeType) -> bool {
        let mut cur = Some(self);
        for _ in 0..8 {
            match cur {
                Some(c) if std::ptr::eq(c, sup) => return true,
                Some(c) => cur = c.parent(),
                None => return false,
            }
        }
        false
    }

    /// The supertype, resolved once for the built-in table: filter checks and attribute
    /// selection ask this for every attribute of every entry.
    fn parent(&self) -> Option<&'static AttributeType> {
        use std::sync::OnceLock;
        static PARENTS: OnceLock<Vec<Option<&'static AttributeType>>> = OnceLock::new();
        let sup = self.sup?;
        let offset = (self as *const AttributeType as usize)
            .wrapping_sub(ATTRIBUTES.as_ptr() as usize)
            / size_of::<AttributeType>();
        match ATTRIBUTES.get(offset) {
            Some(builtin) if std::ptr::eq(builtin, self) => PARENTS.get_or_init(|| {
                ATTRIBUTES
                    .iter()
                    .map(|at| at.sup.and_then(attribute))
                    .collect()
            })[offset],
            // A type declared by the mapping.
            _ => attribute(sup),
        }
    }
}

/// The types every mapped entry carries, resolved once: the mapping and the tree add them
/// to every entry of every search.
pub struct EntryTypes {
    pub object_class: &'static AttributeType,
    pub uid: &'static AttributeType,
    pub entry_uuid: &'static AttributeType,
    pub entry_dn: &'static AttributeType,
    pub has_subordinates: &'static AttributeType,
    pub structural_object_class: &'static AttributeType,
    pub subschema_subentry: &'static AttributeType,
}

/// See [`EntryTypes`]; every one of them is in the built-in table (tested).
pub fn entry_types() -> &'static EntryTypes {
    use std::sync::OnceLock;
    static TYPES: OnceLock<EntryTypes> = OnceLock::new();
    TYPES.get_or_init(|| {
        // Every name is in the table (the test names them); the fallback keeps this total.
        let at = |name: &str| builtin(name).unwrap_or(&ATTRIBUTES[0]);
        EntryTypes {
            object_class: at("objectClass"),
            uid: at("uid"),
            entry_uuid: at("entryUUID"),
            entry_dn: at("entryDN"),
            has_subordinates: at("hasSubordinates"),
            structural_object_class: at("structuralObjectClass"),
            subschema_subentry: at("subschemaSubentry"),
        }
    })
}

/// Looks an attribute type up by name, alias or OID, case-insensitively.
/// Attribute options (`cn;lang-de`) are not stripped here; callers decide.
/// Every request names attributes several times over (filter, attribute list, mapping),
/// so this is a hash lookup of the lower-cased name in a table built once, not a scan of
/// every type's names (issue 10's profile: the gateway's hottest function of its own).
pub fn attribute(name: &str) -> Option<&'static AttributeType> {
    builtin(name).or_else(|| {
        let is = |at: &AttributeType| {
            at.name.eq_ignore_ascii_case(name)
                || at.oid == name
                || at.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        };
        declared().into_iter().find(|at| is(at))
    })
}

/// A built-in type by name, alias or OID (the hashed table of `attribute`).
fn builtin(name: &str) -> Option<&'static AttributeType> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static BY_NAME: OnceLock<HashMap<String, &'static AttributeType>> = OnceLock::new();
    let table = BY_NAME.get_or_init(|| {
        let mut table = HashMap::new();
        // In table order, the first type naming a key keeps it (as the scan found it).
        for at in ATTRIBUTES {
            for key in [at.name, at.oid].iter().chain(at.aliases) {
                table.entry(key.to_ascii_lowercase()).or_insert(at);
            }
        }
        table
    });
    // Lower-case on the stack: no allocation for any name a client sends in practice.
    let mut buf = [0u8; 64];
    let lower = match buf.get_mut(..name.len()) {
        Some(slot) => {
            slot.copy_from_slice(name.as_bytes());
            slot.make_ascii_lowercase();
            std::str::from_utf8(slot).ok()?
        }
        None => return table.get(&name.to_ascii_lowercase()).copied(),
    };
    table.get(lower).copied()
}

/// The types the configured mapping declared (`declare`), in declaration order.
pub fn declared() -> Vec<&'static AttributeType> {
    DECLARED.lock().map(|d| d.clone()).unwrap_or_default()
}

/// Types declared by `[mapping]` for names the built-in schema does not know. Append-only
/// for the process's life: a name keeps one definition, and `Mapping::knows` decides
/// whether a given configuration serves it.
static DECLARED: std::sync::Mutex<Vec<&'static AttributeType>> = std::sync::Mutex::new(Vec::new());

/// The syntax and rules a configured name is served with (`[mapping.types]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredSyntax {
    /// Directory String: caseIgnoreMatch, caseIgnoreSubstringsMatch (the default).
    DirectoryString,
    /// Directory String compared exactly: caseExactMatch, caseExactSubstringsMatch.
    DirectoryStringCaseExact,
    /// IA5 String: caseIgnoreIA5Match, caseIgnoreIA5SubstringsMatch.
    Ia5String,
    /// INTEGER: integerMatch, integerOrderingMatch.
    Integer,
    /// Telephone Number: telephoneNumberMatch (and CONTRACT §7's phone matching).
    TelephoneNumber,
}

impl DeclaredSyntax {
    /// Parses `syntax` (and the optional `equality`) of `[mapping.types.<name>]`.
    pub fn parse(syntax: Option<&str>, equality: Option<&str>) -> Result<Self, String> {
        let syntax = syntax.unwrap_or("directoryString");
        let base = match syntax.to_ascii_lowercase().as_str() {
            "directorystring" | DIRECTORY_STRING => DeclaredSyntax::DirectoryString,
            "ia5string" | IA5_STRING => DeclaredSyntax::Ia5String,
            "integer" | "1.3.6.1.4.1.1466.115.121.1.27" => DeclaredSyntax::Integer,
            "telephonenumber" | TELEPHONE_NUMBER => DeclaredSyntax::TelephoneNumber,
            other => {
                return Err(format!(
                    "unsupported syntax {other:?}: use directoryString, IA5String, integer or telephoneNumber"
                ));
            }
        };
        let Some(eq) = equality else {
            return Ok(base);
        };
        match (base, eq.to_ascii_lowercase().as_str()) {
            (DeclaredSyntax::DirectoryString, "caseignorematch") => Ok(base),
            (DeclaredSyntax::DirectoryString, "caseexactmatch") => {
                Ok(DeclaredSyntax::DirectoryStringCaseExact)
            }
            (DeclaredSyntax::Ia5String, "caseignoreia5match")
            | (DeclaredSyntax::Integer, "integermatch")
            | (DeclaredSyntax::TelephoneNumber, "telephonenumbermatch") => Ok(base),
            _ => Err(format!(
                "equality {eq:?} does not apply to syntax {syntax:?}"
            )),
        }
    }
}

/// RFC 4512 §1.4 `descr`: a letter, then letters, digits and hyphens.
fn is_descr(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A stable OID for a declared name under the gateway's arc: `<arc>.9.<FNV-1a of the
/// lowercased name>`, so that a name keeps its OID across restarts and hosts.
fn declared_oid(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.to_ascii_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{GATEWAY_OID_ARC}.9.{h}")
}

/// The type of a name the built-in schema does not know, declared by the configuration
/// with `syntax` (CONTRACT §9): created once per process and then found by `attribute`.
/// A name the schema knows returns its built-in type unchanged; a name declared before
/// with another syntax is an error.
pub fn declare(name: &str, syntax: DeclaredSyntax) -> Result<&'static AttributeType, String> {
    if let Some(at) = ATTRIBUTES.iter().find(|at| {
        at.name.eq_ignore_ascii_case(name)
            || at.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }) {
        return Ok(at);
    }
    if !is_descr(name) {
        return Err(format!(
            "{name:?} is not an LDAP attribute name (a letter, then letters, digits or '-')"
        ));
    }
    let wanted = declared_type(name, syntax);
    let mut table = DECLARED
        .lock()
        .map_err(|_| "the declared schema is unavailable".to_string())?;
    if let Some(at) = table.iter().find(|at| at.name.eq_ignore_ascii_case(name)) {
        return if same_rules(at, &wanted) {
            Ok(at)
        } else {
            Err(format!(
                "{name:?} is already declared with another syntax in this process"
            ))
        };
    }
    let leaked: &'static AttributeType = Box::leak(Box::new(wanted));
    table.push(leaked);
    Ok(leaked)
}

fn same_rules(a: &AttributeType, b: &AttributeType) -> bool {
    a.syntax == b.syntax && a.equality == b.equality && a.substrings == b.substrings
}

fn declared_type(name: &str, syntax: DeclaredSyntax) -> AttributeType {
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    let oid: &'static str = Box::leak(declared_oid(name).into_boxed_str());
    let base = match syntax {
        DeclaredSyntax::DirectoryString => text(name, &[], oid),
        DeclaredSyntax::DirectoryStringCaseExact => AttributeType {
            equality: Equality::CaseExact,
            substrings: Substrings::CaseExact,
            ordering: Ordering::CaseExact,
            ..text(name, &[], oid)
        },
        DeclaredSyntax::Ia5String => ia5(name, &[], oid),
        DeclaredSyntax::Integer => integer(name, &[], oid),
        DeclaredSyntax::TelephoneNumber => phone(name, &[], oid),
    };
    AttributeType {
        origin: Origin::Custom,
        ..base
    }
}

/// Every attribute type the gateway knows.
pub fn attributes() -> &'static [AttributeType] {
    ATTRIBUTES
}

impl Equality {
    /// The rule's RFC 4517 name and OID, `None` when there is no equality rule.
    pub fn rule(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Equality::CaseIgnore => ("caseIgnoreMatch", "2.5.13.2"),
            Equality::CaseExact => ("caseExactMatch", "2.5.13.5"),
            Equality::CaseIgnoreIa5 => ("caseIgnoreIA5Match", "1.3.6.1.4.1.1466.109.114.2"),
            Equality::CaseExactIa5 => ("caseExactIA5Match", "1.3.6.1.4.1.1466.109.114.1"),
            Equality::TelephoneNumber => ("telephoneNumberMatch", "2.5.13.20"),
            Equality::ObjectIdentifier => ("objectIdentifierMatch", "2.5.13.0"),
            Equality::DistinguishedName => ("distinguishedNameMatch", "2.5.13.1"),
            Equality::Uuid => ("UUIDMatch", "1.3.6.1.1.16.2"),
            Equality::Integer => ("integerMatch", "2.5.13.14"),
            Equality::Boolean => ("booleanMatch", "2.5.13.13"),
            Equality::OctetString => ("octetStringMatch", "2.5.13.17"),
            Equality::NumericString => ("numericStringMatch", "2.5.13.8"),
            Equality::ObjectIdentifierFirstComponent => {
                ("objectIdentifierFirstComponentMatch", "2.5.13.30")
            }
            Equality::GeneralizedTime => ("generalizedTimeMatch", "2.5.13.27"),
            Equality::None => return None,
        })
    }
}

impl Substrings {
    /// The rule's RFC 4517 name and OID, `None` when there is no substrings rule.
    pub fn rule(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Substrings::CaseIgnore => ("caseIgnoreSubstringsMatch", "2.5.13.4"),
            Substrings::CaseExact => ("caseExactSubstringsMatch", "2.5.13.7"),
            Substrings::CaseIgnoreIa5 => {
                ("caseIgnoreIA5SubstringsMatch", "1.3.6.1.4.1.1466.109.114.3")
            }
            Substrings::TelephoneNumber => ("telephoneNumberSubstringsMatch", "2.5.13.21"),
            Substrings::NumericString => ("numericStringSubstringsMatch", "2.5.13.10"),
            Substrings::None => return None,
        })
    }
}

impl Ordering {
    /// The rule's RFC 4517 name and OID, `None` when there is no ordering rule.
    pub fn rule(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Ordering::CaseIgnore => ("caseIgnoreOrderingMatch", "2.5.13.3"),
            Ordering::CaseExact => ("caseExactOrderingMatch", "2.5.13.6"),
            Ordering::Integer => ("integerOrderingMatch", "2.5.13.15"),
            Ordering::Uuid => ("UUIDOrderingMatch", "1.3.6.1.1.16.3"),
            Ordering::GeneralizedTime => ("generalizedTimeOrderingMatch", "2.5.13.28"),
            Ordering::None => return None,
        })
    }
}

const DIRECTORY_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const IA5_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const TELEPHONE_NUMBER: &str = "1.3.6.1.4.1.1466.115.121.1.50";
const DN_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.12";
const OID_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.38";
const PRINTABLE_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.44";
const NUMERIC_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.36";
const POSTAL_ADDRESS: &str = "1.3.6.1.4.1.1466.115.121.1.41";
const OCTET_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.40";
const GENERALIZED_TIME: &str = "1.3.6.1.4.1.1466.115.121.1.24";
const INTEGER: &str = "1.3.6.1.4.1.1466.115.121.1.27";

/// A Directory String attribute with caseIgnore equality, substrings and (CONTRACT §6)
/// caseIgnoreOrderingMatch.
const fn text(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        name,
        aliases,
        oid,
        syntax: DIRECTORY_STRING,
        sup: None,
        equality: Equality::CaseIgnore,
        substrings: Substrings::CaseIgnore,
        ordering: Ordering::CaseIgnore,
        single_value: false,
        operational: false,
        usage: Usage::UserApplications,
        no_user_modification: false,
        origin: Origin::Standard,
    }
}

/// An AD-style type (Microsoft's OID) the default mapping serves.
const fn ad_mapped(at: AttributeType) -> AttributeType {
    AttributeType {
        origin: Origin::AdMapped,
        ..at
    }
}

/// An AD-style type known only where a configured mapping serves it.
const fn ad_optional(at: AttributeType) -> AttributeType {
    AttributeType {
        origin: Origin::AdOptional,
        ..at
    }
}

/// A subtype of `name` (RFC 4519 §2.18): cn, sn, givenName, o, ou, l, st, title...
const fn named(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        sup: Some("name"),
        ..text(name, aliases, oid)
    }
}

/// An IA5 String attribute with caseIgnoreIA5 equality and substrings (mail, dc).
const fn ia5(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        syntax: IA5_STRING,
        equality: Equality::CaseIgnoreIa5,
        substrings: Substrings::CaseIgnoreIa5,
        ..text(name, aliases, oid)
    }
}

/// A Telephone Number attribute: telephoneNumber(Substrings)Match, no ordering (as in
/// OpenLDAP's core and cosine schemas).
const fn phone(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        syntax: TELEPHONE_NUMBER,
        equality: Equality::TelephoneNumber,
        substrings: Substrings::TelephoneNumber,
        ordering: Ordering::None,
        ..text(name, aliases, oid)
    }
}

/// A DN-valued attribute (distinguishedNameMatch, no substrings or ordering).
const fn dn_valued(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        syntax: DN_SYNTAX,
        equality: Equality::DistinguishedName,
        substrings: Substrings::None,
        ordering: Ordering::None,
        ..text(name, aliases, oid)
    }
}

/// An attribute with no matching rule at all: only presence tests it.
const fn opaque(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
    syntax: &'static str,
) -> AttributeType {
    AttributeType {
        syntax,
        equality: Equality::None,
        substrings: Substrings::None,
        ordering: Ordering::None,
        ..text(name, aliases, oid)
    }
}

/// An operational attribute (RFC 4512 §3.4), NO-USER-MODIFICATION.
const fn operational(at: AttributeType, usage: Usage) -> AttributeType {
    AttributeType {
        operational: true,
        no_user_modification: true,
        usage,
        ..at
    }
}

const fn single(at: AttributeType) -> AttributeType {
    AttributeType {
        single_value: true,
        ..at
    }
}

const fn numeric(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        syntax: NUMERIC_STRING,
        equality: Equality::NumericString,
        substrings: Substrings::NumericString,
        ordering: Ordering::None,
        ..text(name, aliases, oid)
    }
}

/// An INTEGER attribute: integerMatch and integerOrderingMatch, no substrings.
const fn integer(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        syntax: INTEGER,
        equality: Equality::Integer,
        substrings: Substrings::None,
        ordering: Ordering::Integer,
        ..text(name, aliases, oid)
    }
}

/// An attribute served only by the AD compatibility profile (CONTRACT §9).
const fn ad_compat(at: AttributeType) -> AttributeType {
    AttributeType {
        origin: Origin::AdCompat,
        ..at
    }
}

const fn printable(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        syntax: PRINTABLE_STRING,
        ..text(name, aliases, oid)
    }
}

const fn postal(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    // caseIgnoreListMatch in OpenLDAP; the `$`-separated lines are compared as one
    // caseIgnore string here (the gateway maps no Graph property to these).
    AttributeType {
        syntax: POSTAL_ADDRESS,
        ..text(name, aliases, oid)
    }
}

const fn subschema_description(
    name: &'static str,
    oid: &'static str,
    syntax: &'static str,
) -> AttributeType {
    operational(
        AttributeType {
            syntax,
            equality: Equality::ObjectIdentifierFirstComponent,
            substrings: Substrings::None,
            ordering: Ordering::None,
            ..text(name, &[], oid)
        },
        Usage::DirectoryOperation,
    )
}

/// The table: RFC 4519 (core), RFC 4524 (cosine), RFC 2798 (inetOrgPerson), the AD-style
/// attributes the mapping uses, and the operational, root-DSE and subschema attributes
/// (RFC 4512, 4530, 3045). Matching rules follow OpenLDAP 2.5's schema files, except
/// that every caseIgnore text attribute also orders with caseIgnoreOrderingMatch
/// (CONTRACT §6); see `openldap_schema` for the differences that remain in slapd.
static ATTRIBUTES: &[AttributeType] = &[
    // --- RFC 4519 (core) ---
    AttributeType {
        syntax: OID_SYNTAX,
        equality: Equality::ObjectIdentifier,
        substrings: Substrings::None,
        ordering: Ordering::None,
        ..text("objectClass", &[], "2.5.4.0")
    },
    single(dn_valued(
        "aliasedObjectName",
        &["aliasedEntryName"],
        "2.5.4.1",
    )),
    text("name", &[], "2.5.4.41"),
    named("cn", &["commonName"], "2.5.4.3"),
    named("sn", &["surname"], "2.5.4.4"),
    printable("serialNumber", &[], "2.5.4.5"),
    single(AttributeType {
        syntax: "1.3.6.1.4.1.1466.115.121.1.11",
        ..named("c", &["countryName"], "2.5.4.6")
    }),
    named("l", &["localityName"], "2.5.4.7"),
    named("st", &["stateOrProvinceName"], "2.5.4.8"),
    text("street", &["streetAddress"], "2.5.4.9"),
    named("o", &["organizationName"], "2.5.4.10"),
    named("ou", &["organizationalUnitName"], "2.5.4.11"),
    named("title", &[], "2.5.4.12"),
    text("description", &[], "2.5.4.13"),
    opaque(
        "searchGuide",
        &[],
        "2.5.4.14",
        "1.3.6.1.4.1.1466.115.121.1.25",
    ),
    text("businessCategory", &[], "2.5.4.15"),
    postal("postalAddress", &[], "2.5.4.16"),
    text("postalCode", &[], "2.5.4.17"),
    text("postOfficeBox", &[], "2.5.4.18"),
    text("physicalDeliveryOfficeName", &[], "2.5.4.19"),
    phone("telephoneNumber", &[], "2.5.4.20"),
    opaque(
        "telexNumber",
        &[],
        "2.5.4.21",
        "1.3.6.1.4.1.1466.115.121.1.52",
    ),
    opaque(
        "teletexTerminalIdentifier",
        &[],
        "2.5.4.22",
        "1.3.6.1.4.1.1466.115.121.1.51",
    ),
    // RFC 4519 §2.10: Facsimile Telephone Number syntax, no equality or substrings rule.
    opaque(
        "facsimileTelephoneNumber",
        &["fax"],
        "2.5.4.23",
        "1.3.6.1.4.1.1466.115.121.1.22",
    ),
    numeric("x121Address", &[], "2.5.4.24"),
    numeric("internationalISDNNumber", &[], "2.5.4.25"),
    postal("registeredAddress", &[], "2.5.4.26"),
    printable("destinationIndicator", &[], "2.5.4.27"),
    single(opaque(
        "preferredDeliveryMethod",
        &[],
        "2.5.4.28",
        "1.3.6.1.4.1.1466.115.121.1.14",
    )),
    dn_valued("member", &[], "2.5.4.31"),
    dn_valued("owner", &[], "2.5.4.32"),
    dn_valued("roleOccupant", &[], "2.5.4.33"),
    dn_valued("seeAlso", &[], "2.5.4.34"),
    AttributeType {
        equality: Equality::OctetString,
        ..opaque("userPassword", &[], "2.5.4.35", OCTET_STRING)
    },
    opaque(
        "userCertificate",
        &[],
        "2.5.4.36",
        "1.3.6.1.4.1.1466.115.121.1.8",
    ),
    named("givenName", &["gn"], "2.5.4.42"),
    named("initials", &[], "2.5.4.43"),
    named("generationQualifier", &[], "2.5.4.44"),
    AttributeType {
        equality: Equality::OctetString,
        ..opaque(
            "x500UniqueIdentifier",
            &[],
            "2.5.4.45",
            "1.3.6.1.4.1.1466.115.121.1.6",
        )
    },
    printable("dnQualifier", &[], "2.5.4.46"),
    opaque(
        "enhancedSearchGuide",
        &[],
        "2.5.4.47",
        "1.3.6.1.4.1.1466.115.121.1.21",
    ),
    dn_valued("distinguishedName", &[], "2.5.4.49"),
    AttributeType {
        syntax: "1.3.6.1.4.1.1466.115.121.1.34",
        ..dn_valued("uniqueMember", &[], "2.5.4.50")
    },
    text("houseIdentifier", &[], "2.5.4.51"),
    text("uid", &["userid"], "0.9.2342.19200300.100.1.1"),
    single(ia5(
        "dc",
        &["domainComponent"],
        "0.9.2342.19200300.100.1.25",
    )),
    // --- RFC 4524 (cosine) ---
    text("info", &[], "0.9.2342.19200300.100.1.4"),
    text("drink", &["favouriteDrink"], "0.9.2342.19200300.100.1.5"),
    text("roomNumber", &[], "0.9.2342.19200300.100.1.6"),
    text("userClass", &[], "0.9.2342.19200300.100.1.8"),
    text("host", &[], "0.9.2342.19200300.100.1.9"),
    dn_valued("manager", &[], "0.9.2342.19200300.100.1.10"),
    text("documentIdentifier", &[], "0.9.2342.19200300.100.1.11"),
    text("documentTitle", &[], "0.9.2342.19200300.100.1.12"),
    text("documentVersion", &[], "0.9.2342.19200300.100.1.13"),
    dn_valued("documentAuthor", &[], "0.9.2342.19200300.100.1.14"),
    text("documentLocation", &[], "0.9.2342.19200300.100.1.15"),
    phone(
        "homePhone",
        &["homeTelephoneNumber"],
        "0.9.2342.19200300.100.1.20",
    ),
    dn_valued("secretary", &[], "0.9.2342.19200300.100.1.21"),
    ia5("mail", &["rfc822Mailbox"], "0.9.2342.19200300.100.1.3"),
    ia5("associatedDomain", &[], "0.9.2342.19200300.100.1.37"),
    dn_valued("associatedName", &[], "0.9.2342.19200300.100.1.38"),
    postal("homePostalAddress", &[], "0.9.2342.19200300.100.1.39"),
    text("personalTitle", &[], "0.9.2342.19200300.100.1.40"),
    phone(
        "mobile",
        &["mobileTelephoneNumber"],
        "0.9.2342.19200300.100.1.41",
    ),
    phone(
        "pager",
        &["pagerTelephoneNumber"],
        "0.9.2342.19200300.100.1.42",
    ),
    text("co", &["friendlyCountryName"], "0.9.2342.19200300.100.1.43"),
    AttributeType {
        substrings: Substrings::None,
        ..text("uniqueIdentifier", &[], "0.9.2342.19200300.100.1.44")
    },
    text("organizationalStatus", &[], "0.9.2342.19200300.100.1.45"),
    text("buildingName", &[], "0.9.2342.19200300.100.1.48"),
    text("documentPublisher", &[], "0.9.2342.19200300.100.1.56"),
    // --- the rest of OpenLDAP's core.schema and cosine.schema (X.520, X.509, RFC 1274),
    //     so a filter naming them is FALSE rather than Undefined, as in slapd ---
    AttributeType {
        substrings: Substrings::None,
        ..text("knowledgeInformation", &[], "2.5.4.2")
    },
    single(opaque(
        "presentationAddress",
        &[],
        "2.5.4.29",
        "1.3.6.1.4.1.1466.115.121.1.43",
    )),
    AttributeType {
        equality: Equality::ObjectIdentifier,
        ..opaque("supportedApplicationContext", &[], "2.5.4.30", OID_SYNTAX)
    },
    opaque(
        "cACertificate",
        &[],
        "2.5.4.37",
        "1.3.6.1.4.1.1466.115.121.1.8",
    ),
    opaque(
        "authorityRevocationList",
        &[],
        "2.5.4.38",
        "1.3.6.1.4.1.1466.115.121.1.9",
    ),
    opaque(
        "certificateRevocationList",
        &[],
        "2.5.4.39",
        "1.3.6.1.4.1.1466.115.121.1.9",
    ),
    opaque(
        "crossCertificatePair",
        &[],
        "2.5.4.40",
        "1.3.6.1.4.1.1466.115.121.1.10",
    ),
    opaque(
        "protocolInformation",
        &[],
        "2.5.4.48",
        "1.3.6.1.4.1.1466.115.121.1.42",
    ),
    opaque(
        "supportedAlgorithms",
        &[],
        "2.5.4.52",
        "1.3.6.1.4.1.1466.115.121.1.49",
    ),
    opaque(
        "deltaRevocationList",
        &[],
        "2.5.4.53",
        "1.3.6.1.4.1.1466.115.121.1.9",
    ),
    named("dmdName", &[], "2.5.4.54"),
    named("pseudonym", &[], "2.5.4.65"),
    ia5(
        "email",
        &["emailAddress", "pkcs9email"],
        "1.2.840.113549.1.9.1",
    ),
    text("textEncodedORAddress", &[], "0.9.2342.19200300.100.1.2"),
    opaque(
        "otherMailbox",
        &[],
        "0.9.2342.19200300.100.1.22",
        "1.3.6.1.4.1.1466.115.121.1.39",
    ),
    AttributeType {
        substrings: Substrings::None,
        ..ia5("aRecord", &[], "0.9.2342.19200300.100.1.26")
    },
    AttributeType {
        substrings: Substrings::None,
        ..ia5("mDRecord", &[], "0.9.2342.19200300.100.1.27")
    },
    AttributeType {
        substrings: Substrings::None,
        ..ia5("mXRecord", &[], "0.9.2342.19200300.100.1.28")
    },
    AttributeType {
        substrings: Substrings::None,
        ..ia5("nSRecord", &[], "0.9.2342.19200300.100.1.29")
    },
    AttributeType {
        substrings: Substrings::None,
        ..ia5("sOARecord", &[], "0.9.2342.19200300.100.1.30")
    },
    AttributeType {
        substrings: Substrings::None,
        ..ia5("cNAMERecord", &[], "0.9.2342.19200300.100.1.31")
    },
    ia5("janetMailbox", &[], "0.9.2342.19200300.100.1.46"),
    opaque(
        "mailPreferenceOption",
        &[],
        "0.9.2342.19200300.100.1.47",
        "1.3.6.1.4.1.1466.115.121.1.27",
    ),
    single(opaque(
        "dSAQuality",
        &[],
        "0.9.2342.19200300.100.1.49",
        "1.3.6.1.4.1.1466.115.121.1.19",
    )),
    single(opaque(
        "singleLevelQuality",
        &[],
        "0.9.2342.19200300.100.1.50",
        "1.3.6.1.4.1.1466.115.121.1.13",
    )),
    single(opaque(
        "subtreeMinimumQuality",
        &[],
        "0.9.2342.19200300.100.1.51",
        "1.3.6.1.4.1.1466.115.121.1.13",
    )),
    single(opaque(
        "subtreeMaximumQuality",
        &[],
        "0.9.2342.19200300.100.1.52",
        "1.3.6.1.4.1.1466.115.121.1.13",
    )),
    opaque(
        "personalSignature",
        &[],
        "0.9.2342.19200300.100.1.53",
        "1.3.6.1.4.1.1466.115.121.1.23",
    ),
    dn_valued("dITRedirect", &[], "0.9.2342.19200300.100.1.54"),
    // --- RFC 2798 (inetOrgPerson) ---
    opaque(
        "audio",
        &[],
        "0.9.2342.19200300.100.1.55",
        "1.3.6.1.4.1.1466.115.121.1.4",
    ),
    opaque(
        "photo",
        &[],
        "0.9.2342.19200300.100.1.7",
        "1.3.6.1.4.1.1466.115.121.1.23",
    ),
    opaque(
        "jpegPhoto",
        &[],
        "0.9.2342.19200300.100.1.60",
        "1.3.6.1.4.1.1466.115.121.1.28",
    ),
    text("carLicense", &[], "2.16.840.1.113730.3.1.1"),
    text("departmentNumber", &[], "2.16.840.1.113730.3.1.2"),
    single(text("employeeNumber", &[], "2.16.840.1.113730.3.1.3")),
    text("employeeType", &[], "2.16.840.1.113730.3.1.4"),
    single(text("displayName", &[], "2.16.840.1.113730.3.1.241")),
    single(text("preferredLanguage", &[], "2.16.840.1.113730.3.1.39")),
    opaque(
        "userSMIMECertificate",
        &[],
        "2.16.840.1.113730.3.1.40",
        "1.3.6.1.4.1.1466.115.121.1.5",
    ),
    opaque(
        "userPKCS12",
        &[],
        "2.16.840.1.113730.3.1.216",
        "1.3.6.1.4.1.1466.115.121.1.5",
    ),
    // RFC 2079; caseExactMatch in OpenLDAP's core.schema.
    AttributeType {
        equality: Equality::CaseExact,
        substrings: Substrings::None,
        ordering: Ordering::None,
        ..text("labeledURI", &[], "1.3.6.1.4.1.250.1.57")
    },
    // --- AD-style attributes (Microsoft's OIDs), served with Directory String rules;
    //     the AD phone attributes use telephoneNumberMatch like their X.500 cousins ---
    //     (CONTRACT §6: only the mapped ones are known; `ad_optional` ones only when a
    //     configured mapping serves them) ---
    ad_mapped(single(text(
        "userPrincipalName",
        &[],
        "1.2.840.113556.1.4.656",
    ))),
    ad_mapped(single(text(
        "sAMAccountName",
        &[],
        "1.2.840.113556.1.4.221",
    ))),
    ad_optional(single(text("mailNickname", &[], "1.2.840.113556.1.2.447"))),
    ad_optional(single(text("employeeID", &[], "1.2.840.113556.1.4.35"))),
    ad_mapped(single(text("department", &[], "1.2.840.113556.1.2.141"))),
    ad_mapped(single(text("company", &[], "1.2.840.113556.1.2.146"))),
    ad_optional(text("proxyAddresses", &[], "1.2.840.113556.1.2.210")),
    ad_optional(phone("ipPhone", &[], "1.2.840.113556.1.4.721")),
    ad_optional(phone("otherIpPhone", &[], "1.2.840.113556.1.4.722")),
    ad_optional(phone("otherTelephone", &[], "1.2.840.113556.1.2.18")),
    ad_optional(phone("otherMobile", &[], "1.2.840.113556.1.4.647")),
    ad_optional(phone("otherHomePhone", &[], "1.2.840.113556.1.2.277")),
    ad_optional(phone("otherPager", &[], "1.2.840.113556.1.2.118")),
    ad_optional(phone(
        "otherFacsimileTelephoneNumber",
        &[],
        "1.2.840.113556.1.4.646",
    )),
    // --- served by `[compat] active_directory` (CONTRACT §9), with AD's OIDs
    //     (MS-ADA1/MS-ADA3: objectCategory 1.2.840.113556.1.4.782, userAccountControl
    //     1.2.840.113556.1.4.8, objectGUID 1.2.840.113556.1.4.2, objectSid
    //     1.2.840.113556.1.4.146, aNR 1.2.840.113556.1.4.1208). objectGUID and objectSid
    //     are Octet Strings (octetStringMatch), as AD publishes them to LDAP clients ---
    ad_compat(single(dn_valued(
        "objectCategory",
        &[],
        "1.2.840.113556.1.4.782",
    ))),
    ad_compat(single(integer(
        "userAccountControl",
        &[],
        "1.2.840.113556.1.4.8",
    ))),
    ad_compat(single(AttributeType {
        equality: Equality::OctetString,
        ..opaque("objectGUID", &[], "1.2.840.113556.1.4.2", OCTET_STRING)
    })),
    ad_compat(single(AttributeType {
        equality: Equality::OctetString,
        ..opaque("objectSid", &[], "1.2.840.113556.1.4.146", OCTET_STRING)
    })),
    ad_compat(single(text("aNR", &[], "1.2.840.113556.1.4.1208"))),
    // --- operational attributes (CONTRACT §4) ---
    operational(
        single(AttributeType {
            syntax: "1.3.6.1.1.16.1",
            equality: Equality::Uuid,
            substrings: Substrings::None,
            ordering: Ordering::Uuid,
            ..text("entryUUID", &[], "1.3.6.1.1.16.4")
        }),
        Usage::DirectoryOperation,
    ),
    operational(
        single(dn_valued("entryDN", &[], "1.3.6.1.1.20")),
        Usage::DirectoryOperation,
    ),
    operational(
        single(AttributeType {
            syntax: "1.3.6.1.4.1.1466.115.121.1.7",
            equality: Equality::Boolean,
            substrings: Substrings::None,
            ordering: Ordering::None,
            ..text("hasSubordinates", &[], "2.5.18.9")
        }),
        Usage::DirectoryOperation,
    ),
    operational(
        single(AttributeType {
            syntax: OID_SYNTAX,
            equality: Equality::ObjectIdentifier,
            substrings: Substrings::None,
            ordering: Ordering::None,
            ..text("structuralObjectClass", &[], "2.5.21.9")
        }),
        Usage::DirectoryOperation,
    ),
    operational(
        single(dn_valued("subschemaSubentry", &[], "2.5.18.10")),
        Usage::DirectoryOperation,
    ),
    operational(
        single(AttributeType {
            syntax: GENERALIZED_TIME,
            equality: Equality::GeneralizedTime,
            substrings: Substrings::None,
            ordering: Ordering::GeneralizedTime,
            ..text("createTimestamp", &[], "2.5.18.1")
        }),
        Usage::DirectoryOperation,
    ),
    operational(
        single(AttributeType {
            syntax: GENERALIZED_TIME,
            equality: Equality::GeneralizedTime,
            substrings: Substrings::None,
            ordering: Ordering::GeneralizedTime,
            ..text("modifyTimestamp", &[], "2.5.18.2")
        }),
        Usage::DirectoryOperation,
    ),
    // --- root DSE (RFC 4512 §5.1, RFC 3045) ---
    operational(
        opaque(
            "namingContexts",
            &[],
            "1.3.6.1.4.1.1466.101.120.5",
            DN_SYNTAX,
        ),
        Usage::DsaOperation,
    ),
    operational(
        opaque(
            "supportedLDAPVersion",
            &[],
            "1.3.6.1.4.1.1466.101.120.15",
            "1.3.6.1.4.1.1466.115.121.1.27",
        ),
        Usage::DsaOperation,
    ),
    operational(
        opaque(
            "supportedControl",
            &[],
            "1.3.6.1.4.1.1466.101.120.13",
            OID_SYNTAX,
        ),
        Usage::DsaOperation,
    ),
    operational(
        opaque(
            "supportedExtension",
            &[],
            "1.3.6.1.4.1.1466.101.120.7",
            OID_SYNTAX,
        ),
        Usage::DsaOperation,
    ),
    operational(
        opaque(
            "supportedFeatures",
            &[],
            "1.3.6.1.4.1.4203.1.3.5",
            OID_SYNTAX,
        ),
        Usage::DsaOperation,
    ),
    operational(
        opaque(
            "supportedSASLMechanisms",
            &[],
            "1.3.6.1.4.1.1466.101.120.14",
            DIRECTORY_STRING,
        ),
        Usage::DsaOperation,
    ),
    operational(
        single(AttributeType {
            equality: Equality::CaseExactIa5,
            substrings: Substrings::None,
            ordering: Ordering::None,
            ..text("vendorName", &[], "1.3.6.1.1.4")
        }),
        Usage::DsaOperation,
    ),
    operational(
        single(AttributeType {
            equality: Equality::CaseExactIa5,
            substrings: Substrings::None,
            ordering: Ordering::None,
            ..text("vendorVersion", &[], "1.3.6.1.1.5")
        }),
        Usage::DsaOperation,
    ),
    // --- groups (CONTRACT §9) ---
    // memberOf as OpenLDAP's memberof overlay defines it (servers/slapd/overlays/memberof.c):
    // dSAOperation, returned by name or for `+` only.
    operational(
        dn_valued("memberOf", &[], "1.2.840.113556.1.2.102"),
        Usage::DsaOperation,
    ),
    // --- subschema (RFC 4512 §4.2) ---
    subschema_description("attributeTypes", "2.5.21.5", "1.3.6.1.4.1.1466.115.121.1.3"),
    subschema_description("objectClasses", "2.5.21.6", "1.3.6.1.4.1.1466.115.121.1.37"),
    subschema_description("matchingRules", "2.5.21.4", "1.3.6.1.4.1.1466.115.121.1.30"),
    subschema_description(
        "ldapSyntaxes",
        "1.3.6.1.4.1.1466.101.120.16",
        "1.3.6.1.4.1.1466.115.121.1.54",
    ),
    operational(
        single(opaque(
            "subtreeSpecification",
            &[],
            "2.5.18.6",
            "1.3.6.1.4.1.1466.115.121.1.45",
        )),
        Usage::DirectoryOperation,
    ),
];

/// RFC 4512 §4.1.1 object class kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectClassKind {
    Abstract,
    Structural,
    Auxiliary,
}

/// An object class as published in `cn=Subschema`.
#[derive(Debug, PartialEq, Eq)]
pub struct ObjectClass {
    pub name: &'static str,
    pub oid: &'static str,
    pub sup: Option<&'static str>,
    pub kind: ObjectClassKind,
    pub must: &'static [&'static str],
    pub may: &'static [&'static str],
}

/// The private OID arc of the gateway's own schema elements: a UUID-derived OID under
/// `2.25` (ITU-T X.667 §6.3), which needs no registration. `.1` holds object classes:
/// `.1.1` is `user`, `.1.2` is `contact`.
pub const GATEWAY_OID_ARC: &str = "2.25.64526643283590733212325265342552808389";

/// Looks an object class up by name or OID, case-insensitively.
pub fn object_class(name: &str) -> Option<&'static ObjectClass> {
    OBJECT_CLASSES
        .iter()
        .find(|oc| oc.name.eq_ignore_ascii_case(name) || oc.oid == name)
}

/// Every object class the gateway knows.
pub fn object_classes() -> &'static [ObjectClass] {
    OBJECT_CLASSES
}

const ORG_MAY: &[&str] = &[
    "userPassword",
    "searchGuide",
    "seeAlso",
    "businessCategory",
    "x121Address",
    "registeredAddress",
    "destinationIndicator",
    "preferredDeliveryMethod",
    "telexNumber",
    "teletexTerminalIdentifier",
    "telephoneNumber",
    "internationalISDNNumber",
    "facsimileTelephoneNumber",
    "street",
    "postOfficeBox",
    "postalCode",
    "postalAddress",
    "physicalDeliveryOfficeName",
    "st",
    "l",
    "description",
];

/// RFC 4524 §3.4: domain's MAY is organization's plus `o` and `associatedName`.
const DOMAIN_MAY: &[&str] = &[
    "userPassword",
    "searchGuide",
    "seeAlso",
    "businessCategory",
    "x121Address",
    "registeredAddress",
    "destinationIndicator",
    "preferredDeliveryMethod",
    "telexNumber",
    "teletexTerminalIdentifier",
    "telephoneNumber",
    "internationalISDNNumber",
    "facsimileTelephoneNumber",
    "street",
    "postOfficeBox",
    "postalCode",
    "postalAddress",
    "physicalDeliveryOfficeName",
    "st",
    "l",
    "description",
    "o",
    "associatedName",
];

/// MAY of the auxiliary `contact` class: the AD-style types the default mapping serves
/// there, and `co` (CONTRACT §5). Unmapped AD-style types are unknown (CONTRACT §6).
const GATEWAY_AUX_MAY: &[&str] = &["department", "company", "co"];

static OBJECT_CLASSES: &[ObjectClass] = &[
    ObjectClass {
        name: "top",
        oid: "2.5.6.0",
        sup: None,
        kind: ObjectClassKind::Abstract,
        must: &["objectClass"],
        may: &[],
    },
    ObjectClass {
        name: "person",
        oid: "2.5.6.6",
        sup: Some("top"),
        kind: ObjectClassKind::Structural,
        must: &["sn", "cn"],
        may: &["userPassword", "telephoneNumber", "seeAlso", "description"],
    },
    ObjectClass {
        name: "organizationalPerson",
        oid: "2.5.6.7",
        sup: Some("person"),
        kind: ObjectClassKind::Structural,
        must: &[],
        may: &[
            "title",
            "x121Address",
            "registeredAddress",
            "destinationIndicator",
            "preferredDeliveryMethod",
            "telexNumber",
            "teletexTerminalIdentifier",
            "telephoneNumber",
            "internationalISDNNumber",
            "facsimileTelephoneNumber",
            "street",
            "postOfficeBox",
            "postalCode",
            "postalAddress",
            "physicalDeliveryOfficeName",
            "ou",
            "st",
            "l",
        ],
    },
    ObjectClass {
        name: "inetOrgPerson",
        oid: "2.16.840.1.113730.3.2.2",
        sup: Some("organizationalPerson"),
        kind: ObjectClassKind::Structural,
        must: &[],
        may: &[
            "audio",
            "businessCategory",
            "carLicense",
            "departmentNumber",
            "displayName",
            "employeeNumber",
            "employeeType",
            "givenName",
            "homePhone",
            "homePostalAddress",
            "initials",
            "jpegPhoto",
            "labeledURI",
            "mail",
            "manager",
            "mobile",
            "o",
            "pager",
            "photo",
            "roomNumber",
            "secretary",
            "uid",
            "userCertificate",
            "x500UniqueIdentifier",
            "preferredLanguage",
            "userSMIMECertificate",
            "userPKCS12",
        ],
    },
    ObjectClass {
        name: "organization",
        oid: "2.5.6.4",
        sup: Some("top"),
        kind: ObjectClassKind::Structural,
        must: &["o"],
        may: ORG_MAY,
    },
    ObjectClass {
        name: "organizationalUnit",
        oid: "2.5.6.5",
        sup: Some("top"),
        kind: ObjectClassKind::Structural,
        must: &["ou"],
        may: ORG_MAY,
    },
    ObjectClass {
        name: "domain",
        oid: "0.9.2342.19200300.100.4.13",
        sup: Some("top"),
        kind: ObjectClassKind::Structural,
        must: &["dc"],
        may: DOMAIN_MAY,
    },
    ObjectClass {
        name: "dcObject",
        oid: "1.3.6.1.4.1.1466.344",
        sup: Some("top"),
        kind: ObjectClassKind::Auxiliary,
        must: &["dc"],
        may: &[],
    },
    ObjectClass {
        name: "subentry",
        oid: "2.5.17.0",
        sup: Some("top"),
        kind: ObjectClassKind::Structural,
        must: &["cn", "subtreeSpecification"],
        may: &[],
    },
    ObjectClass {
        name: "subschema",
        oid: "2.5.20.1",
        sup: None,
        kind: ObjectClassKind::Auxiliary,
        must: &[],
        may: &[
            "objectClasses",
            "attributeTypes",
            "matchingRules",
            "ldapSyntaxes",
        ],
    },
    ObjectClass {
        name: "extensibleObject",
        oid: "1.3.6.1.4.1.1466.101.120.111",
        sup: Some("top"),
        kind: ObjectClassKind::Auxiliary,
        must: &[],
        may: &[],
    },
    ObjectClass {
        name: "user",
        oid: "2.25.64526643283590733212325265342552808389.1.1",
        sup: Some("top"),
        kind: ObjectClassKind::Auxiliary,
        must: &[],
        may: &[
            "userPrincipalName",
            "sAMAccountName",
            "department",
            "company",
            "co",
        ],
    },
    ObjectClass {
        name: "contact",
        oid: "2.25.64526643283590733212325265342552808389.1.2",
        sup: Some("top"),
        kind: ObjectClassKind::Auxiliary,
        must: &[],
        may: GATEWAY_AUX_MAY,
    },
    // RFC 4519 §3.5. MUST member as the RFC says; an empty Entra group is served without
    // one (the gateway publishes what Graph holds, CONTRACT §5).
    ObjectClass {
        name: "groupOfNames",
        oid: "2.5.6.9",
        sup: Some("top"),
        kind: ObjectClassKind::Structural,
        must: &["member", "cn"],
        may: &[
            "businessCategory",
            "seeAlso",
            "owner",
            "ou",
            "o",
            "description",
        ],
    },
    // AD's `group` class name, as an auxiliary of the gateway's arc (like `user`): what AD
    // clients filter groups by (CONTRACT §9).
    ObjectClass {
        name: "group",
        oid: "2.25.64526643283590733212325265342552808389.1.3",
        sup: Some("top"),
        kind: ObjectClassKind::Auxiliary,
        must: &[],
        may: &["mail", "uid"],
    },
];

/// The syntaxes referenced by the attribute table, for `ldapSyntaxes` (RFC 4517 §3.3).
const SYNTAXES: &[(&str, &str)] = &[
    ("1.3.6.1.4.1.1466.115.121.1.3", "Attribute Type Description"),
    ("1.3.6.1.4.1.1466.115.121.1.4", "Audio"),
    ("1.3.6.1.4.1.1466.115.121.1.5", "Binary"),
    ("1.3.6.1.4.1.1466.115.121.1.6", "Bit String"),
    ("1.3.6.1.4.1.1466.115.121.1.7", "Boolean"),
    ("1.3.6.1.4.1.1466.115.121.1.8", "Certificate"),
    ("1.3.6.1.4.1.1466.115.121.1.9", "Certificate List"),
    ("1.3.6.1.4.1.1466.115.121.1.10", "Certificate Pair"),
    ("1.3.6.1.4.1.1466.115.121.1.11", "Country String"),
    ("1.3.6.1.4.1.1466.115.121.1.12", "DN"),
    ("1.3.6.1.4.1.1466.115.121.1.13", "Data Quality Syntax"),
    ("1.3.6.1.4.1.1466.115.121.1.14", "Delivery Method"),
    ("1.3.6.1.4.1.1466.115.121.1.15", "Directory String"),
    ("1.3.6.1.4.1.1466.115.121.1.19", "DSA Quality Syntax"),
    ("1.3.6.1.4.1.1466.115.121.1.21", "Enhanced Guide"),
    (
        "1.3.6.1.4.1.1466.115.121.1.22",
        "Facsimile Telephone Number",
    ),
    ("1.3.6.1.4.1.1466.115.121.1.23", "Fax"),
    ("1.3.6.1.4.1.1466.115.121.1.24", "Generalized Time"),
    ("1.3.6.1.4.1.1466.115.121.1.25", "Guide"),
    ("1.3.6.1.4.1.1466.115.121.1.26", "IA5 String"),
    ("1.3.6.1.4.1.1466.115.121.1.27", "INTEGER"),
    ("1.3.6.1.4.1.1466.115.121.1.28", "JPEG"),
    ("1.3.6.1.4.1.1466.115.121.1.30", "Matching Rule Description"),
    ("1.3.6.1.4.1.1466.115.121.1.34", "Name And Optional UID"),
    ("1.3.6.1.4.1.1466.115.121.1.36", "Numeric String"),
    ("1.3.6.1.4.1.1466.115.121.1.37", "Object Class Description"),
    ("1.3.6.1.4.1.1466.115.121.1.38", "OID"),
    ("1.3.6.1.4.1.1466.115.121.1.39", "Other Mailbox"),
    ("1.3.6.1.4.1.1466.115.121.1.40", "Octet String"),
    ("1.3.6.1.4.1.1466.115.121.1.41", "Postal Address"),
    ("1.3.6.1.4.1.1466.115.121.1.42", "Protocol Information"),
    ("1.3.6.1.4.1.1466.115.121.1.43", "Presentation Address"),
    ("1.3.6.1.4.1.1466.115.121.1.44", "Printable String"),
    ("1.3.6.1.4.1.1466.115.121.1.45", "Subtree Specification"),
    ("1.3.6.1.4.1.1466.115.121.1.49", "Supported Algorithm"),
    ("1.3.6.1.4.1.1466.115.121.1.50", "Telephone Number"),
    (
        "1.3.6.1.4.1.1466.115.121.1.51",
        "Teletex Terminal Identifier",
    ),
    ("1.3.6.1.4.1.1466.115.121.1.52", "Telex Number"),
    ("1.3.6.1.4.1.1466.115.121.1.54", "LDAP Syntax Description"),
    ("1.3.6.1.1.16.1", "UUID"),
];

fn quoted_list(names: &[&str]) -> String {
    match names {
        [one] => format!("'{one}'"),
        many => format!(
            "( {} )",
            many.iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

fn oid_list(names: &[&str]) -> String {
    match names {
        [one] => (*one).to_string(),
        many => format!("( {} )", many.join(" $ ")),
    }
}

impl AttributeType {
    /// The RFC 4512 §4.1.2 AttributeTypeDescription published in `cn=Subschema`.
    pub fn description(&self) -> String {
        let mut names = vec![self.name];
        names.extend_from_slice(self.aliases);
        let mut out = format!("( {} NAME {}", self.oid, quoted_list(&names));
        if let Some(sup) = self.sup {
            out.push_str(&format!(" SUP {sup}"));
        }
        if let Some((rule, _)) = self.equality.rule() {
            out.push_str(&format!(" EQUALITY {rule}"));
        }
        if let Some((rule, _)) = self.ordering.rule() {
            out.push_str(&format!(" ORDERING {rule}"));
        }
        if let Some((rule, _)) = self.substrings.rule() {
            out.push_str(&format!(" SUBSTR {rule}"));
        }
        out.push_str(&format!(" SYNTAX {}", self.syntax));
        if self.single_value {
            out.push_str(" SINGLE-VALUE");
        }
        if self.no_user_modification {
            out.push_str(" NO-USER-MODIFICATION");
        }
        match self.usage {
            Usage::UserApplications => {}
            Usage::DirectoryOperation => out.push_str(" USAGE directoryOperation"),
            Usage::DsaOperation => out.push_str(" USAGE dSAOperation"),
        }
        out.push_str(" )");
        out
    }
}

impl ObjectClass {
    /// The RFC 4512 §4.1.1 ObjectClassDescription published in `cn=Subschema`.
    pub fn description(&self) -> String {
        let mut out = format!("( {} NAME '{}'", self.oid, self.name);
        if let Some(sup) = self.sup {
            out.push_str(&format!(" SUP {sup}"));
        }
        out.push_str(match self.kind {
            ObjectClassKind::Abstract => " ABSTRACT",
            ObjectClassKind::Structural => " STRUCTURAL",
            ObjectClassKind::Auxiliary => " AUXILIARY",
        });
        if !self.must.is_empty() {
            out.push_str(&format!(" MUST {}", oid_list(self.must)));
        }
        if !self.may.is_empty() {
            out.push_str(&format!(" MAY {}", oid_list(self.may)));
        }
        out.push_str(" )");
        out
    }
}

/// Every matching rule the attribute table uses, with the syntax it asserts
/// (RFC 4517 §4.2), as `matchingRules` values.
fn matching_rule_descriptions(known: &dyn Fn(&AttributeType) -> bool) -> Vec<String> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for at in ATTRIBUTES.iter().chain(declared()).filter(|at| known(at)) {
        for rule in [at.equality.rule(), at.ordering.rule(), at.substrings.rule()]
            .into_iter()
            .flatten()
        {
            if seen.contains(&rule) {
                continue;
            }
            seen.push(rule);
            let (name, oid) = rule;
            let syntax = assertion_syntax(name, at.syntax);
            out.push(format!("( {oid} NAME '{name}' SYNTAX {syntax} )"));
        }
    }
    out
}

/// The assertion syntax of a matching rule (RFC 4517 §4.2; RFC 4530 for UUID).
fn assertion_syntax(rule: &str, attribute_syntax: &'static str) -> &'static str {
    if rule.ends_with("SubstringsMatch") {
        "1.3.6.1.4.1.1466.115.121.1.58"
    } else if rule == "objectIdentifierFirstComponentMatch" {
        OID_SYNTAX
    } else {
        attribute_syntax
    }
}

/// The `cn=Subschema` subentry (RFC 4512 §4.2): every attribute type the gateway knows
/// (CONTRACT §6: standard, mapped by default, or an AD-style one `known` says the
/// configured mapping serves), object class, matching rule and syntax the gateway serves
/// (python-ldap3 rejects names missing here, CONTRACT §8), with its own operational
/// attributes (CONTRACT §4).
pub fn subschema_entry(known: &dyn Fn(&AttributeType) -> bool) -> super::entry::Entry {
    let mut entry = super::entry::Entry::new("cn=Subschema");
    let add = |entry: &mut super::entry::Entry, name: &str, values: Vec<String>| {
        if let Some(at) = attribute(name) {
            entry.push(at, values);
        }
    };
    add(
        &mut entry,
        "objectClass",
        vec!["top".into(), "subentry".into(), "subschema".into()],
    );
    add(&mut entry, "cn", vec!["Subschema".into()]);
    add(&mut entry, "structuralObjectClass", vec!["subentry".into()]);
    add(&mut entry, "entryDN", vec!["cn=Subschema".into()]);
    add(&mut entry, "hasSubordinates", vec!["FALSE".into()]);
    add(&mut entry, "subschemaSubentry", vec!["cn=Subschema".into()]);
    add(
        &mut entry,
        "ldapSyntaxes",
        SYNTAXES
            .iter()
            .map(|(oid, desc)| format!("( {oid} DESC '{desc}' )"))
            .collect(),
    );
    add(
        &mut entry,
        "matchingRules",
        matching_rule_descriptions(known),
    );
    add(
        &mut entry,
        "attributeTypes",
        ATTRIBUTES
            .iter()
            .chain(declared())
            .filter(|at| known(at))
            .map(AttributeType::description)
            .collect(),
    );
    add(
        &mut entry,
        "objectClasses",
        OBJECT_CLASSES
            .iter()
            .map(ObjectClass::description)
            .collect(),
    );
    entry
}

/// Attribute types that a stock OpenLDAP 2.5 slapd (core, cosine, inetorgperson loaded)
/// lacks and `openldap_schema` defines.
const OPENLDAP_EXTRA_ATTRIBUTES: &[&str] = &[
    "userPrincipalName",
    "sAMAccountName",
    "department",
    "company",
];

/// A slapd `.schema` file for an OpenLDAP 2.5 server that already loads core, cosine and
/// inetorgperson: the AD-style attribute types and the auxiliary `user` and `contact`
/// classes, with the matching rules the gateway uses (including ORDERING
/// caseIgnoreOrderingMatch). Used by the differential test against slapd.
///
/// Differences that remain, because slapd cannot redefine core attribute types:
/// - cn, sn, givenName, uid, o, ou, l, st, title, initials, c, street, description,
///   postalCode, physicalDeliveryOfficeName, co, mail, displayName, employeeNumber,
///   preferredLanguage and the other standard text attributes have no ORDERING in
///   core/cosine/inetorgperson.schema, so slapd answers `>=`/`<=` on them Undefined
///   while the gateway orders them with caseIgnoreOrderingMatch (CONTRACT §6);
/// - dnQualifier orders in both; dc and mail are caseIgnoreIA5 in both (the gateway
///   also orders them caseIgnore);
/// - postalAddress, registeredAddress, homePostalAddress use caseIgnoreListMatch in
///   slapd and plain caseIgnore in the gateway (no Graph property maps to them);
/// - uniqueMember uses uniqueMemberMatch in slapd, distinguishedNameMatch here;
///   x500UniqueIdentifier bitStringMatch there, octetStringMatch here;
/// - userCertificate and cACertificate (certificateExactMatch), presentationAddress
///   (presentationAddressMatch) and protocolInformation (protocolInformationMatch) have
///   no equality rule here, so only presence tests them (the gateway serves no values);
/// - phone attributes in `e164` mode match across formats (CONTRACT §7), slapd only
///   with telephoneNumberMatch: compare with `[phone] match = "rfc4517"`.
pub fn openldap_schema() -> String {
    let mut out = String::from(
        "# ldap-graph-gateway schema for OpenLDAP 2.5 (needs core, cosine, inetorgperson).\n\
         # Generated by ldap_graph_gateway::directory::schema::openldap_schema().\n\n",
    );
    for name in OPENLDAP_EXTRA_ATTRIBUTES {
        if let Some(at) = attribute(name) {
            out.push_str(&format!("attributetype {}\n\n", at.description()));
        }
    }
    for name in ["user", "contact"] {
        if let Some(oc) = object_class(name) {
            out.push_str(&format!("objectclass {}\n\n", oc.description()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_types_every_entry_carries_are_built_in() {
        let t = entry_types();
        let names = [
            t.object_class.name,
            t.uid.name,
            t.entry_uuid.name,
            t.entry_dn.name,
            t.has_subordinates.name,
            t.structural_object_class.name,
            t.subschema_subentry.name,
        ];
        assert_eq!(
            names,
            [
                "objectClass",
                "uid",
                "entryUUID",
                "entryDN",
                "hasSubordinates",
                "structuralObjectClass",
                "subschemaSubentry"
            ]
        );
    }

    #[test]
    fn a_supertype_resolved_once_is_the_one_its_name_looks_up() {
        for at in attributes() {
            assert_eq!(
                at.parent().map(|p| p.name),
                at.sup.and_then(attribute).map(|p| p.name),
                "{}",
                at.name
            );
        }
    }

    #[test]
    fn the_lookup_table_finds_what_a_scan_of_every_type_finds() {
        let scan = |name: &str| {
            ATTRIBUTES.iter().find(|at| {
                at.name.eq_ignore_ascii_case(name)
                    || at.oid == name
                    || at.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            })
        };
        for at in ATTRIBUTES {
            for key in [at.name, at.oid].iter().chain(at.aliases) {
                for asked in [
                    key.to_string(),
                    key.to_ascii_uppercase(),
                    key.to_ascii_lowercase(),
                ] {
                    let found = attribute(&asked).map(|a| a.name);
                    assert_eq!(found, scan(&asked).map(|a| a.name), "{asked}");
                }
            }
        }
        let long = "x".repeat(100);
        assert!(attribute(&long).is_none() && attribute("").is_none());
        assert!(attribute("nosuchattribute").is_none());
    }

    #[test]
    fn lookup_by_name_alias_and_oid_is_case_insensitive() {
        let cn = attribute("cn").unwrap();
        assert!(std::ptr::eq(attribute("COMMONNAME").unwrap(), cn));
        assert!(std::ptr::eq(attribute("2.5.4.3").unwrap(), cn));
        assert_eq!(attribute("gn").unwrap().name, "givenName");
        assert_eq!(attribute("Surname").unwrap().name, "sn");
        assert_eq!(attribute("mobileTelephoneNumber").unwrap().name, "mobile");
        assert_eq!(attribute("homeTelephoneNumber").unwrap().name, "homePhone");
        assert_eq!(attribute("fax").unwrap().name, "facsimileTelephoneNumber");
        assert!(attribute("nosuchattribute").is_none());
    }

    #[test]
    fn names_and_oids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for at in ATTRIBUTES {
            assert!(seen.insert(at.oid), "duplicate OID {}", at.oid);
            for n in std::iter::once(&at.name).chain(at.aliases.iter()) {
                assert!(
                    seen.insert(Box::leak(n.to_ascii_lowercase().into_boxed_str())),
                    "duplicate name {n}"
                );
            }
        }
        let mut oc_seen = std::collections::HashSet::new();
        for oc in OBJECT_CLASSES {
            assert!(oc_seen.insert(oc.oid));
            assert!(oc_seen.insert(oc.name));
        }
    }

    #[test]
    fn every_class_attribute_and_sup_is_known() {
        for oc in OBJECT_CLASSES {
            for a in oc.must.iter().chain(oc.may.iter()) {
                assert!(attribute(a).is_some(), "{} names unknown {a}", oc.name);
            }
            if let Some(sup) = oc.sup {
                assert!(object_class(sup).is_some());
            }
        }
        for at in ATTRIBUTES {
            if let Some(sup) = at.sup {
                assert!(attribute(sup).is_some());
            }
        }
    }

    #[test]
    fn declared_names_get_a_stable_type_and_are_published_where_known() {
        let at = declare("gwTestSiteCode", DeclaredSyntax::DirectoryString).unwrap();
        assert!(std::ptr::eq(attribute("GWTESTSITECODE").unwrap(), at));
        assert!(std::ptr::eq(
            declare("gwtestsitecode", DeclaredSyntax::DirectoryString).unwrap(),
            at
        ));
        assert!(declare("gwTestSiteCode", DeclaredSyntax::Integer).is_err());
        assert!(declare("9lives", DeclaredSyntax::DirectoryString).is_err());
        assert!(declare("with space", DeclaredSyntax::DirectoryString).is_err());
        // A built-in name is the built-in type, whatever is asked.
        assert!(std::ptr::eq(
            declare("cn", DeclaredSyntax::Integer).unwrap(),
            attribute("cn").unwrap()
        ));
        assert_eq!(at.origin, Origin::Custom);
        assert!(!at.always_known());
        assert!(at.oid.starts_with(GATEWAY_OID_ARC));
        assert_eq!(at.oid, declared_oid("GWTESTSITECODE"));
        assert_eq!(
            at.description(),
            format!(
                "( {} NAME 'gwTestSiteCode' EQUALITY caseIgnoreMatch ORDERING caseIgnoreOrderingMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
                at.oid
            )
        );
        let n = declare("gwTestLevel", DeclaredSyntax::Integer).unwrap();
        assert_eq!(n.equality, Equality::Integer);
        let published = |known: &dyn Fn(&AttributeType) -> bool| {
            subschema_entry(known)
                .get(attribute("attributeTypes").unwrap())
                .unwrap()
                .to_vec()
        };
        let with = published(&|a: &AttributeType| a.always_known() || std::ptr::eq(a, at));
        assert!(with.iter().any(|d| d.contains("'gwTestSiteCode'")));
        let without = published(&|a: &AttributeType| a.always_known());
        assert!(!without.iter().any(|d| d.contains("'gwTestSiteCode'")));
        assert_eq!(
            DeclaredSyntax::parse(Some("directoryString"), Some("caseExactMatch")),
            Ok(DeclaredSyntax::DirectoryStringCaseExact)
        );
        assert!(DeclaredSyntax::parse(Some("integer"), Some("caseIgnoreMatch")).is_err());
        assert!(DeclaredSyntax::parse(Some("jpeg"), None).is_err());
        assert_eq!(
            DeclaredSyntax::parse(None, None),
            Ok(DeclaredSyntax::DirectoryString)
        );
    }

    #[test]
    fn only_default_mapped_ad_types_are_always_known() {
        let mapping = super::super::mapping::Mapping::default_mapping();
        let mapped = |at: &AttributeType| {
            mapping
                .users
                .iter()
                .chain(mapping.contacts.iter())
                .any(|m| std::ptr::eq(m.attr, at))
        };
        for at in ATTRIBUTES {
            match at.origin {
                Origin::AdMapped => assert!(mapped(at), "{} is not mapped", at.name),
                Origin::AdOptional | Origin::AdCompat | Origin::Custom => {
                    assert!(!mapped(at), "{} is mapped", at.name)
                }
                Origin::Standard => {}
            }
        }
        for name in ["ipPhone", "otherTelephone", "otherMobile", "proxyAddresses"] {
            assert!(!attribute(name).unwrap().always_known(), "{name}");
        }
        for name in ["department", "sAMAccountName", "cn", "mail", "entryUUID"] {
            assert!(attribute(name).unwrap().always_known(), "{name}");
        }
        // Published classes only name published types.
        for oc in OBJECT_CLASSES {
            for a in oc.must.iter().chain(oc.may.iter()) {
                assert!(
                    attribute(a).unwrap().always_known(),
                    "{} names {a}",
                    oc.name
                );
            }
        }
    }

    #[test]
    fn rules_follow_openldap_and_contract() {
        let cn = attribute("cn").unwrap();
        assert_eq!(cn.sup, Some("name"));
        assert_eq!(cn.equality, Equality::CaseIgnore);
        assert_eq!(cn.ordering, Ordering::CaseIgnore);
        let fax = attribute("facsimileTelephoneNumber").unwrap();
        assert_eq!(fax.equality, Equality::None);
        assert_eq!(fax.substrings, Substrings::None);
        assert_eq!(attribute("mail").unwrap().equality, Equality::CaseIgnoreIa5);
        assert!(attribute("telephoneNumber").unwrap().is_phone());
        assert!(attribute("ipPhone").unwrap().is_phone());
        assert!(attribute("entryUUID").unwrap().operational);
        assert!(!attribute("cn").unwrap().operational);
        for at in ATTRIBUTES {
            if at.equality == Equality::CaseIgnore || at.equality == Equality::CaseIgnoreIa5 {
                assert_eq!(at.ordering, Ordering::CaseIgnore, "{}", at.name);
            }
        }
    }

    #[test]
    fn descriptions_are_rfc4512() {
        assert_eq!(
            attribute("cn").unwrap().description(),
            "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name EQUALITY caseIgnoreMatch \
             ORDERING caseIgnoreOrderingMatch SUBSTR caseIgnoreSubstringsMatch \
             SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )"
        );
        assert_eq!(
            object_class("person").unwrap().description(),
            "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) \
             MAY ( userPassword $ telephoneNumber $ seeAlso $ description ) )"
        );
        assert!(
            attribute("entryUUID")
                .unwrap()
                .description()
                .ends_with("SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )")
        );
    }

    #[test]
    fn subschema_lists_everything() {
        let e = subschema_entry(&AttributeType::always_known);
        let ats = e.get(attribute("attributeTypes").unwrap()).unwrap();
        let known: Vec<&AttributeType> = ATTRIBUTES.iter().filter(|a| a.always_known()).collect();
        assert_eq!(ats.len(), known.len());
        // CONTRACT §6: exactly the known types; AD-style ones nobody maps are unknown.
        for at in ATTRIBUTES {
            let published = ats
                .iter()
                .any(|d| d.starts_with(&format!("( {} NAME", at.oid)));
            assert_eq!(published, at.always_known(), "{}", at.name);
        }
        for d in ats {
            assert!(
                !d.contains("'ipPhone'") && !d.contains("'otherTelephone'"),
                "{d}"
            );
        }
        // A type a configured mapping serves is published (CONTRACT §6, §9).
        let ip_phone = attribute("ipPhone").unwrap();
        let served = subschema_entry(&|at| at.always_known() || std::ptr::eq(at, ip_phone));
        let served_ats = served.get(attribute("attributeTypes").unwrap()).unwrap();
        assert_eq!(served_ats.len(), known.len() + 1);
        assert!(served_ats.iter().any(|d| d.contains("'ipPhone'")));
        let ocs = e.get(attribute("objectClasses").unwrap()).unwrap();
        assert_eq!(ocs.len(), OBJECT_CLASSES.len());
        let mrs = e.get(attribute("matchingRules").unwrap()).unwrap();
        assert!(mrs.iter().any(|m| m.contains("'caseIgnoreOrderingMatch'")));
        assert!(mrs.iter().any(|m| m.contains("'telephoneNumberMatch'")));
        // every syntax used is published
        let syn = e.get(attribute("ldapSyntaxes").unwrap()).unwrap();
        for at in ATTRIBUTES {
            assert!(
                syn.iter()
                    .any(|s| s.starts_with(&format!("( {} ", at.syntax))),
                "syntax of {}",
                at.name
            );
        }
        let oc = e.get(attribute("objectClass").unwrap()).unwrap();
        assert_eq!(oc, ["top", "subentry", "subschema"]);
    }

    #[test]
    fn openldap_schema_defines_extras_with_ordering() {
        let s = openldap_schema();
        assert!(s.contains("attributetype ( 1.2.840.113556.1.2.141 NAME 'department' EQUALITY caseIgnoreMatch ORDERING caseIgnoreOrderingMatch SUBSTR caseIgnoreSubstringsMatch"));
        // Unmapped AD-style types are unknown to the gateway, so slapd must not know them.
        assert!(!s.contains("'ipPhone'"));
        assert!(s.contains("objectclass ( 2.25.64526643283590733212325265342552808389.1.1 NAME 'user' SUP top AUXILIARY"));
        assert!(!s.contains("NAME ( 'cn'"));
    }
}

#[cfg(test)]
mod dump {
    /// Writes the slapd schema where `LGG_DUMP_SCHEMA` points (for manual slaptest runs).
    #[test]
    fn dump_openldap_schema_when_asked() {
        if let Ok(path) = std::env::var("LGG_DUMP_SCHEMA") {
            std::fs::write(&path, super::openldap_schema()).unwrap();
            let all: Vec<String> = super::attributes()
                .iter()
                .map(|a| a.description())
                .collect();
            std::fs::write(format!("{path}.all"), all.join("\n")).unwrap();
        }
    }
}
