//! The social forms: following and unfollowing (`POST /follows`, `POST /follows/remove`),
//! likes, boosts and replies (`POST /interact/{action}`), and a seller answering follow
//! requests (`POST /dashboard/shops/{handle}/followers`). Each checks the CSRF token, calls the
//! `federation::social` use case, and redirects to a local `back` path; problems come back on
//! the feed or product page with what was typed.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::domain::accounts::User;
use crate::domain::catalog::service;
use crate::domain::social::ReactionKind;
use crate::error::{Error, ErrorKind, Problem};
use crate::federation::social;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::{Errs, FormData};
use crate::web::home_feed::{self, FollowForm, ReplyDraft};
use crate::web::i18n::Lang;
use crate::web::render::see_other;
use crate::web::social_views::{local_back, local_path};
use crate::web::storefront;

/// Longest `@name@host` or actor URL accepted in the follow form.
const MAX_TARGET_CHARS: usize = 2048;

fn target_problem(target: &str) -> Option<Problem> {
    if target.is_empty() {
        Some(Problem::Required)
    } else if target.chars().count() > MAX_TARGET_CHARS {
        Some(Problem::TooLong {
            max: MAX_TARGET_CHARS,
        })
    } else if target.chars().any(char::is_control) {
        Some(Problem::ForbiddenCharacters)
    } else {
        None
    }
}

/// What to tell the visitor when following `target` failed: (message key, server's detail).
/// `None` for failures that are not about the target (they become error pages).
fn follow_problem(e: &Error) -> Option<(&'static str, Option<String>)> {
    let detail = Some(e.message.clone());
    Some(match e.kind {
        ErrorKind::BadRequest if e.message.contains("yourself") => ("follow.error.self", None),
        ErrorKind::BadRequest if e.message.contains("@name@host") => ("follow.error.format", None),
        ErrorKind::BadRequest => ("follow.error.refused", detail),
        ErrorKind::NotFound if e.message.ends_with("not found") => ("follow.error.not_found", None),
        ErrorKind::NotFound => ("follow.error.not_found", detail),
        ErrorKind::BadGateway => ("follow.error.unreachable", detail),
        _ => return None,
    })
}

