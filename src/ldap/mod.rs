//! The LDAP edge: listeners, TLS, sessions, controls and the PDU-level protocol.
pub mod controls;
