//! Which LDAP result a failed Graph request becomes (CONTRACT §6). The search side owns
//! this mapping so that the Graph client never learns LDAP result codes; it does not
//! describe the failure itself (`graph::GraphError` does).

use ldap3_proto::LdapResultCode;

use crate::error::LdapError;
use crate::graph::GraphError;

/// The LDAP result a search ends with when `e` stops it (CONTRACT §6): throttling is
/// `busy` (51); an unreachable Graph, a refused token or an unusable answer is
/// `unavailable` (52); the time limit is `timeLimitExceeded` (3); a query Graph refuses
/// and a configuration error are `other` (80).
pub fn ldap_error(e: &GraphError) -> LdapError {
    let code = match e {
        GraphError::Throttled(_) => LdapResultCode::Busy,
        GraphError::Unavailable(_) | GraphError::Auth(_) | GraphError::Garbage(_) => {
            LdapResultCode::Unavailable
        }
        GraphError::Timeout(_) => LdapResultCode::TimeLimitExceeded,
        GraphError::Rejected { .. } | GraphError::Config(_) => LdapResultCode::Other,
    };
    let message = match e {
        GraphError::Rejected { code, message, .. } => {
            format!("Graph rejected the query: {code}: {message}")
        }
        other => other.to_string(),
    };
    LdapError::new(code, message)
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
            assert_eq!(ldap_error(&err).code, code, "{err:?}");
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
            ldap_error(&err).message,
            "Graph rejected the query: Request_UnsupportedQuery: Unsupported query."
        );
    }

    #[test]
    fn other_messages_are_the_graph_errors_own_words() {
        let err = GraphError::Auth("AADSTS7000215: Invalid client secret provided".into());
        assert_eq!(ldap_error(&err).message, err.to_string());
    }
}
