//! Search execution: resolves base and scope on the tree, runs each collection's pushdown
//! plan through the Graph client (coalesced and briefly cached), maps and re-checks the
//! entries with the full filter, and orders them (CONTRACT §8). It does not encode PDUs.

mod cache_weight;
pub mod graph_error;
pub mod membership;
pub mod order;
pub mod phone_index;
pub mod phone_sync;
mod results;

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ldap3_proto::LdapResultCode;
use ldap3_proto::proto::{LdapFilter, LdapSearchScope};
use tokio::time::Instant;

use self::membership::{GroupReach, GroupSettings, VisibleCache};
use self::order::OrderKey;
use crate::directory::Collection;
use crate::directory::entry::Entry;
use crate::directory::filter::{MatchContext, Tri, evaluate};
use crate::directory::group::{self, Memberships};
use crate::directory::mapping::Mapping;
use crate::directory::mapping::Source;
use crate::directory::needed::Needed;
use crate::directory::phone::{PhoneMatch, PhoneRules};
use crate::directory::schema;
use crate::directory::tree::{Target, Tree};
use crate::error::LdapError;
use crate::graph::{GraphClient, GraphError, GraphRequest};
use crate::metrics::SearchMetrics;
use crate::translate::{GraphQuery, PhoneAssertion, PushdownPlan};
use crate::translate::{TranslateContext, plan_collection};
use phone_index::PhoneIndex;
use phone_sync::{IndexStatus, PhoneSync, SharedIndex};

/// Settings the executor needs, taken from the configuration.
#[derive(Debug, Clone)]
pub struct SearchSettings {
    pub user_filter: String,
    pub include_contacts: bool,
    pub strict_substrings: bool,
    pub page_size: u32,
    /// Graph objects fetched per collection query before adminLimitExceeded (11).
    pub max_scan: u32,
    /// Contacts fetched by a query Graph cannot narrow (phone lookups).
    pub contact_scan_limit: u32,
    /// Cache lifetime of a Graph query's result; zero keeps only in-flight coalescing.
    pub cache_ttl: Duration,
    /// Share one Graph request among identical searches in flight (and the cache).
    pub coalesce: bool,
    /// `[search] cache_max_bytes`: most approximate bytes the cached answers hold.
    pub cache_max_bytes: u64,
    /// `[phone] index`: keep the phone index of CONTRACT §7.
    pub phone_index: bool,
    /// `[phone] index_refresh_secs`: how often the index follows its delta links.
    pub index_refresh: Duration,
    /// `[groups]` (CONTRACT §9).
    pub groups: GroupSettings,
}

/// How `Directory::plan_with_index` answers a phone item: `Some(Ok(ids))` candidates,
/// `Some(Err(why))` spelling pushdown for that reason, `None` no index at all.
pub type IndexAnswer<'a> =
    dyn Fn(&Source, PhoneAssertion<'_>) -> Option<Result<Vec<String>, String>> + 'a;

/// Most candidate ids a phone item takes from the index; beyond it the spelling pushdown
/// answers (reading that many objects by id costs more requests than it saves).
pub const MAX_INDEX_CANDIDATES: usize = 1000;

/// Aborts the index refresher when the directory goes away.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The fetched Graph objects of one query (all pages up to the scan bound).
type Fetched = Arc<Vec<serde_json::Value>>;

/// The answer cache: entries live `ttl` and weigh their approximate bytes, `max_bytes` in
/// all (moka evicts the least used beyond it; an answer heavier than that is not kept).
fn answer_cache(ttl: Duration, max_bytes: u64) -> moka::future::Cache<GraphQuery, Fetched> {
    // moka needs a non-zero lifetime; a millisecond keeps in-flight coalescing only.
    moka::future::Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|q: &GraphQuery, objects: &Fetched| cache_weight::answer_bytes(q, objects))
        .time_to_live(ttl.max(Duration::from_millis(1)))
        .build()
}

