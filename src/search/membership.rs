//! Groups at request time (CONTRACT §9, GRAPH.md §12): the entries of `ou=groups` read from
//! `/groups` and each group's user members, the group DNs of a filter's `memberOf` items
//! resolved once per search to member-id sets, and the user query of a search that requires a
//! membership sent to the group's member list instead of `/users`. No PDUs, no filter logic.

use std::collections::HashSet;
use std::sync::Arc;

use ldap3_proto::proto::LdapFilter;
use serde_json::Value;
use tokio::time::Instant;

use super::{Directory, FetchError, Fetched, ScanBound, fetch_request};
use crate::directory::entry::Entry;
use crate::directory::group::{
    GroupKey, MembershipAssertion, Memberships, group_entry, membership_assertion,
    membership_assertions,
};
use crate::directory::tree::Target;
use crate::error::LdapError;
use crate::graph::{GraphError, GraphRequest};
use crate::translate::GraphQuery;
use crate::translate::odata::{encode_query_value, string_literal};

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

/// Memberships one of which every match needs: the filter itself or an OR of nothing but
/// `memberOf` items, or the first such child of its top-level AND (empty when none). The
/// user query of such a search reads those groups' member lists instead of `/users`.
pub fn required_memberships(f: &LdapFilter) -> Vec<MembershipAssertion> {
    let any_of = |f: &LdapFilter| -> Option<Vec<MembershipAssertion>> {
        match f {
            LdapFilter::Or(items) if !items.is_empty() => {
                items.iter().map(membership_assertion).collect()
            }
            other => membership_assertion(other).map(|a| vec![a]),
        }
    };
    match f {
        LdapFilter::And(items) => items.iter().find_map(any_of),
        other => any_of(other),
    }
    .unwrap_or_default()
}

