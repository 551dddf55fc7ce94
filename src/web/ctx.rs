//! Who is asking: the `Visitor` extractor (language, signed-in user, CSRF token, client
//! address) and the cookies behind it. Owns the cookie names and attributes and the CSRF
//! comparison; it does not render pages.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum_extra::extract::cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use crate::domain::accounts::{self, User};
use crate::server::AppState;
use crate::web::errors::{ErrorSlot, WebError};
use crate::web::i18n::Lang;

pub const SESSION_COOKIE: &str = "fedishop_session";
pub const CSRF_COOKIE: &str = "fedishop_csrf";
pub const LANG_COOKIE: &str = "lang";

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The page language: the `lang` cookie if valid, else the best Accept-Language match, else English.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::from_code)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// Everything a page handler needs to know about the request's sender.
pub struct Visitor {
    pub lang: Lang,
    pub user: Option<User>,
    /// The session cookie's secret, when it names a live session.
    pub session: Option<String>,
    csrf_cookie: Option<String>,
    csrf: OnceLock<String>,
    /// The client's address, when the server was started with connect info.
    pub ip: Option<IpAddr>,
    /// Path and query of this request (for the language switch and the page cache).
    pub path_and_query: String,
    /// Whether cookies get the `Secure` attribute.
    pub secure: bool,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let lang = lang_of(&parts.headers);
        let mut user = None;
        let mut session = None;
        if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            if let Some(u) = accounts::session_user(&state.store, secret).await? {
                user = Some(u);
                session = Some(secret.to_string());
            }
        }
        let visitor = Visitor {
            lang,
            user,
            session,
            csrf_cookie: cookie(&parts.headers, CSRF_COOKIE).map(str::to_string),
            csrf: OnceLock::new(),
            ip: client_ip(parts, state.settings.behind_proxy),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
            secure: state.settings.scheme() == "https",
        };
        if let Some(slot) = parts.extensions.get::<Arc<ErrorSlot>>() {
            slot.fill(&visitor);
        }
        Ok(visitor)
    }
}

/// The client's address: the TCP peer, or, behind a trusted reverse proxy, the address that
/// proxy appended last to `X-Forwarded-For` (earlier entries are client-supplied and ignored).
fn client_ip(parts: &Parts, behind_proxy: bool) -> Option<std::net::IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if !behind_proxy {
        return peer;
    }
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|s| s.trim().parse().ok())
        .or(peer)
}

impl Visitor {
    /// The CSRF token for forms on this page: the cookie's, or a new one (then `minted_csrf`
    /// says the response must set it).
    pub fn csrf(&self) -> &str {
        self.csrf.get_or_init(|| {
            self.csrf_cookie
                .clone()
                .unwrap_or_else(accounts::new_secret)
        })
    }

    /// A CSRF token created during this request, to be sent as a cookie.
    pub fn minted_csrf(&self) -> Option<&str> {
        let t = self.csrf.get()?;
        (self.csrf_cookie.as_deref() != Some(t.as_str())).then_some(t.as_str())
    }

    /// The CSRF cookie sent with this request, if any.
    pub fn csrf_cookie(&self) -> Option<&str> {
        self.csrf_cookie.as_deref()
    }

    /// Replaces the CSRF token (at sign-in); the response must set the new cookie.
    pub fn rotate_csrf(&mut self) {
        self.csrf = OnceLock::new();
        self.csrf_cookie = None;
        let _ = self.csrf();
    }

    /// Refuses a form whose `csrf` field does not match the cookie.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if csrf_matches(self.csrf_cookie.as_deref(), submitted) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    /// `ip:<client address>`, the sign-in rate-limit key.
    pub fn ip_key(&self) -> String {
        match self.ip {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_string(),
        }
    }

    /// The signed-in user, or "sign in first".
    pub fn require_user(&self) -> Result<&User, WebError> {
        self.user
            .as_ref()
            .ok_or_else(|| WebError::from(crate::error::Error::unauthorized("sign in first")))
    }
}

/// Constant-time comparison of the CSRF cookie with the submitted field.
pub fn csrf_matches(cookie: Option<&str>, submitted: &str) -> bool {
    match cookie {
        Some(c) if !c.is_empty() && c.len() == submitted.len() => {
            bool::from(c.as_bytes().ct_eq(submitted.as_bytes()))
        }
        _ => false,
    }
}

fn set_cookie(c: Cookie<'_>) -> HeaderValue {
    HeaderValue::from_str(&c.to_string()).expect("cookie values are URL-safe base64 or codes")
}

/// `fedishop_session`: HttpOnly, SameSite=Lax, as long as the session lives.
pub fn session_cookie(secret: &str, secure: bool) -> HeaderValue {
    set_cookie(
        Cookie::build((SESSION_COOKIE, secret.to_string()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .path("/")
            .max_age(time::Duration::milliseconds(accounts::SESSION_TTL_MS))
            .build(),
    )
}

/// Deletes the session cookie.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    set_cookie(
        Cookie::build((SESSION_COOKIE, ""))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .path("/")
            .max_age(time::Duration::ZERO)
            .build(),
    )
}

/// `fedishop_csrf`: HttpOnly, SameSite=Strict; compared with the hidden `csrf` field.
pub fn csrf_cookie(token: &str, secure: bool) -> HeaderValue {
    set_cookie(
        Cookie::build((CSRF_COOKIE, token.to_string()))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/")
            .max_age(time::Duration::milliseconds(accounts::SESSION_TTL_MS))
            .build(),
    )
}

/// `lang`: one year, SameSite=Lax.
pub fn lang_cookie(lang: Lang, secure: bool) -> HeaderValue {
    set_cookie(
        Cookie::build((LANG_COOKIE, lang.code()))
            .same_site(SameSite::Lax)
            .secure(secure)
            .path("/")
            .max_age(time::Duration::days(365))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_and_language() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; lang=zh-Hans; fedishop_csrf=tok".parse().unwrap(),
        );
        assert_eq!(cookie(&h, "fedishop_csrf"), Some("tok"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(lang_of(&h), Lang::ZhHans);
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "lang=fr".parse().unwrap());
        h.insert(header::ACCEPT_LANGUAGE, "zh-TW,en;q=0.5".parse().unwrap());
        assert_eq!(
            lang_of(&h),
            Lang::ZhHans,
            "invalid cookie falls back to the header"
        );
        assert_eq!(lang_of(&HeaderMap::new()), Lang::En);
    }

    #[test]
    fn csrf_needs_a_cookie_and_an_exact_match() {
        assert!(csrf_matches(Some("abc"), "abc"));
        assert!(!csrf_matches(Some("abc"), "abd"));
        assert!(!csrf_matches(Some("abc"), "ab"));
        assert!(!csrf_matches(None, ""));
        assert!(!csrf_matches(Some(""), ""));
    }

    #[test]
    fn cookies_have_the_right_attributes() {
        let s = session_cookie("s3cret", true);
        let s = s.to_str().unwrap();
        assert!(s.starts_with("fedishop_session=s3cret"));
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Lax") && s.contains("Secure"));
        let c = csrf_cookie("t", false);
        let c = c.to_str().unwrap();
        assert!(c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(lang_cookie(Lang::ZhHans, false)
            .to_str()
            .unwrap()
            .starts_with("lang=zh-Hans"));
    }
}
