//! LDAP filter → Graph conditions for one collection, as a superset (CONTRACT §6): each
//! item becomes an exact constant, a clause implied by it, or is dropped to the local check.
//! Owns the implication rules; it renders no URLs (see `plan`) and evaluates no entries.
//!
//! Logic: leaves that provably match no entry of the collection (an unknown attribute is
//! Undefined, an attribute the collection never carries is absent, an objectClass it never
//! has) are FALSE. Treating Undefined as FALSE keeps every TRUE of RFC 4511 §4.5.1.7's
//! three-valued logic TRUE, so simplifying with it never loses a match.

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};
use unicode_normalization::UnicodeNormalization;

use super::capabilities::{
    self, FilterOp, PropertyCapabilities, PropertyKind, SearchSupport, Support,
};
use super::expr::{Comparison, Expr, SearchExpr, VariantTag};
use super::plan::{PhoneAssertion, TranslateContext};
use crate::directory::Collection;
use crate::directory::mapping::{Mapping, Source};
use crate::directory::schema::{self, AttributeType, Equality, Ordering, Substrings};

/// At most this many Graph requests per collection and search (CONTRACT §7: a caller-ID
/// lookup costs at most two requests to `/users`).
pub const MAX_QUERIES_PER_COLLECTION: usize = 2;

/// What one filter (sub)tree becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Provably TRUE or FALSE for every entry of the collection.
    Const(bool),
    /// Not expressible: stands for TRUE in Graph, decided by the local check.
    Drop,
    /// The union of these alternatives (each one Graph request) is a superset.
    Push(Vec<Alt>),
}

/// One Graph request's conditions: `$filter` AND `$search` (GRAPH.md §2).
#[derive(Debug, Clone, PartialEq)]
pub struct Alt {
    pub filter: Option<Expr>,
    pub search: Option<SearchExpr>,
}

/// A translated subtree with the notes `explain` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub node: Node,
    pub dropped: Vec<String>,
    pub approximations: Vec<String>,
}

impl Translated {
    fn constant(b: bool) -> Self {
        Translated {
            node: Node::Const(b),
            dropped: Vec::new(),
            approximations: Vec::new(),
        }
    }

    fn drop(label: &str, reason: &str) -> Self {
        Translated {
            node: Node::Drop,
            dropped: vec![format!("{label}: {reason}")],
            approximations: Vec::new(),
        }
    }

    fn filter(e: Expr) -> Self {
        Translated {
            node: Node::Push(vec![Alt {
                filter: Some(e),
                search: None,
            }]),
            dropped: Vec::new(),
            approximations: Vec::new(),
        }
    }
}

/// Operational attributes every entry carries (CONTRACT §4), and objectClass.
const ALWAYS_PRESENT: &[&str] = &[
    "objectClass",
    "entryDN",
    "hasSubordinates",
    "structuralObjectClass",
    "subschemaSubentry",
];

/// objectClass values of each collection's entries (CONTRACT §5), names and OIDs of the
/// standard ones (RFC 4519 §3, RFC 2798 §3), compared lowercase.
const COMMON_CLASSES: &[&str] = &[
    "top",
    "person",
    "organizationalperson",
    "inetorgperson",
    "2.5.6.0",
    "2.5.6.6",
    "2.5.6.7",
    "2.16.840.1.113730.3.2.2",
];

/// Translates `f` for collection `c`.
pub fn translate(f: &LdapFilter, c: Collection, ctx: &TranslateContext) -> Translated {
    match f {
        LdapFilter::And(children) => and(children.iter().map(|x| translate(x, c, ctx)).collect()),
        LdapFilter::Or(children) => or(
            children.iter().map(|x| translate(x, c, ctx)).collect(),
            &ldap_filter_text(f),
        ),
        LdapFilter::Not(inner) => not(translate(inner, c, ctx), &ldap_filter_text(f)),
        LdapFilter::Equality(a, v) => item(a, &Item::Equality(v), f, c, ctx),
        LdapFilter::Substring(a, s) => item(a, &Item::Substring(s), f, c, ctx),
        LdapFilter::GreaterOrEqual(a, _) | LdapFilter::LessOrEqual(a, _) => {
            item(a, &Item::Ordering, f, c, ctx)
        }
        LdapFilter::Present(a) => item(a, &Item::Present, f, c, ctx),
        LdapFilter::Approx(a, _) => item(a, &Item::Approx, f, c, ctx),
        LdapFilter::Extensible(m) => match &m.type_ {
            Some(a) if !m.dn_attributes => item(a, &Item::Extensible, f, c, ctx),
            _ => Translated::drop(
                &ldap_filter_text(f),
                "an extensible match without a type or with dnAttributes is checked locally",
            ),
        },
    }
}

