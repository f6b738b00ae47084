//! Indexes of one collection's filterable string properties, so that `eq`, `in` and
//! `startsWith` (also inside `any(…)`) find their objects without a scan. An index only narrows:
//! it yields candidate positions, a superset in tenant order, and `odata::matches` decides.
//! It knows no HTTP, paging or delta; `delta::Directory` keeps it in step with its objects.

use super::odata::{CompareOp, Filter, Literal, StringFunction, Target, fold, property};
use super::resource::{Resource, ValueKind};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Bound;

/// Folded value → positions of the objects holding it, ascending.
type Postings = BTreeMap<String, Vec<usize>>;

/// Positions of the objects that may match: `None` means "every object" (not indexed).
pub type Candidates = Option<Vec<usize>>;

/// What is indexed under one property name: its string value, or each string item of a
/// collection (the range variable of `any`).
#[derive(Default)]
struct PropertyIndex {
    collection: bool,
    postings: Postings,
}

/// The indexes of one collection (`/users` or `/contacts`).
#[derive(Default)]
pub struct Index {
    /// Keyed by the canonical spelling; a filter spelling a name otherwise is not indexed
    /// (its property lookup could then read another key of a messy object).
    properties: HashMap<&'static str, PropertyIndex>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("properties", &self.properties.len())
            .finish()
    }
}

