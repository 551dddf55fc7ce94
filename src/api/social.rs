//! Following, the home feed, likes/boosts/replies and follower approval over JSON. Every
//! handler calls the same `federation::social` use case as the web pages.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::input::{or_empty, Fields, JsonObject};
use super::{ApiResult, ApiUser};
use crate::domain::social::{FeedItem, Follow, FollowState, ReactionKind};
use crate::error::{Error, Problem};
use crate::federation::social::{self, Target};
use crate::server::AppState;

#[derive(Serialize)]
pub struct FollowDto {
    /// The followed actor's ActivityPub id.
    pub target: String,
    pub handle: String,
    pub name: String,
    /// `accepted`, or `pending` until the followee approves.
    pub state: &'static str,
}

impl FollowDto {
    fn of(state: &AppState, t: &Target, st: FollowState) -> FollowDto {
        FollowDto {
            target: t.id(state),
            handle: t.handle(state),
            name: t.name(),
            state: st.as_str(),
        }
    }
    fn listed(f: &Follow, handle: String, name: String, target: String) -> FollowDto {
        FollowDto {
            target,
            handle,
            name,
            state: f.state.as_str(),
        }
    }
}

fn target_field(body: &serde_json::Map<String, serde_json::Value>) -> Result<String, Error> {
    let mut f = Fields::new(body);
    let target = or_empty(f.string("target"));
    if target.trim().is_empty() && f.errors.is_empty() {
        f.errors.add("target", Problem::Required);
    }
    f.finish()?;
    Ok(target)
}

/// `POST /api/v1/follows {"target": "@shop@host" | actor URL}`: 201 when following at once,
/// 202 while the followee has to approve.
pub async fn follow(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<FollowDto>)> {
    let target = target_field(&body)?;
    let (t, st) = social::follow(&state, &user, &target).await?;
    let status = match st {
        FollowState::Accepted => StatusCode::CREATED,
        FollowState::Pending => StatusCode::ACCEPTED,
    };
    Ok((status, Json(FollowDto::of(&state, &t, st))))
}

#[derive(Deserialize)]
pub struct TargetQuery {
    target: Option<String>,
}