/// AND: every pushable child is pushed, the rest is left to the local check.
pub fn and(children: Vec<Translated>) -> Translated {
    if children.iter().any(|t| t.node == Node::Const(false)) {
        return Translated::constant(false);
    }
    let mut dropped = Vec::new();
    let mut approximations = Vec::new();
    let mut saw_drop = false;
    let mut pushes: Vec<(Vec<Alt>, Translated)> = Vec::new();
    for t in children {
        match &t.node {
            Node::Const(_) => {}
            Node::Drop => {
                saw_drop = true;
                dropped.extend(t.dropped);
            }
            Node::Push(alts) => pushes.push((alts.clone(), t)),
        }
    }
    // Children needing one request first; a child that would multiply the requests past
    // the limit is left out (leaving out a conjunct keeps a superset).
    pushes.sort_by_key(|(alts, _)| alts.len());
    let mut product: Vec<Alt> = vec![Alt {
        filter: None,
        search: None,
    }];
    let mut accepted = 0;
    for (alts, t) in pushes {
        if product.len() * alts.len() > MAX_QUERIES_PER_COLLECTION {
            saw_drop = true;
            dropped.push(format!(
                "a conjunct with {} alternative requests was left out: at most {MAX_QUERIES_PER_COLLECTION} requests per collection",
                alts.len()
            ));
            continue;
        }
        accepted += 1;
        dropped.extend(t.dropped);
        approximations.extend(t.approximations);
        let mut next = Vec::new();
        for left in &product {
            for right in &alts {
                next.push(Alt {
                    filter: join(left.filter.clone(), right.filter.clone(), Expr::and),
                    search: join(left.search.clone(), right.search.clone(), SearchExpr::and),
                });
            }
        }
        product = next;
    }
    let node = if accepted > 0 {
        Node::Push(product)
    } else if saw_drop {
        Node::Drop
    } else {
        Node::Const(true)
    };
    Translated {
        node,
        dropped,
        approximations,
    }
}

fn join<T>(a: Option<T>, b: Option<T>, combine: fn(Vec<T>) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(combine(vec![a, b])),
        (a, None) => a,
        (None, b) => b,
    }
}

/// OR: pushed only when every branch is; filter-only branches share one `$filter`,
/// search-only branches one `$search`, and mixed ones get their own request.
pub fn or(children: Vec<Translated>, label: &str) -> Translated {
    if children.iter().any(|t| t.node == Node::Const(true)) {
        return Translated::constant(true);
    }
    let children: Vec<Translated> = children
        .into_iter()
        .filter(|t| t.node != Node::Const(false))
        .collect();
    if children.is_empty() {
        return Translated::constant(false);
    }
    let mut dropped: Vec<String> = Vec::new();
    let mut approximations = Vec::new();
    let mut filters = Vec::new();
    let mut searches = Vec::new();
    let mut mixed = Vec::new();
    let mut blocked = false;
    for t in children {
        dropped.extend(t.dropped);
        approximations.extend(t.approximations);
        match t.node {
            Node::Push(alts) => {
                for alt in alts {
                    match alt {
                        Alt {
                            filter: Some(f),
                            search: None,
                        } => filters.push(f),
                        Alt {
                            filter: None,
                            search: Some(s),
                        } => searches.push(s),
                        other => mixed.push(other),
                    }
                }
            }
            _ => blocked = true,
        }
    }
    if blocked {
        dropped.push(format!(
            "{label}: not pushed because a branch cannot be expressed in Graph"
        ));
        return Translated {
            node: Node::Drop,
            dropped,
            approximations: Vec::new(),
        };
    }
    let mut alts = Vec::new();
    if !filters.is_empty() {
        alts.push(Alt {
            filter: Some(Expr::or(filters)),
            search: None,
        });
    }
    if !searches.is_empty() {
        alts.push(Alt {
            filter: None,
            search: Some(SearchExpr::or(searches)),
        });
    }
    alts.extend(mixed);
    if alts.len() > MAX_QUERIES_PER_COLLECTION {
        dropped.push(format!(
            "{label}: not pushed, it would need {} requests (at most {MAX_QUERIES_PER_COLLECTION})",
            alts.len()
        ));
        return Translated {
            node: Node::Drop,
            dropped,
            approximations: Vec::new(),
        };
    }
    Translated {
        node: Node::Push(alts),
        dropped,
        approximations,
    }
}

