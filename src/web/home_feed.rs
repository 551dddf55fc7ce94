//! `/feed`, a member's home page: a form to follow any shop by `@shop@host` or URL, the
//! accounts they follow, and the newest products of the shops they follow (local and remote)
//! with like, boost and reply forms, and a "Buy" link to `/buy` for remote products.
//! Signed-in only; never cached.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::accounts::User;
use crate::domain::social::{FeedItem, FollowState};
use crate::federation::social;
use crate::server::AppState;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::Errs;
use crate::web::i18n::Lang;
use crate::web::render::{private_page, Chrome};
use crate::web::social_views::{date_of, local_path, web_link, Interact};

/// Products shown on the feed page.
const FEED_ITEMS: i64 = 50;

/// The follow form as typed, with what went wrong.
#[derive(Clone, Debug, Default)]
pub struct FollowForm {
    pub target: String,
    pub e: Errs,
    /// The server's own words about the problem (e.g. which host could not be reached).
    pub detail: Option<String>,
}

/// A reply that was not accepted, shown again under its product.
#[derive(Clone, Debug)]
pub struct ReplyDraft {
    pub object: String,
    pub text: String,
    pub message: String,
}

struct FollowingRow {
    handle: String,
    name: String,
    link: Option<String>,
    target: String,
    requested: bool,
}

struct FeedItemView {
    anchor: String,
    title: String,
    url: Option<String>,
    price: String,
    /// "In stock (7)" / "Sold out", when the shop says.
    stock: Option<String>,
    in_stock: bool,
    /// A local image path; remote images are not loaded (the page allows only our own).
    image: Option<(String, String)>,
    shop_name: String,
    shop_handle: String,
    shop_link: Option<String>,
    summary_html: String,
    date: String,
    datetime: String,
    i: Interact,
    /// `/buy?product=…` for a product of a shop on another server (ours sell on their page).
    buy: Option<String>,
}

#[derive(Template)]
#[template(path = "home_feed.html")]
struct FeedPage {
    t: Lang,
    c: Chrome,
    f: FollowForm,
    following: Vec<FollowingRow>,
    items: Vec<FeedItemView>,
    /// A reply problem for a product no longer in the feed.
    reply_notice: Option<String>,
}

/// `GET /feed`.
pub async fn feed_page(State(state): State<AppState>, v: Visitor) -> WebResult {
    v.require_user()?;
    render(&state, &v, FollowForm::default(), None, StatusCode::OK).await
}

async fn item_view(
    state: &AppState,
    t: Lang,
    user: &User,
    n: usize,
    item: FeedItem,
) -> WebResult<FeedItemView> {
    let anchor = format!("item-{n}");
    let back = format!("/feed#{anchor}");
    let mut i = Interact::of(state, user, &item.id, &back, &n.to_string()).await?;
    i.about = Some(format!("{anchor}-title"));
    let (date, datetime) = date_of(item.published);
    let image = item
        .image_url
        .as_deref()
        .and_then(|u| local_path(state, u))
        .map(|src| (src, item.image_alt.clone().unwrap_or_default()));
    let buy = (!state.urls.is_local(&item.id)).then(|| {
        let id: String = url::form_urlencoded::byte_serialize(item.id.as_bytes()).collect();
        format!("/buy?product={id}")
    });
    Ok(FeedItemView {
        anchor,
        buy,
        url: web_link(state, &item.url).or_else(|| web_link(state, &item.id)),
        price: item.price.display(),
        stock: item.stock.map(|n| {
            if n > 0 {
                t.f1("feed.in_stock", n)
            } else {
                t.s("feed.sold_out").to_string()
            }
        }),
        in_stock: item.stock.is_none_or(|n| n > 0),
        image,
        shop_link: web_link(state, &item.shop_id),
        shop_name: item.shop_name,
        shop_handle: item.shop_handle,
        title: item.title,
        summary_html: item.summary_html,
        date,
        datetime,
        i,
    })
}

/// The feed page for the signed-in visitor, with the follow form and an optional reply as
/// typed. `status` is 200, or the problem's status when a form came back.
pub async fn render(
    state: &AppState,
    v: &Visitor,
    f: FollowForm,
    draft: Option<ReplyDraft>,
    status: StatusCode,
) -> WebResult {
    let user = v.require_user()?;
    let t = v.lang;
    let following = social::following(state, user)
        .await?
        .into_iter()
        .map(|(f, handle, name)| FollowingRow {
            link: web_link(state, &f.followee),
            target: f.followee,
            requested: f.state == FollowState::Pending,
            handle,
            name,
        })
        .collect();
    let mut items = vec![];
    for (n, item) in social::feed(state, user, FEED_ITEMS)
        .await?
        .into_iter()
        .enumerate()
    {
        items.push(item_view(state, t, user, n + 1, item).await?);
    }
    let mut reply_notice = None;
    if let Some(d) = draft {
        match items.iter_mut().find(|it| it.i.object == d.object) {
            Some(it) => {
                it.i.draft = d.text;
                it.i.error = Some(d.message);
            }
            None => reply_notice = Some(d.message),
        }
    }
    let tpl = FeedPage {
        t,
        c: Chrome::with_forms(v),
        f,
        following,
        items,
        reply_notice,
    };
    private_page(status, v, &tpl)
}
