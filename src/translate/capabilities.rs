//! What Graph's `$filter` and `$search` accept per collection, property and operator
//! (GRAPH.md §1 users, §3 orgContacts). Owns the capability table only; it does not
//! decide whether a clause is implied by an LDAP filter (see `pushdown`).

use crate::directory::Collection;

/// Whether Graph accepts an operator on a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Support {
    /// Works without extra parameters.
    Default,
    /// Needs `ConsistencyLevel: eventual` and `$count=true` (GRAPH.md "advanced query").
    Advanced,
    /// Not supported, not documented, or the sources disagree (GRAPH.md `[?]` cells).
    No,
}

/// The `$filter` operators the translator emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `p eq 'v'`, or `p/any(x:x eq 'v')` on a string collection.
    Eq,
    /// `p in ('a','b')`.
    In,
    /// `startsWith(p,'v')`, or `p/any(x:startsWith(x,'v'))` on a string collection.
    StartsWith,
    /// `p eq true` / `p eq false` on a Boolean (unquoted, GRAPH.md §1 "Literal forms").
    EqBoolean,
}

/// How a property behaves in `$search` (GRAPH.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSupport {
    /// Tokenized: each token matches as a word prefix (displayName).
    Tokenized,
    /// Falls back to `startsWith` on the whole value.
    PrefixFallback,
    /// Not used in `$search` by the translator.
    No,
}

/// The shape of a Graph property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyKind {
    /// A single string.
    String,
    /// A collection of strings, filtered through `any` (GRAPH.md §1).
    StringCollection,
    /// The object id, a GUID written as a string.
    Id,
    /// A Boolean (accountEnabled), compared with `FilterOp::EqBoolean` only.
    Boolean,
}

/// One row of the capability table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyCapabilities {
    pub name: &'static str,
    pub kind: PropertyKind,
    pub eq: Support,
    pub in_list: Support,
    pub starts_with: Support,
    pub search: SearchSupport,
}

impl PropertyCapabilities {
    /// Support of one operator on this property.
    pub fn support(&self, op: FilterOp) -> Support {
        match op {
            FilterOp::Eq | FilterOp::EqBoolean => self.eq,
            FilterOp::In => self.in_list,
            FilterOp::StartsWith => self.starts_with,
        }
    }
}

use PropertyKind::{Id, String as Str, StringCollection as Coll};
use SearchSupport as S;
use Support::{Advanced as A, Default as D, No};

const fn row(
    name: &'static str,
    kind: PropertyKind,
    eq: Support,
    in_list: Support,
    starts_with: Support,
    search: SearchSupport,
) -> PropertyCapabilities {
    PropertyCapabilities {
        name,
        kind,
        eq,
        in_list,
        starts_with,
        search,
    }
}

/// GRAPH.md §1 (2025 S1 table). `[?]` cells are `No`: department, state, employeeId and
/// preferredLanguage `startsWith` (note 3). String collections get no `in` (user.md lists
/// none for businessPhones; otherMails is only "listed"). `$search` is used only on names:
/// displayName is tokenized, givenName/surname fall back to `startsWith` (GRAPH.md §2).
static USERS: &[PropertyCapabilities] = &[
    row("id", Id, D, D, No, S::No),
    row("displayName", Str, D, D, D, S::Tokenized),
    row("givenName", Str, D, D, D, S::PrefixFallback),
    row("surname", Str, D, D, D, S::PrefixFallback),
    row("mail", Str, D, D, D, S::No),
    row("userPrincipalName", Str, D, D, D, S::No),
    row("mailNickname", Str, D, D, D, S::No),
    // Note 2: the 2025 S1 table marks `any` eq/startsWith Advanced; no `in`.
    row("businessPhones", Coll, A, No, A, S::No),
    row("mobilePhone", Str, A, A, A, S::No),
    row("faxNumber", Str, A, A, A, S::No),
    row("jobTitle", Str, D, D, D, S::No),
    row("department", Str, D, D, No, S::No),
    row("companyName", Str, A, A, A, S::No),
    row("officeLocation", Str, A, A, A, S::No),
    row("streetAddress", Str, A, A, A, S::No),
    row("city", Str, D, D, D, S::No),
    row("state", Str, D, D, No, S::No),
    row("postalCode", Str, A, A, A, S::No),
    row("country", Str, D, D, D, S::No),
    row("employeeId", Str, D, D, No, S::No),
    row("userType", Str, D, D, No, S::No),
    // CONTRACT §9: userAccountControl's bitwise rules decide accountEnabled.
    row("accountEnabled", PropertyKind::Boolean, D, D, No, S::No),
    row("otherMails", Coll, D, No, D, S::No),
    row("proxyAddresses", Coll, D, No, D, S::No),
    row("preferredLanguage", Str, A, A, No, S::No),
    row("onPremisesSamAccountName", Str, A, A, A, S::No),
    row("usageLocation", Str, D, D, D, S::No),
    row("imAddresses", Coll, D, No, D, S::No),
];

/// GRAPH.md §3 (S1 orgContact table, S8). `in` follows `eq` (S1: "`in` works by default
/// wherever `eq` works by default"). `phones` and `addresses` are not filterable.
static CONTACTS: &[PropertyCapabilities] = &[
    row("id", Id, D, D, No, S::No),
    row("displayName", Str, D, D, D, S::Tokenized),
    row("givenName", Str, D, D, D, S::No),
    row("surname", Str, D, D, D, S::No),
    row("mail", Str, D, D, D, S::No),
    row("mailNickname", Str, D, D, D, S::No),
    row("jobTitle", Str, D, D, D, S::No),
    row("department", Str, D, D, D, S::No),
    row("companyName", Str, A, A, A, S::No),
    row("proxyAddresses", Coll, D, No, D, S::No),
];

/// The capabilities of a Graph property in a collection; `None` when `$filter` cannot use
/// it at all (GRAPH.md §1: "Properties not listed in the S1 table don't support `$filter`").
pub fn property(c: Collection, name: &str) -> Option<&'static PropertyCapabilities> {
    let table = match c {
        Collection::Users => USERS,
        Collection::Contacts => CONTACTS,
    };
    table.iter().find(|p| p.name == name)
}

/// Support of `op` on `name` in collection `c` (`No` for unknown properties).
pub fn support(c: Collection, name: &str, op: FilterOp) -> Support {
    property(c, name).map_or(Support::No, |p| p.support(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_need_advanced_and_contacts_phones_are_absent() {
        assert_eq!(
            support(Collection::Users, "businessPhones", FilterOp::Eq),
            Support::Advanced
        );
        assert_eq!(
            support(Collection::Users, "businessPhones", FilterOp::In),
            Support::No
        );
        assert_eq!(
            support(Collection::Users, "mobilePhone", FilterOp::StartsWith),
            Support::Advanced
        );
        assert!(property(Collection::Contacts, "phones").is_none());
        assert!(property(Collection::Contacts, "mobilePhone").is_none());
    }

    #[test]
    fn disputed_cells_are_unsupported() {
        for p in ["department", "state", "employeeId", "preferredLanguage"] {
            assert_eq!(
                support(Collection::Users, p, FilterOp::StartsWith),
                Support::No,
                "{p}"
            );
        }
        assert_eq!(
            support(Collection::Users, "id", FilterOp::StartsWith),
            Support::No
        );
    }
}
