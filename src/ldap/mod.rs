//! The LDAP edge: listeners, TLS, sessions, controls and the PDU-level protocol.
//! It turns requests into calls on `search::Directory` and results into PDUs; it does
//! not know about Graph.

pub mod accounts;
pub mod codec;
pub mod controls;
pub mod entry_out;
pub mod rootdse;
pub mod search_op;
pub mod server;
pub mod session;
pub mod tls;
