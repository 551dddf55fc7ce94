//! What this process believes about destination instances: failing, paused, unavailable or
//! suspended by the admin. Updated at once by every attempt, saved with the outcomes and
//! reloaded from the database every 30 s, so that several processes converge.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::{deliveries, instances};
use crate::domain::delivery::{self as policy, HostHealth, HostSignal, Transition};
use crate::domain::now_ms;
use crate::server::AppState;

/// Health of instances that are failing, paused or unavailable (healthy ones have no
/// entry), shared by the senders and the worker that records outcomes.
#[derive(Default)]
pub struct HealthBook {
    hosts: Mutex<HashMap<String, HostHealth>>,
    /// Domains the admin suspended: deliveries queued before the block are given up.
    suspended: Mutex<Vec<String>>,
}

impl HealthBook {
    pub(super) fn get(&self, host: &str) -> Option<HostHealth> {
        self.hosts.lock().expect("health book").get(host).cloned()
    }

    fn replace(&self, all: Vec<(String, HostHealth)>, suspended: Vec<String>) {
        *self.hosts.lock().expect("health book") = all.into_iter().collect();
        *self.suspended.lock().expect("health book") = suspended;
    }

    pub(super) fn is_suspended(&self, host: &str) -> bool {
        self.suspended
            .lock()
            .expect("health book")
            .iter()
            .any(|d| policy::host_matches_domain(host, d))
    }

    /// Applies one attempt's signal at once (so the next claim already sees an opened
    /// circuit) and returns the new health with what changed.
    pub(super) fn observe(
        &self,
        host: &str,
        signal: &HostSignal,
        error: Option<&str>,
        now: i64,
    ) -> (HostHealth, Transition) {
        let mut book = self.hosts.lock().expect("health book");
        let mut health = book.get(host).cloned().unwrap_or_default();
        let t = health.observe(signal, error, now, rand::random::<f64>());
        if health.troubled() || health.circuit_open_until > now {
            book.insert(host.to_string(), health.clone());
        } else {
            book.remove(host);
        }
        (health, t)
    }

    /// Forgets `host`; returns whether anything was wrong with it.
    fn forget(&self, host: &str) -> bool {
        self.hosts
            .lock()
            .expect("health book")
            .remove(host)
            .is_some()
    }
}

/// Reads the health of failing instances from the database (every 30 s, so that several
/// processes converge).
pub async fn reload_health(state: &AppState) {
    let read = async {
        let troubled = instances::troubled(&state.store).await?;
        let suspended = instances::domain_blocks(&state.store)
            .await?
            .into_iter()
            .filter(|b| b.severity == "suspend")
            .map(|b| b.domain)
            .collect();
        Ok::<_, crate::error::Error>((troubled, suspended))
    };
    match read.await {
        Ok((troubled, suspended)) => state.federation.health.replace(troubled, suspended),
        Err(e) => tracing::warn!(error = %e, "could not read instance health"),
    }
}

/// A signed request from `host` arrived: the instance is alive. Clears its failure state and
/// unavailable mark and lets its waiting deliveries go now. Cheap when nothing is wrong.
pub async fn heard_from(state: &AppState, host: &str) {
    if !state.federation.health.forget(host) {
        return;
    }
    let cleared = async {
        instances::clear_failures(&state.store, host).await?;
        let mut tx = state.store.begin().await?;
        deliveries::bring_forward(&mut tx, host, now_ms()).await?;
        tx.commit().await?;
        Ok::<(), crate::error::Error>(())
    };
    match cleared.await {
        Ok(()) => {
            tracing::info!(host = %host, "heard from a failing instance; its deliveries resume");
            state.federation.delivery_wake.notify_one();
        }
        Err(e) => tracing::warn!(error = %e, host = %host, "could not clear instance failures"),
    }
}

/// Forgets what this process believes about `host` (after the admin reset it).
pub fn forget_health(state: &AppState, host: &str) {
    state.federation.health.forget(host);
}
