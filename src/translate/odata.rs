//! OData literal quoting and URL encoding for `$filter` and `$search` (GRAPH.md §5).
//! Owns escaping only; which clauses Graph accepts is decided in `plan`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters is encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query-string value (space as `%20`, `+` as `%2B`, `#` as `%23`).
pub fn encode_query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// An OData string literal: single quotes, inner quotes doubled (GRAPH.md §5).
pub fn string_literal(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_doubles_quotes() {
        assert_eq!(string_literal("O'Brien"), "'O''Brien'");
    }

    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(
            encode_query_value("a+b #&%/'"),
            "a%2Bb%20%23%26%25%2F%27"
        );
    }
}