/// Shared state of every session: tree, mapping, Graph client, query cache.
pub struct Directory {
    pub tree: Tree,
    pub mapping: Mapping,
    pub phone: PhoneRules,
    pub settings: SearchSettings,
    graph: GraphClient,
    cache: moka::future::Cache<GraphQuery, Fetched>,
    /// Finished searches' entries (None with the cache or coalescing off).
    results: Option<results::ResultCache>,
    /// The phone index (None with `[phone] index = false`).
    phone_index: Option<Arc<SharedIndex>>,
    phone_sync: OnceLock<AbortOnDrop>,
    metrics: SearchMetrics,
    /// What `[graph] visible_groups` lets through, briefly cached.
    visible: VisibleCache,
}

/// What a base and scope reach: the fixed entries in scope, and the collections to ask
/// Graph, each with the object key of a search based on one entry.
pub struct Coverage {
    pub fixed: Vec<Entry>,
    pub collections: Vec<(Collection, Option<String>)>,
    /// The groups reached (CONTRACT §9; `Nothing` unless `[groups] enabled`).
    pub groups: GroupReach,
}

/// One search as the executor sees it.
pub struct SearchParams<'a> {
    pub base: &'a str,
    pub scope: LdapSearchScope,
    pub filter: &'a LdapFilter,
    /// When the operation must end (time limit).
    pub deadline: Instant,
    /// The sort control's keys (RFC 2891); `None` orders by CONTRACT §8's default.
    pub order: Option<&'a [OrderKey]>,
    /// The entries carry `memberOf` (the attribute list names it or asks for `+`).
    pub member_of: bool,
    /// The request's attribute list (RFC 4511 §4.5.1.8): only the attributes it returns,
    /// the filter tests and the order compares are mapped (`Needed`); empty is all.
    pub attributes: &'a [String],
}

/// Entries of a search, in the order asked for (`SearchParams::order`, else CONTRACT §8),
/// plus a result to report after them when the search could not complete (time limit).
pub struct SearchOutput {
    pub entries: Vec<Entry>,
    pub incomplete: Option<LdapError>,
}

impl Directory {
    pub fn new(
        tree: Tree,
        mapping: Mapping,
        phone: PhoneRules,
        settings: SearchSettings,
        graph: GraphClient,
    ) -> Self {
        // The Graph answers and the finished results share `cache_max_bytes`, half each.
        let half = (settings.cache_max_bytes / 2).max(1);
        let cache = answer_cache(settings.cache_ttl, half);
        let results = settings
            .coalesce
            .then(|| results::ResultCache::new(settings.cache_ttl, half))
            .flatten();
        let phone_index = settings.phone_index.then(SharedIndex::new);
        Directory {
            tree,
            mapping,
            phone,
            settings,
            graph,
            cache,
            results,
            phone_index,
            phone_sync: OnceLock::new(),
            metrics: SearchMetrics::default(),
            visible: VisibleCache::default(),
        }
    }

