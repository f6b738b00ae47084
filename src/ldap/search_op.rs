//! The search and compare operations at the edge: access check, size and time limits,
//! paged results, server-side sort and VLV windows around `search::Directory`, and the
//! root DSE. Produces PDUs; the session writes them.

use std::collections::HashMap;
use std::time::Duration;

use ldap3_proto::LdapResultCode;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapCompareRequest, LdapFilter, LdapMsg, LdapOp, LdapResult, LdapSearchRequest, LdapSearchScope,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::controls::{self, RequestControls, VlvWindow};
use super::entry_out::AttributeSelection;
use super::rootdse;
use super::server::Gateway;
use super::session::{Identity, Out};
use crate::directory::entry::Entry;
use crate::directory::schema;
use crate::directory::tree::Target;
use crate::error::LdapError;
use crate::search::SearchParams;
use crate::search::order::{self, OrderKey};

/// The rest of a paged search, kept per connection behind its cookie.
pub struct PagedState {
    /// Fingerprint of the request (base, scope, filter, attributes) the cookie belongs to.
    fingerprint: String,
    remaining: Vec<Entry>,
    /// Entries still allowed by the size limit.
    size_left: usize,
    size_limited: bool,
    created: Instant,
}

/// How long an unused paged cookie stays valid.
const PAGED_TTL: Duration = Duration::from_secs(300);

fn fingerprint(req: &LdapSearchRequest) -> String {
    format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}{}",
        req.base, req.scope, req.filter, req.attrs, req.typesonly
    )
}

fn done(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

/// Takes the stored paged state named by the request's paged cookie, if any.
pub fn take_paged_state(
    paged: &mut HashMap<Vec<u8>, Box<PagedState>>,
    ctrls: &[LdapControl],
) -> Option<Box<PagedState>> {
    paged.retain(|_, s| s.created.elapsed() < PAGED_TTL);
    ctrls.iter().find_map(|c| match c {
        LdapControl::SimplePagedResults { cookie, .. } if !cookie.is_empty() => {
            paged.remove(cookie)
        }
        _ => None,
    })
}

fn new_cookie() -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{n:x}.{nanos:x}").into_bytes()
}

/// True when anonymous clients may not read `base` (everything but the root DSE and
/// the subschema entry needs a bind when `allow_anonymous` is off).
fn needs_bind(gw: &Gateway, identity: &Identity, req: &LdapSearchRequest) -> bool {
    if *identity != Identity::Anonymous || gw.limits.allow_anonymous {
        return false;
    }
    let special = matches!(
        gw.directory.tree.resolve(&req.base),
        Target::RootDse | Target::Subschema
    ) && req.scope == LdapSearchScope::Base;
    !special
}

