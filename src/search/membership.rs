//! Groups at request time (CONTRACT §9, GRAPH.md §12): the entries of `ou=groups` from `/groups`
//! and member lists, a filter's `memberOf` assertions resolved once per search to member sets,
//! the user query of a search that requires a membership sent to member lists (or their union
//! with `/users`), and users' memberOf values where an answer or the filter needs them. No PDUs;
//! filter evaluation stays in `directory::filter`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use ldap3_proto::proto::LdapFilter;
use serde_json::Value;
use tokio::time::Instant;

use super::{Directory, FetchError, Fetched, ScanBound, fetch_request};
use crate::directory::Collection;
use crate::directory::entry::Entry;
use crate::directory::filter::{Tri, evaluate};
use crate::directory::group::{
    GroupKey, MembershipAssertion, Memberships, any_group_template, as_on_any_group, group_entry,
    membership_assertion, membership_assertions, needs_member_of_values, occurrences,
};
use crate::directory::tree::Target;
use crate::error::LdapError;
use crate::graph::{GraphError, GraphRequest};
use crate::translate::odata::{encode_query_value, string_literal};
use crate::translate::{GraphQuery, PushdownPlan, explain_plan};

/// `[groups]` as the engine takes it (docs/configuration.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// Serve `ou=groups` and answer `memberOf` from Graph.
    pub enabled: bool,
    /// OData `$filter` every group read is limited to (empty: all groups).
    pub group_filter: String,
    /// Most members read from one group's member list before adminLimitExceeded (11).
    pub max_members: u32,
    /// `[graph] visible_groups`: ids or display names; when not empty, every answer holds
    /// only transitive members of these groups (and the groups themselves).
    pub visible_groups: Vec<String>,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            enabled: false,
            group_filter: String::new(),
            max_members: DEFAULT_MAX_MEMBERS,
            visible_groups: Vec::new(),
        }
    }
}

/// `[groups] max_members` by default: 100 requests of 999 members.
pub const DEFAULT_MAX_MEMBERS: u32 = 99_900;

/// Graph's largest page on groups and member lists (GRAPH.md §12).
const MEMBER_PAGE: u32 = 999;

/// Users whose memberships are read at once (`/users/{id}/memberOf`, one request each).
const MEMBER_OF_READS: usize = 8;

/// The in-chain rule as a filter item writes it.
const IN_CHAIN_TEXT: &str = ":1.2.840.113556.1.4.1941:";

/// The group properties a group entry is built from.
const GROUP_SELECT: &str = "id,displayName,description,mail";

/// Where a search reaches groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupReach {
    Nothing,
    /// Every group (`ou=groups` one level or subtree, or a subtree above it).
    All,
    /// One group, named by its DN (a base-scope read, or a leaf search that needs its base).
    One(GroupKey),
}

/// A `memberOf` assertion's group, looked up once: its Graph id, `None` when the DN names
/// no served group (then the assertion is FALSE on every entry).
#[derive(Debug, Clone)]
pub struct ResolvedGroup {
    pub assertion: MembershipAssertion,
    pub id: Option<String>,
}

/// The ids (lowercase) of every object `[graph] visible_groups` lets through, and when they
/// were read; kept for the cache lifetime (`[search] cache_ttl_secs`).
#[derive(Debug, Default)]
pub struct VisibleCache {
    read: tokio::sync::Mutex<Option<(std::time::Instant, Arc<HashSet<String>>)>>,
}

/// The user DN of a `(member=<DN>)` item every match needs (the filter itself, or a child
/// of its top-level AND): such a group search reads that user's groups, not all groups.
pub fn required_member(f: &LdapFilter) -> Option<&str> {
    fn member(f: &LdapFilter) -> Option<&str> {
        match f {
            LdapFilter::Equality(attr, value)
                if crate::directory::schema::attribute(attr)
                    .is_some_and(|a| a.name == "member") =>
            {
                Some(value.as_str())
            }
            _ => None,
        }
    }
    match f {
        LdapFilter::And(items) => items.iter().find_map(member),
        other => member(other),
    }
}

/// How the user candidates of a search whose filter requires a membership are read.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipRoute {
    /// Every match is a member of one of these groups (or, with `union`, matches its
    /// `others`): the filter itself, an OR of them, or the first such child of its
    /// top-level AND.
    pub assertions: Vec<MembershipAssertion>,
    /// When the memberships share their OR with other alternatives.
    pub union: Option<UnionRoute>,
}

/// A membership OR with other alternatives, read as a union: the member lists with the
/// plan of `lists` (the filter without that OR), and `/users` (and `/contacts`) with the
/// plan of `others` (the filter with that OR's membership alternatives left out).
#[derive(Debug, Clone, PartialEq)]
pub struct UnionRoute {
    pub lists: LdapFilter,
    pub others: LdapFilter,
}

