//! The LDAP edge: listeners, TLS, sessions, controls and the PDU-level protocol.
//! It turns requests into calls on `search::Directory` and results into PDUs; it does
//! not know about Graph.
//!
//! Arrows point one way: `server` → `session` → `search_op`/`compare_op` → `answer` →
//! `controls`/`paged`/`reply`; every file may use `gateway` (shared data), none uses
//! `server` or `session`.

pub mod accounts;
pub mod answer;
pub mod ber;
pub mod codec;
pub mod compare_op;
pub mod controls;
pub mod entry_out;
pub mod gateway;
pub mod outbox;
pub mod paged;
pub mod proxy_protocol;
pub mod reply;
pub mod rootdse;
pub mod search_op;
pub mod server;
pub mod session;
pub mod throttle;
pub mod tls;
