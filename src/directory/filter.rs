//! Local evaluation of an LDAP filter on a mapped entry, three-valued (RFC 4511 §4.5.1.7):
//! unknown attribute types are Undefined, never an error. Also the RFC 4515 string form
//! of filters (parse and print) for `explain`, tests and configuration. No I/O, and no
//! knowledge of what Graph can filter (that is the translator's).

use ldap3_proto::proto::{LdapFilter, LdapMatchingRuleAssertion, LdapSubstringFilter};

use super::compat;
use super::entry::Entry;
use super::group::Memberships;
use super::mapping::Mapping;
use super::matching::{self, SubstringAssertion};
use super::phone::{self, PhoneMatch, PhoneRules};
use super::schema::{self, AttributeType, Equality, Ordering, Substrings};
use super::tree;

/// The value of a filter on an entry (RFC 4511 §4.5.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Undefined,
}

impl std::ops::Not for Tri {
    type Output = Tri;

    /// NOT: TRUE and FALSE swap, Undefined stays Undefined.
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Undefined => Tri::Undefined,
        }
    }
}

impl Tri {
    fn from_bool(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }

    /// True only for `Tri::True`: a search returns the entry.
    pub fn is_true(self) -> bool {
        self == Tri::True
    }
}

/// What evaluation needs besides the entry: the configured phone matching, and the
/// mapping, which says which AD-style types are known (CONTRACT §6).
#[derive(Debug, Clone, Copy)]
pub struct MatchContext<'a> {
    pub phone: &'a PhoneRules,
    pub mapping: &'a Mapping,
    /// The member sets of the groups this search's `memberOf` items assert (CONTRACT §9),
    /// resolved once per search by `search::membership`; `None` outside a search.
    pub memberships: Option<&'a Memberships>,
}

