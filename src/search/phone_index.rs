//! The phone index of CONTRACT §7: every indexed phone value of every user and contact,
//! kept only in derived forms (E.164, the telephoneNumberMatch key, digits) and mapped to
//! object ids, per collection and per phone source. Pure: it applies the objects of Graph
//! delta pages it is handed and answers lookups; reading Graph is `phone_sync`'s job. It
//! never holds another attribute and never decides a match (the live re-check does).

use std::collections::HashMap;
use std::sync::Arc;

use ldap3_proto::proto::LdapSubstringFilter;
use serde_json::Value;

use crate::directory::Collection;
use crate::directory::mapping::{Mapping, Source};
use crate::directory::matching::{self, SubstringAssertion};
use crate::directory::phone::{self, PhoneMatch, PhoneRules};
use crate::directory::schema::Substrings;
use crate::translate::PhoneAssertion;

/// One indexed phone value.
#[derive(Debug, Clone)]
struct Number {
    /// Index into the table's `sources`.
    source: u8,
    /// E.164 form with the default region, when the value parses.
    e164: Option<Box<str>>,
    /// telephoneNumberMatch key (spaces and hyphens removed), lowercased; `None` when
    /// the value is not a valid Telephone Number (it then matches no RFC 4517 item).
    key: Option<Box<str>>,
    /// Digits and a leading `+` (the e164-mode substring form, CONTRACT §7).
    digits: Box<str>,
}

/// The index of one collection.
#[derive(Debug, Default)]
struct Table {
    /// The indexed sources: (lookup key, source).
    sources: Vec<(String, Source)>,
    objects: HashMap<Arc<str>, Vec<Number>>,
    by_e164: HashMap<Box<str>, Vec<(Arc<str>, u8)>>,
    by_key: HashMap<Box<str>, Vec<(Arc<str>, u8)>>,
}

/// The phone numbers of both collections, as last read from Graph.
#[derive(Debug)]
pub struct PhoneIndex {
    rules: PhoneRules,
    users: Table,
    contacts: Table,
}

/// What the index holds, for logs, `explain` and the memory measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexSize {
    pub objects: usize,
    pub numbers: usize,
}

/// The lookup key of a phone source: the Graph property, or `phones:<type>` for an
/// orgContact phone. Other sources are not indexed.
fn source_key(s: &Source) -> Option<String> {
    match s {
        // A member of a complex property (`a/b`) is not indexed: delta `$select`s top-level ones.
        Source::Property(p) if p.contains('/') => None,
        Source::Property(p) => Some(p.clone()),
        Source::ContactPhone(kind) => Some(format!("phones:{}", kind.to_ascii_lowercase())),
        Source::FirstOf(_) | Source::ContactAddress(_) | Source::Ad(_) => None,
    }
}

/// The single-property sources behind the phone attributes a collection maps: a
/// `FirstOf` source contributes each of its properties.
fn phone_sources(mapping: &Mapping, c: Collection) -> Vec<(String, Source)> {
    let mut out: Vec<(String, Source)> = Vec::new();
    for m in mapping
        .for_collection(c)
        .iter()
        .filter(|m| m.attr.is_phone())
    {
        let singles = match &m.source {
            Source::FirstOf(ps) => ps.iter().map(|p| Source::Property(p.clone())).collect(),
            other => vec![other.clone()],
        };
        for s in singles {
            if let Some(k) = source_key(&s)
                && !out.iter().any(|(known, _)| *known == k)
            {
                out.push((k, s));
            }
        }
    }
    out
}

impl Table {
    fn new(sources: Vec<(String, Source)>) -> Self {
        Table {
            sources,
            ..Table::default()
        }
    }

    fn source_index(&self, s: &Source) -> Option<u8> {
        let k = source_key(s)?;
        let i = self.sources.iter().position(|(known, _)| *known == k)?;
        u8::try_from(i).ok()
    }

    fn remove(&mut self, id: &str) {
        let Some(old) = self.objects.remove(id) else {
            return;
        };
        for n in old {
            if let Some(e) = &n.e164 {
                drop_posting(&mut self.by_e164, e, id);
            }
            if let Some(k) = &n.key {
                drop_posting(&mut self.by_key, k, id);
            }
        }
    }

    fn upsert(&mut self, id: &str, numbers: Vec<Number>) {
        self.remove(id);
        if numbers.is_empty() {
            return;
        }
        let id: Arc<str> = Arc::from(id);
        for n in &numbers {
            if let Some(e) = &n.e164 {
                push_posting(&mut self.by_e164, e, &id, n.source);
            }
            if let Some(k) = &n.key {
                push_posting(&mut self.by_key, k, &id, n.source);
            }
        }
        self.objects.insert(id, numbers);
    }

