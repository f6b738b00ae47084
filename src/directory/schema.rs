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
}

impl AttributeType {
    /// True for attributes whose equality is telephoneNumberMatch (phone attributes).
    pub fn is_phone(&self) -> bool {
        self.equality == Equality::TelephoneNumber
    }
}

/// Looks an attribute type up by name, alias or OID, case-insensitively.
/// Attribute options (`cn;lang-de`) are not stripped here; callers decide.
pub fn attribute(name: &str) -> Option<&'static AttributeType> {
    ATTRIBUTES.iter().find(|at| {
        at.name.eq_ignore_ascii_case(name)
            || at.oid == name
            || at.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Every attribute type the gateway knows.
pub fn attributes() -> &'static [AttributeType] {
    ATTRIBUTES
}

const DIRECTORY_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const IA5_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const TELEPHONE_NUMBER: &str = "1.3.6.1.4.1.1466.115.121.1.50";

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
    }
}

const fn phone(
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
) -> AttributeType {
    AttributeType {
        name,
        aliases,
        oid,
        syntax: TELEPHONE_NUMBER,
        sup: None,
        equality: Equality::TelephoneNumber,
        substrings: Substrings::TelephoneNumber,
        ordering: Ordering::None,
        single_value: false,
        operational: false,
    }
}

/// The table. The directory-model owner completes it with every attribute type of the
/// core, cosine and inetOrgPerson schemas and the operational attributes of CONTRACT §4.
static ATTRIBUTES: &[AttributeType] = &[
    text("cn", &["commonName"], "2.5.4.3"),
    text("sn", &["surname"], "2.5.4.4"),
    text("givenName", &["gn"], "2.5.4.42"),
    text("displayName", &[], "2.16.840.1.113730.3.1.241"),
    text("uid", &["userid"], "0.9.2342.19200300.100.1.1"),
    text("userPrincipalName", &[], "1.2.840.113556.1.4.656"),
    AttributeType {
        syntax: IA5_STRING,
        equality: Equality::CaseIgnoreIa5,
        substrings: Substrings::CaseIgnoreIa5,
        ..text("mail", &["rfc822Mailbox"], "0.9.2342.19200300.100.1.3")
    },
    phone("telephoneNumber", &[], "2.5.4.20"),
    phone("mobile", &["mobileTelephoneNumber"], "0.9.2342.19200300.100.1.41"),
    phone("homePhone", &["homeTelephoneNumber"], "0.9.2342.19200300.100.1.20"),
    AttributeType {
        syntax: "1.3.6.1.4.1.1466.115.121.1.22",
        equality: Equality::None,
        substrings: Substrings::None,
        ..phone("facsimileTelephoneNumber", &["fax"], "2.5.4.23")
    },
    text("title", &[], "2.5.4.12"),
    text("department", &[], "1.2.840.113556.1.2.141"),
    text("company", &[], "1.2.840.113556.1.2.146"),
    text("o", &["organizationName"], "2.5.4.10"),
    text("physicalDeliveryOfficeName", &[], "2.5.4.19"),
    text("street", &["streetAddress"], "2.5.4.9"),
    text("l", &["localityName"], "2.5.4.7"),
    text("st", &["stateOrProvinceName"], "2.5.4.8"),
    text("postalCode", &[], "2.5.4.17"),
    text("co", &["friendlyCountryName"], "0.9.2342.19200300.100.1.43"),
    text("employeeNumber", &[], "2.16.840.1.113730.3.1.3"),
    text("preferredLanguage", &[], "2.16.840.1.113730.3.1.39"),
    text("sAMAccountName", &[], "1.2.840.113556.1.4.221"),
    text("ou", &["organizationalUnitName"], "2.5.4.11"),
    text("dc", &["domainComponent"], "0.9.2342.19200300.100.1.25"),
    AttributeType {
        syntax: "1.3.6.1.4.1.1466.115.121.1.38",
        equality: Equality::ObjectIdentifier,
        substrings: Substrings::None,
        ordering: Ordering::None,
        ..text("objectClass", &[], "2.5.4.0")
    },
    AttributeType {
        syntax: "1.3.6.1.1.16.1",
        equality: Equality::Uuid,
        substrings: Substrings::None,
        ordering: Ordering::Uuid,
        single_value: true,
        operational: true,
        ..text("entryUUID", &[], "1.3.6.1.1.16.4")
    },
];
