//! The Graph request plan a search becomes (`plan_collection`), how it renders as a URL
//! and headers, and its `explain` text. Packs conditions into requests of at most 2,048
//! characters; which conditions are implied by the LDAP filter is `pushdown`'s business.

use std::collections::{BTreeMap, BTreeSet};

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};

use super::capabilities::{self, FilterOp};
use super::expr::{Comparison, Expr, SearchExpr};
use super::pushdown::{self, Alt, MAX_QUERIES_PER_COLLECTION, Node};
use crate::directory::Collection;
use crate::directory::mapping::{Mapping, Source};

/// A phone filter item the phone index may answer (CONTRACT §7).
#[derive(Debug, Clone, Copy)]
pub enum PhoneAssertion<'f> {
    Equality(&'f str),
    Substring(&'f LdapSubstringFilter),
}

/// Candidate object ids for a phone item on one source of one collection: `Some(ids)`
/// (a superset of the objects whose value can match) when the phone index is ready and
/// holds that source, `None` to use the spelling pushdown.
pub type PhoneIndexLookup<'a> =
    dyn Fn(Collection, &Source, PhoneAssertion<'_>) -> Option<Vec<String>> + 'a;

/// GRAPH.md §4: with advanced parameters the limit is the URL length, 2,048 characters.
pub const MAX_URL_CHARS: usize = 2048;
/// Room kept for the origin in front of `/v1.0/...` (`https://microsoftgraph.chinacloudapi.cn`
/// is 39 characters; GRAPH.md §7).
pub const ORIGIN_RESERVE_CHARS: usize = 64;

/// What the translator needs besides the filter.
pub struct TranslateContext<'a> {
    pub mapping: &'a Mapping,
    /// OData condition ANDed into every `/users` query ("" = none), CONTRACT §3.
    pub user_filter: &'a str,
    /// CONTRACT §3 `[search] strict_substrings`.
    pub strict_substrings: bool,
    /// CONTRACT §3 `[phone] match = "e164"`.
    pub phone_e164: bool,
    /// Spellings of a dialled number as Graph may store it, most likely first (§7).
    pub phone_variants: &'a dyn Fn(&str) -> Vec<String>,
    /// The phone index (CONTRACT §7): candidate ids for phone items, or `None`.
    pub phone_index: &'a PhoneIndexLookup<'a>,
    /// `$top`, e.g. 999 (GRAPH.md §4).
    pub page_size: u32,
}

/// One Graph collection query. Strings are kept un-encoded; `path_and_query` encodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GraphQuery {
    pub collection: Collection,
    /// OData `$filter` expression, un-encoded (`startsWith(displayName,'O''Brien')`).
    pub filter: Option<String>,
    /// `$search` expression, un-encoded (`"displayName:smi" OR "mail:smi"`).
    pub search: Option<String>,
    /// `$select` properties.
    pub select: Vec<String>,
    /// `$orderby`, when Graph can order (advanced with a filter).
    pub orderby: Option<String>,
    /// `$top` page size.
    pub top: Option<u32>,
    /// Send `ConsistencyLevel: eventual` (advanced query).
    pub consistency_eventual: bool,
    /// Send `$count=true` (required with the header for advanced `$filter` clauses).
    pub count: bool,
}

/// What a search costs Graph and what stays local.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushdownPlan {
    /// Queries to run; their results are unioned (deduplicated by `id`). Empty when the
    /// filter provably matches nothing in the covered collections.
    pub queries: Vec<GraphQuery>,
    /// True when no query narrows its collection (a scan): `max_scan` bounds it.
    pub unbounded: bool,
    /// Human-readable notes for `explain`: clauses left to the local check and why.
    pub dropped: Vec<String>,
    /// Approximations (configurable exceptions of CONTRACT §6), for `explain`.
    pub approximations: Vec<String>,
    /// The stored spellings each text item asks Graph for (docs/exactness.md), for `explain`.
    pub spellings: Vec<String>,
    /// How phone items were answered (phone index or spelling pushdown, and why), for
    /// `explain`; filled in by the caller that owns the index.
    pub phone_index: Vec<String>,
}

