//! How a Graph or token-endpoint failure is described. Messages name the cause for an
//! administrator; they never carry a token or a client secret. Which LDAP result a
//! failure becomes is the search side's business (`search::graph_error`), not the client's.

/// A failed Graph request, after the client's retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Graph kept answering 429 and waiting longer would outlast the operation.
    #[error("Graph throttled the request: {0}")]
    Throttled(String),
    /// Graph unreachable, 5xx, or a connection error that a retry did not fix.
    #[error("Graph is unavailable: {0}")]
    Unavailable(String),
    /// Graph refused the query itself (4xx other than 401/429), with its error body.
    #[error("Graph rejected the query: {code}: {message} (HTTP {status})")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// The operation's deadline passed before Graph answered.
    #[error("Graph did not answer in time: {0}")]
    Timeout(String),
    /// Graph answered with something that is not a usable collection page.
    #[error("Graph sent an unusable answer: {0}")]
    Garbage(String),
    /// The token endpoint refused the credential, or Graph refused every token.
    #[error("Graph authentication failed: {0}")]
    Auth(String),
    /// The Graph settings cannot work (bad URL, unreadable credential file).
    #[error("Graph client configuration error: {0}")]
    Config(String),
}
