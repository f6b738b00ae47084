//! The one error type that crosses module boundaries towards the LDAP edge: an LDAP
//! result code plus a message an administrator can act on. Turned into a response PDU
//! only at the edge (`ldap::reply::error_result`).

use ldap3_proto::LdapResultCode;

/// A failed operation, as the client will see it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} (LDAP result {code:?})")]
pub struct LdapError {
    pub code: LdapResultCode,
    pub message: String,
}

impl LdapError {
    pub fn new(code: LdapResultCode, message: impl Into<String>) -> Self {
        LdapError {
            code,
            message: message.into(),
        }
    }
}
