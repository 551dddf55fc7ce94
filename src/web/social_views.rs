//! View models for the social parts of pages: follow buttons, like/boost buttons with a reply
//! form, replies under a product, and the links they carry. Built from `federation::social`
//! and read-only `db` look-ups; the forms they render post to `web::social`.

use crate::domain::accounts::User;
use crate::domain::rfc3339;
use crate::domain::social::FollowState;
use crate::error::Result;
use crate::federation::social;
use crate::federation::social::ReplyView;
use crate::server::AppState;

/// A follow / unfollow button for one actor.
#[derive(Clone, Debug)]
pub struct FollowButton {
    /// The actor's id, sent as `target`.
    pub target: String,
    /// Where to come back to after the form.
    pub back: String,
    pub following: bool,
    /// Asked, waiting for the followee's approval.
    pub requested: bool,
}

impl FollowButton {
    pub async fn of(state: &AppState, user: &User, target: &str, back: &str) -> Result<Self> {
        let f = social::follow_of(state, user, target).await?;
        Ok(FollowButton {
            target: target.to_string(),
            back: back.to_string(),
            following: f.as_ref().is_some_and(|f| f.state == FollowState::Accepted),
            requested: f.as_ref().is_some_and(|f| f.state == FollowState::Pending),
        })
    }
}

/// Like and boost buttons and a reply form for one product (ours or a remote one).
#[derive(Clone, Debug, Default)]
pub struct Interact {
    /// The product's ActivityPub id, sent as `object`.
    pub object: String,
    /// Where the buttons come back to.
    pub back: String,
    /// Where the reply form comes back to.
    pub reply_back: String,
    /// Makes element ids unique on pages with several forms.
    pub key: String,
    /// Id of the element that names the product, when the page lists several.
    pub about: Option<String>,
    pub liked: bool,
    pub boosted: bool,
    /// The reply as typed, when it came back with a problem.
    pub draft: String,
    pub error: Option<String>,
}

impl Interact {
    pub async fn of(
        state: &AppState,
        user: &User,
        object: &str,
        back: &str,
        key: &str,
    ) -> Result<Self> {
        let (liked, boosted) = social::reacted(state, user, object).await?;
        Ok(Interact {
            object: object.to_string(),
            back: back.to_string(),
            reply_back: back.to_string(),
            key: key.to_string(),
            about: None,
            liked,
            boosted,
            draft: String::new(),
            error: None,
        })
    }
}

/// A reply to a product, ready to show.
#[derive(Clone, Debug)]
pub struct ReplyItem {
    pub author_name: String,
    pub author_handle: String,
    pub author_url: Option<String>,
    /// Sanitised HTML.
    pub content_html: String,
    pub date: String,
    pub datetime: String,
}

impl ReplyItem {
    pub fn of(state: &AppState, r: ReplyView) -> ReplyItem {
        let (date, datetime) = date_of(r.published);
        ReplyItem {
            author_url: web_link(state, &r.author_url),
            author_name: r.author_name,
            author_handle: r.author_handle,
            content_html: r.content_html,
            date,
            datetime,
        }
    }
}

/// `(YYYY-MM-DD, full RFC 3339)` of a time in milliseconds, for `<time>`.
pub fn date_of(ms: i64) -> (String, String) {
    let full = rfc3339(ms);
    (full.chars().take(10).collect(), full)
}

/// A link target we are willing to put in `href`: our own URLs as paths, other `http(s)` URLs
/// as they are, nothing else (no `javascript:` from a remote server).
pub fn web_link(state: &AppState, url: &str) -> Option<String> {
    if let Some(path) = local_path(state, url) {
        return Some(path);
    }
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| url.to_string())
}

/// The path of one of our own absolute URLs (`https://host/shops/tea` -> `/shops/tea`).
pub fn local_path(state: &AppState, url: &str) -> Option<String> {
    if !state.urls.is_local(url) {
        return None;
    }
    let path = &url[state.urls.base().len()..];
    Some(if path.is_empty() { "/" } else { path }.to_string())
}

/// Where a form may send the visitor back to: a local path (one leading `/`, not `//`), else
/// `fallback`.
pub fn local_back(back: &str, fallback: &str) -> String {
    let b = back.trim();
    let local = b.starts_with('/')
        && !b.starts_with("//")
        && !b.starts_with("/\\")
        && !b.chars().any(|c| c.is_control() || c == '\\');
    if local {
        crate::web::auth::safe_back(Some(b))
    } else {
        fallback.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_stays_local() {
        assert_eq!(local_back("/feed#item-2", "/x"), "/feed#item-2");
        assert_eq!(local_back("//evil.example", "/feed"), "/feed");
        assert_eq!(local_back("/\\evil.example", "/feed"), "/feed");
        assert_eq!(local_back("https://evil.example/", "/feed"), "/feed");
        assert_eq!(local_back("/a\r\nSet-Cookie: x", "/feed"), "/feed");
        assert_eq!(local_back("", "/feed"), "/feed");
    }

    #[test]
    fn dates_are_days_and_full_times() {
        let (d, full) = date_of(0);
        assert_eq!(d, "1970-01-01");
        assert!(full.starts_with("1970-01-01T"));
    }
}
