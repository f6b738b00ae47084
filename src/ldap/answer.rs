//! A search's answer as a value: from the request's controls and limits, any kept paged
//! state and the engine's ordered entries to the entries to send, the SearchResultDone,
//! its response controls and the paged state to keep. Pure: no I/O, no channel, no
//! sorting (the engine orders), no rendering of attributes (`entry_out` does).

use std::time::Duration;

use ldap3_proto::LdapResultCode;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{LdapResult, LdapSearchRequest};

use super::controls::{self, RequestControls, SortResultCode, VlvRequest, VlvResultCode};
use super::gateway::EdgeLimits;
use super::paged::{PagedState, Resume};
use super::reply::{error_result, ldap_result};
use crate::directory::entry::Entry;
use crate::directory::schema;
use crate::error::LdapError;
use crate::search::SearchOutput;
use crate::search::order::{self, OrderKey};

/// What the session sends for one search, in this order: the entries, then (before the
/// result, so the next page request finds it) the paged state to keep, then the result
/// with its controls.
#[derive(Debug)]
pub struct Answer {
    pub entries: Vec<Entry>,
    pub result: LdapResult,
    pub controls: Vec<LdapControl>,
    /// Paged state to keep behind the cookie that `controls` hands out.
    pub keep: Option<(Vec<u8>, PagedState)>,
}

impl Answer {
    /// A search answered with an error and nothing else.
    pub fn refusal(e: LdapError) -> Self {
        Answer {
            entries: Vec::new(),
            result: error_result(e),
            controls: Vec::new(),
            keep: None,
        }
    }

    fn refusal_with(e: LdapError, controls: Vec<LdapControl>) -> Self {
        Answer {
            controls,
            ..Answer::refusal(e)
        }
    }
}

/// The limits one search runs under: the request's (RFC 4511 §4.5.1.4-5), never above the
/// server's; zero in the request means the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    pub size: usize,
    pub time: Duration,
}

impl SearchLimits {
    pub fn of(limits: &EdgeLimits, req: &LdapSearchRequest) -> Self {
        let server_size = limits.size_limit as usize;
        let size = match usize::try_from(req.sizelimit) {
            Ok(n) if n > 0 => n.min(server_size),
            _ => server_size,
        };
        let server_time = limits.time_limit_secs.max(1);
        let time = match u64::try_from(req.timelimit) {
            Ok(n) if n > 0 => n.min(server_time),
            _ => server_time,
        };
        SearchLimits {
            size,
            time: Duration::from_secs(time),
        }
    }
}

/// The order the engine is asked for, and the sort response control to report.
#[derive(Debug, Clone)]
pub struct SortPlan {
    /// `None`: CONTRACT §8's default order.
    pub keys: Option<Vec<OrderKey>>,
    pub response: Option<LdapControl>,
}

/// What a search request needs before any Graph round trip.
#[derive(Debug)]
pub enum Step {
    /// Answered without the engine: a refusal or a follow-up page.
    Answer(Answer),
    /// Ask the engine in this order, then [`complete`].
    Search(SortPlan),
}

/// Where a new page's state is kept: the request's fingerprint and a fresh cookie.
#[derive(Debug, Clone)]
pub struct PageKey {
    pub fingerprint: String,
    pub cookie: Vec<u8>,
}

/// Decides what a search needs before the engine runs: a follow-up page is served from
/// the kept state, a stale or foreign cookie and controls that cannot be served are
/// refused, and otherwise the order to ask the engine for.
pub fn before_search(rc: &RequestControls, resume: Resume, cookie: Vec<u8>) -> Step {
    if let Some((page_size, _)) = &rc.paged {
        match resume {
            Resume::Fresh => {}
            Resume::Page(state) => return Step::Answer(page(*page_size, state, vec![], cookie)),
            Resume::Mismatch => {
                return Step::Answer(Answer::refusal(LdapError::new(
                    LdapResultCode::UnwillingToPerform,
                    "the paged-results cookie belongs to a different search",
                )));
            }
            Resume::Unknown => {
                return Step::Answer(Answer::refusal(LdapError::new(
                    LdapResultCode::UnwillingToPerform,
                    "unknown or expired paged-results cookie",
                )));
            }
        }
    }
    let plan = match sort_plan(rc) {
        Ok(plan) => plan,
        Err((error, response)) => return Step::Answer(Answer::refusal_with(error, response)),
    };
    if let Some(refusal) = controls::vlv_refusal(rc) {
        return Step::Answer(Answer::refusal_with(
            refusal.error,
            refusal.response_control.into_iter().collect(),
        ));
    }
    Step::Search(plan)
}