/// The folded keys an object is indexed under for one property, the way the evaluator reads
/// it: a string value (`compare`, `string_function`), or the string items of an array (`any`).
fn keys<'v>(object: &'v Value, name: &str, collection: bool) -> Vec<&'v str> {
    match (property(object, name), collection) {
        (Some(Value::String(s)), false) => vec![s.as_str()],
        (Some(Value::Array(items)), true) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn insert_sorted(list: &mut Vec<usize>, position: usize) {
    if let Err(at) = list.binary_search(&position) {
        list.insert(at, position);
    }
}

/// Sorted union of sorted lists, without duplicates.
fn union<'a>(lists: impl IntoIterator<Item = &'a [usize]>) -> Vec<usize> {
    let mut all: Vec<usize> = lists.into_iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

impl Index {
    /// Indexes every filterable text property of `resource` over `objects`.
    pub fn build(resource: &Resource, objects: &[Value]) -> Index {
        let mut index = Index {
            properties: resource
                .filterable
                .iter()
                .filter(|caps| caps.kind != ValueKind::Boolean)
                .map(|caps| {
                    let entry = PropertyIndex {
                        collection: caps.kind == ValueKind::TextCollection,
                        postings: Postings::new(),
                    };
                    (caps.name, entry)
                })
                .collect(),
        };
        for (position, object) in objects.iter().enumerate() {
            index.add(position, object);
        }
        index
    }

    /// Records `object` at `position`.
    pub fn add(&mut self, position: usize, object: &Value) {
        for (name, entry) in &mut self.properties {
            for key in keys(object, name, entry.collection) {
                insert_sorted(entry.postings.entry(fold(key)).or_default(), position);
            }
        }
    }

    /// Forgets `object`, which was recorded at `position`.
    pub fn remove(&mut self, position: usize, object: &Value) {
        for (name, entry) in &mut self.properties {
            for key in keys(object, name, entry.collection) {
                let key = fold(key);
                if let Some(list) = entry.postings.get_mut(&key) {
                    if let Ok(at) = list.binary_search(&position) {
                        list.remove(at);
                    }
                    if list.is_empty() {
                        entry.postings.remove(&key);
                    }
                }
            }
        }
    }

    fn entry(&self, target: &Target, lambda: Option<&str>) -> Option<&PropertyIndex> {
        let (name, collection) = match target {
            Target::Property(name) => (name.as_str(), false),
            Target::Variable => (lambda?, true),
        };
        self.properties
            .get(name)
            .filter(|entry| entry.collection == collection)
    }

    fn equal(entry: &PropertyIndex, want: &str) -> Vec<usize> {
        entry.postings.get(&fold(want)).cloned().unwrap_or_default()
    }

    fn prefixed(entry: &PropertyIndex, want: &str) -> Vec<usize> {
        let prefix = fold(want);
        union(
            entry
                .postings
                .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                .take_while(|(key, _)| key.starts_with(prefix.as_str()))
                .map(|(_, list)| list.as_slice()),
        )
    }

    /// The positions that may satisfy `filter`, ascending; `None` when the filter has no
    /// indexed way in and every object must be evaluated. OR needs every child indexed
    /// (union); AND takes its smallest indexed child.
    pub fn candidates(&self, filter: &Filter) -> Candidates {
        self.narrow(filter, None)
    }

    /// `lambda` is the collection an enclosing `any` ranges over (the range variable's index).
    fn narrow(&self, filter: &Filter, lambda: Option<&str>) -> Candidates {
        match filter {
            Filter::Or(children) => {
                let lists = children
                    .iter()
                    .map(|c| self.narrow(c, lambda))
                    .collect::<Option<Vec<_>>>()?;
                Some(union(lists.iter().map(Vec::as_slice)))
            }
            Filter::And(children) => children
                .iter()
                .filter_map(|c| self.narrow(c, lambda))
                .min_by_key(Vec::len),
            Filter::Compare {
                target,
                op: CompareOp::Eq,
                value: Literal::Text(want),
            } => Some(Self::equal(self.entry(target, lambda)?, want)),
            Filter::In { target, values } => {
                let entry = self.entry(target, lambda)?;
                let lists = values
                    .iter()
                    .map(|v| match v {
                        Literal::Text(want) => Some(Self::equal(entry, want)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(union(lists.iter().map(Vec::as_slice)))
            }
            Filter::Function {
                function: StringFunction::StartsWith,
                target,
                value: Literal::Text(want),
            } => Some(Self::prefixed(self.entry(target, lambda)?, want)),
            Filter::Any {
                collection,
                body: Some(body),
            } => {
                self.properties
                    .get(collection.as_str())
                    .filter(|entry| entry.collection)?;
                self.narrow(body, Some(collection))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::delta::Directory;
    use super::super::odata::{matches, parse};
    use super::super::resource::USERS;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn scan(objects: &[Value], filter: &Filter) -> Vec<usize> {
        (0..objects.len())
            .filter(|&i| matches(filter, &objects[i]))
            .collect()
    }

    fn indexed(index: &Index, objects: &[Value], filter: &Filter) -> Vec<usize> {
        match index.candidates(filter) {
            Some(candidates) => candidates
                .into_iter()
                .filter(|&i| matches(filter, &objects[i]))
                .collect(),
            None => scan(objects, filter),
        }
    }

    fn people() -> Vec<Value> {
        vec![
            json!({"id": "A1", "displayName": "user0123", "mail": "User0123@Example.com",
                   "businessPhones": ["+1 425 555 0100", 7], "mobilePhone": "+1 206 555 0100"}),
            json!({"id": "a2", "DisplayName": "User01234", "mail": null,
                   "businessPhones": "+1 425 555 0101"}),
            json!({"id": "a3", "displayName": ["user0123"], "surname": "ÖZTÜRK",
                   "businessPhones": []}),
            json!({"id": "a4", "displayName": "İpek", "givenName": "Straße"}),
        ]
    }

    #[test]
    fn narrows_the_benchmark_clauses() {
        let objects = people();
        let index = Index::build(&USERS, &objects);
        let cands = |text: &str| index.candidates(&parse(text).unwrap());
        assert_eq!(
            cands("startsWith(displayName,'USER0123')"),
            Some(vec![0, 1])
        );
        assert_eq!(cands("mail eq 'user0123@example.COM'"), Some(vec![0]));
        assert_eq!(cands("id in ('a1','A3','zz')"), Some(vec![0, 2]));
        assert_eq!(
            cands("businessPhones/any(p:startsWith(p,'+1 425'))"),
            Some(vec![0])
        );
        assert_eq!(cands("surname eq 'öztürk'"), Some(vec![2]));
        assert_eq!(cands("startsWith(displayName,'i̇')"), Some(vec![3]));
        assert_eq!(
            cands("accountEnabled eq true and (startsWith(displayName,'user') or mail eq 'x')"),
            Some(vec![0, 1])
        );
        assert_eq!(
            cands("startsWith(displayName,'u') and id eq 'a2'"),
            Some(vec![1])
        );
        // Not indexed: every object is evaluated.
        assert_eq!(cands("accountEnabled eq true"), None);
        assert_eq!(cands("mail eq null"), None);
        assert_eq!(cands("startsWith(DISPLAYNAME,'u')"), None);
        assert_eq!(cands("not(mail eq 'x')"), None);
        assert_eq!(
            cands("startsWith(displayName,'u') or endsWith(mail,'m')"),
            None
        );
    }

    #[test]
    fn follows_changes() {
        let mut objects = people();
        let mut index = Index::build(&USERS, &objects);
        let filter = parse("startsWith(displayName,'user')").unwrap();
        index.remove(0, &objects[0]);
        objects[0] = json!({"id": "A1", "displayName": "someone"});
        index.add(0, &objects[0]);
        objects.push(json!({"id": "a5", "displayName": "user9"}));
        index.add(4, &objects[4]);
        assert_eq!(index.candidates(&filter), Some(vec![1, 4]));
        assert_eq!(indexed(&index, &objects, &filter), scan(&objects, &filter));
    }

    // ------------------------------------------------------------ equality with the scan

    const NAMES: &[&str] = &[
        "id",
        "displayName",
        "DisplayName",
        "mail",
        "surname",
        "businessPhones",
        "mobilePhone",
        "otherMails",
        "accountEnabled",
    ];
    const WORDS: &[&str] = &[
        "a", "A", "ab", "aB", "b", "İ", "i̇", "ß", "SS", " a", "", "Σ", "ς",
    ];

    fn word() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(WORDS), 0..3).prop_map(|w| w.concat())
    }

    /// A messy property value: strings, nulls, numbers, booleans, arrays of mixed items.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => word().prop_map(Value::String),
            1 => Just(Value::Null),
            1 => Just(json!(7)),
            1 => any::<bool>().prop_map(Value::Bool),
            3 => prop::collection::vec(
                prop_oneof![3 => word().prop_map(Value::String), 1 => Just(json!(1))],
                0..3
            )
            .prop_map(Value::Array),
        ]
    }

    fn object() -> impl Strategy<Value = Value> {
        prop::collection::vec((prop::sample::select(NAMES), value()), 0..7).prop_map(|pairs| {
            Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        })
    }

    fn literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            6 => word().prop_map(Literal::Text),
            1 => Just(Literal::Null),
            1 => any::<bool>().prop_map(Literal::Boolean),
        ]
    }

    fn target(in_lambda: bool) -> BoxedStrategy<Target> {
        let property = prop::sample::select(NAMES).prop_map(|n| Target::Property(n.to_string()));
        if in_lambda {
            prop_oneof![2 => Just(Target::Variable), 1 => property].boxed()
        } else {
            property.boxed()
        }
    }

    fn op() -> impl Strategy<Value = CompareOp> {
        prop_oneof![
            4 => Just(CompareOp::Eq),
            1 => Just(CompareOp::Ne),
            1 => Just(CompareOp::Ge),
        ]
    }

    fn function() -> impl Strategy<Value = StringFunction> {
        prop_oneof![
            4 => Just(StringFunction::StartsWith),
            1 => Just(StringFunction::EndsWith),
            1 => Just(StringFunction::Contains),
        ]
    }

    fn leaf(in_lambda: bool) -> BoxedStrategy<Filter> {
        prop_oneof![
            (target(in_lambda), op(), literal()).prop_map(|(target, op, value)| Filter::Compare {
                target,
                op,
                value
            }),
            (target(in_lambda), prop::collection::vec(literal(), 1..4))
                .prop_map(|(target, values)| Filter::In { target, values }),
            (function(), target(in_lambda), literal()).prop_map(|(function, target, value)| {
                Filter::Function {
                    function,
                    target,
                    value,
                }
            }),
        ]
        .boxed()
    }

    fn tree(leaves: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
        leaves
            .prop_recursive(3, 12, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 1..4).prop_map(Filter::Or),
                    prop::collection::vec(inner.clone(), 1..4).prop_map(Filter::And),
                    inner.prop_map(|f| Filter::Not(Box::new(f))),
                ]
            })
            .boxed()
    }

    fn filter() -> BoxedStrategy<Filter> {
        let lambda = (
            prop::sample::select(NAMES),
            prop::option::weighted(0.9, tree(leaf(true))),
        )
            .prop_map(|(collection, body)| Filter::Any {
                collection: collection.to_string(),
                body: body.map(Box::new),
            });
        tree(prop_oneof![3 => leaf(false), 1 => lambda].boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the filter and however messy the objects, the indexed answer is the scan's.
        #[test]
        fn indexed_answers_equal_the_scan(
            objects in prop::collection::vec(object(), 0..12),
            filter in filter(),
        ) {
            let index = Index::build(&USERS, &objects);
            prop_assert_eq!(indexed(&index, &objects, &filter), scan(&objects, &filter));
        }

        /// The directory keeps its index in step through upserts (replacing or adding) and
        /// deletes: its answers stay the scan's, in tenant order.
        #[test]
        fn the_directory_keeps_its_index_in_step(
            start in prop::collection::vec(object(), 0..8),
            changes in prop::collection::vec(
                (prop::sample::select(&["u1", "U1", "u2", "u3", "u9"][..]), prop::option::of(object())),
                1..10,
            ),
            filter in filter(),
        ) {
            let with_id = |mut o: Value, id: &str| {
                o["id"] = json!(id);
                o
            };
            let start: Vec<Value> = start
                .into_iter()
                .enumerate()
                .map(|(i, o)| with_id(o, &format!("u{i}")))
                .collect();
            let mut directory = Directory::new(start, Vec::new());
            for (id, change) in changes {
                match change {
                    Some(o) => {
                        directory.upsert(true, with_id(o, id));
                    }
                    None => {
                        directory.delete(true, id);
                    }
                }
                let objects = directory.objects(&USERS).to_vec();
                let want: Vec<&Value> = scan(&objects, &filter).into_iter().map(|i| &objects[i]).collect();
                prop_assert_eq!(directory.matching(&USERS, Some(&filter)), want);
            }
        }
    }
}