impl GraphQuery {
    /// A query of `collection` with nothing but `$select` set.
    pub fn new(collection: Collection, select: Vec<String>) -> Self {
        GraphQuery {
            collection,
            filter: None,
            search: None,
            select,
            orderby: None,
            top: None,
            consistency_eventual: false,
            count: false,
        }
    }

    /// `/v1.0/{collection}?...` with every query value percent-encoded (GRAPH.md §5:
    /// `+` as `%2B`, `#` as `%23`, space as `%20`).
    pub fn path_and_query(&self) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(f) = &self.filter {
            params.push(("$filter", f.clone()));
        }
        if let Some(s) = &self.search {
            params.push(("$search", s.clone()));
        }
        if !self.select.is_empty() {
            params.push(("$select", self.select.join(",")));
        }
        if let Some(o) = &self.orderby {
            params.push(("$orderby", o.clone()));
        }
        if let Some(t) = self.top {
            params.push(("$top", t.to_string()));
        }
        if self.count {
            params.push(("$count", "true".to_string()));
        }
        let mut out = format!("/v1.0/{}", self.collection.graph_path());
        for (i, (k, v)) in params.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(&super::odata::encode_query_value(v));
        }
        out
    }

    /// Request headers the query needs.
    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut h = Vec::new();
        if self.consistency_eventual {
            h.push(("ConsistencyLevel", "eventual"));
        }
        // GRAPH.md §2: an encoded `&` in $search needs the non-legacy search parser.
        if self.search.as_deref().is_some_and(|s| s.contains('&')) {
            h.push(("Prefer", "legacySearch=false"));
        }
        h
    }

    /// The request as a person reads it: decoded URL, for `explain` and logs.
    pub fn display_decoded(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.filter {
            parts.push(format!("$filter={f}"));
        }
        if let Some(s) = &self.search {
            parts.push(format!("$search={s}"));
        }
        if !self.select.is_empty() {
            parts.push(format!("$select={}", self.select.join(",")));
        }
        if let Some(o) = &self.orderby {
            parts.push(format!("$orderby={o}"));
        }
        if let Some(t) = self.top {
            parts.push(format!("$top={t}"));
        }
        if self.count {
            parts.push("$count=true".to_string());
        }
        let mut out = format!("GET /v1.0/{}", self.collection.graph_path());
        if !parts.is_empty() {
            out.push('?');
            out.push_str(&parts.join("&"));
        }
        out
    }
}

/// The plan for one collection. `key` is the uid value of a base-scope search on one entry
/// (UPN for users, id for contacts): one request for that object, whatever the filter —
/// the request also tells whether the entry exists (CONTRACT §4: noSuchObject).
pub fn plan_collection(
    filter: &LdapFilter,
    c: Collection,
    key: Option<&str>,
    ctx: &TranslateContext,
) -> PushdownPlan {
    let builder = QueryBuilder::new(c, ctx);
    if let Some(key) = key {
        return key_plan(&builder, key);
    }
    let translated = pushdown::translate(filter, c, ctx);
    let mut plan = PushdownPlan {
        dropped: translated.dropped,
        approximations: translated.approximations,
        spellings: translated.spellings,
        ..PushdownPlan::default()
    };
    let alts = match translated.node {
        Node::Const(false) | Node::Undefined => return plan,
        Node::Const(true) | Node::Drop => vec![Alt {
            filter: None,
            search: None,
        }],
        Node::Push(alts) => alts,
    };
    let budget = (MAX_QUERIES_PER_COLLECTION + 1)
        .saturating_sub(alts.len())
        .max(1);
    let original: Vec<&Comparison> = alts
        .iter()
        .filter_map(|a| a.filter.as_ref())
        .flat_map(|f| f.comparisons())
        .collect();
    let mut sent_filters: Vec<Expr> = Vec::new();
    for alt in &alts {
        for (filter, search) in pack(&builder, alt.clone(), budget, &mut plan.dropped) {
            plan.unbounded |= filter.is_none() && search.is_none();
            plan.queries
                .push(builder.build(filter.as_ref(), search.as_ref()));
            sent_filters.extend(filter);
        }
    }
    let sent: Vec<&Comparison> = sent_filters.iter().flat_map(|f| f.comparisons()).collect();
    plan.approximations.extend(variant_notes(&original, &sent));
    plan
}