/// How an attribute description in a filter resolves.
enum Described {
    /// Not a type the gateway knows: the item is Undefined (presence is FALSE).
    Unknown,
    /// A known type with options (`cn;lang-de`): the gateway serves no tagged values,
    /// so the entry never holds it.
    WithOptions,
    Known(&'static AttributeType),
}

fn describe(attr: &str) -> Described {
    let mut parts = attr.split(';');
    let base = parts.next().unwrap_or("");
    match schema::attribute(base) {
        None => Described::Unknown,
        Some(_) if parts.any(|o| !o.is_empty() && !o.eq_ignore_ascii_case("binary")) => {
            Described::WithOptions
        }
        Some(at) => Described::Known(at),
    }
}

/// Evaluates `f` on `e` with RFC 4511 three-valued logic and each attribute's matching
/// rules (CONTRACT §6-§7). An assertion value invalid for its syntax is Undefined, as in
/// OpenLDAP; a known type absent from the entry is FALSE.
pub fn evaluate(f: &LdapFilter, e: &Entry, ctx: &MatchContext<'_>) -> Tri {
    // CONTRACT §9: memberOf items are answered from the search's resolved member sets.
    if let Some(t) = ctx.memberships.and_then(|m| m.evaluate(f, e)) {
        return t;
    }
    match f {
        LdapFilter::And(items) => {
            let mut result = Tri::True;
            for item in items {
                match evaluate(item, e, ctx) {
                    Tri::False => return Tri::False,
                    Tri::Undefined => result = Tri::Undefined,
                    Tri::True => {}
                }
            }
            result
        }
        LdapFilter::Or(items) => {
            let mut result = Tri::False;
            for item in items {
                match evaluate(item, e, ctx) {
                    Tri::True => return Tri::True,
                    Tri::Undefined => result = Tri::Undefined,
                    Tri::False => {}
                }
            }
            result
        }
        LdapFilter::Not(inner) => !evaluate(inner, e, ctx),
        LdapFilter::Present(attr) => match describe(attr) {
            Described::Known(at) => match known_values(e, at, ctx) {
                Some(values) => Tri::from_bool(!values.is_empty()),
                None => Tri::Undefined,
            },
            // RFC 4511 §4.5.1.7 and slapd: an unrecognised type is Undefined, also here.
            Described::Unknown => Tri::Undefined,
            Described::WithOptions => Tri::False,
        },
        LdapFilter::Equality(attr, value) => match anr(attr, ctx) {
            true => evaluate(&compat::anr_filter(value), e, ctx),
            false => with_values(attr, e, ctx, |at, values| equality(at, values, value, ctx)),
        },
        LdapFilter::Substring(attr, sub)
            if anr(attr, ctx) && sub.any.is_empty() && sub.final_.is_none() =>
        {
            evaluate(
                &compat::anr_filter(sub.initial.as_deref().unwrap_or("")),
                e,
                ctx,
            )
        }
        LdapFilter::Approx(attr, value) => {
            with_values(attr, e, ctx, |at, values| approx(at, values, value, ctx))
        }
        LdapFilter::GreaterOrEqual(attr, value) => with_values(attr, e, ctx, |at, values| {
            ordering(at.ordering, values, value, |o| {
                o != std::cmp::Ordering::Less
            })
        }),
        LdapFilter::LessOrEqual(attr, value) => with_values(attr, e, ctx, |at, values| {
            ordering(at.ordering, values, value, |o| {
                o != std::cmp::Ordering::Greater
            })
        }),
        LdapFilter::Substring(attr, sub) => {
            with_values(attr, e, ctx, |at, values| substrings(at, values, sub, ctx))
        }
        LdapFilter::Extensible(mra) => extensible(mra, e, ctx),
    }
}

/// Whether `attr` is AD's `aNR` served by the AD profile: `(anr=x)` and `(anr=x*)` are
/// rewritten by `compat::anr_filter` (MS-ADTS 3.1.1.3.1.3.4).
fn anr(attr: &str, ctx: &MatchContext<'_>) -> bool {
    matches!(describe(attr), Described::Known(at) if at.name == "aNR" && ctx.mapping.knows(at))
}

/// Resolves the attribute and hands its values (empty when absent) to `test`, which
/// first validates the assertion (Undefined) and then answers FALSE for no values.
fn with_values(
    attr: &str,
    e: &Entry,
    ctx: &MatchContext<'_>,
    test: impl Fn(&'static AttributeType, &[String]) -> Tri,
) -> Tri {
    match describe(attr) {
        Described::Unknown => Tri::Undefined,
        Described::WithOptions => {
            // Still Undefined for an assertion the type's rules reject; else FALSE.
            match schema::attribute(attr.split(';').next().unwrap_or("")) {
                Some(at) if test(at, &[]) == Tri::Undefined => Tri::Undefined,
                _ => Tri::False,
            }
        }
        Described::Known(at) => match known_values(e, at, ctx) {
            Some(values) => test(at, &values),
            None => Tri::Undefined,
        },
    }
}

/// The values of a known type, or `None` when the type is unknown (CONTRACT §6): an
/// AD-style type (`ipPhone`) is known only where the mapping serves it.
fn known_values(e: &Entry, at: &AttributeType, ctx: &MatchContext<'_>) -> Option<Vec<String>> {
    ctx.mapping.knows(at).then(|| values_with_subtypes(e, at))
}

/// The values an assertion on `at` sees: those of `at` and of its subtypes (RFC 4512
/// §2.5.1: a filter on a supertype matches its subtypes' values, as slapd does).
fn values_with_subtypes(e: &Entry, at: &AttributeType) -> Vec<String> {
    e.attrs
        .iter()
        .filter(|(t, _)| t.is_subtype_of(at))
        .flat_map(|(_, v)| v.iter().cloned())
        .collect()
}

fn any_value(values: &[String], test: impl Fn(&str) -> Option<bool>) -> Tri {
    let mut result = Tri::False;
    for v in values {
        match test(v) {
            Some(true) => return Tri::True,
            Some(false) => {}
            None => result = Tri::Undefined,
        }
    }
    result
}

fn uses_e164(at: &AttributeType, ctx: &MatchContext<'_>) -> bool {
    at.is_phone() && ctx.phone.mode == PhoneMatch::E164
}

fn equality(at: &AttributeType, values: &[String], assertion: &str, ctx: &MatchContext<'_>) -> Tri {
    if at.is_binary() && at.equality == Equality::OctetString {
        // objectGUID, objectSid: the assertion's bytes against the value's (`compat`).
        let wanted = compat::binary_assertions(assertion);
        return any_value(values, |v| Some(wanted.iter().any(|w| w == v)));
    }
    if at.name == "objectCategory" {
        return any_value(values, |v| compat::object_category_matches(v, assertion));
    }
    if uses_e164(at, ctx) {
        // CONTRACT §7: valid when it parses as a number or as a Telephone Number.
        if ctx.phone.e164(assertion).is_none()
            && !matching::assertion_is_valid(at.equality, assertion)
        {
            return Tri::Undefined;
        }
        return any_value(values, |v| {
            Some(ctx.phone.equality(v, assertion).unwrap_or(false))
        });
    }
    if !matching::assertion_is_valid(at.equality, assertion) {
        return Tri::Undefined;
    }
    any_value(values, |v| {
        matching::equality_match(at.equality, v, assertion)
    })
}

fn approx(at: &AttributeType, values: &[String], assertion: &str, ctx: &MatchContext<'_>) -> Tri {
    if at.is_phone() {
        // telephoneNumberMatch has no approximate rule: equality, as slapd does.
        return equality(at, values, assertion, ctx);
    }
    if !matching::assertion_is_valid(at.equality, assertion) {
        return Tri::Undefined;
    }
    any_value(values, |v| {
        matching::approx_match(at.equality, v, assertion)
    })
}

fn ordering(
    rule: Ordering,
    values: &[String],
    assertion: &str,
    accept: impl Fn(std::cmp::Ordering) -> bool,
) -> Tri {
    if rule == Ordering::None || matching::ordering_compare(rule, assertion, assertion).is_none() {
        return Tri::Undefined;
    }
    // a stored value invalid for the syntax never matches
    let hit = values
        .iter()
        .any(|v| matching::ordering_compare(rule, v, assertion).is_some_and(&accept));
    Tri::from_bool(hit)
}

fn substrings(
    at: &AttributeType,
    values: &[String],
    sub: &LdapSubstringFilter,
    ctx: &MatchContext<'_>,
) -> Tri {
    let assertion = SubstringAssertion {
        initial: sub.initial.as_deref(),
        any: sub.any.iter().map(String::as_str).collect(),
        final_: sub.final_.as_deref(),
    };
    let pieces = || {
        sub.initial
            .iter()
            .chain(sub.any.iter())
            .chain(sub.final_.iter())
    };
    if uses_e164(at, ctx) && pieces().all(|p| phone::is_phone_spelling(p)) {
        // CONTRACT §7: compare digits (and a leading +) only.
        let digit_pieces = |p: Option<&String>| p.map(|s| phone::digits(s));
        let initial = digit_pieces(sub.initial.as_ref());
        let any: Vec<String> = sub.any.iter().map(|s| phone::digits(s)).collect();
        let final_ = digit_pieces(sub.final_.as_ref());
        let any_refs: Vec<&str> = any.iter().map(String::as_str).collect();
        return any_value(values, |v| {
            Some(matching::pieces_match(
                &phone::digits(v),
                initial.as_deref(),
                &any_refs,
                final_.as_deref(),
            ))
        });
    }
    if at.substrings == Substrings::None
        || matching::substrings_match(at.substrings, "", &assertion).is_none()
    {
        return Tri::Undefined;
    }
    any_value(values, |v| {
        matching::substrings_match(at.substrings, v, &assertion)
    })
}

/// A matching rule named in an extensible match.
#[derive(Debug, Clone, Copy)]
enum NamedRule {
    Equality(Equality),
    Ordering(Ordering),
    /// AD's bitwise rules on INTEGER attributes, with `[compat] active_directory` (CONTRACT §9).
    Bitwise(compat::Bitwise),
}

const EQUALITY_RULES: &[Equality] = &[
    Equality::CaseIgnore,
    Equality::CaseExact,
    Equality::CaseIgnoreIa5,
    Equality::CaseExactIa5,
    Equality::TelephoneNumber,
    Equality::ObjectIdentifier,
    Equality::DistinguishedName,
    Equality::Uuid,
    Equality::Integer,
    Equality::Boolean,
    Equality::OctetString,
    Equality::NumericString,
    Equality::ObjectIdentifierFirstComponent,
    Equality::GeneralizedTime,
];

const ORDERING_RULES: &[Ordering] = &[
    Ordering::CaseIgnore,
    Ordering::CaseExact,
    Ordering::Integer,
    Ordering::Uuid,
    Ordering::GeneralizedTime,
];

fn named_rule(name: &str) -> Option<NamedRule> {
    if let Some(b) = compat::Bitwise::from_oid(name) {
        return Some(NamedRule::Bitwise(b));
    }
    let hit = |(n, oid): (&str, &str)| n.eq_ignore_ascii_case(name) || oid == name;
    EQUALITY_RULES
        .iter()
        .find(|r| r.rule().is_some_and(hit))
        .map(|r| NamedRule::Equality(*r))
        .or_else(|| {
            ORDERING_RULES
                .iter()
                .find(|r| r.rule().is_some_and(hit))
                .map(|r| NamedRule::Ordering(*r))
        })
}

/// Whether a rule applies to an attribute type: its own rule, or a string rule on a
/// string-valued attribute.
fn rule_applies(rule: NamedRule, at: &AttributeType) -> bool {
    let stringy = |eq: Equality| {
        matches!(
            eq,
            Equality::CaseIgnore
                | Equality::CaseExact
                | Equality::CaseIgnoreIa5
                | Equality::CaseExactIa5
                | Equality::TelephoneNumber
                | Equality::NumericString
        )
    };
    match rule {
        NamedRule::Equality(eq) => eq == at.equality || (stringy(eq) && stringy(at.equality)),
        NamedRule::Ordering(o) => {
            o == at.ordering
                || (matches!(o, Ordering::CaseIgnore | Ordering::CaseExact) && stringy(at.equality))
        }
        NamedRule::Bitwise(_) => at.equality == Equality::Integer,
    }
}

/// Extensible match (RFC 4511 §4.5.1.7.7), best effort: equality and ordering rules by
/// name or OID (an ordering rule is TRUE when the value sorts before the assertion,
/// RFC 4517 §4.2); without a rule, the type's own equality (phone attributes then
/// follow `[phone] match`); without a type, every attribute the rule applies to; with
/// `dnAttributes`, the AVAs of the entry's DN too. Substrings rules and rules the
/// gateway does not know are Undefined.
fn extensible(mra: &LdapMatchingRuleAssertion, e: &Entry, ctx: &MatchContext<'_>) -> Tri {
    let rule = match &mra.matching_rule {
        Some(name) => match named_rule(name) {
            // Without the AD profile the bitwise rules are unknown, as in slapd.
            Some(NamedRule::Bitwise(_)) if !ctx.mapping.active_directory() => {
                return Tri::Undefined;
            }
            Some(r) => Some(r),
            None => return Tri::Undefined,
        },
        None => None,
    };
    let at = match &mra.type_ {
        Some(t) => match describe(t) {
            Described::Known(at) if known_values(e, at, ctx).is_none() => return Tri::Undefined,
            Described::Known(at) => Some(at),
            Described::WithOptions => return Tri::False,
            Described::Unknown => return Tri::Undefined,
        },
        None => None,
    };
    let value = mra.match_value.as_str();
    let test = |rule: NamedRule, v: &str| -> Option<bool> {
        match rule {
            NamedRule::Equality(eq) => matching::equality_match(eq, v, value),
            NamedRule::Ordering(o) => {
                matching::ordering_compare(o, v, value).map(|c| c == std::cmp::Ordering::Less)
            }
            NamedRule::Bitwise(b) => b.matches(v, value),
        }
    };
    let mut result = Tri::False;
    let merge = |result: &mut Tri, t: Tri| {
        if t == Tri::True {
            *result = Tri::True;
        } else if t == Tri::Undefined && *result == Tri::False {
            *result = Tri::Undefined;
        }
    };
    match (rule, at) {
        (None, None) => return Tri::Undefined,
        (None, Some(at)) => {
            if at.equality == Equality::None {
                return Tri::Undefined;
            }
            let values = e.get(at).unwrap_or(&[]);
            merge(&mut result, equality(at, values, value, ctx));
        }
        (Some(rule), Some(at)) => {
            if !rule_applies(rule, at) {
                return Tri::Undefined;
            }
            merge(
                &mut result,
                any_value(e.get(at).unwrap_or(&[]), |v| test(rule, v)),
            );
        }
        (Some(rule), None) => {
            for (at, values) in &e.attrs {
                if rule_applies(rule, at) {
                    merge(&mut result, any_value(values, |v| test(rule, v)));
                }
            }
        }
    }
    if mra.dn_attributes
        && result != Tri::True
        && let Ok(rdns) = tree::parse_dn(&e.dn)
    {
        {
            for ava in rdns.iter().flatten() {
                let Some(ava_type) = schema::attribute(&ava.attr) else {
                    continue;
                };
                if at.is_some_and(|a| !std::ptr::eq(a, ava_type)) {
                    continue;
                }
                let values = std::slice::from_ref(&ava.value);
                match rule {
                    Some(rule) if rule_applies(rule, ava_type) => {
                        merge(&mut result, any_value(values, |v| test(rule, v)))
                    }
                    Some(_) => {}
                    None => merge(&mut result, equality(ava_type, values, value, ctx)),
                }
            }
        }
    }
    result
}

/// Nesting depth of a filter: a simple item is 1, each AND/OR/NOT adds 1.
pub fn filter_depth(f: &LdapFilter) -> usize {
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => {
            1 + items.iter().map(filter_depth).max().unwrap_or(0)
        }
        LdapFilter::Not(inner) => 1 + filter_depth(inner),
        _ => 1,
    }
}

/// Escapes an assertion value for the string form (RFC 4515 §3): `*`, `(`, `)`, `\`
/// and NUL as `\xx`; other characters, UTF-8 included, as they are.
pub fn escape_filter_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// The RFC 4515 string form of a filter; `parse_filter` reads it back unchanged.
pub fn filter_to_string(f: &LdapFilter) -> String {
    let list = |op: char, items: &[LdapFilter]| {
        let mut s = format!("({op}");
        for i in items {
            s.push_str(&filter_to_string(i));
        }
        s.push(')');
        s
    };
    match f {
        LdapFilter::And(items) => list('&', items),
        LdapFilter::Or(items) => list('|', items),
        LdapFilter::Not(inner) => format!("(!{})", filter_to_string(inner)),
        LdapFilter::Equality(a, v) => format!("({a}={})", escape_filter_value(v)),
        LdapFilter::Approx(a, v) => format!("({a}~={})", escape_filter_value(v)),
        LdapFilter::GreaterOrEqual(a, v) => format!("({a}>={})", escape_filter_value(v)),
        LdapFilter::LessOrEqual(a, v) => format!("({a}<={})", escape_filter_value(v)),
        LdapFilter::Present(a) => format!("({a}=*)"),
        LdapFilter::Substring(a, sub) => {
            let mut s = format!("({a}=");
            if let Some(i) = &sub.initial {
                s.push_str(&escape_filter_value(i));
            }
            s.push('*');
            for any in &sub.any {
                s.push_str(&escape_filter_value(any));
                s.push('*');
            }
            // No component at all (`(cn=**)`): still a substrings filter, not presence.
            if sub.initial.is_none() && sub.any.is_empty() && sub.final_.is_none() {
                s.push('*');
            }
            if let Some(fin) = &sub.final_ {
                s.push_str(&escape_filter_value(fin));
            }
            s.push(')');
            s
        }
        LdapFilter::Extensible(m) => {
            let mut s = String::from("(");
            if let Some(t) = &m.type_ {
                s.push_str(t);
            }
            if m.dn_attributes {
                s.push_str(":dn");
            }
            if let Some(r) = &m.matching_rule {
                s.push(':');
                s.push_str(r);
            }
            s.push_str(":=");
            s.push_str(&escape_filter_value(&m.match_value));
            s.push(')');
            s
        }
    }
}

/// Parses an RFC 4515 string filter, with `\xx` escapes decoded as UTF-8 (and the
/// RFC 2254 forms `\*`, `\(`, `\)`, `\\` accepted, and, more lenient than libldap, balanced
/// unescaped parentheses inside a value). A filter without the outer
/// parentheses (`cn=x`) is accepted, as ldapsearch does; spaces between the items of a
/// list are ignored. Nesting is limited to 256 levels.
pub fn parse_filter(s: &str) -> Result<LdapFilter, String> {
    let trimmed = s.trim();
    let wrapped;
    let text = if trimmed.starts_with('(') {
        trimmed
    } else {
        wrapped = format!("({trimmed})");
        &wrapped
    };
    let mut parser = FilterParser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    let f = parser.filter()?;
    parser.skip_spaces();
    if parser.pos != parser.chars.len() {
        return Err(format!(
            "unexpected text after the filter at character {}",
            parser.pos + 1
        ));
    }
    Ok(f)
}

/// Deepest nesting `parse_filter` accepts.
pub const MAX_PARSE_DEPTH: usize = 256;

struct FilterParser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

/// A piece of an assertion value: decoded text, or an unescaped `*`.
enum Token {
    Text(String),
    Star,
}

impl FilterParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(match self.peek() {
                Some(found) => format!(
                    "expected '{c}' at character {}, found '{found}'",
                    self.pos + 1
                ),
                None => format!("expected '{c}' at the end of the filter"),
            })
        }
    }

    fn filter(&mut self) -> Result<LdapFilter, String> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            return Err(format!(
                "filter nested deeper than {MAX_PARSE_DEPTH} levels"
            ));
        }
        self.skip_spaces();
        self.expect('(')?;
        self.skip_spaces();
        let f = match self.peek() {
            Some('&') => {
                self.pos += 1;
                LdapFilter::And(self.list()?)
            }
            Some('|') => {
                self.pos += 1;
                LdapFilter::Or(self.list()?)
            }
            Some('!') => {
                self.pos += 1;
                let inner = self.filter()?;
                self.skip_spaces();
                LdapFilter::Not(Box::new(inner))
            }
            _ => self.item()?,
        };
        self.expect(')')?;
        self.depth -= 1;
        Ok(f)
    }

    fn list(&mut self) -> Result<Vec<LdapFilter>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_spaces();
            if self.peek() != Some('(') {
                return Ok(items);
            }
            items.push(self.filter()?);
        }
    }

    fn attribute_description(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.' || c == '_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn item(&mut self) -> Result<LdapFilter, String> {
        let attr = self.attribute_description();
        if self.peek() == Some(':') {
            return self.extensible(attr);
        }
        if attr.is_empty() {
            return Err(format!(
                "missing attribute type at character {}",
                self.pos + 1
            ));
        }
        let op: String = self.chars[self.pos..].iter().take(2).collect();
        let kind = if op.starts_with("~=") {
            '~'
        } else if op.starts_with(">=") {
            '>'
        } else if op.starts_with("<=") {
            '<'
        } else if op.starts_with('=') {
            '='
        } else {
            return Err(format!(
                "expected '=', '~=', '>=' or '<=' after {attr:?} at character {}",
                self.pos + 1
            ));
        };
        self.pos += if kind == '=' { 1 } else { 2 };
        let tokens = self.value_tokens()?;
        let stars = tokens.iter().filter(|t| matches!(t, Token::Star)).count();
        if kind != '=' {
            if stars > 0 {
                return Err(format!("unescaped '*' in the value of {attr:?}"));
            }
            let value = join_text(&tokens);
            return Ok(match kind {
                '~' => LdapFilter::Approx(attr, value),
                '>' => LdapFilter::GreaterOrEqual(attr, value),
                _ => LdapFilter::LessOrEqual(attr, value),
            });
        }
        if stars == 0 {
            return Ok(LdapFilter::Equality(attr, join_text(&tokens)));
        }
        if tokens.len() == 1 {
            return Ok(LdapFilter::Present(attr));
        }
        // Split at the stars: first piece initial, last final, the rest any.
        let mut pieces: Vec<String> = vec![String::new()];
        for t in tokens {
            match t {
                Token::Star => pieces.push(String::new()),
                Token::Text(s) => {
                    if let Some(last) = pieces.last_mut() {
                        last.push_str(&s);
                    }
                }
            }
        }
        let final_piece = pieces.pop().unwrap_or_default();
        let initial_piece = if pieces.is_empty() {
            String::new()
        } else {
            pieces.remove(0)
        };
        Ok(LdapFilter::Substring(
            attr,
            LdapSubstringFilter {
                initial: (!initial_piece.is_empty()).then_some(initial_piece),
                any: pieces.into_iter().filter(|p| !p.is_empty()).collect(),
                final_: (!final_piece.is_empty()).then_some(final_piece),
            },
        ))
    }

    fn extensible(&mut self, attr: String) -> Result<LdapFilter, String> {
        let mut dn_attributes = false;
        let mut matching_rule = None;
        // [":dn"] [":" rule] ":="
        loop {
            self.expect(':')?;
            if self.peek() == Some('=') {
                self.pos += 1;
                break;
            }
            let word = self.attribute_description();
            if word.eq_ignore_ascii_case("dn") && !dn_attributes && matching_rule.is_none() {
                dn_attributes = true;
            } else if !word.is_empty() && matching_rule.is_none() {
                matching_rule = Some(word);
            } else {
                return Err(format!(
                    "malformed extensible match at character {}",
                    self.pos + 1
                ));
            }
        }
        if attr.is_empty() && matching_rule.is_none() {
            return Err("an extensible match needs an attribute type or a matching rule".into());
        }
        let tokens = self.value_tokens()?;
        // An unescaped `*` is taken literally here, as libldap does (RFC 4515 wants it
        // escaped; a substrings rule then sees it, as slapd would).
        let match_value: String = tokens
            .iter()
            .map(|t| match t {
                Token::Text(s) => s.as_str(),
                Token::Star => "*",
            })
            .collect();
        Ok(LdapFilter::Extensible(LdapMatchingRuleAssertion {
            matching_rule,
            type_: (!attr.is_empty()).then_some(attr),
            match_value,
            dn_attributes,
        }))
    }

    /// Reads an assertion value up to the closing `)`, decoding escapes.
    fn value_tokens(&mut self) -> Result<Vec<Token>, String> {
        let mut tokens = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        // Balanced parentheses are accepted in a value (`(tel=+1 (425) 555-0100)`, as
        // admins type numbers; libldap rejects them); an unbalanced one ends the filter.
        let mut open_parens = 0usize;
        let flush = |bytes: &mut Vec<u8>, tokens: &mut Vec<Token>| -> Result<(), String> {
            if !bytes.is_empty() {
                let text = String::from_utf8(std::mem::take(bytes))
                    .map_err(|_| "an escaped value is not valid UTF-8".to_string())?;
                tokens.push(Token::Text(text));
            }
            Ok(())
        };
        loop {
            match self.peek() {
                None => return Err("missing ')' at the end of the filter".into()),
                Some(')') if open_parens == 0 => break,
                Some(c @ ('(' | ')')) => {
                    if c == '(' {
                        open_parens += 1;
                    } else {
                        open_parens -= 1;
                    }
                    bytes.push(c as u8);
                    self.pos += 1;
                }
                Some('*') => {
                    flush(&mut bytes, &mut tokens)?;
                    tokens.push(Token::Star);
                    self.pos += 1;
                }
                Some('\\') => {
                    let hex: String = self.chars[self.pos + 1..].iter().take(2).collect();
                    if hex.len() == 2 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                        let b = u8::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                        bytes.push(b);
                        self.pos += 3;
                    } else if let Some(c @ ('*' | '(' | ')' | '\\')) = self.chars.get(self.pos + 1)
                    {
                        bytes.push(*c as u8);
                        self.pos += 2;
                    } else {
                        return Err(format!("invalid escape at character {}", self.pos + 1));
                    }
                }
                Some(c) => {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    self.pos += 1;
                }
            }
        }
        flush(&mut bytes, &mut tokens)?;
        Ok(tokens)
    }
}

