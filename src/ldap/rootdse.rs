//! The root DSE (RFC 4512 §5.1): naming context, supported versions, controls,
//! extensions and the subschema pointer. Always readable, also anonymously.

use crate::directory::entry::Entry;
use crate::directory::schema;

use super::controls;
use super::server::Gateway;
use super::session::{OID_STARTTLS, OID_WHOAMI};

/// The root DSE entry as this gateway serves it.
pub fn root_dse(gw: &Gateway) -> Entry {
    let mut e = Entry::new("");
    let mut put = |name: &str, values: Vec<String>| {
        if let Some(at) = schema::attribute(name) {
            e.push(at, values);
        }
    };
    put("objectClass", vec!["top".into(), "extensibleObject".into()]);
    put(
        "namingContexts",
        vec![gw.directory.tree.base_dn().to_string()],
    );
    put("supportedLDAPVersion", vec!["3".into()]);
    put(
        "supportedControl",
        vec![
            controls::OID_PAGED.into(),
            controls::OID_SORT_REQUEST.into(),
            controls::OID_VLV_REQUEST.into(),
            controls::OID_MANAGE_DSA_IT.into(),
        ],
    );
    let mut ext = vec![OID_WHOAMI.to_string()];
    if gw.tls.is_some() {
        ext.push(OID_STARTTLS.to_string());
    }
    put("supportedExtension", ext);
    put("subschemaSubentry", vec!["cn=Subschema".into()]);
    put("vendorName", vec!["ldap-graph-gateway".into()]);
    put(
        "vendorVersion",
        vec![format!("ldap-graph-gateway {}", env!("CARGO_PKG_VERSION"))],
    );
    e
}