fn key_plan(builder: &QueryBuilder, key: &str) -> PushdownPlan {
    let note =
        format!("base-scope read of {key}: the LDAP filter is checked locally on that entry");
    let (property, value) = match builder.collection {
        Collection::Users => ("userPrincipalName", key.to_string()),
        Collection::Contacts => match pushdown::guid(key) {
            Some(id) => ("id", id),
            // Contact ids are GUIDs: no contact has this one.
            None => {
                return PushdownPlan {
                    dropped: vec![format!("{key} is not an object id: no such contact")],
                    ..PushdownPlan::default()
                };
            }
        },
    };
    let Some(cap) = capabilities::property(builder.collection, property) else {
        return PushdownPlan::default();
    };
    let filter = Expr::Cmp(Comparison {
        property: property.to_string(),
        op: FilterOp::Eq,
        collection_any: false,
        value,
        support: cap.eq,
        in_support: cap.in_list,
        variant: None,
    });
    PushdownPlan {
        queries: vec![builder.build(Some(&filter), None)],
        unbounded: false,
        dropped: vec![note],
        ..PushdownPlan::default()
    }
}

/// Builds `GraphQuery`s of one collection: `$select`, `$top`, `user_filter`, headers.
struct QueryBuilder<'a> {
    collection: Collection,
    select: Vec<String>,
    user_filter: Option<&'a str>,
    page_size: u32,
}

impl<'a> QueryBuilder<'a> {
    fn new(c: Collection, ctx: &TranslateContext<'a>) -> Self {
        let user_filter = ctx.user_filter.trim();
        QueryBuilder {
            collection: c,
            select: select_properties(ctx.mapping, c),
            user_filter: (c == Collection::Users && !user_filter.is_empty()).then_some(user_filter),
            page_size: ctx.page_size,
        }
    }

    fn build(&self, filter: Option<&Expr>, search: Option<&SearchExpr>) -> GraphQuery {
        let rendered = filter.map(Expr::render);
        let advanced = rendered.as_ref().is_some_and(|r| r.advanced)
            || self.user_filter.is_some_and(user_filter_needs_advanced);
        let text = match (self.user_filter, rendered) {
            (Some(u), Some(r)) => Some(format!("({u}) and ({})", r.text)),
            (Some(u), None) => Some(u.to_string()),
            (None, Some(r)) => Some(r.text),
            (None, None) => None,
        };
        let mut q = GraphQuery::new(self.collection, self.select.clone());
        q.filter = text;
        q.search = search.map(SearchExpr::render);
        q.top = Some(self.page_size);
        // GRAPH.md "advanced query": header and $count for advanced $filter clauses;
        // $search needs only the header (§2).
        q.consistency_eventual = advanced || q.search.is_some();
        q.count = advanced;
        q
    }

    fn fits(&self, filter: Option<&Expr>, search: Option<&SearchExpr>) -> bool {
        url_fits(&self.build(filter, search))
    }
}

/// True when the request URL stays within GRAPH.md §4's 2,048 characters. Most queries
/// are far shorter: when even every byte percent-encoded (three characters) would fit,
/// the URL is not written out to be measured (the planner asks this of every packing).
pub fn url_fits(q: &GraphQuery) -> bool {
    let values = q.filter.as_ref().map_or(0, String::len)
        + q.search.as_ref().map_or(0, String::len)
        + q.select.iter().map(|p| p.len() + 1).sum::<usize>()
        + q.orderby.as_ref().map_or(0, String::len);
    // "/v1.0/contacts", "?$filter=", "&$search=", … "&$top=4294967295&$count=true".
    let most = 16 + 6 * 10 + 10 + 11 + 3 * values;
    most + ORIGIN_RESERVE_CHARS <= MAX_URL_CHARS
        || q.path_and_query().len() + ORIGIN_RESERVE_CHARS <= MAX_URL_CHARS
}

