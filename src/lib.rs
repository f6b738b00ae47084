//! ldap-graph-gateway: an LDAP server whose directory lives in Microsoft Graph.
//!
//! Every LDAP search is translated at request time into Graph queries that ask for a
//! superset of the answer; the Graph objects are mapped to LDAP entries and the full
//! filter is re-checked locally. Nothing is stored on disk.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod app;
pub mod config;
pub mod directory;
pub mod error;
pub mod graph;
pub mod ldap;
pub mod metrics;
pub mod search;
pub mod translate;
