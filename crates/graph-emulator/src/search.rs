//! The emulator's `$search`: the `"prop:text"` clause syntax with `AND`/`OR` and parentheses,
//! displayName tokenization and word-prefix matching, and the startsWith fallback (GRAPH.md §2).
//! No I/O; header and `&` rules are applied by the server.

use super::errors::GraphError;
use super::odata::property;
use super::resource::{PropertyCaps, Resource, SearchSupport};
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Search {
    Or(Vec<Search>),
    And(Vec<Search>),
    Clause {
        caps: &'static PropertyCaps,
        text: String,
    },
}

fn syntax_error(position: usize, text: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Syntax error: character '{}' is not valid at position {position} in '{text}'.",
        text.chars()
            .nth(position)
            .map_or(String::new(), String::from)
    ))
}

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    text: &'a str,
    resource: &'a Resource,
    depth: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    /// Consumes an uppercase keyword (`AND`/`OR`, GRAPH.md §2) followed by a space, quote or parenthesis.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_spaces();
        let len = word.chars().count();
        let matches = self
            .chars
            .get(self.at..self.at + len)
            .is_some_and(|s| s.iter().copied().eq(word.chars()));
        let delimited = self
            .chars
            .get(self.at + len)
            .is_some_and(|c| c.is_whitespace() || *c == '"' || *c == '(');
        if matches && delimited {
            self.at += len;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self) -> Result<Search, GraphError> {
        let mut children = vec![self.and_expr()?];
        while self.keyword("OR") {
            children.push(self.and_expr()?);
        }
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Search::Or(children)
        })
    }

    fn and_expr(&mut self) -> Result<Search, GraphError> {
        let mut children = vec![self.atom()?];
        while self.keyword("AND") {
            children.push(self.atom()?);
        }
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Search::And(children)
        })
    }

    fn atom(&mut self) -> Result<Search, GraphError> {
        self.skip_spaces();
        match self.chars.get(self.at) {
            Some('(') => {
                if self.depth >= super::odata::MAX_NESTING {
                    return Err(syntax_error(self.at, self.text));
                }
                self.at += 1;
                self.depth += 1;
                let inner = self.or_expr()?;
                self.depth -= 1;
                self.skip_spaces();
                if self.chars.get(self.at) != Some(&')') {
                    return Err(syntax_error(self.at, self.text));
                }
                self.at += 1;
                Ok(inner)
            }
            Some('"') => self.clause(),
            _ => Err(syntax_error(self.at, self.text)),
        }
    }

    /// A `"prop:text"` clause; inside it `\"` and `\\` are escapes (GRAPH.md §2, [doc S3]).
    fn clause(&mut self) -> Result<Search, GraphError> {
        let start = self.at;
        self.at += 1;
        let mut content = String::new();
        loop {
            match self.chars.get(self.at) {
                None => return Err(syntax_error(start, self.text)),
                Some('\\') => match self.chars.get(self.at + 1) {
                    Some(c @ ('"' | '\\')) => {
                        content.push(*c);
                        self.at += 2;
                    }
                    _ => {
                        content.push('\\');
                        self.at += 1;
                    }
                },
                Some('"') => {
                    self.at += 1;
                    break;
                }
                Some(c) => {
                    content.push(*c);
                    self.at += 1;
                }
            }
        }
        let Some((name, text)) = content.split_once(':') else {
            return Err(GraphError::unsupported_query(format!(
                "Invalid $search clause \"{content}\": a clause must name a property, as in \"displayName:{content}\"."
            )));
        };
        let caps = self
            .resource
            .caps(name.trim())
            .filter(|c| c.search != SearchSupport::Unsupported)
            .ok_or_else(|| {
                GraphError::unsupported_query(format!(
                    "Unsupported or invalid query search clause specified for property '{}' of resource '{}'.",
                    name.trim(),
                    self.resource.entity
                ))
            })?;
        Ok(Search::Clause {
            caps,
            text: text.to_string(),
        })
    }
}

/// Parses a decoded `$search` value.
pub fn parse(text: &str, resource: &Resource) -> Result<Search, GraphError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
        text,
        resource,
        depth: 0,
    };
    let search = parser.or_expr()?;
    parser.skip_spaces();
    if parser.at < parser.chars.len() {
        return Err(syntax_error(parser.at, text));
    }
    Ok(search)
}

/// Splits text into search tokens (GRAPH.md §2, [doc S3]): on spaces; on a lower→upper case
/// change; around symbols, each symbol being a token and the symbol-free word another; and
/// around digit runs. Tokens are lowercased. A script change (Latin↔CJK) starts no token.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let mut current = String::new();
        let mut joined = String::new();
        let mut has_symbol = false;
        let mut previous: Option<char> = None;
        for c in chunk.chars() {
            if c.is_alphanumeric() {
                let boundary = previous.is_some_and(|p| {
                    p.is_alphanumeric()
                        && ((p.is_lowercase() && c.is_uppercase())
                            || (p.is_numeric() != c.is_numeric()))
                });
                if boundary && !current.is_empty() {
                    out.push(current.to_lowercase());
                    current.clear();
                }
                current.push(c);
                joined.push(c);
            } else {
                if !current.is_empty() {
                    out.push(current.to_lowercase());
                    current.clear();
                }
                out.push(c.to_lowercase().collect());
                has_symbol = true;
            }
            previous = Some(c);
        }
        if !current.is_empty() {
            out.push(current.to_lowercase());
        }
        if has_symbol && !joined.is_empty() {
            out.push(joined.to_lowercase());
        }
    }
    out
}