/// NOT: only constants are negated. Graph's `not()`/`ne` need advanced queries (GRAPH.md
/// §1), and nothing documents how they treat a missing value or case folding; a negated
/// superset would also be a subset. So a NOT is otherwise left to the local check whole.
pub fn not(child: Translated, label: &str) -> Translated {
    match child.node {
        Node::Const(b) => Translated::constant(!b),
        _ => Translated::drop(label, "negation is checked locally, not pushed to Graph"),
    }
}

/// The kind of filter item on one attribute.
enum Item<'f> {
    Equality(&'f str),
    Substring(&'f LdapSubstringFilter),
    Ordering,
    Present,
    Approx,
    Extensible,
}

fn item(
    name: &str,
    kind: &Item,
    f: &LdapFilter,
    c: Collection,
    ctx: &TranslateContext,
) -> Translated {
    let label = ldap_filter_text(f);
    if name.contains(';') {
        return Translated::drop(&label, "attribute options are checked locally");
    }
    // RFC 4511 §4.5.1.7: an unknown attribute type makes the item Undefined (never TRUE).
    let Some(at) = schema::attribute(name) else {
        return Translated::constant(false);
    };
    if at.name.eq_ignore_ascii_case("objectClass") {
        return object_class_item(kind, c, &label);
    }
    let sources = attribute_sources(ctx.mapping, c, at);
    if sources.is_empty() {
        let always = ALWAYS_PRESENT
            .iter()
            .any(|n| n.eq_ignore_ascii_case(at.name));
        return match kind {
            Item::Present if always => Translated::constant(true),
            _ if always || at.operational => Translated::drop(
                &label,
                "an operational attribute the gateway computes is checked locally",
            ),
            // A type this collection never carries is absent: the item is FALSE.
            _ => Translated::constant(false),
        };
    }
    match kind {
        Item::Present => {
            if sources.iter().any(|s| is_key_source(s, c)) {
                Translated::constant(true)
            } else {
                Translated::drop(
                    &label,
                    "presence would need `ne null` (advanced, not on every property); checked locally",
                )
            }
        }
        Item::Equality(value) => {
            if at.equality == Equality::None {
                // RFC 4519: e.g. facsimileTelephoneNumber has no equality rule → Undefined.
                return Translated::constant(false);
            }
            any_source(
                sources
                    .iter()
                    .map(|s| equality_on_source(at, s, value, c, ctx, &label))
                    .collect(),
                &label,
            )
        }
        Item::Substring(sub) => {
            if at.substrings == Substrings::None {
                return Translated::constant(false);
            }
            any_source(
                sources
                    .iter()
                    .map(|s| substring_on_source(at, s, sub, c, ctx, &label))
                    .collect(),
                &label,
            )
        }
        Item::Ordering => {
            if at.ordering == Ordering::None {
                return Translated::constant(false);
            }
            Translated::drop(
                &label,
                "Graph's string ordering is not caseIgnoreOrderingMatch and ge/le on strings is undocumented (GRAPH.md §1); checked locally",
            )
        }
        Item::Approx => Translated::drop(&label, "approximate match is checked locally"),
        Item::Extensible => Translated::drop(&label, "extensible match is checked locally"),
    }
}

/// The values come from any of the sources: OR, without a second note for one source.
fn any_source(mut per_source: Vec<Translated>, label: &str) -> Translated {
    if per_source.len() == 1
        && let Some(only) = per_source.pop()
    {
        return only;
    }
    or(per_source, label)
}

/// The sources of `at` and of every mapped subtype (a filter on `name` also matches `cn`).
fn attribute_sources<'m>(
    mapping: &'m Mapping,
    c: Collection,
    at: &'static AttributeType,
) -> Vec<&'m Source> {
    mapping
        .for_collection(c)
        .iter()
        .filter(|m| m.attr.is_subtype_of(at))
        .map(|m| &m.source)
        .collect()
}

/// The key property is never absent: entries without it are not served (CONTRACT §4).
fn is_key_source(s: &Source, c: Collection) -> bool {
    match s {
        Source::Property(p) => p == "id" || (c == Collection::Users && p == "userPrincipalName"),
        _ => false,
    }
}

