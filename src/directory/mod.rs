//! The directory model: the tree, attribute types and their matching rules, the mapping
//! from Graph objects to LDAP entries, and local filter evaluation. Pure logic: no I/O.

pub mod compat;
pub mod entry;
pub mod filter;
pub mod group;
pub mod mapping;
pub mod matching;
pub mod needed;
pub mod phone;
pub mod schema;
pub mod tree;

/// The two Graph collections the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collection {
    /// `/users`, served under `ou=users`.
    Users,
    /// `/contacts` (organizational contacts), served under `ou=contacts`.
    Contacts,
}

impl Collection {
    /// The Graph path segment: `users` or `contacts`.
    pub fn graph_path(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Contacts => "contacts",
        }
    }

    /// The RDN value of the organizational unit that holds this collection.
    pub fn ou(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Contacts => "contacts",
        }
    }
}
