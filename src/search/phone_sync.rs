//! Keeps the phone index current (CONTRACT §7, GRAPH.md §10a): one full delta round per
//! collection at start, then the delta link every `index_refresh_secs`; a refused delta
//! token starts a full round again. Owns the index's readiness; it builds no LDAP answer
//! and keeps nothing on disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::phone_index::{IndexSize, PhoneIndex};
use crate::directory::Collection;
use crate::graph::{GraphClient, GraphError};
use crate::metrics::SearchMetrics;
use crate::translate::odata::encode_query_value;

/// Whether lookups may use the index, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexStatus {
    /// The first full round is running.
    Loading,
    /// Complete as of the last refresh.
    Ready,
    /// A delta token was refused; a full round is running again.
    Resyncing(String),
    /// Refreshes have failed for longer than `STALE_AFTER_REFRESHES` intervals.
    Stale(String),
}

/// A refresh that failed this many intervals in a row makes the index stale: its
/// answers would no longer honour the `index_refresh_secs` bound.
const STALE_AFTER_REFRESHES: u32 = 3;
/// Each delta page gets this many request timeouts (the client retries within it).
const PAGE_TIMEOUTS: u32 = 3;

struct State {
    index: Option<PhoneIndex>,
    status: IndexStatus,
}

/// The index shared by every search and the refresher.
pub struct SharedIndex {
    state: RwLock<State>,
    ready: watch::Sender<bool>,
    /// Counts the index's changes (loads, applied delta pages, status changes), so a cached
    /// search result planned on an older index is told apart (`search::results`).
    generation: AtomicU64,
}

impl SharedIndex {
    pub fn new() -> Arc<Self> {
        let (ready, _) = watch::channel(false);
        Arc::new(SharedIndex {
            state: RwLock::new(State {
                index: None,
                status: IndexStatus::Loading,
            }),
            ready,
            generation: AtomicU64::new(0),
        })
    }

    /// The number of changes made to the index so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The index to change; the change counts as a new generation once it is made (the
    /// guard is dropped), so a search that planned on the old index sees the count move.
    fn write(&self) -> Changing<'_> {
        Changing {
            state: self
                .state
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            generation: &self.generation,
        }
    }

    pub fn status(&self) -> IndexStatus {
        self.read().status.clone()
    }

    pub fn size(&self) -> IndexSize {
        self.read()
            .index
            .as_ref()
            .map(PhoneIndex::size)
            .unwrap_or_default()
    }

    /// Runs `f` on the index when it is ready, else returns `None`.
    pub fn with_ready<T>(&self, f: impl FnOnce(&PhoneIndex) -> T) -> Option<T> {
        let s = self.read();
        match (&s.status, &s.index) {
            (IndexStatus::Ready, Some(ix)) => Some(f(ix)),
            _ => None,
        }
    }

    /// Waits until the index is ready or `timeout` passes; true when ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.ready.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn set_status(&self, status: IndexStatus) {
        let ready = status == IndexStatus::Ready;
        self.write().status = status;
        self.ready.send_replace(ready);
    }
}

/// Write access to the index that counts a generation when released.
struct Changing<'a> {
    state: std::sync::RwLockWriteGuard<'a, State>,
    generation: &'a AtomicU64,
}

impl std::ops::Deref for Changing<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for Changing<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// The refresher: what it reads and how often.
pub struct PhoneSync {
    pub shared: Arc<SharedIndex>,
    pub graph: GraphClient,
    /// Builds an empty index (the same sources and rules each round).
    pub empty: Box<dyn Fn() -> PhoneIndex + Send + Sync>,
    pub refresh: Duration,
    pub request_timeout: Duration,
    pub metrics: SearchMetrics,
}

/// Why a round stopped.
enum RoundError {
    /// Graph refused the delta token: only a full round helps (GRAPH.md §10a).
    TokenRefused(String),
    Other(String),
}

impl From<GraphError> for RoundError {
    fn from(e: GraphError) -> Self {
        match &e {
            // 410 Gone: synchronization reset; 400 syncStateNotFound: expired token.
            GraphError::Rejected { status, code, .. }
                if *status == 410 || code.eq_ignore_ascii_case("syncStateNotFound") =>
            {
                RoundError::TokenRefused(e.to_string())
            }
            _ => RoundError::Other(e.to_string()),
        }
    }
}

