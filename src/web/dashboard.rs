//! The seller's side: the dashboard, opening and editing a shop, and a shop's product list
//! with publish/archive/delete buttons and links to its orders and checkout settings. Rules and permissions are `domain::catalog::service`'s.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::domain::accounts::{Role, User};
use crate::domain::catalog::{
    service, validate, ProductFilter, Shop, ShopChanges, ShopForm, ShopLink,
};
use crate::error::FieldErrors;
use crate::server::AppState;
use crate::web::ctx::Visitor;
use crate::web::errors::{WebError, WebResult};
use crate::web::forms::{merge_validation, Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::shop_activity::{shop_social, ShopSocial};
use crate::web::storefront::ListQuery;
use crate::web::uploads::store_file;
use crate::web::views::{page_number, CardView, ImgView, Pager, ShopView};

/// Link rows shown on the shop form (more when the shop already has more).
const LINK_ROWS: usize = 4;
/// Products per page in the dashboard list.
const DASHBOARD_PER_PAGE: i64 = 50;

struct ShopRow {
    name: String,
    handle: String,
    public_path: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    t: Lang,
    c: Chrome,
    display_name: String,
    role_label: &'static str,
    can_open_shops: bool,
    is_admin: bool,
    shops: Vec<ShopRow>,
}

pub fn role_label(t: Lang, r: Role) -> &'static str {
    t.s(match r {
        Role::Admin => "role.admin",
        Role::Seller => "role.seller",
        Role::Member => "role.member",
    })
}

pub async fn dashboard(State(state): State<AppState>, v: Visitor) -> WebResult {
    let user = v.require_user()?;
    let shops = service::shops_of(&state.store, user).await?;
    let tpl = DashboardPage {
        t: v.lang,
        c: Chrome::with_forms(&v),
        display_name: user.display_name.clone(),
        role_label: role_label(v.lang, user.role),
        can_open_shops: user.role.can_open_shops(),
        is_admin: user.is_admin(),
        shops: shops
            .iter()
            .map(|s| ShopRow {
                name: s.name.clone(),
                handle: s.handle.clone(),
                public_path: crate::urls::Urls::shop_path(&s.handle),
            })
            .collect(),
    };
    private_page(StatusCode::OK, &v, &tpl)
}

/// The shop form as typed.
#[derive(Clone, Debug, Default)]
struct ShopFields {
    handle: String,
    name: String,
    summary: String,
    links: Vec<(String, String)>,
    remove_avatar: bool,
    remove_banner: bool,
    manually_approves_followers: bool,
}

impl ShopFields {
    fn of(s: &Shop) -> ShopFields {
        let mut links: Vec<(String, String)> = s
            .links
            .iter()
            .map(|l| (l.label.clone(), l.url.clone()))
            .collect();
        links.resize(links.len().max(LINK_ROWS), Default::default());
        ShopFields {
            handle: s.handle.clone(),
            name: s.name.clone(),
            summary: s.summary.clone(),
            links,
            manually_approves_followers: s.manually_approves_followers,
            ..ShopFields::default()
        }
    }

    fn blank() -> ShopFields {
        ShopFields {
            links: vec![Default::default(); LINK_ROWS],
            ..ShopFields::default()
        }
    }

    fn read(form: &FormData) -> ShopFields {
        let mut links = vec![];
        for i in 0..validate::MAX_LINKS.max(LINK_ROWS) + 8 {
            let (l, u) = (format!("link_label_{i}"), format!("link_url_{i}"));
            if form.has(&l) || form.has(&u) {
                links.resize(i, Default::default());
                links.push((form.text(&l).to_string(), form.text(&u).to_string()));
            }
        }
        links.resize(links.len().max(LINK_ROWS), Default::default());
        ShopFields {
            handle: form.text("handle").to_string(),
            name: form.text("name").to_string(),
            summary: form.text("summary").to_string(),
            links,
            remove_avatar: form.has("remove_avatar"),
            remove_banner: form.has("remove_banner"),
            manually_approves_followers: form.has("manually_approves_followers"),
        }
    }

    /// The rows up to the last filled one (empty rows in between are skipped by validation,
    /// and keep their index so problems land on the right row).
    fn shop_links(&self) -> Vec<ShopLink> {
        let used = self
            .links
            .iter()
            .rposition(|(l, u)| !l.trim().is_empty() || !u.trim().is_empty())
            .map_or(0, |i| i + 1);
        self.links[..used]
            .iter()
            .map(|(label, url)| ShopLink {
                label: label.clone(),
                url: url.clone(),
            })
            .collect()
    }
}

