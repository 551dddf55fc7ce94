//! The delivery worker: takes due rows of the persistent queue (`db::deliveries`) under a
//! lease, sends each as a signed POST (signed at send time, so every retry has a fresh Date),
//! and records the outcomes in batches.
//!
//! Per destination instance: at most `delivery_per_host` in flight (one probe while the
//! instance is failing), a circuit breaker that pauses it after failures in a row, and an
//! "unavailable" mark after days of failure (nothing queued for it until it is heard from).
//! Over all instances at most `delivery_concurrency` in flight, so dead instances cannot take
//! every slot and live ones are not kept waiting. Rules live in `domain::delivery`.
//!
//! The worker claims ahead: besides what is in flight it holds up to as many leased rows
//! again, waiting in memory per instance (at most the instance's limit again), so a slot that
//! frees is refilled at once instead of after a round trip to the database. The database work
//! runs beside the sends, one transaction at a time (`book`): the outcomes that came in, and
//! the next claim.
//!
//! Crash safety: a row leaves the queue only after its outcome is committed. A process killed
//! mid-send leaves leased rows that are sent again: at start-up on SQLite (one process per
//! file), within 30 s on PostgreSQL (leases are short and renewed while held). Receivers drop
//! the duplicates by activity id.

mod book;
mod health;
mod send;

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::task::{Id, JoinError, JoinSet};

use crate::db::deliveries::{self, Claimed, Outcome};
use crate::db::Backend;
use crate::domain::delivery::{HostHealth, Transition};
use crate::domain::now_ms;
use crate::error::Error;
use crate::federation::fetch::OutgoingBody;
use crate::metrics::Metrics;
use crate::server::AppState;

pub use health::{forget_health, heard_from, reload_health, HealthBook};

/// How long a claimed row stays with this process before another may take it. Renewed every
/// `RENEW_MS` while held, so a killed process's rows are free again within this time.
const LEASE_MS: i64 = 30_000;
const RENEW_MS: i64 = 10_000;
/// Failed deliveries are kept this long for the admin, then pruned.
const KEEP_FAILED_MS: i64 = 7 * 24 * 3_600_000;
/// Activity bodies kept in memory at most (one per activity being delivered).
const BODIES_KEPT: usize = 256;

/// One finished attempt, to be recorded.
struct Done {
    id: String,
    host: String,
    outcome: Outcome,
    /// The instance's health after this attempt, when it said something about it.
    health: Option<(HostHealth, Transition)>,
}

/// This process's rows of one instance.
#[derive(Default)]
struct HostRows {
    /// Claimed, waiting for a slot, oldest first.
    waiting: VecDeque<Claimed>,
    in_flight: usize,
    /// Whether it is in `Worker::runnable`.
    runnable: bool,
}

type Round = Pin<Box<dyn Future<Output = Result<book::Claim, (Error, Vec<Done>)>> + Send>>;

