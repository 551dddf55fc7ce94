//! Figures about the delivery queue and the remote instances it sends to, read for the admin
//! page, the admin API and `/metrics`: totals, one row per instance (problems first), and the
//! counts of local accounts, shops and products. Also the admin's two writes: "retry now"
//! (forget an instance's failures and make its pending deliveries due) and "retry failed"
//! (put its given-up deliveries back in the queue as well). Never reads delivery bodies.

use sqlx::Row;

use super::Store;
use crate::error::Result;

/// The whole queue at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueTotals {
    /// Deliveries queued or waiting to be retried.
    pub pending: i64,
    /// Deliveries given up (kept for a while so the admin sees them).
    pub failed: i64,
    /// When the oldest pending delivery was queued (epoch ms).
    pub oldest_pending_at: Option<i64>,
    /// Instances whose circuit breaker is open now: nothing is attempted until it closes
    /// (unavailable instances included when their circuit is open too).
    pub circuits_open: i64,
    /// Instances marked unavailable: nothing is sent until they are heard from.
    pub unavailable: i64,
}

/// How deliveries to one instance are going, most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Failed for days; nothing is sent to it until it is heard from (epoch ms).
    Unavailable {
        since: i64,
    },
    /// The circuit breaker is open: no attempts until `until` (epoch ms).
    Paused {
        until: i64,
    },
    /// The last `in_a_row` attempts failed; still trying.
    Failing {
        in_a_row: i64,
    },
    Healthy,
}

impl Health {
    /// `unavailable`, `paused`, `failing` or `healthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unavailable { .. } => "unavailable",
            Health::Paused { .. } => "paused",
            Health::Failing { .. } => "failing",
            Health::Healthy => "healthy",
        }
    }
}

/// The queue and the delivery record of one remote instance (a URL authority: host or
/// host:port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceStats {
    pub host: String,
    pub pending: i64,
    pub failed: i64,
    /// When its oldest pending delivery was queued (epoch ms).
    pub oldest_pending_at: Option<i64>,
    /// When its next pending delivery is due (epoch ms).
    pub next_attempt_at: Option<i64>,
    pub consecutive_failures: i64,
    /// First failure after the last success (epoch ms).
    pub failing_since: Option<i64>,
    /// Epoch ms; 0 when the circuit breaker was never opened.
    pub circuit_open_until: i64,
    pub unavailable_since: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    /// The error of the last failed attempt, as the delivery worker recorded it.
    pub last_error: Option<String>,
    /// Deliveries it acknowledged, ever.
    pub delivered_total: i64,
    /// Deliveries given up, ever.
    pub failed_total: i64,
}

impl InstanceStats {
    /// Its state at `now` (epoch ms).
    pub fn health(&self, now: i64) -> Health {
        if let Some(since) = self.unavailable_since {
            Health::Unavailable { since }
        } else if self.circuit_open_until > now {
            Health::Paused {
                until: self.circuit_open_until,
            }
        } else if self.consecutive_failures > 0 {
            Health::Failing {
                in_a_row: self.consecutive_failures,
            }
        } else {
            Health::Healthy
        }
    }
}

/// A bounded list of instances and how many there are in all.
#[derive(Clone, Debug, Default)]
pub struct InstanceList {
    pub items: Vec<InstanceStats>,
    /// Every instance with queued or failed deliveries or a delivery record.
    pub total: i64,
}

/// What this instance holds, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalCounts {
    pub users: i64,
    pub shops: i64,
    pub published_products: i64,
}

/// Queue totals at `now` (epoch ms).
pub async fn totals(store: &Store, now: i64) -> Result<QueueTotals> {
    let q = sqlx::query(
        "SELECT COUNT(CASE WHEN state = 'pending' THEN 1 END) AS pending, \
         COUNT(CASE WHEN state = 'failed' THEN 1 END) AS failed, \
         MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest \
         FROM deliveries WHERE state IN ('pending', 'failed')",
    )
    .fetch_one(store.pool())
    .await?;
    let i = sqlx::query(
        "SELECT COUNT(CASE WHEN circuit_open_until > $1 THEN 1 END) AS open, \
         COUNT(CASE WHEN unavailable_since IS NOT NULL THEN 1 END) AS unavailable \
         FROM instances",
    )
    .bind(now)
    .fetch_one(store.pool())
    .await?;
    Ok(QueueTotals {
        pending: q.try_get("pending")?,
        failed: q.try_get("failed")?,
        oldest_pending_at: q.try_get("oldest")?,
        circuits_open: i.try_get("open")?,
        unavailable: i.try_get("unavailable")?,
    })
}

/// Per-destination queue figures and every instance we keep a record of.
const HOSTS: &str = "WITH q AS (\
     SELECT host, COUNT(CASE WHEN state = 'pending' THEN 1 END) AS pending, \
     COUNT(CASE WHEN state = 'failed' THEN 1 END) AS failed, \
     MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest_pending_at, \
     MIN(CASE WHEN state = 'pending' THEN next_attempt_at END) AS next_attempt_at \
     FROM deliveries WHERE state IN ('pending', 'failed') GROUP BY host), \
     hosts AS (SELECT host FROM q UNION SELECT host FROM instances) ";