    /// Counts cache hits, coalescing and the phone index into `metrics`.
    pub fn recording(mut self, metrics: SearchMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The collections a search may reach.
    fn collections(&self) -> Vec<Collection> {
        let mut all = vec![Collection::Users];
        if self.settings.include_contacts {
            all.push(Collection::Contacts);
        }
        all
    }

    /// Starts loading and refreshing the phone index in the background (needs a Tokio
    /// runtime); does nothing when the index is off or already started.
    pub fn start_phone_index(&self) {
        let Some(shared) = &self.phone_index else {
            return;
        };
        if self.phone_sync.get().is_some() {
            return;
        }
        let (rules, mapping, collections) =
            (self.phone.clone(), self.mapping.clone(), self.collections());
        let sync = PhoneSync {
            shared: shared.clone(),
            graph: self.graph.clone(),
            empty: Box::new(move || PhoneIndex::new(rules.clone(), &mapping, &collections)),
            refresh: self.settings.index_refresh,
            request_timeout: self.graph.request_timeout(),
            metrics: self.metrics.clone(),
        };
        let task = tokio::spawn(sync.run());
        let _ = self.phone_sync.set(AbortOnDrop(task.abort_handle()));
    }

    /// Waits until the phone index is ready (true) or `timeout` passes; false at once
    /// when the index is off.
    pub async fn phone_index_ready(&self, timeout: Duration) -> bool {
        match &self.phone_index {
            Some(ix) => ix.wait_ready(timeout).await,
            None => false,
        }
    }

    /// The index's state as a sentence, for logs and `explain`.
    pub fn phone_index_status(&self) -> String {
        let Some(ix) = &self.phone_index else {
            return "off ([phone] index = false)".to_string();
        };
        match ix.status() {
            IndexStatus::Loading => "loading".to_string(),
            IndexStatus::Ready => {
                let size = ix.size();
                format!(
                    "ready ({} numbers of {} objects)",
                    size.numbers, size.objects
                )
            }
            IndexStatus::Resyncing(why) => format!("reloading after a refused delta token ({why})"),
            IndexStatus::Stale(why) => format!("stale, refreshes failing ({why})"),
        }
    }

    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    fn match_context<'a>(&'a self, memberships: Option<&'a Memberships>) -> MatchContext<'a> {
        MatchContext {
            phone: &self.phone,
            mapping: &self.mapping,
            memberships,
        }
    }

    /// True when `f` holds for `e` (Undefined and False both exclude).
    pub fn matches(&self, f: &LdapFilter, e: &Entry) -> bool {
        evaluate(f, e, &self.match_context(None)) == Tri::True
    }

    /// `matches` with the search's resolved `memberOf` sets (CONTRACT §9).
    fn matches_in(&self, f: &LdapFilter, e: &Entry, memberships: &Memberships) -> bool {
        evaluate(f, e, &self.match_context(Some(memberships))) == Tri::True
    }

    /// The Graph plan for one collection, as `explain` shows it. Phone items take their
    /// candidates from the phone index when it is ready (CONTRACT §7).
    pub fn plan(&self, filter: &LdapFilter, c: Collection, key: Option<&str>) -> PushdownPlan {
        let status = self.phone_index.as_ref().map(|ix| ix.status());
        self.plan_with_index(filter, c, key, &|source, assertion| {
            let ix = self.phone_index.as_ref()?;
            Some(
                match ix.with_ready(|index| index.lookup(c, source, assertion)) {
                    Some(Some(ids)) if ids.len() > MAX_INDEX_CANDIDATES => Err(format!(
                        "{} candidates, more than {MAX_INDEX_CANDIDATES}: spelling pushdown",
                        ids.len()
                    )),
                    Some(Some(ids)) => Ok(ids),
                    Some(None) => Err("this source is not indexed: spelling pushdown".to_string()),
                    None => Err(match &status {
                        Some(IndexStatus::Loading) => {
                            "the index is still loading: spelling pushdown".to_string()
                        }
                        Some(IndexStatus::Resyncing(_)) => {
                            "the index is reloading after a refused delta token: spelling pushdown"
                                .to_string()
                        }
                        Some(IndexStatus::Stale(_)) => {
                            "the index is stale (refreshes failing): spelling pushdown".to_string()
                        }
                        _ => "the index is not ready: spelling pushdown".to_string(),
                    }),
                },
            )
        })
    }

    /// The plan with phone items answered by `lookup`: `Some(Ok(ids))` the candidates,
    /// `Some(Err(why))` spelling pushdown for that reason, `None` no index at all. Every
    /// phone item's path is noted in the plan for `explain`.
    pub fn plan_with_index(
        &self,
        filter: &LdapFilter,
        c: Collection,
        key: Option<&str>,
        lookup: &IndexAnswer<'_>,
    ) -> PushdownPlan {
        let variants = |v: &str| self.phone.spelling_variants(v);
        let notes = RefCell::new(Vec::new());
        let index = |coll: Collection, source: &Source, a: PhoneAssertion<'_>| {
            let item = phone_item_text(source, a);
            match lookup(source, a) {
                None => {
                    notes
                        .borrow_mut()
                        .push(format!("{item}: [phone] index = false: spelling pushdown"));
                    None
                }
                Some(Err(why)) => {
                    notes.borrow_mut().push(format!("{item}: {why}"));
                    None
                }
                Some(Ok(ids)) => {
                    notes.borrow_mut().push(format!(
                        "{item}: {} candidate id(s) from the phone index of {}, read live by id",
                        ids.len(),
                        coll.graph_path()
                    ));
                    Some(ids)
                }
            }
        };
        let ctx = TranslateContext {
            mapping: &self.mapping,
            user_filter: &self.settings.user_filter,
            strict_substrings: self.settings.strict_substrings,
            phone_e164: self.phone.mode == PhoneMatch::E164,
            phone_variants: &variants,
            phone_index: &index,
            page_size: self.settings.page_size,
        };
        let mut plan = plan_collection(filter, c, key, &ctx);
        plan.phone_index = notes.into_inner();
        plan
    }

