//! The delivery worker: takes due rows of the persistent queue (`db::deliveries`) under a
//! lease, sends each as a signed POST (signed at send time, so every retry has a fresh Date),
//! and records the outcomes in batches (one transaction for all that finished meanwhile).
//!
//! Per destination instance: at most `delivery_per_host` in flight (one probe while the
//! instance is failing), a circuit breaker that pauses it after failures in a row, and an
//! "unavailable" mark after days of failure (nothing queued for it until it is heard from).
//! Over all instances at most `delivery_concurrency` in flight, so dead instances cannot take
//! every slot and live ones are not kept waiting. Rules live in `domain::delivery`.
//!
//! Crash safety: a row leaves the queue only after its outcome is committed. A process killed
//! mid-send leaves leased rows that are sent again: at start-up on SQLite (one process per
//! file), within 30 s on PostgreSQL (leases are short and renewed while held). Receivers drop
//! the duplicates by activity id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::fetch::FetchError;
use super::keys;
use crate::db::deliveries::{self, Claimed, Outcome};
use crate::db::{instances, Backend};
use crate::domain::delivery::{self as policy, HostHealth, HostSignal, Transition};
use crate::domain::now_ms;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::server::AppState;

/// How long a claimed row stays with this process before another may take it. Renewed every
/// `RENEW_MS` while held, so a killed process's rows are free again within this time.
const LEASE_MS: i64 = 30_000;
const RENEW_MS: i64 = 10_000;
/// Failed deliveries are kept this long for the admin, then pruned.
const KEEP_FAILED_MS: i64 = 7 * 24 * 3_600_000;
/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 1000;

/// Health of instances that are failing, paused or unavailable (healthy ones have no entry),
/// shared by the senders and the loop that records outcomes; reloaded from the database now and then so that
/// several processes converge.
#[derive(Default)]
pub struct HealthBook {
    hosts: Mutex<HashMap<String, HostHealth>>,
    /// Domains the admin suspended: deliveries queued before the block are given up.
    suspended: Mutex<Vec<String>>,
}

impl HealthBook {
    fn get(&self, host: &str) -> Option<HostHealth> {
        self.hosts.lock().expect("health book").get(host).cloned()
    }

    fn replace(&self, all: Vec<(String, HostHealth)>, suspended: Vec<String>) {
        *self.hosts.lock().expect("health book") = all.into_iter().collect();
        *self.suspended.lock().expect("health book") = suspended;
    }

    fn is_suspended(&self, host: &str) -> bool {
        self.suspended
            .lock()
            .expect("health book")
            .iter()
            .any(|d| policy::host_matches_domain(host, d))
    }

