//! Operator endpoints for admins: `GET /api/v1/admin/federation`, the delivery queue in totals
//! and per remote instance (the same figures as the `/admin/federation` page). Never includes
//! what was being delivered.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiResult, ApiUser};
use crate::db::queue_stats::{self, InstanceStats, QueueTotals};
use crate::domain::{now_ms, rfc3339};
use crate::error::Error;
use crate::server::AppState;

/// Instances listed by default, and at most.
const DEFAULT_LIMIT: i64 = 200;
const MAX_LIMIT: i64 = 1000;

#[derive(Serialize)]
pub struct TotalsDto {
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending_at: Option<String>,
    pub oldest_pending_seconds: Option<i64>,
    pub circuits_open: i64,
    pub unavailable: i64,
    /// Instances with queued or failed deliveries or a delivery record.
    pub instances: i64,
}

#[derive(Serialize)]
pub struct InstanceDto {
    pub host: String,
    /// `unavailable`, `paused`, `failing` or `healthy`.
    pub state: &'static str,
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub consecutive_failures: i64,
    pub failing_since: Option<String>,
    /// Set while the circuit breaker is open.
    pub paused_until: Option<String>,
    pub unavailable_since: Option<String>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub last_error: Option<String>,
    pub delivered_total: i64,
    pub failed_total: i64,
}

#[derive(Serialize)]
pub struct FederationDto {
    pub totals: TotalsDto,
    /// Problems first: unavailable, paused, failing, then by pending deliveries.
    pub items: Vec<InstanceDto>,
}

#[derive(Deserialize)]
pub struct LimitQuery {
    limit: Option<i64>,
}

fn time(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

fn totals_dto(q: &QueueTotals, instances: i64, now: i64) -> TotalsDto {
    TotalsDto {
        pending: q.pending,
        failed: q.failed,
        oldest_pending_at: time(q.oldest_pending_at),
        oldest_pending_seconds: q.oldest_pending_at.map(|t| (now - t).max(0) / 1000),
        circuits_open: q.circuits_open,
        unavailable: q.unavailable,
        instances,
    }
}

fn instance_dto(s: &InstanceStats, now: i64) -> InstanceDto {
    let health = s.health(now);
    InstanceDto {
        host: s.host.clone(),
        state: health.as_str(),
        pending: s.pending,
        failed: s.failed,
        oldest_pending_at: time(s.oldest_pending_at),
        next_attempt_at: time(s.next_attempt_at),
        consecutive_failures: s.consecutive_failures,
        failing_since: time(s.failing_since),
        paused_until: (s.circuit_open_until > now).then(|| rfc3339(s.circuit_open_until)),
        unavailable_since: time(s.unavailable_since),
        last_success_at: time(s.last_success_at),
        last_failure_at: time(s.last_failure_at),
        last_error: s.last_error.clone(),
        delivered_total: s.delivered_total,
        failed_total: s.failed_total,
    }
}

/// `GET /api/v1/admin/federation?limit=`: admins only.
pub async fn federation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<FederationDto>> {
    if !user.is_admin() {
        return Err(Error::forbidden("admins only").into());
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let now = now_ms();
    let totals = queue_stats::totals(&state.store, now).await?;
    let list = queue_stats::instances(&state.store, now, limit).await?;
    Ok(Json(FederationDto {
        totals: totals_dto(&totals, list.total, now),
        items: list.items.iter().map(|s| instance_dto(s, now)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::queue_stats::Health;

    #[test]
    fn a_paused_instance_says_until_when() {
        let s = InstanceStats {
            host: "b.example".into(),
            pending: 2,
            failed: 0,
            oldest_pending_at: Some(0),
            next_attempt_at: Some(9_000),
            consecutive_failures: 5,
            failing_since: Some(0),
            circuit_open_until: 9_000,
            unavailable_since: None,
            last_success_at: None,
            last_failure_at: Some(1_000),
            last_error: Some("HTTP 503".into()),
            delivered_total: 0,
            failed_total: 0,
        };
        let d = instance_dto(&s, 5_000);
        assert_eq!(d.state, "paused");
        assert_eq!(d.paused_until.as_deref(), Some("1970-01-01T00:00:09Z"));
        assert!(instance_dto(&s, 9_000).paused_until.is_none());
        assert_eq!(
            Health::Failing { in_a_row: 5 }.as_str(),
            instance_dto(&s, 9_000).state
        );
    }
}
