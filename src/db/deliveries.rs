//! The outbound delivery queue: one row per (activity, inbox), written in the transaction that
//! stores the activity. Workers claim due rows with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several processes share the queue), send them, and record the outcomes in
//! batches. Delivered rows are deleted; rows that failed for good stay for the admin.
//! Deliveries about one object to one inbox are claimed strictly in the order they were
//! queued, so Create, Update and Delete arrive in order.

use sqlx::Row;

use super::{dialect, Backend, Store, Tx};
use crate::error::Result;

/// Rows per multi-row INSERT (8 values each, well under both databases' limits).
const INSERT_CHUNK: usize = 500;
/// Ids per `IN (…)` list when recording outcomes.
const ID_CHUNK: usize = 500;

/// One delivery to queue.
pub struct NewDelivery<'a> {
    pub inbox: &'a str,
    /// URL authority of the inbox (`host` or `host:port`), lowercase.
    pub host: &'a str,
}

/// Queues deliveries of one activity, in the caller's transaction. Inboxes already queued
/// for the activity are skipped.
pub async fn queue(
    tx: &mut Tx,
    activity_id: &str,
    sender: &str,
    object_id: &str,
    deliveries: &[NewDelivery<'_>],
    now: i64,
) -> Result<()> {
    let backend = super::backend_of(tx);
    for chunk in deliveries.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO deliveries (id, activity_id, sender, inbox, host, object_id, \
             next_attempt_at, created_at, attempts, state) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql.push_str(&dialect::bulk_markers(backend, i * 8 + 1, 8));
            sql.push_str(", 0, 'pending')");
        }
        sql.push_str(" ON CONFLICT (activity_id, inbox) DO NOTHING");
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(activity_id)
                .bind(sender)
                .bind(d.inbox)
                .bind(d.host)
                .bind(object_id)
                .bind(now)
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A claimed delivery.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub activity_id: String,
    pub sender: String,
    pub inbox: String,
    pub host: String,
    pub attempts: i64,
}

/// Leases up to `limit` deliveries due at `now` to `owner` until `lease_until`, in the
/// caller's transaction: oldest due first; none of an instance whose circuit is open or that
/// is unavailable, none of the hosts in `skip_hosts` (already busy in this process), and none
/// with an earlier delivery of the same object to the same inbox still pending.
pub async fn claim(
    tx: &mut Tx,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
    skip_hosts: &[String],
) -> Result<Vec<Claimed>> {
    let mut skip = String::new();
    for i in 0..skip_hosts.len() {
        skip.push_str(if i == 0 { " AND d.host NOT IN (" } else { ", " });
        skip.push_str(&format!("${}", i + 5));
    }
    if !skip_hosts.is_empty() {
        skip.push(')');
    }
    let lock = match super::backend_of(tx) {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN (\
           SELECT d.id FROM deliveries d \
           WHERE d.state = 'pending' AND d.next_attempt_at <= $3 AND d.lease_until <= $3 \
           AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.inbox = d.inbox \
               AND e.object_id = d.object_id AND e.state = 'pending' \
               AND (e.created_at < d.created_at OR (e.created_at = d.created_at AND e.id < d.id))) \
           AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.host = d.host \
               AND (i.circuit_open_until > $3 OR i.unavailable_since IS NOT NULL)){skip} \
           ORDER BY d.next_attempt_at, d.id LIMIT $4{lock}) \
         RETURNING id, activity_id, sender, inbox, host, attempts"
    );
    let mut q = sqlx::query(&sql)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(limit);
    for h in skip_hosts {
        q = q.bind(h);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                activity_id: r.try_get("activity_id")?,
                sender: r.try_get("sender")?,
                inbox: r.try_get("inbox")?,
                host: r.try_get("host")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// The bodies of the given activities, by id.
pub async fn activity_bodies(tx: &mut Tx, ids: &[&str]) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, body FROM activities WHERE id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query_as(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(&mut **tx).await?)
}

/// What became of one claimed delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Acknowledged: the row goes.
    Delivered,
    /// Failed; try again at `next_attempt_at`.
    Retry { next_attempt_at: i64, error: String },
    /// Failed for good.
    Failed { error: String },
    /// Not attempted (its instance's circuit opened meanwhile, or this process is stopping):
    /// back in the queue as it was.
    Released,
}