    /// Which collections a base and scope reach, with the object key for a base-scope
    /// search on one entry, and the fixed entries in scope.
    pub fn coverage(&self, base: &str, scope: LdapSearchScope) -> Result<Coverage, LdapError> {
        let mut fixed = Vec::new();
        let mut collections = Vec::new();
        let mut groups = GroupReach::Nothing;
        let groups_on = self.settings.groups.enabled;
        let all_groups = if groups_on {
            GroupReach::All
        } else {
            GroupReach::Nothing
        };
        let mut collections_all = vec![Collection::Users];
        if self.settings.include_contacts {
            collections_all.push(Collection::Contacts);
        }
        let ou_entries = |fixed: &mut Vec<Entry>| {
            for c in &collections_all {
                fixed.push(self.tree.ou_entry(*c));
            }
            if groups_on {
                fixed.push(self.tree.groups_ou_entry());
            }
        };
        match self.tree.resolve(base) {
            Target::RootDse => match scope {
                LdapSearchScope::Base => {}
                LdapSearchScope::OneLevel => fixed.push(self.tree.base_entry()),
                LdapSearchScope::Subtree | LdapSearchScope::Children => {
                    fixed.push(self.tree.base_entry());
                    ou_entries(&mut fixed);
                    collections = collections_all.iter().map(|c| (*c, None)).collect();
                    groups = all_groups.clone();
                }
            },
            Target::Subschema => {
                if matches!(scope, LdapSearchScope::Base | LdapSearchScope::Subtree) {
                    fixed.push(schema::subschema_entry(&|at| self.mapping.knows(at)));
                }
            }
            Target::Base => match scope {
                LdapSearchScope::Base => fixed.push(self.tree.base_entry()),
                LdapSearchScope::OneLevel => ou_entries(&mut fixed),
                LdapSearchScope::Subtree | LdapSearchScope::Children => {
                    if scope == LdapSearchScope::Subtree {
                        fixed.push(self.tree.base_entry());
                    }
                    ou_entries(&mut fixed);
                    collections = collections_all.iter().map(|c| (*c, None)).collect();
                    groups = all_groups.clone();
                }
            },
            Target::OrgUnit(c) => {
                if c == Collection::Contacts && !self.settings.include_contacts {
                    return Err(no_such_object(base));
                }
                match scope {
                    LdapSearchScope::Base => fixed.push(self.tree.ou_entry(c)),
                    LdapSearchScope::Subtree => {
                        fixed.push(self.tree.ou_entry(c));
                        collections.push((c, None));
                    }
                    LdapSearchScope::OneLevel | LdapSearchScope::Children => {
                        collections.push((c, None))
                    }
                }
            }
            Target::Object(c, key) => {
                if c == Collection::Contacts && !self.settings.include_contacts {
                    return Err(no_such_object(base));
                }
                match scope {
                    LdapSearchScope::Base | LdapSearchScope::Subtree => {
                        collections.push((c, Some(key)))
                    }
                    // Leaf entries have no children; the base must still exist.
                    LdapSearchScope::OneLevel | LdapSearchScope::Children => {
                        collections.push((c, Some(key)))
                    }
                }
            }
            Target::GroupsOu if groups_on => match scope {
                LdapSearchScope::Base => fixed.push(self.tree.groups_ou_entry()),
                LdapSearchScope::Subtree => {
                    fixed.push(self.tree.groups_ou_entry());
                    groups = GroupReach::All;
                }
                LdapSearchScope::OneLevel | LdapSearchScope::Children => groups = GroupReach::All,
            },
            Target::Group(key) if groups_on => groups = GroupReach::One(key),
            Target::GroupsOu | Target::Group(_) | Target::NoSuchObject => {
                return Err(no_such_object(base));
            }
        }
        Ok(Coverage {
            fixed,
            collections,
            groups,
        })
    }

