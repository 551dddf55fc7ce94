//! HTML pages: storefront, cart and checkout, order pages (also of orders with shops on other
//! servers, and buying from them), seller dashboard (with orders and checkout settings), admin,
//! sign-in, and the social pages (home feed, following, likes, boosts and replies, member
//! profiles); their templates live in `templates/`, the stylesheet in `static/`. Handlers
//! speak HTTP and call `domain` for every rule; they never write SQL.

mod admin;
mod admin_federation;
mod assets;
mod auth;
mod buy;
pub mod cache;
mod cart;
mod checkout;
mod checkout_settings;
mod ctx;
mod dashboard;
mod errors;
mod feed;
mod forms;
mod home_feed;
pub mod i18n;
mod order_views;
mod orders;
mod orders_csv;
mod product_fields;
mod product_form;
mod profile;
pub mod ratelimit;
mod remote_orders;
mod render;
mod seo;
mod shop_activity;
mod shop_orders;
mod social;
mod social_views;
mod storefront;
mod strings;
mod strings_orders;
mod uploads;
mod views;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::server::AppState;

/// Every HTML route. Error statuses from these routes become translated pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(storefront::home))
        .route("/lang", get(auth::switch_lang))
        .route("/setup", get(auth::setup_form).post(auth::setup))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/signup", get(auth::signup_form).post(auth::signup))
        .route("/dashboard", get(dashboard::dashboard))
        .route(
            "/dashboard/shops/new",
            get(dashboard::new_shop_form).post(dashboard::create_shop),
        )
        .route("/dashboard/shops/{handle}", get(dashboard::shop_admin))
        .route(
            "/dashboard/shops/{handle}/edit",
            get(dashboard::edit_shop_form).post(dashboard::update_shop),
        )
        .route(
            "/dashboard/shops/{handle}/products/new",
            get(product_form::new_product_form).post(product_form::create_product),
        )
        .route(
            "/dashboard/products/{id}/edit",
            get(product_form::edit_product_form).post(product_form::update_product),
        )
        .route(
            "/dashboard/products/{id}/publish",
            post(product_form::publish),
        )
        .route(
            "/dashboard/products/{id}/archive",
            post(product_form::archive),
        )
        .route(
            "/dashboard/products/{id}/delete",
            post(product_form::delete),
        )
        .route(
            "/dashboard/shops/{handle}/followers",
            post(social::answer_follower),
        )
        .route("/dashboard/shops/{handle}/answers", post(social::answer))
        .route(
            "/dashboard/shops/{handle}/checkout",
            get(checkout_settings::settings_form).post(checkout_settings::save_settings),
        )
        .route("/dashboard/shops/{handle}/orders", get(shop_orders::list))
        .route(
            "/dashboard/shops/{handle}/orders.csv",
            get(shop_orders::export),
        )
        .route(
            "/dashboard/shops/{handle}/orders/{id}",
            get(shop_orders::detail),
        )
        .route(
            "/dashboard/shops/{handle}/orders/{id}/status",
            post(shop_orders::change),
        )
        .route("/shops/{handle}/cart", get(cart::cart_page).post(cart::add))
        .route("/shops/{handle}/cart/update", post(cart::update))
        .route(
            "/shops/{handle}/checkout",
            get(checkout::checkout_form).post(checkout::checkout_post),
        )
        .merge(orders::private_headers(
            Router::new()
                .route("/orders", get(orders::history_page))
                .route("/orders/remote/{id}", get(remote_orders::page))
                .route("/orders/remote/{id}/cancel", post(remote_orders::cancel))
                .route("/buy", get(buy::buy_form).post(buy::buy_post))
                .route("/orders/{id}", get(orders::member_page))
                .route("/orders/{id}/cancel", post(orders::member_cancel))
                .route("/orders/{id}/{secret}", get(orders::guest_page))
                .route("/orders/{id}/{secret}/cancel", post(orders::guest_cancel)),
        ))
        .route("/feed", get(home_feed::feed_page))
        .route("/follows", post(social::follow))
        .route("/follows/remove", post(social::unfollow))
        .route("/interact/{action}", post(social::interact))
        .route("/users/{name}", get(profile::user_page))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/federation", get(admin_federation::page))
        .route("/admin/federation/retry", post(admin_federation::retry_now))
        .route(
            "/admin/federation/retry-failed",
            post(admin_federation::retry_failed),
        )
        .route("/shops/{handle}", get(storefront::shop_page))
        .route("/shops/{handle}/feed.atom", get(feed::shop_feed))
        .route("/shops/{handle}/tags/{tag}", get(storefront::tag_page))
        .route(
            "/shops/{handle}/products/{id}",
            get(storefront::product_page),
        )
        .route("/{at_handle}", get(storefront::at_handle))
        .route("/media/{file}", get(assets::media))
        .route("/static/style.css", get(assets::stylesheet))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn(errors::error_pages))
}