    fn size(&self) -> IndexSize {
        IndexSize {
            objects: self.objects.len(),
            numbers: self.objects.values().map(Vec::len).sum(),
        }
    }
}

fn push_posting(map: &mut HashMap<Box<str>, Vec<(Arc<str>, u8)>>, k: &str, id: &Arc<str>, s: u8) {
    let list = map.entry(Box::from(k)).or_default();
    if !list.iter().any(|(i, src)| i == id && *src == s) {
        list.push((id.clone(), s));
    }
}

fn drop_posting(map: &mut HashMap<Box<str>, Vec<(Arc<str>, u8)>>, k: &str, id: &str) {
    if let Some(list) = map.get_mut(k) {
        list.retain(|(i, _)| &**i != id);
        if list.is_empty() {
            map.remove(k);
        }
    }
}

/// telephoneNumberMatch's key, lowercased: a superset of the rule whether or not it
/// folds letters (OpenLDAP does not, CONTRACT §6).
fn telephone_key(v: &str) -> Option<Box<str>> {
    matching::telephone_key(v).map(|k| k.to_lowercase().into_boxed_str())
}

impl PhoneIndex {
    /// An empty index of the phone sources `mapping` serves in `collections`.
    pub fn new(rules: PhoneRules, mapping: &Mapping, collections: &[Collection]) -> Self {
        let table = |c: Collection| {
            let sources = if collections.contains(&c) {
                phone_sources(mapping, c)
            } else {
                Vec::new()
            };
            Table::new(sources)
        };
        PhoneIndex {
            rules,
            users: table(Collection::Users),
            contacts: table(Collection::Contacts),
        }
    }

    fn table(&self, c: Collection) -> &Table {
        match c {
            Collection::Users => &self.users,
            Collection::Contacts => &self.contacts,
        }
    }

    fn table_mut(&mut self, c: Collection) -> &mut Table {
        match c {
            Collection::Users => &mut self.users,
            Collection::Contacts => &mut self.contacts,
        }
    }

    /// The collections with something to index.
    pub fn collections(&self) -> Vec<Collection> {
        [Collection::Users, Collection::Contacts]
            .into_iter()
            .filter(|c| !self.table(*c).sources.is_empty())
            .collect()
    }

    /// `$select` of a delta round: `id` and the Graph properties of the indexed sources.
    pub fn select(&self, c: Collection) -> Vec<String> {
        let mut out = vec!["id".to_string()];
        for (_, s) in &self.table(c).sources {
            for p in s.graph_properties() {
                if !out.iter().any(|x| x == p) {
                    out.push(p.to_string());
                }
            }
        }
        out
    }

    /// Applies one object of a delta page: `@removed` drops the object, anything else
    /// replaces what the index holds for it (Graph may return an object more than once
    /// in a round, GRAPH.md §10a). Objects without an id are ignored.
    pub fn apply(&mut self, c: Collection, obj: &Value) {
        let Some(id) = obj.get("id").and_then(Value::as_str) else {
            return;
        };
        if obj.get("@removed").is_some() {
            self.table_mut(c).remove(id);
            return;
        }
        let mut numbers = Vec::new();
        for (i, (_, s)) in self.table(c).sources.iter().enumerate() {
            let Ok(source) = u8::try_from(i) else {
                break;
            };
            for v in s.values(obj) {
                numbers.push(Number {
                    source,
                    e164: self.rules.e164(&v).map(String::into_boxed_str),
                    key: telephone_key(&v),
                    digits: phone::digits(&v).into_boxed_str(),
                });
            }
        }
        self.table_mut(c).upsert(id, numbers);
    }

    /// Object ids whose value of `source` may satisfy the item (a superset of what the
    /// filter evaluation of `directory::filter` accepts), sorted; `None` when the source
    /// is not indexed.
    pub fn lookup(
        &self,
        c: Collection,
        source: &Source,
        assertion: PhoneAssertion<'_>,
    ) -> Option<Vec<String>> {
        let t = self.table(c);
        let s = t.source_index(source)?;
        let mut ids: Vec<String> = match assertion {
            PhoneAssertion::Equality(v) => self.equal(t, s, v),
            PhoneAssertion::Substring(sub) => self.substring(t, s, sub),
        };
        ids.sort();
        ids.dedup();
        Some(ids)
    }