/// Records outcomes in the caller's transaction: delivered rows are deleted and released
/// ones freed with one statement per 500, the others (each with its own error and time)
/// one by one.
pub async fn record(tx: &mut Tx, outcomes: &[(&str, &Outcome)]) -> Result<()> {
    let backend = super::backend_of(tx);
    let ids = |want: fn(&Outcome) -> bool| -> Vec<&str> {
        outcomes
            .iter()
            .filter(|(_, o)| want(o))
            .map(|(id, _)| *id)
            .collect()
    };
    let delivered = ids(|o| matches!(o, Outcome::Delivered));
    let released = ids(|o| matches!(o, Outcome::Released));
    for (list, sql) in [
        (&delivered, "DELETE FROM deliveries WHERE id IN "),
        (
            &released,
            "UPDATE deliveries SET lease_owner = NULL, lease_until = 0 WHERE id IN ",
        ),
    ] {
        for chunk in list.chunks(ID_CHUNK) {
            let sql = format!("{sql}({})", dialect::bulk_markers(backend, 1, chunk.len()));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut **tx).await?;
        }
    }
    for (id, outcome) in outcomes {
        let q = match outcome {
            Outcome::Delivered | Outcome::Released => continue,
            Outcome::Retry {
                next_attempt_at,
                error,
            } => sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $2, \
                 last_error = $3, lease_owner = NULL, lease_until = 0 WHERE id = $1",
            )
            .bind(*id)
            .bind(*next_attempt_at)
            .bind(error.as_str()),
            Outcome::Failed { error } => sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, state = 'failed', \
                 last_error = $2, lease_owner = NULL, lease_until = 0 WHERE id = $1",
            )
            .bind(*id)
            .bind(error.as_str()),
        };
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Makes every pending delivery to `host` due now (the instance is back).
pub async fn bring_forward(tx: &mut Tx, host: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $2 WHERE host = $1 AND state = 'pending' \
         AND next_attempt_at > $2",
    )
    .bind(host)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Holds every pending delivery to `host` back until `until` (the end of its circuit's
/// cool-off), so that claims meanwhile do not look at them again and again; their attempts
/// stay as they were, and `bring_forward` undoes it when the instance answers earlier.
pub async fn defer_host(tx: &mut Tx, host: &str, until: i64) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $2 WHERE host = $1 AND state = 'pending' \
         AND next_attempt_at < $2",
    )
    .bind(host)
    .bind(until)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected())
}

/// Gives up every pending delivery to `host` with `reason` (unavailable or blocked).
pub async fn drop_host(tx: &mut Tx, host: &str, reason: &str) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE deliveries SET state = 'failed', last_error = $2, lease_owner = NULL, \
         lease_until = 0 WHERE host = $1 AND state = 'pending'",
    )
    .bind(host)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected())
}

/// Frees every lease (at start-up of a single-process SQLite instance, whose previous run
/// may have been killed mid-delivery), or those of `owner`.
pub async fn release_leases(store: &Store, owner: Option<&str>) -> Result<u64> {
    let r = match owner {
        Some(o) => sqlx::query(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1 \
             AND state = 'pending'",
        )
        .bind(o),
        None => sqlx::query(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = 0 \
             WHERE lease_owner IS NOT NULL AND state = 'pending'",
        ),
    }
    .execute(store.pool())
    .await?;
    Ok(r.rows_affected())
}

/// Extends the leases `owner` holds (rows being sent or waiting for a free slot).
pub async fn renew_leases(tx: &mut Tx, owner: &str, lease_until: i64) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE deliveries SET lease_until = $2 WHERE lease_owner = $1 AND state = 'pending'",
    )
    .bind(owner)
    .bind(lease_until)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes failed deliveries older than `before` (they are kept a while for the admin).
pub async fn prune_failed(store: &Store, before: i64) -> Result<u64> {
    let r = sqlx::query("DELETE FROM deliveries WHERE state = 'failed' AND created_at < $1")
        .bind(before)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected())
}

/// Counts of deliveries by state (pending and failed; delivered rows are gone).
pub async fn counts(store: &Store) -> Result<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries GROUP BY state ORDER BY state")
            .fetch_all(store.pool())
            .await?,
    )
}

/// The earliest time a pending delivery is due, if any.
pub async fn next_due(store: &Store) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'")
            .fetch_one(store.pool())
            .await?,
    )
}

/// On PostgreSQL, lets the worker's bookkeeping (claims, outcomes, leases) commit without
/// waiting for its WAL to reach the disk. Only a crash of PostgreSQL itself can lose such a
/// commit, and losing one only means a delivery is sent again (receivers drop duplicates by
/// activity id) or a lease ends early. Queuing deliveries stays fully durable.
pub async fn relaxed_commit(tx: &mut Tx) -> Result<()> {
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut **tx)
        .await?;
    Ok(())
}
