//! What the emulated `/users` and `/contacts` collections accept, property by property: the
//! capability tables of GRAPH.md §1 (user) and §3 (orgContact), `$select` sets and `$orderby`.
//! Pure data; parsing and evaluation live in `odata` and `search`.

/// Whether Graph serves a clause by default, only with the advanced query parameters
/// (`ConsistencyLevel: eventual` + `$count=true`, GRAPH.md vocabulary), or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Support {
    Default,
    Advanced,
    Unsupported,
}

/// The OData type family of a filterable property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Boolean,
    TextCollection,
}

/// How `$search="prop:…"` treats a property (GRAPH.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchSupport {
    /// Word-prefix match on tokens (displayName).
    Tokenized,
    /// Falls back to `startsWith` on the whole value.
    Prefix,
    Unsupported,
}

/// One row of a GRAPH.md capability table. For collections, `eq`/`starts_with`/`ends_with`/
/// `ordering` describe the operator inside `any(p: …)`, and `eq_null` describes `/$count eq 0`.
#[derive(Clone, Copy, Debug)]
pub struct PropertyCaps {
    pub name: &'static str,
    pub kind: ValueKind,
    pub eq: Support,
    pub is_in: Support,
    pub starts_with: Support,
    pub ends_with: Support,
    /// `ge`/`le`; on strings the sources disagree ([?] in GRAPH.md §1), so advanced at best.
    pub ordering: Support,
    pub eq_null: Support,
    pub search: SearchSupport,
    pub order_by: Support,
}

/// A directory collection served by the emulator.
#[derive(Debug)]
pub struct Resource {
    /// URL segment: `users` or `contacts`.
    pub segment: &'static str,
    /// Name used in `Request_UnsupportedQuery` messages: `User` or `OrgContact`.
    pub entity: &'static str,
    /// OData type name used in unknown-property messages.
    pub type_name: &'static str,
    pub filterable: &'static [PropertyCaps],
    /// Every property that may be `$select`ed.
    pub properties: &'static [&'static str],
    /// Returned without `$select`; `None` means every property.
    pub default_select: Option<&'static [&'static str]>,
    /// Selectable only on a single object; on the collection Graph answers 501 (GRAPH.md §4).
    pub single_object_only: &'static [&'static str],
    /// Collection-valued properties (an absent one is rendered as `[]`).
    pub collections: &'static [&'static str],
}

impl Resource {
    /// The capability row of a property, matched case-insensitively like Graph does.
    pub fn caps(&self, name: &str) -> Option<&'static PropertyCaps> {
        self.filterable
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The canonical spelling of a known property.
    pub fn property(&self, name: &str) -> Option<&'static str> {
        self.properties
            .iter()
            .chain(self.single_object_only.iter())
            .copied()
            .find(|p| p.eq_ignore_ascii_case(name))
    }

    pub fn is_collection(&self, name: &str) -> bool {
        self.collections.contains(&name)
    }
}

use SearchSupport::{Prefix, Tokenized};
use Support::{Advanced as A, Default as D, Unsupported as N};
use ValueKind::{Boolean, Text, TextCollection};

const NO_SEARCH: SearchSupport = SearchSupport::Unsupported;

/// One row of a resource's `$filter` capability table (users, contacts, groups).
#[allow(clippy::too_many_arguments)]
pub(crate) const fn row(
    name: &'static str,
    kind: ValueKind,
    eq: Support,
    is_in: Support,
    starts_with: Support,
    ends_with: Support,
    ordering: Support,
    eq_null: Support,
    search: SearchSupport,
    order_by: Support,
) -> PropertyCaps {
    PropertyCaps {
        name,
        kind,
        eq,
        is_in,
        starts_with,
        ends_with,
        ordering,
        eq_null,
        search,
        order_by,
    }
}

/// GRAPH.md §1, with the [?] cells resolved as the task says: ge/le on strings need the
/// advanced parameters; startsWith on state, employeeId and preferredLanguage is unsupported;
/// startsWith on department is default.
const USER_CAPS: &[PropertyCaps] = &[
    row("id", Text, D, D, N, N, N, N, NO_SEARCH, N),
    row("displayName", Text, D, D, D, N, A, A, Tokenized, D),
    row("givenName", Text, D, D, D, N, A, A, Prefix, N),
    row("surname", Text, D, D, D, N, A, A, Prefix, N),
    row("mail", Text, D, D, D, A, A, A, Prefix, N),
    row("userPrincipalName", Text, D, D, D, A, A, N, Prefix, D),
    row("mailNickname", Text, D, D, D, N, A, A, Prefix, N),
    row(
        "businessPhones",
        TextCollection,
        A,
        N,
        A,
        N,
        A,
        N,
        Prefix,
        N,
    ),
    row("mobilePhone", Text, A, A, A, N, A, A, Prefix, N),
    row("faxNumber", Text, A, A, A, N, A, A, Prefix, N),
    row("jobTitle", Text, D, D, D, N, A, A, Prefix, N),
    row("department", Text, D, D, D, N, A, A, Prefix, N),
    row("companyName", Text, A, A, A, N, A, A, Prefix, N),
    row("officeLocation", Text, A, A, A, N, A, A, Prefix, N),
    row("streetAddress", Text, A, A, A, N, A, A, Prefix, N),
    row("city", Text, D, D, D, N, A, A, Prefix, N),
    row("state", Text, D, D, N, N, A, A, Prefix, N),
    row("postalCode", Text, A, A, A, N, A, A, Prefix, N),
    row("country", Text, D, D, D, N, A, A, Prefix, N),
    row("employeeId", Text, D, D, N, N, A, A, Prefix, N),
    row("accountEnabled", Boolean, D, D, N, N, N, N, NO_SEARCH, N),
    row("userType", Text, D, D, N, N, N, A, NO_SEARCH, N),
    row("otherMails", TextCollection, D, D, D, A, A, A, NO_SEARCH, N),
    row(
        "proxyAddresses",
        TextCollection,
        D,
        N,
        D,
        A,
        A,
        A,
        NO_SEARCH,
        N,
    ),
    row("preferredLanguage", Text, A, A, N, N, A, A, NO_SEARCH, N),
    row(
        "onPremisesSamAccountName",
        Text,
        A,
        A,
        A,
        N,
        A,
        N,
        NO_SEARCH,
        N,
    ),
    row("usageLocation", Text, D, D, D, N, A, A, NO_SEARCH, N),
    row(
        "imAddresses",
        TextCollection,
        D,
        N,
        D,
        N,
        A,
        N,
        NO_SEARCH,
        N,
    ),
];

