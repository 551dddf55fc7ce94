//! The worker's bookkeeping, one transaction at a time: record the outcomes that came in
//! (and what they say about each instance), renew leases, and claim the next rows, with the
//! bodies of activities the worker does not have yet. Done in one transaction so that on
//! SQLite the worker takes the write lock once per round, not once per step, and a claim
//! already sees the outcomes recorded before it (a delivered Create frees its Update).

use std::collections::{HashMap, HashSet};

use super::{Done, LEASE_MS};
use crate::db::deliveries::{self, Claimed, Outcome};
use crate::db::instances::{self, HealthUpdate};
use crate::db::Backend;
use crate::domain::delivery::HostHealth;
use crate::domain::now_ms;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::server::AppState;

/// One round of bookkeeping.
pub(super) struct Round {
    pub outcomes: Vec<Done>,
    /// Rows to claim (0: none).
    pub claim: usize,
    /// Hosts to claim nothing for (this process holds enough of theirs).
    pub skip_hosts: Vec<String>,
    /// Extend the leases this process holds.
    pub renew: bool,
    /// Activities whose bodies the worker already has.
    pub known: HashSet<String>,
}

/// What a round brought back.
pub(super) struct Claim {
    pub asked: usize,
    pub rows: Vec<Claimed>,
    /// Bodies of the claimed rows' activities that were not `known`; a missing one was
    /// withdrawn (an undone boost).
    pub bodies: Vec<(String, String)>,
}

/// Per instance: its new health and what this round added to its totals.
#[derive(Default)]
struct HostChange {
    health: HostHealth,
    delivered: i64,
    failed: i64,
    recovered: bool,
    became_unavailable: bool,
}

/// Runs one round. On failure the outcomes come back, to be recorded in a later round (their
/// rows keep their leases meanwhile).
pub(super) async fn round(
    state: AppState,
    owner: String,
    r: Round,
) -> Result<Claim, (Error, Vec<Done>)> {
    match write(&state, &owner, &r).await {
        Ok(claim) => {
            let m = &state.federation.metrics;
            for d in &r.outcomes {
                match &d.outcome {
                    Outcome::Delivered => Metrics::inc(&m.deliveries_sent),
                    Outcome::Retry { .. } => Metrics::inc(&m.deliveries_retried),
                    Outcome::Failed { .. } => Metrics::inc(&m.deliveries_failed),
                    Outcome::Released => {}
                }
            }
            Ok(claim)
        }
        Err(e) => Err((e, r.outcomes)),
    }
}

async fn write(state: &AppState, owner: &str, r: &Round) -> crate::error::Result<Claim> {
    let mut changes: HashMap<&str, HostChange> = HashMap::new();
    for d in &r.outcomes {
        let Some((health, t)) = &d.health else {
            continue;
        };
        // Outcomes arrive in the order they were observed: the last health wins.
        let change = changes.entry(d.host.as_str()).or_default();
        change.health = health.clone();
        change.recovered |= t.recovered;
        change.became_unavailable |= t.became_unavailable;
        match &d.outcome {
            Outcome::Delivered => change.delivered += 1,
            Outcome::Failed { .. } => change.failed += 1,
            _ => {}
        }
    }
    let mut tx = state.store.begin().await?;
    if state.store.backend() == Backend::Postgres {
        deliveries::relaxed_commit(&mut tx).await?;
    }
    let now = now_ms();
    let outcomes: Vec<(&str, &Outcome)> = r
        .outcomes
        .iter()
        .map(|d| (d.id.as_str(), &d.outcome))
        .collect();
    deliveries::record(&mut tx, &outcomes).await?;
    let updates: Vec<HealthUpdate> = changes
        .iter()
        .map(|(host, c)| HealthUpdate {
            host,
            health: &c.health,
            delivered: c.delivered,
            failed: c.failed,
        })
        .collect();
    instances::save_health(&mut tx, &updates).await?;
    for (host, change) in &changes {
        if change.recovered {
            deliveries::bring_forward(&mut tx, host, now).await?;
            tracing::info!(host = %host, "instance answers again; its deliveries resume");
        }
        if change.health.circuit_open_until > now {
            deliveries::defer_host(&mut tx, host, change.health.circuit_open_until).await?;
        }
        if change.became_unavailable {
            let n = deliveries::drop_host(&mut tx, host, "the instance is unavailable").await?;
            Metrics::add(&state.federation.metrics.deliveries_failed, n);
            tracing::warn!(host = %host, dropped = n, "instance unavailable after days of failures");
        }
    }
    if r.renew {
        deliveries::renew_leases(&mut tx, owner, now + LEASE_MS).await?;
    }
    let mut claim = Claim {
        asked: r.claim,
        rows: vec![],
        bodies: vec![],
    };
    if r.claim > 0 {
        claim.rows = deliveries::claim(
            &mut tx,
            owner,
            now,
            now + LEASE_MS,
            r.claim as i64,
            &r.skip_hosts,
        )
        .await?;
        let mut missing: Vec<&str> = claim
            .rows
            .iter()
            .map(|c| c.activity_id.as_str())
            .filter(|id| !r.known.contains(*id))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            claim.bodies = deliveries::activity_bodies(&mut tx, &missing).await?;
        }
    }
    tx.commit().await?;
    Ok(claim)
}