/// `ne`, `not`, `endsWith`, `null` tests and `$count` in the configured `user_filter` need
/// the advanced parameters (GRAPH.md §1). A heuristic on words outside string literals.
fn user_filter_needs_advanced(u: &str) -> bool {
    let mut outside = String::new();
    let mut in_literal = false;
    for ch in u.chars() {
        if ch == '\'' {
            in_literal = !in_literal;
        } else if !in_literal {
            outside.push(ch.to_ascii_lowercase());
        }
    }
    outside
        .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '$'))
        .any(|w| matches!(w, "ne" | "not" | "endswith" | "null" | "$count"))
}

/// Splits an alternative into requests that fit the URL limit, at most `budget` of them.
/// The largest top-level OR is split across requests (their union is the same set); if
/// that needs too many, the least likely phone spellings go first, then the OR itself is
/// left to the local check (dropping a conjunct keeps a superset).
fn pack(
    builder: &QueryBuilder,
    alt: Alt,
    budget: usize,
    dropped: &mut Vec<String>,
) -> Vec<(Option<Expr>, Option<SearchExpr>)> {
    let Alt {
        mut filter,
        mut search,
    } = alt;
    loop {
        if builder.fits(filter.as_ref(), search.as_ref()) {
            return vec![(filter, search)];
        }
        let Some((rest, mut disjuncts)) = split_largest_or(filter.as_ref()) else {
            if filter.is_some() {
                dropped.push(format!(
                    "a $filter of {} characters exceeds the URL limit: checked locally",
                    filter.as_ref().map_or(0, |f| f.render().text.len())
                ));
                filter = None;
                continue;
            }
            if search.is_some() {
                dropped.push("the $search exceeds the URL limit: checked locally".to_string());
                search = None;
                continue;
            }
            return vec![(filter, search)];
        };
        disjuncts.sort_by_key(rank);
        // Candidate ids from the phone index are split across as many requests as they
        // need: the cost grows with the matching objects, never with the tenant.
        let budget = if disjuncts.iter().any(is_id_comparison) {
            usize::MAX
        } else {
            budget
        };
        if let Some(chunks) = chunk(builder, &rest, &disjuncts, search.as_ref(), budget) {
            return chunks
                .into_iter()
                .map(|f| (Some(f), search.clone()))
                .collect();
        }
        // The least likely spelling goes, for every phone property at once.
        let least_likely = disjuncts.iter().filter_map(variant_rank).max();
        if let Some(worst) = least_likely {
            disjuncts.retain(|d| variant_rank(d) != Some(worst));
            let mut parts = rest.clone();
            if disjuncts.is_empty() {
                dropped.push(format!(
                    "no phone spelling fits a request of at most {MAX_URL_CHARS} characters: checked locally"
                ));
            } else {
                parts.push(Expr::or(disjuncts));
            }
            filter = (!parts.is_empty()).then(|| Expr::and(parts));
        } else {
            dropped.push(format!(
                "an OR of {} clauses would need more than {budget} request(s) of at most {MAX_URL_CHARS} characters: checked locally",
                disjuncts.len()
            ));
            filter = (!rest.is_empty()).then(|| Expr::and(rest));
        }
    }
}

/// The largest OR among the top-level conjuncts: (the other conjuncts, its children).
fn split_largest_or(filter: Option<&Expr>) -> Option<(Vec<Expr>, Vec<Expr>)> {
    let conjuncts: Vec<Expr> = match filter? {
        Expr::And(v) => v.clone(),
        other => vec![other.clone()],
    };
    let (index, _) = conjuncts
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Expr::Or(v) => Some((i, v.len())),
            _ => None,
        })
        .max_by_key(|(_, n)| *n)?;
    let mut rest = conjuncts;
    let Expr::Or(children) = rest.remove(index) else {
        return None;
    };
    Some((rest, children))
}