/// The sort control's keys (RFC 2891 §1.1). An unknown attribute fails a critical sort
/// with unavailableCriticalExtension (12); a non-critical one falls back to the default
/// order. Either way the response names the attribute as noSuchAttribute (RFC 2891 §1.2).
fn sort_plan(rc: &RequestControls) -> Result<SortPlan, (LdapError, Vec<LdapControl>)> {
    let Some(keys) = &rc.sort else {
        return Ok(SortPlan {
            keys: None,
            response: None,
        });
    };
    let mut order_keys = Vec::new();
    let mut unknown = None;
    for k in keys {
        match schema::attribute(&k.attribute) {
            Some(attr) => order_keys.push(OrderKey {
                attr,
                reverse: k.reverse,
            }),
            None => unknown = Some(k.attribute.clone()),
        }
    }
    let Some(attribute) = unknown else {
        return Ok(SortPlan {
            keys: Some(order_keys),
            response: Some(controls::sort_response(SortResultCode::Success, None)),
        });
    };
    let response =
        controls::sort_response(SortResultCode::NoSuchAttribute, Some(attribute.clone()));
    if rc.sort_critical {
        return Err((
            LdapError::new(
                LdapResultCode::UnavailableCriticalExtension,
                format!("cannot sort on unknown attribute {attribute}"),
            ),
            vec![response],
        ));
    }
    Ok(SortPlan {
        keys: None,
        response: Some(response),
    })
}

/// The root DSE search (CONTRACT §4): the entry when the filter holds for it.
pub fn root_dse(entry: Option<Entry>, rc: &RequestControls) -> Answer {
    Answer {
        entries: entry.into_iter().collect(),
        result: success(),
        controls: if rc.paged.is_some() {
            vec![controls::paged_response(Vec::new())]
        } else {
            Vec::new()
        },
        keep: None,
    }
}

/// The answer to a search the engine ran: `found` holds its entries in the plan's order.
///
/// A search the engine could not finish (`incomplete`, a time limit part-way) ends with
/// that error whatever the controls: unpaged after the entries found, paged after at most
/// one page of them and without a cookie, VLV without entries (a window of a partial list
/// is the wrong window). It is never reported as success (CONTRACT §6).
pub fn complete(
    found: Result<SearchOutput, LdapError>,
    rc: &RequestControls,
    limits: SearchLimits,
    sort_response: Option<LdapControl>,
    key: PageKey,
) -> Answer {
    let SearchOutput {
        mut entries,
        incomplete,
    } = match found {
        Ok(found) => found,
        Err(e) => return Answer::refusal(e),
    };
    let sort_controls: Vec<LdapControl> = sort_response.into_iter().collect();
    if let Some(vlv) = &rc.vlv {
        if let Some(e) = incomplete {
            return Answer::refusal_with(e, sort_controls);
        }
        return vlv_answer(vlv, rc, entries, limits, sort_controls);
    }
    let size_limited = entries.len() > limits.size;
    entries.truncate(limits.size);
    if let Some((page_size, _)) = &rc.paged {
        if let Some(e) = incomplete {
            entries.truncate(*page_size as usize);
            return Answer {
                entries,
                result: error_result(e),
                controls: sort_controls,
                keep: None,
            };
        }
        let state = PagedState {
            fingerprint: key.fingerprint,
            remaining: entries,
            size_limited: size_limited.then_some(limits.size),
        };
        return page(*page_size, state, sort_controls, key.cookie);
    }
    let result = match incomplete {
        Some(e) => error_result(e),
        None if size_limited => size_limit_result(limits.size),
        None => success(),
    };
    Answer {
        entries,
        result,
        controls: sort_controls,
        keep: None,
    }
}