/// The route of a filter's user query through member lists, or `None` (the collection is
/// read as the plan says). An OR that mixes memberships with other alternatives is read as
/// a union when `narrows` says the plan of the other alternatives narrows `/users` and each
/// of its memberships is asserted nowhere else in the filter. Exact, as the full filter is
/// re-checked: a match from `/users` satisfies the filter without the OR, so it satisfies
/// the member lists' pushdown and shows in their member sets when it is a member; a NOT
/// of a membership (every non-member) narrows nothing and stays a scan.
pub fn membership_route(
    f: &LdapFilter,
    narrows: &dyn Fn(&LdapFilter) -> bool,
) -> Option<MembershipRoute> {
    let (children, top) = match f {
        LdapFilter::And(items) => (items.as_slice(), false),
        other => (std::slice::from_ref(other), true),
    };
    // A conjunct of memberships alone is cheaper than any union: it goes first.
    let pure = children.iter().find_map(|child| match child {
        LdapFilter::Or(alternatives) if !alternatives.is_empty() => Some(MembershipRoute {
            assertions: alternatives
                .iter()
                .map(membership_assertion)
                .collect::<Option<_>>()?,
            union: None,
        }),
        other => membership_assertion(other).map(|a| MembershipRoute {
            assertions: vec![a],
            union: None,
        }),
    });
    if pure.is_some() {
        return pure;
    }
    children.iter().enumerate().find_map(|(i, child)| {
        let LdapFilter::Or(alternatives) = child else {
            return None;
        };
        let (members, others): (Vec<&LdapFilter>, Vec<&LdapFilter>) = alternatives
            .iter()
            .partition(|a| membership_assertion(a).is_some());
        let assertions: Vec<MembershipAssertion> = members
            .iter()
            .filter_map(|a| membership_assertion(a))
            .collect();
        if assertions.is_empty() || assertions.iter().any(|a| occurrences(f, a) != 1) {
            return None;
        }
        let other = match others.as_slice() {
            [one] => (*one).clone(),
            many => LdapFilter::Or(many.iter().map(|o| (*o).clone()).collect()),
        };
        let rest = || children.iter().enumerate().filter(move |(j, _)| *j != i);
        let others = if top {
            other
        } else {
            LdapFilter::And(
                children
                    .iter()
                    .enumerate()
                    .map(|(j, c)| if j == i { other.clone() } else { c.clone() })
                    .collect(),
            )
        };
        if !narrows(&others) {
            return None;
        }
        Some(MembershipRoute {
            assertions,
            union: Some(UnionRoute {
                lists: LdapFilter::And(rest().map(|(_, c)| c.clone()).collect()),
                others,
            }),
        })
    })
}

/// One read of a collection's candidates: a query, and the member list it is sent to
/// instead (the group's id and the assertion whose member set it fills), `None` for the
/// collection itself.
pub type CandidateSource<'p> = (Cow<'p, GraphQuery>, Option<(String, MembershipAssertion)>);

/// The memberships a search's user query is routed through (`membership_route`), each
/// group resolved; empty when the query is not routed.
#[derive(Debug, Clone, Default)]
pub struct RequiredMemberships {
    pub groups: Vec<ResolvedGroup>,
    pub union: Option<UnionRoute>,
}

impl RequiredMemberships {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The filter planned on the collections: the other alternatives of a union, else the
    /// search's filter.
    pub fn collection_filter<'a>(&'a self, filter: &'a LdapFilter) -> &'a LdapFilter {
        match &self.union {
            Some(u) if !self.groups.is_empty() => &u.others,
            _ => filter,
        }
    }

    /// True when only members are matches, so no group entry (groups carry no memberOf)
    /// and no contact can match.
    pub fn only_members(&self) -> bool {
        !self.groups.is_empty() && self.union.is_none()
    }
}

impl Directory {
    fn group_request(&self, path_and_query: String) -> GraphRequest {
        GraphRequest {
            shown: format!("GET {}", decoded(&path_and_query)),
            path_and_query,
            headers: vec![("ConsistencyLevel", "eventual")],
        }
    }

    /// The (`group_filter`) groups user `user` (id or userPrincipalName) is a direct member
    /// of, with the properties `select`.
    fn user_groups_request(&self, user: &str, select: &str) -> GraphRequest {
        let mut path = format!(
            "/v1.0/users/{}/memberOf/microsoft.graph.group?$select={select}&$top={MEMBER_PAGE}&$count=true",
            encode_query_value(user)
        );
        let group_filter = self.settings.groups.group_filter.trim();
        if !group_filter.is_empty() {
            path.push_str("&$filter=");
            path.push_str(&encode_query_value(group_filter));
        }
        self.group_request(path)
    }

