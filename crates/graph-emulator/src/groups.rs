//! The emulated Entra groups: the `group` resource table (GRAPH.md §12), the membership store
//! (direct members of users, contacts and groups), transitive expansion and the routes
//! `/groups…`, `/groups/{id}/members|transitiveMembers[/cast]`, `/users/{id}/memberOf|…`.
//! Pure: no HTTP and no paging here; `server.rs` validates the query and pages the answer.

use super::errors::GraphError;
use super::resource::{
    CONTACTS, PropertyCaps, Resource, SearchSupport, Support, USERS, ValueKind, row,
};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};

use SearchSupport::{Tokenized, Unsupported as NoSearch};
use Support::{Advanced as A, Default as D, Unsupported as N};
use ValueKind::{Boolean, Text, TextCollection};

/// GRAPH.md §12: the group properties `$filter` accepts (group resource type, "Supports
/// $filter" notes; endsWith (the sixth column, `A` throughout) and `ne` only with the
/// advanced parameters).
const GROUP_CAPS: &[PropertyCaps] = &[
    row("id", Text, D, D, N, A, N, N, NoSearch, N),
    row("displayName", Text, D, D, D, A, A, A, Tokenized, D),
    row("description", Text, A, A, A, A, A, A, Tokenized, N),
    row("mail", Text, D, D, D, A, A, A, NoSearch, N),
    row("mailNickname", Text, D, D, D, A, A, A, NoSearch, N),
    row("mailEnabled", Boolean, D, N, N, A, N, A, NoSearch, N),
    row("securityEnabled", Boolean, D, N, N, A, N, A, NoSearch, N),
    row("groupTypes", TextCollection, D, N, N, A, N, A, NoSearch, N),
];

pub static GROUPS: Resource = Resource {
    segment: "groups",
    entity: "Group",
    type_name: "microsoft.graph.group",
    filterable: GROUP_CAPS,
    properties: &[
        "id",
        "displayName",
        "description",
        "mail",
        "mailEnabled",
        "mailNickname",
        "securityEnabled",
        "groupTypes",
        "visibility",
        "createdDateTime",
        "onPremisesSyncEnabled",
        "onPremisesSecurityIdentifier",
    ],
    default_select: None,
    single_object_only: &[],
    collections: &["groupTypes"],
};

/// One group: its Graph JSON and the ids of its direct members, in the order added.
#[derive(Clone, Debug)]
pub struct Group {
    pub object: Value,
    pub members: Vec<String>,
}

/// Every group of the tenant.
#[derive(Clone, Debug, Default)]
pub struct Groups {
    groups: Vec<Group>,
}

/// A relationship of a group or a user, as a URL names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Members,
    TransitiveMembers,
    MemberOf,
    TransitiveMemberOf,
}

impl Relation {
    fn transitive(self) -> bool {
        matches!(self, Self::TransitiveMembers | Self::TransitiveMemberOf)
    }
}

/// The object type of an OData cast segment (`/microsoft.graph.user`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cast {
    User,
    OrgContact,
    Group,
}

impl Cast {
    pub fn resource(self) -> &'static Resource {
        match self {
            Self::User => &USERS,
            Self::OrgContact => &CONTACTS,
            Self::Group => &GROUPS,
        }
    }
}

/// What a `/groups…` or `/users/{id}/memberOf…` request asks for, after routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupTarget {
    List,
    One(String),
    /// `owner_is_group` is false for `/users/{id}/…`.
    Related {
        owner: String,
        owner_is_group: bool,
        relation: Relation,
        cast: Option<Cast>,
    },
}

fn cast_of(segment: &str) -> Result<Cast, GraphError> {
    match segment {
        "microsoft.graph.user" => Ok(Cast::User),
        "microsoft.graph.orgContact" => Ok(Cast::OrgContact),
        "microsoft.graph.group" => Ok(Cast::Group),
        other => Err(GraphError::bad_request(format!(
            "Resource not found for the segment '{other}'."
        ))),
    }
}