/// One page (RFC 2696 §3): up to `page_size` entries, then a cookie while entries remain;
/// the last page reports the size limit that cut the answer. Page size 0 ends the search.
fn page(
    page_size: u32,
    mut state: PagedState,
    mut controls: Vec<LdapControl>,
    cookie: Vec<u8>,
) -> Answer {
    if page_size == 0 {
        controls.push(controls::paged_response(Vec::new()));
        return Answer {
            entries: Vec::new(),
            result: success(),
            controls,
            keep: None,
        };
    }
    let n = (page_size as usize).min(state.remaining.len());
    let entries: Vec<Entry> = state.remaining.drain(..n).collect();
    if state.remaining.is_empty() {
        controls.push(controls::paged_response(Vec::new()));
        let result = match state.size_limited {
            Some(limit) => size_limit_result(limit),
            None => success(),
        };
        return Answer {
            entries,
            result,
            controls,
            keep: None,
        };
    }
    controls.push(controls::paged_response(cookie.clone()));
    Answer {
        entries,
        result: success(),
        controls,
        keep: Some((cookie, state)),
    }
}

/// A VLV window of the sorted list (draft-ietf-ldapext-ldapv3-vlv-09 §5); a window
/// larger than the size limit is cut to it and reported sizeLimitExceeded (4).
fn vlv_answer(
    vlv: &VlvRequest,
    rc: &RequestControls,
    entries: Vec<Entry>,
    limits: SearchLimits,
    mut controls: Vec<LdapControl>,
) -> Answer {
    let first_key = rc
        .sort
        .as_ref()
        .and_then(|k| k.first())
        .and_then(|k| schema::attribute(&k.attribute));
    let position_of_ge = |assertion: &[u8]| {
        let Some(attr) = first_key else {
            return entries.len();
        };
        let wanted = String::from_utf8_lossy(assertion);
        entries
            .iter()
            .position(|e| order::at_or_after(e, attr, &wanted))
            .unwrap_or(entries.len())
    };
    match controls::vlv_window(vlv, entries.len(), position_of_ge) {
        Ok(window) => {
            let mut sent: Vec<Entry> = entries
                .into_iter()
                .skip(window.start)
                .take(window.end.saturating_sub(window.start))
                .collect();
            let size_limited = sent.len() > limits.size;
            sent.truncate(limits.size);
            controls.push(controls::vlv_response(
                window.target_position,
                window.content_count,
                VlvResultCode::Success,
                vlv.context_id.clone(),
            ));
            Answer {
                entries: sent,
                result: if size_limited {
                    size_limit_result(limits.size)
                } else {
                    success()
                },
                controls,
                keep: None,
            }
        }
        Err(code) => {
            let refusal = controls::vlv_failure(code, entries.len());
            controls.extend(refusal.response_control);
            Answer::refusal_with(refusal.error, controls)
        }
    }
}

fn success() -> LdapResult {
    ldap_result(LdapResultCode::Success, "")
}