/// Up to `limit` instances, problems first: unavailable, paused (circuit open at `now`),
/// failing, then the rest; within each group the most pending deliveries first.
pub async fn instances(store: &Store, now: i64, limit: i64) -> Result<InstanceList> {
    let sql = format!(
        "{HOSTS}SELECT h.host, COALESCE(q.pending, 0) AS pending, \
         COALESCE(q.failed, 0) AS failed, q.oldest_pending_at, q.next_attempt_at, \
         COALESCE(i.consecutive_failures, 0) AS consecutive_failures, i.failing_since, \
         COALESCE(i.circuit_open_until, 0) AS circuit_open_until, i.unavailable_since, \
         i.last_success_at, i.last_failure_at, i.last_error, \
         COALESCE(i.delivered, 0) AS delivered_total, COALESCE(i.failed, 0) AS failed_total \
         FROM hosts h LEFT JOIN q ON q.host = h.host LEFT JOIN instances i ON i.host = h.host \
         ORDER BY CASE WHEN i.unavailable_since IS NOT NULL THEN 0 \
         WHEN COALESCE(i.circuit_open_until, 0) > $1 THEN 1 \
         WHEN COALESCE(i.consecutive_failures, 0) > 0 THEN 2 ELSE 3 END, \
         COALESCE(q.pending, 0) DESC, COALESCE(q.failed, 0) DESC, h.host \
         LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(limit.max(0))
        .fetch_all(store.pool())
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(InstanceStats {
                host: r.try_get("host")?,
                pending: r.try_get("pending")?,
                failed: r.try_get("failed")?,
                oldest_pending_at: r.try_get("oldest_pending_at")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                consecutive_failures: r.try_get("consecutive_failures")?,
                failing_since: r.try_get("failing_since")?,
                circuit_open_until: r.try_get("circuit_open_until")?,
                unavailable_since: r.try_get("unavailable_since")?,
                last_success_at: r.try_get("last_success_at")?,
                last_failure_at: r.try_get("last_failure_at")?,
                last_error: r.try_get("last_error")?,
                delivered_total: r.try_get("delivered_total")?,
                failed_total: r.try_get("failed_total")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let total: i64 = sqlx::query_scalar(&format!("{HOSTS}SELECT COUNT(*) FROM hosts"))
        .fetch_one(store.pool())
        .await?;
    Ok(InstanceList { items, total })
}

/// Accounts, shops and published products on this instance.
pub async fn local_counts(store: &Store) -> Result<LocalCounts> {
    let r = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM shops) AS shops, \
         (SELECT COUNT(*) FROM products WHERE status = 'published') AS products",
    )
    .fetch_one(store.pool())
    .await?;
    Ok(LocalCounts {
        users: r.try_get("users")?,
        shops: r.try_get("shops")?,
        published_products: r.try_get("products")?,
    })
}

/// What an admin retry changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retried {
    /// The instance had a delivery record, now cleared of failures.
    pub instance_reset: bool,
    /// Pending deliveries moved to now.
    pub made_due: u64,
    /// Failed deliveries put back in the queue.
    pub requeued: u64,
}

impl Retried {
    /// Nothing matched: the host is unknown.
    pub fn is_empty(&self) -> bool {
        !self.instance_reset && self.made_due == 0 && self.requeued == 0
    }
}

/// "Retry now": forgets the instance's failures (closes its circuit breaker, clears the
/// unavailable mark; its last error and totals stay) and makes its pending deliveries due at
/// `now`. The caller wakes the delivery worker.
pub async fn retry_now(store: &Store, host: &str, now: i64) -> Result<Retried> {
    retry(store, host, now, false).await
}

/// "Retry failed": puts the instance's failed deliveries back in the queue with a fresh
/// count of attempts, and does everything `retry_now` does (requeued deliveries to a paused
/// or unavailable instance would otherwise wait). The caller wakes the delivery worker.
pub async fn retry_failed(store: &Store, host: &str, now: i64) -> Result<Retried> {
    retry(store, host, now, true).await
}

async fn retry(store: &Store, host: &str, now: i64, requeue_failed: bool) -> Result<Retried> {
    let mut tx = store.begin().await?;
    let reset = sqlx::query(
        "UPDATE instances SET consecutive_failures = 0, failing_since = NULL, \
         circuit_open_until = 0, unavailable_since = NULL WHERE host = $1",
    )
    .bind(host)
    .execute(&mut *tx)
    .await?;
    let requeued = if requeue_failed {
        sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2 \
             WHERE host = $1 AND state = 'failed'",
        )
        .bind(host)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        0
    };
    let made_due = sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $2 \
         WHERE host = $1 AND state = 'pending' AND next_attempt_at > $2",
    )
    .bind(host)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Retried {
        instance_reset: reset.rows_affected() > 0,
        made_due,
        requeued,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> InstanceStats {
        InstanceStats {
            host: "a.example".into(),
            pending: 0,
            failed: 0,
            oldest_pending_at: None,
            next_attempt_at: None,
            consecutive_failures: 0,
            failing_since: None,
            circuit_open_until: 0,
            unavailable_since: None,
            last_success_at: None,
            last_failure_at: None,
            last_error: None,
            delivered_total: 0,
            failed_total: 0,
        }
    }

    #[test]
    fn health_takes_the_most_serious_state() {
        let mut s = stats();
        assert_eq!(s.health(1_000), Health::Healthy);
        s.consecutive_failures = 3;
        assert_eq!(s.health(1_000), Health::Failing { in_a_row: 3 });
        s.circuit_open_until = 2_000;
        assert_eq!(s.health(1_000), Health::Paused { until: 2_000 });
        assert_eq!(
            s.health(2_000),
            Health::Failing { in_a_row: 3 },
            "closes at the instant"
        );
        s.unavailable_since = Some(500);
        assert_eq!(s.health(1_000), Health::Unavailable { since: 500 });
        assert_eq!(s.health(1_000).as_str(), "unavailable");
    }
}
