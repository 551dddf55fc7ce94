//! The social graph and what other people do with our products: remote actors we know,
//! follows (with approval), likes, boosts, replies, and products of remote shops for the home
//! feed. Plain types and small rules; the protocol that carries them is `federation`.
//! Imports no axum and nothing from `federation`.

use crate::domain::money::{Currency, Money};
use crate::error::{Error, Problem, Result};

/// An actor on another server, as last fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteActor {
    /// ActivityPub id.
    pub id: String,
    /// `Person`, `Organization`, `Application`, `Service` or `Group`.
    pub kind: String,
    pub username: String,
    /// `host[:port]` of `id`.
    pub host: String,
    pub name: String,
    /// Sanitised HTML.
    pub summary_html: String,
    pub url: Option<String>,
    pub icon_url: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub followers: Option<String>,
    pub key_id: String,
    pub public_key_pem: String,
    pub fetched_at: i64,
}

impl RemoteActor {
    /// `@user@host`.
    pub fn handle(&self) -> String {
        format!("@{}@{}", self.username, self.host)
    }

    /// Where to deliver: the shared inbox when the server has one.
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox.as_deref().unwrap_or(&self.inbox)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowState {
    /// Sent or received, waiting for the followee's Accept.
    Pending,
    Accepted,
}

impl FollowState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s == "accepted" {
            Self::Accepted
        } else {
            Self::Pending
        }
    }
}

impl FollowState {
    /// Where a new follow of one of our actors starts: accepted at once, unless the followee
    /// (a shop) approves its followers by hand.
    pub fn on_request(manually_approves_followers: bool) -> FollowState {
        if manually_approves_followers {
            FollowState::Pending
        } else {
            FollowState::Accepted
        }
    }
}

/// One follow relationship, by actor ids (local or remote).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Follow {
    pub follower: String,
    pub followee: String,
    pub state: FollowState,
    /// Id of the `Follow` activity (ours or theirs); the Accept/Reject refers to it.
    pub activity_id: String,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReactionKind {
    Like,
    /// A boost (`Announce`).
    Announce,
}

impl ReactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Like => "like",
            Self::Announce => "announce",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "like" => Some(Self::Like),
            "announce" | "boost" => Some(Self::Announce),
            _ => None,
        }
    }
}

/// A reply to one of our products.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub id: String,
    pub actor: String,
    pub in_reply_to: String,
    /// Sanitised HTML.
    pub content_html: String,
    pub url: Option<String>,
    pub published: i64,
}

/// A product of a remote shop, parsed from its federated object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteProduct {
    pub id: String,
    /// The shop's actor id.
    pub actor: String,
    pub title: String,
    /// Sanitised HTML.
    pub content_html: String,
    pub url: Option<String>,
    pub price: Money,
    /// Units available, when the shop says.
    pub stock: Option<i64>,
    pub sku: Option<String>,
    pub image_url: Option<String>,
    pub image_alt: Option<String>,
    pub published: i64,
    pub updated_at: i64,
}

impl RemoteProduct {
    pub fn currency(&self) -> Currency {
        self.price.currency
    }
}

/// One entry of a member's home feed: a product of a shop they follow, local or remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedItem {
    /// The product's ActivityPub id.
    pub id: String,
    pub title: String,
    pub price: Money,
    pub stock: Option<i64>,
    pub url: String,
    pub image_url: Option<String>,
    pub image_alt: Option<String>,
    pub summary_html: String,
    /// The shop's actor id and `@handle@host`.
    pub shop_id: String,
    pub shop_handle: String,
    pub shop_name: String,
    pub published: i64,
}

/// Counts shown on a product page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReactionCounts {
    pub likes: i64,
    pub announces: i64,
}

/// Longest reply, in characters.
pub const MAX_REPLY_CHARS: usize = 5000;

/// Checks the text of a reply (Markdown), trimmed.
pub fn reply_text(text: &str) -> Result<&str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::field("content", Problem::Required));
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(Error::field(
            "content",
            Problem::TooLong {
                max: MAX_REPLY_CHARS,
            },
        ));
    }
    Ok(text)
}
