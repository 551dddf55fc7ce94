//! The public storefront: home page (shops), shop page with search and pagination, tag pages
//! and product pages. Anonymous visitors get these from the page cache when fresh.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;

use crate::domain::catalog::{service, Product, ProductFilter, Shop};
use crate::domain::ids::ProductId;
use crate::domain::markdown::plain_excerpt;
use crate::error::Error;
use crate::federation::social;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::{WebError, WebResult};
use crate::web::i18n::Lang;
use crate::web::render::{cached, private_page, public_page, to_html, Chrome, HTML};
use crate::web::seo::{self, Meta};
use crate::web::social_views::{FollowButton, Interact, ReplyItem};
use crate::web::views::{
    page_number, price_text, status_label, CardView, ImgView, Pager, ShopView,
};

/// Products per storefront page.
pub const PER_PAGE: i64 = 24;

/// Newest products shown on the first page of the home page.
const NEWEST_ON_HOME: i64 = 12;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub q: Option<String>,
    pub page: Option<String>,
}

struct ShopCard {
    path: String,
    name: String,
    address: String,
    avatar: Option<ImgView>,
    summary: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    t: Lang,
    c: Chrome,
    /// Newest products across shops (first page only).
    cards: Vec<CardView>,
    shops: Vec<ShopCard>,
    pager: Pager,
}

pub async fn home(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<ListQuery>,
) -> WebResult {
    if let Some(hit) = cached(&state, &v) {
        return Ok(hit);
    }
    let generation = state.page_cache.generation();
    let page = page_number(q.page.as_deref());
    let shops = service::list_shops(&state.store, page, PER_PAGE).await?;
    let newest = if page == 1 {
        service::newest_products(&state.store, NEWEST_ON_HOME).await?
    } else {
        vec![]
    };
    let tpl = HomePage {
        t: v.lang,
        c: Chrome::public(&v),
        cards: newest
            .iter()
            .map(|(handle, p)| CardView::of(v.lang, handle, p))
            .collect(),
        shops: shops
            .items
            .iter()
            .map(|s| ShopCard {
                path: Urls::shop_path(&s.handle),
                name: s.name.clone(),
                address: format!("@{}@{}", s.handle, state.settings.domain),
                avatar: s.avatar.as_ref().map(|i| ImgView::thumb(i, "")),
                summary: plain_excerpt(&s.summary, 160),
            })
            .collect(),
        pager: Pager::of(&shops, "/", &[]),
    };
    Ok(public_page(&state, &v, generation, HTML, to_html(&tpl)?))
}

struct TagLink {
    name: String,
    path: String,
    count: i64,
}

#[derive(Template)]
#[template(path = "shop.html")]
struct ShopPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    og: Vec<Meta>,
    tags: Vec<TagLink>,
    q: String,
    /// Set on tag pages.
    tag: Option<String>,
    cards: Vec<CardView>,
    total: i64,
    pager: Pager,
    can_manage: bool,
    /// The shop's ActivityPub id (also its page URL).
    ap_id: String,
    followers: i64,
    signed_in: bool,
    /// For signed-in visitors.
    follow: Option<FollowButton>,
}

pub async fn shop_page(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    Query(q): Query<ListQuery>,
) -> WebResult {
    listing(state, v, handle, None, q).await
}