    /// The phone index's generation (0 without an index): a cached result planned on
    /// another one is not reused.
    fn index_generation(&self) -> u64 {
        self.phone_index.as_ref().map_or(0, |ix| ix.generation())
    }

    /// Runs a search: the matching entries in the order asked for (else CONTRACT §8's).
    /// An identical search finished within `cache_ttl` (on the same phone index) is
    /// answered from the result cache.
    pub async fn search(&self, p: &SearchParams<'_>) -> Result<SearchOutput, LdapError> {
        let Some(results) = &self.results else {
            return self.run_search(p).await;
        };
        let key = results::ResultKey::of(p);
        let generation = self.index_generation();
        if let Some(entries) = results.get(&key, generation) {
            self.metrics.result_hit();
            return Ok(SearchOutput {
                entries,
                incomplete: None,
            });
        }
        let out = self.run_search(p).await?;
        // Only a complete answer planned on the index still current is kept.
        if out.incomplete.is_none() && self.index_generation() == generation {
            results.insert(key, generation, &out.entries);
        }
        Ok(out)
    }

    /// A search from Graph (through the Graph answer cache).
    async fn run_search(&self, p: &SearchParams<'_>) -> Result<SearchOutput, LdapError> {
        let Coverage {
            fixed,
            collections,
            groups,
        } = self.coverage(p.base, p.scope.clone())?;
        let leaf_scope = matches!(
            p.scope,
            LdapSearchScope::OneLevel | LdapSearchScope::Children
        );
        // CONTRACT §9: each asserted group is resolved once for the whole search.
        let (mut memberships, required) = self.resolve_memberships(p.filter, p.deadline).await?;
        // CONTRACT §9: with `visible_groups`, nothing else exists, on every path.
        let visible = self.visible_ids(p.deadline).await?;
        let shown = |id: &str| {
            visible
                .as_ref()
                .is_none_or(|v| v.contains(&id.to_lowercase()))
        };
        let mut entries: Vec<Entry> = fixed
            .into_iter()
            .filter(|e| self.matches_in(p.filter, e, &memberships))
            .collect();
        let mut incomplete = None;
        // CONTRACT §9: memberOf items the member sets do not answer (`(memberOf=*)`…) see the
        // candidates' real values, read for those the rest of the filter leaves undecided.
        let before_member_of = (self.settings.groups.enabled
            && group::needs_member_of_values(p.filter))
        .then(|| group::without_member_of_values(p.filter));
        let mut undecided = Vec::new();
        // The sort control's keys, else CONTRACT §8's order: what the entries are sorted by,
        // and so also what they need mapped.
        let default_order = [order::default_key(p.filter)];
        let order_keys = p.order.unwrap_or(&default_order);
        let order_types: Vec<_> = order_keys.iter().map(|k| k.attr).collect();
        let needed = Needed::of(p.attributes, p.filter, &order_types);
        // Every collection's plan first, so that all their Graph reads run at once: a
        // search's latency is its slowest request, not the sum of them.
        let plans: Vec<(Collection, bool, PushdownPlan)> = collections
            .into_iter()
            .map(|(c, key)| {
                let base_object = key.is_some();
                // A base-scope read must find the object even when the filter fails, to
                // tell noSuchObject from "no match"; the key query is the same request
                // either way.
                let plan = if base_object {
                    self.plan(
                        &LdapFilter::Present("objectClass".into()),
                        c,
                        key.as_deref(),
                    )
                } else {
                    self.plan(required.collection_filter(p.filter), c, None)
                };
                (c, base_object, plan)
            })
            .collect();
        // A search every match of which is a member of one of some groups (or, in a union,
        // matches the other alternatives of their OR) reads those groups' member lists with
        // the user part pushed down, never all of /users (CONTRACT §9).
        let sources: Vec<_> = plans
            .iter()
            .map(|(c, base_object, plan)| self.candidate_sources(&required, plan, *c, *base_object))
            .collect();
        let reads = sources
            .iter()
            .zip(&plans)
            .flat_map(|(sources, (c, _, plan))| {
                let limit = if plan.unbounded && *c == Collection::Contacts {
                    ScanBound {
                        objects: self.settings.contact_scan_limit,
                        key: "contact_scan_limit",
                    }
                } else {
                    ScanBound {
                        objects: self.settings.max_scan,
                        key: "max_scan",
                    }
                };
                sources.iter().map(move |(q, via_group)| async move {
                    match via_group {
                        Some((id, assertion)) => {
                            self.fetch_members_like(q, id, assertion.nested, p.deadline)
                                .await
                        }
                        None => self.fetch(q, limit, p.deadline).await,
                    }
                })
            });
        let mut fetched = futures_util::future::join_all(reads).await.into_iter();
        for ((c, base_object, _), sources) in plans.iter().zip(&sources) {
            let (c, base_object) = (*c, *base_object);
            // Every list is read (and its member set recorded) before any entry is
            // checked, so that a membership is known wherever the filter asks about it.
            let mut batches = Vec::new();
            let mut timed_out = false;
            for (_, via_group) in sources {
                // One result per read, in the order the reads were made.
                let Some(result) = fetched.next() else { break };
                if timed_out {
                    continue;
                }
                let objects = match result {
                    Ok(o) => o,
                    // CONTRACT §6: timeLimitExceeded after the entries already found, so
                    // the pages read before the time limit passed are still answered.
                    Err(f) if f.error.code == LdapResultCode::TimeLimitExceeded => {
                        incomplete = Some(f.error);
                        timed_out = true;
                        f.partial
                    }
                    Err(f) => return Err(f.error),
                };
                if let Some((_, assertion)) = via_group {
                    memberships.insert(
                        &assertion.group_dn,
                        assertion.nested,
                        membership::ids_of(&objects),
                    );
                }
                batches.push(objects);
            }
            let mut seen = HashSet::new();
            let mut found_base = false;
            for obj in batches.iter().flat_map(|b| b.iter()) {
                let id = obj.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                if !seen.insert(id) || !shown(id) {
                    continue;
                }
                let Some(entry) = self.mapping.to_entry(c, obj, &self.tree, &needed) else {
                    continue;
                };
                if base_object {
                    if !self.tree.is_dn_match(&entry.dn, p.base) {
                        continue;
                    }
                    found_base = true;
                    if leaf_scope {
                        continue;
                    }
                }
                match self.check_before_member_of(
                    before_member_of.as_ref(),
                    p.filter,
                    &entry,
                    &memberships,
                ) {
                    Tri::True => entries.push(entry),
                    Tri::Undefined if before_member_of.is_some() => undecided.push(entry),
                    _ => {}
                }
            }
            if base_object && !found_base && incomplete.is_none() {
                return Err(no_such_object(p.base));
            }
        }
        // Past the time limit the undecided are left out, as the pages not read.
        if incomplete.is_some() {
            undecided.clear();
        }
        let decided = self
            .decide_with_member_of(
                undecided,
                p.filter,
                &memberships,
                visible.as_deref(),
                p.deadline,
            )
            .await?;
        // Groups carry no memberOf: a search that requires one reads no group, nor one
        // whose filter no group can match (`(objectClass=person)`…).
        let groups = match groups {
            GroupReach::All
                if required.only_members() || !self.groups_may_match(p.filter, &memberships) =>
            {
                GroupReach::Nothing
            }
            other => other,
        };
        let group_entries = self
            .group_entries(&groups, p.filter, visible.as_deref(), p.deadline)
            .await?;
        if matches!(groups, GroupReach::One(_)) && group_entries.is_empty() {
            return Err(no_such_object(p.base));
        }
        if !(matches!(groups, GroupReach::One(_)) && leaf_scope) {
            entries.extend(
                group_entries
                    .into_iter()
                    .filter(|e| self.matches_in(p.filter, e, &memberships)),
            );
        }
        if p.member_of {
            self.add_member_of(&mut entries, visible.as_deref(), p.deadline)
                .await?;
        }
        // Already carrying their memberOf values.
        entries.extend(decided);
        order::sort_entries(&mut entries, order_keys);
        Ok(SearchOutput {
            entries,
            incomplete,
        })
    }

