//! The search operation off the connection task: reads the request's access, controls and
//! limits, asks `search::Directory` (or the root DSE), lets `answer` decide the answer and
//! streams it to the connection. All decisions are in `answer`; this file only waits.

use std::time::Duration;

use ldap3_proto::LdapResultCode;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{LdapFilter, LdapMsg, LdapOp, LdapSearchRequest, LdapSearchScope};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::answer::{self, Answer, PageKey, SearchLimits, Step};
use super::controls;
use super::entry_out::AttributeSelection;
use super::gateway::{Gateway, Identity};
use super::outbox::{Last, Out};
use super::paged::{self, Resume};
use super::rootdse;
use crate::error::LdapError;
use crate::search::order::OrderKey;
use crate::search::{SearchOutput, SearchParams};

/// Runs one search request: sends its entries and returns its SearchResultDone with the
/// last of them, which the connection writes as the operation ends (`None`: the
/// connection is gone).
pub async fn run(
    gw: &Gateway,
    identity: &Identity,
    msgid: i32,
    req: &LdapSearchRequest,
    (ctrls, critical): (&[LdapControl], &[String]),
    resume: Resume,
    tx: &mpsc::Sender<Out>,
) -> Option<Last> {
    let answer = answer_search(gw, identity, req, (ctrls, critical), resume).await;
    let selection = AttributeSelection::new(&req.attrs, req.typesonly);
    stream(msgid, answer, &selection, tx).await
}

async fn answer_search(
    gw: &Gateway,
    identity: &Identity,
    req: &LdapSearchRequest,
    (ctrls, critical): (&[LdapControl], &[String]),
    resume: Resume,
) -> Answer {
    if gw.refuses_anonymous(identity, &req.base, &req.scope) {
        return Answer::refusal(LdapError::new(
            LdapResultCode::InsufficentAccessRights,
            "anonymous search is disabled (allow_anonymous = false); bind first",
        ));
    }
    let rc = match controls::parse_request_controls_with_critical(ctrls, critical) {
        Ok(rc) => rc,
        Err(e) => return Answer::refusal(e.into()),
    };
    // Root DSE: base "" with scope base (CONTRACT §4).
    if req.base.is_empty() && req.scope == LdapSearchScope::Base {
        let entry = rootdse::root_dse(gw);
        let entry = gw.directory.matches(&req.filter, &entry).then_some(entry);
        return answer::root_dse(entry, &rc);
    }
    let cookie = paged::new_cookie();
    let plan = match answer::before_search(&rc, resume, cookie.clone()) {
        Step::Answer(a) => return a,
        Step::Search(plan) => plan,
    };
    let limits = SearchLimits::of(&gw.limits, req);
    let found = ask(
        gw,
        &req.base,
        req.scope.clone(),
        &req.filter,
        plan.keys.as_deref(),
        &req.attrs,
        limits.time,
    )
    .await;
    let key = PageKey {
        fingerprint: paged::fingerprint(req),
        cookie,
    };
    answer::complete(found, &rc, limits, plan.response, key)
}

/// True when the attribute list names `memberOf` or asks for `+` (CONTRACT §9: like
/// OpenLDAP's memberof overlay, memberOf is operational and costs Graph requests).
fn asks_member_of(attrs: &[String]) -> bool {
    attrs.iter().any(|a| {
        a == "+" || crate::directory::schema::attribute(a).is_some_and(|at| at.name == "memberOf")
    })
}

/// Asks the engine within the time limit; the limit passing is timeLimitExceeded (3).
pub(super) async fn ask(
    gw: &Gateway,
    base: &str,
    scope: LdapSearchScope,
    filter: &LdapFilter,
    order: Option<&[OrderKey]>,
    attributes: &[String],
    time_limit: Duration,
) -> Result<SearchOutput, LdapError> {
    let deadline = Instant::now() + time_limit;
    let member_of = asks_member_of(attributes);
    let params = SearchParams {
        base,
        scope,
        filter,
        deadline,
        order,
        member_of,
        attributes,
    };
    match tokio::time::timeout_at(deadline, gw.directory.search(&params)).await {
        Ok(found) => found,
        Err(_) => Err(LdapError::new(
            LdapResultCode::TimeLimitExceeded,
            format!(
                "Graph did not answer in time: the time limit of {} s was reached",
                time_limit.as_secs()
            ),
        )),
    }
}

/// Encoded entries are handed to the connection in chunks of about this size: a small
/// answer travels whole with its SearchResultDone (one wake of the connection task, one
/// write), a large one keeps the channel's backpressure.
const CHUNK_BYTES: usize = 64 * 1024;

/// Sends the answer's entries, encoded here rather than on the connection task, and the
/// paged state (before the Done, so the next page request finds it); returns the
/// SearchResultDone with the entries not yet sent. `None` when the connection is gone.
async fn stream(
    msgid: i32,
    answer: Answer,
    selection: &AttributeSelection,
    tx: &mpsc::Sender<Out>,
) -> Option<Last> {
    let mut buf = bytes::BytesMut::new();
    for entries in answer.entries.chunks(64) {
        selection.encode_entries(msgid, entries, &mut buf);
        if buf.len() >= CHUNK_BYTES {
            tx.send(Out::Pdus(msgid, buf.split().freeze())).await.ok()?;
        }
    }
    if let Some((cookie, state)) = answer.keep {
        tx.send(Out::Paged(cookie, Box::new(state))).await.ok()?;
    }
    Some(Last {
        pdus: buf.freeze(),
        msg: LdapMsg::new_with_ctrls(
            msgid,
            LdapOp::SearchResultDone(answer.result),
            answer.controls,
        ),
    })
}
