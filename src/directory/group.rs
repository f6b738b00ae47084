//! Groups in the directory model (CONTRACT §9): a Graph group as a `groupOfNames` entry, the
//! group DNs a filter asserts in `memberOf` (equality and the in-chain rule), the member sets
//! those assertions are evaluated against, and which items need an entry's memberOf values
//! instead. Pure: sets and values are fetched by `search::membership`; this file never knows how.

use std::collections::{HashMap, HashSet};

use ldap3_proto::proto::LdapFilter;
use serde_json::Value;

use super::compat;
use super::entry::Entry;
use super::filter::Tri;
use super::schema;
use super::tree::{Tree, normalize_dn, push_named};

/// LDAP_MATCHING_RULE_IN_CHAIN ([MS-ADTS] §3.1.1.3.4.4.3): the assertion holds when the
/// entry reaches the group through any chain of memberships.
pub const IN_CHAIN_RULE: &str = "1.2.840.113556.1.4.1941";

/// How a group DN names its group: `uid=<id>` (the served RDN), or `cn=<displayName>`
/// (an alias resolved when exactly one group has that name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupKey {
    Id(String),
    Name(String),
}

/// The entry of one Graph group: objectClass `top, groupOfNames, group`, `cn` from
/// displayName, `description`, `mail`, `member` as the DNs of its user members (given by
/// the caller), `entryUUID` from id; with the AD profile (`ad`) also `objectGUID`,
/// `objectCategory` (`CN=Group,…`) and `distinguishedName` (CONTRACT §9). `None` without an id.
pub fn group_entry(obj: &Value, member_dns: Vec<String>, tree: &Tree, ad: bool) -> Option<Entry> {
    let text = |name: &str| {
        obj.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect::<Vec<_>>()
    };
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    let mut entry = Entry::new(tree.group_dn(id));
    push_named(
        &mut entry,
        "objectClass",
        GROUP_CLASSES.map(String::from).to_vec(),
    );
    push_named(&mut entry, "uid", vec![id.to_string()]);
    push_named(&mut entry, "cn", text("displayName"));
    push_named(&mut entry, "description", text("description"));
    push_named(&mut entry, "mail", text("mail"));
    push_named(&mut entry, "member", member_dns);
    push_named(&mut entry, "entryUUID", vec![id.to_string()]);
    if ad {
        let dn = entry.dn.clone();
        for (name, attribute) in compat::group_attributes(tree.base_dn()) {
            push_named(&mut entry, name, attribute.values(obj, &dn));
        }
    }
    tree.add_operational(&mut entry, "groupOfNames", false);
    Some(entry)
}

/// The objectClass values every group entry carries (`group_entry`).
const GROUP_CLASSES: [&str; 3] = ["top", "groupOfNames", "group"];

/// An entry standing for every group before any is read: a group's objectClass values and
/// nothing else. See `as_on_any_group`.
pub fn any_group_template(tree: &Tree) -> Entry {
    let mut entry = Entry::new(tree.group_dn("00000000-0000-0000-0000-000000000000"));
    push_named(
        &mut entry,
        "objectClass",
        GROUP_CLASSES.map(String::from).to_vec(),
    );
    entry
}

/// `f` as it stands on any group entry: items on objectClass (the same values on every
/// group) and on memberOf (no group carries one, and member sets hold users only) as
/// written, every other item Undefined. Evaluated on `any_group_template`, FALSE means no
/// group can match `f` (Kleene logic is monotone), so a search need not read the groups.
pub fn as_on_any_group(f: &LdapFilter) -> LdapFilter {
    let named = |attr: &str, name: &str| schema::attribute(attr).is_some_and(|a| a.name == name);
    let same_on_every_group = |attr: &str| named(attr, "objectClass") || is_member_of(attr);
    match f {
        LdapFilter::And(items) => LdapFilter::And(items.iter().map(as_on_any_group).collect()),
        LdapFilter::Or(items) => LdapFilter::Or(items.iter().map(as_on_any_group).collect()),
        LdapFilter::Not(inner) => LdapFilter::Not(Box::new(as_on_any_group(inner))),
        LdapFilter::Present(attr)
        | LdapFilter::Equality(attr, _)
        | LdapFilter::Substring(attr, _)
        | LdapFilter::GreaterOrEqual(attr, _)
        | LdapFilter::LessOrEqual(attr, _)
        | LdapFilter::Approx(attr, _)
            if same_on_every_group(attr) =>
        {
            f.clone()
        }
        LdapFilter::Extensible(m)
            if !m.dn_attributes && m.type_.as_deref().is_some_and(same_on_every_group) =>
        {
            f.clone()
        }
        _ => undefined_item(),
    }
}