    /// `/groups` with the configured `group_filter` and `extra` ANDed, advanced parameters on.
    fn groups_list_request(&self, extra: Option<String>) -> GraphRequest {
        let configured = self.settings.groups.group_filter.trim();
        let filter = match (extra, configured.is_empty()) {
            (Some(e), true) => Some(e),
            (Some(e), false) => Some(format!("({e}) and ({configured})")),
            (None, false) => Some(configured.to_string()),
            (None, true) => None,
        };
        let mut path =
            format!("/v1.0/groups?$select={GROUP_SELECT}&$top={MEMBER_PAGE}&$count=true");
        if let Some(f) = filter {
            path.push_str("&$filter=");
            path.push_str(&encode_query_value(&f));
        }
        self.group_request(path)
    }

    async fn read_all(
        &self,
        request: &GraphRequest,
        bound: ScanBound,
        deadline: Instant,
    ) -> Result<Fetched, LdapError> {
        fetch_request(&self.graph, request, bound, deadline)
            .await
            .map_err(|e| self.fetch_error(&request.shown, &e).error)
    }

    /// `/groups` limited to the group `key` names (and `group_filter`).
    fn groups_named_request(&self, key: &GroupKey) -> GraphRequest {
        let condition = match key {
            GroupKey::Id(id) => format!("id eq {}", string_literal(id)),
            GroupKey::Name(name) => format!("displayName eq {}", string_literal(name)),
        };
        self.groups_list_request(Some(condition))
    }

    /// The Graph objects of the groups `key` names: by id, or by displayName when exactly one
    /// group has it (CONTRACT §9); always within `group_filter`. One request.
    async fn groups_named(
        &self,
        key: &GroupKey,
        deadline: Instant,
    ) -> Result<Vec<Value>, LdapError> {
        let found = self
            .read_all(
                &self.groups_named_request(key),
                self.group_bound(),
                deadline,
            )
            .await?;
        Ok(match key {
            // Graph compares displayName case-insensitively, like caseIgnoreMatch on cn.
            GroupKey::Name(_) if found.len() != 1 => Vec::new(),
            _ => found.as_ref().clone(),
        })
    }

    fn group_bound(&self) -> ScanBound {
        ScanBound {
            objects: self.settings.max_scan,
            key: "max_scan",
        }
    }

    fn member_bound(&self) -> ScanBound {
        ScanBound {
            objects: self.settings.groups.max_members,
            key: "groups.max_members",
        }
    }

    /// `/groups/{id}/members` or `/transitiveMembers`, cast to users.
    fn member_path(id: &str, nested: bool) -> String {
        let relation = if nested {
            "transitiveMembers"
        } else {
            "members"
        };
        format!(
            "/v1.0/groups/{}/{relation}/microsoft.graph.user",
            encode_query_value(id)
        )
    }

    /// The user members of a group with only `id` and `userPrincipalName`; a group that is
    /// gone (404) has none.
    async fn member_ids(
        &self,
        id: &str,
        nested: bool,
        deadline: Instant,
    ) -> Result<Fetched, LdapError> {
        // Only the users the gateway serves (`user_filter`) become `member` values.
        let mut path = format!(
            "{}?$select=id,userPrincipalName&$top={MEMBER_PAGE}&$count=true",
            Self::member_path(id, nested)
        );
        let user_filter = self.settings.user_filter.trim();
        if !user_filter.is_empty() {
            path.push_str("&$filter=");
            path.push_str(&encode_query_value(user_filter));
        }
        match fetch_request(
            &self.graph,
            &self.group_request(path.clone()),
            self.member_bound(),
            deadline,
        )
        .await
        {
            Err(FetchError::Graph(GraphError::Rejected { status: 404, .. })) => {
                Ok(Fetched::default())
            }
            other => other.map_err(|e| self.fetch_error(&format!("GET {path}"), &e).error),
        }
    }

    /// The user query `q` sent to a group's member list instead of `/users`: the same
    /// `$filter` and `$select`, with the advanced parameters the cast needs and Graph's
    /// largest page; no `$orderby` (the entries are ordered locally anyway) and no `$search`
    /// (documented there on displayName and description only, GRAPH.md §12; without it
    /// the list is a superset, bounded by the group, and the local check stays exact).
    fn member_list_request(q: &GraphQuery, group_id: &str, nested: bool) -> GraphRequest {
        let mut q = q.clone();
        q.orderby = None;
        q.search = None;
        q.count = true;
        q.consistency_eventual = true;
        q.top = Some(MEMBER_PAGE);
        let users = format!("/v1.0/{}", q.collection.graph_path());
        let member_path = Self::member_path(group_id, nested);
        GraphRequest {
            path_and_query: q.path_and_query().replacen(&users, &member_path, 1),
            headers: q.headers(),
            shown: q.display_decoded().replacen(&users, &member_path, 1),
        }
    }

