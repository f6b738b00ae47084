//! Graph and Entra error bodies as the emulator sends them (GRAPH.md §6 and §7).
//! Owns the wording, status codes and JSON envelopes; it decides nothing about when an error applies.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// A Graph data-plane error: status, `error.code` and `error.message` (GRAPH.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl GraphError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `Request_UnsupportedQuery`, the code Graph uses for clauses it cannot serve.
    pub fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
    }

    /// 400 `BadRequest`, used by Graph's OData layer for syntax and type errors.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 400 `Request_BadRequest`, used by the directory layer for malformed options.
    pub fn directory_bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// A property/operator pair the directory does not index (GRAPH.md §6, second row).
    pub fn unsupported_clause(property: &str, entity: &str) -> Self {
        Self::unsupported_query(format!(
            "Unsupported or invalid query filter clause specified for property '{property}' of resource '{entity}'."
        ))
    }

    /// An operator that needs the advanced query parameters (GRAPH.md §6, first row).
    pub fn needs_advanced_parameters(operator: &str) -> Self {
        Self::unsupported_query(format!(
            "Operator '{operator}' is not supported because the required parameters might be missing. \
             Try adding $count=true query parameter and ConsistencyLevel:eventual header. \
             Refer to https://aka.ms/graph-docs/advanced-queries for more information"
        ))
    }

    /// `Invalid filter clause: Syntax error at position N in '…'.` (GRAPH.md §6, [obs S15]).
    pub fn filter_syntax(position: usize, filter: &str) -> Self {
        Self::bad_request(format!(
            "Invalid filter clause: Syntax error at position {position} in '{filter}'."
        ))
    }

    /// An unknown property name, worded like the OData layer of Graph.
    pub fn unknown_property(property: &str, type_name: &str) -> Self {
        Self::bad_request(format!(
            "Could not find a property named '{property}' on type '{type_name}'."
        ))
    }

    /// 404 for an id or UPN that does not exist (GRAPH.md §6).
    pub fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 400 for a nextLink whose page token has expired. The code is the one Graph sends on
    /// `/v1.0/users` nextLinks (learn.microsoft.com Q&A 2337800, "How to handle
    /// Directory_ExpiredPageToken error in /v1.0/users"; msgraph-sdk-java issue 368); the
    /// message is Graph's wording as recorded by cartography's Graph client tests.
    pub fn expired_page_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be included in your request.",
        )
    }

    /// The JSON envelope `{"error":{"code","message","innerError":{…}}}` (GRAPH.md §6).
    pub fn body(&self, date: &str, request_id: &str, client_request_id: &str) -> Value {
        json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": date,
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                }
            }
        })
    }
}

/// The 429 body Graph sends when throttling (GRAPH.md §6, throttled row; [doc S11]).
pub fn throttled_body(date: &str, request_id: &str) -> Value {
    json!({
        "error": {
            "code": "TooManyRequests",
            "message": "Please retry again later.",
            "innerError": {
                "code": "429",
                "message": "Please retry after",
                "status": "429",
                "date": date,
                "request-id": request_id,
            }
        }
    })
}

/// An Entra token-endpoint error (GRAPH.md §7): `error`, `error_description` starting with the
/// AADSTS code, `error_codes`, and the trace fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub status: StatusCode,
    pub error: &'static str,
    pub aadsts: u32,
    pub description: String,
}

impl TokenError {
    pub fn new(
        status: StatusCode,
        error: &'static str,
        aadsts: u32,
        description: impl Into<String>,
    ) -> Self {
        TokenError {
            status,
            error,
            aadsts,
            description: description.into(),
        }
    }

    /// The client secret has expired (GRAPH.md §7: AADSTS7000222, `invalid_client`; the
    /// status of invalid_client is 401 here, as for AADSTS7000215 [?]).
    pub fn expired_secret(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the Azure \
                 portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider \
                 using certificate credentials for added security: https://aka.ms/certCreds."
            ),
        )
    }

    pub fn body(&self, timestamp: &str, trace_id: &str, correlation_id: &str) -> Value {
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
                self.aadsts, self.description
            ),
            "error_codes": [self.aadsts],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        })
    }
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS` (the `innerError.date` form).
pub fn format_utc(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(format_utc(1_795_000_000), "2026-11-18T11:06:40");
    }

    #[test]
    fn graph_envelope_has_inner_error() {
        let body = GraphError::not_found("x").body("d", "r", "c");
        assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
        assert_eq!(body["error"]["innerError"]["request-id"], "r");
        assert_eq!(body["error"]["innerError"]["client-request-id"], "c");
    }

    #[test]
    fn token_error_description_starts_with_code() {
        let e = TokenError::new(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, "bad");
        let body = e.body("t", "tr", "co");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS7000215: bad"))
        );
        assert_eq!(body["error_codes"][0], 7000215);
    }
}