/// One `memberOf` assertion of a filter: the group DN as written, and whether it is the
/// in-chain rule (transitive membership) or plain equality (direct membership).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MembershipAssertion {
    pub group_dn: String,
    pub nested: bool,
}

fn is_member_of(attr: &str) -> bool {
    schema::attribute(attr).is_some_and(|a| a.name == "memberOf")
}

/// The `memberOf` assertion an item makes, if it is one: `(memberOf=<dn>)` or
/// `(memberOf:1.2.840.113556.1.4.1941:=<dn>)`.
pub fn membership_assertion(f: &LdapFilter) -> Option<MembershipAssertion> {
    match f {
        LdapFilter::Equality(attr, value) if is_member_of(attr) => Some(MembershipAssertion {
            group_dn: value.clone(),
            nested: false,
        }),
        LdapFilter::Extensible(m)
            if m.type_.as_deref().is_some_and(is_member_of)
                && m.matching_rule.as_deref() == Some(IN_CHAIN_RULE)
                && !m.dn_attributes =>
        {
            Some(MembershipAssertion {
                group_dn: m.match_value.clone(),
                nested: true,
            })
        }
        _ => None,
    }
}

/// Every distinct `memberOf` assertion anywhere in a filter, in the order written.
pub fn membership_assertions(f: &LdapFilter) -> Vec<MembershipAssertion> {
    let mut out = Vec::new();
    let mut walk = vec![f];
    while let Some(item) = walk.pop() {
        match item {
            LdapFilter::And(items) | LdapFilter::Or(items) => walk.extend(items.iter().rev()),
            LdapFilter::Not(inner) => walk.push(inner),
            other => {
                if let Some(a) = membership_assertion(other)
                    && !out.contains(&a)
                {
                    out.push(a);
                }
            }
        }
    }
    out
}

/// True for a `memberOf` item the member sets do not answer: presence, substrings, ordering,
/// approximate, a rule other than the in-chain one; and a typeless extensible item, which
/// looks at every attribute's values, memberOf's among them. Such an item needs the
/// entry's real memberOf values.
fn reads_member_of_values(f: &LdapFilter) -> bool {
    if membership_assertion(f).is_some() {
        return false;
    }
    match f {
        LdapFilter::Present(attr)
        | LdapFilter::Equality(attr, _)
        | LdapFilter::Substring(attr, _)
        | LdapFilter::GreaterOrEqual(attr, _)
        | LdapFilter::LessOrEqual(attr, _)
        | LdapFilter::Approx(attr, _) => is_member_of(attr),
        LdapFilter::Extensible(m) => match &m.type_ {
            Some(attr) => is_member_of(attr),
            None => m.matching_rule.is_some(),
        },
        LdapFilter::And(_) | LdapFilter::Or(_) | LdapFilter::Not(_) => false,
    }
}

/// True when some item of `f` needs the entries' memberOf values (`reads_member_of_values`),
/// such as `(memberOf=*)`.
pub fn needs_member_of_values(f: &LdapFilter) -> bool {
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => items.iter().any(needs_member_of_values),
        LdapFilter::Not(inner) => needs_member_of_values(inner),
        other => reads_member_of_values(other),
    }
}

/// An item Undefined on every entry: an extensible match with a rule no schema has.
fn undefined_item() -> LdapFilter {
    LdapFilter::Extensible(ldap3_proto::proto::LdapMatchingRuleAssertion {
        matching_rule: Some("0.0".to_string()),
        type_: None,
        match_value: String::new(),
        dn_attributes: false,
    })
}

/// `f` as it stands before an entry's memberOf values are read: each `memberOf` item that
/// needs them Undefined, each typeless extensible item TRUE where it already holds and else
/// Undefined. And, OR and NOT are Kleene's three-valued logic, which is monotone: where
/// this filter is TRUE or FALSE on an entry, `f` is the same whatever memberOf values the
/// entry holds, so only the entries it leaves Undefined need them read.
pub fn without_member_of_values(f: &LdapFilter) -> LdapFilter {
    match f {
        LdapFilter::And(items) => {
            LdapFilter::And(items.iter().map(without_member_of_values).collect())
        }
        LdapFilter::Or(items) => {
            LdapFilter::Or(items.iter().map(without_member_of_values).collect())
        }
        LdapFilter::Not(inner) => LdapFilter::Not(Box::new(without_member_of_values(inner))),
        LdapFilter::Extensible(m) if m.type_.is_none() && reads_member_of_values(f) => {
            LdapFilter::Or(vec![LdapFilter::Extensible(m.clone()), undefined_item()])
        }
        other if reads_member_of_values(other) => undefined_item(),
        other => other.clone(),
    }
}

