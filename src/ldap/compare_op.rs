//! The compare operation (RFC 4511 §4.10) off the connection task: reads one entry through
//! `search::Directory` (or the root DSE) and evaluates the assertion with the entry's
//! matching rules. A read that does not finish answers its error, never noSuchObject.

use std::time::Duration;

use ldap3_proto::LdapResultCode;
use ldap3_proto::proto::{LdapCompareRequest, LdapFilter, LdapResult, LdapSearchScope};

use super::gateway::{Gateway, Identity};
use super::reply::{error_result, ldap_result};
use super::rootdse;
use super::search_op;
use crate::directory::schema;

/// The CompareResult for one request.
pub async fn compare(gw: &Gateway, identity: &Identity, req: &LdapCompareRequest) -> LdapResult {
    if gw.refuses_anonymous(identity, &req.dn, &LdapSearchScope::Base) {
        return ldap_result(
            LdapResultCode::InsufficentAccessRights,
            "anonymous access is disabled; bind first",
        );
    }
    let Some(at) = schema::attribute(&req.atype) else {
        return ldap_result(
            LdapResultCode::UndefinedAttributeType,
            format!("unknown attribute type {}", req.atype),
        );
    };
    let entry = if req.dn.is_empty() {
        rootdse::root_dse(gw)
    } else {
        let time_limit = Duration::from_secs(gw.limits.time_limit_secs.max(1));
        let any = LdapFilter::Present("objectClass".into());
        let base = LdapSearchScope::Base;
        // The compared attribute is all the entry needs (CONTRACT §9: memberOf is computed
        // only when asked for, as it is when compared).
        let wanted = [at.name.to_string()];
        match search_op::ask(gw, &req.dn, base, &any, None, &wanted, time_limit).await {
            Err(e) => return error_result(e),
            Ok(found) => {
                // A read that did not finish answers its error (3, 51, 52), not 32.
                if let Some(e) = found.incomplete {
                    return error_result(e);
                }
                match found.entries.into_iter().next() {
                    Some(e) => e,
                    None => return ldap_result(LdapResultCode::NoSuchObject, "no such entry"),
                }
            }
        }
    };
    if entry.get(at).is_none() {
        return ldap_result(
            LdapResultCode::NoSuchAttribute,
            format!("the entry has no {}", at.name),
        );
    }
    // A binary attribute (objectGUID) compares bytes: carry them one byte per char.
    let value = match at.is_binary() {
        true => crate::directory::compat::binary_text(&req.val),
        false => String::from_utf8_lossy(&req.val).into_owned(),
    };
    let assertion = LdapFilter::Equality(req.atype.clone(), value);
    if gw.directory.matches(&assertion, &entry) {
        ldap_result(LdapResultCode::CompareTrue, "")
    } else {
        ldap_result(LdapResultCode::CompareFalse, "")
    }
}