    /// All pages of `member_list_request`; a group that is gone (404) has no member.
    pub(super) async fn fetch_members_like(
        &self,
        q: &GraphQuery,
        group_id: &str,
        nested: bool,
        deadline: Instant,
    ) -> Result<Fetched, super::FetchFailure> {
        let request = Self::member_list_request(q, group_id, nested);
        match fetch_request(&self.graph, &request, self.member_bound(), deadline).await {
            Err(FetchError::Graph(GraphError::Rejected { status: 404, .. })) => {
                Ok(Fetched::default())
            }
            other => other.map_err(|e| self.fetch_error(&request.shown, &e)),
        }
    }

    /// What `explain` prints for collection `c` of a search routed through member lists
    /// (CONTRACT §9), in place of its plan; `None` when the search is not routed.
    pub fn explain_route(&self, filter: &LdapFilter, c: Collection) -> Option<String> {
        if !self.settings.groups.enabled {
            return None;
        }
        let route = self.user_route(filter)?;
        let mut out = String::new();
        match (&route.union, c) {
            (None, Collection::Users) => out.push_str(
                "read from the member lists of the groups every match is a member of, with the \
                 user part of the filter pushed down (never all of /users):\n",
            ),
            (None, _) => {
                return Some("no Graph request: only users are group members\n".to_string());
            }
            (Some(_), Collection::Users) => out.push_str(
                "a union: the member lists of the OR's groups (with the filter outside that OR \
                 pushed down), plus /users for its other alternatives:\n",
            ),
            (Some(u), _) => {
                out.push_str("the OR's other alternatives (only users are group members):\n");
                out.push_str(&explain_plan(&self.plan(&u.others, c, None)));
                return Some(out);
            }
        }
        let list_plan = match &route.union {
            Some(u) => self.plan(&u.lists, c, None),
            None => self.plan(filter, c, None),
        };
        for a in &route.assertions {
            let rule = if a.nested { IN_CHAIN_TEXT } else { "" };
            out.push_str(&format!("(memberOf{rule}={}): ", a.group_dn));
            let id = match self.tree.resolve(&a.group_dn) {
                Target::Group(GroupKey::Id(id)) => {
                    if !self.settings.groups.group_filter.trim().is_empty() {
                        out.push_str(&format!(
                            "its id is checked against [groups] group_filter first ({}), then ",
                            self.groups_named_request(&GroupKey::Id(id.clone())).shown
                        ));
                    }
                    id
                }
                Target::Group(key @ GroupKey::Name(_)) => {
                    out.push_str(&format!(
                        "the group of that name is looked up first ({}), then (GROUP-ID: its id) ",
                        self.groups_named_request(&key).shown
                    ));
                    "GROUP-ID".to_string()
                }
                _ => {
                    out.push_str("names no group under ou=groups: no member, no request\n");
                    continue;
                }
            };
            out.push_str(&format!(
                "its {} members (one request per {MEMBER_PAGE}, at most [groups] max_members = {}):\n",
                if a.nested { "transitive" } else { "direct" },
                self.settings.groups.max_members
            ));
            for q in &list_plan.queries {
                let request = Self::member_list_request(q, &id, a.nested);
                out.push_str(&format!("  {}\n", request.shown));
            }
        }
        match &route.union {
            Some(u) => {
                out.push_str("and for the OR's other alternatives:\n");
                out.push_str(&explain_plan(&self.plan(&u.others, c, None)));
            }
            None => {
                out.push_str("checked locally: the whole LDAP filter, on every user returned\n")
            }
        }
        Some(out)
    }

    /// What `explain` prints for the groups a search reaches (CONTRACT §9), without Graph.
    pub fn explain_groups(&self, reach: &GroupReach, filter: &LdapFilter) -> String {
        let list = self.groups_list_request(None).shown;
        let lists = "plus one member list per group (/v1.0/groups/{id}/members/microsoft.graph.user, \
                     one request per 999 members), for its member values";
        match reach {
            GroupReach::Nothing => String::new(),
            GroupReach::One(key) => format!(
                "\n/groups:\nrequest 1: {}\n{lists}\n",
                self.groups_named_request(key).shown
            ),
            GroupReach::All => {
                let only_members = self.user_route(filter).is_some_and(|r| r.union.is_none());
                if only_members {
                    return "\n/groups:\nno Graph request: every match is a member of a group, \
                            and groups are no members\n"
                        .to_string();
                }
                if !self.groups_may_match(filter, &Memberships::default()) {
                    return "\n/groups:\nno Graph request: the filter's objectClass and memberOf \
                            items exclude every group\n"
                        .to_string();
                }
                match required_member(filter) {
                    Some(dn) => format!(
                        "\n/groups:\nthe groups {dn} is a direct member of: \
                         GET /v1.0/users/{{upn}}/memberOf/microsoft.graph.group, {lists}\n"
                    ),
                    None => format!(
                        "\n/groups:\nrequest 1: {list} (every group within [groups] group_filter)\n{lists}\n"
                    ),
                }
            }
        }
    }

