//! Target `filter`: RFC 4515 text through the gateway's filter parser, printer and
//! three-valued evaluator (`directory::filter`). Knows nothing of Graph or PDUs.
//!
//! Oracles: the printed form of a parsed filter parses back to the same filter; on every
//! fixture entry, in both phone modes, NOT inverts TRUE/FALSE and keeps Undefined, and a
//! one-item AND or OR has its item's value (RFC 4511 §4.5.1.7).

use ldap_graph_gateway::directory::filter::{
    MAX_PARSE_DEPTH, MatchContext, evaluate, filter_depth, filter_to_string, parse_filter,
};
use ldap3_proto::proto::LdapFilter;

use crate::fixtures;

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let Ok(filter) = parse_filter(text) else {
        return;
    };
    assert!(
        filter_depth(&filter) <= MAX_PARSE_DEPTH + 1,
        "parsed deeper than the parser's limit"
    );
    let printed = filter_to_string(&filter);
    match parse_filter(&printed) {
        Ok(again) => assert_eq!(
            again, filter,
            "{text:?} prints as {printed:?}, which parses to another filter"
        ),
        Err(e) => panic!("{text:?} prints as {printed:?}, which does not parse: {e}"),
    }
    check_evaluation(&filter);
}

/// The three-valued identities on every fixture entry, in both phone modes.
pub(crate) fn check_evaluation(filter: &LdapFilter) {
    let fx = fixtures::get();
    let not = LdapFilter::Not(Box::new(filter.clone()));
    let and = LdapFilter::And(vec![filter.clone()]);
    let or = LdapFilter::Or(vec![filter.clone()]);
    for rules in [&fx.e164, &fx.rfc4517] {
        let ctx = MatchContext {
            phone: rules,
            mapping: &fx.mapping,
            memberships: None,
        };
        for entry in fx
            .users
            .iter()
            .chain(&fx.contacts)
            .filter_map(|o| o.entry.as_ref())
        {
            let value = evaluate(filter, entry, &ctx);
            assert_eq!(evaluate(&not, entry, &ctx), !value, "NOT on {}", entry.dn);
            assert_eq!(
                evaluate(&and, entry, &ctx),
                value,
                "one-item AND on {}",
                entry.dn
            );
            assert_eq!(
                evaluate(&or, entry, &ctx),
                value,
                "one-item OR on {}",
                entry.dn
            );
        }
    }
}
