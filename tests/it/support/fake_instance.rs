//! A fake remote instance on loopback for delivery tests: inboxes at `/inbox/{name}` that
//! record what arrives, and can be switched down (503), throttling (429), or slow.
//! Followers on it are registered straight in the database of the instance under test.

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fedishop::db::Store;
use fedishop::domain::social::{Follow, FollowState, RemoteActor};
use serde_json::Value;

/// One activity that reached an inbox.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub inbox: String,
    pub id: String,
    pub kind: String,
    /// The object's id (or the object itself when it is a bare string).
    pub object: String,
}

#[derive(Default)]
struct Shared {
    /// Status answered instead of 202 (0 = accept).
    status: AtomicU16,
    retry_after: Mutex<Option<String>>,
    delay_ms: AtomicU64,
    /// Every POST, answered or not.
    hits: AtomicUsize,
    arrivals: Mutex<Vec<Arrival>>,
}

pub struct FakeInstance {
    /// `127.0.0.1:port`
    pub host: String,
    shared: Arc<Shared>,
}

impl FakeInstance {
    pub async fn start() -> FakeInstance {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/inbox/{name}", axum::routing::post(inbox))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeInstance { host, shared }
    }

    pub fn inbox(&self, name: &str) -> String {
        format!("http://{}/inbox/{name}", self.host)
    }

    /// Answer every POST with `status` (e.g. 503) instead of accepting; None = accept.
    pub fn answer(&self, status: Option<u16>, retry_after: Option<&str>) {
        self.shared
            .status
            .store(status.unwrap_or(0), Ordering::SeqCst);
        *self.shared.retry_after.lock().unwrap() = retry_after.map(str::to_string);
    }

    pub fn delay(&self, ms: u64) {
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.arrivals.lock().unwrap().clone()
    }

    /// Registers `name` on this instance as an accepted follower of `followee` (an actor id
    /// of the instance under test), with its own inbox.
    pub async fn follow(&self, store: &Store, followee: &str, name: &str) {
        let id = format!("http://{}/users/{name}", self.host);
        fedishop::db::remote_actors::upsert(
            store,
            &RemoteActor {
                id: id.clone(),
                kind: "Person".into(),
                username: name.into(),
                host: self.host.clone(),
                name: name.into(),
                summary_html: String::new(),
                url: None,
                icon_url: None,
                inbox: self.inbox(name),
                shared_inbox: None,
                followers: None,
                key_id: format!("{id}#main-key"),
                public_key_pem: String::new(),
                fetched_at: fedishop::domain::now_ms(),
            },
        )
        .await
        .expect("remote actor");
        fedishop::db::follows::upsert(
            store,
            &Follow {
                follower: id,
                followee: followee.into(),
                state: FollowState::Accepted,
                activity_id: format!("http://{}/follows/{name}", self.host),
                created_at: 0,
            },
        )
        .await
        .expect("follow");
    }
}

async fn inbox(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let delay = shared.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = shared.status.load(Ordering::SeqCst);
    if status != 0 {
        let mut response = StatusCode::from_u16(status).unwrap().into_response();
        if let Some(ra) = shared.retry_after.lock().unwrap().clone() {
            response
                .headers_mut()
                .insert("retry-after", ra.parse().unwrap());
        }
        return response;
    }
    if !headers.contains_key("signature") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let object = match &v["object"] {
        Value::String(s) => s.clone(),
        o => o["id"].as_str().unwrap_or_default().to_string(),
    };
    shared.arrivals.lock().unwrap().push(Arrival {
        inbox: name,
        id: v["id"].as_str().unwrap_or_default().to_string(),
        kind: v["type"].as_str().unwrap_or_default().to_string(),
        object,
    });
    StatusCode::ACCEPTED.into_response()
}