    /// What `explain` adds about the `memberOf` items a route does not read: the member
    /// lists read in full, and the memberOf values read per user (CONTRACT §9).
    pub fn explain_member_of_items(&self, filter: &LdapFilter) -> String {
        let assertions = membership_assertions(filter);
        let values = needs_member_of_values(filter);
        if assertions.is_empty() && !values {
            return String::new();
        }
        if !self.settings.groups.enabled {
            return "\nmemberOf: [groups] enabled = false, so no entry has a membership\n"
                .to_string();
        }
        let routed = self
            .user_route(filter)
            .map(|r| r.assertions)
            .unwrap_or_default();
        let mut out = String::new();
        for a in assertions.iter().filter(|a| !routed.contains(a)) {
            let rule = if a.nested { IN_CHAIN_TEXT } else { "" };
            let id = match self.tree.resolve(&a.group_dn) {
                Target::Group(GroupKey::Id(id)) => id,
                // Looked up by name first; GROUP-ID stands for the id found.
                Target::Group(GroupKey::Name(_)) => "GROUP-ID".to_string(),
                _ => {
                    out.push_str(&format!(
                        "(memberOf{rule}={}): names no group, FALSE on every entry\n",
                        a.group_dn
                    ));
                    continue;
                }
            };
            out.push_str(&format!(
                "(memberOf{rule}={}): the group's member ids read in full once ({}?$select=id,userPrincipalName, one request per {MEMBER_PAGE}), checked locally\n",
                a.group_dn,
                Self::member_path(&id, a.nested)
            ));
        }
        if values {
            out.push_str(&format!(
                "memberOf items no member list answers (presence, substrings, ordering, other \
                 rules): each candidate user the rest of the filter leaves undecided costs one \
                 GET /v1.0/users/{{id}}/memberOf/microsoft.graph.group (at most [search] \
                 max_scan = {} users); Graph has no memberOf condition on /users (GRAPH.md §12)\n",
                self.settings.max_scan
            ));
        }
        if out.is_empty() {
            return out;
        }
        format!("\nmemberOf (CONTRACT §9):\n{out}")
    }

    /// The group a `memberOf` assertion names. A `uid=<id>` DN costs no request when no
    /// `group_filter` applies (a missing group shows as a 404 of its member list).
    async fn resolve_group(
        &self,
        assertion: &MembershipAssertion,
        deadline: Instant,
    ) -> Result<ResolvedGroup, LdapError> {
        let key = match self.tree.resolve(&assertion.group_dn) {
            Target::Group(key) => key,
            _ => {
                return Ok(ResolvedGroup {
                    assertion: assertion.clone(),
                    id: None,
                });
            }
        };
        let id = match &key {
            GroupKey::Id(id) if self.settings.groups.group_filter.trim().is_empty() => {
                Some(id.clone())
            }
            _ => self
                .groups_named(&key, deadline)
                .await?
                .first()
                .and_then(|g| g.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        Ok(ResolvedGroup {
            assertion: assertion.clone(),
            id,
        })
    }

    /// Resolves every `memberOf` assertion of `filter` once: those of its route (whose member
    /// lists will be read with the user filter pushed down) get an empty set that the
    /// search fills from those lists; every other one its full member-id set.
    pub(super) async fn resolve_memberships(
        &self,
        filter: &LdapFilter,
        deadline: Instant,
    ) -> Result<(Memberships, RequiredMemberships), LdapError> {
        let mut memberships = Memberships::default();
        let mut required = RequiredMemberships::default();
        if !self.settings.groups.enabled {
            return Ok((memberships, required));
        }
        let route = self.user_route(filter);
        let must = route.as_ref().map_or(&[][..], |r| r.assertions.as_slice());
        for assertion in membership_assertions(filter) {
            let resolved = self.resolve_group(&assertion, deadline).await?;
            memberships.insert(&assertion.group_dn, assertion.nested, Vec::new());
            if must.contains(&assertion) {
                required.groups.push(resolved);
                continue;
            }
            if let Some(id) = &resolved.id {
                let members = self.member_ids(id, assertion.nested, deadline).await?;
                memberships.insert(&assertion.group_dn, assertion.nested, ids_of(&members));
            }
        }
        required.union = route.and_then(|r| r.union);
        Ok((memberships, required))
    }

    /// `membership_route` with this directory's plans deciding what narrows `/users`.
    pub fn user_route(&self, filter: &LdapFilter) -> Option<MembershipRoute> {
        membership_route(filter, &|f| {
            !self.plan(f, Collection::Users, None).unbounded
        })
    }

    /// The requests that read one collection's candidates, each with the member list it is
    /// sent to (`None`: the collection itself). `plan` is the collection's plan of
    /// `required.collection_filter`. Routed through memberships, the user query goes to the
    /// member lists (only users are members, CONTRACT §9), and a union's other alternatives
    /// to the collections.
    pub(super) fn candidate_sources<'p>(
        &self,
        required: &RequiredMemberships,
        plan: &'p PushdownPlan,
        c: Collection,
        base_object: bool,
    ) -> Vec<CandidateSource<'p>> {
        if base_object || required.is_empty() {
            return plan
                .queries
                .iter()
                .map(|q| (Cow::Borrowed(q), None))
                .collect();
        }
        let mut sources = Vec::new();
        if c == Collection::Users {
            let lists: Vec<(String, MembershipAssertion)> = required
                .groups
                .iter()
                .filter_map(|g| Some((g.id.clone()?, g.assertion.clone())))
                .collect();
            let list_plan = required
                .union
                .as_ref()
                .map(|u| self.plan(&u.lists, c, None));
            match list_plan {
                Some(own) => {
                    for q in own.queries {
                        sources.extend(
                            lists
                                .iter()
                                .map(|l| (Cow::Owned(q.clone()), Some(l.clone()))),
                        );
                    }
                }
                None => {
                    for q in &plan.queries {
                        sources.extend(lists.iter().map(|l| (Cow::Borrowed(q), Some(l.clone()))));
                    }
                }
            }
        }
        if required.union.is_some() {
            sources.extend(plan.queries.iter().map(|q| (Cow::Borrowed(q), None)));
        }
        sources
    }