impl PhoneSync {
    fn deadline(&self) -> Instant {
        Instant::now() + self.request_timeout * PAGE_TIMEOUTS
    }

    /// One full delta round of every indexed collection into a fresh index.
    async fn full_round(&self) -> Result<(PhoneIndex, Vec<(Collection, String)>), RoundError> {
        let mut index = (self.empty)();
        let mut links = Vec::new();
        for c in index.collections() {
            let select = index.select(c).join(",");
            let path = format!(
                "/v1.0/{}/delta?$select={}",
                c.graph_path(),
                encode_query_value(&select)
            );
            let mut page = self.graph.get_path(&path, self.deadline()).await?;
            loop {
                for obj in &page.items {
                    index.apply(c, obj);
                }
                if let Some(next) = page.next_link.take() {
                    page = self.graph.follow_link(&next, self.deadline()).await?;
                    continue;
                }
                match page.delta_link.take() {
                    Some(delta) => links.push((c, delta)),
                    None => {
                        return Err(RoundError::Other(format!(
                            "the last page of {path} has no @odata.deltaLink"
                        )));
                    }
                }
                break;
            }
        }
        Ok((index, links))
    }

    /// Follows each delta link, applying the changes to the live index page by page.
    async fn delta_round(&self, links: &mut [(Collection, String)]) -> Result<usize, RoundError> {
        let mut changed = 0;
        for (c, link) in links.iter_mut() {
            let mut page = self.graph.follow_link(link, self.deadline()).await?;
            loop {
                changed += page.items.len();
                if page.items.is_empty() {
                    // Nothing changed: cached results stay valid.
                } else if let Some(ix) = self.shared.write().index.as_mut() {
                    for obj in &page.items {
                        ix.apply(*c, obj);
                    }
                }
                if let Some(next) = page.next_link.take() {
                    page = self.graph.follow_link(&next, self.deadline()).await?;
                    continue;
                }
                match page.delta_link.take() {
                    Some(delta) => *link = delta,
                    None => {
                        return Err(RoundError::Other(
                            "a delta page without @odata.nextLink has no @odata.deltaLink"
                                .to_string(),
                        ));
                    }
                }
                break;
            }
        }
        Ok(changed)
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        loop {
            let started = Instant::now();
            let mut links = match self.full_round().await {
                Ok((index, links)) => {
                    let size = index.size();
                    {
                        let mut s = self.shared.write();
                        s.index = Some(index);
                    }
                    self.shared.set_status(IndexStatus::Ready);
                    (self.metrics).phone_index_refreshed(size.objects, size.numbers);
                    tracing::info!(
                        objects = size.objects,
                        numbers = size.numbers,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "phone index loaded"
                    );
                    links
                }
                Err(RoundError::TokenRefused(e) | RoundError::Other(e)) => {
                    tracing::warn!(error = %e, "phone index load failed; phone searches use spelling pushdown until it succeeds");
                    tokio::time::sleep(self.refresh).await;
                    continue;
                }
            };
            let mut failures = 0u32;
            loop {
                tokio::time::sleep(self.refresh).await;
                match self.delta_round(&mut links).await {
                    Ok(changed) => {
                        failures = 0;
                        let size = self.shared.size();
                        (self.metrics).phone_index_refreshed(size.objects, size.numbers);
                        if self.shared.status() != IndexStatus::Ready {
                            self.shared.set_status(IndexStatus::Ready);
                        }
                        if changed > 0 {
                            tracing::debug!(changed, "phone index refreshed");
                        }
                    }
                    Err(RoundError::TokenRefused(e)) => {
                        tracing::warn!(error = %e, "phone index: delta token refused; reading every number again");
                        self.shared.set_status(IndexStatus::Resyncing(e));
                        break;
                    }
                    Err(RoundError::Other(e)) => {
                        failures += 1;
                        tracing::warn!(error = %e, failures, "phone index refresh failed");
                        if failures >= STALE_AFTER_REFRESHES {
                            self.shared.set_status(IndexStatus::Stale(e));
                        }
                    }
                }
            }
        }
    }
}
