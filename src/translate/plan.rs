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