    /// All objects of a query, following nextLink up to `limit`, coalesced and cached.
    async fn fetch(
        &self,
        q: &GraphQuery,
        limit: ScanBound,
        deadline: Instant,
    ) -> Result<Fetched, FetchFailure> {
        if !self.settings.coalesce {
            self.metrics.graph_fetch();
            return fetch_all(&self.graph, q, limit, deadline)
                .await
                .map_err(|e| self.fetch_error(&q.display_decoded(), &e));
        }
        let graph = self.graph.clone();
        let query = q.clone();
        let cached = self.cache.contains_key(q);
        let fetched = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ran = fetched.clone();
        let result = self
            .cache
            .try_get_with(q.clone(), async move {
                ran.store(true, std::sync::atomic::Ordering::Relaxed);
                fetch_all(&graph, &query, limit, deadline).await
            })
            .await;
        match (fetched.load(std::sync::atomic::Ordering::Relaxed), cached) {
            (true, _) => self.metrics.graph_fetch(),
            (false, true) => self.metrics.cache_hit(),
            (false, false) => self.metrics.coalesced(),
        }
        result.map_err(|e| self.fetch_error(&q.display_decoded(), e.as_ref()))
    }

    /// The LDAP result of a failed fetch of the request `shown`.
    fn fetch_error(&self, shown: &str, e: &FetchError) -> FetchFailure {
        let partial = match e {
            FetchError::TimedOut { partial, .. } => partial.clone(),
            _ => Arc::default(),
        };
        let error = match e {
            FetchError::Graph(g) | FetchError::TimedOut { error: g, .. } => {
                graph_error::ldap_error(g)
            }
            FetchError::ScanLimit(bound) => LdapError::new(
                LdapResultCode::AdminLimitExceeded,
                format!(
                    "the search would read more than {} Graph objects ({}); narrow the filter \
                     (for example a name prefix) or raise [search] {}",
                    bound.objects, shown, bound.key
                ),
            ),
        };
        FetchFailure { error, partial }
    }
}