    /// E.164 equality when both parse, else telephoneNumberMatch (`PhoneRules::equality`):
    /// the union of both postings covers either case.
    fn equal(&self, t: &Table, s: u8, v: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut take = |list: Option<&Vec<(Arc<str>, u8)>>| {
            for (id, src) in list.into_iter().flatten() {
                if *src == s {
                    out.push(id.to_string());
                }
            }
        };
        if let Some(e) = self.rules.e164(v) {
            take(t.by_e164.get(e.as_str()));
        }
        if let Some(k) = telephone_key(v) {
            take(t.by_key.get(&k));
        }
        out
    }

    /// Digits-only pieces in e164 mode when every piece is a phone spelling (CONTRACT §7),
    /// else telephoneNumberSubstringsMatch on the key, both lowercased. Reads every
    /// number of the collection in memory; no Graph request.
    fn substring(&self, t: &Table, s: u8, sub: &LdapSubstringFilter) -> Vec<String> {
        let pieces = || sub.initial.iter().chain(sub.any.iter()).chain(&sub.final_);
        let digit_mode =
            self.rules.mode == PhoneMatch::E164 && pieces().all(|p| phone::is_phone_spelling(p));
        let hit: Box<dyn Fn(&Number) -> bool> = if digit_mode {
            let initial = sub.initial.as_deref().map(phone::digits);
            let any: Vec<String> = sub.any.iter().map(|p| phone::digits(p)).collect();
            let final_ = sub.final_.as_deref().map(phone::digits);
            Box::new(move |n: &Number| {
                let any: Vec<&str> = any.iter().map(String::as_str).collect();
                matching::pieces_match(&n.digits, initial.as_deref(), &any, final_.as_deref())
            })
        } else {
            let initial = sub.initial.as_deref().map(str::to_lowercase);
            let any: Vec<String> = sub.any.iter().map(|p| p.to_lowercase()).collect();
            let final_ = sub.final_.as_deref().map(str::to_lowercase);
            Box::new(move |n: &Number| {
                let Some(key) = &n.key else {
                    return false;
                };
                let assertion = SubstringAssertion {
                    initial: initial.as_deref(),
                    any: any.iter().map(String::as_str).collect(),
                    final_: final_.as_deref(),
                };
                matching::substrings_match(Substrings::TelephoneNumber, key, &assertion)
                    == Some(true)
            })
        };
        t.objects
            .iter()
            .filter(|(_, numbers)| numbers.iter().any(|n| n.source == s && hit(n)))
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// Objects and numbers held.
    pub fn size(&self) -> IndexSize {
        let (u, c) = (self.users.size(), self.contacts.size());
        IndexSize {
            objects: u.objects + c.objects,
            numbers: u.numbers + c.numbers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::filter::{MatchContext, Tri, evaluate};
    use crate::directory::needed::Needed;
    use crate::directory::tree::Tree;
    use ldap3_proto::proto::LdapFilter;
    use serde_json::json;

    fn rules(mode: PhoneMatch) -> PhoneRules {
        PhoneRules::new(mode, "US").unwrap()
    }

    fn index(mode: PhoneMatch) -> PhoneIndex {
        let m = Mapping::default_mapping();
        PhoneIndex::new(rules(mode), &m, &[Collection::Users, Collection::Contacts])
    }

    fn user(id: &str, business: &[&str], mobile: Option<&str>) -> Value {
        json!({"id": id, "businessPhones": business, "mobilePhone": mobile})
    }

    fn eq(ix: &PhoneIndex, c: Collection, p: &str, v: &str) -> Vec<String> {
        let s = if p.starts_with("phones:") {
            Source::ContactPhone(p.trim_start_matches("phones:").to_string())
        } else {
            Source::Property(p.to_string())
        };
        ix.lookup(c, &s, PhoneAssertion::Equality(v)).unwrap()
    }

    fn sub(ix: &PhoneIndex, p: &str, f: LdapSubstringFilter) -> Vec<String> {
        ix.lookup(
            Collection::Users,
            &Source::Property(p.to_string()),
            PhoneAssertion::Substring(&f),
        )
        .unwrap()
    }

    fn pieces(initial: Option<&str>, any: &[&str], final_: Option<&str>) -> LdapSubstringFilter {
        LdapSubstringFilter {
            initial: initial.map(str::to_string),
            any: any.iter().map(|s| s.to_string()).collect(),
            final_: final_.map(str::to_string),
        }
    }

    #[test]
    fn equality_finds_every_spelling_of_the_stored_number() {
        let mut ix = index(PhoneMatch::E164);
        ix.apply(Collection::Users, &user("u1", &["(425) 555.0100"], None));
        ix.apply(Collection::Users, &user("u2", &["+48 22 585 7650"], None));
        ix.apply(Collection::Users, &user("u3", &["+43 22 685 4471"], None));
        ix.apply(
            Collection::Users,
            &user("u4", &["0049 (0)89 1234567"], Some("+1-425-555-0199 x123")),
        );
        ix.apply(
            Collection::Users,
            &user("u5", &["ext. 4711 (front desk)"], None),
        );
        let b = |v: &str| eq(&ix, Collection::Users, "businessPhones", v);
        for dialled in [
            "+14255550100",
            "425-555-0100",
            "+1 (425) 555 0100",
            "4255550100",
        ] {
            assert_eq!(b(dialled), ["u1"], "{dialled}");
        }
        assert_eq!(b("+48 22 585 76 50"), ["u2"]);
        assert_eq!(b("+48225857650"), ["u2"]);
        assert_eq!(b("+43 2268 54471"), ["u3"]);
        assert_eq!(b("+49 89 1234567"), ["u4"]);
        assert_eq!(
            eq(&ix, Collection::Users, "mobilePhone", "+14255550199"),
            ["u4"]
        );
        // A number that does not parse: telephoneNumberMatch ignores spaces and hyphens.
        assert_eq!(b("ext.4711(frontdesk)"), ["u5"]);
        assert_eq!(
            b("EXT. 4711 (FRONT DESK)"),
            ["u5"],
            "letters compared as a superset"
        );
        // Per source: the mobile number is not a business phone.
        assert!(b("+14255550199").is_empty());
        assert!(b("+14255550101").is_empty());
    }

    #[test]
    fn updates_replace_and_removals_drop_an_objects_numbers() {
        let mut ix = index(PhoneMatch::E164);
        ix.apply(Collection::Users, &user("u1", &["+1 425 555 0100"], None));
        assert_eq!(
            eq(&ix, Collection::Users, "businessPhones", "+14255550100"),
            ["u1"]
        );
        ix.apply(Collection::Users, &user("u1", &["+1 425 555 0111"], None));
        assert!(eq(&ix, Collection::Users, "businessPhones", "+14255550100").is_empty());
        assert_eq!(
            eq(&ix, Collection::Users, "businessPhones", "+14255550111"),
            ["u1"]
        );
        // The same object twice in a round changes nothing.
        ix.apply(Collection::Users, &user("u1", &["+1 425 555 0111"], None));
        assert_eq!(
            ix.size(),
            IndexSize {
                objects: 1,
                numbers: 1
            }
        );
        ix.apply(
            Collection::Users,
            &json!({"id": "u1", "@removed": {"reason": "changed"}}),
        );
        assert!(eq(&ix, Collection::Users, "businessPhones", "+14255550111").is_empty());
        assert_eq!(ix.size(), IndexSize::default());
        assert!(ix.users.by_e164.is_empty() && ix.users.by_key.is_empty());
        // A user whose phones are cleared leaves no posting behind.
        ix.apply(Collection::Users, &user("u2", &["+1 425 555 0122"], None));
        ix.apply(Collection::Users, &user("u2", &[], None));
        assert_eq!(ix.size(), IndexSize::default());
        assert!(ix.users.by_e164.is_empty());
    }

    #[test]
    fn contacts_are_indexed_per_phone_type() {
        let mut ix = index(PhoneMatch::E164);
        ix.apply(
            Collection::Contacts,
            &json!({"id": "c1", "phones": [
                {"type": "business", "number": "+46 1 503 4546"},
                {"type": "mobile", "number": "(212) 555.1679"},
                {"type": "businessFax", "number": "+46 8 123 456"}
            ]}),
        );
        assert_eq!(
            eq(&ix, Collection::Contacts, "phones:business", "+4615034546"),
            ["c1"]
        );
        assert_eq!(
            eq(&ix, Collection::Contacts, "phones:mobile", "2125551679"),
            ["c1"]
        );
        assert!(eq(&ix, Collection::Contacts, "phones:mobile", "+4615034546").is_empty());
        // Not indexed: a user property on contacts, an address.
        assert!(
            ix.lookup(
                Collection::Contacts,
                &Source::Property("mobilePhone".into()),
                PhoneAssertion::Equality("1")
            )
            .is_none()
        );
        assert_eq!(ix.select(Collection::Contacts), ["id", "phones"]);
    }

    #[test]
    fn suffix_and_contains_compare_digits() {
        let mut ix = index(PhoneMatch::E164);
        ix.apply(Collection::Users, &user("u1", &["(425) 555.0100"], None));
        ix.apply(Collection::Users, &user("u2", &["+1 425 555 0200"], None));
        ix.apply(Collection::Users, &user("u3", &["+49 30 1234-0100"], None));
        assert_eq!(
            sub(&ix, "businessPhones", pieces(None, &[], Some("0100"))),
            ["u1", "u3"]
        );
        assert_eq!(
            sub(&ix, "businessPhones", pieces(None, &["555-0"], None)),
            ["u1", "u2"]
        );
        assert_eq!(
            sub(&ix, "businessPhones", pieces(Some("+1"), &[], Some("200"))),
            ["u2"]
        );
        // Letters: telephoneNumberSubstringsMatch on the key.
        ix.apply(Collection::Users, &user("u4", &["CALL-HELPDESK"], None));
        assert_eq!(
            sub(&ix, "businessPhones", pieces(None, &["help"], None)),
            ["u4"]
        );
    }

    #[test]
    fn rfc4517_mode_uses_the_telephone_key() {
        let mut ix = index(PhoneMatch::Rfc4517);
        ix.apply(Collection::Users, &user("u1", &["+1 425-555 0100"], None));
        assert_eq!(
            eq(&ix, Collection::Users, "businessPhones", "+1425 5550100"),
            ["u1"]
        );
        assert_eq!(
            sub(&ix, "businessPhones", pieces(None, &[], Some("5-0100"))),
            ["u1"]
        );
    }

    /// The index is a superset of the filter evaluation: for every stored value and every
    /// dialled spelling the evaluator accepts, the lookup returns the object.
    #[test]
    fn lookups_are_a_superset_of_the_filter_evaluation() {
        let stored = [
            "(425) 555.0100",
            "+1-425-555-0100 x123",
            "425 555 0100",
            "+48 22 585 7650",
            "+43 22 685 4471",
            "0049 (0)89 1234567",
            "+46 1 503 4546",
            "1-800-FLOWERS",
            "12-34",
            "+44 20 7946 0958",
            "020 7946 0958",
        ];
        let dialled = [
            "+14255550100",
            "4255550100",
            "(425) 555-0100",
            "+48 22 585 76 50",
            "+43 2268 54471",
            "+49891234567",
            "+4615034546",
            "1-800-flowers",
            "1234",
            "+442079460958",
            "02079460958",
        ];
        let m = Mapping::default_mapping();
        let tree = Tree::new("dc=example,dc=com").unwrap();
        for mode in [PhoneMatch::E164, PhoneMatch::Rfc4517] {
            let r = rules(mode);
            let ctx = MatchContext {
                phone: &r,
                mapping: &m,
                memberships: None,
            };
            let mut ix = index(mode);
            for (i, v) in stored.iter().enumerate() {
                let obj = json!({"id": format!("u{i}"), "userPrincipalName": format!("u{i}@x"),
                    "displayName": "x", "businessPhones": [v]});
                ix.apply(Collection::Users, &obj);
            }
            for (i, v) in stored.iter().enumerate() {
                let obj = json!({"id": format!("u{i}"), "userPrincipalName": format!("u{i}@x"),
                    "displayName": "x", "businessPhones": [v]});
                let entry = m
                    .to_entry(Collection::Users, &obj, &tree, &Needed::All)
                    .unwrap();
                let id = format!("u{i}");
                for d in dialled.iter().chain(stored.iter()) {
                    let f = LdapFilter::Equality("telephoneNumber".into(), d.to_string());
                    if evaluate(&f, &entry, &ctx) == Tri::True {
                        assert!(
                            eq(&ix, Collection::Users, "businessPhones", d).contains(&id),
                            "{mode:?}: {v:?} = {d:?}"
                        );
                    }
                    let digits = phone::digits(d);
                    let tail = &digits[digits.len().saturating_sub(4)..];
                    let f = pieces(None, &[], Some(tail));
                    let lf = LdapFilter::Substring("telephoneNumber".into(), f.clone());
                    if evaluate(&lf, &entry, &ctx) == Tri::True {
                        assert!(
                            sub(&ix, "businessPhones", f).contains(&id),
                            "{mode:?}: {v:?} ends with {tail:?}"
                        );
                    }
                }
            }
        }
    }
}
