//! Signing in and out, the first-run admin page, member sign-up and the language switch.
//! Passwords, sessions and roles are `domain::accounts`' business; this file only speaks HTTP.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::domain::accounts::{self, NewUser, Role, User};
use crate::error::{Error, ErrorKind};
use crate::server::AppState;
use crate::web::ctx::{self, Visitor};
use crate::web::errors::{WebError, WebResult};
use crate::web::forms::{Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::render::{private_page, see_other, Chrome};

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    set: Option<String>,
    back: Option<String>,
}

/// Where `/lang` may send people back to: a local path (one leading `/`), else `/`.
pub fn safe_back(back: Option<&str>) -> String {
    let Some(b) = back else {
        return "/".to_string();
    };
    let local = b.starts_with('/')
        && !b.starts_with("//")
        && !b.starts_with("/\\")
        && !b.chars().any(|c| c.is_control() || c == '\\');
    if !local {
        return "/".to_string();
    }
    // Keep the header ASCII: non-ASCII and spaces are percent-encoded, the rest is as given.
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'"');
    percent_encoding::utf8_percent_encode(b, SET).to_string()
}

/// `GET /lang?set=zh-Hans&back=/shops/tea`: remembers the language for a year.
pub async fn switch_lang(State(state): State<AppState>, Query(q): Query<LangQuery>) -> Response {
    let back = safe_back(q.back.as_deref());
    let mut resp = see_other(&back);
    if let Some(lang) = q.set.as_deref().and_then(Lang::from_code) {
        let secure = state.settings.scheme() == "https";
        resp.headers_mut()
            .append(header::SET_COOKIE, ctx::lang_cookie(lang, secure));
    }
    resp
}

/// Starts a session for `user`, rotates the CSRF token, and sends them to the dashboard.
async fn sign_in(state: &AppState, v: &mut Visitor, user: &User) -> WebResult {
    if let Some(old) = &v.session {
        accounts::end_session(&state.store, old).await?;
    }
    let secret = accounts::start_session(&state.store, user).await?;
    v.rotate_csrf();
    let mut resp = see_other("/dashboard");
    let h = resp.headers_mut();
    h.append(header::SET_COOKIE, ctx::session_cookie(&secret, v.secure));
    h.append(header::SET_COOKIE, ctx::csrf_cookie(v.csrf(), v.secure));
    Ok(resp)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: Lang,
    c: Chrome,
    username: String,
    e: Errs,
    signup_open: bool,
}

fn login_page(
    state: &AppState,
    v: &Visitor,
    status: StatusCode,
    username: &str,
    e: Errs,
) -> WebResult {
    private_page(
        status,
        v,
        &LoginPage {
            t: v.lang,
            c: Chrome::with_forms(v),
            username: username.to_string(),
            e,
            signup_open: state.settings.open_registrations,
        },
    )
}

pub async fn login_form(State(state): State<AppState>, v: Visitor) -> WebResult {
    if v.user.is_some() {
        return Ok(see_other("/dashboard"));
    }
    login_page(&state, &v, StatusCode::OK, "", Errs::none())
}

