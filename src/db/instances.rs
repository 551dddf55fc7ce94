//! Remote instances as delivery destinations: their health (circuit breaker, unavailable
//! mark, totals) and the admin's domain blocks.

use sqlx::Row;

use super::{Store, Tx};
use crate::domain::delivery::HostHealth;
use crate::error::Result;

const HEALTH_COLUMNS: &str = "host, consecutive_failures, failing_since, circuit_open_until, \
     unavailable_since, last_success_at, last_failure_at, last_error";

fn health_from_row(r: &sqlx::any::AnyRow) -> Result<(String, HostHealth)> {
    Ok((
        r.try_get("host")?,
        HostHealth {
            consecutive_failures: r.try_get("consecutive_failures")?,
            failing_since: r.try_get("failing_since")?,
            circuit_open_until: r.try_get("circuit_open_until")?,
            unavailable_since: r.try_get("unavailable_since")?,
            last_success_at: r.try_get("last_success_at")?,
            last_failure_at: r.try_get("last_failure_at")?,
            last_error: r.try_get("last_error")?,
        },
    ))
}

/// Instances with something wrong (failing, paused or unavailable).
pub async fn troubled(store: &Store) -> Result<Vec<(String, HostHealth)>> {
    let rows = sqlx::query(&format!(
        "SELECT {HEALTH_COLUMNS} FROM instances \
         WHERE consecutive_failures > 0 OR unavailable_since IS NOT NULL OR circuit_open_until > 0"
    ))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(health_from_row).collect()
}

/// One instance's health, if we have a row for it.
pub async fn health(store: &Store, host: &str) -> Result<Option<HostHealth>> {
    let row = sqlx::query(&format!(
        "SELECT {HEALTH_COLUMNS} FROM instances WHERE host = $1"
    ))
    .bind(host)
    .fetch_optional(store.pool())
    .await?;
    Ok(row
        .as_ref()
        .map(health_from_row)
        .transpose()?
        .map(|(_, h)| h))
}

/// What one batch of delivery outcomes says about an instance.
pub struct HealthUpdate<'a> {
    pub host: &'a str,
    pub health: &'a HostHealth,
    /// Added to the instance's totals.
    pub delivered: i64,
    pub failed: i64,
}

/// Instances per multi-row upsert (10 values each).
const HEALTH_CHUNK: usize = 200;

/// Stores instances' health and adds to their totals, in the caller's transaction: one
/// statement per 200 instances.
pub async fn save_health(tx: &mut Tx, updates: &[HealthUpdate<'_>]) -> Result<()> {
    let backend = super::backend_of(tx);
    for chunk in updates.chunks(HEALTH_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO instances (host, consecutive_failures, failing_since, \
             circuit_open_until, unavailable_since, last_success_at, last_failure_at, \
             last_error, delivered, failed) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql.push_str(&super::dialect::bulk_markers(backend, i * 10 + 1, 10));
            sql.push(')');
        }
        sql.push_str(
            " ON CONFLICT (host) DO UPDATE SET \
             consecutive_failures = excluded.consecutive_failures, \
             failing_since = excluded.failing_since, \
             circuit_open_until = excluded.circuit_open_until, \
             unavailable_since = excluded.unavailable_since, \
             last_success_at = excluded.last_success_at, \
             last_failure_at = excluded.last_failure_at, last_error = excluded.last_error, \
             delivered = instances.delivered + excluded.delivered, \
             failed = instances.failed + excluded.failed",
        );
        let mut q = sqlx::query(&sql);
        for u in chunk {
            let h = u.health;
            q = q
                .bind(u.host)
                .bind(h.consecutive_failures)
                .bind(h.failing_since)
                .bind(h.circuit_open_until)
                .bind(h.unavailable_since)
                .bind(h.last_success_at)
                .bind(h.last_failure_at)
                .bind(h.last_error.as_deref())
                .bind(u.delivered)
                .bind(u.failed);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The instance reached us: clears its failure state and unavailable mark. Returns whether
/// there was anything to clear.
pub async fn clear_failures(store: &Store, host: &str) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE instances SET consecutive_failures = 0, failing_since = NULL, \
         circuit_open_until = 0, unavailable_since = NULL WHERE host = $1 \
         AND (consecutive_failures > 0 OR unavailable_since IS NOT NULL OR circuit_open_until > 0)",
    )
    .bind(host)
    .execute(store.pool())
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Hosts nothing may be queued for: unavailable instances. Read in the caller's transaction.
pub async fn unavailable_hosts(tx: &mut Tx) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT host FROM instances WHERE unavailable_since IS NOT NULL")
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// An admin's block of a domain (and its subdomains).
#[derive(Clone, Debug, PartialEq)]
pub struct DomainBlock {
    pub domain: String,
    /// `suspend` or `silence`.
    pub severity: String,
    pub reason: String,
    pub created_at: i64,
}

/// Domains suspended by the admin (nothing goes out to them). Read in the caller's
/// transaction.
pub async fn suspended_domains(tx: &mut Tx) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT domain FROM domain_blocks WHERE severity = 'suspend'")
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// Every domain block, by domain.
pub async fn domain_blocks(store: &Store) -> Result<Vec<DomainBlock>> {
    let rows = sqlx::query(
        "SELECT domain, severity, reason, created_at FROM domain_blocks ORDER BY domain",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DomainBlock {
                domain: r.try_get("domain")?,
                severity: r.try_get("severity")?,
                reason: r.try_get("reason")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Adds or changes a domain block, in the caller's transaction.
pub async fn put_domain_block(tx: &mut Tx, b: &DomainBlock) -> Result<()> {
    sqlx::query(
        "INSERT INTO domain_blocks (domain, severity, reason, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (domain) DO UPDATE SET severity = $2, reason = $3",
    )
    .bind(&b.domain)
    .bind(&b.severity)
    .bind(&b.reason)
    .bind(b.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes a domain block; false when there was none.
pub async fn remove_domain_block(store: &Store, domain: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM domain_blocks WHERE domain = $1")
        .bind(domain)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected() > 0)
}
