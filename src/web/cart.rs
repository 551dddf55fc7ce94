//! A guest's (or member's) cart with one shop: kept only in a cookie scoped to the shop's pages
//! (product id, variant id, quantity; nothing else), checked against the catalog and re-priced
//! on every read. Owns the cookie format, the cart page and its forms. Prices shown here are
//! for display; `domain::orders::service` computes the order's own.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::domain::catalog::{service as catalog, Shop};
use crate::domain::ids::ProductId;
use crate::domain::money::Money;
use crate::domain::orders::service as orders;
use crate::domain::orders::validate::{LineRequest, MAX_LINES, MAX_QUANTITY};
use crate::error::{Error, ErrorKind};
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::{self, Visitor};
use crate::web::errors::WebResult;
use crate::web::forms::FormData;
use crate::web::i18n::Lang;
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::views::{ImgView, ShopView};

pub const CART_COOKIE: &str = "fedishop_cart";
/// A cookie longer than this is not ours (50 lines fit in about 3,600 bytes).
const MAX_COOKIE_BYTES: usize = 4000;
const CART_DAYS: i64 = 30;

/// One line as stored in the cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartItem {
    pub product: ProductId,
    pub variant: Option<String>,
    pub quantity: i64,
}

/// The cart as read from the cookie: well-formed lines only, at most `MAX_LINES`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cart {
    pub items: Vec<CartItem>,
}

fn uuid_text(simple: &str) -> Option<String> {
    (simple.len() == 32)
        .then(|| uuid::Uuid::try_parse(simple).ok())
        .flatten()
        .map(|u| u.to_string())
}

fn simple(id: &str) -> String {
    id.replace('-', "")
}

impl Cart {
    /// Reads the cookie value; returns the cart and whether anything had to be dropped
    /// (malformed lines, quantities below 1, lines over the limit). Quantities above the
    /// per-line maximum are lowered to it (also reported as dropped).
    pub fn parse(raw: &str) -> (Cart, bool) {
        let mut cart = Cart::default();
        if raw.len() > MAX_COOKIE_BYTES {
            return (cart, true);
        }
        let mut dropped = false;
        for part in raw.split('.').filter(|p| !p.is_empty()) {
            let mut f = part.split('_');
            let (Some(p), Some(v), Some(q), None) = (f.next(), f.next(), f.next(), f.next()) else {
                dropped = true;
                continue;
            };
            let product = uuid_text(p).and_then(|p| ProductId::parse(&p));
            let variant = if v.is_empty() {
                Some(None)
            } else {
                uuid_text(v).map(Some)
            };
            let quantity = q.parse::<i64>().ok().filter(|n| *n >= 1);
            match (product, variant, quantity) {
                (Some(product), Some(variant), Some(quantity)) => {
                    if quantity > MAX_QUANTITY {
                        dropped = true;
                    }
                    if !cart.add(product, variant, quantity.min(MAX_QUANTITY)) {
                        dropped = true;
                    }
                }
                _ => dropped = true,
            }
        }
        (cart, dropped)
    }

