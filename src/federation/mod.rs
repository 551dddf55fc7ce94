//! ActivityPub federation: THE only module that speaks the protocol. `protocol` (wire shapes),
//! `signatures` (HTTP signatures), `fetch` (safe outgoing HTTP), `keys`, `actors`, `notes`
//! (products as Notes), `discovery` (WebFinger, NodeInfo, host-meta), `negotiate` (the same
//! URL serves HTML or AS2 JSON), `inbox` (verify) and `receive` (apply), `outbox` (domain
//! events -> activities + deliveries, in one transaction), `delivery` (the worker that
//! sends), `collections`, `orders` (buying from shops on other instances), and `social`
//! (follow, feed, like/boost/reply use cases shared by the web pages and the JSON API).
//! Domain rules stay in `domain`; SQL stays in `db`.

pub mod actors;
pub mod answers;
pub mod collections;
pub mod delivery;
pub mod discovery;
pub mod fetch;
pub mod inbox;
pub mod inbox_queue;
pub mod inbox_rate;
pub mod keys;
pub mod negotiate;
pub mod notes;
pub mod orders;
pub mod outbox;
pub mod protocol;
pub mod quotes;
pub mod receive;
pub mod signatures;
pub mod social;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;

use crate::server::AppState;

/// Federation state shared by handlers and workers.
pub struct Federation {
    pub client: fetch::Client,
    /// Parsed signing keys of local actors.
    pub keys: Mutex<HashMap<String, fetch::SigningKey>>,
    /// Wakes the outbox worker after a change was committed.
    pub outbox_wake: Notify,
    /// Wakes the delivery worker after deliveries were queued.
    pub delivery_wake: Notify,
    /// Health of failing destination instances (circuit breakers).
    pub health: delivery::HealthBook,
    /// Counters shown at `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The inbox's key cache, rate limiter and queue writer.
    pub inbox: inbox_queue::InboxState,
}

impl Federation {
    pub fn new(dev: bool, base_url: &str) -> Federation {
        Federation {
            client: fetch::Client::new(dev, base_url),
            keys: Mutex::new(HashMap::new()),
            outbox_wake: Notify::new(),
            delivery_wake: Notify::new(),
            health: delivery::HealthBook::default(),
            metrics: crate::metrics::Metrics::default(),
            inbox: inbox_queue::InboxState::new(),
        }
    }

    /// Call after committing a change that recorded an event.
    pub fn changed(&self) {
        self.outbox_wake.notify_one();
    }
}

/// Federation routes that have their own paths. Actor and product documents share their
/// URLs with the HTML pages; `negotiate` serves them.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/webfinger", get(discovery::webfinger))
        .route("/.well-known/host-meta", get(discovery::host_meta))
        .route("/.well-known/nodeinfo", get(discovery::nodeinfo_links))
        .route("/nodeinfo/2.0", get(discovery::nodeinfo_20))
        .route("/nodeinfo/2.1", get(discovery::nodeinfo_21))
        .route("/actor", get(negotiate::instance_actor))
        .route("/actor/outbox", get(collections::instance_outbox))
        .route("/actor/followers", get(collections::instance_followers))
        .route("/actor/following", get(collections::instance_following))
        .route("/users/{name}/notes/{id}", get(collections::user_note))
        .route("/shops/{handle}/notes/{id}", get(collections::user_note))
        .route(
            "/shops/{handle}/notes/{id}/activity",
            get(collections::user_note),
        )
        .route(
            "/users/{name}/notes/{id}/activity",
            get(collections::user_note),
        )
        .route("/inbox", post(inbox::shared_inbox).layer(inbox_limit()))
        .route(
            "/shops/{handle}/inbox",
            post(inbox::shop_inbox).layer(inbox_limit()),
        )
        .route(
            "/users/{name}/inbox",
            post(inbox::user_inbox).layer(inbox_limit()),
        )
        .route("/shops/{handle}/outbox", get(collections::shop_outbox))
        .route(
            "/shops/{handle}/followers",
            get(collections::shop_followers),
        )
        .route(
            "/shops/{handle}/following",
            get(collections::shop_following),
        )
        .route("/users/{name}/outbox", get(collections::user_outbox))
        .route("/users/{name}/followers", get(collections::user_followers))
        .route("/users/{name}/following", get(collections::user_following))
        .route(
            "/shops/{handle}/products/{id}/replies",
            get(collections::product_replies),
        )
        .route("/activities/{id}", get(collections::activity))
        .route(
            "/shops/{handle}/products/{id}/quotes/{stamp}",
            get(quotes::stamp),
        )
}

fn inbox_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(inbox::MAX_INBOX_BYTES)
}

/// Starts the outbox, delivery and inbox workers; they stop when `shutdown` fires.
pub fn start_workers(state: AppState, shutdown: tokio::sync::watch::Receiver<bool>) {
    inbox_queue::start(state.clone(), shutdown.clone());
    tokio::spawn(outbox::run(state.clone(), shutdown.clone()));
    tokio::spawn(delivery::run(state, shutdown));
}
