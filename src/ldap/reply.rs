//! The one way to build an LDAPResult, and the one table from a request to the response
//! that answers it (RFC 4511 §4.2-4.14). Pure; it decides no result codes.

use ldap3_proto::LdapResultCode;
use ldap3_proto::proto::{LdapBindResponse, LdapExtendedResponse, LdapOp, LdapResult};

use crate::error::LdapError;

/// An LDAPResult with a code and a diagnostic message, no matched DN, no referral.
pub fn ldap_result(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

/// The LDAPResult reporting an error.
pub fn error_result(e: LdapError) -> LdapResult {
    ldap_result(e.code, e.message)
}

/// The application tag of a request's protocolOp (RFC 4511 §4.2-4.14, Appendix B).
pub fn request_tag(op: &LdapOp) -> Option<u64> {
    Some(match op {
        LdapOp::BindRequest(_) => 0,
        LdapOp::UnbindRequest => 2,
        LdapOp::SearchRequest(_) => 3,
        LdapOp::ModifyRequest(_) => 6,
        LdapOp::AddRequest(_) => 8,
        LdapOp::DelRequest(_) => 10,
        LdapOp::ModifyDNRequest(_) => 12,
        LdapOp::CompareRequest(_) => 14,
        LdapOp::AbandonRequest(_) => 16,
        LdapOp::ExtendedRequest(_) => 23,
        _ => return None,
    })
}

/// The response that carries `res` for the request with application tag `tag`; `None`
/// for unbind, abandon (no response) and tags that are not requests.
pub fn response_to(tag: u64, res: LdapResult) -> Option<LdapOp> {
    Some(match tag {
        0 => LdapOp::BindResponse(LdapBindResponse {
            res,
            saslcreds: None,
        }),
        3 => LdapOp::SearchResultDone(res),
        6 => LdapOp::ModifyResponse(res),
        8 => LdapOp::AddResponse(res),
        10 => LdapOp::DelResponse(res),
        12 => LdapOp::ModifyDNResponse(res),
        14 => LdapOp::CompareResult(res),
        23 => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::proto::{LdapCompareRequest, LdapFilter, LdapSearchRequest};

    #[test]
    fn each_request_is_answered_by_its_own_response() {
        let search = LdapOp::SearchRequest(LdapSearchRequest {
            base: String::new(),
            scope: ldap3_proto::proto::LdapSearchScope::Base,
            aliases: ldap3_proto::proto::LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".into()),
            attrs: vec![],
        });
        let compare = LdapOp::CompareRequest(LdapCompareRequest {
            dn: String::new(),
            atype: "cn".into(),
            val: vec![],
        });
        let busy = || ldap_result(LdapResultCode::Busy, "x");
        assert!(matches!(
            request_tag(&search).and_then(|t| response_to(t, busy())),
            Some(LdapOp::SearchResultDone(r)) if r.code == LdapResultCode::Busy
        ));
        assert!(matches!(
            request_tag(&compare).and_then(|t| response_to(t, busy())),
            Some(LdapOp::CompareResult(_))
        ));
        assert!(
            request_tag(&LdapOp::UnbindRequest)
                .and_then(|t| response_to(t, busy()))
                .is_none()
        );
        assert!(response_to(16, busy()).is_none(), "abandon has no response");
        assert!(
            response_to(1, busy()).is_none(),
            "a response tag is no request"
        );
    }
}
