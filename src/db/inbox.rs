//! The durable inbox queue (`inbox_queue`): verified activities stored before the inbox
//! answers 202 (the insert on the activity id is also the de-duplication), claimed under a
//! lease by the inbox worker, each actor's in arrival order, and kept as bare ids for a week
//! after they were handled.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection, Row};

use super::{dialect, Backend, Store, Tx};
use crate::error::Result;

/// A verified activity as the inbox stores it.
#[derive(Clone, Debug)]
pub struct NewInboxActivity {
    pub activity_id: String,
    /// The verified signer, which is the activity's actor.
    pub actor: String,
    /// The request body as received (JSON text).
    pub body: String,
    pub received_at: i64,
}

/// Rows per INSERT statement (four parameters each; both databases allow far more).
const INSERT_CHUNK: usize = 250;

/// Stores activities in the caller's transaction; for each, whether it was new (`false`: its
/// id was already known, or came earlier in `rows`). One multi-row `INSERT … ON CONFLICT DO
/// NOTHING RETURNING activity_id` per chunk: the ids returned are the new ones.
pub async fn insert(tx: &mut Tx, rows: &[&NewInboxActivity]) -> Result<Vec<bool>> {
    insert_on(tx, rows).await
}

/// [`insert`] in one write transaction of its own on `conn` (a connection the caller keeps,
/// so it never waits for the pool), committed before it returns.
pub async fn insert_committed(
    conn: &mut PoolConnection<Any>,
    backend: Backend,
    rows: &[&NewInboxActivity],
) -> Result<Vec<bool>> {
    let mut tx = match dialect::begin_write(backend) {
        Some(statement) => conn.begin_with(statement).await?,
        None => conn.begin().await?,
    };
    let new = insert_on(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(new)
}

async fn insert_on(conn: &mut AnyConnection, rows: &[&NewInboxActivity]) -> Result<Vec<bool>> {
    let mut new = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        let values = (0..chunk.len())
            .map(|i| {
                let p = 4 * i;
                format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO inbox_queue (activity_id, actor, body, received_at) VALUES {values} \
             ON CONFLICT DO NOTHING RETURNING activity_id"
        );
        let mut q = sqlx::query(&sql);
        for a in chunk {
            q = q
                .bind(&a.activity_id)
                .bind(&a.actor)
                .bind(&a.body)
                .bind(a.received_at);
        }
        let inserted = q.fetch_all(&mut *conn).await?;
        let mut fresh = std::collections::HashSet::with_capacity(inserted.len());
        for r in &inserted {
            fresh.insert(r.try_get::<String, _>(0)?);
        }
        // The first of several equal ids in one chunk is the one inserted.
        new.extend(chunk.iter().map(|a| fresh.remove(&a.activity_id)));
    }
    Ok(new)
}

/// A queued activity claimed by a worker.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub seq: i64,
    pub activity_id: String,
    pub actor: String,
    pub body: String,
    /// Earlier attempts that failed temporarily.
    pub attempts: i64,
}

/// Serialises claims between processes sharing one PostgreSQL database (any constant works,
/// as long as every process uses the same one).
const CLAIM_LOCK: i64 = 0x6665_6469_6e62_6f78; // "fedinbox"