    /// `product_variant_qty` lines joined by `.`, ids as 32 hex digits.
    pub fn encode(&self) -> String {
        self.items
            .iter()
            .map(|i| {
                format!(
                    "{}_{}_{}",
                    simple(i.product.as_str()),
                    i.variant.as_deref().map(simple).unwrap_or_default(),
                    i.quantity
                )
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Adds units (merging with the same product and variant). `false` when the cart is full.
    pub fn add(&mut self, product: ProductId, variant: Option<String>, quantity: i64) -> bool {
        if let Some(same) = self
            .items
            .iter_mut()
            .find(|i| i.product == product && i.variant == variant)
        {
            same.quantity = (same.quantity + quantity).min(MAX_QUANTITY);
            return true;
        }
        if self.items.len() >= MAX_LINES {
            return false;
        }
        self.items.push(CartItem {
            product,
            variant,
            quantity,
        });
        true
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The lines as a buyer's request.
    pub fn line_requests(&self) -> Vec<LineRequest> {
        self.items
            .iter()
            .map(|i| LineRequest {
                product: i.product.to_string(),
                variant: i.variant.clone(),
                quantity: i.quantity,
            })
            .collect()
    }
}

/// The cart cookie sent with the request (for the shop whose pages set it).
pub fn read_cart(headers: &HeaderMap) -> (Cart, bool) {
    match ctx::cookie(headers, CART_COOKIE) {
        Some(raw) => Cart::parse(raw),
        None => (Cart::default(), false),
    }
}

/// `fedishop_cart` for one shop: `Path=/shops/{handle}`, HttpOnly, SameSite=Lax, 30 days; an
/// empty cart deletes it.
pub fn cart_cookie(handle: &str, cart: &Cart, secure: bool) -> HeaderValue {
    let value = cart.encode();
    let age = if cart.is_empty() {
        time::Duration::ZERO
    } else {
        time::Duration::days(CART_DAYS)
    };
    let c = Cookie::build((CART_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path(Urls::shop_path(handle))
        .max_age(age)
        .build();
    HeaderValue::from_str(&c.to_string()).expect("hex ids, digits, '.' and '_'")
}

/// One line of the cart as the catalog prices it now.
#[derive(Clone, Debug)]
pub struct PricedLine {
    pub title: String,
    pub variant_title: String,
    pub path: String,
    pub thumb: Option<ImgView>,
    pub unit: Money,
    pub quantity: i64,
    pub line_total: Money,
    /// Most units the buyer may ask for now.
    pub max: i64,
}

impl PricedLine {
    pub fn unit_text(&self) -> String {
        self.unit.display()
    }
    pub fn total_text(&self) -> String {
        self.line_total.display()
    }
}

/// The cart checked against the catalog: what is still for sale, at today's prices.
#[derive(Clone, Debug, Default)]
pub struct PricedCart {
    pub lines: Vec<PricedLine>,
    /// `None` when the lines mix currencies (the shop cannot take such an order).
    pub subtotal: Option<Money>,
    /// What changed since the buyer last saw the cart, translated.
    pub notices: Vec<String>,
    /// The cart as it should be stored now.
    pub cart: Cart,
    /// The stored cart must be replaced by `cart`.
    pub changed: bool,
}

impl PricedCart {
    pub fn subtotal_text(&self) -> String {
        self.subtotal.map(|m| m.display()).unwrap_or_default()
    }
}

/// Checks every line against the shop's catalog: unknown, foreign, unpublished or sold-out
/// products and unknown variants are dropped; quantities above the stock are lowered.
pub async fn price_cart(
    state: &AppState,
    t: Lang,
    shop: &Shop,
    cart: Cart,
    dropped: bool,
) -> Result<PricedCart, Error> {
    let mut out = PricedCart {
        changed: dropped,
        ..PricedCart::default()
    };
    if dropped {
        out.notices.push(t.s("cart.notice_invalid").to_string());
    }
    let mut currency = None;
    let mut mixed = false;
    let mut subtotal: Option<Money> = None;
    for item in cart.items {
        let product = match catalog::product_by_id(&state.store, &item.product).await {
            Ok(p) if p.shop_id == shop.id && p.is_public() => p,
            Ok(_) => {
                out.notices.push(t.s("cart.notice_unavailable").to_string());
                out.changed = true;
                continue;
            }
            Err(e) if e.kind == ErrorKind::NotFound => {
                out.notices.push(t.s("cart.notice_unavailable").to_string());
                out.changed = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        let found = match (&item.variant, product.variants.is_empty()) {
            (None, true) => Some((String::new(), product.price, product.stock)),
            (Some(v), false) => product
                .variants
                .iter()
                .find(|x| x.id.as_str() == v)
                .map(|x| (x.title.clone(), x.price, x.stock)),
            _ => None,
        };
        let Some((variant_title, unit, stock)) = found else {
            out.notices
                .push(t.f1("cart.notice_variant_gone", &product.title));
            out.changed = true;
            continue;
        };
        if stock <= 0 {
            out.notices
                .push(t.f1("cart.notice_sold_out", &product.title));
            out.changed = true;
            continue;
        }
        let mut quantity = item.quantity;
        if quantity > stock {
            quantity = stock;
            out.notices
                .push(t.f2("cart.notice_lowered", &product.title, stock));
            out.changed = true;
        }
        let Some(line_total) = unit.checked_mul(quantity) else {
            out.changed = true;
            continue;
        };
        match currency {
            None => currency = Some(unit.currency),
            Some(c) if c != unit.currency => mixed = true,
            Some(_) => {}
        }
        subtotal = match subtotal {
            None => Some(line_total),
            Some(s) => s.checked_add(line_total).or(Some(s)),
        };
        out.cart.items.push(CartItem {
            product: item.product.clone(),
            variant: item.variant.clone(),
            quantity,
        });
        out.lines.push(PricedLine {
            path: Urls::product_path(&shop.handle, &product.id),
            thumb: product
                .images
                .first()
                .map(|i| ImgView::thumb(&i.image, &i.alt)),
            title: product.title,
            variant_title,
            unit,
            quantity,
            line_total,
            max: stock.min(MAX_QUANTITY),
        });
    }
    if mixed {
        out.notices.push(t.s("cart.notice_mixed").to_string());
    } else {
        out.subtotal = subtotal;
    }
    Ok(out)
}

/// Whether a form post comes from our own pages. The add-to-cart form sits on product pages
/// that are cached for anonymous visitors, so it cannot carry a per-visitor CSRF token;
/// browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`) and cross-site posts
/// are refused. (It only adds items to a cart the buyer reviews before anything is ordered.)
pub fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin == state.urls.base(),
        None => true,
    }
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    t: Lang,
    c: Chrome,
    shop: ShopView,
    cart: PricedCart,
    error: Option<String>,
    open: bool,
    cart_path: String,
    checkout_path: String,
}

fn cart_path(handle: &str) -> String {
    format!("{}/cart", Urls::shop_path(handle))
}

/// Renders the cart page (re-priced) and stores the cleaned cart when it changed.
async fn render(
    state: &AppState,
    v: &Visitor,
    shop: &Shop,
    cart: Cart,
    dropped: bool,
    status: StatusCode,
    error: Option<String>,
) -> WebResult {
    let priced = price_cart(state, v.lang, shop, cart, dropped).await?;
    let open = orders::settings(&state.store, shop).await?.is_open();
    let set = priced
        .changed
        .then(|| cart_cookie(&shop.handle, &priced.cart, v.secure));
    let tpl = CartPage {
        t: v.lang,
        c: Chrome::with_forms(v),
        shop: ShopView::of(shop, &state.settings.domain),
        open,
        error,
        cart_path: cart_path(&shop.handle),
        checkout_path: format!("{}/checkout", Urls::shop_path(&shop.handle)),
        cart: priced,
    };
    let mut resp = private_page(status, v, &tpl)?;
    if let Some(cookie) = set {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(resp)
}

pub async fn cart_page(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> WebResult {
    let shop = catalog::shop_by_handle(&state.store, &handle).await?;
    let (cart, dropped) = read_cart(&headers);
    render(&state, &v, &shop, cart, dropped, StatusCode::OK, None).await
}

fn with_cookie(mut resp: Response, cookie: HeaderValue) -> Response {
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

/// The add-to-cart form of a product page.
pub async fn add(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(handle): Path<String>,
    form: FormData,
) -> WebResult {
    if !same_origin(&headers, &state) {
        return Err(Error::forbidden("cross-site form").into());
    }
    let shop = catalog::shop_by_handle(&state.store, &handle).await?;
    let (mut cart, dropped) = read_cart(&headers);
    let t = v.lang;
    let refuse = |msg: String| (StatusCode::UNPROCESSABLE_ENTITY, Some(msg));
    let quantity = form
        .text("quantity")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|q| (1..=MAX_QUANTITY).contains(q));
    let product = ProductId::parse(form.text("product").trim());
    let outcome = match (product, quantity) {
        (_, None) => refuse(t.f2("problem.out_of_range", 1, MAX_QUANTITY)),
        (None, _) => refuse(t.s("problem.not_for_sale").to_string()),
        (Some(id), Some(qty)) => {
            let settings = orders::settings(&state.store, &shop).await?;
            match catalog::product_by_id(&state.store, &id).await {
                Ok(p) if p.shop_id == shop.id && p.is_public() => {
                    let variant = form.text("variant").trim().to_string();
                    let chosen = if p.variants.is_empty() {
                        Some((None, p.stock))
                    } else {
                        p.variants
                            .iter()
                            .find(|x| x.id.as_str() == variant)
                            .map(|x| (Some(x.id.to_string()), x.stock))
                    };
                    match chosen {
                        _ if !settings.is_open() => refuse(t.s("cart.closed").to_string()),
                        None => refuse(t.s("problem.variant_required").to_string()),
                        Some((variant, stock)) => {
                            let in_cart = cart
                                .items
                                .iter()
                                .find(|i| i.product == id && i.variant == variant)
                                .map_or(0, |i| i.quantity);
                            if in_cart + qty > stock {
                                refuse(t.f1("problem.out_of_stock", stock.max(0)))
                            } else if !cart.add(id, variant, qty) {
                                refuse(t.f1("cart.full", MAX_LINES))
                            } else {
                                (StatusCode::SEE_OTHER, None)
                            }
                        }
                    }
                }
                Ok(_) => refuse(t.s("problem.not_for_sale").to_string()),
                Err(e) if e.kind == ErrorKind::NotFound => {
                    refuse(t.s("problem.not_for_sale").to_string())
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    match outcome {
        (StatusCode::SEE_OTHER, _) => Ok(with_cookie(
            see_other(&cart_path(&shop.handle)),
            cart_cookie(&shop.handle, &cart, v.secure),
        )),
        (status, error) => render(&state, &v, &shop, cart, dropped, status, error).await,
    }
}

/// The cart page's form: new quantities (0 removes) or one line's remove button.
pub async fn update(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(handle): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let shop = catalog::shop_by_handle(&state.store, &handle).await?;
    let (cart, dropped) = read_cart(&headers);
    let remove = form.text("remove").trim().parse::<usize>().ok();
    let mut next = Cart::default();
    for (i, item) in cart.items.iter().enumerate() {
        if remove == Some(i) {
            continue;
        }
        let field = format!("qty_{i}");
        let quantity = if form.has(&field) {
            match form.text(&field).trim().parse::<i64>() {
                Ok(q) if (0..=MAX_QUANTITY).contains(&q) => q,
                _ => {
                    let msg = v.lang.f2("problem.out_of_range", 0, MAX_QUANTITY);
                    let status = StatusCode::UNPROCESSABLE_ENTITY;
                    return render(&state, &v, &shop, cart, dropped, status, Some(msg)).await;
                }
            }
        } else {
            item.quantity
        };
        if quantity > 0 {
            next.add(item.product.clone(), item.variant.clone(), quantity);
        }
    }
    Ok(with_cookie(
        see_other(&cart_path(&shop.handle)),
        cart_cookie(&shop.handle, &next, v.secure),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    const V: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";

    #[test]
    fn round_trips_and_merges() {
        let mut c = Cart::default();
        assert!(c.add(ProductId::parse(P).unwrap(), None, 2));
        assert!(c.add(ProductId::parse(P).unwrap(), Some(V.to_string()), 1));
        assert!(c.add(ProductId::parse(P).unwrap(), None, 3));
        let raw = c.encode();
        assert!(!raw.contains('-'));
        let (back, dropped) = Cart::parse(&raw);
        assert!(!dropped);
        assert_eq!(back, c);
        assert_eq!(back.items[0].quantity, 5);
    }

    #[test]
    fn tampering_is_dropped_or_bounded() {
        let p = simple(P);
        let raw = format!("{p}__-3.{p}__abc.nonsense.{p}_zz_1.{p}__99999999");
        let (c, dropped) = Cart::parse(&raw);
        assert!(dropped);
        assert_eq!(c.items.len(), 1);
        assert_eq!(c.items[0].quantity, MAX_QUANTITY);
        let (c, dropped) = Cart::parse(&"x".repeat(5000));
        assert!(dropped && c.is_empty());
    }

    #[test]
    fn holds_at_most_max_lines() {
        let mut c = Cart::default();
        for _ in 0..MAX_LINES {
            assert!(c.add(ProductId::new(), None, MAX_QUANTITY));
        }
        assert!(!c.add(ProductId::new(), None, 1));
        let raw = c.encode();
        assert!(raw.len() < MAX_COOKIE_BYTES, "{}", raw.len());
        assert!(cart_cookie("teashop", &c, true)
            .to_str()
            .unwrap()
            .contains("Path=/shops/teashop"));
    }
}