    /// The objects `[graph] visible_groups` lets through: the listed groups and all their
    /// transitive members (users, contacts, groups), or `None` when nothing is listed. A
    /// listed name that no single group has lets nothing through (fail closed). Costs one
    /// request per name plus one per 999 transitive members of each group, once per cache
    /// lifetime.
    pub(super) async fn visible_ids(
        &self,
        deadline: Instant,
    ) -> Result<Option<Arc<HashSet<String>>>, LdapError> {
        let listed = &self.settings.groups.visible_groups;
        if listed.is_empty() {
            return Ok(None);
        }
        let mut cached = self.visible.read.lock().await;
        if let Some((at, ids)) = cached.as_ref()
            && at.elapsed() < self.settings.cache_ttl
        {
            return Ok(Some(ids.clone()));
        }
        let mut ids = HashSet::new();
        for wanted in listed {
            let key = if is_object_id(wanted) {
                GroupKey::Id(wanted.clone())
            } else {
                GroupKey::Name(wanted.clone())
            };
            for group in self.groups_named(&key, deadline).await? {
                let Some(id) = group.get("id").and_then(Value::as_str) else {
                    continue;
                };
                ids.insert(id.to_lowercase());
                let path = format!(
                    "/v1.0/groups/{}/transitiveMembers?$top={MEMBER_PAGE}",
                    encode_query_value(id)
                );
                let members = fetch_request(
                    &self.graph,
                    &self.group_request(path.clone()),
                    self.member_bound(),
                    deadline,
                )
                .await
                .map_err(|e| self.fetch_error(&format!("GET {path}"), &e).error)?;
                ids.extend(ids_of(&members));
            }
        }
        let ids = Arc::new(ids);
        *cached = Some((std::time::Instant::now(), ids.clone()));
        Ok(Some(ids))
    }

