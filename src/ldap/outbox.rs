//! What an operation running off the connection task hands back to it through the
//! connection's channel. Only the connection task writes to the socket and owns the
//! paged-results store; operations never touch either.

use ldap3_proto::proto::LdapMsg;

use super::paged::PagedState;

/// One item for the connection task.
pub enum Out {
    /// A PDU to write.
    Msg(LdapMsg),
    /// The operation `msgid` has ended, with its final PDU to write (`None` when it was
    /// abandoned or its connection went away).
    Finished(i32, Option<LdapMsg>),
    /// Paged-results state to keep for the next page request.
    Paged(Vec<u8>, Box<PagedState>),
}