/// Greedy packing of `disjuncts` (in order) into at most `budget` filters that fit.
fn chunk(
    builder: &QueryBuilder,
    rest: &[Expr],
    disjuncts: &[Expr],
    search: Option<&SearchExpr>,
    budget: usize,
) -> Option<Vec<Expr>> {
    let assemble = |members: &[Expr]| {
        let mut parts = rest.to_vec();
        parts.push(Expr::or(members.to_vec()));
        Expr::and(parts)
    };
    let mut chunks: Vec<Vec<Expr>> = Vec::new();
    let mut current: Vec<Expr> = Vec::new();
    for d in disjuncts {
        current.push(d.clone());
        if builder.fits(Some(&assemble(&current)), search) {
            continue;
        }
        let last = current.pop()?;
        if current.is_empty() {
            return None; // a single clause does not fit
        }
        chunks.push(std::mem::take(&mut current));
        current.push(last);
        if !builder.fits(Some(&assemble(&current)), search) {
            return None;
        }
        if chunks.len() >= budget {
            return None;
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    (chunks.len() <= budget).then(|| chunks.iter().map(|c| assemble(c)).collect())
}

/// An `id eq` comparison (a candidate of the phone index, or an id assertion).
fn is_id_comparison(e: &Expr) -> bool {
    matches!(e, Expr::Cmp(c) if c.property == "id" && c.op == FilterOp::Eq)
}

fn variant_rank(e: &Expr) -> Option<u32> {
    match e {
        Expr::Cmp(c) => c.variant.as_ref().map(|v| v.rank),
        _ => None,
    }
}

fn rank(e: &Expr) -> u32 {
    variant_rank(e).unwrap_or(0)
}

/// One note per phone assertion: how many of its spellings were sent (CONTRACT §7).
fn variant_notes(original: &[&Comparison], sent: &[&Comparison]) -> Vec<String> {
    let spellings = |cs: &[&Comparison]| {
        let mut m: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for c in cs {
            if let Some(v) = &c.variant {
                m.entry(v.label.clone()).or_default().insert(v.rank);
            }
        }
        m
    };
    let before = spellings(original);
    let after = spellings(sent);
    before
        .iter()
        .filter_map(|(label, ranks)| {
            let n = after.get(label).map_or(0, BTreeSet::len);
            (n > 0).then(|| {
                format!(
                    "{label}: e164 phone matching sends {n} of {} spellings as startsWith; a number stored in another spelling is not found",
                    ranks.len()
                )
            })
        })
        .collect()
}

/// `$select` for a collection: `id`, `userPrincipalName` for users, then every Graph
/// property the mapping reads (CONTRACT §5), each once.
fn select_properties(mapping: &Mapping, c: Collection) -> Vec<String> {
    mapping.select(c)
}

/// The `explain` text of a plan: each request (method, decoded URL, headers), what is
/// checked locally, what was left out of Graph and every approximation (CONTRACT §2).
pub fn explain_plan(plan: &PushdownPlan) -> String {
    let mut out = String::new();
    if plan.queries.is_empty() {
        out.push_str("no Graph request: the filter matches no entry here\n");
    }
    for (i, q) in plan.queries.iter().enumerate() {
        out.push_str(&format!("request {}: {}\n", i + 1, q.display_decoded()));
        for (name, value) in q.headers() {
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    if plan.unbounded {
        out.push_str("scan: a request does not narrow the collection; every page is read\n");
    }
    if !plan.queries.is_empty() {
        out.push_str("checked locally: the whole LDAP filter, on every object returned\n");
    }
    if !plan.spellings.is_empty() {
        out.push_str("stored spellings asked for (spaces, NFC/NFD, case):\n");
        for v in &plan.spellings {
            out.push_str(&format!("  - {v}\n"));
        }
    }
    if !plan.dropped.is_empty() {
        out.push_str("left to the local check:\n");
        for d in &plan.dropped {
            out.push_str(&format!("  - {d}\n"));
        }
    }
    if !plan.approximations.is_empty() {
        out.push_str("approximations:\n");
        for a in &plan.approximations {
            out.push_str(&format!("  - {a}\n"));
        }
    }
    if !plan.phone_index.is_empty() {
        out.push_str("phone index:\n");
        for a in &plan.phone_index {
            out.push_str(&format!("  - {a}\n"));
        }
    }
    out
}