    /// Adds `memberOf` to the user entries: the DNs of the (visible, `group_filter`) groups
    /// each is a direct member of. One request per user entry
    /// (`/users/{id}/memberOf/microsoft.graph.group`), `MEMBER_OF_READS` at a time; nothing
    /// while groups are off.
    pub(super) async fn add_member_of(
        &self,
        entries: &mut [Entry],
        visible: Option<&HashSet<String>>,
        deadline: Instant,
    ) -> Result<(), LdapError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        if !self.settings.groups.enabled {
            return Ok(());
        }
        let (Some(uuid), Some(member_of)) = (
            crate::directory::schema::attribute("entryUUID"),
            crate::directory::schema::attribute("memberOf"),
        ) else {
            return Ok(());
        };
        let users_ou = crate::directory::tree::normalize_dn(&self.tree.ou_dn(Collection::Users))
            .map(|ou| format!(",{ou}"));
        let user_id = |entry: &Entry| -> Option<String> {
            let dn = crate::directory::tree::normalize_dn(&entry.dn)?;
            dn.ends_with(users_ou.as_deref()?)
                .then(|| entry.get(uuid)?.first().cloned())
                .flatten()
        };
        let ids: Vec<Option<String>> = entries.iter().map(user_id).collect();
        let values: Vec<Option<Vec<String>>> = stream::iter(ids)
            .map(|id| self.member_of_of(id, visible, deadline))
            .buffered(MEMBER_OF_READS)
            .try_collect()
            .await?;
        for (entry, dns) in entries.iter_mut().zip(values) {
            if let Some(dns) = dns {
                entry.push(member_of, dns);
            }
        }
        Ok(())
    }

    /// The DNs of the (visible, `group_filter`) groups user `id` is a direct member of;
    /// `None` for an entry that is no user.
    async fn member_of_of(
        &self,
        id: Option<String>,
        visible: Option<&HashSet<String>>,
        deadline: Instant,
    ) -> Result<Option<Vec<String>>, LdapError> {
        let Some(id) = id else {
            return Ok(None);
        };
        let groups = self
            .read_all(
                &self.user_groups_request(&id, "id"),
                self.group_bound(),
                deadline,
            )
            .await?;
        Ok(Some(
            groups
                .iter()
                .filter_map(|g| g.get("id").and_then(Value::as_str))
                .filter(|g| visible.is_none_or(|v| v.contains(&g.to_lowercase())))
                .map(|g| self.tree.group_dn(g))
                .collect(),
        ))
    }

    /// Where a candidate entry stands before its memberOf values are read: `before` is
    /// `without_member_of_values` of the filter when some item needs those values (CONTRACT
    /// §9: `(memberOf=*)` and the like), `None` otherwise. TRUE and FALSE are final; an
    /// Undefined entry (only with `before`) is decided by `decide_with_member_of`.
    pub(super) fn check_before_member_of(
        &self,
        before: Option<&LdapFilter>,
        filter: &LdapFilter,
        entry: &Entry,
        memberships: &Memberships,
    ) -> Tri {
        match before {
            Some(before) => evaluate(before, entry, &self.match_context(Some(memberships))),
            None if self.matches_in(filter, entry, memberships) => Tri::True,
            None => Tri::False,
        }
    }

    /// The undecided candidates (`check_before_member_of`) with their memberOf values read
    /// (one request per user, as `add_member_of`) that then match `filter`.
    pub(super) async fn decide_with_member_of(
        &self,
        mut undecided: Vec<Entry>,
        filter: &LdapFilter,
        memberships: &Memberships,
        visible: Option<&HashSet<String>>,
        deadline: Instant,
    ) -> Result<Vec<Entry>, LdapError> {
        if undecided.is_empty() {
            return Ok(undecided);
        }
        self.add_member_of(&mut undecided, visible, deadline)
            .await?;
        undecided.retain(|e| self.matches_in(filter, e, memberships));
        Ok(undecided)
    }

    /// False when no group entry can match `filter`, known from the objectClass and memberOf
    /// items alone (`group::as_on_any_group`): then the groups are not read.
    pub(super) fn groups_may_match(&self, filter: &LdapFilter, memberships: &Memberships) -> bool {
        evaluate(
            &as_on_any_group(filter),
            &any_group_template(&self.tree),
            &self.match_context(Some(memberships)),
        ) != Tri::False
    }

    /// The group entries a search reaches, each with its user members as `member`. All
    /// groups cost one request per 999 groups plus one per 999 members of each.
    pub(super) async fn group_entries(
        &self,
        reach: &GroupReach,
        filter: &LdapFilter,
        visible: Option<&HashSet<String>>,
        deadline: Instant,
    ) -> Result<Vec<Entry>, LdapError> {
        let shown = |id: &str| visible.is_none_or(|v| v.contains(&id.to_lowercase()));
        let groups: Fetched = match reach {
            GroupReach::Nothing => return Ok(Vec::new()),
            // `(member=<user DN>)`: only the groups that user is a direct member of.
            GroupReach::All if required_member(filter).is_some() => {
                let Some(Target::Object(Collection::Users, upn)) =
                    required_member(filter).map(|dn| self.tree.resolve(dn))
                else {
                    return Ok(Vec::new());
                };
                let request = self.user_groups_request(&upn, GROUP_SELECT);
                match fetch_request(&self.graph, &request, self.group_bound(), deadline).await {
                    // A user that does not exist is a member of nothing.
                    Err(FetchError::Graph(GraphError::Rejected { status: 404, .. })) => {
                        Fetched::default()
                    }
                    other => other.map_err(|e| self.fetch_error(&request.shown, &e).error)?,
                }
            }
            GroupReach::All => {
                self.read_all(
                    &self.groups_list_request(None),
                    self.group_bound(),
                    deadline,
                )
                .await?
            }
            GroupReach::One(key) => Fetched::new(self.groups_named(key, deadline).await?),
        };
        let mut entries = Vec::new();
        for group in groups.iter() {
            let Some(id) = group
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| shown(id))
            else {
                continue;
            };
            let members = self.member_ids(id, false, deadline).await?;
            let dns = members
                .iter()
                .filter(|m| m.get("id").and_then(Value::as_str).is_some_and(shown))
                .filter_map(|m| m.get("userPrincipalName").and_then(Value::as_str))
                .map(|upn| self.tree.user_dn(upn))
                .collect();
            entries.extend(group_entry(
                group,
                dns,
                &self.tree,
                self.mapping.active_directory(),
            ));
        }
        Ok(entries)
    }
}

