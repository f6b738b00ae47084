//! The AFL++ entry point of the `odata` target: bytes from afl-fuzz into
//! `ldap_graph_gateway_fuzz::odata::run`. What the target checks lives there, not here.

fn main() {
    afl::fuzz!(|data: &[u8]| ldap_graph_gateway_fuzz::odata::run(data));
}
