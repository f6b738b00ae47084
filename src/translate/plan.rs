//! The Graph request plan a search becomes, and how it renders as a URL and headers.

use crate::directory::Collection;

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
#[derive(Debug, Clone, PartialEq)]
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