/// Why a query's objects could not all be fetched, with the objects of the pages read
/// before the time limit passed (empty for every other failure).
struct FetchFailure {
    error: LdapError,
    partial: Fetched,
}

/// How many Graph objects one query may read, and the setting that says so.
#[derive(Debug, Clone, Copy)]
struct ScanBound {
    objects: u32,
    key: &'static str,
}

#[derive(Debug)]
enum FetchError {
    Graph(GraphError),
    ScanLimit(ScanBound),
    /// The time limit passed after some pages were read; `partial` holds their objects.
    TimedOut {
        error: GraphError,
        partial: Fetched,
    },
}

async fn fetch_all(
    graph: &GraphClient,
    q: &GraphQuery,
    limit: ScanBound,
    deadline: Instant,
) -> Result<Fetched, FetchError> {
    fetch_request(graph, &GraphRequest::from(q), limit, deadline).await
}

/// All objects of a request, following nextLink up to `limit`.
async fn fetch_request(
    graph: &GraphClient,
    q: &GraphRequest,
    limit: ScanBound,
    deadline: Instant,
) -> Result<Fetched, FetchError> {
    let mut page = graph
        .first_page(q, deadline)
        .await
        .map_err(FetchError::Graph)?;
    let mut out = std::mem::take(&mut page.items);
    while let Some(next) = page.next_link.take() {
        if out.len() >= limit.objects as usize {
            return Err(FetchError::ScanLimit(limit));
        }
        page = match graph.next_page(&next, q, deadline).await {
            Ok(page) => page,
            Err(error @ GraphError::Timeout(_)) => {
                return Err(FetchError::TimedOut {
                    error,
                    partial: Arc::new(out),
                });
            }
            Err(e) => return Err(FetchError::Graph(e)),
        };
        out.append(&mut page.items);
    }
    if out.len() > limit.objects as usize {
        return Err(FetchError::ScanLimit(limit));
    }
    Ok(Arc::new(out))
}