/// Domain field name -> form field name for shops.
fn shop_field(domain: &str) -> String {
    match domain {
        "avatar_image" => "avatar".into(),
        "banner_image" => "banner".into(),
        "links" => "link_label_0".into(),
        f => match f.strip_prefix("links[").and_then(|r| r.split_once("].")) {
            Some((i, "label")) => format!("link_label_{i}"),
            Some((i, _)) => format!("link_url_{i}"),
            None => f.to_string(),
        },
    }
}

/// One label + URL row of the shop form.
struct LinkRow {
    label_name: String,
    url_name: String,
    label: String,
    url: String,
    label_text: String,
    url_text: String,
}

#[derive(Template)]
#[template(path = "shop_form.html")]
struct ShopFormPage {
    t: Lang,
    c: Chrome,
    links: Vec<LinkRow>,
    is_new: bool,
    action: String,
    cancel: String,
    f: ShopFields,
    avatar: Option<ImgView>,
    banner: Option<ImgView>,
    e: Errs,
    files_dropped: bool,
}

struct ShopFormArgs<'a> {
    shop: Option<&'a Shop>,
    fields: ShopFields,
    problems: &'a FieldErrors,
    files_dropped: bool,
}

fn shop_form_page(v: &Visitor, status: StatusCode, a: ShopFormArgs<'_>) -> WebResult {
    let (action, cancel) = match a.shop {
        Some(s) => (
            format!("/dashboard/shops/{}/edit", s.handle),
            format!("/dashboard/shops/{}", s.handle),
        ),
        None => ("/dashboard/shops/new".to_string(), "/dashboard".to_string()),
    };
    let t = v.lang;
    let links = a
        .fields
        .links
        .iter()
        .enumerate()
        .map(|(i, (label, url))| LinkRow {
            label_name: format!("link_label_{i}"),
            url_name: format!("link_url_{i}"),
            label: label.clone(),
            url: url.clone(),
            label_text: t.f1("field.link_label", i + 1),
            url_text: t.f1("field.link_url", i + 1),
        })
        .collect();
    let tpl = ShopFormPage {
        t,
        c: Chrome::with_forms(v),
        links,
        is_new: a.shop.is_none(),
        action,
        cancel,
        avatar: a
            .shop
            .and_then(|s| s.avatar.as_ref())
            .map(|i| ImgView::thumb(i, "")),
        banner: a
            .shop
            .and_then(|s| s.banner.as_ref())
            .map(|i| ImgView::thumb(i, "")),
        f: a.fields,
        e: Errs::from_fields(v.lang, a.problems, shop_field),
        files_dropped: a.files_dropped,
    };
    private_page(status, v, &tpl)
}

fn require_seller(user: &User) -> Result<(), WebError> {
    Ok(service::require_shop_opener(user)?)
}

pub async fn new_shop_form(v: Visitor) -> WebResult {
    require_seller(v.require_user()?)?;
    let args = ShopFormArgs {
        shop: None,
        fields: ShopFields::blank(),
        problems: &FieldErrors::new(),
        files_dropped: false,
    };
    shop_form_page(&v, StatusCode::OK, args)
}

pub async fn create_shop(
    State(state): State<AppState>,
    v: Visitor,
    mut form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    require_seller(user)?;
    let fields = ShopFields::read(&form);
    let mut input = ShopForm {
        handle: fields.handle.clone(),
        name: fields.name.clone(),
        summary: fields.summary.clone(),
        avatar_image: None,
        banner_image: None,
        links: fields.shop_links(),
        manually_approves_followers: fields.manually_approves_followers,
    };
    let mut problems = form.problems.clone();
    merge_validation(&mut problems, validate::shop(&input).map(|_| ()))?;
    let had_files = form.has_file("avatar") || form.has_file("banner");
    if problems.is_empty() {
        let avatar = store_file(&state, user, &mut form, "avatar", &mut problems).await?;
        let banner = store_file(&state, user, &mut form, "banner", &mut problems).await?;
        input.avatar_image = avatar.map(|i| i.id.to_string());
        input.banner_image = banner.map(|i| i.id.to_string());
    }
    if problems.is_empty() {
        match service::create_shop(&state.store, user, input).await {
            Ok(shop) => {
                state.changed();
                return Ok(see_other(&format!("/dashboard/shops/{}", shop.handle)));
            }
            Err(e) => merge_validation(&mut problems, Err(e))?,
        }
    }
    let args = ShopFormArgs {
        shop: None,
        fields,
        problems: &problems,
        files_dropped: had_files,
    };
    shop_form_page(&v, StatusCode::UNPROCESSABLE_ENTITY, args)
}