/// GRAPH.md §3 (orgContact). `phones` and `addresses` are absent: not filterable at all.
const CONTACT_CAPS: &[PropertyCaps] = &[
    row("id", Text, D, D, N, N, N, N, NO_SEARCH, N),
    row("displayName", Text, D, D, D, N, A, A, Tokenized, A),
    row("givenName", Text, D, D, D, N, A, A, Prefix, N),
    row("surname", Text, D, D, D, N, A, A, Prefix, N),
    row("mail", Text, D, D, D, N, A, A, Prefix, N),
    row("mailNickname", Text, D, D, D, N, A, A, Prefix, N),
    row("jobTitle", Text, D, D, D, N, A, A, Prefix, N),
    row("department", Text, D, D, D, N, A, A, Prefix, N),
    row("companyName", Text, A, A, A, N, A, A, Prefix, N),
    row(
        "proxyAddresses",
        TextCollection,
        D,
        N,
        D,
        N,
        A,
        A,
        NO_SEARCH,
        N,
    ),
    row(
        "onPremisesSyncEnabled",
        Boolean,
        D,
        D,
        N,
        N,
        N,
        A,
        NO_SEARCH,
        N,
    ),
];

pub static USERS: Resource = Resource {
    segment: "users",
    entity: "User",
    type_name: "microsoft.graph.user",
    filterable: USER_CAPS,
    properties: &[
        "id",
        "displayName",
        "givenName",
        "surname",
        "mail",
        "userPrincipalName",
        "mailNickname",
        "businessPhones",
        "mobilePhone",
        "faxNumber",
        "jobTitle",
        "department",
        "companyName",
        "officeLocation",
        "streetAddress",
        "city",
        "state",
        "postalCode",
        "country",
        "employeeId",
        "accountEnabled",
        "userType",
        "otherMails",
        "proxyAddresses",
        "preferredLanguage",
        "onPremisesSamAccountName",
        "usageLocation",
        "imAddresses",
        "onPremisesSecurityIdentifier",
        "onPremisesExtensionAttributes",
        crate::tenant::SAMPLE_EXTENSION,
        "createdDateTime",
        "employeeType",
        "onPremisesSyncEnabled",
        "onPremisesImmutableId",
        "externalUserState",
        "showInAddressList",
    ],
    // GRAPH.md §4: the default user property set.
    default_select: Some(&[
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    ]),
    single_object_only: &[
        "aboutMe",
        "birthday",
        "hireDate",
        "interests",
        "mySite",
        "pastProjects",
        "preferredName",
        "responsibilities",
        "schools",
        "skills",
        "mailboxSettings",
    ],
    collections: &[
        "businessPhones",
        "otherMails",
        "proxyAddresses",
        "imAddresses",
        "interests",
        "pastProjects",
        "responsibilities",
        "schools",
        "skills",
    ],
};

pub static CONTACTS: Resource = Resource {
    segment: "contacts",
    entity: "OrgContact",
    type_name: "microsoft.graph.orgContact",
    filterable: CONTACT_CAPS,
    properties: &[
        "id",
        "displayName",
        "givenName",
        "surname",
        "mail",
        "mailNickname",
        "jobTitle",
        "companyName",
        "department",
        "phones",
        "addresses",
        "proxyAddresses",
        "onPremisesSyncEnabled",
        "onPremisesLastSyncDateTime",
    ],
    default_select: None,
    single_object_only: &[],
    collections: &["phones", "addresses", "proxyAddresses"],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filterable_property_is_selectable() {
        for resource in [&USERS, &CONTACTS] {
            for caps in resource.filterable {
                assert_eq!(resource.property(caps.name), Some(caps.name));
                assert_eq!(
                    caps.kind == TextCollection,
                    resource.is_collection(caps.name),
                    "{}",
                    caps.name
                );
            }
        }
    }

    #[test]
    fn contact_phones_are_not_filterable() {
        assert!(CONTACTS.caps("phones").is_none());
        assert!(CONTACTS.caps("addresses").is_none());
        assert!(CONTACTS.property("phones").is_some());
    }
}