pub async fn login(State(state): State<AppState>, mut v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    let username = form.text("username").trim().to_string();
    let password = form.text("password");
    let user_key = format!("user:{}", username.to_ascii_lowercase());
    let ip_key = v.ip_key();
    let limiter = &state.login_limiter;
    if let Err(wait) = limiter
        .check(&ip_key)
        .and_then(|_| limiter.check(&user_key))
    {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let e = Errs::with_message(v.lang.f1("login.rate_limited", minutes));
        let mut resp = login_page(&state, &v, StatusCode::TOO_MANY_REQUESTS, &username, e)?;
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return Ok(resp);
    }
    match accounts::authenticate(&state.store, &username, password).await {
        Ok(user) => {
            limiter.reset(&user_key);
            sign_in(&state, &mut v, &user).await
        }
        Err(e) if e.kind == ErrorKind::Unauthorized => {
            limiter.record_failure(&ip_key);
            limiter.record_failure(&user_key);
            let e = Errs::with_form(v.lang, "login.failed");
            login_page(&state, &v, StatusCode::UNAUTHORIZED, &username, e)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn logout(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    if let Some(secret) = &v.session {
        accounts::end_session(&state.store, secret).await?;
    }
    let mut resp = see_other("/");
    resp.headers_mut()
        .append(header::SET_COOKIE, ctx::clear_session_cookie(v.secure));
    Ok(resp)
}

/// Setup (first admin) and sign-up (members) share one form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AccountKind {
    FirstAdmin,
    Member,
}

#[derive(Template)]
#[template(path = "account_form.html")]
struct AccountPage {
    t: Lang,
    c: Chrome,
    title: &'static str,
    intro: &'static str,
    action: &'static str,
    username: String,
    display_name: String,
    e: Errs,
}

fn account_page(
    v: &Visitor,
    kind: AccountKind,
    status: StatusCode,
    form: Option<&FormData>,
    e: Errs,
) -> WebResult {
    let t = v.lang;
    let (title, intro, action) = match kind {
        AccountKind::FirstAdmin => ("setup.title", "setup.intro", "/setup"),
        AccountKind::Member => ("signup.title", "signup.intro", "/signup"),
    };
    private_page(
        status,
        v,
        &AccountPage {
            t,
            c: Chrome::with_forms(v),
            title: t.s(title),
            intro: t.s(intro),
            action,
            username: form.map_or("", |f| f.text("username")).to_string(),
            display_name: form.map_or("", |f| f.text("display_name")).to_string(),
            e,
        },
    )
}

/// Creates the account from the form and signs it in; re-shows the form on problems.
async fn create_account(
    state: &AppState,
    mut v: Visitor,
    form: FormData,
    kind: AccountKind,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let problems = form.problems.clone();
    let t = v.lang;
    if !problems.is_empty() {
        let e = Errs::from_fields(t, &problems, str::to_string);
        return account_page(&v, kind, StatusCode::UNPROCESSABLE_ENTITY, Some(&form), e);
    }
    let input = NewUser {
        username: form.text("username").to_string(),
        display_name: Some(form.text("display_name").to_string()),
        password: form.text("password").to_string(),
        password_confirm: Some(form.text("password_confirm").to_string()),
        role: Role::Member,
    };
    let created = match kind {
        AccountKind::FirstAdmin => accounts::create_first_admin(&state.store, input).await,
        AccountKind::Member => accounts::create_user(&state.store, input).await,
    };
    match created {
        Ok(user) => {
            state.changed();
            sign_in(state, &mut v, &user).await
        }
        Err(e) if e.kind == ErrorKind::Validation => {
            let errs = Errs::from_fields(t, &e.fields, str::to_string);
            account_page(
                &v,
                kind,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&form),
                errs,
            )
        }
        // Someone else finished setup first.
        Err(e) if e.kind == ErrorKind::Forbidden && kind == AccountKind::FirstAdmin => {
            Ok(see_other("/login"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn admin_exists(state: &AppState) -> Result<bool, WebError> {
    // Read-only check; `accounts::create_first_admin` enforces it again when writing.
    Ok(accounts::admin_exists(&state.store).await?)
}

pub async fn setup_form(State(state): State<AppState>, v: Visitor) -> WebResult {
    if admin_exists(&state).await? {
        return Ok(see_other("/login"));
    }
    account_page(
        &v,
        AccountKind::FirstAdmin,
        StatusCode::OK,
        None,
        Errs::none(),
    )
}

pub async fn setup(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    if admin_exists(&state).await? {
        return Ok(see_other("/login"));
    }
    create_account(&state, v, form, AccountKind::FirstAdmin).await
}

fn registrations_open(state: &AppState) -> Result<(), WebError> {
    if state.settings.open_registrations {
        Ok(())
    } else {
        Err(Error::not_found("page").into())
    }
}

pub async fn signup_form(State(state): State<AppState>, v: Visitor) -> WebResult {
    registrations_open(&state)?;
    if v.user.is_some() {
        return Ok(see_other("/dashboard"));
    }
    account_page(&v, AccountKind::Member, StatusCode::OK, None, Errs::none())
}

pub async fn signup(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    registrations_open(&state)?;
    create_account(&state, v, form, AccountKind::Member).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_paths_stay_local() {
        assert_eq!(safe_back(Some("/shops/tea?page=2")), "/shops/tea?page=2");
        assert_eq!(safe_back(Some("//evil.example/")), "/");
        assert_eq!(safe_back(Some("/\\evil.example")), "/");
        assert_eq!(safe_back(Some("https://evil.example/")), "/");
        assert_eq!(safe_back(Some("/a\r\nSet-Cookie: x=1")), "/");
        assert_eq!(safe_back(Some("")), "/");
        assert_eq!(safe_back(None), "/");
        assert_eq!(
            safe_back(Some("/shops/t/tags/绿茶")),
            "/shops/t/tags/%E7%BB%BF%E8%8C%B6"
        );
    }
}