impl Directory {
    fn group_request(&self, path_and_query: String) -> GraphRequest {
        GraphRequest {
            shown: format!("GET {}", decoded(&path_and_query)),
            path_and_query,
            headers: vec![("ConsistencyLevel", "eventual")],
        }
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

    /// The Graph objects of the groups `key` names: by id, or by displayName when exactly one
    /// group has it (CONTRACT §9); always within `group_filter`. One request.
    async fn groups_named(
        &self,
        key: &GroupKey,
        deadline: Instant,
    ) -> Result<Vec<Value>, LdapError> {
        let condition = match key {
            GroupKey::Id(id) => format!("id eq {}", string_literal(id)),
            GroupKey::Name(name) => format!("displayName eq {}", string_literal(name)),
        };
        let found = self
            .read_all(
                &self.groups_list_request(Some(condition)),
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
    pub(super) async fn fetch_members_like(
        &self,
        q: &GraphQuery,
        group_id: &str,
        nested: bool,
        deadline: Instant,
    ) -> Result<Fetched, super::FetchFailure> {
        let mut q = q.clone();
        q.orderby = None;
        q.search = None;
        q.count = true;
        q.consistency_eventual = true;
        q.top = Some(MEMBER_PAGE);
        let users = format!("/v1.0/{}", q.collection.graph_path());
        let member_path = Self::member_path(group_id, nested);
        let request = GraphRequest {
            path_and_query: q.path_and_query().replacen(&users, &member_path, 1),
            headers: q.headers(),
            shown: q.display_decoded().replacen(&users, &member_path, 1),
        };
        match fetch_request(&self.graph, &request, self.member_bound(), deadline).await {
            Err(FetchError::Graph(GraphError::Rejected { status: 404, .. })) => {
                Ok(Fetched::default())
            }
            other => other.map_err(|e| self.fetch_error(&request.shown, &e)),
        }
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

    /// Resolves every `memberOf` assertion of `filter` once: the required ones (whose member
    /// lists will be read with the user filter pushed down) get an empty set that the search
    /// fills from those lists; every other one its full member-id set.
    pub(super) async fn resolve_memberships(
        &self,
        filter: &LdapFilter,
        deadline: Instant,
    ) -> Result<(Memberships, Vec<ResolvedGroup>), LdapError> {
        let mut memberships = Memberships::default();
        let mut required = Vec::new();
        if !self.settings.groups.enabled {
            return Ok((memberships, required));
        }
        let must = required_memberships(filter);
        for assertion in membership_assertions(filter) {
            let resolved = self.resolve_group(&assertion, deadline).await?;
            memberships.insert(&assertion.group_dn, assertion.nested, Vec::new());
            if must.contains(&assertion) {
                required.push(resolved);
                continue;
            }
            if let Some(id) = &resolved.id {
                let members = self.member_ids(id, assertion.nested, deadline).await?;
                memberships.insert(&assertion.group_dn, assertion.nested, ids_of(&members));
            }
        }
        Ok((memberships, required))
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
    /// (`/users/{id}/memberOf/microsoft.graph.group`); nothing while groups are off.
    pub(super) async fn add_member_of(
        &self,
        entries: &mut [Entry],
        visible: Option<&HashSet<String>>,
        deadline: Instant,
    ) -> Result<(), LdapError> {
        if !self.settings.groups.enabled {
            return Ok(());
        }
        let (Some(uuid), Some(member_of)) = (
            crate::directory::schema::attribute("entryUUID"),
            crate::directory::schema::attribute("memberOf"),
        ) else {
            return Ok(());
        };
        let users_ou = self.tree.ou_dn(crate::directory::Collection::Users);
        for entry in entries.iter_mut() {
            let is_user = crate::directory::tree::normalize_dn(&entry.dn)
                .zip(crate::directory::tree::normalize_dn(&users_ou))
                .is_some_and(|(dn, ou)| dn.ends_with(&format!(",{ou}")));
            let Some(id) = entry.get(uuid).and_then(|v| v.first()).cloned() else {
                continue;
            };
            if !is_user {
                continue;
            }
            let mut path = format!(
                "/v1.0/users/{}/memberOf/microsoft.graph.group?$select=id&$top={MEMBER_PAGE}&$count=true",
                encode_query_value(&id)
            );
            let group_filter = self.settings.groups.group_filter.trim();
            if !group_filter.is_empty() {
                path.push_str("&$filter=");
                path.push_str(&encode_query_value(group_filter));
            }
            let groups = self
                .read_all(&self.group_request(path), self.group_bound(), deadline)
                .await?;
            let dns = groups
                .iter()
                .filter_map(|g| g.get("id").and_then(Value::as_str))
                .filter(|g| visible.is_none_or(|v| v.contains(&g.to_lowercase())))
                .map(|g| self.tree.group_dn(g));
            entry.push(member_of, dns);
        }
        Ok(())
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
                let Some(Target::Object(crate::directory::Collection::Users, upn)) =
                    required_member(filter).map(|dn| self.tree.resolve(dn))
                else {
                    return Ok(Vec::new());
                };
                let mut path = format!(
                    "/v1.0/users/{}/memberOf/microsoft.graph.group?$select={GROUP_SELECT}&$top={MEMBER_PAGE}&$count=true",
                    encode_query_value(&upn)
                );
                let group_filter = self.settings.groups.group_filter.trim();
                if !group_filter.is_empty() {
                    path.push_str("&$filter=");
                    path.push_str(&encode_query_value(group_filter));
                }
                let request = self.group_request(path.clone());
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

    #[test]
    fn required_memberships_are_top_level_conjuncts_or_alternatives() {
        let f = |s: &str| parse_filter(s).unwrap();
        let (g, h) = ("uid=g1,ou=groups,dc=x", "uid=g2,ou=groups,dc=x");
        let required = required_memberships(&f(&format!(
            "(&(objectClass=person)(memberOf:1.2.840.113556.1.4.1941:={g}))"
        )));
        assert_eq!(required.len(), 1);
        assert!(required[0].nested);
        assert_eq!(required[0].group_dn, g);
        assert_eq!(
            required_memberships(&f(&format!("(memberOf={g})"))).len(),
            1
        );
        let either = required_memberships(&f(&format!(
            "(&(sn=a*)(|(memberOf={g})(memberOf:1.2.840.113556.1.4.1941:={h})))"
        )));
        assert_eq!(either.len(), 2);
        // Mixed with anything else under OR, or under NOT, a membership narrows nothing:
        // the user query stays on /users.
        assert!(required_memberships(&f(&format!("(|(cn=a)(memberOf={g}))"))).is_empty());
        assert!(required_memberships(&f(&format!("(!(memberOf={g}))"))).is_empty());
        assert!(required_memberships(&f("(cn=a)")).is_empty());
        assert!(required_memberships(&f("(|)")).is_empty());
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