pub async fn tag_page(
    State(state): State<AppState>,
    v: Visitor,
    Path((handle, tag)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> WebResult {
    listing(state, v, handle, Some(tag), q).await
}

async fn listing(
    state: AppState,
    v: Visitor,
    handle: String,
    tag: Option<String>,
    q: ListQuery,
) -> WebResult {
    if let Some(hit) = cached(&state, &v) {
        return Ok(hit);
    }
    let generation = state.page_cache.generation();
    let shop = service::shop_by_handle(&state.store, &handle).await?;
    let query =
        q.q.unwrap_or_default()
            .trim()
            .chars()
            .take(200)
            .collect::<String>();
    let filter = ProductFilter {
        include_unpublished: false,
        tag: tag.clone(),
        query: Some(query.clone()).filter(|s| !s.is_empty()),
    };
    let page_no = page_number(q.page.as_deref());
    let page = service::shop_products(&state.store, None, &shop, filter, page_no, PER_PAGE).await?;
    let tags = service::shop_tags(&state.store, &shop).await?;
    let base = match &tag {
        Some(t) => Urls::tag_path(&shop.handle, t),
        None => Urls::shop_path(&shop.handle),
    };
    let ap_id = state.urls.shop(&shop.handle);
    let (followers, _) = crate::federation::social::follow_counts(&state, &ap_id).await?;
    let follow = match &v.user {
        Some(u) => Some(FollowButton::of(&state, u, &ap_id, &base).await?),
        None => None,
    };
    let t = v.lang;
    let tpl = ShopPage {
        t,
        ap_id,
        followers,
        signed_in: v.user.is_some(),
        follow,
        c: Chrome::public(&v),
        og: seo::shop_open_graph(&state.urls, &shop),
        tags: tags
            .into_iter()
            .map(|(name, count)| TagLink {
                path: Urls::tag_path(&shop.handle, &name),
                name,
                count,
            })
            .collect(),
        cards: page
            .items
            .iter()
            .map(|p| CardView::of(t, &shop.handle, p))
            .collect(),
        total: page.total,
        pager: Pager::of(&page, &base, &[("q", &query)]),
        q: query,
        tag: tag.map(|t| t.trim().trim_start_matches('#').to_lowercase()),
        can_manage: v
            .user
            .as_ref()
            .is_some_and(|u| service::can_manage(u, &shop)),
        shop: ShopView::of(&shop, &state.settings.domain),
    };
    Ok(public_page(&state, &v, generation, HTML, to_html(&tpl)?))
}

/// `/@name` -> `/shops/name` or, for a member, `/users/name`: the address people type after
/// seeing `@name@host`.
pub async fn at_handle(State(state): State<AppState>, Path(at): Path<String>) -> WebResult {
    let Some(handle) = at.strip_prefix('@') else {
        return Err(Error::not_found("page").into());
    };
    let valid = !handle.is_empty()
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::not_found("shop").into());
    }
    let name = handle.to_ascii_lowercase();
    let is_member = service::shop_by_handle(&state.store, &name).await.is_err()
        && crate::domain::accounts::user_by_username(&state.store, &name)
            .await?
            .is_some();
    let location = if is_member {
        Urls::user_path(&name)
    } else {
        Urls::shop_path(&name)
    };
    Ok((
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, location)],
    )
        .into_response())
}

struct VariantRow {
    title: String,
    sku: String,
    price: String,
    stock: i64,
}

struct ProductView {
    title: String,
    description_html: String,
    images: Vec<ImgView>,
    price: String,
    compare_at: Option<String>,
    in_stock: bool,
    sku: Option<String>,
    variants: Vec<VariantRow>,
    tags: Vec<TagLink>,
    is_published: bool,
    status_label: &'static str,
    edit_path: String,
}

impl ProductView {
    fn of(t: Lang, shop: &Shop, p: &Product) -> ProductView {
        ProductView {
            title: p.title.clone(),
            description_html: p.description_html.clone(),
            images: p
                .images
                .iter()
                .map(|i| ImgView::full(&i.image, &i.alt))
                .collect(),
            price: price_text(p),
            compare_at: p.compare_at.map(|m| m.display()),
            in_stock: p.available() > 0,
            sku: p.sku.clone(),
            variants: p
                .variants
                .iter()
                .map(|v| VariantRow {
                    title: v.title.clone(),
                    sku: v.sku.clone(),
                    price: v.price.display(),
                    stock: v.stock,
                })
                .collect(),
            tags: p
                .tags
                .iter()
                .map(|tag| TagLink {
                    name: tag.clone(),
                    path: Urls::tag_path(&shop.handle, tag),
                    count: 0,
                })
                .collect(),
            is_published: p.is_public(),
            status_label: status_label(t, p.status),
            edit_path: format!("/dashboard/products/{}/edit", p.id),
        }
    }
}

/// A variant the buyer can pick.
struct BuyVariant {
    id: String,
    label: String,
    sold_out: bool,
}

/// The add-to-cart box of a product page. The form carries no CSRF token (anonymous product
/// pages are cached); `cart::add` checks the request's origin instead.
struct BuyBox {
    /// The form is shown.
    open: bool,
    /// Why it is not (sold out, not taking orders, not published).
    message: Option<&'static str>,
    variants: Vec<BuyVariant>,
    max: i64,
    product_id: String,
    add_path: String,
    cart_path: String,
}