/// The worker's state between events.
struct Worker {
    state: AppState,
    owner: String,
    /// Sends in flight at most, over all instances.
    total: usize,
    per_host: usize,
    hosts: HashMap<String, HostRows>,
    /// Instances with rows waiting and a free slot, in turn.
    runnable: VecDeque<String>,
    waiting: usize,
    tasks: JoinSet<Done>,
    /// Each send's row and instance, to account for a send that panicked.
    running: HashMap<Id, (String, String)>,
    /// Activity bodies by id; `None` for one that was withdrawn.
    bodies: HashMap<String, Option<OutgoingBody>>,
    /// Finished, not yet recorded.
    outcomes: Vec<Done>,
    /// The last claim found fewer rows than it asked for, and nothing that could make more
    /// due has happened since.
    dry: bool,
    last_renew: i64,
    /// No bookkeeping before this time (after a failed round).
    pause_until: i64,
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
    let mut w = Worker {
        total: state.settings.delivery_concurrency.max(1),
        per_host: state.settings.delivery_per_host.max(1),
        state,
        owner,
        hosts: HashMap::new(),
        runnable: VecDeque::new(),
        waiting: 0,
        tasks: JoinSet::new(),
        running: HashMap::new(),
        bodies: HashMap::new(),
        outcomes: Vec::new(),
        dry: false,
        last_renew: now_ms(),
        pause_until: 0,
    };
    let mut round: Option<Round> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_reload = now_ms();
    let mut last_prune = 0_i64;
    loop {
        while let Some(joined) = w.tasks.try_join_next_with_id() {
            w.finished(joined);
        }
        w.fill();
        if round.is_none() {
            // Only between rounds: a round in progress may hold SQLite's write lock, and it
            // is not polled while this loop awaits something else.
            let now = now_ms();
            if now - last_reload > 30_000 {
                reload_health(&w.state).await;
                last_reload = now;
            }
            if now - last_prune > 3_600_000 {
                last_prune = now;
                if let Err(e) = deliveries::prune_failed(&w.state.store, now - KEEP_FAILED_MS).await
                {
                    tracing::warn!(error = %e, "could not prune failed deliveries");
                }
            }
            round = w.next_round();
        }
        tokio::select! {
            Some(joined) = w.tasks.join_next_with_id(), if !w.tasks.is_empty() => w.finished(joined),
            result = async { round.as_mut().expect("a round").await }, if round.is_some() => {
                round = None;
                w.after_round(result);
            }
            _ = w.state.federation.delivery_wake.notified() => w.dry = false,
            _ = tick.tick() => w.dry = false,
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
    // Stopping: what is in flight is abandoned and goes back to the queue with what waits.
    w.tasks.abort_all();
    while let Some(joined) = w.tasks.join_next_with_id().await {
        if let Ok((id, done)) = joined {
            w.running.remove(&id);
            w.outcomes.push(done);
        }
    }
    if let Some(r) = round.take() {
        w.after_round(r.await);
    }
    if !w.outcomes.is_empty() {
        let r = book::Round {
            outcomes: std::mem::take(&mut w.outcomes),
            claim: 0,
            skip_hosts: vec![],
            renew: false,
            known: HashSet::new(),
        };
        if let Err((e, _)) = book::round(w.state.clone(), w.owner.clone(), r).await {
            tracing::warn!(error = %e, "could not record delivery outcomes");
        }
    }
    if let Err(e) = deliveries::release_leases(&w.state.store, Some(&w.owner)).await {
        tracing::warn!(error = %e, "could not release delivery leases");
    }
}

impl Worker {
    /// Sends in flight and rows waiting for `host` at most: its limit (one while it fails).
    fn limit(&self, host: &str) -> usize {
        self.state
            .federation
            .health
            .get(host)
            .map_or(self.per_host, |h| h.in_flight_limit(self.per_host))
    }

    /// Starts sends from the waiting rows, instance by instance in turn, while slots are free.
    fn fill(&mut self) {
        let now = now_ms();
        while self.tasks.len() < self.total {
            let Some(host) = self.runnable.pop_front() else {
                break;
            };
            let health = self.state.federation.health.get(&host);
            let suspended = self.state.federation.health.is_suspended(&host);
            let limit = health
                .as_ref()
                .map_or(self.per_host, |h| h.in_flight_limit(self.per_host));
            let Some(rows) = self.hosts.get_mut(&host) else {
                continue;
            };
            rows.runnable = false;
            if suspended || health.as_ref().is_some_and(|h| h.is_open(now)) {
                // Paused or suspended meanwhile: back to the queue, or given up.
                for d in rows.waiting.drain(..) {
                    self.waiting -= 1;
                    let outcome = if suspended {
                        Outcome::Failed {
                            error: "the admin suspended this domain".into(),
                        }
                    } else {
                        Metrics::inc(&self.state.federation.metrics.deliveries_deferred);
                        Outcome::Released
                    };
                    self.outcomes.push(Done {
                        id: d.id,
                        host: d.host,
                        outcome,
                        health: None,
                    });
                }
            }
            while rows.in_flight < limit && self.tasks.len() < self.total {
                let Some(d) = rows.waiting.pop_front() else {
                    break;
                };
                self.waiting -= 1;
                let Some(Some(body)) = self.bodies.get(&d.activity_id).cloned() else {
                    // The activity was withdrawn (an undone boost): nothing to send.
                    self.outcomes.push(Done {
                        id: d.id,
                        host: d.host,
                        outcome: Outcome::Delivered,
                        health: None,
                    });
                    continue;
                };
                rows.in_flight += 1;
                let ids = (d.id.clone(), d.host.clone());
                let state = self.state.clone();
                let handle = self
                    .tasks
                    .spawn(async move { send::attempt(&state, d, &body).await });
                self.running.insert(handle.id(), ids);
            }
            if !rows.waiting.is_empty() && rows.in_flight < limit {
                // Out of slots: this instance goes first next time.
                rows.runnable = true;
                self.runnable.push_front(host);
                break;
            }
            if rows.waiting.is_empty() && rows.in_flight == 0 {
                self.hosts.remove(&host);
            }
        }
    }

    /// A send ended (or panicked: its row goes back to the queue).
    fn finished(&mut self, joined: Result<(Id, Done), JoinError>) {
        let (id, done) = match joined {
            Ok((id, done)) => (id, Some(done)),
            Err(e) => (e.id(), None),
        };
        let Some((row, host)) = self.running.remove(&id) else {
            return;
        };
        let done = done.unwrap_or_else(|| {
            tracing::error!(delivery = %row, "a delivery attempt panicked");
            Done {
                id: row,
                host: host.clone(),
                outcome: Outcome::Released,
                health: None,
            }
        });
        self.outcomes.push(done);
        if let Some(rows) = self.hosts.get_mut(&host) {
            rows.in_flight -= 1;
            if !rows.waiting.is_empty() {
                if !rows.runnable {
                    rows.runnable = true;
                    self.runnable.push_back(host);
                }
            } else if rows.in_flight == 0 {
                self.hosts.remove(&host);
            }
        }
    }

    /// The next round of bookkeeping, when there is something to do.
    fn next_round(&mut self) -> Option<Round> {
        let now = now_ms();
        if now < self.pause_until {
            return None;
        }
        let held = self.tasks.len() + self.waiting;
        let renew = held > 0 && now - self.last_renew > RENEW_MS;
        // Claim when a quarter of the allowance (twice `total`: in flight and waiting) is
        // free, unless the last claim came back short and nothing happened since that could
        // make more rows due.
        let room = (2 * self.total).saturating_sub(held);
        let unblocking = self
            .outcomes
            .iter()
            .any(|d| matches!(d.outcome, Outcome::Delivered | Outcome::Failed { .. }));
        let claim = if room > 0
            && (room >= (self.total / 4).max(1) || held == 0)
            && (!self.dry || unblocking)
        {
            room
        } else {
            0
        };
        if claim == 0 && self.outcomes.is_empty() && !renew {
            return None;
        }
        if renew {
            self.last_renew = now;
        }
        let skip_hosts = if claim > 0 {
            self.hosts
                .iter()
                .filter(|(h, r)| r.in_flight + r.waiting.len() >= 2 * self.limit(h))
                .map(|(h, _)| h.clone())
                .collect()
        } else {
            vec![]
        };
        let r = book::Round {
            outcomes: std::mem::take(&mut self.outcomes),
            claim,
            skip_hosts,
            renew,
            known: self.bodies.keys().cloned().collect(),
        };
        Some(Box::pin(book::round(
            self.state.clone(),
            self.owner.clone(),
            r,
        )))
    }

    /// Takes in what a round claimed; rows beyond an instance's share go back at once.
    fn after_round(&mut self, result: Result<book::Claim, (Error, Vec<Done>)>) {
        let claim = match result {
            Ok(claim) => claim,
            Err((e, outcomes)) => {
                tracing::warn!(error = %e, "delivery bookkeeping; trying again");
                // Keep the order in which they were observed.
                let newer = std::mem::replace(&mut self.outcomes, outcomes);
                self.outcomes.extend(newer);
                self.pause_until = now_ms() + 1000;
                return;
            }
        };
        if claim.asked > 0 {
            self.dry = claim.rows.len() < claim.asked;
        }
        if !claim.bodies.is_empty()
            || claim
                .rows
                .iter()
                .any(|d| !self.bodies.contains_key(&d.activity_id))
        {
            if self.bodies.len() > BODIES_KEPT {
                let wanted: HashSet<&str> = self
                    .hosts
                    .values()
                    .flat_map(|r| r.waiting.iter())
                    .chain(claim.rows.iter())
                    .map(|d| d.activity_id.as_str())
                    .collect();
                self.bodies.retain(|id, _| wanted.contains(id.as_str()));
            }
            let mut got: HashMap<String, String> = claim.bodies.into_iter().collect();
            for d in &claim.rows {
                if !self.bodies.contains_key(&d.activity_id) {
                    let body = got.remove(&d.activity_id).map(OutgoingBody::new);
                    self.bodies.insert(d.activity_id.clone(), body);
                }
            }
        }
        for d in claim.rows {
            let limit = self.limit(&d.host);
            let held = self
                .hosts
                .get(&d.host)
                .map_or(0, |r| r.in_flight + r.waiting.len());
            if held >= 2 * limit {
                // More than this instance may take soon: back it goes.
                self.outcomes.push(Done {
                    id: d.id,
                    host: d.host,
                    outcome: Outcome::Released,
                    health: None,
                });
                continue;
            }
            let rows = self.hosts.entry(d.host.clone()).or_default();
            if !rows.runnable && rows.in_flight < limit {
                rows.runnable = true;
                self.runnable.push_back(d.host.clone());
            }
            rows.waiting.push_back(d);
            self.waiting += 1;
        }
    }
}
