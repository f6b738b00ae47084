//! Target `translate`: RFC 4515 text → the translator's plan for each collection → the
//! rendered Graph requests, checked against the strict emulator (`graph_emulator`'s OData
//! and `$search` parsers and evaluators). Knows no PDUs and never decides an answer.
//!
//! Oracles, in each of the three matching modes the translator tests use: every request
//! Graph would reject (parse, capability check, `$search` without `ConsistencyLevel`) is a
//! translator bug; the URL fits GRAPH.md §4 and decodes back to the same `$filter` and
//! `$search`; and the plan is a superset: every fixture object whose mapped entry the LDAP
//! filter accepts locally is returned by some request of the plan (CONTRACT §6), unless
//! the plan names a documented approximation (non-strict substrings).

use graph_emulator::resource::{CONTACTS, Resource, USERS};
use graph_emulator::{odata, search};
use ldap_graph_gateway::directory::Collection;
use ldap_graph_gateway::directory::filter::{MatchContext, Tri, evaluate, parse_filter};
use ldap_graph_gateway::directory::phone::PhoneRules;
use ldap_graph_gateway::translate::pushdown::MAX_QUERIES_PER_COLLECTION;
use ldap_graph_gateway::translate::{
    GraphQuery, PushdownPlan, TranslateContext, explain_plan, plan::url_fits, plan_collection,
};
use ldap3_proto::proto::LdapFilter;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::fixtures::{self, Fixtures};

/// The `user_filter` of the default configuration (CONTRACT §3).
const USER_FILTER: &str = "accountEnabled eq true";

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `[phone] match = "rfc4517"`, `strict_substrings = true`.
    Strict,
    /// `[phone] match = "e164"`, `strict_substrings = true`.
    E164,
    /// `[phone] match = "rfc4517"`, `strict_substrings = false`.
    NonStrict,
}

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let Ok(filter) = parse_filter(text) else {
        return;
    };
    for mode in [Mode::Strict, Mode::E164, Mode::NonStrict] {
        for c in [Collection::Users, Collection::Contacts] {
            check(mode, c, &filter);
        }
    }
}

fn check(mode: Mode, c: Collection, filter: &LdapFilter) {
    let fx = fixtures::get();
    let rules: &PhoneRules = match mode {
        Mode::E164 => &fx.e164,
        Mode::Strict | Mode::NonStrict => &fx.rfc4517,
    };
    let variants = |v: &str| rules.spelling_variants(v);
    let ctx = TranslateContext {
        mapping: &fx.mapping,
        user_filter: USER_FILTER,
        strict_substrings: matches!(mode, Mode::Strict | Mode::E164),
        phone_e164: matches!(mode, Mode::E164),
        phone_variants: &variants,
        phone_index: &|_, _, _| None,
        page_size: 999,
    };
    let plan = plan_collection(filter, c, None, &ctx);
    let explained = explain_plan(&plan);
    assert!(
        plan.queries.len() <= MAX_QUERIES_PER_COLLECTION,
        "{mode:?}: more than {MAX_QUERIES_PER_COLLECTION} requests:\n{explained}"
    );
    let returned = returned_by_graph(&plan, c, fx)
        .unwrap_or_else(|why| panic!("{mode:?}: Graph rejects a request: {why}\n{explained}"));
    let local = MatchContext {
        phone: rules,
        mapping: &fx.mapping,
        memberships: None,
    };
    // A documented approximation (CONTRACT §6 exceptions, e.g. non-strict substrings
    // answered by `$search`) may miss objects by design; `explain` lists them.
    if !plan.approximations.is_empty() {
        return;
    }
    for (object, returned) in fx.objects(c).iter().zip(returned) {
        let Some(entry) = &object.entry else {
            continue;
        };
        // Graph never returns a user the configured user_filter excludes.
        if c == Collection::Users && object.json.get("accountEnabled") != Some(&Value::Bool(true)) {
            continue;
        }
        if evaluate(filter, entry, &local) == Tri::True {
            assert!(
                returned,
                "{mode:?}: the filter accepts {} but Graph is not asked for it:\n{explained}",
                entry.dn
            );
        }
    }
}

/// For each fixture object of `c`, whether some request of the plan returns it, by the
/// emulator's evaluators; `Err` when Graph would refuse a request.
fn returned_by_graph(
    plan: &PushdownPlan,
    c: Collection,
    fx: &Fixtures,
) -> Result<Vec<bool>, String> {
    let resource: &Resource = match c {
        Collection::Users => &USERS,
        Collection::Contacts => &CONTACTS,
    };
    let objects = fx.objects(c);
    let mut found = vec![false; objects.len()];
    for q in &plan.queries {
        if q.collection != c {
            return Err(format!(
                "a request of {:?} in the plan of {c:?}",
                q.collection
            ));
        }
        check_url(q)?;
        let advanced = q.count && q.consistency_eventual;
        let filter = match q.filter.as_deref() {
            Some(text) => {
                let f = odata::parse(text).map_err(|e| format!("$filter={text}: {e:?}"))?;
                odata::check(&f, resource, advanced)
                    .map_err(|e| format!("$filter={text}: {e:?}"))?;
                Some(f)
            }
            None => None,
        };
        let search = match q.search.as_deref() {
            Some(text) => {
                if !q.consistency_eventual {
                    return Err(format!("$search={text} without ConsistencyLevel: eventual"));
                }
                Some(search::parse(text, resource).map_err(|e| format!("$search={text}: {e:?}"))?)
            }
            None => None,
        };
        for (i, object) in objects.iter().enumerate() {
            let by_filter = filter
                .as_ref()
                .is_none_or(|f| odata::matches(f, &object.json));
            let by_search = search
                .as_ref()
                .is_none_or(|s| search::matches(s, &object.json));
            found[i] |= by_filter && by_search;
        }
    }
    Ok(found)
}

/// The URL fits GRAPH.md §4 and its query string decodes, as the emulator reads it (`+` is
/// a space, then percent-decoding), to the plan's own `$filter` and `$search`.
fn check_url(q: &GraphQuery) -> Result<(), String> {
    let url = q.path_and_query();
    if !url_fits(q) {
        return Err(format!("{} characters: {url}", url.len()));
    }
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let decoded = |name: &str| -> Result<Option<String>, String> {
        let Some(raw) = query
            .split('&')
            .find_map(|piece| piece.strip_prefix(name)?.strip_prefix('='))
        else {
            return Ok(None);
        };
        percent_decode_str(&raw.replace('+', " "))
            .decode_utf8()
            .map(|s| Some(s.into_owned()))
            .map_err(|_| format!("{name} is not UTF-8 once decoded: {url}"))
    };
    for (name, want) in [("$filter", &q.filter), ("$search", &q.search)] {
        let got = decoded(name)?;
        if &got != want {
            return Err(format!("{name} decodes to {got:?}, not {want:?}: {url}"));
        }
    }
    Ok(())
}