/// A phone item as `explain` names it: the Graph source and the assertion.
fn phone_item_text(source: &Source, a: PhoneAssertion<'_>) -> String {
    let s = match source {
        Source::Property(p) => p.clone(),
        Source::ContactPhone(kind) => format!("phones:{kind}"),
        other => format!("{other:?}"),
    };
    match a {
        PhoneAssertion::Equality(v) => format!("{s} = {v}"),
        PhoneAssertion::Substring(sub) => {
            let mut t = format!("{s} = ");
            if let Some(i) = &sub.initial {
                t.push_str(i);
            }
            t.push('*');
            for x in &sub.any {
                t.push_str(x);
                t.push('*');
            }
            if let Some(f) = &sub.final_ {
                t.push_str(f);
            }
            t
        }
    }
}

/// The translator's query as the Graph client sends it.
impl From<&GraphQuery> for GraphRequest {
    fn from(q: &GraphQuery) -> GraphRequest {
        GraphRequest {
            path_and_query: q.path_and_query(),
            headers: q.headers(),
            shown: q.display_decoded(),
        }
    }
}

fn no_such_object(base: &str) -> LdapError {
    LdapError::new(
        LdapResultCode::NoSuchObject,
        format!("no entry named \"{base}\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(n: usize) -> GraphQuery {
        GraphQuery {
            collection: Collection::Users,
            filter: Some(format!("startsWith(displayName,'user{n:05}')")),
            search: None,
            select: vec!["id".into(), "displayName".into()],
            orderby: None,
            top: Some(999),
            consistency_eventual: false,
            count: false,
        }
    }

    /// An answer of `objects` users of about 200 JSON bytes each.
    fn answer(n: usize, objects: usize) -> Fetched {
        Arc::new(
            (0..objects)
                .map(|i| {
                    serde_json::json!({
                        "id": format!("00000000-0000-4000-8000-{n:06}{i:06}"),
                        "displayName": format!("user{n:05} {i}"),
                        "businessPhones": ["+1 425 555 0100"],
                        "mail": format!("user{n:05}.{i}@example.com"),
                    })
                })
                .collect(),
        )
    }

    #[tokio::test]
    async fn a_cache_of_x_bytes_never_holds_more_than_x() {
        const MAX: u64 = 256 * 1024;
        let cache = answer_cache(Duration::from_secs(60), MAX);
        let one = u64::from(cache_weight::answer_bytes(&query(0), &answer(0, 50)));
        assert!(
            one > 5_000 && one < MAX / 10,
            "an answer of 50 users weighs {one} bytes"
        );
        for n in 0..200 {
            cache.insert(query(n), answer(n, 50)).await;
            // moka applies its bound in its maintenance pass; after each one it holds.
            cache.run_pending_tasks().await;
            let held: u64 = cache
                .iter()
                .map(|(q, a)| u64::from(cache_weight::answer_bytes(&q, &a)))
                .sum();
            assert!(held <= MAX, "{held} bytes held after {n} answers");
            assert!(cache.weighted_size() <= MAX);
        }
        // It is full, not empty: the bound evicts, it does not refuse everything.
        assert!(cache.entry_count() >= MAX / one / 2);
        // An answer heavier than the whole cache is not kept.
        cache.insert(query(999), answer(999, 2_000)).await;
        cache.run_pending_tasks().await;
        assert!(!cache.contains_key(&query(999)));
    }
}
