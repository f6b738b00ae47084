//! LDAP filter → Graph conditions for one collection, as a superset (CONTRACT §6): each
//! item becomes an exact constant, a clause implied by it, or is dropped to the local check.
//! Owns the implication rules; it renders no URLs (see `plan`) and evaluates no entries.
//!
//! Logic: leaves that provably match no entry of the collection are FALSE (an attribute the
//! collection never carries is absent, an objectClass it never has) or Undefined (a type
//! that is neither mapped nor standard, a rule the type lacks: RFC 4511 §4.5.1.7). Both
//! push nothing; they differ under NOT, where NOT FALSE is TRUE but NOT Undefined stays
//! Undefined (CONTRACT §6), so `(!(ipPhone=*))` matches nothing, as in OpenLDAP.

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

use super::capabilities::{
    self, FilterOp, PropertyCapabilities, PropertyKind, SearchSupport, Support,
};
use super::expr::{Comparison, Expr, SearchExpr, VariantTag};
use super::plan::{PhoneAssertion, TranslateContext};
use crate::directory::Collection;
use crate::directory::compat::{self, AdAttribute, Bitwise};
use crate::directory::mapping::{Mapping, Source};
use crate::directory::matching::{self, SubstringAssertion};
use crate::directory::schema::{self, AttributeType, Equality, Ordering, Substrings};

/// At most this many Graph requests per collection and search (CONTRACT §7: a caller-ID
/// lookup costs at most two requests to `/users`).
pub const MAX_QUERIES_PER_COLLECTION: usize = 2;

/// What one filter (sub)tree becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Provably TRUE or FALSE for every entry of the collection.
    Const(bool),
    /// Provably Undefined for every entry (never TRUE, and neither is its negation).
    Undefined,
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
    /// The stored spellings an item's pushed conditions cover (`explain`).
    pub spellings: Vec<String>,
}

impl Translated {
    fn with_node(node: Node) -> Self {
        Translated {
            node,
            dropped: Vec::new(),
            approximations: Vec::new(),
            spellings: Vec::new(),
        }
    }

    fn constant(b: bool) -> Self {
        Self::with_node(Node::Const(b))
    }

    fn undefined() -> Self {
        Self::with_node(Node::Undefined)
    }

    fn drop(label: &str, reason: &str) -> Self {
        Translated {
            dropped: vec![format!("{label}: {reason}")],
            ..Self::with_node(Node::Drop)
        }
    }

    fn filter(e: Expr) -> Self {
        Self::with_node(Node::Push(vec![Alt {
            filter: Some(e),
            search: None,
        }]))
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
        LdapFilter::Not(inner) => ad_bitwise(inner, c, ctx, true, &ldap_filter_text(f))
            .unwrap_or_else(|| not(translate(inner, c, ctx), &ldap_filter_text(f))),
        LdapFilter::Equality(a, v) => item(a, &Item::Equality(v), f, c, ctx),
        LdapFilter::Substring(a, s) => item(a, &Item::Substring(s), f, c, ctx),
        LdapFilter::GreaterOrEqual(a, _) | LdapFilter::LessOrEqual(a, _) => {
            item(a, &Item::Ordering, f, c, ctx)
        }
        LdapFilter::Present(a) => item(a, &Item::Present, f, c, ctx),
        LdapFilter::Approx(a, _) => item(a, &Item::Approx, f, c, ctx),
        LdapFilter::Extensible(_)
            if let Some(t) = ad_bitwise(f, c, ctx, false, &ldap_filter_text(f)) =>
        {
            t
        }
        LdapFilter::Extensible(m) => match &m.type_ {
            Some(a) if !m.dn_attributes => item(a, &Item::Extensible, f, c, ctx),
            _ => Translated::drop(
                &ldap_filter_text(f),
                "an extensible match without a type or with dnAttributes is checked locally",
            ),
        },
    }
}