fn size_limit_result(limit: usize) -> LdapResult {
    ldap_result(
        LdapResultCode::SizeLimitExceeded,
        format!("size limit of {limit} entries reached"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::controls::{SortKey, VlvTarget, decode_vlv_response};

    const OU: &str = "ou=users,dc=example,dc=com";

    /// Entries as the engine hands them over: already in order, messy names.
    fn people(names: &[&str]) -> Vec<Entry> {
        let cn = schema::attribute("cn").expect("cn");
        names
            .iter()
            .map(|name| {
                let mut e = Entry::new(format!("uid={},{OU}", name.trim().to_lowercase()));
                e.push(cn, [name.to_string()]);
                e
            })
            .collect()
    }

    const NAMES: [&str; 5] = [
        " Adele Vance",
        "Alex Wilber",
        "Ålvaro  Núñez",
        "Megan Bowen",
        "Zoë",
    ];

    fn found(names: &[&str]) -> Result<SearchOutput, LdapError> {
        Ok(SearchOutput {
            entries: people(names),
            incomplete: None,
        })
    }

    fn timed_out(names: &[&str]) -> Result<SearchOutput, LdapError> {
        Ok(SearchOutput {
            entries: people(names),
            incomplete: Some(LdapError::new(
                LdapResultCode::TimeLimitExceeded,
                "Graph did not answer in time",
            )),
        })
    }

    fn limits(size: usize) -> SearchLimits {
        SearchLimits {
            size,
            time: Duration::from_secs(30),
        }
    }

    fn key() -> PageKey {
        PageKey {
            fingerprint: "fp".into(),
            cookie: b"cookie-1".to_vec(),
        }
    }

    fn paged(size: u32) -> RequestControls {
        RequestControls {
            paged: Some((size, Vec::new())),
            ..Default::default()
        }
    }

    fn dns(a: &Answer) -> Vec<String> {
        a.entries.iter().map(|e| e.dn.clone()).collect()
    }

    fn paged_cookie(a: &Answer) -> Option<Vec<u8>> {
        a.controls.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { cookie, .. } => Some(cookie.clone()),
            _ => None,
        })
    }

    fn vlv_of(a: &Answer) -> Option<controls::VlvResponse> {
        a.controls.iter().find_map(|c| match c {
            LdapControl::Unknown {
                oid,
                value: Some(v),
                ..
            } if oid == controls::OID_VLV_RESPONSE => decode_vlv_response(v),
            _ => None,
        })
    }

    fn sort_response_present(a: &Answer) -> bool {
        a.controls.iter().any(
            |c| matches!(c, LdapControl::Unknown { oid, .. } if oid == controls::OID_SORT_RESPONSE),
        )
    }

    #[test]
    fn limits_take_the_lower_of_request_and_server() {
        let edge = EdgeLimits {
            max_connections: 1,
            max_connections_per_client: 1,
            proxy_protocol: Vec::new(),
            max_message_bytes: 1,
            max_ber_depth: 1,
            max_filter_depth: 1,
            idle_timeout_secs: 1,
            size_limit: 500,
            time_limit_secs: 20,
            allow_anonymous: true,
            require_tls_for_bind: false,
            max_paged_searches: 1,
            paged_ttl: EdgeLimits::DEFAULT_PAGED_TTL,
            max_operations_per_connection: 1,
            tls_handshake_timeout: EdgeLimits::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        };
        let mut req = LdapSearchRequest {
            base: OU.into(),
            scope: ldap3_proto::proto::LdapSearchScope::Subtree,
            aliases: ldap3_proto::proto::LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: ldap3_proto::proto::LdapFilter::Present("cn".into()),
            attrs: vec![],
        };
        // (request size, request time) -> (size, seconds) in force.
        for ((size, time), want) in [
            ((0, 0), (500, 20)),
            ((3, 2), (3, 2)),
            ((9000, 600), (500, 20)),
            ((-1, -5), (500, 20)),
        ] {
            req.sizelimit = size;
            req.timelimit = time;
            let got = SearchLimits::of(&edge, &req);
            assert_eq!(
                (got.size, got.time.as_secs()),
                want,
                "request {size}/{time}"
            );
        }
    }

    #[test]
    fn an_unpaged_answer_keeps_the_first_entries_within_the_size_limit() {
        let rc = RequestControls::default();
        let a = complete(found(&NAMES), &rc, limits(3), None, key());
        assert_eq!(
            dns(&a),
            dns(&complete(found(&NAMES[..3]), &rc, limits(10), None, key()))
        );
        assert_eq!(a.result.code, LdapResultCode::SizeLimitExceeded);
        assert_eq!(a.result.message, "size limit of 3 entries reached");
        assert!(a.keep.is_none() && a.controls.is_empty());

        let a = complete(found(&NAMES), &rc, limits(5), None, key());
        assert_eq!(a.entries.len(), 5);
        assert_eq!(
            a.result.code,
            LdapResultCode::Success,
            "exactly at the limit is no error"
        );
    }

    #[test]
    fn an_unfinished_search_reports_its_error_after_the_entries_found() {
        let rc = RequestControls::default();
        let a = complete(timed_out(&NAMES[..2]), &rc, limits(10), None, key());
        assert_eq!(a.entries.len(), 2);
        assert_eq!(a.result.code, LdapResultCode::TimeLimitExceeded);
        assert_eq!(a.result.message, "Graph did not answer in time");
    }

    #[test]
    fn an_engine_error_is_a_refusal_whatever_the_controls() {
        for rc in [RequestControls::default(), paged(2)] {
            let a = complete(
                Err(LdapError::new(
                    LdapResultCode::AdminLimitExceeded,
                    "more than 5000 objects",
                )),
                &rc,
                limits(10),
                None,
                key(),
            );
            assert!(a.entries.is_empty() && a.keep.is_none() && a.controls.is_empty());
            assert_eq!(a.result.code, LdapResultCode::AdminLimitExceeded);
        }
    }

    #[test]
    fn pages_hand_out_a_cookie_until_the_last_one() {
        let rc = paged(2);
        let first = complete(found(&NAMES), &rc, limits(100), None, key());
        assert_eq!(
            dns(&first),
            dns(&complete(
                found(&NAMES[..2]),
                &RequestControls::default(),
                limits(9),
                None,
                key()
            ))
        );
        assert_eq!(first.result.code, LdapResultCode::Success);
        assert_eq!(paged_cookie(&first), Some(b"cookie-1".to_vec()));
        let (cookie, state) = first.keep.expect("state kept");
        assert_eq!(cookie, b"cookie-1");
        assert_eq!(state.remaining.len(), 3);
        assert_eq!(state.fingerprint, "fp");

        let Step::Answer(second) = before_search(&rc, Resume::Page(state), b"cookie-2".to_vec())
        else {
            panic!("a follow-up page needs no engine");
        };
        assert_eq!(second.entries.len(), 2);
        assert_eq!(paged_cookie(&second), Some(b"cookie-2".to_vec()));
        let (_, state) = second.keep.expect("one entry left");

        let Step::Answer(last) = before_search(&rc, Resume::Page(state), b"cookie-3".to_vec())
        else {
            panic!("a follow-up page needs no engine");
        };
        assert_eq!(dns(&last), vec![format!("uid=zoë,{OU}")]);
        assert_eq!(
            paged_cookie(&last),
            Some(Vec::new()),
            "the last page has an empty cookie"
        );
        assert_eq!(last.result.code, LdapResultCode::Success);
        assert!(last.keep.is_none());
    }

    #[test]
    fn a_size_limit_ends_the_paged_search_with_4_and_the_unpaged_diagnostic() {
        let rc = paged(2);
        let first = complete(found(&NAMES), &rc, limits(3), None, key());
        assert_eq!(first.entries.len(), 2);
        assert_eq!(first.result.code, LdapResultCode::Success);
        let (_, state) = first.keep.expect("kept");
        let Step::Answer(last) = before_search(&rc, Resume::Page(state), b"c2".to_vec()) else {
            panic!("follow-up");
        };
        assert_eq!(last.entries.len(), 1, "3 entries in all, as unpaged");
        let unpaged = complete(
            found(&NAMES),
            &RequestControls::default(),
            limits(3),
            None,
            key(),
        );
        assert_eq!(last.result, unpaged.result);
        assert_eq!(paged_cookie(&last), Some(Vec::new()));

        // A limit that falls on the first page ends it there.
        let only = complete(found(&NAMES), &paged(10), limits(3), None, key());
        assert_eq!(only.entries.len(), 3);
        assert_eq!(only.result, unpaged.result);
        assert!(only.keep.is_none());
    }

    #[test]
    fn a_time_limit_part_way_through_a_paged_search_is_3_never_an_empty_success() {
        // Nothing found before the limit: never a silent empty success (CONTRACT §6).
        let a = complete(timed_out(&[]), &paged(100), limits(1000), None, key());
        assert!(a.entries.is_empty());
        assert_eq!(a.result.code, LdapResultCode::TimeLimitExceeded);
        assert_eq!(a.result.message, "Graph did not answer in time");
        assert!(
            a.keep.is_none(),
            "no cookie to a search that did not finish"
        );
        assert_eq!(paged_cookie(&a), None);

        // Entries found before the limit: at most one page of them, then the error.
        let a = complete(timed_out(&NAMES), &paged(2), limits(1000), None, key());
        assert_eq!(a.entries.len(), 2);
        assert_eq!(a.result.code, LdapResultCode::TimeLimitExceeded);
        assert!(a.keep.is_none());
    }

    #[test]
    fn page_size_zero_ends_the_paged_search() {
        let a = complete(found(&NAMES), &paged(0), limits(100), None, key());
        assert!(a.entries.is_empty() && a.keep.is_none());
        assert_eq!(a.result.code, LdapResultCode::Success);
        assert_eq!(paged_cookie(&a), Some(Vec::new()));
    }

    #[test]
    fn stale_and_foreign_cookies_are_refused_with_53() {
        for (resume, message) in [
            (Resume::Unknown, "unknown or expired paged-results cookie"),
            (
                Resume::Mismatch,
                "the paged-results cookie belongs to a different search",
            ),
        ] {
            let Step::Answer(a) = before_search(&paged(5), resume, b"c".to_vec()) else {
                panic!("refused before the engine");
            };
            assert_eq!(a.result.code, LdapResultCode::UnwillingToPerform);
            assert_eq!(a.result.message, message);
        }
        assert!(matches!(
            before_search(&paged(5), Resume::Fresh, b"c".to_vec()),
            Step::Search(_)
        ));
    }

    fn sort_on(attribute: &str, critical: bool) -> RequestControls {
        RequestControls {
            sort: Some(vec![SortKey {
                attribute: attribute.into(),
                ordering_rule: None,
                reverse: true,
            }]),
            sort_critical: critical,
            ..Default::default()
        }
    }

    #[test]
    fn sort_keys_reach_the_engine_and_unknown_ones_follow_criticality() {
        let Step::Search(plan) = before_search(&sort_on("sn", false), Resume::Fresh, vec![]) else {
            panic!("a known key is searched");
        };
        let keys = plan.keys.expect("keys");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].attr.name, "sn");
        assert!(keys[0].reverse);
        assert!(plan.response.is_some());

        let Step::Search(plan) = before_search(&sort_on("shoeSize", false), Resume::Fresh, vec![])
        else {
            panic!("a non-critical unknown key falls back to the default order");
        };
        assert!(plan.keys.is_none());
        assert!(plan.response.is_some());

        let Step::Answer(a) = before_search(&sort_on("shoeSize", true), Resume::Fresh, vec![])
        else {
            panic!("a critical unknown key is refused");
        };
        assert_eq!(a.result.code, LdapResultCode::UnavailableCriticalExtension);
        assert!(sort_response_present(&a));
    }

    fn vlv(before: u32, after: u32, offset: u32) -> RequestControls {
        RequestControls {
            vlv: Some(VlvRequest {
                before,
                after,
                target: VlvTarget::ByOffset {
                    offset,
                    content_count: 0,
                },
                context_id: None,
            }),
            ..sort_on("cn", false)
        }
    }

    #[test]
    fn a_vlv_window_is_cut_from_the_ordered_entries() {
        let rc = vlv(1, 1, 3);
        let a = complete(found(&NAMES), &rc, limits(100), None, key());
        assert_eq!(
            dns(&a),
            dns(&complete(
                found(&NAMES[1..4]),
                &RequestControls::default(),
                limits(9),
                None,
                key()
            ))
        );
        assert_eq!(a.result.code, LdapResultCode::Success);
        let resp = vlv_of(&a).expect("VLV response");
        assert_eq!((resp.target_position, resp.content_count), (3, 5));

        let a = complete(found(&NAMES), &vlv(0, 0, 9), limits(100), None, key());
        assert_eq!(a.result.code, LdapResultCode::VirtualListViewError);
        assert!(a.entries.is_empty());
        assert_eq!(
            vlv_of(&a).map(|r| r.result),
            Some(VlvResultCode::OffsetRangeError)
        );
    }

    #[test]
    fn a_vlv_window_beyond_the_size_limit_is_cut_and_reported_4() {
        let a = complete(found(&NAMES), &vlv(2, 2, 3), limits(2), None, key());
        assert_eq!(a.entries.len(), 2);
        assert_eq!(a.result.code, LdapResultCode::SizeLimitExceeded);
        assert_eq!(a.result.message, "size limit of 2 entries reached");
        assert!(vlv_of(&a).is_some());
    }

    #[test]
    fn a_vlv_search_that_did_not_finish_is_its_error_without_a_window() {
        let a = complete(
            timed_out(&NAMES[..3]),
            &vlv(0, 1, 1),
            limits(100),
            None,
            key(),
        );
        assert!(
            a.entries.is_empty(),
            "a window of a partial list would be the wrong window"
        );
        assert_eq!(a.result.code, LdapResultCode::TimeLimitExceeded);
    }

    #[test]
    fn vlv_without_sort_or_with_paging_is_refused_before_the_engine() {
        let mut rc = vlv(0, 0, 1);
        rc.sort = None;
        let Step::Answer(a) = before_search(&rc, Resume::Fresh, vec![]) else {
            panic!("refused");
        };
        assert_eq!(a.result.code, LdapResultCode::VirtualListViewError);
        let mut rc = vlv(0, 0, 1);
        rc.paged = Some((5, Vec::new()));
        let Step::Answer(a) = before_search(&rc, Resume::Fresh, vec![]) else {
            panic!("refused");
        };
        assert_eq!(a.result.code, LdapResultCode::UnwillingToPerform);
    }

    #[test]
    fn the_root_dse_answers_a_paged_request_with_an_empty_cookie() {
        let dse = Entry::new("");
        let a = root_dse(Some(dse), &paged(10));
        assert_eq!(a.entries.len(), 1);
        assert_eq!(paged_cookie(&a), Some(Vec::new()));
        assert!(
            root_dse(None, &RequestControls::default())
                .controls
                .is_empty()
        );
    }
}
