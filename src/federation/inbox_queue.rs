//! Between accepting and applying an activity. The inbox hands each verified activity to the
//! **writer**, which stores everything waiting in one transaction (group commit) and answers
//! each handler once it is committed: only then does the sender get its 202, so an accepted
//! activity survives a crash. The insert on the activity id is also the de-duplication.
//! The **worker** claims queued activities under a lease (several processes may share a
//! PostgreSQL database), applies them with `receive::activity`, each actor's in arrival order
//! and different actors concurrently, retries temporary failures a few times with backoff and
//! records permanent ones. Handled rows keep only their id, for a week.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::Any;
use tokio::sync::{mpsc, oneshot, watch, Notify};

use super::actors::KeyCache;
use super::inbox_rate::HostLimiter;
use super::protocol::{id_of, type_of};
use super::receive;
use crate::db::inbox::{self as queue, Claimed, Finish, NewInboxActivity};
use crate::db::{self, Backend, Store};
use crate::domain::now_ms;
use crate::domain::social::RemoteActor;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::server::AppState;

/// Activities stored in one transaction at most.
const MAX_BATCH: usize = 512;
/// Handlers that may wait for the writer at once before `store` waits for room.
const CHANNEL_CAPACITY: usize = 4096;
/// Activities claimed at once.
const CLAIM_LIMIT: i64 = 256;
/// Actors whose activities are applied at the same time on PostgreSQL (fewer when the pool
/// is small: two connections stay for the writer and everything else). SQLite writes one
/// transaction at a time, so there the worker applies one activity at a time and the writer
/// waits for at most one.
const CONCURRENCY: usize = 8;
/// How long a claim holds its rows; renewed every third of that while the worker applies
/// them. A process that dies holding a lease on PostgreSQL delays those activities by at
/// most this much; on SQLite leases are freed at start-up.
const LEASE_MS: i64 = 30_000;
/// Longest time one activity may take to apply; a slower one counts as a temporary failure.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts before an activity that keeps failing temporarily is set aside.
pub const MAX_ATTEMPTS: i64 = 5;
/// Handled ids are kept this long for de-duplication.
pub const KEEP_IDS_MS: i64 = 7 * 24 * 3600 * 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const PRUNE_BATCH: i64 = 5_000;

/// Whether a stored activity was new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    New,
    /// Its id was known: nothing was stored.
    Duplicate,
}

struct Pending {
    activity: NewInboxActivity,
    reply: oneshot::Sender<std::result::Result<bool, ()>>,
}

/// The inbox's state in a process: key cache, rate limiter, writer channel, worker wake-up.
pub struct InboxState {
    /// Parsed keys of remote signers.
    pub keys: KeyCache,
    /// Requests per remote instance.
    pub limiter: HostLimiter,
    sender: mpsc::Sender<Pending>,
    receiver: Mutex<Option<mpsc::Receiver<Pending>>>,
    writer_running: AtomicBool,
    /// Wakes the worker after new activities were committed.
    pub wake: Notify,
}

impl Default for InboxState {
    fn default() -> Self {
        Self::new()
    }
}

