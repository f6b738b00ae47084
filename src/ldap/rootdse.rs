//! The root DSE (RFC 4512 §5.1): naming context, supported versions, controls,
//! extensions and the subschema pointer. Always readable, also anonymously.

use crate::directory::entry::Entry;

use super::controls;
use super::gateway::Gateway;

/// StartTLS (RFC 4511 §4.14) and WhoAmI (RFC 4532), the extended operations offered.
pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";
pub const OID_WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";

/// The root DSE entry as this gateway serves it: the tree's, with the controls and
/// extended operations this edge implements.
pub fn root_dse(gw: &Gateway) -> Entry {
    let controls = [
        controls::OID_PAGED,
        controls::OID_SORT_REQUEST,
        controls::OID_VLV_REQUEST,
        controls::OID_MANAGE_DSA_IT,
    ];
    let mut extensions = vec![OID_WHOAMI];
    if gw.tls.is_some() {
        extensions.push(OID_STARTTLS);
    }
    gw.directory.tree.root_dse_entry(&controls, &extensions)
}
