//! Timed upkeep of orders: unpaid orders expire when their shop's hold time is over (their
//! stock comes back), and closed orders lose the buyer's address and contact after
//! `FEDISHOP_ORDER_RETENTION_DAYS`. Deadlines live in the database, so they survive restarts,
//! and each order expires once even with several processes.

use std::time::Duration;

use crate::db;
use crate::domain::now_ms;
use crate::domain::orders::service;
use crate::server::AppState;

/// Longest sleep between checks; a new order with an earlier deadline is picked up by then.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How often old addresses are erased.
const ERASE_EVERY_MS: i64 = 3_600_000;

/// One pass: expires what is due. Returns how many orders expired.
pub async fn expire_orders(state: &AppState) -> crate::error::Result<usize> {
    let n = service::expire_due(&state.store, &state.urls, now_ms()).await?;
    if n > 0 {
        tracing::info!(expired = n, "unpaid orders expired, stock released");
        state.changed();
    }
    Ok(n)
}

pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut last_erase = 0_i64;
    loop {
        if let Err(e) = expire_orders(&state).await {
            tracing::warn!(error = %e, "expiring unpaid orders");
        }
        let now = now_ms();
        if now - last_erase >= ERASE_EVERY_MS {
            last_erase = now;
            match service::erase_old_addresses(
                &state.store,
                state.settings.order_retention_days,
                now,
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "erased addresses of old closed orders"),
                Err(e) => tracing::warn!(error = %e, "erasing old addresses"),
            }
        }
        let next = db::orders::next_hold_end(&state.store)
            .await
            .ok()
            .flatten()
            .map(|t| Duration::from_millis((t - now_ms()).clamp(0, 30_000) as u64 + 50))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(next) => {}
            _ = shutdown.changed() => return,
        }
    }
}