impl InboxState {
    pub fn new() -> InboxState {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        InboxState {
            keys: KeyCache::new(10_000, Duration::from_secs(3600)),
            limiter: HostLimiter::new(10_000),
            sender,
            receiver: Mutex::new(Some(receiver)),
            writer_running: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Waits for the turn to write, on SQLite (the inbox's writer and worker queue for the
    /// database's single write lock with the other contending writers, in order, instead of
    /// polling with `busy_timeout`'s growing sleeps); PostgreSQL needs no turn.
    async fn sqlite_gate<'a>(&self, store: &'a Store) -> Option<tokio::sync::MutexGuard<'a, ()>> {
        store.write_turn().await
    }

    /// Stores a verified activity durably; returns once it is committed. Goes through the
    /// writer while it runs, else (not started, or stopped) in a transaction of its own.
    pub async fn store(&self, store: &Store, activity: NewInboxActivity) -> Result<Stored> {
        let mut activity = activity;
        if self.writer_running.load(Ordering::Acquire) {
            let (reply, answer) = oneshot::channel();
            match self.sender.send(Pending { activity, reply }).await {
                Ok(()) => {
                    return match answer.await {
                        Ok(Ok(new)) => Ok(stored(new)),
                        Ok(Err(())) => Err(Error::internal(anyhow::anyhow!(
                            "the inbox queue could not store the activity"
                        ))),
                        Err(_) => Err(Error::internal(anyhow::anyhow!("the inbox writer stopped"))),
                    };
                }
                Err(mpsc::error::SendError(back)) => activity = back.activity,
            }
        }
        let gate = self.sqlite_gate(store).await;
        let new = insert_all(store, &[&activity]).await?[0];
        drop(gate);
        if new {
            self.wake.notify_one();
        }
        Ok(stored(new))
    }
}

fn stored(new: bool) -> Stored {
    if new {
        Stored::New
    } else {
        Stored::Duplicate
    }
}

/// One transaction for all `rows`; whether each was new.
async fn insert_all(store: &Store, rows: &[&NewInboxActivity]) -> Result<Vec<bool>> {
    let mut tx = store.begin().await?;
    let new = queue::insert(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(new)
}

/// Starts the writer and the worker; both stop when `shutdown` turns true.
pub fn start(state: AppState, shutdown: watch::Receiver<bool>) {
    let receiver = state
        .federation
        .inbox
        .receiver
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(receiver) = receiver {
        state
            .federation
            .inbox
            .writer_running
            .store(true, Ordering::Release);
        tokio::spawn(writer(state.clone(), receiver, shutdown.clone()));
    }
    tokio::spawn(worker(state, shutdown));
}

/// Stores what handlers hand over, everything waiting in one transaction.
async fn writer(
    state: AppState,
    mut receiver: mpsc::Receiver<Pending>,
    mut shutdown: watch::Receiver<bool>,
) {
    let inbox = &state.federation.inbox;
    // The writer keeps a connection of its own (unless the pool is tiny), so accepting never
    // waits for the pool behind the worker.
    let mut conn = Connection::new(state.settings.db_max_connections >= 4);
    loop {
        let first = tokio::select! {
            m = receiver.recv() => m,
            _ = shutdown.changed() => None,
        };
        let Some(first) = first else { break };
        write_batch(&state, &mut conn, first, &mut receiver).await;
    }
    // Handlers that come later store their activity themselves; what is already waiting is
    // written here.
    inbox.writer_running.store(false, Ordering::Release);
    receiver.close();
    while let Some(first) = receiver.recv().await {
        write_batch(&state, &mut conn, first, &mut receiver).await;
    }
}

/// The writer's connection: kept between batches when `dedicated`, replaced after an error.
struct Connection {
    dedicated: bool,
    conn: Option<PoolConnection<Any>>,
}

impl Connection {
    fn new(dedicated: bool) -> Connection {
        Connection {
            dedicated,
            conn: None,
        }
    }

    /// Stores `rows` in one committed transaction.
    async fn insert(&mut self, store: &Store, rows: &[&NewInboxActivity]) -> Result<Vec<bool>> {
        if !self.dedicated {
            return insert_all(store, rows).await;
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(store.pool().acquire().await?),
        };
        let result = queue::insert_committed(conn, store.backend(), rows).await;
        if result.is_err() {
            // It may be broken: the next batch takes a fresh one.
            self.conn = None;
        }
        result
    }
}

async fn write_batch(
    state: &AppState,
    conn: &mut Connection,
    first: Pending,
    receiver: &mut mpsc::Receiver<Pending>,
) {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
    let rows: Vec<&NewInboxActivity> = batch.iter().map(|p| &p.activity).collect();
    let inbox = &state.federation.inbox;
    let gate = inbox.sqlite_gate(&state.store).await;
    let results = match conn.insert(&state.store, &rows).await {
        Ok(new) => new.into_iter().map(Ok).collect(),
        Err(e) if batch.len() > 1 => {
            // One row must not sink the others: each in a transaction of its own.
            tracing::warn!(error = %e, rows = batch.len(), "inbox batch failed, storing one by one");
            let mut results = Vec::with_capacity(batch.len());
            for row in &rows {
                results.push(match conn.insert(&state.store, &[*row]).await {
                    Ok(new) => Ok(new[0]),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not store an incoming activity");
                        Err(())
                    }
                });
            }
            results
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not store an incoming activity");
            vec![Err(())]
        }
    };
    drop(gate);
    if results.contains(&Ok(true)) {
        inbox.wake.notify_one();
    }
    for (p, r) in batch.into_iter().zip(results) {
        // A handler that gave up waiting is not an error: the row is stored all the same.
        let _ = p.reply.send(r);
    }
}

/// Applies queued activities until `shutdown` turns true.
async fn worker(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let owner = uuid::Uuid::now_v7().to_string();
    if state.store.backend() == Backend::Sqlite {
        // One process per SQLite file: any lease is left over from a process that died.
        match queue::free_all_leases(&state.store).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                "inbox: took back activities claimed before a restart"
            ),
            Err(e) => tracing::warn!(error = %e, "inbox: could not free old leases"),
        }
    }
    let mut next_prune = tokio::time::Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if tokio::time::Instant::now() >= next_prune {
            prune(&state).await;
            next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
        }
        let now = now_ms();
        let gate = state.federation.inbox.sqlite_gate(&state.store).await;
        let claimed = queue::claim(&state.store, &owner, now, now + LEASE_MS, CLAIM_LIMIT).await;
        drop(gate);
        match claimed {
            Ok(batch) if !batch.is_empty() => {
                let full = batch.len() as i64 == CLAIM_LIMIT;
                let renew = async {
                    loop {
                        tokio::time::sleep(Duration::from_millis(LEASE_MS as u64 / 3)).await;
                        let until = now_ms() + LEASE_MS;
                        if let Err(e) = queue::renew(&state.store, &owner, until).await {
                            tracing::warn!(error = %e, "inbox worker could not renew its lease");
                        }
                    }
                };
                tokio::select! {
                    _ = apply_batch(&state, &owner, batch, &shutdown) => {}
                    _ = renew => {}
                }
                if full {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "inbox worker could not claim activities"),
        }
        tokio::select! {
            _ = state.federation.inbox.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Deletes handled rows older than a week, a bounded number per call.
async fn prune(state: &AppState) {
    let before = now_ms() - KEEP_IDS_MS;
    for _ in 0..100 {
        let gate = state.federation.inbox.sqlite_gate(&state.store).await;
        let pruned = queue::prune(&state.store, before, PRUNE_BATCH).await;
        drop(gate);
        match pruned {
            Ok(n) if n == PRUNE_BATCH as u64 => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "inbox: could not prune handled activities");
                return;
            }
        }
    }
}

