//! What an operation running off the connection task hands back to it through the
//! connection's channel. Only the connection task writes to the socket and owns the
//! paged-results store; operations never touch either.

use bytes::Bytes;
use ldap3_proto::proto::LdapMsg;

use super::paged::PagedState;

/// One item for the connection task. The last PDU is boxed: the channel's storage is
/// sized by the largest item, and a bare `LdapMsg` would make it several KiB per connection.
pub enum Out {
    /// PDUs already encoded of the operation `msgid` (a search's entries, a chunk at a
    /// time); not written once the operation is abandoned.
    Pdus(i32, Bytes),
    /// The operation `msgid` has ended, with what is left to write (`None` when it was
    /// abandoned or its connection went away; not written either once it is abandoned).
    Finished(i32, Option<Box<Last>>),
    /// Paged-results state to keep for the next page request.
    Paged(Vec<u8>, Box<PagedState>),
}

/// The end of an operation: PDUs already encoded that come first (the last chunk of a
/// search's entries, so that a small answer is one item and one write) and its response.
pub struct Last {
    pub pdus: Bytes,
    pub msg: LdapMsg,
}

impl Last {
    /// An operation that ends with its response alone.
    pub fn response(msg: LdapMsg) -> Self {
        Last {
            pdus: Bytes::new(),
            msg,
        }
    }
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