/// True for a Graph object id (a GUID), as opposed to a display name.
fn is_object_id(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The lowercase ids of fetched objects.
pub fn ids_of(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .filter_map(|o| o.get("id").and_then(Value::as_str))
        .map(str::to_lowercase)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect()
}

/// A request path with its query values decoded, for logs and messages.
fn decoded(path_and_query: &str) -> String {
    percent_encoding::percent_decode_str(path_and_query)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::filter::parse_filter;

    fn assertions(route: Option<MembershipRoute>) -> Vec<MembershipAssertion> {
        route.map(|r| r.assertions).unwrap_or_default()
    }

    #[test]
    fn routed_memberships_are_top_level_conjuncts_or_alternatives() {
        let f = |s: &str| parse_filter(s).unwrap();
        let any = |f: &LdapFilter| membership_route(f, &|_| true);
        let (g, h) = ("uid=g1,ou=groups,dc=x", "uid=g2,ou=groups,dc=x");
        let required = assertions(any(&f(&format!(
            "(&(objectClass=person)(memberOf:1.2.840.113556.1.4.1941:={g}))"
        ))));
        assert_eq!(required.len(), 1);
        assert!(required[0].nested);
        assert_eq!(required[0].group_dn, g);
        assert_eq!(assertions(any(&f(&format!("(memberOf={g})")))).len(), 1);
        let either = any(&f(&format!(
            "(&(sn=a*)(|(memberOf={g})(memberOf:1.2.840.113556.1.4.1941:={h})))"
        )))
        .unwrap();
        assert_eq!(either.assertions.len(), 2);
        assert_eq!(either.union, None);
        // Under NOT a membership narrows nothing: the user query stays on /users.
        assert!(any(&f(&format!("(!(memberOf={g}))"))).is_none());
        assert!(any(&f("(cn=a)")).is_none());
        assert!(any(&f("(|)")).is_none());
    }

    #[test]
    fn a_membership_or_with_other_alternatives_is_a_union_when_they_narrow() {
        let f = |s: &str| parse_filter(s).unwrap();
        let g = "uid=g1,ou=groups,dc=x";
        let top = f(&format!("(|(memberOf={g})(cn=a*)(sn=b))"));
        let route = membership_route(&top, &|_| true).unwrap();
        assert_eq!(route.assertions.len(), 1);
        let union = route.union.unwrap();
        assert_eq!(union.lists, LdapFilter::And(Vec::new()));
        assert_eq!(union.others, f("(|(cn=a*)(sn=b))"));
        let within = f(&format!("(&(objectClass=person)(|(cn=a*)(memberOf={g})))"));
        let union = membership_route(&within, &|_| true).unwrap().union.unwrap();
        assert_eq!(union.lists, f("(&(objectClass=person))"));
        assert_eq!(union.others, f("(&(objectClass=person)(cn=a*))"));
        // The other alternatives must narrow /users, else the search is a bounded scan.
        assert!(membership_route(&top, &|_| false).is_none());
        // A membership asserted elsewhere too (here under NOT) would see a partial member
        // set on the entries from /users: no union.
        let twice = f(&format!("(&(|(memberOf={g})(cn=a*))(!(memberOf={g})))"));
        assert!(membership_route(&twice, &|_| true).is_none());
        // A later conjunct of memberships alone routes the search.
        let later = f(&format!(
            "(&(|(memberOf={g})(cn=a*))(memberOf=uid=g2,ou=groups,dc=x))"
        ));
        for narrows in [false, true] {
            let route = membership_route(&later, &|_| narrows).unwrap();
            assert_eq!(route.assertions[0].group_dn, "uid=g2,ou=groups,dc=x");
            assert_eq!(route.union, None, "memberships alone go first");
        }
    }

    #[test]
    fn visible_groups_name_ids_or_names() {
        assert!(is_object_id("6e0a9c1d-0000-4000-8000-000000000001"));
        assert!(!is_object_id("All Staff"));
        assert!(!is_object_id("6e0a9c1d-0000-4000-8000-00000000000"));
        assert!(!is_object_id("6e0a9c1d-0000-4000-8000-00000000000g"));
    }

    #[test]
    fn a_required_member_is_a_top_level_conjunct() {
        let f = |s: &str| parse_filter(s).unwrap();
        let u = "uid=a@x,ou=users,dc=x";
        assert_eq!(required_member(&f(&format!("(member={u})"))), Some(u));
        assert_eq!(
            required_member(&f(&format!("(&(objectClass=group)(member={u}))"))),
            Some(u)
        );
        assert_eq!(required_member(&f(&format!("(|(cn=a)(member={u}))"))), None);
        assert_eq!(required_member(&f(&format!("(!(member={u}))"))), None);
    }

    #[test]
    fn ids_are_lowercase_and_distinct() {
        let objects = vec![
            serde_json::json!({"id": "A"}),
            serde_json::json!({"id": "a"}),
            serde_json::json!({"x": 1}),
        ];
        assert_eq!(ids_of(&objects), ["a"]);
    }
}