/// The feed page with the follow form showing `message` about `target`.
async fn follow_form_again(
    state: &AppState,
    v: &Visitor,
    target: String,
    message: String,
    detail: Option<String>,
) -> WebResult {
    let f = FollowForm {
        target,
        e: Errs::with_field("target", message),
        detail,
    };
    home_feed::render(state, v, f, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

async fn follow_failed(state: &AppState, v: &Visitor, target: String, e: Error) -> WebResult {
    match follow_problem(&e) {
        Some((key, detail)) => {
            follow_form_again(state, v, target, v.lang.s(key).to_string(), detail).await
        }
        None => Err(e.into()),
    }
}

/// `POST /follows` (`target`: `@shop@host` or an actor URL; `back`).
pub async fn follow(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let target = form.text("target").trim().to_string();
    if let Some(p) = form
        .problems
        .get("target")
        .cloned()
        .or(target_problem(&target))
    {
        let message = v.lang.problem(&p);
        return follow_form_again(&state, &v, target, message, None).await;
    }
    match social::follow(&state, user, &target).await {
        Ok(_) => Ok(see_other(&local_back(form.text("back"), "/feed"))),
        Err(e) => follow_failed(&state, &v, target, e).await,
    }
}

/// `POST /follows/remove` (`target`, `back`): stops following, or withdraws a request.
pub async fn unfollow(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let target = form.text("target").trim().to_string();
    if let Some(p) = target_problem(&target) {
        let message = v.lang.problem(&p);
        return follow_form_again(&state, &v, target, message, None).await;
    }
    match social::unfollow(&state, user, &target).await {
        // Not following (any more): nothing to do, e.g. after a double click.
        Ok(()) => {}
        Err(e) if e.kind == ErrorKind::NotFound && e.message == "follow not found" => {}
        Err(e) => return follow_failed(&state, &v, target, e).await,
    }
    Ok(see_other(&local_back(form.text("back"), "/feed")))
}

/// `POST /interact/{like|unlike|boost|unboost|reply}` (`object`: a product's ActivityPub id;
/// `back`; `content` for replies).
pub async fn interact(
    State(state): State<AppState>,
    v: Visitor,
    Path(action): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let object = form.text("object").trim();
    if object.is_empty() {
        return Err(Error::bad_request("no object").into());
    }
    let fallback = match state.urls.parse_product(object) {
        Some(_) => local_path(&state, object).unwrap_or_else(|| "/feed".to_string()),
        None => "/feed".to_string(),
    };
    let back = local_back(form.text("back"), &fallback);
    let undo = |r: Result<(), Error>| match r {
        // Already withdrawn: nothing to do.
        Err(e) if e.kind == ErrorKind::NotFound && e.message == "reaction not found" => Ok(()),
        other => other,
    };
    match action.as_str() {
        "like" => social::react(&state, user, object, ReactionKind::Like).await?,
        "boost" => social::react(&state, user, object, ReactionKind::Announce).await?,
        "unlike" => undo(social::unreact(&state, user, object, ReactionKind::Like).await)?,
        "unboost" => undo(social::unreact(&state, user, object, ReactionKind::Announce).await)?,
        "reply" => return reply(&state, &v, user, object, &form, back).await,
        _ => return Err(Error::not_found("page").into()),
    }
    Ok(see_other(&back))
}

/// The message for a reply that was refused as invalid.
fn reply_message(t: Lang, e: &Error) -> String {
    e.fields
        .get("content")
        .or_else(|| e.fields.0.values().next())
        .map_or_else(|| t.s("form.has_errors").to_string(), |p| t.problem(p))
}

async fn reply(
    state: &AppState,
    v: &Visitor,
    user: &User,
    object: &str,
    form: &FormData,
    back: String,
) -> WebResult {
    let text = form.text("content");
    let result = match form.problems.get("content") {
        Some(p) => Err(Error::field("content", p.clone())),
        None => social::reply(state, user, object, text).await.map(|_| ()),
    };
    let e = match result {
        Ok(()) => return Ok(see_other(&back)),
        Err(e) if e.kind == ErrorKind::Validation => e,
        Err(e) => return Err(e.into()),
    };
    let message = reply_message(v.lang, &e);
    // From one of our product pages: show it again there.
    if let Some((handle, id)) = state.urls.parse_product(object) {
        if back.starts_with(&Urls::product_path(&handle, &id)) {
            let (shop, product) = service::visible_product(&state.store, Some(user), &id).await?;
            let draft = (text.to_string(), message);
            return storefront::product_page_with_draft(state, v, &shop, &product, draft).await;
        }
    }
    let draft = ReplyDraft {
        object: object.to_string(),
        text: text.to_string(),
        message,
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    home_feed::render(state, v, FollowForm::default(), Some(draft), status).await
}

/// `POST /dashboard/shops/{handle}/answers` (`in_reply_to`, `content`): the seller answers a
/// reply as the shop.
pub async fn answer(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let in_reply_to = form.text("in_reply_to").trim();
    crate::federation::answers::answer(&state, user, &handle, in_reply_to, form.text("content"))
        .await?;
    Ok(see_other(&format!(
        "/dashboard/shops/{handle}#activity-heading"
    )))
}

/// `POST /dashboard/shops/{handle}/followers` (`actor`; `action`: approve, reject or remove).
pub async fn answer_follower(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let shop = service::managed_shop(&state.store, user, &handle).await?;
    let actor = form.text("actor").trim();
    let accept = match form.text("action") {
        "approve" => true,
        "reject" | "remove" => false,
        _ => return Err(Error::bad_request("unknown action").into()),
    };
    match social::answer_follower(&state, user, &shop.handle, actor, accept).await {
        Ok(()) => {}
        // Already answered (a second click, or they left meanwhile).
        Err(e) if e.kind == ErrorKind::NotFound && e.message == "follower not found" => {}
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!(
        "/dashboard/shops/{}#followers",
        shop.handle
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_failures_get_messages() {
        let e = Error::bad_request("give an account as @name@host or an actor URL");
        assert_eq!(follow_problem(&e).unwrap().0, "follow.error.format");
        let e = Error::bad_request("you cannot follow yourself");
        assert_eq!(follow_problem(&e).unwrap().0, "follow.error.self");
        let e = Error::bad_gateway("could not reach example.org");
        assert_eq!(
            follow_problem(&e),
            Some((
                "follow.error.unreachable",
                Some("could not reach example.org".to_string())
            ))
        );
        assert_eq!(
            follow_problem(&Error::not_found("account")),
            Some(("follow.error.not_found", None))
        );
        assert!(follow_problem(&Error::forbidden("no")).is_none());
        assert_eq!(target_problem(""), Some(Problem::Required));
        assert_eq!(
            target_problem("a\u{0}b"),
            Some(Problem::ForbiddenCharacters)
        );
        assert_eq!(target_problem("@tea@shop.example"), None);
    }
}