/// Routes the paths this file serves; `None` leaves the path to the other routes. The
/// segments arrive percent-decoded.
pub fn target(segments: &[String]) -> Option<Result<GroupTarget, GraphError>> {
    let relation = |name: &str, of_group: bool| match (name, of_group) {
        ("members", true) => Some(Relation::Members),
        ("transitiveMembers", true) => Some(Relation::TransitiveMembers),
        ("memberOf", _) => Some(Relation::MemberOf),
        ("transitiveMemberOf", _) => Some(Relation::TransitiveMemberOf),
        _ => None,
    };
    let strs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let related = |owner: &str, of_group: bool, name: &str, cast: Option<&str>| {
        let relation = relation(name, of_group)?;
        Some(
            cast.map(cast_of)
                .transpose()
                .map(|cast| GroupTarget::Related {
                    owner: owner.to_string(),
                    owner_is_group: of_group,
                    relation,
                    cast,
                }),
        )
    };
    match strs.as_slice() {
        ["groups"] | ["groups", ""] => Some(Ok(GroupTarget::List)),
        ["groups", id] if !id.starts_with('$') => Some(Ok(GroupTarget::One(id.to_string()))),
        ["groups", id, name] => related(id, true, name, None).or_else(|| {
            Some(Err(GraphError::bad_request(format!(
                "Resource not found for the segment '{name}'."
            ))))
        }),
        ["groups", id, name, cast] => related(id, true, name, Some(cast)),
        ["users", id, name] => related(id, false, name, None),
        ["users", id, name, cast] => related(id, false, name, Some(cast)),
        _ => None,
    }
}

impl Groups {
    /// Adds a group with its direct members (ids of users, contacts or groups).
    pub fn add(&mut self, object: Value, members: Vec<String>) {
        self.groups.push(Group { object, members });
    }

    pub fn objects(&self) -> Vec<&Value> {
        self.groups.iter().map(|g| &g.object).collect()
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn find(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| {
            g.object["id"]
                .as_str()
                .is_some_and(|g| g.eq_ignore_ascii_case(id))
        })
    }