fn join_text(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Text(s) => s.as_str(),
            Token::Star => "",
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Collection;
    use crate::directory::mapping::Mapping;
    use crate::directory::needed::Needed;
    use crate::directory::tree::Tree;
    use proptest::prelude::*;
    use serde_json::json;

    fn rules(mode: PhoneMatch) -> PhoneRules {
        PhoneRules::new(mode, "US").unwrap()
    }

    fn user() -> Entry {
        let tree = Tree::new("dc=example,dc=com").unwrap();
        let obj = json!({
            "id": "4a9e1a2b-0b8f-4c33-9d7e-1f2a3b4c5d6e",
            "userPrincipalName": "jsmith@contoso.com",
            "displayName": "John  Smith",
            "givenName": "John",
            "surname": "Smith",
            "mail": "John.Smith@contoso.com",
            "businessPhones": ["+1 (425) 555-0100"],
            "mobilePhone": "425.555.0199",
            "faxNumber": "+1 425 555 0111",
            "jobTitle": "Straße*Chef",
            "city": "Ren\u{e9}ville",
            "employeeId": "00042"
        });
        Mapping::default_mapping()
            .to_entry(Collection::Users, &obj, &tree, &Needed::All)
            .unwrap()
    }

    fn eval_mode(filter: &str, mode: PhoneMatch) -> Tri {
        let phone = rules(mode);
        let ctx = MatchContext {
            phone: &phone,
            mapping: &Mapping::default_mapping(),
            memberships: None,
        };
        evaluate(&parse_filter(filter).unwrap(), &user(), &ctx)
    }

    fn eval(filter: &str) -> Tri {
        eval_mode(filter, PhoneMatch::E164)
    }

    #[test]
    fn supertype_assertions_see_subtype_values() {
        assert_eq!(eval("(name=john smith)"), Tri::True);
        assert_eq!(eval("(name=smith)"), Tri::True);
        assert_eq!(eval("(name=*)"), Tri::True);
        assert_eq!(eval("(name=*mit*)"), Tri::True);
        assert_eq!(eval("(name=nobody)"), Tri::False);
    }

    #[test]
    fn presence() {
        assert_eq!(eval("(cn=*)"), Tri::True);
        assert_eq!(eval("(objectClass=*)"), Tri::True);
        assert_eq!(eval("(homePhone=*)"), Tri::False);
        assert_eq!(eval("(facsimileTelephoneNumber=*)"), Tri::True);
        // slapd answers `(!(noSuchAttr=*))` with no entries: the item is Undefined.
        assert_eq!(eval("(noSuchAttr=*)"), Tri::Undefined);
        assert_eq!(eval("(entryUUID=*)"), Tri::True);
        assert_eq!(eval("(cn;lang-de=*)"), Tri::False);
    }

    #[test]
    fn equality_and_aliases() {
        assert_eq!(eval("(cn=john smith)"), Tri::True);
        assert_eq!(eval("(commonName=JOHN SMITH)"), Tri::True);
        assert_eq!(eval("(gn=john)"), Tri::True);
        assert_eq!(eval("(surname=smith)"), Tri::True);
        assert_eq!(eval("(sn=smyth)"), Tri::False);
        assert_eq!(eval("(mail=john.smith@CONTOSO.com)"), Tri::True);
        assert_eq!(eval("(l=RENE\\cc\\81VILLE)"), Tri::True);
        assert_eq!(eval("(title=straße\\2achef)"), Tri::True);
        assert_eq!(eval("(title=strasse\\2achef)"), Tri::False);
        assert_eq!(eval("(homePhone=123)"), Tri::False);
        assert_eq!(eval("(cn=)"), Tri::Undefined);
        assert_eq!(eval("(sn>=)"), Tri::Undefined);
        assert_eq!(eval("(bogus=1)"), Tri::Undefined);
        assert_eq!(eval("(cn;lang-de=john smith)"), Tri::False);
        // facsimileTelephoneNumber has no equality rule
        assert_eq!(
            eval("(facsimileTelephoneNumber=+1 425 555 0111)"),
            Tri::Undefined
        );
        // non-IA5 assertion on mail is invalid: Undefined even though mail is present
        assert_eq!(eval("(mail=jöhn@contoso.com)"), Tri::Undefined);
        // invalid assertion is Undefined even when the attribute is absent
        assert_eq!(eval("(hasSubordinates=yes)"), Tri::Undefined);
        assert_eq!(eval("(hasSubordinates=FALSE)"), Tri::True);
        assert_eq!(
            eval("(entryUUID=4A9E1A2B-0B8F-4C33-9D7E-1F2A3B4C5D6E)"),
            Tri::True
        );
        assert_eq!(eval("(entryUUID=nope)"), Tri::Undefined);
        assert_eq!(
            eval("(entryDN=UID=jsmith@contoso.com,ou=users,dc=example,dc=com)"),
            Tri::True
        );
    }

    #[test]
    fn object_class_by_name_or_oid() {
        assert_eq!(eval("(objectClass=inetOrgPerson)"), Tri::True);
        assert_eq!(eval("(objectclass=INETORGPERSON)"), Tri::True);
        assert_eq!(eval("(objectClass=2.16.840.1.113730.3.2.2)"), Tri::True);
        assert_eq!(eval("(objectClass=person)"), Tri::True);
        assert_eq!(eval("(objectClass=user)"), Tri::True);
        assert_eq!(eval("(objectClass=contact)"), Tri::False);
        assert_eq!(eval("(objectClass=groupOfNames)"), Tri::False);
        assert_eq!(eval("(structuralObjectClass=inetOrgPerson)"), Tri::True);
    }

    #[test]
    fn substrings() {
        assert_eq!(eval("(cn=jo*)"), Tri::True);
        assert_eq!(eval("(cn=*SMI*)"), Tri::True);
        assert_eq!(eval("(cn=*th)"), Tri::True);
        assert_eq!(eval("(cn=j*n*h)"), Tri::True);
        assert_eq!(eval("(cn=john *)"), Tri::True);
        assert_eq!(eval("(cn=johns*)"), Tri::False);
        assert_eq!(eval("(title=*\\2a*)"), Tri::True);
        assert_eq!(eval("(sn=*\\2a*)"), Tri::False);
        assert_eq!(eval("(mail=*@contoso.com)"), Tri::True);
        assert_eq!(eval("(bogus=a*)"), Tri::Undefined);
        assert_eq!(eval("(objectClass=inet*)"), Tri::Undefined);
        assert_eq!(eval("(facsimileTelephoneNumber=*0111)"), Tri::Undefined);
        assert_eq!(eval("(homePhone=*1*)"), Tri::False);
    }

    #[test]
    fn ordering() {
        assert_eq!(eval("(sn>=Meyer)"), Tri::True);
        assert_eq!(eval("(sn<=zz)"), Tri::True);
        assert_eq!(eval("(sn>=smith)"), Tri::True);
        assert_eq!(eval("(sn<=SMITH)"), Tri::True);
        assert_eq!(eval("(sn>=t)"), Tri::False);
        assert_eq!(eval("(cn<=a)"), Tri::False);
        assert_eq!(eval("(homePhone>=1)"), Tri::Undefined);
        assert_eq!(eval("(mail>=a)"), Tri::True);
        assert_eq!(eval("(st>=a)"), Tri::False);
        assert_eq!(eval("(objectClass>=a)"), Tri::Undefined);
        assert_eq!(eval("(bogus>=a)"), Tri::Undefined);
        // the Poly pattern
        assert_eq!(
            eval("(&(objectClass=*)(sn>=Smith)(sn<=zz)(sn=Smi*))"),
            Tri::True
        );
    }

    #[test]
    fn approx() {
        assert_eq!(eval("(cn~=jon smyth)"), Tri::True);
        assert_eq!(eval("(sn~=smyth)"), Tri::True);
        assert_eq!(eval("(sn~=jones)"), Tri::False);
        assert_eq!(eval("(telephoneNumber~=4255550100)"), Tri::True);
        assert_eq!(eval("(bogus~=x)"), Tri::Undefined);
    }

    #[test]
    fn phones_in_e164_mode() {
        for f in [
            "(telephoneNumber=+14255550100)",
            "(telephoneNumber=4255550100)",
            "(telephoneNumber=+1 (425) 555-0100)",
            "(telephoneNumber=425.555.0100)",
            "(mobile=+1 425 555 0199)",
            "(mobileTelephoneNumber=4255550199)",
            "(telephoneNumber=*5550100)",
            "(telephoneNumber=*555.0100)",
            "(telephoneNumber=+1425*)",
            "(telephoneNumber=*(425)*)",
            "(mobile=425555*)",
        ] {
            assert_eq!(eval(f), Tri::True, "{f}");
        }
        assert_eq!(eval("(telephoneNumber=4255550101)"), Tri::False);
        assert_eq!(eval("(telephoneNumber=*5550101)"), Tri::False);
        // not phone spellings: telephoneNumberSubstringsMatch
        assert_eq!(eval("(telephoneNumber=*abc*)"), Tri::False);
        // neither a number nor a Telephone Number: Undefined
        assert_eq!(eval("(telephoneNumber=#1)"), Tri::Undefined);
    }

    #[test]
    fn phones_in_rfc4517_mode() {
        let strict = |f| eval_mode(f, PhoneMatch::Rfc4517);
        assert_eq!(strict("(telephoneNumber=+1 (425) 555-0100)"), Tri::True);
        assert_eq!(strict("(telephoneNumber=+1(425)5550100)"), Tri::True);
        assert_eq!(strict("(telephoneNumber=+14255550100)"), Tri::False);
        assert_eq!(strict("(telephoneNumber=4255550100)"), Tri::False);
        assert_eq!(strict("(telephoneNumber=*555-0100)"), Tri::True);
        assert_eq!(strict("(telephoneNumber=*5550100)"), Tri::True);
        assert_eq!(strict("(mobile=*5550199)"), Tri::False);
    }

    /// Answers of slapd 2.5.13 on the same entry (core, cosine, inetorgperson and
    /// `openldap_schema()`), with `[phone] match = "rfc4517"`: the gateway agrees on
    /// whether the entry is returned.
    #[test]
    fn agrees_with_slapd() {
        let returned = |f| eval_mode(f, PhoneMatch::Rfc4517) == Tri::True;
        for (filter, slapd) in [
            ("(cn=john *)", true),
            ("(cn=johns*)", false),
            ("(cn=* smith)", true),
            ("(cn=*hn  *)", true),
            ("(title=strasse\\2achef)", false),
            ("(l=RENE\\cc\\81VILLE)", true),
            ("(!(cn=))", false),
            ("(!(bogus=1))", false),
            ("(!(email=x))", true),
            ("(telephoneNumber=+1 \\28425\\29 555 0100)", true),
            ("(telephoneNumber=*\\28425\\29 555*)", true),
            ("(telephoneNumber=*5550100)", true),
            ("(!(telephoneNumber=12#))", false),
            ("(cn~=jon smyth)", true),
            ("(cn~=smith john)", false),
            ("(sn~=Smitt)", false),
            ("(cn~=J Smith)", false),
            ("(cn~=jo)", false),
            ("(mail~=john.smith@contoso.com)", true),
            ("(mail=JOHN.smith@contoso.com)", true),
            ("(!(mail=jöhn@x))", false),
            ("(objectClass=2.16.840.1.113730.3.2.2)", true),
            ("(objectClass=user)", true),
            ("(ou:dn:=users)", true),
            ("(:caseIgnoreMatch:=smith)", true),
            ("(:dn:caseIgnoreMatch:=USERS)", true),
            ("(cn:caseExactMatch:=John Smith)", true),
            ("(sn:caseIgnoreOrderingMatch:=T)", true),
            ("(cn:caseIgnoreSubstringsMatch:=jo*)", false),
            ("(uid:dn:=jsmith@contoso.com)", true),
            ("(!(hasSubordinates=yes))", false),
            ("(uid=*@contoso.com)", true),
        ] {
            assert_eq!(returned(filter), slapd, "{filter}");
        }
    }

    #[test]
    fn undefined_propagates_through_not_and_or() {
        assert_eq!(eval("(!(bogus=1))"), Tri::Undefined);
        assert_eq!(eval("(!(cn=john smith))"), Tri::False);
        assert_eq!(eval("(!(cn=nobody))"), Tri::True);
        assert_eq!(eval("(&(cn=john smith)(bogus=1))"), Tri::Undefined);
        assert_eq!(eval("(&(cn=nobody)(bogus=1))"), Tri::False);
        assert_eq!(eval("(|(cn=john smith)(bogus=1))"), Tri::True);
        assert_eq!(eval("(|(cn=nobody)(bogus=1))"), Tri::Undefined);
        assert_eq!(eval("(!(|(cn=nobody)(bogus=1)))"), Tri::Undefined);
        assert_eq!(eval("(&)"), Tri::True);
        assert_eq!(eval("(|)"), Tri::False);
        assert_eq!(eval("(|(bogus=*)(cn=nobody))"), Tri::Undefined);
    }

    #[test]
    fn unmapped_ad_types_are_undefined_not_false() {
        // CONTRACT §6: neither mapped nor standard, so unknown, even though AD defines them
        // (slapd without them answers these Undefined too: no entry).
        for f in [
            "(ipPhone=*)",
            "(!(ipPhone=*))",
            "(!(otherTelephone=+14255550100))",
            "(!(mailNickname=x*))",
            "(!(proxyAddresses=smtp:x@y))",
            "(!(ipPhone:=1234))",
            "(!(|(ipPhone=1)(otherMobile=2)))",
        ] {
            assert_eq!(eval(f), Tri::Undefined, "{f}");
        }
        // Standard types and default-mapped AD-style ones the entry lacks are absent.
        assert_eq!(eval("(!(pager=*))"), Tri::True);
        assert_eq!(eval("(!(homePhone=*))"), Tri::True);
        assert_eq!(eval("(!(department=*))"), Tri::True);
        assert_eq!(eval("(|(cn=john smith)(ipPhone=1))"), Tri::True);
        // A mapping that serves ipPhone makes it known: an entry with a value matches
        // on it, and one without it is absent (FALSE), not Undefined.
        let serving = Mapping::with_parsed_overrides(
            &[crate::directory::mapping::Override::parse("ipPhone", "officeLocation").unwrap()],
            &[],
        );
        let phone = rules(PhoneMatch::Rfc4517);
        let ctx = MatchContext {
            phone: &phone,
            mapping: &serving,
            memberships: None,
        };
        let mut e = user();
        let without = user();
        if let Some(at) = schema::attribute("ipPhone") {
            e.push(at, vec!["12 34".to_string()]);
        }
        let on = |f: &str, e: &Entry| evaluate(&parse_filter(f).unwrap(), e, &ctx);
        assert_eq!(on("(ipPhone=1234)", &e), Tri::True);
        assert_eq!(on("(!(ipPhone=99))", &e), Tri::True);
        assert_eq!(on("(!(ipPhone=*))", &without), Tri::True);
        assert_eq!(on("(ipPhone=1234)", &without), Tri::False);
        // The same entry under the default mapping: ipPhone is unknown.
        let default_ctx = MatchContext {
            phone: &phone,
            mapping: &Mapping::default_mapping(),
            memberships: None,
        };
        assert_eq!(
            evaluate(&parse_filter("(ipPhone=1234)").unwrap(), &e, &default_ctx),
            Tri::Undefined
        );
    }

    #[test]
    fn extensible_match() {
        assert_eq!(eval("(cn:caseExactMatch:=John Smith)"), Tri::True);
        assert_eq!(eval("(cn:caseExactMatch:=john smith)"), Tri::False);
        assert_eq!(eval("(cn:2.5.13.2:=JOHN SMITH)"), Tri::True);
        assert_eq!(eval("(cn:=john smith)"), Tri::True);
        assert_eq!(eval("(sn:caseIgnoreOrderingMatch:=T)"), Tri::True);
        assert_eq!(eval("(sn:caseIgnoreOrderingMatch:=A)"), Tri::False);
        assert_eq!(eval("(:caseIgnoreMatch:=smith)"), Tri::True);
        assert_eq!(eval("(:caseIgnoreMatch:=nobody)"), Tri::False);
        assert_eq!(eval("(ou:dn:=users)"), Tri::True);
        assert_eq!(eval("(ou:=users)"), Tri::False);
        assert_eq!(eval("(:dn:caseIgnoreMatch:=USERS)"), Tri::True);
        assert_eq!(eval("(cn:1.2.3.4:=x)"), Tri::Undefined);
        assert_eq!(eval("(bogus:caseIgnoreMatch:=x)"), Tri::Undefined);
        assert_eq!(eval("(cn:booleanMatch:=TRUE)"), Tri::Undefined);
        assert_eq!(eval("(telephoneNumber:=4255550100)"), Tri::True);
    }

    #[test]
    fn a_substrings_filter_without_components_prints_as_one() {
        // Found by the `filter` fuzz target: `(cn=**)` printed as presence, `(cn=*)`.
        let f = parse_filter("(cn=**)").unwrap();
        assert!(matches!(&f, LdapFilter::Substring(..)), "{f:?}");
        assert_eq!(filter_to_string(&f), "(cn=**)");
        assert_eq!(parse_filter(&filter_to_string(&f)).unwrap(), f);
    }

    #[test]
    fn parses_rfc4515() {
        assert_eq!(
            parse_filter("(cn=Babs Jensen)").unwrap(),
            LdapFilter::Equality("cn".into(), "Babs Jensen".into())
        );
        assert_eq!(
            parse_filter("cn=x").unwrap(),
            LdapFilter::Equality("cn".into(), "x".into())
        );
        assert_eq!(
            parse_filter("(!(cn=Tim Howes))").unwrap(),
            LdapFilter::Not(Box::new(LdapFilter::Equality(
                "cn".into(),
                "Tim Howes".into()
            )))
        );
        assert_eq!(
            parse_filter("(o=univ*of*mich*)").unwrap(),
            LdapFilter::Substring(
                "o".into(),
                LdapSubstringFilter {
                    initial: Some("univ".into()),
                    any: vec!["of".into(), "mich".into()],
                    final_: None
                }
            )
        );
        assert_eq!(
            parse_filter("(seeAlso=)").unwrap(),
            LdapFilter::Equality("seeAlso".into(), "".into())
        );
        assert_eq!(
            parse_filter("(o=Parens R Us \\28for all your parenthetical needs\\29)").unwrap(),
            LdapFilter::Equality(
                "o".into(),
                "Parens R Us (for all your parenthetical needs)".into()
            )
        );
        assert_eq!(
            parse_filter("(cn=*\\2A*)").unwrap(),
            LdapFilter::Substring(
                "cn".into(),
                LdapSubstringFilter {
                    initial: None,
                    any: vec!["*".into()],
                    final_: None
                }
            )
        );
        assert_eq!(
            parse_filter("(filename=C:\\5cMyFile)").unwrap(),
            LdapFilter::Equality("filename".into(), "C:\\MyFile".into())
        );
        assert_eq!(
            parse_filter("(sn=Lu\\c4\\8di\\c4\\87)").unwrap(),
            LdapFilter::Equality("sn".into(), "Lučić".into())
        );
        assert_eq!(
            parse_filter("(cn:caseExactMatch:=Fred Flintstone)").unwrap(),
            LdapFilter::Extensible(LdapMatchingRuleAssertion {
                matching_rule: Some("caseExactMatch".into()),
                type_: Some("cn".into()),
                match_value: "Fred Flintstone".into(),
                dn_attributes: false
            })
        );
        assert_eq!(
            parse_filter("(:DN:2.4.6.8.10:=Dino)").unwrap(),
            LdapFilter::Extensible(LdapMatchingRuleAssertion {
                matching_rule: Some("2.4.6.8.10".into()),
                type_: None,
                match_value: "Dino".into(),
                dn_attributes: true
            })
        );
        assert_eq!(
            parse_filter("(cn=*)").unwrap(),
            LdapFilter::Present("cn".into())
        );
        assert_eq!(
            parse_filter("(& (a=1) (b=2) )").unwrap(),
            LdapFilter::And(vec![
                LdapFilter::Equality("a".into(), "1".into()),
                LdapFilter::Equality("b".into(), "2".into())
            ])
        );
        for bad in [
            "",
            "(",
            "(cn=x",
            "(cn=x))",
            "((cn=x))",
            "(=x)",
            "(cn~x)",
            "(cn>=a*)",
            "(cn=\\zz)",
            "(cn=\\ff)",
            "(:=x)",
            "(cn=a(b)",
            "(!(a=1)(b=2))",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} should not parse");
        }
        let deep = format!("{}(a=1){}", "(!".repeat(300), ")".repeat(300));
        assert!(parse_filter(&deep).is_err());
    }

    #[test]
    fn depth() {
        assert_eq!(filter_depth(&parse_filter("(a=1)").unwrap()), 1);
        assert_eq!(
            filter_depth(&parse_filter("(&(a=1)(|(b=2)(!(c=3))))").unwrap()),
            4
        );
        assert_eq!(filter_depth(&parse_filter("(&)").unwrap()), 1);
    }

    fn arb_attr() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("cn".to_string()),
            Just("sn".to_string()),
            Just("mail".to_string()),
            Just("telephoneNumber".to_string()),
            Just("objectClass".to_string()),
            Just("bogus".to_string()),
            "[a-zA-Z][a-zA-Z0-9-]{0,6}",
        ]
    }

    fn arb_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,8}",
            "[a-zA-Zäöüß*()\\\\ ]{0,6}",
            Just("John Smith".to_string()),
            Just("+1 425 555 0100".to_string()),
        ]
    }

    fn arb_piece() -> impl Strategy<Value = String> {
        "[ -~äß]{1,6}"
    }

    fn arb_filter() -> impl Strategy<Value = LdapFilter> {
        let leaf = prop_oneof![
            (arb_attr(), arb_value()).prop_map(|(a, v)| LdapFilter::Equality(a, v)),
            (arb_attr(), arb_value()).prop_map(|(a, v)| LdapFilter::Approx(a, v)),
            (arb_attr(), arb_value()).prop_map(|(a, v)| LdapFilter::GreaterOrEqual(a, v)),
            (arb_attr(), arb_value()).prop_map(|(a, v)| LdapFilter::LessOrEqual(a, v)),
            arb_attr().prop_map(LdapFilter::Present),
            (
                arb_attr(),
                proptest::option::of(arb_piece()),
                proptest::collection::vec(arb_piece(), 0..3),
                proptest::option::of(arb_piece())
            )
                .prop_filter("a substring needs a piece", |(_, i, a, f)| {
                    i.is_some() || !a.is_empty() || f.is_some()
                })
                .prop_map(|(attr, initial, any, final_)| {
                    LdapFilter::Substring(
                        attr,
                        LdapSubstringFilter {
                            initial,
                            any,
                            final_,
                        },
                    )
                }),
            (
                proptest::option::of(arb_attr()),
                proptest::option::of(prop_oneof![
                    Just("caseIgnoreMatch".to_string()),
                    Just("2.5.13.5".to_string()),
                    Just("caseIgnoreOrderingMatch".to_string())
                ]),
                arb_value(),
                any::<bool>()
            )
                .prop_filter("type or rule", |(t, r, _, _)| t.is_some() || r.is_some())
                .prop_map(|(type_, matching_rule, match_value, dn_attributes)| {
                    LdapFilter::Extensible(LdapMatchingRuleAssertion {
                        matching_rule,
                        type_,
                        match_value,
                        dn_attributes,
                    })
                }),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(LdapFilter::And),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(LdapFilter::Or),
                inner.prop_map(|f| LdapFilter::Not(Box::new(f))),
            ]
        })
    }

    proptest! {
        #[test]
        fn printer_and_parser_round_trip(f in arb_filter()) {
            let text = filter_to_string(&f);
            prop_assert_eq!(parse_filter(&text), Ok(f), "{}", text);
        }

        #[test]
        fn evaluate_is_consistent_with_not(f in arb_filter()) {
            let phone = rules(PhoneMatch::E164);
            let ctx = MatchContext {
            phone: &phone,
            mapping: &Mapping::default_mapping(),
            memberships: None,
        };
            let e = user();
            let direct = evaluate(&f, &e, &ctx);
            let negated = evaluate(&LdapFilter::Not(Box::new(f.clone())), &e, &ctx);
            prop_assert_eq!(negated, !direct);
            let double = evaluate(&LdapFilter::Not(Box::new(LdapFilter::Not(Box::new(f)))), &e, &ctx);
            prop_assert_eq!(double, direct);
        }

        #[test]
        fn and_or_follow_de_morgan(a in arb_filter(), b in arb_filter()) {
            let phone = rules(PhoneMatch::E164);
            let ctx = MatchContext {
            phone: &phone,
            mapping: &Mapping::default_mapping(),
            memberships: None,
        };
            let e = user();
            let not = |f: LdapFilter| LdapFilter::Not(Box::new(f));
            let and = evaluate(&LdapFilter::And(vec![a.clone(), b.clone()]), &e, &ctx);
            let or_of_nots = evaluate(&LdapFilter::Or(vec![not(a), not(b)]), &e, &ctx);
            prop_assert_eq!(!and, or_of_nots);
        }

        #[test]
        fn parse_filter_never_panics(s in "\\PC{0,40}") {
            let _ = parse_filter(&s);
        }
    }
}
