//! Consent to quote (FEP-044f, Mastodon 4.5+): product notes say anyone may quote them
//! (`interactionPolicy.canQuote.automaticApproval` = Public), and every `QuoteRequest` for a
//! published product is answered with an `Accept` whose `result` is a `QuoteAuthorization`
//! stamp. Stamps are not stored: the stamp URL names the quote, and the stamp is served for as
//! long as the product is published, because the policy approves every quote of it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde_json::{json, Value};

use super::fetch::authority;
use super::negotiate::activity_json;
use super::outbox::send_now;
use super::protocol::{id_of, str_of, AS_CONTEXT};
use crate::domain::catalog::service;
use crate::domain::ids::ProductId;
use crate::domain::social::RemoteActor;
use crate::error::{Error, Result};
use crate::server::AppState;

/// The `@context` of stamps and of our answers to quote requests.
fn quote_context() -> Value {
    json!([
        AS_CONTEXT,
        {
            "QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest",
            "QuoteAuthorization": "https://w3id.org/fep/044f#QuoteAuthorization",
            "gts": "https://gotosocial.org/ns#",
            "interactingObject": {"@id": "gts:interactingObject", "@type": "@id"},
            "interactionTarget": {"@id": "gts:interactionTarget", "@type": "@id"}
        }
    ])
}

/// The stamp URL authorising `quote` to quote `product`.
pub fn stamp_url(product: &str, quote: &str) -> String {
    format!("{product}/quotes/{}", B64URL.encode(quote))
}

/// Answers a `QuoteRequest` from `signer` for one of our published products.
pub async fn request(state: &AppState, signer: &RemoteActor, a: &Value) -> Result<()> {
    let request_id = str_of(a, "id").unwrap_or_default();
    let product = a
        .get("object")
        .and_then(id_of)
        .ok_or_else(|| Error::bad_request("QuoteRequest without object"))?;
    let instrument = a
        .get("instrument")
        .ok_or_else(|| Error::bad_request("QuoteRequest without instrument"))?;
    let quote = id_of(instrument).ok_or_else(|| Error::bad_request("instrument without id"))?;
    let on_signer_host = url::Url::parse(quote)
        .ok()
        .and_then(|u| authority(&u))
        .is_some_and(|h| h == signer.host);
    if !on_signer_host {
        return Err(Error::forbidden("the quote is not on the requester's host"));
    }
    if instrument.is_object()
        && instrument.get("attributedTo").and_then(id_of) != Some(signer.id.as_str())
    {
        return Err(Error::forbidden("the quote is not the requester's"));
    }
    let Some((handle, pid)) = state.urls.parse_product(product) else {
        return Err(Error::not_found("product"));
    };
    let (shop, _) = service::visible_product(&state.store, None, &pid).await?;
    if shop.handle != handle {
        return Err(Error::not_found("product"));
    }
    let author = state.urls.shop(&shop.handle);
    let activity = json!({
        "@context": quote_context(),
        "id": state.urls.new_activity(),
        "type": "Accept",
        "actor": author,
        "to": [signer.id],
        "object": {
            "id": request_id,
            "type": "QuoteRequest",
            "actor": signer.id,
            "object": product,
            "instrument": quote,
        },
        "result": stamp_url(product, quote),
    });
    send_now(
        state,
        &activity,
        &author,
        request_id,
        std::slice::from_ref(&signer.inbox),
        false,
    )
    .await
}

/// `GET /shops/{handle}/products/{id}/quotes/{stamp}`: a `QuoteAuthorization`.
pub async fn stamp(
    State(state): State<AppState>,
    Path((handle, id, stamp)): Path<(String, String, String)>,
) -> Response {
    let Some(pid) = ProductId::parse(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let quote = B64URL
        .decode(stamp.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|q| q.starts_with("https://") || q.starts_with("http://"));
    let Some(quote) = quote else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match service::visible_product(&state.store, None, &pid).await {
        Ok((shop, _)) if shop.handle == handle => {
            let product = state.urls.product(&handle, &pid);
            activity_json(json!({
                "@context": quote_context(),
                "id": stamp_url(&product, &quote),
                "type": "QuoteAuthorization",
                "attributedTo": state.urls.shop(&handle),
                "interactingObject": quote,
                "interactionTarget": product,
            }))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