/// Applies a claimed batch: actors concurrently, each actor's activities in order.
async fn apply_batch(
    state: &AppState,
    owner: &str,
    batch: Vec<Claimed>,
    shutdown: &watch::Receiver<bool>,
) {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut by_actor: Vec<Vec<Claimed>> = Vec::new();
    for row in batch {
        let i = *index.entry(row.actor.clone()).or_insert_with(|| {
            by_actor.push(Vec::new());
            by_actor.len() - 1
        });
        by_actor[i].push(row);
    }
    let concurrency = match state.store.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => {
            let spare = (state.settings.db_max_connections as usize).saturating_sub(2);
            CONCURRENCY.min(spare.max(1))
        }
    };
    stream::iter(by_actor)
        .for_each_concurrent(concurrency, |rows| async move {
            if let Err(e) = apply_actor(state, owner, rows, shutdown).await {
                tracing::warn!(error = %e, "inbox worker bookkeeping failed");
            }
        })
        .await;
}

/// One actor's claimed activities, in order. Stops (giving the rest back) when an activity
/// must wait for a retry, at shutdown, or when the database fails.
async fn apply_actor(
    state: &AppState,
    owner: &str,
    rows: Vec<Claimed>,
    shutdown: &watch::Receiver<bool>,
) -> Result<()> {
    let mut signer: Option<Option<RemoteActor>> = None;
    for (i, row) in rows.iter().enumerate() {
        let next = if *shutdown.borrow() {
            Ok(Next::Stop)
        } else {
            apply_row(state, owner, row, &mut signer).await
        };
        let rest = match next {
            Ok(Next::Continue) => continue,
            Ok(Next::Stop) => &rows[i..],
            Ok(Next::Wait) => &rows[i + 1..],
            Err(e) => {
                let seqs: Vec<i64> = rows[i..].iter().map(|r| r.seq).collect();
                let _ = queue::release(&state.store, owner, &seqs).await;
                return Err(e);
            }
        };
        let seqs: Vec<i64> = rest.iter().map(|r| r.seq).collect();
        return queue::release(&state.store, owner, &seqs).await;
    }
    Ok(())
}

