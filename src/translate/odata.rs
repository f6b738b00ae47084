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

/// One `$search` clause, `"property:text"`: inside the quotes `"` and `\` are escaped
/// with `\` (GRAPH.md §2); percent-encoding happens later with the rest of the value.
pub fn search_clause(property: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + property.len() + 3);
    out.push('"');
    out.push_str(property);
    out.push(':');
    for ch in text.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_doubles_quotes() {
        assert_eq!(string_literal("O'Brien"), "'O''Brien'");
    }

    #[test]
    fn search_clause_escapes_quote_and_backslash() {
        assert_eq!(
            search_clause("displayName", r#"a"b\c"#),
            r#""displayName:a\"b\\c""#
        );
    }

    #[test]
    fn literal_survives_encoding() {
        let lit = string_literal("O'Brien+1 #&%\\/\u{7}é");
        assert_eq!(
            encode_query_value(&lit),
            "%27O%27%27Brien%2B1%20%23%26%25%5C%2F%07%C3%A9%27"
        );
    }

    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(encode_query_value("a+b #&%/'"), "a%2Bb%20%23%26%25%2F%27");
    }
}
