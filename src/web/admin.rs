//! Instance administration on the web: the list of accounts and a form to add one. Only
//! admins get here; account rules are `domain::accounts`'.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::accounts::{self, NewUser, Role, User};
use crate::error::{Error, Problem};
use crate::server::AppState;
use crate::web::ctx::Visitor;
use crate::web::dashboard::role_label;
use crate::web::errors::{WebError, WebResult};
use crate::web::forms::{merge_validation, Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::render::{private_page, see_other, Chrome};

struct UserRow {
    username: String,
    display_name: String,
    role: &'static str,
    created: String,
}

struct RoleChoice {
    value: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    t: Lang,
    c: Chrome,
    users: Vec<UserRow>,
    roles: Vec<RoleChoice>,
    username: String,
    display_name: String,
    role: String,
    e: Errs,
}

/// The signed-in admin, or 403 (sign-in first when nobody is signed in).
pub(super) fn require_admin(v: &Visitor) -> Result<&User, WebError> {
    let user = v.require_user()?;
    if user.is_admin() {
        Ok(user)
    } else {
        Err(Error::forbidden("admins only").into())
    }
}

async fn users_page(
    state: &AppState,
    v: &Visitor,
    status: StatusCode,
    form: Option<&FormData>,
    e: Errs,
) -> WebResult {
    let t = v.lang;
    // No domain function lists accounts; this is a read-only listing.
    let users = accounts::list_users(&state.store).await?;
    let tpl = UsersPage {
        t,
        c: Chrome::with_forms(v),
        users: users
            .iter()
            .map(|u| UserRow {
                username: u.username.clone(),
                display_name: u.display_name.clone(),
                role: role_label(t, u.role),
                created: crate::domain::rfc3339(u.created_at)
                    .chars()
                    .take(10)
                    .collect(),
            })
            .collect(),
        roles: [Role::Member, Role::Seller, Role::Admin]
            .into_iter()
            .map(|r| RoleChoice {
                value: r.as_str(),
                label: role_label(t, r),
            })
            .collect(),
        username: form.map_or("", |f| f.text("username")).to_string(),
        display_name: form.map_or("", |f| f.text("display_name")).to_string(),
        role: form.map_or("seller", |f| f.text("role")).to_string(),
        e,
    };
    private_page(status, v, &tpl)
}

pub async fn users(State(state): State<AppState>, v: Visitor) -> WebResult {
    require_admin(&v)?;
    users_page(&state, &v, StatusCode::OK, None, Errs::none()).await
}

pub async fn add_user(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    require_admin(&v)?;
    let mut problems = form.problems.clone();
    let role = Role::parse(form.text("role"));
    if role.is_none() {
        problems.add("role", Problem::InvalidChoice);
    }
    if problems.is_empty() {
        let input = NewUser {
            username: form.text("username").to_string(),
            display_name: Some(form.text("display_name").to_string()),
            password: form.text("password").to_string(),
            password_confirm: None,
            role: role.unwrap_or(Role::Member),
        };
        match accounts::create_user(&state.store, input).await {
            Ok(_) => {
                state.changed();
                return Ok(see_other("/admin/users"));
            }
            Err(e) => merge_validation(&mut problems, Err(e))?,
        }
    }
    let e = Errs::from_fields(v.lang, &problems, str::to_string);
    users_page(&state, &v, StatusCode::UNPROCESSABLE_ENTITY, Some(&form), e).await
}
