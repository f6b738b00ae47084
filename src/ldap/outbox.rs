//! What an operation running off the connection task hands back to it through the
//! connection's channel. Only the connection task writes to the socket and owns the
//! paged-results store; operations never touch either.

use ldap3_proto::proto::LdapMsg;

use super::paged::PagedState;

/// One item for the connection task. PDUs are boxed: the channel's storage is sized by
/// the largest item, and a bare `LdapMsg` would make it several KiB per connection.
pub enum Out {
    /// A PDU to write.
    Msg(Box<LdapMsg>),
    /// The operation `msgid` has ended, with its final PDU to write (`None` when it was
    /// abandoned or its connection went away).
    Finished(i32, Option<Box<LdapMsg>>),
    /// Paged-results state to keep for the next page request.
    Paged(Vec<u8>, Box<PagedState>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_a_few_words() {
        // tokio's channel allocates its slots 32 at a time; keep each slot small.
        assert!(size_of::<Out>() <= 40, "{} bytes", size_of::<Out>());
    }
}