/// `DELETE /api/v1/follows` with `{"target": …}` (or `?target=`): 204.
pub async fn unfollow(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<TargetQuery>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let target = match q.target {
        Some(t) if !t.trim().is_empty() => t,
        _ if body.iter().all(u8::is_ascii_whitespace) => {
            return Err(Error::field("target", Problem::Required).into())
        }
        _ => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(b)) => target_field(&b)?,
            _ => return Err(Error::bad_request("the body must be a JSON object").into()),
        },
    };
    social::unfollow(&state, &user, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/follows`: whom the member follows (and requests still pending).
pub async fn list_follows(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Json<serde_json::Value>> {
    let rows = social::following(&state, &user).await?;
    let items: Vec<FollowDto> = rows
        .into_iter()
        .map(|(f, h, n)| {
            let target = f.followee.clone();
            FollowDto::listed(&f, h, n, target)
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

#[derive(Serialize)]
pub struct ShopRefDto {
    pub id: String,
    pub handle: String,
    pub name: String,
}

#[derive(Serialize)]
pub struct FeedItemDto {
    /// The product's ActivityPub id.
    pub id: String,
    pub title: String,
    /// Decimal string, e.g. "24.00".
    pub price: String,
    pub currency: String,
    pub stock: Option<i64>,
    pub url: String,
    pub image_url: Option<String>,
    pub image_alt: Option<String>,
    pub summary_html: String,
    pub published: String,
    pub shop: ShopRefDto,
}

impl FeedItemDto {
    fn of(i: FeedItem) -> FeedItemDto {
        FeedItemDto {
            price: i.price.amount_string(),
            currency: i.price.currency.code.to_string(),
            published: crate::domain::rfc3339(i.published),
            shop: ShopRefDto {
                id: i.shop_id,
                handle: i.shop_handle,
                name: i.shop_name,
            },
            id: i.id,
            title: i.title,
            stock: i.stock,
            url: i.url,
            image_url: i.image_url,
            image_alt: i.image_alt,
            summary_html: i.summary_html,
        }
    }
}

#[derive(Deserialize)]
pub struct FeedQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/feed?limit=`: products of every shop the member follows, newest first.
pub async fn feed(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<FeedQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let items = social::feed(&state, &user, q.limit.unwrap_or(50)).await?;
    let items: Vec<FeedItemDto> = items.into_iter().map(FeedItemDto::of).collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

fn reaction_fields(
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<(String, ReactionKind), Error> {
    let mut f = Fields::new(body);
    let object = or_empty(f.string("object"));
    let kind = or_empty(f.string("type"));
    if object.trim().is_empty() {
        f.errors.add("object", Problem::Required);
    }
    let parsed = ReactionKind::parse(kind.trim());
    if parsed.is_none() {
        f.errors.add("type", Problem::InvalidChoice);
    }
    f.finish()?;
    Ok((object.trim().to_string(), parsed.expect("checked")))
}

/// `POST /api/v1/reactions {"object": product id, "type": "like" | "boost"}`: 201.
pub async fn react(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let (object, kind) = reaction_fields(&body)?;
    social::react(&state, &user, &object, kind).await?;
    Ok(StatusCode::CREATED)
}

/// `DELETE /api/v1/reactions {"object", "type"}`: 204.
pub async fn unreact(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let (object, kind) = reaction_fields(&body)?;
    social::unreact(&state, &user, &object, kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/replies {"object": product id, "content": text}`: 201 with the reply.
pub async fn reply(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let mut f = Fields::new(&body);
    let object = or_empty(f.string("object"));
    let content = or_empty(f.string("content"));
    if object.trim().is_empty() {
        f.errors.add("object", Problem::Required);
    }
    f.finish()?;
    let r = social::reply(&state, &user, object.trim(), &content).await?;
    Ok((StatusCode::CREATED, Json(reply_json(&r))))
}

/// `POST /api/v1/shops/{handle}/replies {"in_reply_to": product or reply id, "content"}`:
/// the shop answers, 201 with the answer.
pub async fn shop_reply(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let mut f = Fields::new(&body);
    let in_reply_to = or_empty(f.string("in_reply_to"));
    let content = or_empty(f.string("content"));
    if in_reply_to.trim().is_empty() {
        f.errors.add("in_reply_to", Problem::Required);
    }
    f.finish()?;
    let r =
        crate::federation::answers::answer(&state, &user, &handle, in_reply_to.trim(), &content)
            .await?;
    Ok((StatusCode::CREATED, Json(reply_json(&r))))
}

fn reply_json(r: &crate::domain::social::Reply) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "in_reply_to": r.in_reply_to,
        "content_html": r.content_html,
        "published": crate::domain::rfc3339(r.published),
    })
}

#[derive(Deserialize)]
pub struct StateQuery {
    state: Option<String>,
}

/// `GET /api/v1/shops/{handle}/followers?state=accepted|pending` (shop managers only).
pub async fn shop_followers(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
    Query(q): Query<StateQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let st = match q.state.as_deref() {
        None | Some("accepted") => FollowState::Accepted,
        Some("pending") => FollowState::Pending,
        Some(_) => return Err(Error::field("state", Problem::InvalidChoice).into()),
    };
    let rows = social::shop_followers(&state, &user, &handle, st).await?;
    let items: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(f, h, n)| {
            serde_json::json!({
                "actor": f.follower,
                "handle": h,
                "name": n,
                "state": f.state.as_str(),
                "since": crate::domain::rfc3339(f.created_at),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `POST /api/v1/shops/{handle}/followers {"actor", "action": "approve"|"reject"|"remove"}`:
/// 204.
pub async fn answer_follower(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let mut f = Fields::new(&body);
    let actor = or_empty(f.string("actor"));
    let action = or_empty(f.string("action"));
    if actor.trim().is_empty() {
        f.errors.add("actor", Problem::Required);
    }
    let accept = match action.as_str() {
        "approve" => Some(true),
        "reject" | "remove" => Some(false),
        _ => {
            f.errors.add("action", Problem::InvalidChoice);
            None
        }
    };
    f.finish()?;
    social::answer_follower(
        &state,
        &user,
        &handle,
        actor.trim(),
        accept.expect("checked"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
