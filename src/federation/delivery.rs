//! The delivery worker: sends due rows of `deliveries` as signed POSTs (signed at send time,
//! re-signed on every retry), a few at once, and records the outcome. Temporary failures are
//! retried with exponential backoff for about 53 hours; permanent ones (most 4xx, refused
//! URLs) stop at once.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::keys;
use crate::db::outbox::{self, DueDelivery};
use crate::domain::now_ms;
use crate::error::Result;
use crate::server::AppState;

/// Deliveries sent in parallel.
const CONCURRENCY: usize = 8;
/// Attempts before giving up (the last one about 53 hours after the first).
pub const MAX_ATTEMPTS: i64 = 14;

/// Runs until `shutdown` turns true.
pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        match deliver_due(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "delivery worker"),
        }
        tokio::select! {
            _ = state.federation.delivery_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Sends the deliveries due now (up to 100); returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize> {
    let due = outbox::due_deliveries(&state.store, now_ms(), 100).await?;
    let n = due.len();
    stream::iter(due)
        .for_each_concurrent(CONCURRENCY, |d| async move {
            if let Err(e) = deliver_one(state, &d).await {
                tracing::warn!(error = %e, inbox = %d.inbox, "delivery bookkeeping failed");
            }
        })
        .await;
    Ok(n)
}

/// Seconds to wait before attempt `n` (1-based count of attempts made so far).
pub fn backoff_secs(attempts_made: i64) -> i64 {
    (30_i64 << attempts_made.clamp(0, 12).min(13)).min(12 * 3600)
}

async fn deliver_one(state: &AppState, d: &DueDelivery) -> Result<()> {
    let key = keys::signing_key(&state.store, &state.federation.keys, &d.sender).await?;
    let outcome = state
        .federation
        .client
        .post_activity(&d.inbox, &d.body, &key)
        .await;
    let now = now_ms();
    match outcome {
        Ok(()) => {
            tracing::debug!(inbox = %d.inbox, "delivered");
            outbox::delivery_attempted(&state.store, &d.id, "done", now, None).await
        }
        Err(e) if e.is_temporary() && d.attempts + 1 < MAX_ATTEMPTS => {
            let next = now + backoff_secs(d.attempts + 1) * 1000;
            tracing::info!(inbox = %d.inbox, error = %e, attempt = d.attempts + 1, "delivery failed; will retry");
            outbox::delivery_attempted(&state.store, &d.id, "pending", next, Some(&e.to_string()))
                .await
        }
        Err(e) => {
            tracing::info!(inbox = %d.inbox, error = %e, "delivery failed for good");
            outbox::delivery_attempted(&state.store, &d.id, "failed", now, Some(&e.to_string()))
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(2), 120);
        assert!(backoff_secs(8) > backoff_secs(7));
        assert_eq!(backoff_secs(20), 12 * 3600);
        let total: i64 = (1..MAX_ATTEMPTS).map(backoff_secs).sum();
        assert!(total > 24 * 3600 && total < 4 * 24 * 3600, "{total}");
    }
}