    fn is_unified(group: &Group) -> bool {
        group.object["groupTypes"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "Unified"))
    }

    /// The ids of the groups `member` is a direct member of.
    fn parents(&self, member: &str) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(member)))
            .collect()
    }

    /// Member ids of a group, directly or through nested groups (each once, breadth first;
    /// a nested group is itself a transitive member, as in Graph).
    fn member_ids(&self, group: &Group, transitive: bool) -> Vec<String> {
        if !transitive {
            return group.members.clone();
        }
        // The group itself is never its own member, even through a cycle.
        let own = group.object["id"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let mut seen = HashSet::from([own]);
        let mut out = Vec::new();
        let mut queue: VecDeque<&Group> = VecDeque::from([group]);
        while let Some(next) = queue.pop_front() {
            for id in &next.members {
                if seen.insert(id.to_lowercase()) {
                    out.push(id.clone());
                    if let Some(nested) = self.find(id) {
                        queue.push_back(nested);
                    }
                }
            }
        }
        out
    }

    /// Group ids `member` belongs to, directly or through nesting.
    fn member_of_ids(&self, member: &str, transitive: bool) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut queue = VecDeque::from([member.to_string()]);
        while let Some(next) = queue.pop_front() {
            for parent in self.parents(&next) {
                let id = parent.object["id"].as_str().unwrap_or_default().to_string();
                if seen.insert(id.to_lowercase()) {
                    out.push(id.clone());
                    if transitive {
                        queue.push_back(id);
                    }
                }
            }
        }
        out
    }

    /// The objects a relationship lists, each with the resource it is projected with. `users`
    /// and `contacts` are the live directory (members refer to them by id). Errors as Graph:
    /// 404 for an unknown owner, 400 `Request_UnsupportedQuery` for a cast to a type the
    /// relationship cannot hold (GRAPH.md §12).
    pub fn related<'a>(
        &'a self,
        owner: &str,
        owner_is_group: bool,
        relation: Relation,
        cast: Option<Cast>,
        users: &'a [Value],
        contacts: &'a [Value],
    ) -> Result<Vec<(&'a Value, &'static Resource)>, GraphError> {
        let by_id = |objects: &'a [Value]| -> HashMap<String, &'a Value> {
            objects
                .iter()
                .filter_map(|o| Some((o["id"].as_str()?.to_lowercase(), o)))
                .collect()
        };
        let ids = match relation {
            Relation::Members | Relation::TransitiveMembers => {
                let group = self
                    .find(owner)
                    .ok_or_else(|| GraphError::not_found(owner))?;
                if cast == Some(Cast::Group) && Self::is_unified(group) {
                    // GRAPH.md §12: Microsoft 365 groups cannot have groups as members.
                    return Err(GraphError::unsupported_query(
                        "Microsoft 365 groups can't have other groups as members.",
                    ));
                }
                self.member_ids(group, relation.transitive())
            }
            Relation::MemberOf | Relation::TransitiveMemberOf => {
                let known = if owner_is_group {
                    self.find(owner).is_some()
                } else {
                    users.iter().any(|u| {
                        u["id"]
                            .as_str()
                            .is_some_and(|i| i.eq_ignore_ascii_case(owner))
                            || u["userPrincipalName"]
                                .as_str()
                                .is_some_and(|i| i.eq_ignore_ascii_case(owner))
                    })
                };
                if !known {
                    return Err(GraphError::not_found(owner));
                }
                if matches!(cast, Some(Cast::User | Cast::OrgContact)) {
                    return Err(GraphError::unsupported_query(
                        "The OData cast is not supported on this relationship.",
                    ));
                }
                let id = if owner_is_group {
                    owner.to_string()
                } else {
                    users
                        .iter()
                        .find(|u| {
                            u["id"]
                                .as_str()
                                .is_some_and(|i| i.eq_ignore_ascii_case(owner))
                                || u["userPrincipalName"]
                                    .as_str()
                                    .is_some_and(|i| i.eq_ignore_ascii_case(owner))
                        })
                        .and_then(|u| u["id"].as_str())
                        .unwrap_or(owner)
                        .to_string()
                };
                self.member_of_ids(&id, relation.transitive())
            }
        };
        let users = by_id(users);
        let contacts = by_id(contacts);
        let groups: HashMap<String, &Value> = self
            .groups
            .iter()
            .filter_map(|g| Some((g.object["id"].as_str()?.to_lowercase(), &g.object)))
            .collect();
        let mut out = Vec::new();
        for id in ids {
            let key = id.to_lowercase();
            let found = [
                (Cast::User, &users),
                (Cast::OrgContact, &contacts),
                (Cast::Group, &groups),
            ]
            .into_iter()
            .find_map(|(kind, table)| table.get(&key).map(|o| (kind, *o)));
            // A member deleted from the directory is no longer listed.
            if let Some((kind, object)) = found
                && cast.is_none_or(|c| c == kind)
            {
                out.push((object, kind.resource()));
            }
        }
        Ok(out)
    }

    /// The sample tenant's groups, built from its users and contacts: nested security groups
    /// (All Staff ⊃ Engineering ⊃ Platform Team), department groups, a Microsoft 365 group
    /// whose members are also in other groups, a group holding a contact, and an empty group.
    pub fn sample(users: &[Value], contacts: &[Value]) -> Groups {
        let id_of = |o: &Value| o["id"].as_str().unwrap_or_default().to_string();
        let in_department = |department: &str| -> Vec<String> {
            users
                .iter()
                .filter(|u| u["department"].as_str() == Some(department))
                .map(id_of)
                .collect()
        };
        let mut engineering = in_department("Engineering");
        let platform: Vec<String> = engineering.drain(..engineering.len().min(5)).collect();
        let platform_id = sample_group_id(3);
        engineering.push(platform_id.clone());
        let mut sales = in_department("Sales");
        sales.extend(contacts.iter().take(2).map(id_of));
        let phoenix: Vec<String> = users.iter().step_by(25).take(12).map(id_of).collect();
        let mut all_staff: Vec<String> = vec![sample_group_id(2), sample_group_id(4)];
        all_staff.extend(in_department("Marketing"));
        let mut groups = Groups::default();
        let security = |n: u32, name: &str, description: &str| {
            json!({
                "id": sample_group_id(n),
                "displayName": name,
                "description": description,
                "mail": null,
                "mailEnabled": false,
                "mailNickname": name.to_lowercase().replace(' ', "-"),
                "securityEnabled": true,
                "groupTypes": [],
            })
        };
        groups.add(
            security(1, "All Staff", "Everyone, through the department groups"),
            all_staff,
        );
        groups.add(
            security(2, "Engineering", "Engineering department"),
            engineering,
        );
        groups.add(
            security(3, "Platform Team", "Nested in Engineering"),
            platform,
        );
        groups.add(security(4, "Sales", "Sales department and partners"), sales);
        groups.add(
            json!({
                "id": sample_group_id(5),
                "displayName": "Project Phoenix",
                "description": "Microsoft 365 group (Teams)",
                "mail": "phoenix@contoso.example",
                "mailEnabled": true,
                "mailNickname": "phoenix",
                "securityEnabled": false,
                "groupTypes": ["Unified"],
                "visibility": "Private",
            }),
            phoenix,
        );
        groups.add(security(6, "Empty Group", "No members"), Vec::new());
        groups
    }

    /// A security group with the given members, for tests with very large groups.
    pub fn with_members(id: &str, display_name: &str, members: Vec<String>) -> Group {
        Group {
            object: json!({
                "id": id,
                "displayName": display_name,
                "description": null,
                "mail": null,
                "mailEnabled": false,
                "mailNickname": display_name.to_lowercase().replace(' ', "-"),
                "securityEnabled": true,
                "groupTypes": [],
            }),
            members,
        }
    }

    /// Adds a built group (see `with_members`).
    pub fn push(&mut self, group: Group) {
        self.groups.push(group);
    }

    /// `n` generated groups over `users` (deterministic): "Everyone" holding every user (the
    /// one large group), then teams each user is in one of (every third user in a second
    /// one too), every third team nesting the team before it; ids `6e0a9c1d-0000-4000-9000-…`.
    pub fn generated(users: &[Value], n: usize) -> Groups {
        let id_of = |o: &Value| o["id"].as_str().unwrap_or_default().to_string();
        let mut groups = Groups::default();
        if n == 0 {
            return groups;
        }
        groups.push(Groups::with_members(
            &generated_group_id(0),
            "Everyone",
            users.iter().map(id_of).collect(),
        ));
        let teams = n - 1;
        let mut members: Vec<Vec<String>> = vec![Vec::new(); teams];
        for (i, user) in users.iter().enumerate().filter(|_| teams > 0) {
            members[i % teams].push(id_of(user));
            let second = (i * 7 + 1) % teams;
            if i % 3 == 0 && second != i % teams {
                members[second].push(id_of(user));
            }
        }
        for (t, mut m) in members.into_iter().enumerate() {
            if t % 3 == 2 {
                m.push(generated_group_id(t));
            }
            groups.push(Groups::with_members(
                &generated_group_id(t + 1),
                &format!("Team {:04}", t + 1),
                m,
            ));
        }
        groups
    }

    /// The `groups` array of a tenant file: each group's Graph object and its direct
    /// members' ids, `{"group": {…}, "members": ["…"]}`.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.groups
                .iter()
                .map(|g| json!({"group": g.object, "members": g.members}))
                .collect(),
        )
    }

    /// Reads `to_json`'s array back; a group needs a string `id`, members are ids.
    pub fn from_json(value: Value) -> Result<Groups, String> {
        let Value::Array(items) = value else {
            return Err("'groups' must be an array".into());
        };
        let mut groups = Groups::default();
        for (n, mut item) in items.into_iter().enumerate() {
            let object = item["group"].take();
            if object["id"].as_str().is_none_or(str::is_empty) {
                return Err(format!("groups[{n}]: 'group' needs a string 'id'"));
            }
            let members = match item["members"].take() {
                Value::Null => Vec::new(),
                Value::Array(ids) => ids
                    .into_iter()
                    .map(|id| match id {
                        Value::String(id) => Ok(id),
                        _ => Err(format!("groups[{n}]: 'members' holds ids (strings)")),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(format!("groups[{n}]: 'members' must be an array of ids")),
            };
            groups.add(object, members);
        }
        Ok(groups)
    }
}

/// The id of the n-th generated group (`Groups::generated`).
pub fn generated_group_id(n: usize) -> String {
    format!("6e0a9c1d-0000-4000-9000-{n:012}")
}

/// The id of the n-th sample group (a fixed, obviously synthetic GUID).
pub fn sample_group_id(n: u32) -> String {
    format!("6e0a9c1d-0000-4000-8000-{n:012}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<String> {
        path.split('/').map(str::to_string).collect()
    }

    fn tenant() -> (Vec<Value>, Vec<Value>, Groups) {
        let users: Vec<Value> = (0..4)
            .map(|n| json!({"id": format!("u{n}"), "userPrincipalName": format!("u{n}@x")}))
            .collect();
        let contacts = vec![json!({"id": "c0"})];
        let mut groups = Groups::default();
        groups.push(Groups::with_members(
            "outer",
            "Outer",
            vec!["u0".into(), "inner".into(), "c0".into()],
        ));
        groups.push(Groups::with_members(
            "inner",
            "Inner",
            vec!["u1".into(), "u0".into(), "loop".into()],
        ));
        // A cycle: Graph forbids none, the expansion must terminate.
        groups.push(Groups::with_members(
            "loop",
            "Loop",
            vec!["outer".into(), "u2".into()],
        ));
        (users, contacts, groups)
    }

    fn ids(found: &[(&Value, &'static Resource)]) -> Vec<String> {
        found
            .iter()
            .map(|(o, _)| o["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn routes_groups_and_relationships() {
        assert_eq!(target(&segments("groups")), Some(Ok(GroupTarget::List)));
        assert_eq!(
            target(&segments("groups/g1")),
            Some(Ok(GroupTarget::One("g1".into())))
        );
        assert_eq!(
            target(&segments(
                "groups/g1/transitiveMembers/microsoft.graph.user"
            )),
            Some(Ok(GroupTarget::Related {
                owner: "g1".into(),
                owner_is_group: true,
                relation: Relation::TransitiveMembers,
                cast: Some(Cast::User),
            }))
        );
        assert_eq!(
            target(&segments("users/u1/memberOf")),
            Some(Ok(GroupTarget::Related {
                owner: "u1".into(),
                owner_is_group: false,
                relation: Relation::MemberOf,
                cast: None,
            }))
        );
        assert!(target(&segments("users/u1/members")).is_none());
        assert!(target(&segments("users")).is_none());
        assert!(matches!(
            target(&segments("groups/g1/owners")),
            Some(Err(_))
        ));
        assert!(matches!(
            target(&segments("groups/g1/members/microsoft.graph.device")),
            Some(Err(_))
        ));
    }

    #[test]
    fn direct_and_transitive_members_with_casts() {
        let (users, contacts, groups) = tenant();
        let members = |relation, cast| {
            ids(&groups
                .related("outer", true, relation, cast, &users, &contacts)
                .unwrap())
        };
        assert_eq!(members(Relation::Members, None), ["u0", "inner", "c0"]);
        assert_eq!(members(Relation::Members, Some(Cast::User)), ["u0"]);
        assert_eq!(
            members(Relation::TransitiveMembers, None),
            ["u0", "inner", "c0", "u1", "loop", "u2"]
        );
        assert_eq!(
            members(Relation::TransitiveMembers, Some(Cast::User)),
            ["u0", "u1", "u2"]
        );
        assert_eq!(
            members(Relation::TransitiveMembers, Some(Cast::OrgContact)),
            ["c0"]
        );
    }

    #[test]
    fn member_of_direct_and_transitive() {
        let (users, contacts, groups) = tenant();
        let of = |owner: &str, relation| {
            ids(&groups
                .related(owner, false, relation, Some(Cast::Group), &users, &contacts)
                .unwrap())
        };
        assert_eq!(of("u1", Relation::MemberOf), ["inner"]);
        assert_eq!(
            of("u1@x", Relation::TransitiveMemberOf),
            ["inner", "outer", "loop"]
        );
        assert_eq!(of("u3", Relation::TransitiveMemberOf), Vec::<String>::new());
        assert!(
            groups
                .related("nobody", false, Relation::MemberOf, None, &users, &contacts)
                .is_err()
        );
        assert!(
            groups
                .related(
                    "u1",
                    false,
                    Relation::MemberOf,
                    Some(Cast::User),
                    &users,
                    &contacts
                )
                .is_err()
        );
    }

    #[test]
    fn unified_groups_refuse_the_group_cast() {
        let users = vec![json!({"id": "u0", "department": "Engineering"})];
        let groups = Groups::sample(&users, &[]);
        let phoenix = sample_group_id(5);
        let refused = groups
            .related(
                &phoenix,
                true,
                Relation::Members,
                Some(Cast::Group),
                &users,
                &[],
            )
            .unwrap_err();
        assert_eq!(refused.code, "Request_UnsupportedQuery");
        assert!(
            groups
                .related("missing", true, Relation::Members, None, &users, &[])
                .is_err_and(|e| e.status == axum::http::StatusCode::NOT_FOUND)
        );
    }

    #[test]
    fn generated_groups_nest_overlap_and_hold_everyone() {
        let users: Vec<Value> = (0..30).map(|n| json!({"id": format!("u{n}")})).collect();
        let groups = Groups::generated(&users, 7);
        assert_eq!(groups.len(), 7);
        let everyone = groups.find(&generated_group_id(0)).unwrap();
        assert_eq!(everyone.members.len(), 30);
        // Some team nests another; some user is in two teams.
        let nested = groups
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| groups.find(m).is_some()))
            .count();
        assert!(nested >= 1);
        let teams_of_u0 = groups.groups[1..]
            .iter()
            .filter(|g| g.members.iter().any(|m| m == "u0"))
            .count();
        assert_eq!(teams_of_u0, 2);
        assert!(Groups::generated(&users, 0).is_empty());
        assert_eq!(Groups::generated(&users, 1).len(), 1);
        // The file form reads back equal.
        let back = Groups::from_json(groups.to_json()).unwrap();
        assert_eq!(back.len(), groups.len());
        for (a, b) in back.groups.iter().zip(&groups.groups) {
            assert_eq!((&a.object, &a.members), (&b.object, &b.members));
        }
        assert!(Groups::from_json(json!({"group": {}})).is_err());
        assert!(Groups::from_json(json!([{"group": {"displayName": "x"}}])).is_err());
        assert!(Groups::from_json(json!([{"group": {"id": "g"}, "members": [1]}])).is_err());
    }

    #[test]
    fn group_caps_match_the_resource() {
        for caps in GROUPS.filterable {
            assert_eq!(GROUPS.property(caps.name), Some(caps.name));
            assert_eq!(caps.kind == TextCollection, GROUPS.is_collection(caps.name));
        }
    }
}
