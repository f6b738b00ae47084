//! The Graph client's request: a collection GET already written out as its path and
//! query (percent-encoded), the extra headers it needs, and how a person reads it. Who
//! builds the query (the translator) is none of the client's business.

/// One Graph collection request, as the client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GraphRequest {
    /// `/v1.0/{collection}?...`, every query value percent-encoded.
    pub path_and_query: String,
    /// Headers sent with the first page and every `@odata.nextLink` page
    /// (`ConsistencyLevel: eventual`, `Prefer: legacySearch=false`).
    pub headers: Vec<(&'static str, &'static str)>,
    /// The request decoded, for logs and error messages (`GET /v1.0/users?$filter=...`).
    pub shown: String,
}