/// How many times the assertion `a` is made in `f`.
pub fn occurrences(f: &LdapFilter, a: &MembershipAssertion) -> usize {
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => {
            items.iter().map(|i| occurrences(i, a)).sum()
        }
        LdapFilter::Not(inner) => occurrences(inner, a),
        other => usize::from(membership_assertion(other).is_some_and(|found| {
            found.nested == a.nested
                && match (normalize_dn(&found.group_dn), normalize_dn(&a.group_dn)) {
                    (Some(x), Some(y)) => x == y,
                    _ => found.group_dn == a.group_dn,
                }
        })),
    }
}

/// The member sets of the groups a search's filter asserts, resolved once per search:
/// for each asserted group DN (normalised) and depth, the lowercase ids of its user
/// members. A DN that names no group maps to the empty set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memberships {
    sets: HashMap<(String, bool), HashSet<String>>,
}

impl Memberships {
    /// Records the user member ids of the group `group_dn` names (direct or nested).
    pub fn insert(&mut self, group_dn: &str, nested: bool, ids: impl IntoIterator<Item = String>) {
        let Some(key) = normalize_dn(group_dn) else {
            return;
        };
        self.sets
            .entry((key, nested))
            .or_default()
            .extend(ids.into_iter().map(|id| id.to_lowercase()));
    }

    /// The value of a `memberOf` item on an entry, or `None` when the item is not a
    /// `memberOf` assertion this search resolved. An assertion value that is not a DN is
    /// Undefined (distinguishedNameMatch, as slapd); an entry without an id (the fixed
    /// entries) is no member of anything.
    pub fn evaluate(&self, item: &LdapFilter, e: &Entry) -> Option<Tri> {
        let assertion = membership_assertion(item)?;
        let Some(key) = normalize_dn(&assertion.group_dn) else {
            return Some(Tri::Undefined);
        };
        let set = self.sets.get(&(key, assertion.nested))?;
        let id = schema::attribute("entryUUID")
            .and_then(|at| e.get(at))
            .and_then(|v| v.first())
            .map(|id| id.to_lowercase());
        Some(if id.is_some_and(|id| set.contains(&id)) {
            Tri::True
        } else {
            Tri::False
        })
    }