impl BuyBox {
    fn of(t: Lang, shop: &Shop, p: &Product, checkout_open: bool) -> BuyBox {
        let cart_path = format!("{}/cart", Urls::shop_path(&shop.handle));
        let message = if !p.is_public() {
            Some(t.s("buy.not_published"))
        } else if !checkout_open {
            Some(t.s("buy.not_taking_orders"))
        } else if p.available() <= 0 {
            Some(t.s("buy.sold_out"))
        } else {
            None
        };
        BuyBox {
            open: message.is_none(),
            message,
            variants: p
                .variants
                .iter()
                .map(|v| BuyVariant {
                    id: v.id.to_string(),
                    label: format!("{} — {}", v.title, v.price.display()),
                    sold_out: v.stock <= 0,
                })
                .collect(),
            max: p
                .available()
                .clamp(1, crate::domain::orders::validate::MAX_QUANTITY),
            product_id: p.id.to_string(),
            add_path: cart_path.clone(),
            cart_path,
        }
    }
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    p: ProductView,
    og: Vec<Meta>,
    json_ld: String,
    can_manage: bool,
    /// The product's ActivityPub id.
    ap_id: String,
    likes: i64,
    boosts: i64,
    replies: Vec<ReplyItem>,
    signed_in: bool,
    /// Buttons and reply form, for signed-in visitors on published products.
    interact: Option<Interact>,
    buy: BuyBox,
}

pub async fn product_page(
    State(state): State<AppState>,
    v: Visitor,
    Path((handle, id)): Path<(String, String)>,
) -> WebResult {
    if let Some(hit) = cached(&state, &v) {
        return Ok(hit);
    }
    let generation = state.page_cache.generation();
    let id = ProductId::parse(&id).ok_or_else(|| Error::not_found("product"))?;
    let (shop, product) = service::visible_product(&state.store, v.user.as_ref(), &id).await?;
    if shop.handle != handle {
        let location = Urls::product_path(&shop.handle, &product.id);
        return Ok((
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response());
    }
    let tpl = product_view(&state, &v, &shop, &product, None).await?;
    Ok(public_page(&state, &v, generation, HTML, to_html(&tpl)?))
}

/// The product page again, with a reply that was not accepted (`(text, message)`), for a
/// signed-in visitor.
pub async fn product_page_with_draft(
    state: &AppState,
    v: &Visitor,
    shop: &Shop,
    product: &Product,
    draft: (String, String),
) -> WebResult {
    let tpl = product_view(state, v, shop, product, Some(draft)).await?;
    private_page(StatusCode::UNPROCESSABLE_ENTITY, v, &tpl)
}

async fn product_view(
    state: &AppState,
    v: &Visitor,
    shop: &Shop,
    product: &Product,
    draft: Option<(String, String)>,
) -> Result<ProductPage, WebError> {
    let ap_id = state.urls.product(&shop.handle, &product.id);
    let (counts, replies) = social::interactions(state, &ap_id).await?;
    let path = Urls::product_path(&shop.handle, &product.id);
    let mut interact = match &v.user {
        Some(u) if product.is_public() => {
            let mut i = Interact::of(state, u, &ap_id, &path, "product").await?;
            i.reply_back = format!("{path}#replies");
            Some(i)
        }
        _ => None,
    };
    if let (Some(i), Some((text, message))) = (interact.as_mut(), draft) {
        i.draft = text;
        i.error = Some(message);
    }
    let checkout_open = crate::domain::orders::service::settings(&state.store, shop)
        .await?
        .is_open();
    Ok(ProductPage {
        buy: BuyBox::of(v.lang, shop, product, checkout_open),
        t: v.lang,
        c: Chrome::public(v),
        og: seo::product_open_graph(&state.urls, shop, product),
        json_ld: seo::product_json_ld(&state.urls, shop, product),
        can_manage: v
            .user
            .as_ref()
            .is_some_and(|u| service::can_manage(u, shop)),
        p: ProductView::of(v.lang, shop, product),
        shop: ShopView::of(shop, &state.settings.domain),
        ap_id,
        likes: counts.likes,
        boosts: counts.announces,
        replies: replies
            .into_iter()
            .map(|r| ReplyItem::of(state, r))
            .collect(),
        signed_in: v.user.is_some(),
        interact,
    })
}