/// Runs one search request and sends its entries and SearchResultDone.
pub async fn run(
    gw: &Gateway,
    identity: &Identity,
    msgid: i32,
    req: &LdapSearchRequest,
    (ctrls, critical): (&[LdapControl], &[String]),
    paged_state: Option<Box<PagedState>>,
    tx: &mpsc::Sender<Out>,
) {
    let send = |op: LdapOp, ctrl: Vec<LdapControl>| {
        let msg = LdapMsg::new_with_ctrls(msgid, op, ctrl);
        async move { tx.send(Out::Msg(msg)).await.is_ok() }
    };
    let finish =
        |res: LdapResult, ctrl: Vec<LdapControl>| send(LdapOp::SearchResultDone(res), ctrl);

    if needs_bind(gw, identity, req) {
        finish(
            done(
                LdapResultCode::InsufficentAccessRights,
                "anonymous search is disabled (allow_anonymous = false); bind first",
            ),
            vec![],
        )
        .await;
        return;
    }
    let rc = match controls::parse_request_controls_with_critical(ctrls, critical) {
        Ok(rc) => rc,
        Err(controls::ControlError::UnavailableCritical(oid)) => {
            finish(
                done(
                    LdapResultCode::UnavailableCriticalExtension,
                    format!("critical control {oid} is not supported"),
                ),
                vec![],
            )
            .await;
            return;
        }
        Err(controls::ControlError::Malformed(what)) => {
            finish(done(LdapResultCode::ProtocolError, what), vec![]).await;
            return;
        }
    };
    let selection = AttributeSelection::new(&req.attrs, req.typesonly);

    // Root DSE: base "" with scope base (CONTRACT §4).
    if req.base.is_empty() && req.scope == LdapSearchScope::Base {
        let entry = rootdse::root_dse(gw);
        if gw.directory.matches(&req.filter, &entry) {
            send(LdapOp::SearchResultEntry(selection.render(&entry)), vec![]).await;
        }
        finish(done(LdapResultCode::Success, ""), paged_done(&rc)).await;
        return;
    }

    let server_size = gw.limits.size_limit as usize;
    let size_limit = match req.sizelimit {
        n if n > 0 => (n as usize).min(server_size),
        _ => server_size,
    };
    let server_time = gw.limits.time_limit_secs.max(1);
    let time_limit = match req.timelimit {
        n if n > 0 => (n as u64).min(server_time),
        _ => server_time,
    };
    let deadline = Instant::now() + Duration::from_secs(time_limit);

    // A follow-up page of a paged search: serve from the kept state.
    if let (Some((page_size, _)), Some(state)) = (&rc.paged, paged_state) {
        if state.fingerprint != fingerprint(req) {
            finish(
                done(
                    LdapResultCode::UnwillingToPerform,
                    "the paged-results cookie belongs to a different search",
                ),
                vec![],
            )
            .await;
            return;
        }
        send_page(msgid, *page_size, *state, &selection, tx, Vec::new()).await;
        return;
    }
    if let Some((_, cookie)) = &rc.paged
        && !cookie.is_empty()
    {
        finish(
            done(
                LdapResultCode::UnwillingToPerform,
                "unknown or expired paged-results cookie",
            ),
            vec![],
        )
        .await;
        return;
    }

    let params = SearchParams {
        base: &req.base,
        scope: req.scope.clone(),
        filter: &req.filter,
        deadline,
    };
    let output = match tokio::time::timeout_at(deadline, gw.directory.search(&params)).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            finish(error_result(e), vec![]).await;
            return;
        }
        Err(_) => {
            finish(
                done(
                    LdapResultCode::TimeLimitExceeded,
                    format!(
                        "time limit of {time_limit} s reached while waiting for Microsoft Graph"
                    ),
                ),
                vec![],
            )
            .await;
            return;
        }
    };
    let mut entries = output.entries;

    // Order: the sort control's keys, else CONTRACT §8's default.
    let mut sort_ctrl = Vec::new();
    match &rc.sort {
        Some(keys) => {
            let mut order_keys = Vec::new();
            let mut bad_attr = None;
            for k in keys {
                match schema::attribute(&k.attribute) {
                    Some(attr) => order_keys.push(OrderKey {
                        attr,
                        reverse: k.reverse,
                    }),
                    None => bad_attr = Some(k.attribute.clone()),
                }
            }
            if let Some(a) = bad_attr {
                if rc.sort_critical {
                    finish(
                        done(
                            LdapResultCode::UnavailableCriticalExtension,
                            format!("cannot sort on unknown attribute {a}"),
                        ),
                        vec![controls::sort_response(
                            controls::SortResultCode::NoSuchAttribute,
                            Some(a),
                        )],
                    )
                    .await;
                    return;
                }
                order::sort_entries(&mut entries, &[order::default_key(&req.filter)]);
                sort_ctrl.push(controls::sort_response(
                    controls::SortResultCode::NoSuchAttribute,
                    Some(a),
                ));
            } else {
                order::sort_entries(&mut entries, &order_keys);
                sort_ctrl.push(controls::sort_response(
                    controls::SortResultCode::Success,
                    None,
                ));
            }
        }
        None => order::sort_entries(&mut entries, &[order::default_key(&req.filter)]),
    }

    // Virtual list view: a window of the sorted list (draft-ietf-ldapext-ldapv3-vlv-09).
    if let Some(refusal) = controls::vlv_refusal(&rc) {
        finish(
            error_result(refusal.error),
            refusal.response_control.into_iter().collect(),
        )
        .await;
        return;
    }
    if let Some(vlv) = &rc.vlv {
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
            Ok(VlvWindow {
                start,
                end,
                target_position,
                content_count,
            }) => {
                for e in &entries[start..end] {
                    if !send(LdapOp::SearchResultEntry(selection.render(e)), vec![]).await {
                        return;
                    }
                }
                let mut ctrl = sort_ctrl;
                ctrl.push(controls::vlv_response(
                    target_position,
                    content_count,
                    controls::VlvResultCode::Success,
                    vlv.context_id.clone(),
                ));
                finish(done(LdapResultCode::Success, ""), ctrl).await;
            }
            Err(code) => {
                let refusal = controls::vlv_failure(code, entries.len());
                let mut ctrl = sort_ctrl;
                ctrl.extend(refusal.response_control);
                finish(error_result(refusal.error), ctrl).await;
            }
        }
        return;
    }

    let size_limited = entries.len() > size_limit;
    entries.truncate(size_limit);

    if let Some((page_size, _)) = &rc.paged {
        let state = PagedState {
            fingerprint: fingerprint(req),
            size_left: entries.len(),
            remaining: entries,
            size_limited,
            created: Instant::now(),
        };
        send_page(msgid, *page_size, state, &selection, tx, sort_ctrl).await;
        return;
    }

    for e in &entries {
        let pdu = selection.render(e);
        if !send(LdapOp::SearchResultEntry(pdu), vec![]).await {
            return;
        }
    }
    let res = if let Some(err) = output.incomplete {
        error_result(err)
    } else if size_limited {
        done(
            LdapResultCode::SizeLimitExceeded,
            format!("size limit of {size_limit} entries reached"),
        )
    } else {
        done(LdapResultCode::Success, "")
    };
    finish(res, sort_ctrl).await;
}