fn object_class_item(kind: &Item, c: Collection, label: &str) -> Translated {
    match kind {
        Item::Present => Translated::constant(true),
        Item::Equality(v) => {
            let v = v.trim().to_ascii_lowercase();
            let own = match c {
                Collection::Users => "user",
                Collection::Contacts => "contact",
            };
            if v == own || COMMON_CLASSES.contains(&v.as_str()) {
                Translated::constant(true)
            } else if v.starts_with(|ch: char| ch.is_ascii_digit()) {
                // Could be the OID the schema gives the `user`/`contact` auxiliary class.
                Translated::drop(label, "an objectClass OID is checked locally")
            } else {
                Translated::constant(false)
            }
        }
        // objectClass has no substrings or ordering rule: Undefined.
        Item::Substring(_) | Item::Ordering => Translated::constant(false),
        Item::Approx | Item::Extensible => Translated::drop(label, "checked locally"),
    }
}

fn equality_on_source(
    at: &AttributeType,
    source: &Source,
    value: &str,
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
) -> Translated {
    match source {
        Source::Property(p) => property_equality(at, p, value, c, ctx, label),
        // The value comes from one of them, so the OR of their conditions is a superset.
        Source::FirstOf(ps) => or(
            ps.iter()
                .map(|p| property_equality(at, p, value, c, ctx, label))
                .collect(),
            label,
        ),
        Source::ContactPhone(_) if at.equality == Equality::TelephoneNumber => {
            indexed_phone(c, source, PhoneAssertion::Equality(value), ctx).unwrap_or_else(|| {
                Translated::drop(
                    label,
                    "orgContact phones are not filterable (GRAPH.md §3) and the phone index is not ready",
                )
            })
        }
        Source::ContactPhone(_) | Source::ContactAddress(_) => Translated::drop(
            label,
            "orgContact phones and addresses are not filterable (GRAPH.md §3)",
        ),
    }
}

fn substring_on_source(
    at: &AttributeType,
    source: &Source,
    sub: &LdapSubstringFilter,
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
) -> Translated {
    match source {
        Source::Property(p) => property_substring(at, p, sub, c, ctx, label),
        Source::FirstOf(ps) => or(
            ps.iter()
                .map(|p| property_substring(at, p, sub, c, ctx, label))
                .collect(),
            label,
        ),
        Source::ContactPhone(_) if at.substrings == Substrings::TelephoneNumber => {
            indexed_phone(c, source, PhoneAssertion::Substring(sub), ctx).unwrap_or_else(|| {
                Translated::drop(
                    label,
                    "orgContact phones are not filterable (GRAPH.md §3) and the phone index is not ready",
                )
            })
        }
        Source::ContactPhone(_) | Source::ContactAddress(_) => Translated::drop(
            label,
            "orgContact phones and addresses are not filterable (GRAPH.md §3)",
        ),
    }
}

/// CONTRACT §7: the phone index's candidates for a phone item on one source, as
/// `id in (...)` (FALSE when there are none); `None` when the index cannot answer.
fn indexed_phone(
    c: Collection,
    source: &Source,
    assertion: PhoneAssertion<'_>,
    ctx: &TranslateContext,
) -> Option<Translated> {
    let ids = (ctx.phone_index)(c, source, assertion)?;
    let cap = capabilities::property(c, "id")?;
    if ids.is_empty() {
        return Some(Translated::constant(false));
    }
    let children = ids
        .into_iter()
        .map(|id| Expr::Cmp(comparison(cap, FilterOp::Eq, id)))
        .collect();
    Some(Translated::filter(Expr::or(children)))
}

fn comparison(cap: &PropertyCapabilities, op: FilterOp, value: String) -> Comparison {
    Comparison {
        property: cap.name.to_string(),
        op,
        collection_any: cap.kind == PropertyKind::StringCollection,
        value,
        support: cap.support(op),
        in_support: cap.in_list,
        variant: None,
    }
}

