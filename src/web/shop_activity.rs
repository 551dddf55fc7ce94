//! The social half of a shop's dashboard page: follow requests to approve or reject, current
//! followers, and the newest likes, boosts and replies on the shop's products. Read-only; the
//! buttons post to `web::social::answer_follower`.

use std::collections::HashMap;

use crate::domain::accounts::User;
use crate::domain::catalog::{service, Shop};
use crate::domain::social::FollowState;
use crate::error::Result;
use crate::federation::social;
use crate::server::AppState;
use crate::web::i18n::Lang;
use crate::web::social_views::{date_of, web_link};

/// Likes, boosts and replies listed on the dashboard.
const RECENT: i64 = 20;

/// One follower (or one asking to be).
pub struct FollowerRow {
    pub actor: String,
    pub name: String,
    pub handle: String,
    pub link: Option<String>,
    pub date: String,
    pub datetime: String,
}

/// "Ann liked Oolong", with the reply's text for replies.
pub struct ActivityRow {
    pub kind: &'static str,
    pub who_name: String,
    pub who_handle: String,
    pub who_link: Option<String>,
    pub verb: &'static str,
    pub product_title: String,
    pub product_link: Option<String>,
    pub date: String,
    pub datetime: String,
    /// Sanitised HTML.
    pub reply_html: Option<String>,
    /// The reply's id, to answer it as the shop.
    pub reply_id: Option<String>,
}

pub struct ShopSocial {
    pub manual: bool,
    pub pending: Vec<FollowerRow>,
    pub accepted: Vec<FollowerRow>,
    pub recent: Vec<ActivityRow>,
}

async fn followers(
    state: &AppState,
    user: &User,
    handle: &str,
    st: FollowState,
) -> Result<Vec<FollowerRow>> {
    Ok(social::shop_followers(state, user, handle, st)
        .await?
        .into_iter()
        .map(|(f, handle, name)| {
            let (date, datetime) = date_of(f.created_at);
            FollowerRow {
                link: web_link(state, &f.follower),
                actor: f.follower,
                name,
                handle,
                date,
                datetime,
            }
        })
        .collect())
}

/// A product's title by its ActivityPub id (the id itself when it is gone).
async fn product_title(state: &AppState, object: &str) -> String {
    if let Some((_, id)) = state.urls.parse_product(object) {
        if let Ok(p) = service::product_by_id(&state.store, &id).await {
            return p.title;
        }
    }
    object.to_string()
}

pub async fn shop_social(
    state: &AppState,
    user: &User,
    shop: &Shop,
    t: Lang,
) -> Result<ShopSocial> {
    let pending = followers(state, user, &shop.handle, FollowState::Pending).await?;
    let accepted = followers(state, user, &shop.handle, FollowState::Accepted).await?;
    let mut titles: HashMap<String, String> = HashMap::new();
    let mut recent = vec![];
    for social::Interaction {
        kind,
        actor,
        object,
        at,
        reply,
    } in social::recent_interactions(state, user, &shop.handle, RECENT).await?
    {
        let (who_handle, who_name) = social::describe(state, &actor).await;
        let title = match titles.get(&object) {
            Some(t) => t.clone(),
            None => {
                let t = product_title(state, &object).await;
                titles.insert(object.clone(), t.clone());
                t
            }
        };
        let (kind, verb) = match kind.as_str() {
            "like" => ("like", "activity.liked"),
            "announce" => ("boost", "activity.boosted"),
            _ => ("reply", "activity.replied"),
        };
        let (date, datetime) = date_of(at);
        recent.push(ActivityRow {
            kind,
            who_link: web_link(state, &actor),
            who_name,
            who_handle,
            verb: t.s(verb),
            product_title: title,
            product_link: web_link(state, &object),
            date,
            datetime,
            reply_id: reply.as_ref().map(|(id, _)| id.clone()),
            reply_html: reply.map(|(_, html)| html),
        });
    }
    Ok(ShopSocial {
        manual: shop.manually_approves_followers,
        pending,
        accepted,
        recent,
    })
}
