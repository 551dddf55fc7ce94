//! Errors on the HTML side: `WebError` (what handlers return), and the layer that turns any
//! error status from a web route (ours or an axum rejection) into a translated HTML page.

use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{Error, ErrorKind};
use crate::web::ctx::{lang_of, Visitor};
use crate::web::i18n::Lang;
use crate::web::render::{see_other, Chrome, Rendered, UserChip, HTML};

/// Why a page handler gave up.
#[derive(Debug)]
pub enum WebError {
    /// A domain or infrastructure error; its kind picks the status.
    Domain(Error),
    /// The form's CSRF token did not match the cookie.
    Csrf,
}

pub type WebResult<T = Response> = Result<T, WebError>;

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError::Domain(e)
    }
}

/// Which error page to show; carried from `WebError` to the layer in response extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorPageKind {
    Status,
    Csrf,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, kind) = match self {
            WebError::Csrf => (StatusCode::FORBIDDEN, ErrorPageKind::Csrf),
            WebError::Domain(e) => {
                if e.kind == ErrorKind::Unauthorized {
                    return see_other("/login");
                }
                if e.kind == ErrorKind::Internal {
                    tracing::error!(error = %e, "web request failed");
                }
                let status =
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, ErrorPageKind::Status)
            }
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(kind);
        resp
    }
}

/// Filled by the `Visitor` extractor so an error page can show the same header as the page
/// that failed (language, signed-in user).
#[derive(Default)]
pub struct ErrorSlot {
    seen: OnceLock<SlotView>,
}

struct SlotView {
    lang: Lang,
    user: Option<UserChip>,
    csrf: String,
    path: String,
}

impl ErrorSlot {
    pub fn fill(&self, v: &Visitor) {
        let _ = self.seen.set(SlotView {
            lang: v.lang,
            user: v.user.as_ref().map(UserChip::of),
            csrf: v.csrf_cookie().unwrap_or_default().to_string(),
            path: v.path_and_query.clone(),
        });
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: Lang,
    c: Chrome,
    status: u16,
    title: &'static str,
    message: &'static str,
}

/// Middleware for web routes: error statuses without a rendered page get a translated one.
pub async fn error_pages(mut req: Request, next: Next) -> Response {
    let slot = Arc::new(ErrorSlot::default());
    req.extensions_mut().insert(slot.clone());
    let fallback_lang = lang_of(req.headers());
    let fallback_path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || resp.extensions().get::<Rendered>().is_some()
    {
        return resp;
    }
    let kind = resp
        .extensions()
        .get::<ErrorPageKind>()
        .copied()
        .unwrap_or(ErrorPageKind::Status);
    let (t, chrome) = match slot.seen.get() {
        Some(s) => (s.lang, Chrome::new(s.user.clone(), s.csrf.clone(), &s.path)),
        None => (
            fallback_lang,
            Chrome::new(None, String::new(), &fallback_path),
        ),
    };
    error_page(t, chrome, status, kind, resp)
}

fn error_page(
    t: Lang,
    c: Chrome,
    status: StatusCode,
    kind: ErrorPageKind,
    old: Response,
) -> Response {
    let (title, message) = match (kind, status.as_u16()) {
        (ErrorPageKind::Csrf, _) => ("error.csrf.title", "error.csrf.text"),
        (_, 400) => ("error.bad_request.title", "error.bad_request.text"),
        (_, 403) => ("error.forbidden.title", "error.forbidden.text"),
        (_, 404) => ("error.not_found.title", "error.not_found.text"),
        (_, 405) => ("error.bad_request.title", "error.bad_request.text"),
        (_, 409) => ("error.conflict.title", "error.conflict.text"),
        (_, 413) => ("error.too_large.title", "error.too_large.text"),
        (_, 429) => ("error.rate_limited.title", "error.rate_limited.text"),
        (_, s) if s >= 500 => ("error.internal.title", "error.internal.text"),
        _ => ("error.generic.title", "error.generic.text"),
    };
    let page = ErrorPage {
        t,
        c,
        status: status.as_u16(),
        title: t.s(title),
        message: t.s(message),
    };
    let body = page.render().unwrap_or_else(|_| t.s(message).to_string());
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in old.headers() {
        // Keep what the handler meant to say (Retry-After, Allow), never its body type.
        // Private pages (orders) keep their referrer and robots policies on errors too.
        if name == header::RETRY_AFTER
            || name == header::ALLOW
            || name == header::REFERRER_POLICY
            || name.as_str() == "x-robots-tag"
        {
            h.insert(name.clone(), value.clone());
        }
    }
    resp
}