fn property_equality(
    at: &AttributeType,
    property: &str,
    value: &str,
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
) -> Translated {
    if at.equality == Equality::TelephoneNumber {
        return phone_equality(property, value, c, ctx, label);
    }
    let Some(cap) = capabilities::property(c, property) else {
        return Translated::drop(label, &format!("Graph cannot filter on {property}"));
    };
    if cap.kind == PropertyKind::Id {
        // Directory object ids are GUIDs: any other value matches no object.
        return match guid(value) {
            Some(g) => Translated::filter(Expr::Cmp(comparison(cap, FilterOp::Eq, g))),
            None => Translated::constant(false),
        };
    }
    if !matches!(
        at.equality,
        Equality::CaseIgnore
            | Equality::CaseExact
            | Equality::CaseIgnoreIa5
            | Equality::CaseExactIa5
    ) {
        return Translated::drop(label, "this matching rule has no Graph equivalent");
    }
    match text_form(value) {
        TextForm::Whole(v) if cap.eq != Support::No => {
            Translated::filter(Expr::Cmp(comparison(cap, FilterOp::Eq, v)))
        }
        // A prefix of an implied equality is implied too.
        TextForm::Whole(v) | TextForm::Prefix(v) if cap.starts_with != Support::No => {
            Translated::filter(Expr::Cmp(comparison(cap, FilterOp::StartsWith, v)))
        }
        TextForm::Whole(_) | TextForm::Prefix(_) => Translated::drop(
            label,
            &format!(
                "the value has insignificant spaces or unusual characters and {property} has no startsWith"
            ),
        ),
        TextForm::Unusable => {
            Translated::drop(label, "the value cannot be compared exactly in Graph")
        }
    }
}

/// CONTRACT §7: the phone index's candidates when it is ready. Otherwise, e164 mode: OR
/// of `startsWith` on the raw value and each spelling variant (an extension may follow
/// the number). Not a superset — an approximation `plan` reports with the number of
/// spellings sent. RFC 4517 mode: telephoneNumberMatch ignores spaces and hyphens in the
/// stored value, which no Graph operator does.
fn phone_equality(
    property: &str,
    value: &str,
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
) -> Translated {
    let source = Source::Property(property.to_string());
    if let Some(t) = indexed_phone(c, &source, PhoneAssertion::Equality(value), ctx) {
        return t;
    }
    let Some(cap) = capabilities::property(c, property) else {
        return Translated::drop(label, &format!("Graph cannot filter on {property}"));
    };
    if !ctx.phone_e164 {
        return Translated::drop(
            label,
            "telephoneNumberMatch ignores spaces and hyphens in stored values; Graph compares the stored spelling (GRAPH.md §9)",
        );
    }
    if cap.starts_with == Support::No {
        return Translated::drop(label, "Graph cannot filter this phone property");
    }
    let raw = value.trim();
    if raw.is_empty() {
        return Translated::drop(label, "empty phone number");
    }
    let variants = (ctx.phone_variants)(raw);
    if variants.is_empty() {
        // The number does not parse with the default region, so the local check falls
        // back to telephoneNumberMatch, which ignores spaces and hyphens in the stored
        // value; a startsWith on the typed spelling would miss "03-2001-5681" for
        // "032-001-5681". Only a scan is a superset.
        return Translated::drop(
            label,
            "the number does not parse with [phone] default_region; telephoneNumberMatch ignores spaces and hyphens, which Graph cannot",
        );
    }
    let mut spellings: Vec<String> = vec![raw.to_string()];
    for v in variants {
        let v = v.trim().to_string();
        if !v.is_empty() && !spellings.contains(&v) {
            spellings.push(v);
        }
    }
    let children = spellings
        .into_iter()
        .enumerate()
        .map(|(rank, s)| {
            let mut cmp = comparison(cap, FilterOp::StartsWith, s);
            cmp.variant = Some(VariantTag {
                label: label.to_string(),
                rank: u32::try_from(rank).unwrap_or(u32::MAX),
            });
            Expr::Cmp(cmp)
        })
        .collect();
    Translated::filter(Expr::or(children))
}

