//! The BER element header (X.690 §8.1.2-8.1.3) as LDAP allows it: a one-byte identifier and
//! a definite length of at most four length octets. Shared by the PDU framing and the
//! control decoders; it decodes no contents.

/// What the header at the start of a byte string says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// More bytes are needed to read the length.
    Incomplete,
    /// The indefinite form (0x80), which RFC 4511 §5.1 forbids.
    Indefinite,
    /// A length field of this many octets (more than four).
    TooLong(usize),
    /// Identifier and length octets take `header` bytes; the contents `content` bytes.
    Definite { header: usize, content: usize },
}

/// Reads the identifier and length at the start of `bytes`. High tag numbers (low
/// identifier bits 11111) are not LDAP's and are left to the caller to refuse.
pub fn header(bytes: &[u8]) -> Header {
    let Some(&first) = bytes.get(1) else {
        return Header::Incomplete;
    };
    if first & 0x80 == 0 {
        return Header::Definite {
            header: 2,
            content: usize::from(first),
        };
    }
    let n = usize::from(first & 0x7f);
    if n == 0 {
        return Header::Indefinite;
    }
    if n > 4 {
        return Header::TooLong(n);
    }
    let Some(octets) = bytes.get(2..2 + n) else {
        return Header::Incomplete;
    };
    Header::Definite {
        header: 2 + n,
        content: octets
            .iter()
            .fold(0usize, |len, b| (len << 8) | usize::from(*b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms() {
        assert_eq!(
            header(&[0x30, 0x05]),
            Header::Definite {
                header: 2,
                content: 5
            }
        );
        assert_eq!(
            header(&[0x30, 0x82, 0x01, 0x00]),
            Header::Definite {
                header: 4,
                content: 256
            }
        );
    }

    #[test]
    fn incomplete_indefinite_and_oversized_lengths() {
        assert_eq!(header(&[0x30]), Header::Incomplete);
        assert_eq!(header(&[0x30, 0x82, 0x01]), Header::Incomplete);
        assert_eq!(header(&[0x30, 0x80]), Header::Indefinite);
        assert_eq!(header(&[0x30, 0x85, 1, 2, 3, 4, 5]), Header::TooLong(5));
    }
}