/// AND: every pushable child is pushed, the rest is left to the local check. An Undefined
/// child makes the AND never TRUE: Undefined when the rest is TRUE or Undefined, else
/// FALSE, a superset under NOT (NOT of it is TRUE only where the others are FALSE).
pub fn and(children: Vec<Translated>) -> Translated {
    if children.iter().any(|t| t.node == Node::Const(false)) {
        return Translated::constant(false);
    }
    if children.iter().any(|t| t.node == Node::Undefined) {
        let only_constants = children
            .iter()
            .all(|t| matches!(t.node, Node::Undefined | Node::Const(true)));
        return if only_constants {
            Translated::undefined()
        } else {
            Translated::constant(false)
        };
    }
    let mut dropped = Vec::new();
    let mut approximations = Vec::new();
    let mut spellings = Vec::new();
    let mut saw_drop = false;
    let mut pushes: Vec<(Vec<Alt>, Translated)> = Vec::new();
    for t in children {
        match &t.node {
            Node::Const(_) | Node::Undefined => {}
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
        spellings.extend(t.spellings);
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
        spellings,
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
/// search-only branches one `$search`, and mixed ones get their own request. FALSE and
/// Undefined branches never make the OR TRUE and are left out.
pub fn or(children: Vec<Translated>, label: &str) -> Translated {
    if children.iter().any(|t| t.node == Node::Const(true)) {
        return Translated::constant(true);
    }
    let any_undefined = children.iter().any(|t| t.node == Node::Undefined);
    let children: Vec<Translated> = children
        .into_iter()
        .filter(|t| !matches!(t.node, Node::Const(false) | Node::Undefined))
        .collect();
    if children.is_empty() {
        return if any_undefined {
            Translated::undefined()
        } else {
            Translated::constant(false)
        };
    }
    let mut dropped: Vec<String> = Vec::new();
    let mut approximations = Vec::new();
    let mut spellings = Vec::new();
    let mut filters = Vec::new();
    let mut searches = Vec::new();
    let mut mixed = Vec::new();
    let mut blocked = false;
    for t in children {
        dropped.extend(t.dropped);
        approximations.extend(t.approximations);
        spellings.extend(t.spellings);
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
            dropped,
            ..Translated::with_node(Node::Drop)
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
            dropped,
            ..Translated::with_node(Node::Drop)
        };
    }
    Translated {
        node: Node::Push(alts),
        dropped,
        approximations,
        spellings,
    }
}

/// NOT: only constants are negated. Graph's `not()`/`ne` need advanced queries (GRAPH.md
/// §1), and nothing documents how they treat a missing value or case folding; a negated
/// superset would also be a subset. So a NOT is otherwise left to the local check whole.
pub fn not(child: Translated, label: &str) -> Translated {
    match child.node {
        Node::Const(b) => Translated::constant(!b),
        Node::Undefined => Translated::undefined(),
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
    // RFC 4511 §4.5.1.7, CONTRACT §6: a type that is neither standard nor mapped makes
    // the item Undefined (never TRUE, nor is its negation).
    let Some(at) = schema::attribute(name) else {
        return Translated::undefined();
    };
    if !ctx.mapping.knows(at) {
        return Translated::undefined();
    }
    if at.name.eq_ignore_ascii_case("objectClass") {
        return object_class_item(kind, c, &label);
    }
    let sources = attribute_sources(ctx.mapping, c, at);
    if let [Source::Ad(ad)] = sources.as_slice()
        && let Some(t) = ad_item(ad, at, kind, c, ctx, &label)
    {
        return t;
    }
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
                return Translated::undefined();
            }
            // An assertion invalid for the rule (non-ASCII for caseIgnoreIA5Match, an
            // empty Directory String) is Undefined locally: no Graph request for it.
            if !at.is_phone() && !matching::assertion_is_valid(at.equality, value) {
                return Translated::undefined();
            }
            let phone = (at.equality == Equality::TelephoneNumber)
                .then_some(PhoneAssertion::Equality(value));
            over_sources(&sources, c, ctx, &label, phone, &|p| {
                property_equality(at, p, value, c, ctx, &label)
            })
        }
        Item::Substring(sub) => {
            if at.substrings == Substrings::None {
                return Translated::undefined();
            }
            let assertion = SubstringAssertion {
                initial: sub.initial.as_deref(),
                any: sub.any.iter().map(String::as_str).collect(),
                final_: sub.final_.as_deref(),
            };
            if !at.is_phone() && !matching::substrings_assertion_is_valid(at.substrings, &assertion)
            {
                return Translated::undefined();
            }
            let phone = (at.substrings == Substrings::TelephoneNumber)
                .then_some(PhoneAssertion::Substring(sub));
            over_sources(&sources, c, ctx, &label, phone, &|p| {
                property_substring(at, p, sub, c, ctx, &label)
            })
        }
        Item::Ordering => {
            if at.ordering == Ordering::None {
                return Translated::undefined();
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

/// CONTRACT §9: an AD bitwise rule on userAccountControl (512 enabled, 514 disabled)
/// decides accountEnabled: the rule is evaluated on both values, and the item (or its
/// negation, `negated`) becomes `accountEnabled eq true/false`, a constant, or the local
/// check. `None` when `f` is not such an item. A negated item relies on every user having
/// accountEnabled (Graph requires it when a user is created, GRAPH.md §10b); an entry
/// without it has no userAccountControl and matches every negated bitwise item locally.
fn ad_bitwise(
    f: &LdapFilter,
    c: Collection,
    ctx: &TranslateContext,
    negated: bool,
    label: &str,
) -> Option<Translated> {
    let LdapFilter::Extensible(m) = f else {
        return None;
    };
    let rule = Bitwise::from_oid(m.matching_rule.as_deref()?)?;
    let at = schema::attribute(m.type_.as_deref()?)?;
    if m.dn_attributes || !ctx.mapping.knows(at) {
        return None;
    }
    let sources = attribute_sources(ctx.mapping, c, at);
    if !matches!(
        sources.as_slice(),
        [Source::Ad(AdAttribute::UserAccountControl)]
    ) {
        return None;
    }
    let on = |enabled: bool| {
        rule.matches(
            &compat::user_account_control(enabled).to_string(),
            &m.match_value,
        )
    };
    let (Some(enabled), Some(disabled)) = (on(true), on(false)) else {
        return Some(Translated::undefined());
    };
    let (enabled, disabled) = if negated {
        (!enabled, !disabled)
    } else {
        (enabled, disabled)
    };
    Some(match (enabled, disabled) {
        (true, false) => account_enabled(c, true),
        (false, true) => account_enabled(c, false),
        // Negated, every value fails the rule: NOT FALSE is TRUE, also without a value.
        (true, true) if negated => Translated::constant(true),
        (true, true) => {
            Translated::drop(label, "matches every userAccountControl; checked locally")
        }
        (false, false) if negated => Translated::drop(
            label,
            "only an entry without userAccountControl could match; checked locally",
        ),
        (false, false) => Translated::constant(false),
    })
}

fn account_enabled(c: Collection, value: bool) -> Translated {
    match capabilities::property(c, "accountEnabled") {
        Some(cap) => Translated::filter(Expr::Cmp(comparison(
            cap,
            FilterOp::EqBoolean,
            value.to_string(),
        ))),
        None => Translated::with_node(Node::Drop),
    }
}

/// An item on an attribute of the AD profile (CONTRACT §9), where its source decides it;
/// `None` leaves the item to the generic rules.
fn ad_item(
    ad: &AdAttribute,
    at: &'static AttributeType,
    kind: &Item,
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
) -> Option<Translated> {
    Some(match (ad, kind) {
        (AdAttribute::Anr, Item::Equality(v)) => translate(&compat::anr_filter(v), c, ctx),
        (AdAttribute::Anr, Item::Substring(sub)) if sub.any.is_empty() && sub.final_.is_none() => {
            translate(
                &compat::anr_filter(sub.initial.as_deref().unwrap_or("")),
                c,
                ctx,
            )
        }
        (AdAttribute::ObjectCategory(value), Item::Equality(v)) => {
            match compat::object_category_matches(value, v) {
                Some(b) => Translated::constant(b),
                None => Translated::undefined(),
            }
        }
        (AdAttribute::ObjectCategory(_), Item::Present) => Translated::constant(true),
        (AdAttribute::DistinguishedName, Item::Present) => Translated::constant(true),
        (AdAttribute::ObjectGuid, Item::Present) => Translated::constant(true),
        (AdAttribute::ObjectGuid, Item::Equality(v)) => {
            let ids: Vec<Translated> = compat::binary_assertions(v)
                .iter()
                .filter_map(|b| compat::guid_text(&compat::text_bytes(b)))
                .map(|id| property_equality(at, "id", &id, c, ctx, label))
                .collect();
            match ids.len() {
                0 => Translated::constant(false),
                _ => or(ids, label),
            }
        }
        (AdAttribute::UserAccountControl, Item::Equality(v)) => {
            if !matching::assertion_is_valid(Equality::Integer, v) {
                return Some(Translated::undefined());
            }
            let is = |enabled: bool| {
                matching::equality_match(
                    Equality::Integer,
                    &compat::user_account_control(enabled).to_string(),
                    v,
                )
            };
            match (is(true), is(false)) {
                (Some(true), _) => account_enabled(c, true),
                (_, Some(true)) => account_enabled(c, false),
                _ => Translated::constant(false),
            }
        }
        (AdAttribute::SamAccountName, Item::Equality(v))
            if !matching::assertion_is_valid(at.equality, v) =>
        {
            Translated::undefined()
        }
        (AdAttribute::SamAccountName, Item::Equality(v)) => or(
            vec![
                property_equality(at, "onPremisesSamAccountName", v, c, ctx, label),
                // The UPN's local part equals v: the UPN starts with v.
                property_equality(at, "userPrincipalName", v, c, ctx, label),
            ],
            label,
        ),
        (AdAttribute::SamAccountName, Item::Substring(sub)) => {
            let initial_only = LdapSubstringFilter {
                initial: sub.initial.clone(),
                any: Vec::new(),
                final_: None,
            };
            let upn = if sub.initial.is_some() {
                property_substring(at, "userPrincipalName", &initial_only, c, ctx, label)
            } else {
                Translated::drop(
                    label,
                    "the UPN's local part has no Graph filter; checked locally",
                )
            };
            or(
                vec![
                    property_substring(at, "onPremisesSamAccountName", sub, c, ctx, label),
                    upn,
                ],
                label,
            )
        }
        _ => return None,
    })
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
        Item::Substring(_) | Item::Ordering => Translated::undefined(),
        Item::Approx | Item::Extensible => Translated::drop(label, "checked locally"),
    }
}

/// One item over every source of its attribute: a superset when any source can match.
fn over_sources(
    sources: &[&Source],
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
    phone: Option<PhoneAssertion<'_>>,
    on_property: &dyn Fn(&str) -> Translated,
) -> Translated {
    let per_source = sources
        .iter()
        .map(|s| on_source(s, c, ctx, label, phone, on_property))
        .collect();
    any_source(per_source, label)
}

/// One item on one of the attribute's sources: `on_property` for each Graph property
/// behind it (the OR over a first-of source, since the value comes from one of them), the
/// phone index for a contact's typed phone when the item is a phone item (`phone`), and
/// the local check for what orgContacts cannot filter.
fn on_source(
    source: &Source,
    c: Collection,
    ctx: &TranslateContext,
    label: &str,
    phone: Option<PhoneAssertion<'_>>,
    on_property: &dyn Fn(&str) -> Translated,
) -> Translated {
    match (source, phone) {
        (Source::Property(p), _) => on_property(p),
        (Source::FirstOf(ps), _) => or(ps.iter().map(|p| on_property(p)).collect(), label),
        (Source::ContactPhone(_), Some(assertion)) => indexed_phone(c, source, assertion, ctx)
            .unwrap_or_else(|| {
                Translated::drop(
                    label,
                    "orgContact phones are not filterable (GRAPH.md §3) and the phone index is not ready",
                )
            }),
        (Source::Ad(_), _) => Translated::drop(
            label,
            "an attribute the AD profile computes is checked locally",
        ),
        (Source::ContactPhone(_) | Source::ContactAddress(_), _) => Translated::drop(
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
    let rule = text_rule(at.equality);
    text_prefix_item(cap, value, rule, label)
}

/// `startsWith` on every spelling in `stored_prefixes`, OR'ed in one `$filter`.
fn text_prefix_item(
    cap: &PropertyCapabilities,
    value: &str,
    rule: TextRule,
    label: &str,
) -> Translated {
    if cap.starts_with == Support::No {
        return Translated::drop(
            label,
            &format!(
                "{} has no startsWith, and `eq` would miss stored spellings with extra spaces or in another Unicode normal form",
                cap.name
            ),
        );
    }
    let Some(prefixes) = stored_prefixes(value, rule) else {
        return Translated::drop(
            label,
            "no prefix of the value is shared by every stored spelling that matches it",
        );
    };
    let shown: Vec<String> = prefixes.iter().map(|p| format!("{p:?}")).collect();
    let children = prefixes
        .into_iter()
        .map(|p| Expr::Cmp(comparison(cap, FilterOp::StartsWith, p)))
        .collect();
    Translated {
        spellings: vec![format!(
            "{label}: {} starting with {}",
            cap.name,
            shown.join(" or ")
        )],
        ..Translated::filter(Expr::or(children))
    }
}

fn text_rule(rule: Equality) -> TextRule {
    match rule {
        Equality::CaseIgnoreIa5 | Equality::CaseExactIa5 => TextRule::Ia5,
        _ => TextRule::Unicode,
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
        let rule = match at.substrings {
            Substrings::CaseIgnoreIa5 => TextRule::Ia5,
            _ => TextRule::Unicode,
        };
        return text_prefix_item(cap, initial, rule, label);
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
    // Graph's index compares the stored text (GRAPH.md §2), so each word goes in both
    // Unicode normal forms; a word no prefix of which every spelling shares is left out
    // (dropping a conjunct keeps a superset).
    let mut terms: Vec<SearchExpr> = Vec::new();
    let mut spellings = Vec::new();
    for w in &words {
        let Some(forms) = spelling_prefixes(w, TextRule::Unicode) else {
            continue;
        };
        if forms.len() > 1 {
            let shown: Vec<String> = forms.iter().map(|f| format!("{f:?}")).collect();
            spellings.push(format!(
                "{label}: $search on {} for {}",
                cap.name,
                shown.join(" or ")
            ));
        }
        terms.push(SearchExpr::or(
            forms
                .into_iter()
                .map(|f| SearchExpr::Term {
                    property: cap.name.to_string(),
                    value: f,
                })
                .collect(),
        ));
    }
    if terms.is_empty() {
        return Translated::drop(
            label,
            "no word of the substrings has a prefix every stored spelling shares",
        );
    }
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
        spellings,
    }
}

/// How the matching rule prepares text: Directory String rules (NFKC, RFC 4518 as slapd
/// applies it) or IA5 rules (ASCII only, no Unicode preparation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRule {
    Unicode,
    Ia5,
}

/// The `startsWith` literals whose OR holds for every stored value the local matcher
/// (`directory::matching`) equates with `value`, or whose key begins with the key of an
/// `initial` piece `value` — spelled with leading, trailing or repeated
/// spaces (U+0020, the only space slapd removes), with each character in NFC or NFD, in any
/// letter case (Graph compares case-insensitively, GRAPH.md §5). `None` when no such
/// prefix exists. The reasoning is docs/exactness.md "Stored-spelling variance":
/// - a value that begins with a space: `' '`;
/// - otherwise it begins with the first word of the assertion (what follows it may be
///   spaces, or a character NFKC makes a space, such as NBSP);
/// - that word is cut before the first character with no NFC/NFD-stable spelling and
///   before the second that has two (see `spelling_prefixes`).
pub fn stored_prefixes(value: &str, rule: TextRule) -> Option<Vec<String>> {
    if rule == TextRule::Ia5 && !value.is_ascii() {
        // caseIgnoreIA5Match: a non-ASCII assertion is invalid (Undefined) anyway.
        return None;
    }
    let v: String = match rule {
        TextRule::Unicode => value.nfc().collect(),
        TextRule::Ia5 => value.to_string(),
    };
    // The first word without the space after it: slapd's NFKC turns a stored NBSP (or
    // U+3000, U+2002...) between words into a space (checked: `John<NBSP>Smith` matches
    // `(givenName=john smith)`), so `startsWith(p,'John ')` would miss it.
    let body = v.trim_start_matches(' ');
    let head = body.split(' ').next().unwrap_or("");
    if head.is_empty() {
        return None;
    }
    let mut out = spelling_prefixes(head, rule)?;
    out.push(" ".to_string());
    Some(out)
}

/// Spellings of the longest prefix of `text` (in NFC) that every string canonically
/// equivalent to it begins with in one of them, when each character is stored in NFC or
/// NFD: characters stable under NFD, NFKC and lowercasing are kept; the first character
/// with exactly two spellings (a base and one combining mark, or `i`/`İ`) is kept in both; the text is
/// cut before the second such character, before anything else, and before the base of a
/// combining mark it cuts at. `None` when nothing is left.
pub fn spelling_prefixes(text: &str, rule: TextRule) -> Option<Vec<String>> {
    let mut clusters: Vec<Vec<String>> = Vec::new();
    let mut two_spellings = false;
    let mut cut_at_mark = false;
    for ch in text.chars() {
        // slapd lowercases `İ` (U+0130, NFC) to `i`, which Graph's case folding need not:
        // `i`, `I` and `İ` are one letter with two spellings to ask for.
        if rule == TextRule::Unicode && matches!(ch, 'i' | 'I' | '\u{130}') {
            if two_spellings {
                break;
            }
            let typed = if ch == 'i' { 'i' } else { 'I' };
            clusters.push(vec![typed.to_string(), "\u{130}".to_string()]);
            two_spellings = true;
            continue;
        }
        if is_inert_char(ch, rule) {
            clusters.push(vec![ch.to_string()]);
            continue;
        }
        if rule == TextRule::Unicode
            && !two_spellings
            && let Some(nfd) = decomposed_spelling(ch)
        {
            clusters.push(vec![ch.to_string(), nfd]);
            two_spellings = true;
            continue;
        }
        cut_at_mark = canonical_combining_class(ch) != 0;
        break;
    }
    if cut_at_mark {
        clusters.pop();
    }
    if clusters.is_empty() {
        return None;
    }
    let mut out = vec![String::new()];
    for spellings in clusters {
        out = out
            .iter()
            .flat_map(|prefix| spellings.iter().map(move |s| format!("{prefix}{s}")))
            .collect();
    }
    Some(out)
}

/// A character every stored spelling of it keeps as is, up to case: printable ASCII (IA5
/// rules: ASCII only), SPACE, and letters and digits that are their own NFD and NFKC, with a
/// one-character lowercase (Graph folds case; slapd's simple lowercase does too).
fn is_inert_char(ch: char, rule: TextRule) -> bool {
    if ch == ' ' || ch.is_ascii_graphic() {
        return true;
    }
    if rule == TextRule::Ia5 || ch.is_ascii() || !ch.is_alphanumeric() {
        return false;
    }
    single_lowercase(ch)
        && canonical_combining_class(ch) == 0
        && is_single(std::iter::once(ch).nfd(), ch)
        && is_single(std::iter::once(ch).nfkc(), ch)
}

fn single_lowercase(ch: char) -> bool {
    ch.to_lowercase().count() == 1
}

fn is_single(mut it: impl Iterator<Item = char>, ch: char) -> bool {
    it.next() == Some(ch) && it.next().is_none()
}

/// The NFD spelling of a precomposed letter that has exactly two (`ë` = `e` + U+0308):
/// NFC and NFKC-stable, one-character lowercase, NFD an inert base and one combining mark.
fn decomposed_spelling(ch: char) -> Option<String> {
    if !ch.is_alphanumeric()
        || !single_lowercase(ch)
        || !is_single(std::iter::once(ch).nfc(), ch)
        || !is_single(std::iter::once(ch).nfkc(), ch)
    {
        return None;
    }
    let nfd: Vec<char> = std::iter::once(ch).nfd().collect();
    match nfd.as_slice() {
        [base, mark]
            if is_inert_char(*base, TextRule::Unicode)
                && *base != ' '
                && canonical_combining_class(*mark) != 0 =>
        {
            Some(nfd.iter().collect())
        }
        _ => None,
    }
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