fn property_substring(
    at: &AttributeType,
    property: &str,
    sub: &LdapSubstringFilter,
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
) -> Translated {
    if at.substrings == Substrings::TelephoneNumber {
        let source = Source::Property(property.to_string());
        if let Some(t) = indexed_phone(c, &source, PhoneAssertion::Substring(sub), ctx) {
            return t;
        }
        let why = if ctx.phone_e164 {
            "phone substrings compare digits only (CONTRACT §7); a prefix of the stored spelling is not a superset"
        } else {
            "telephoneNumberSubstringsMatch ignores spaces and hyphens in stored values; startsWith does not"
        };
        return Translated::drop(label, why);
    }
    let Some(cap) = capabilities::property(c, property) else {
        return Translated::drop(label, &format!("Graph cannot filter on {property}"));
    };
    if cap.kind == PropertyKind::Id {
        return Translated::drop(label, "Graph cannot filter ids by substring");
    }
    if let Some(initial) = &sub.initial {
        return match text_form(initial) {
            TextForm::Whole(v) | TextForm::Prefix(v) if cap.starts_with != Support::No => {
                Translated::filter(Expr::Cmp(comparison(cap, FilterOp::StartsWith, v)))
            }
            _ => Translated::drop(
                label,
                &format!("{property} has no usable startsWith for this value"),
            ),
        };
    }
    if ctx.strict_substrings {
        return Translated::drop(
            label,
            "contains/ends-with has no $filter operator; strict substrings read the collection",
        );
    }
    let words: Vec<String> = sub
        .any
        .iter()
        .chain(sub.final_.iter())
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() || cap.search == SearchSupport::No {
        return Translated::drop(
            label,
            &format!(
                "contains/ends-with has no $filter operator and $search is not used on {property}"
            ),
        );
    }
    let terms: Vec<SearchExpr> = words
        .iter()
        .map(|w| SearchExpr::Term {
            property: cap.name.to_string(),
            value: w.clone(),
        })
        .collect();
    let how = match cap.search {
        SearchSupport::Tokenized => format!(
            "answered by $search on {property}, which matches word prefixes: a value containing the text inside a word is not found"
        ),
        _ => format!(
            "answered by $search on {property}, which behaves like startsWith: only values starting with the text are found"
        ),
    };
    Translated {
        node: Node::Push(vec![Alt {
            filter: None,
            search: Some(SearchExpr::and(terms)),
        }]),
        dropped: Vec::new(),
        approximations: vec![format!("{label}: {how} (non-strict substrings)")],
    }
}

/// How a caseIgnore/IA5 assertion value can be compared in Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextForm {
    /// Already in normal form: Graph `eq`/`startsWith` on it is implied.
    Whole(String),
    /// Only this leading word is safe to compare: use `startsWith`.
    Prefix(String),
    /// Nothing safe to compare.
    Unusable,
}

/// RFC 4518 string preparation maps, removes or folds characters (§2.2-§2.4: control and
/// format characters vanish, other spaces become SPACE, NFKC) and ignores leading,
/// trailing and repeated spaces (§2.6.1); Graph compares the stored text case-insensitively
/// and nothing more (GRAPH.md §5). So the value (in NFC, as OpenLDAP treats NFC and NFD
/// alike) is used whole only when preparation would not change it; otherwise only its
/// first word before any such character. Assumes Graph stores values with single spaces,
/// trimmed and in NFC.
pub fn text_form(value: &str) -> TextForm {
    let v: String = value.nfc().collect();
    let safe_end = v
        .char_indices()
        .find(|(_, ch)| !is_stable_char(*ch))
        .map_or(v.len(), |(i, _)| i);
    let head = &v[..safe_end];
    let normalized = head
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if safe_end == v.len() && normalized == v && !v.is_empty() {
        return TextForm::Whole(v);
    }
    let first = head.trim_start_matches(' ').split(' ').next().unwrap_or("");
    if first.is_empty() {
        TextForm::Unusable
    } else {
        TextForm::Prefix(first.to_string())
    }
}

/// A character RFC 4518 preparation leaves alone (apart from case folding, which Graph
/// also does): printable ASCII, SPACE, and letters/digits stable under NFKC whose lower
/// case is one character.
fn is_stable_char(ch: char) -> bool {
    if ch == ' ' || ch.is_ascii_graphic() {
        return true;
    }
    if ch.is_ascii() || !ch.is_alphanumeric() || ch.to_lowercase().count() != 1 {
        return false;
    }
    let mut nfkc = std::iter::once(ch).nfkc();
    nfkc.next() == Some(ch) && nfkc.next().is_none()
}

/// A GUID in canonical form (lowercase), or `None`.
pub fn guid(value: &str) -> Option<String> {
    let v = value.trim();
    let groups: Vec<&str> = v.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.chars().all(|ch| ch.is_ascii_hexdigit()));
    ok.then(|| v.to_ascii_lowercase())
}

/// RFC 4515 text of a filter, for notes (values escaped: `*`, `(`, `)`, `\`, NUL): the
/// directory model's printer, the one for the whole program.
pub fn ldap_filter_text(f: &LdapFilter) -> String {
    crate::directory::filter::filter_to_string(f)
}