    /// Applies one attempt's signal at once (so the next claim already sees an opened
    /// circuit) and returns the new health with what changed.
    fn observe(
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
}

/// One finished attempt, to be recorded.
struct Done {
    id: String,
    host: String,
    outcome: Outcome,
    /// The instance's health after this attempt, when it said something about it.
    health: Option<(HostHealth, Transition)>,
}

/// Runs until `shutdown` turns true.
pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let owner = uuid::Uuid::now_v7().to_string();
    if state.store.backend() == Backend::Sqlite {
        // One process per SQLite file: leases left behind belong to a run that is gone.
        match deliveries::release_leases(&state.store, None).await {
            Ok(n) if n > 0 => {
                tracing::info!(deliveries = n, "resuming deliveries of the previous run")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not free old delivery leases"),
        }
    }
    reload_health(&state).await;
    // Sends report here; this loop records outcomes itself, between claims, so that on SQLite
    // the two never wait for each other's write lock.
    let (done_tx, mut done_rx) = mpsc::channel::<Done>(8192);
    let mut outcomes: Vec<Done> = Vec::new();
    let total = state.settings.delivery_concurrency.max(1);
    let per_host = state.settings.delivery_per_host.max(1);
    let mut tasks: JoinSet<String> = JoinSet::new();
    let mut in_flight: HashMap<String, usize> = HashMap::new();
    let mut bodies: HashMap<String, Arc<str>> = HashMap::new();
    let mut last_reload = now_ms();
    let mut last_renew = now_ms();
    let mut last_prune = 0_i64;
    loop {
        while let Some(joined) = tasks.try_join_next() {
            finished(&mut in_flight, joined);
        }
        while let Ok(d) = done_rx.try_recv() {
            outcomes.push(d);
        }
        record(&state, &mut outcomes).await;
        let now = now_ms();
        if now - last_renew > RENEW_MS && !tasks.is_empty() {
            last_renew = now;
            if let Err(e) = deliveries::renew_leases(&state.store, &owner, now + LEASE_MS).await {
                tracing::warn!(error = %e, "could not renew delivery leases");
            }
        }
        if now - last_reload > 30_000 {
            reload_health(&state).await;
            last_reload = now;
        }
        if now - last_prune > 3_600_000 {
            last_prune = now;
            if let Err(e) = deliveries::prune_failed(&state.store, now - KEEP_FAILED_MS).await {
                tracing::warn!(error = %e, "could not prune failed deliveries");
            }
        }
        let free = total - tasks.len().min(total);
        if free > 0 && (free >= (total / 4).max(1) || tasks.is_empty()) {
            if let Err(e) = claim_and_send(
                &state,
                &owner,
                free,
                per_host,
                &mut tasks,
                &mut in_flight,
                &mut bodies,
                &done_tx,
                &mut outcomes,
            )
            .await
            {
                tracing::warn!(error = %e, "delivery worker");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
        tokio::select! {
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => finished(&mut in_flight, joined),
            _ = state.federation.delivery_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
    // Stopping: what is in flight is abandoned and goes back to the queue.
    tasks.shutdown().await;
    drop(done_tx);
    while let Some(d) = done_rx.recv().await {
        outcomes.push(d);
    }
    record(&state, &mut outcomes).await;
    if let Err(e) = deliveries::release_leases(&state.store, Some(&owner)).await {
        tracing::warn!(error = %e, "could not release delivery leases");
    }
}

fn finished(
    in_flight: &mut HashMap<String, usize>,
    joined: std::result::Result<String, tokio::task::JoinError>,
) {
    let Ok(host) = joined else {
        return; // a send panicked or was aborted; its lease expires and it is sent again
    };
    if let Some(n) = in_flight.get_mut(&host) {
        *n -= 1;
        if *n == 0 {
            in_flight.remove(&host);
        }
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

/// Claims up to `free` due deliveries and starts sending them.
#[allow(clippy::too_many_arguments)]
async fn claim_and_send(
    state: &AppState,
    owner: &str,
    free: usize,
    per_host: usize,
    tasks: &mut JoinSet<String>,
    in_flight: &mut HashMap<String, usize>,
    bodies: &mut HashMap<String, Arc<str>>,
    done: &mpsc::Sender<Done>,
    outcomes: &mut Vec<Done>,
) -> Result<()> {
    let now = now_ms();
    let limit = |host: &str| {
        state
            .federation
            .health
            .get(host)
            .map_or(per_host, |h| h.in_flight_limit(per_host))
    };
    let busy: Vec<String> = in_flight
        .iter()
        .filter(|(h, n)| **n >= limit(h))
        .map(|(h, _)| h.clone())
        .collect();
    let claimed =
        deliveries::claim(&state.store, owner, now, now + LEASE_MS, free as i64, &busy).await?;
    if claimed.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = {
        let mut ids: Vec<&str> = claimed
            .iter()
            .map(|c| c.activity_id.as_str())
            .filter(|id| !bodies.contains_key(*id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    if !missing.is_empty() {
        if bodies.len() > 256 {
            bodies.clear();
        }
        for (id, body) in deliveries::activity_bodies(&state.store, &missing).await? {
            bodies.insert(id, Arc::from(body));
        }
    }
    for d in claimed {
        if state.federation.health.is_suspended(&d.host) {
            outcomes.push(Done {
                id: d.id,
                host: d.host,
                outcome: Outcome::Failed {
                    error: "the admin suspended this domain".into(),
                },
                health: None,
            });
            continue;
        }
        let open = state
            .federation
            .health
            .get(&d.host)
            .is_some_and(|h| h.is_open(now));
        let count = in_flight.get(&d.host).copied().unwrap_or(0);
        let body = bodies.get(&d.activity_id).cloned();
        if open || count >= limit(&d.host) {
            // Paused meanwhile, or more than this instance may take at once: back it goes.
            if open {
                Metrics::inc(&state.federation.metrics.deliveries_deferred);
            }
            outcomes.push(Done {
                id: d.id,
                host: d.host,
                outcome: Outcome::Released,
                health: None,
            });
            continue;
        }
        let Some(body) = body else {
            // The activity was withdrawn (an undone boost): nothing to send.
            outcomes.push(Done {
                id: d.id,
                host: d.host,
                outcome: Outcome::Delivered,
                health: None,
            });
            continue;
        };
        *in_flight.entry(d.host.clone()).or_insert(0) += 1;
        let (state, done) = (state.clone(), done.clone());
        tasks.spawn(async move {
            let host = d.host.clone();
            let finished = attempt(&state, d, &body).await;
            let _ = done.send(finished).await;
            host
        });
    }
    Ok(())
}

/// Sends one delivery and says what became of it.
async fn attempt(state: &AppState, d: Claimed, body: &str) -> Done {
    let sent = match keys::signing_key(&state.store, &state.federation.keys, &d.sender).await {
        Ok(key) => {
            state
                .federation
                .client
                .post_activity(&d.inbox, body, &key)
                .await
        }
        Err(e) => Err(FetchError::Network(
            d.inbox.clone(),
            format!("signing key: {e}"),
        )),
    };
    let (outcome, signal) = match sent {
        Ok(()) => {
            tracing::debug!(inbox = %d.inbox, "delivered");
            (Outcome::Delivered, Some(HostSignal::Up))
        }
        Err(e) => {
            let attempts = d.attempts + 1;
            let signal = host_signal(&e);
            let error = e.to_string();
            let outcome = if e.is_temporary() && policy::may_retry(attempts) {
                let delay = policy::retry_delay_secs(attempts, rand::random::<f64>());
                tracing::info!(inbox = %d.inbox, error = %error, attempt = attempts, retry_in_secs = delay, "delivery failed; will retry");
                Outcome::Retry {
                    next_attempt_at: now_ms() + delay * 1000,
                    error,
                }
            } else {
                tracing::info!(inbox = %d.inbox, error = %error, attempts, "delivery failed for good");
                Outcome::Failed { error }
            };
            (outcome, signal)
        }
    };
    let error = match &outcome {
        Outcome::Retry { error, .. } | Outcome::Failed { error } => Some(error.as_str()),
        _ => None,
    };
    let health = signal.map(|s| {
        state
            .federation
            .health
            .observe(&d.host, &s, error, now_ms())
    });
    Done {
        id: d.id,
        host: d.host,
        outcome,
        health,
    }
}

/// What a failed attempt says about the instance; None when the request never left.
fn host_signal(e: &FetchError) -> Option<HostSignal> {
    match e {
        FetchError::Network(..) => Some(HostSignal::Down),
        FetchError::Throttled(_, retry_after) => Some(HostSignal::Throttled {
            retry_after_secs: *retry_after,
        }),
        FetchError::Status(_, s) if s.is_server_error() || s.as_u16() == 408 => {
            Some(HostSignal::Down)
        }
        FetchError::Refused(..) => None,
        // It answered: the instance is up, whatever it thought of the request.
        _ => Some(HostSignal::Up),
    }
}

/// Writes the outcomes gathered so far, a batch per transaction.
async fn record(state: &AppState, outcomes: &mut Vec<Done>) {
    if outcomes.is_empty() {
        return;
    }
    for batch in outcomes.chunks(RECORD_BATCH) {
        for attempt in 1..=3 {
            match record_batch(state, batch).await {
                Ok(()) => break,
                Err(e) if attempt < 3 => {
                    tracing::warn!(error = %e, "recording delivery outcomes; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                // The rows keep their lease and are sent again when it runs out.
                Err(e) => tracing::error!(error = %e, "could not record delivery outcomes"),
            }
        }
    }
    outcomes.clear();
}

/// Per instance: its new health and what this batch added to its totals.
#[derive(Default)]
struct HostChange {
    health: HostHealth,
    delivered: i64,
    failed: i64,
    recovered: bool,
    became_unavailable: bool,
}

async fn record_batch(state: &AppState, batch: &[Done]) -> Result<()> {
    let now = now_ms();
    let m = &state.federation.metrics;
    let mut changes: HashMap<&str, HostChange> = HashMap::new();
    for d in batch {
        match &d.outcome {
            Outcome::Delivered => Metrics::inc(&m.deliveries_sent),
            Outcome::Retry { .. } => Metrics::inc(&m.deliveries_retried),
            Outcome::Failed { .. } => Metrics::inc(&m.deliveries_failed),
            Outcome::Released => {}
        }
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
    for d in batch {
        deliveries::record(&mut tx, &d.id, &d.outcome).await?;
    }
    for (host, change) in &changes {
        instances::save_health(
            &mut tx,
            host,
            &change.health,
            change.delivered,
            change.failed,
        )
        .await?;
        if change.recovered {
            deliveries::bring_forward(&mut tx, host, now).await?;
            tracing::info!(host = %host, "instance answers again; its deliveries resume");
        }
        if change.became_unavailable {
            let n = deliveries::drop_host(&mut tx, host, "the instance is unavailable").await?;
            Metrics::add(&m.deliveries_failed, n);
            tracing::warn!(host = %host, dropped = n, "instance unavailable after days of failures");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A signed request from `host` arrived: the instance is alive. Clears its failure state and
/// unavailable mark and lets its waiting deliveries go now. Cheap when nothing is wrong.
pub async fn heard_from(state: &AppState, host: &str) {
    let troubled = state
        .federation
        .health
        .hosts
        .lock()
        .expect("health book")
        .remove(host)
        .is_some();
    if !troubled {
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
    state
        .federation
        .health
        .hosts
        .lock()
        .expect("health book")
        .remove(host);
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn failures_are_read_as_signals_about_the_instance() {
        let s = |e: FetchError| host_signal(&e);
        assert_eq!(
            s(FetchError::Network("i".into(), "refused".into())),
            Some(HostSignal::Down)
        );
        assert_eq!(
            s(FetchError::Status("i".into(), StatusCode::BAD_GATEWAY)),
            Some(HostSignal::Down)
        );
        assert_eq!(
            s(FetchError::Status("i".into(), StatusCode::REQUEST_TIMEOUT)),
            Some(HostSignal::Down)
        );
        assert_eq!(
            s(FetchError::Status("i".into(), StatusCode::UNAUTHORIZED)),
            Some(HostSignal::Up)
        );
        assert_eq!(s(FetchError::Gone("i".into())), Some(HostSignal::Up));
        assert_eq!(
            s(FetchError::Throttled("i".into(), Some(30))),
            Some(HostSignal::Throttled {
                retry_after_secs: Some(30)
            })
        );
        assert_eq!(s(FetchError::Refused("i".into(), "private address")), None);
    }
}
