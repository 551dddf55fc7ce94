//! Turning templates into responses: the page chrome every template shares (header, language
//! switch, CSRF token for the sign-out button), private pages, and cached public pages.

use askama::Template;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::accounts::User;
use crate::error::Error;
use crate::server::AppState;
use crate::web::cache::{CachedPage, PageCache};
use crate::web::ctx::{self, Visitor};
use crate::web::errors::WebError;

pub const HTML: &str = "text/html; charset=utf-8";

/// Marks a response whose body is one of our pages, so the error-page layer leaves it alone
/// even when its status is 4xx (forms with errors).
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

/// The signed-in user as the header shows them.
#[derive(Clone, Debug)]
pub struct UserChip {
    pub display_name: String,
    pub is_admin: bool,
}

impl UserChip {
    pub fn of(u: &User) -> UserChip {
        UserChip {
            display_name: u.display_name.clone(),
            is_admin: u.is_admin(),
        }
    }
}

/// What `/lang?back=` may carry unescaped: path characters that mean nothing in a query.
const BACK: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What the layout around every page needs.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub user: Option<UserChip>,
    /// CSRF token for the forms on the page (empty on pages without forms).
    pub csrf: String,
    /// The current path and query, URL-encoded, for `/lang?back=`.
    pub back: String,
    /// The stylesheet URL, versioned by content.
    pub css: &'static str,
}

impl Chrome {
    pub fn new(user: Option<UserChip>, csrf: String, path_and_query: &str) -> Chrome {
        Chrome {
            user,
            csrf,
            back: percent_encoding::utf8_percent_encode(path_and_query, BACK).to_string(),
            css: crate::web::assets::stylesheet_url(),
        }
    }

    /// Chrome for a page with forms (or any page a signed-in user sees: the header has a
    /// sign-out form).
    pub fn with_forms(v: &Visitor) -> Chrome {
        Chrome::new(
            v.user.as_ref().map(UserChip::of),
            v.csrf().to_string(),
            &v.path_and_query,
        )
    }

    /// Chrome for a public page: no token for anonymous visitors, so the page can be cached.
    pub fn public(v: &Visitor) -> Chrome {
        if v.user.is_some() {
            Chrome::with_forms(v)
        } else {
            Chrome::new(None, String::new(), &v.path_and_query)
        }
    }
}

/// Renders a template to a string; a template error is an internal error.
pub fn to_html(t: &impl Template) -> Result<String, WebError> {
    t.render()
        .map_err(|e| WebError::from(Error::internal(anyhow::anyhow!("template: {e}"))))
}

/// A page only this visitor should see: not stored by caches, sets the CSRF cookie if one was
/// minted for it.
pub fn private_page(
    status: StatusCode,
    v: &Visitor,
    t: &impl Template,
) -> Result<Response, WebError> {
    let body = to_html(t)?;
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(token) = v.minted_csrf() {
        h.append(header::SET_COOKIE, ctx::csrf_cookie(token, v.secure));
    }
    resp.extensions_mut().insert(Rendered);
    Ok(resp)
}

/// The cached copy of a public page, for anonymous visitors only.
pub fn cached(state: &AppState, v: &Visitor) -> Option<Response> {
    if v.user.is_some() {
        return None;
    }
    let key = PageCache::key(v.lang.code(), &v.path_and_query);
    state.page_cache.get(&key).map(cached_response)
}

fn cached_response(p: CachedPage) -> Response {
    let mut resp = p.body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(p.content_type),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    resp.extensions_mut().insert(Rendered);
    resp
}

/// A public page: stored in the page cache when the visitor is anonymous. `generation` must
/// be taken from the cache before the page's data was read.
pub fn public_page(
    state: &AppState,
    v: &Visitor,
    generation: u64,
    content_type: &'static str,
    body: String,
) -> Response {
    let page = CachedPage {
        content_type,
        body: Bytes::from(body),
    };
    if v.user.is_none() {
        let key = PageCache::key(v.lang.code(), &v.path_and_query);
        state.page_cache.put(key, page.clone(), generation);
        return cached_response(page);
    }
    let mut resp = cached_response(page);
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(token) = v.minted_csrf() {
        h.append(header::SET_COOKIE, ctx::csrf_cookie(token, v.secure));
    }
    resp
}

/// 303 See Other to a local path (the answer to every successful form).
pub fn see_other(path: &str) -> Response {
    let location = HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}