/// Leases up to `limit` queued activities to `owner` until `lease_until`, oldest first. An
/// actor's activities are skipped while one of them is leased (being applied) or waiting for a
/// retry, so one actor's activities are applied in the order they arrived, even across
/// processes. The result is in arrival order.
pub async fn claim(
    store: &Store,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Claimed>> {
    // The repeated `lease_until > 0 OR next_attempt_at > 0` lets both databases use the small
    // partial index `inbox_queue_busy`.
    const CANDIDATES: &str = "SELECT q.seq FROM inbox_queue q \
        WHERE q.state = 'queued' AND q.next_attempt_at <= $3 AND q.lease_until <= $3 \
        AND q.actor NOT IN (SELECT b.actor FROM inbox_queue b WHERE b.state = 'queued' \
            AND (b.lease_until > 0 OR b.next_attempt_at > 0) \
            AND (b.lease_until > $3 OR b.next_attempt_at > $3)) \
        ORDER BY q.seq LIMIT $4";
    let sql = |lock: &str| {
        format!(
            "UPDATE inbox_queue SET lease_owner = $1, lease_until = $2 \
             WHERE seq IN ({CANDIDATES}{lock}) \
             RETURNING seq, activity_id, actor, body, attempts"
        )
    };
    fn bind<'q>(
        sql: &'q str,
        owner: &'q str,
        lease_until: i64,
        now: i64,
        limit: i64,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        sqlx::query(sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
    }
    let rows = match store.backend() {
        // One process per SQLite file, one claiming worker in it: a single statement.
        Backend::Sqlite => {
            bind(&sql(""), owner, lease_until, now, limit)
                .fetch_all(store.pool())
                .await?
        }
        // Claims wait for each other (the advisory lock), so a claim sees the leases of the
        // one before it and cannot take a later activity of an actor that another process is
        // applying; rows locked by a finishing worker are skipped rather than waited for.
        Backend::Postgres => {
            let mut tx = store.pool().begin().await?;
            relaxed_commit(&mut tx).await?;
            sqlx::query(&format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK})"))
                .execute(&mut *tx)
                .await?;
            let rows = bind(
                &sql(" FOR UPDATE SKIP LOCKED"),
                owner,
                lease_until,
                now,
                limit,
            )
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows
        }
    };
    let mut claimed = rows
        .iter()
        .map(|r| {
            Ok(Claimed {
                seq: r.try_get("seq")?,
                activity_id: r.try_get("activity_id")?,
                actor: r.try_get("actor")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    claimed.sort_by_key(|c| c.seq);
    Ok(claimed)
}

/// Bookkeeping of the worker (leases, outcomes) on PostgreSQL does not wait for its WAL to
/// reach the disk (about 3 ms per commit on the reference machine, more than applying an
/// activity). Only a crash of PostgreSQL itself can lose such a commit, and losing one only
/// means an activity is claimed, or applied, once more. Accepting activities stays fully
/// durable.
async fn relaxed_commit(tx: &mut Tx) -> Result<()> {
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// How handling a claimed activity ended.
#[derive(Clone, Copy, Debug)]
pub enum Finish<'a> {
    /// Applied: only the id stays, for de-duplication.
    Done,
    /// Refused for good (the sender broke a rule); only the id and the reason stay.
    Refused { error: &'a str },
    /// A temporary failure: tried again at `retry_at`.
    Retry { error: &'a str, retry_at: i64 },
    /// Temporary failures too many times: set aside with its body, so an operator can queue it
    /// again (`UPDATE inbox_queue SET state = 'queued' WHERE …`).
    GiveUp { error: &'a str },
}

/// Records the outcome of one attempt by `owner`. `false` when the lease was no longer
/// `owner`'s (it expired and another worker took the row).
pub async fn finish(
    store: &Store,
    seq: i64,
    owner: &str,
    now: i64,
    outcome: Finish<'_>,
) -> Result<bool> {
    // $3 is a time, $4 the error (NULL when done).
    let (set, time, error) = match outcome {
        Finish::Done => ("state = 'done', body = '', processed_at = $3", now, None),
        Finish::Refused { error } => (
            "state = 'failed', body = '', processed_at = $3",
            now,
            Some(error),
        ),
        Finish::Retry { error, retry_at } => ("next_attempt_at = $3", retry_at, Some(error)),
        Finish::GiveUp { error } => ("state = 'failed', processed_at = $3", now, Some(error)),
    };
    let sql = format!(
        "UPDATE inbox_queue SET {set}, attempts = attempts + 1, last_error = $4, \
         lease_owner = NULL, lease_until = 0 WHERE seq = $1 AND lease_owner = $2"
    );
    let q = sqlx::query(&sql)
        .bind(seq)
        .bind(owner)
        .bind(time)
        .bind(error);
    let affected = match store.backend() {
        Backend::Sqlite => q.execute(store.pool()).await?.rows_affected(),
        Backend::Postgres => {
            let mut tx = store.pool().begin().await?;
            relaxed_commit(&mut tx).await?;
            let n = q.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            n
        }
    };
    Ok(affected > 0)
}

/// Extends every lease `owner` holds to `lease_until` (the worker is still applying them).
pub async fn renew(store: &Store, owner: &str, lease_until: i64) -> Result<()> {
    sqlx::query(
        "UPDATE inbox_queue SET lease_until = $2 WHERE state = 'queued' AND lease_owner = $1",
    )
    .bind(owner)
    .bind(lease_until)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Gives claimed rows back untouched (the worker is stopping or ran out of lease time).
pub async fn release(store: &Store, owner: &str, seqs: &[i64]) -> Result<()> {
    for chunk in seqs.chunks(500) {
        let sql = format!(
            "UPDATE inbox_queue SET lease_owner = NULL, lease_until = 0 \
             WHERE lease_owner = $1 AND seq IN ({})",
            super::placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(owner);
        for seq in chunk {
            q = q.bind(*seq);
        }
        q.execute(store.pool()).await?;
    }
    Ok(())
}

/// Frees every lease. Only for SQLite at start-up: one process owns the file, so a lease left
/// behind belongs to a process that died.
pub async fn free_all_leases(store: &Store) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE inbox_queue SET lease_owner = NULL, lease_until = 0 \
         WHERE state = 'queued' AND (lease_owner IS NOT NULL OR lease_until <> 0)",
    )
    .execute(store.pool())
    .await?;
    Ok(r.rows_affected())
}

/// Deletes up to `limit` handled rows received before `before` (their ids are no longer
/// needed for de-duplication). Queued rows are never deleted.
pub async fn prune(store: &Store, before: i64, limit: i64) -> Result<u64> {
    let r = sqlx::query(
        "DELETE FROM inbox_queue WHERE seq IN (SELECT seq FROM inbox_queue \
         WHERE received_at < $1 AND state <> 'queued' ORDER BY received_at LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(store.pool())
    .await?;
    Ok(r.rows_affected())
}

/// Activities accepted but not yet applied, and the arrival time (epoch ms) of the oldest.
pub async fn inbox_queue_depth(store: &Store) -> Result<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM inbox_queue \
         WHERE state = 'queued'",
    )
    .fetch_one(store.pool())
    .await?;
    Ok((row.try_get("n")?, row.try_get("oldest")?))
}

/// What became of one received activity (for tests and the admin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxEntry {
    /// `queued`, `done` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Whether the body is still stored (queued, or set aside after temporary failures).
    pub has_body: bool,
}

pub async fn entry(store: &Store, activity_id: &str) -> Result<Option<InboxEntry>> {
    let row = sqlx::query(
        "SELECT state, attempts, last_error, CAST(LENGTH(body) AS BIGINT) AS body_len \
         FROM inbox_queue WHERE activity_id = $1",
    )
    .bind(activity_id)
    .fetch_optional(store.pool())
    .await?;
    row.map(|r| {
        let body_len: i64 = r.try_get("body_len")?;
        Ok(InboxEntry {
            state: r.try_get("state")?,
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
            has_body: body_len > 0,
        })
    })
    .transpose()
}