fn paged_done(rc: &RequestControls) -> Vec<LdapControl> {
    if rc.paged.is_some() {
        vec![controls::paged_response(Vec::new())]
    } else {
        vec![]
    }
}

/// Sends one page (RFC 2696 §3): up to `page_size` entries, then SearchResultDone with a
/// cookie while entries remain; page size 0 abandons the paged search.
async fn send_page(
    msgid: i32,
    page_size: u32,
    mut state: PagedState,
    selection: &AttributeSelection,
    tx: &mpsc::Sender<Out>,
    mut extra_ctrl: Vec<LdapControl>,
) {
    let send = |op: LdapOp, ctrl: Vec<LdapControl>| {
        let msg = LdapMsg::new_with_ctrls(msgid, op, ctrl);
        async move { tx.send(Out::Msg(msg)).await.is_ok() }
    };
    if page_size == 0 {
        extra_ctrl.push(controls::paged_response(Vec::new()));
        send(
            LdapOp::SearchResultDone(done(LdapResultCode::Success, "")),
            extra_ctrl,
        )
        .await;
        return;
    }
    let n = (page_size as usize).min(state.remaining.len());
    let page: Vec<Entry> = state.remaining.drain(..n).collect();
    for e in &page {
        if !send(LdapOp::SearchResultEntry(selection.render(e)), vec![]).await {
            return;
        }
    }
    state.size_left = state.size_left.saturating_sub(n);
    if state.remaining.is_empty() {
        extra_ctrl.push(controls::paged_response(Vec::new()));
        let res = if state.size_limited {
            done(LdapResultCode::SizeLimitExceeded, "size limit reached")
        } else {
            done(LdapResultCode::Success, "")
        };
        send(LdapOp::SearchResultDone(res), extra_ctrl).await;
    } else {
        let cookie = new_cookie();
        extra_ctrl.push(controls::paged_response(cookie.clone()));
        state.created = Instant::now();
        // The state goes to the connection before the Done, so the next page finds it.
        if tx.send(Out::Paged(cookie, Box::new(state))).await.is_err() {
            return;
        }
        send(
            LdapOp::SearchResultDone(done(LdapResultCode::Success, "")),
            extra_ctrl,
        )
        .await;
    }
}

fn error_result(e: LdapError) -> LdapResult {
    done(e.code, e.message)
}

/// The compare operation (RFC 4511 §4.10) on any readable entry.
pub async fn compare(gw: &Gateway, identity: &Identity, req: &LdapCompareRequest) -> LdapResult {
    let probe = LdapSearchRequest {
        base: req.dn.clone(),
        scope: LdapSearchScope::Base,
        aliases: ldap3_proto::proto::LdapDerefAliases::Never,
        sizelimit: 1,
        timelimit: 0,
        typesonly: false,
        filter: LdapFilter::Present("objectClass".into()),
        attrs: vec![],
    };
    if needs_bind(gw, identity, &probe) {
        return done(
            LdapResultCode::InsufficentAccessRights,
            "anonymous access is disabled; bind first",
        );
    }
    let Some(at) = schema::attribute(&req.atype) else {
        return done(
            LdapResultCode::UndefinedAttributeType,
            format!("unknown attribute type {}", req.atype),
        );
    };
    let entry = if req.dn.is_empty() {
        rootdse::root_dse(gw)
    } else {
        let deadline = Instant::now() + Duration::from_secs(gw.limits.time_limit_secs.max(1));
        let params = SearchParams {
            base: &req.dn,
            scope: LdapSearchScope::Base,
            filter: &probe.filter,
            deadline,
        };
        match gw.directory.search(&params).await {
            Ok(o) => match o.entries.into_iter().next() {
                Some(e) => e,
                None => return done(LdapResultCode::NoSuchObject, "no such entry"),
            },
            Err(e) => return error_result(e),
        }
    };
    if entry.get(at).is_none() {
        return done(
            LdapResultCode::NoSuchAttribute,
            format!("the entry has no {}", at.name),
        );
    }
    let assertion = LdapFilter::Equality(
        req.atype.clone(),
        String::from_utf8_lossy(&req.val).into_owned(),
    );
    if gw.directory.matches(&assertion, &entry) {
        done(LdapResultCode::CompareTrue, "")
    } else {
        done(LdapResultCode::CompareFalse, "")
    }
}