/// What `apply_actor` does after a row.
enum Next {
    Continue,
    /// This row was not handled; give it and the rest back.
    Stop,
    /// This row waits for a retry; give the rest back.
    Wait,
}

/// Applies one row and records the outcome. `signer` is the actor as loaded for the previous
/// row (`None`: not loaded yet).
async fn apply_row(
    state: &AppState,
    owner: &str,
    row: &Claimed,
    signer: &mut Option<Option<RemoteActor>>,
) -> Result<Next> {
    let metrics = &state.federation.metrics;
    if signer.is_none() {
        *signer = Some(db::remote_actors::by_id(&state.store, &row.actor).await?);
    }
    // Applying may fetch from other servers and take its own turn to write (an order does):
    // the turn is taken only for recording the outcome.
    let applied = apply_one(state, signer.as_ref().and_then(Option::as_ref), row).await;
    let now = now_ms();
    let host = host_of(&row.actor);
    let finish = match &applied {
        Ok(kind) => {
            Metrics::inc(&metrics.inbox_processed);
            if kind.changes_actor {
                // The signer changed or is gone: forget its keys, read it again.
                state.federation.inbox.keys.forget_actor(&row.actor);
                *signer = None;
            }
            Finish::Done
        }
        Err(e) if is_temporary(e) && row.attempts + 1 < MAX_ATTEMPTS => {
            tracing::debug!(host = %host, attempt = row.attempts + 1, error = %e, "inbox: activity failed, will retry");
            Finish::Retry {
                error: &e.message,
                retry_at: now + retry_delay_ms(row.attempts + 1),
            }
        }
        Err(e) => {
            Metrics::inc(&metrics.inbox_failed);
            if is_temporary(e) {
                tracing::info!(host = %host, attempts = row.attempts + 1, error = %e, "inbox: activity set aside after repeated failures");
                Finish::GiveUp { error: &e.message }
            } else {
                tracing::info!(host = %host, error = %e.message, "inbox: activity refused");
                Finish::Refused { error: &e.message }
            }
        }
    };
    let retry = matches!(finish, Finish::Retry { .. });
    let gate = state.federation.inbox.sqlite_gate(&state.store).await;
    let finished = queue::finish(&state.store, row.seq, owner, now, finish).await?;
    drop(gate);
    if !finished {
        tracing::warn!(host = %host, "inbox: a lease ran out while its activity was being applied");
    }
    // Later activities of this actor wait for a retried one.
    Ok(if retry { Next::Wait } else { Next::Continue })
}

/// What an applied activity was, as far as the worker cares.
struct Applied {
    /// An Update or Delete of the actor itself.
    changes_actor: bool,
}

async fn apply_one(
    state: &AppState,
    signer: Option<&RemoteActor>,
    row: &Claimed,
) -> Result<Applied> {
    let Some(signer) = signer else {
        return Err(Error::not_found_msg("the actor is no longer known here"));
    };
    let activity: Value = serde_json::from_str(&row.body)
        .map_err(|_| Error::bad_request("the stored activity is not JSON"))?;
    match tokio::time::timeout(APPLY_TIMEOUT, receive::activity(state, signer, &activity)).await {
        Ok(Ok(())) => Ok(Applied {
            changes_actor: matches!(type_of(&activity), Some("Update" | "Delete"))
                && activity.get("object").and_then(id_of) == Some(signer.id.as_str()),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::bad_gateway("applying the activity took too long")),
    }
}

/// Temporary failures are tried again: another server or our database had a problem.
/// The sender's mistakes (forbidden, unknown, malformed) are not.
fn is_temporary(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::BadGateway | ErrorKind::Internal | ErrorKind::RateLimited
    )
}

/// Wait before the next attempt after `failed` failed attempts: 1 s, 4 s, 16 s, 64 s.
pub fn retry_delay_ms(failed: i64) -> i64 {
    1000 << (2 * (failed.clamp(1, 8) - 1))
}

/// `host[:port]` of an actor id, for logs (never the whole id).
fn host_of(actor: &str) -> String {
    url::Url::parse(actor)
        .ok()
        .and_then(|u| super::fetch::authority(&u))
        .unwrap_or_default()
}