/// Every search token must be a prefix of some value token; no "contains" (GRAPH.md §2).
pub fn tokenized_match(value: &str, query: &str) -> bool {
    let value_tokens = tokens(value);
    tokens(query)
        .iter()
        .all(|q| value_tokens.iter().any(|v| v.starts_with(q.as_str())))
}

fn prefix_match(value: &Value, query: &str) -> bool {
    let query = query.to_lowercase();
    match value {
        Value::String(s) => s.to_lowercase().starts_with(&query),
        Value::Array(items) => items.iter().any(|item| prefix_match(item, &query)),
        _ => false,
    }
}

/// Whether a directory object satisfies a parsed `$search`.
pub fn matches(search: &Search, object: &Value) -> bool {
    match search {
        Search::Or(children) => children.iter().any(|c| matches(c, object)),
        Search::And(children) => children.iter().all(|c| matches(c, object)),
        Search::Clause { caps, text } => {
            let Some(value) = property(object, caps.name) else {
                return false;
            };
            match caps.search {
                SearchSupport::Tokenized => {
                    value.as_str().is_some_and(|v| tokenized_match(v, text))
                }
                SearchSupport::Prefix => prefix_match(value, text),
                SearchSupport::Unsupported => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::resource::{CONTACTS, USERS};
    use super::*;
    use serde_json::json;

    #[test]
    fn tokenization_follows_the_documented_examples() {
        assert_eq!(tokens("HelloWorld"), ["hello", "world"]);
        assert_eq!(tokens("HELLOworld"), ["helloworld"]);
        assert_eq!(tokens("hello.world"), ["hello", ".", "world", "helloworld"]);
        assert_eq!(tokens("hello123world"), ["hello", "123", "world"]);
        assert_eq!(tokens("山田 太郎"), ["山田", "太郎"]);
        assert_eq!(tokens("O'Brien"), ["o", "'", "brien", "obrien"]);
    }

    #[test]
    fn word_prefix_not_contains() {
        assert!(tokenized_match("John Smith", "smi"));
        assert!(tokenized_match("John Smith", "SMITH jo"));
        assert!(!tokenized_match("John Smith", "mith"));
        assert!(tokenized_match("Nicole Wagner", "wa"));
        assert!(tokenized_match("Conor O'Brien", "obri"));
        assert!(tokenized_match("Smith, John", "Smith, J"));
    }

    #[test]
    fn parses_clauses_with_escapes_and_boolean_operators() {
        let s = parse(
            r#"("displayName:a\"b" OR "mail:x") AND "givenName:c\\""#,
            &USERS,
        )
        .unwrap();
        let Search::And(children) = &s else {
            panic!("{s:?}")
        };
        assert!(
            matches!(&children[0], Search::Or(or) if matches!(&or[0], Search::Clause { text, .. } if text == "a\"b"))
        );
        assert!(matches!(&children[1], Search::Clause { text, .. } if text == "c\\"));
        assert!(parse(r#""displayName:a" and "mail:b""#, &USERS).is_err());
        assert!(parse(r#""displayName:a"#, &USERS).is_err());
        assert!(parse("displayName:a", &USERS).is_err());
        assert!(parse(r#""smith""#, &USERS).is_err());
        assert!(parse(r#""accountEnabled:true""#, &USERS).is_err());
        assert!(parse(r#""phones:425""#, &CONTACTS).is_err());
        assert!(parse(r#""displayName:wa""#, &CONTACTS).is_ok());
    }

    #[test]
    fn deep_parentheses_are_refused() {
        let deep = format!("{}\"displayName:a\"{}", "(".repeat(500), ")".repeat(500));
        assert!(parse(&deep, &USERS).is_err());
    }

    proptest::proptest! {
        /// Any prefix of any word of a value finds the value (word-prefix semantics).
        #[test]
        fn word_prefixes_match(value in "[a-zA-Z0-9.' -]{1,30}", pick in 0usize..30, cut in 1usize..30) {
            let words: Vec<&str> = value.split_whitespace().collect();
            if !words.is_empty() {
                let word = words[pick % words.len()];
                let prefix: String = word.chars().take(cut).collect();
                proptest::prop_assert!(tokenized_match(&value, &prefix), "{value:?} / {prefix:?}");
            }
        }
    }

    #[test]
    fn other_properties_fall_back_to_starts_with() {
        let user = json!({"displayName": "John Smith", "mail": "john.smith@example.com",
                          "businessPhones": ["+1 425 555 0100"]});
        let hit = |q: &str| matches(&parse(q, &USERS).unwrap(), &user);
        assert!(hit(r#""mail:JOHN.""#));
        assert!(!hit(r#""mail:smith""#));
        assert!(hit(r#""businessPhones:+1 425""#));
        assert!(hit(r#""displayName:smi" AND "mail:john""#));
        assert!(!hit(r#""displayName:mith" OR "mail:x""#));
    }
}