/// The shop named in the path, if the visitor manages it.
async fn managed_shop(state: &AppState, user: &User, handle: &str) -> Result<Shop, WebError> {
    Ok(service::managed_shop(&state.store, user, handle).await?)
}

pub async fn edit_shop_form(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
) -> WebResult {
    let user = v.require_user()?;
    let shop = managed_shop(&state, user, &handle).await?;
    let args = ShopFormArgs {
        shop: Some(&shop),
        fields: ShopFields::of(&shop),
        problems: &FieldErrors::new(),
        files_dropped: false,
    };
    shop_form_page(&v, StatusCode::OK, args)
}

pub async fn update_shop(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    mut form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let user = v.require_user()?;
    let shop = managed_shop(&state, user, &handle).await?;
    let mut fields = ShopFields::read(&form);
    fields.handle = shop.handle.clone();
    let check = ShopForm {
        handle: shop.handle.clone(),
        name: fields.name.clone(),
        summary: fields.summary.clone(),
        avatar_image: None,
        banner_image: None,
        links: fields.shop_links(),
        manually_approves_followers: fields.manually_approves_followers,
    };
    let mut problems = form.problems.clone();
    merge_validation(&mut problems, validate::shop(&check).map(|_| ()))?;
    let had_files = form.has_file("avatar") || form.has_file("banner");
    let mut changes = ShopChanges {
        name: Some(check.name),
        summary: Some(check.summary),
        links: Some(check.links),
        avatar_image: fields.remove_avatar.then_some(None),
        banner_image: fields.remove_banner.then_some(None),
        manually_approves_followers: Some(check.manually_approves_followers),
    };
    if problems.is_empty() {
        if let Some(i) = store_file(&state, user, &mut form, "avatar", &mut problems).await? {
            changes.avatar_image = Some(Some(i.id.to_string()));
        }
        if let Some(i) = store_file(&state, user, &mut form, "banner", &mut problems).await? {
            changes.banner_image = Some(Some(i.id.to_string()));
        }
    }
    if problems.is_empty() {
        match service::update_shop(&state.store, user, &shop.handle, changes).await {
            Ok(shop) => {
                state.changed();
                return Ok(see_other(&format!("/dashboard/shops/{}", shop.handle)));
            }
            Err(e) => merge_validation(&mut problems, Err(e))?,
        }
    }
    let args = ShopFormArgs {
        shop: Some(&shop),
        fields,
        problems: &problems,
        files_dropped: had_files,
    };
    shop_form_page(&v, StatusCode::UNPROCESSABLE_ENTITY, args)
}

#[derive(Template)]
#[template(path = "shop_admin.html")]
struct ShopAdminPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    cards: Vec<CardView>,
    total: i64,
    pager: Pager,
    social: ShopSocial,
    /// Buyers can check out (payment and shipping set up).
    checkout_open: bool,
}

pub async fn shop_admin(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    Query(q): Query<ListQuery>,
) -> WebResult {
    let user = v.require_user()?;
    let shop = managed_shop(&state, user, &handle).await?;
    let filter = ProductFilter {
        include_unpublished: true,
        ..ProductFilter::default()
    };
    let page_no = page_number(q.page.as_deref());
    let page = service::shop_products(
        &state.store,
        Some(user),
        &shop,
        filter,
        page_no,
        DASHBOARD_PER_PAGE,
    )
    .await?;
    let base = format!("/dashboard/shops/{}", shop.handle);
    let social = shop_social(&state, user, &shop, v.lang).await?;
    let checkout_open = crate::domain::orders::service::settings(&state.store, &shop)
        .await?
        .is_open();
    let tpl = ShopAdminPage {
        checkout_open,
        social,
        t: v.lang,
        c: Chrome::with_forms(&v),
        cards: page
            .items
            .iter()
            .map(|p| CardView::of(v.lang, &shop.handle, p))
            .collect(),
        total: page.total,
        pager: Pager::of(&page, &base, &[]),
        shop: ShopView::of(&shop, &state.settings.domain),
    };
    private_page(StatusCode::OK, &v, &tpl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_fields_map_to_form_names() {
        assert_eq!(shop_field("links[2].url"), "link_url_2");
        assert_eq!(shop_field("links[0].label"), "link_label_0");
        assert_eq!(shop_field("avatar_image"), "avatar");
        assert_eq!(shop_field("name"), "name");
    }
}