    /// The member ids recorded for one assertion.
    pub fn members(&self, a: &MembershipAssertion) -> Option<&HashSet<String>> {
        self.sets.get(&(normalize_dn(&a.group_dn)?, a.nested))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::filter::parse_filter;
    use serde_json::json;

    fn tree() -> Tree {
        Tree::new("dc=example,dc=com").unwrap()
    }

    #[test]
    fn group_entry_carries_group_of_names_and_members() {
        let tree = tree();
        let obj =
            json!({"id": "g1", "displayName": "Sales, EMEA", "description": null, "mail": "s@x"});
        let e = group_entry(&obj, vec![tree.user_dn("a@x")], &tree, false).unwrap();
        assert_eq!(e.dn, "uid=g1,ou=groups,dc=example,dc=com");
        let values = |name: &str| {
            e.get(schema::attribute(name).unwrap())
                .map(<[String]>::to_vec)
        };
        assert_eq!(
            values("objectClass").unwrap(),
            ["top", "groupOfNames", "group"]
        );
        assert_eq!(values("cn").unwrap(), ["Sales, EMEA"]);
        assert_eq!(values("description"), None);
        assert_eq!(
            values("member").unwrap(),
            ["uid=a@x,ou=users,dc=example,dc=com"]
        );
        assert_eq!(values("objectGUID"), None);
        assert!(group_entry(&json!({"displayName": "x"}), Vec::new(), &tree, false).is_none());
    }

    #[test]
    fn with_the_ad_profile_a_group_carries_its_guid_category_and_dn() {
        let tree = tree();
        let id = "00112233-4455-6677-8899-aabbccddeeff";
        let e = group_entry(
            &json!({"id": id, "displayName": "Sales"}),
            Vec::new(),
            &tree,
            true,
        )
        .unwrap();
        let values = |name: &str| {
            e.get(schema::attribute(name).unwrap())
                .map(<[String]>::to_vec)
        };
        let guid = compat::guid_bytes(id).unwrap();
        let guid_chars: Vec<u32> = values("objectGUID").unwrap()[0]
            .chars()
            .map(u32::from)
            .collect();
        assert_eq!(guid_chars, guid.map(u32::from).to_vec());
        assert_eq!(
            values("objectCategory").unwrap(),
            ["CN=Group,CN=Schema,CN=Configuration,dc=example,dc=com"]
        );
        assert_eq!(
            values("distinguishedName").unwrap(),
            std::slice::from_ref(&e.dn)
        );
    }

    #[test]
    fn assertions_are_found_anywhere_once() {
        let f = parse_filter(
            "(&(objectClass=person)(|(memberOf=uid=g1,ou=groups,dc=x)(!(memberOf:1.2.840.113556.1.4.1941:=cn=All,ou=groups,dc=x)))(memberof=uid=g1,ou=groups,dc=x))",
        )
        .unwrap();
        assert_eq!(
            membership_assertions(&f),
            [
                MembershipAssertion {
                    group_dn: "uid=g1,ou=groups,dc=x".into(),
                    nested: false
                },
                MembershipAssertion {
                    group_dn: "cn=All,ou=groups,dc=x".into(),
                    nested: true
                },
            ]
        );
        // Another rule on memberOf is not a membership assertion of this file.
        let other = parse_filter("(memberOf:2.5.13.1:=uid=g1,ou=groups,dc=x)").unwrap();
        assert!(membership_assertions(&other).is_empty());
    }

    #[test]
    fn member_of_values_are_needed_only_where_no_member_set_answers() {
        let f = |s: &str| parse_filter(s).unwrap();
        let g = "uid=g1,ou=groups,dc=example,dc=com";
        for needs in [
            "(memberOf=*)".to_string(),
            "(&(sn=a*)(!(memberOf=*)))".into(),
            "(memberOf=uid=*)".into(),
            format!("(memberOf>={g})"),
            format!("(memberOf~={g})"),
            format!("(memberOf:2.5.13.1:={g})"),
            format!("(:2.5.13.1:={g})"),
        ] {
            assert!(needs_member_of_values(&f(&needs)), "{needs}");
        }
        for answered in [
            format!("(memberOf={g})"),
            format!("(!(memberOf:1.2.840.113556.1.4.1941:={g}))"),
            "(&(cn=a)(mail=*))".into(),
        ] {
            assert!(!needs_member_of_values(&f(&answered)), "{answered}");
        }
    }

    #[test]
    fn before_memberof_values_only_undecided_entries_are_left() {
        use crate::directory::filter::{MatchContext, evaluate};
        use crate::directory::mapping::Mapping;
        use crate::directory::phone::{PhoneMatch, PhoneRules};
        let tree = tree();
        let mut e = Entry::new(tree.user_dn("a@x"));
        push_named(&mut e, "entryUUID", vec!["u1".into()]);
        push_named(&mut e, "cn", vec!["Alice".into()]);
        push_named(&mut e, "sn", vec!["Smith".into()]);
        let mapping = Mapping::default_mapping();
        let phone = PhoneRules::new(PhoneMatch::E164, "US").unwrap();
        let m = Memberships::default();
        let ctx = MatchContext {
            phone: &phone,
            mapping: &mapping,
            memberships: Some(&m),
        };
        let before = |s: &str| {
            evaluate(
                &without_member_of_values(&parse_filter(s).unwrap()),
                &e,
                &ctx,
            )
        };
        // The rest of the filter decides: no memberOf read is needed.
        assert_eq!(before("(|(cn=alice)(memberOf=*))"), Tri::True);
        assert_eq!(before("(&(cn=bob)(memberOf=*))"), Tri::False);
        assert_eq!(before("(&(cn=bob)(!(memberOf=*)))"), Tri::False);
        // It does not: the values must be read.
        assert_eq!(before("(&(cn=alice)(memberOf=*))"), Tri::Undefined);
        assert_eq!(before("(!(memberOf=*))"), Tri::Undefined);
        // A typeless extensible item already TRUE on other attributes stays TRUE.
        assert_eq!(before("(:2.5.13.2:=smith)"), Tri::True);
        assert_eq!(before("(:2.5.13.2:=jones)"), Tri::Undefined);
        // Once the values are there, the filter itself decides.
        let g = tree.group_dn("g1");
        push_named(&mut e, "memberOf", vec![g.clone()]);
        let after = |s: &str| evaluate(&parse_filter(s).unwrap(), &e, &ctx);
        assert_eq!(after("(&(cn=alice)(memberOf=*))"), Tri::True);
        assert_eq!(after("(!(memberOf=*))"), Tri::False);
        assert_eq!(after(&format!("(memberOf:2.5.13.1:={g})")), Tri::True);
    }

    #[test]
    fn a_filter_no_group_can_match_is_known_before_reading_groups() {
        use crate::directory::filter::{MatchContext, evaluate};
        use crate::directory::mapping::Mapping;
        use crate::directory::phone::{PhoneMatch, PhoneRules};
        let tree = tree();
        let mapping = Mapping::default_mapping();
        let phone = PhoneRules::new(PhoneMatch::E164, "US").unwrap();
        let m = Memberships::default();
        let ctx = MatchContext {
            phone: &phone,
            mapping: &mapping,
            memberships: Some(&m),
        };
        let template = any_group_template(&tree);
        let real = group_entry(
            &json!({"id": "g1", "displayName": "Sales", "mail": "s@x"}),
            vec![tree.user_dn("a@x")],
            &tree,
            false,
        )
        .unwrap();
        let on = |s: &str| {
            let f = parse_filter(s).unwrap();
            (
                evaluate(&as_on_any_group(&f), &template, &ctx),
                evaluate(&f, &real, &ctx),
            )
        };
        // FALSE on every group: the search reads none.
        for none in [
            "(objectClass=person)",
            "(&(objectClass=inetOrgPerson)(|(cn=s*)(memberOf=uid=g1,ou=groups,dc=x)))",
            "(&(objectCategory=person)(objectClass=user))",
            "(memberOf=*)",
            "(!(objectClass=group))",
        ] {
            let (any, real) = on(none);
            assert_eq!(any, Tri::False, "{none}");
            assert_eq!(real, Tri::False, "{none}");
        }
        // Anything a group may hold leaves it open, and the real group decides.
        for open in [
            "(cn=s*)",
            "(|(objectClass=person)(mail=s@x))",
            "(uid=g1)",
            "(:2.5.13.2:=sales)",
        ] {
            let (any, real) = on(open);
            assert_ne!(any, Tri::False, "{open}");
            assert_eq!(real, Tri::True, "{open}");
        }
        assert_eq!(on("(objectClass=groupOfNames)").0, Tri::True);
    }

    #[test]
    fn occurrences_count_one_assertion_in_any_spelling() {
        let f = parse_filter(
            "(&(|(memberOf=uid=g1,ou=groups,dc=x)(cn=a))(!(memberOf=UID=G1, ou=groups,dc=x))(memberOf:1.2.840.113556.1.4.1941:=uid=g1,ou=groups,dc=x))",
        )
        .unwrap();
        let a = |nested| MembershipAssertion {
            group_dn: "uid=g1,ou=groups,dc=x".into(),
            nested,
        };
        assert_eq!(occurrences(&f, &a(false)), 2);
        assert_eq!(occurrences(&f, &a(true)), 1);
    }

    #[test]
    fn evaluation_uses_the_resolved_sets() {
        let tree = tree();
        let user = |id: &str| {
            let mut e = Entry::new(tree.user_dn(&format!("{id}@x")));
            push_named(&mut e, "entryUUID", vec![id.to_string()]);
            e
        };
        let mut m = Memberships::default();
        m.insert(
            "UID=G1, ou=Groups,dc=example,dc=com",
            false,
            ["U1".to_string()],
        );
        m.insert(
            "uid=g1,ou=groups,dc=example,dc=com",
            true,
            ["u1".into(), "u2".into()],
        );
        let direct = parse_filter("(memberOf=uid=g1,ou=groups,dc=example,dc=com)").unwrap();
        let nested =
            parse_filter("(memberOf:1.2.840.113556.1.4.1941:=uid=G1,ou=groups,dc=example,dc=com)")
                .unwrap();
        assert_eq!(m.evaluate(&direct, &user("u1")), Some(Tri::True));
        assert_eq!(m.evaluate(&direct, &user("u2")), Some(Tri::False));
        assert_eq!(m.evaluate(&nested, &user("u2")), Some(Tri::True));
        assert_eq!(
            m.evaluate(&nested, &Entry::new("dc=example,dc=com")),
            Some(Tri::False)
        );
        let unresolved = parse_filter("(memberOf=uid=g9,ou=groups,dc=example,dc=com)").unwrap();
        assert_eq!(m.evaluate(&unresolved, &user("u1")), None);
        let not_a_dn = parse_filter("(memberOf=no dn)").unwrap();
        assert_eq!(m.evaluate(&not_a_dn, &user("u1")), Some(Tri::Undefined));
        let other = parse_filter("(cn=x)").unwrap();
        assert_eq!(m.evaluate(&other, &user("u1")), None);
    }
}
