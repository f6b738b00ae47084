//! How a Graph or token-endpoint failure is described, and which LDAP result code it
//! becomes (CONTRACT §6). Messages name the cause for an administrator; they never carry
//! a token or a client secret.

use crate::error::LdapError;
use ldap3_proto::LdapResultCode;

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

impl GraphError {
    /// The LDAP result a search ends with when this error stops it (CONTRACT §6):
    /// throttling is `busy` (51); an unreachable Graph, a refused token or an unusable
    /// answer is `unavailable` (52); the time limit is `timeLimitExceeded` (3); a query
    /// Graph refuses and a configuration error are `other` (80).
    pub fn to_ldap(&self) -> LdapError {
        let code = match self {
            GraphError::Throttled(_) => LdapResultCode::Busy,
            GraphError::Unavailable(_) | GraphError::Auth(_) | GraphError::Garbage(_) => {
                LdapResultCode::Unavailable
            }
            GraphError::Timeout(_) => LdapResultCode::TimeLimitExceeded,
            GraphError::Rejected { .. } | GraphError::Config(_) => LdapResultCode::Other,
        };
        let message = match self {
            GraphError::Rejected { code, message, .. } => {
                format!("Graph rejected the query: {code}: {message}")
            }
            other => other.to_string(),
        };
        LdapError::new(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_ldap_result_code() {
        let cases = [
            (GraphError::Throttled("x".into()), LdapResultCode::Busy),
            (
                GraphError::Unavailable("x".into()),
                LdapResultCode::Unavailable,
            ),
            (GraphError::Auth("x".into()), LdapResultCode::Unavailable),
            (GraphError::Garbage("x".into()), LdapResultCode::Unavailable),
            (
                GraphError::Timeout("x".into()),
                LdapResultCode::TimeLimitExceeded,
            ),
            (GraphError::Config("x".into()), LdapResultCode::Other),
            (
                GraphError::Rejected {
                    status: 400,
                    code: "c".into(),
                    message: "m".into(),
                },
                LdapResultCode::Other,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.to_ldap().code, code, "{err:?}");
        }
    }

    #[test]
    fn rejected_message_names_graph_code_and_message() {
        let err = GraphError::Rejected {
            status: 400,
            code: "Request_UnsupportedQuery".into(),
            message: "Unsupported query.".into(),
        };
        assert_eq!(
            err.to_ldap().message,
            "Graph rejected the query: Request_UnsupportedQuery: Unsupported query."
        );
    }
}
