//! From domain events to activities: the outbox worker reads events that were written in the
//! same transaction as each change, decides what followers must hear (Create, Update only
//! when what readers see changed, Delete), and in one transaction stores the activity, queues
//! one delivery per inbox and marks the event done. Nothing waits in memory.

use std::time::Duration;

use serde_json::{json, Value};

use super::fetch::authority;
use super::notes::{product_note, reader_hash};
use super::protocol::{self, PUBLIC};
use crate::db::deliveries::NewDelivery;
use crate::db::{self, outbox, outbox::NewActivity, Tx};
use crate::domain::catalog::service;
use crate::domain::delivery::host_matches_domain;
use crate::domain::events::Event;
use crate::domain::ids::{ProductId, ShopId};
use crate::domain::{now_ms, rfc3339};
use crate::error::Result;
use crate::server::AppState;

/// Runs until `shutdown` turns true.
pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        match process_pending(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox worker"),
        }
        tokio::select! {
            _ = state.federation.outbox_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Handles up to 50 pending events; returns how many.
pub async fn process_pending(state: &AppState) -> Result<usize> {
    let events = outbox::pending_events(&state.store, 50).await?;
    let n = events.len();
    for ev in events {
        if let Err(e) = process_one(state, &ev).await {
            tracing::warn!(error = ?e, event = %ev.id, kind = %ev.kind, "could not federate a change");
            outbox::event_failed(
                &state.store,
                &ev.id,
                &e.to_string(),
                MAX_EVENT_ATTEMPTS,
                now_ms(),
            )
            .await?;
        }
    }
    if n > 0 {
        state.federation.delivery_wake.notify_one();
    }
    Ok(n)
}

/// Attempts per event before it is set aside with its error.
const MAX_EVENT_ATTEMPTS: i64 = 10;

/// What one event leads to, worked out before any transaction opens.
#[derive(Default)]
struct Plan {
    /// (object id, actor, reader hash, `live` or `deleted`) to remember.
    remember: Option<(String, String, String, &'static str)>,
    /// (activity, actor, object id, inboxes, public) to store and deliver.
    send: Option<(Value, String, String, Vec<String>, bool)>,
}

async fn process_one(state: &AppState, ev: &outbox::EventRow) -> Result<()> {
    // All reads (and making a key) happen first. The transaction below only writes: on SQLite
    // it holds the write lock, and waiting there for another pooled connection could leave
    // every connection waiting for that lock.
    let plan = match Event::from_stored(&ev.kind, &ev.subject, &ev.payload) {
        Some(event) => plan(state, &event).await?,
        None => Plan::default(),
    };
    let mut tx = state.store.begin().await?;
    // Claim the event first: with several processes, the one that loses waits here and
    // then rolls back instead of sending the same change twice.
    if !outbox::mark_event_processed(&mut tx, &ev.id, now_ms()).await? {
        tx.rollback().await?;
        return Ok(());
    }
    if let Some((id, actor, hash, st)) = &plan.remember {
        outbox::set_federated_object(&mut tx, id, actor, hash, st, now_ms()).await?;
    }
    if let Some((activity, actor, object_id, inboxes, public)) = &plan.send {
        enqueue(&mut tx, activity, actor, object_id, inboxes, *public).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn plan(state: &AppState, event: &Event) -> Result<Plan> {
    match event {
        Event::ProductChanged { product_id } => {
            let Some(id) = ProductId::parse(product_id) else {
                return Ok(Plan::default());
            };
            let Ok(product) = service::product_by_id(&state.store, &id).await else {
                return Ok(Plan::default()); // deleted since; its ProductDeleted event follows
            };
            let shop = service::shop_by_id(&state.store, &product.shop_id).await?;
            let note = product_note(&state.urls, &shop, &product);
            let actor = state.urls.shop(&shop.handle);
            let sent = outbox::federated_object(&state.store, &note.id).await?;
            let live = sent.as_ref().is_some_and(|(_, s)| s == "live");
            let hash = reader_hash(&note);
            let kind = if product.is_public() {
                match &sent {
                    Some((h, s)) if s == "live" && *h == hash => return Ok(Plan::default()),
                    Some((_, s)) if s == "live" => "Update",
                    _ => "Create",
                }
            } else if live {
                "Delete"
            } else {
                return Ok(Plan::default());
            };
            let object = if kind == "Delete" {
                tombstone(&note.id)
            } else {
                let mut v = serde_json::to_value(&note).map_err(crate::error::Error::internal)?;
                if let Some(o) = v.as_object_mut() {
                    o.remove("@context");
                    if kind == "Update" {
                        o.insert("updated".into(), json!(rfc3339(now_ms())));
                    }
                }
                v
            };
            let state_after = if kind == "Delete" { "deleted" } else { "live" };
            let activity = wrap(state, kind, &actor, object, true);
            let inboxes = db::follows::follower_inboxes(&state.store, &actor).await?;
            Ok(Plan {
                remember: Some((note.id.clone(), actor.clone(), hash, state_after)),
                send: Some((activity, actor, note.id, inboxes, true)),
            })
        }
        Event::ProductDeleted {
            product_id,
            shop_handle,
        } => {
            let Some(id) = ProductId::parse(product_id) else {
                return Ok(Plan::default());
            };
            let object_id = state.urls.product(shop_handle, &id);
            let actor = state.urls.shop(shop_handle);
            match outbox::federated_object(&state.store, &object_id).await? {
                Some((hash, s)) if s == "live" => {
                    let activity = wrap(state, "Delete", &actor, tombstone(&object_id), true);
                    let inboxes = db::follows::follower_inboxes(&state.store, &actor).await?;
                    Ok(Plan {
                        remember: Some((object_id.clone(), actor.clone(), hash, "deleted")),
                        send: Some((activity, actor, object_id, inboxes, true)),
                    })
                }
                Some(_) => Ok(Plan::default()),
                // Never announced: remember the tombstone so fetches answer 410.
                None => Ok(Plan {
                    remember: Some((object_id, actor, String::new(), "deleted")),
                    send: None,
                }),
            }
        }
        Event::ShopChanged { shop_id } => {
            let Ok(shop) =
                service::shop_by_id(&state.store, &ShopId::from_db(shop_id.clone())).await
            else {
                return Ok(Plan::default());
            };
            let actor = state.urls.shop(&shop.handle);
            let inboxes = db::follows::follower_inboxes(&state.store, &actor).await?;
            if inboxes.is_empty() {
                return Ok(Plan::default());
            }
            let actor_doc = super::actors::shop_actor(state, &shop).await?;
            let mut object =
                serde_json::to_value(&actor_doc).map_err(crate::error::Error::internal)?;
            if let Some(o) = object.as_object_mut() {
                o.remove("@context");
            }
            let mut activity = wrap(state, "Update", &actor, object, false);
            activity["@context"] = protocol::actor_context();
            Ok(Plan {
                remember: None,
                send: Some((activity, actor.clone(), actor, inboxes, false)),
            })
        }
        // A remote buyer hears from the shop, privately, at its own inbox; guests and local
        // members need no activity.
        Event::OrderPlaced { order_id } | Event::OrderStatusChanged { order_id, .. } => {
            let placed = matches!(event, Event::OrderPlaced { .. });
            Ok(
                match super::orders::announce::order_activity(state, order_id, placed).await? {
                    Some(o) => Plan {
                        remember: None,
                        send: Some((o.activity, o.actor, o.object_id, vec![o.inbox], false)),
                    },
                    None => Plan::default(),
                },
            )
        }
    }
}

fn tombstone(id: &str) -> Value {
    json!({"id": id, "type": "Tombstone"})
}

/// An activity by `actor` about `object`, addressed to the public and the actor's followers
/// (`public`) or to the followers only.
pub fn wrap(state: &AppState, kind: &str, actor: &str, object: Value, public: bool) -> Value {
    let followers = format!("{actor}/followers");
    let (to, cc) = if public {
        (json!([PUBLIC]), json!([followers]))
    } else {
        (json!([followers]), json!([]))
    };
    json!({
        "@context": if kind == "Create" || kind == "Update" { protocol::note_context() } else { json!(protocol::AS_CONTEXT) },
        "id": state.urls.new_activity(),
        "type": kind,
        "actor": actor,
        "published": rfc3339(now_ms()),
        "to": to,
        "cc": cc,
        "object": object,
    })
}

/// Stores `activity` and queues its deliveries in `tx`: one per inbox, none to unavailable
/// instances or to domains the admin suspended.
pub async fn enqueue(
    tx: &mut Tx,
    activity: &Value,
    actor: &str,
    object_id: &str,
    inboxes: &[String],
    public: bool,
) -> Result<()> {
    let body = activity.to_string();
    let unavailable = db::instances::unavailable_hosts(tx).await?;
    let suspended = db::instances::suspended_domains(tx).await?;
    let hosts: Vec<Option<String>> = inboxes
        .iter()
        .map(|inbox| {
            let host = url::Url::parse(inbox).ok().and_then(|u| authority(&u))?;
            let blocked = unavailable.contains(&host)
                || suspended.iter().any(|d| host_matches_domain(&host, d));
            (!blocked).then_some(host)
        })
        .collect();
    let deliveries: Vec<NewDelivery> = inboxes
        .iter()
        .zip(&hosts)
        .filter_map(|(inbox, host)| {
            host.as_deref().map(|host| NewDelivery {
                inbox: inbox.as_str(),
                host,
            })
        })
        .collect();
    if deliveries.len() < inboxes.len() {
        tracing::debug!(
            skipped = inboxes.len() - deliveries.len(),
            "not queued for unavailable or suspended instances"
        );
    }
    outbox::enqueue(
        tx,
        &NewActivity {
            id: activity["id"].as_str().unwrap_or_default(),
            actor,
            kind: activity["type"].as_str().unwrap_or_default(),
            object: object_id,
            body: &body,
            public,
        },
        &deliveries,
        now_ms(),
    )
    .await
}

/// Stores and queues one activity in its own transaction, then wakes the delivery worker.
/// For activities that are themselves the change (Follow, Accept, Like, …).
pub async fn send_now(
    state: &AppState,
    activity: &Value,
    actor: &str,
    object_id: &str,
    inboxes: &[String],
    public: bool,
) -> Result<()> {
    let mut tx = state.store.begin().await?;
    enqueue(&mut tx, activity, actor, object_id, inboxes, public).await?;
    tx.commit().await?;
    state.federation.delivery_wake.notify_one();
    Ok(())
}
