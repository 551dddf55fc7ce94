//! Catalog use cases. Every caller (web form, JSON API, later the inbox) goes through these,
//! so validation, ownership checks and limits hold on every path. A failed call writes nothing.

use super::validate::{self, ValidProduct};
use super::{
    Page, Product, ProductChanges, ProductFilter, ProductForm, ProductStatus, Shop, ShopChanges,
    ShopForm,
};
use crate::db::{images as db_images, products, shops, Store, Tx};
use crate::domain::accounts::User;
use crate::domain::events::{self, Event};
use crate::domain::ids::{ImageId, ProductId, ShopId};
use crate::domain::now_ms;
use crate::error::{Error, FieldErrors, Problem, Result};

pub const MAX_PER_PAGE: i64 = 100;

/// Whether `user` may edit `shop`: its owner, or an admin.
pub fn can_manage(user: &User, shop: &Shop) -> bool {
    user.is_admin() || user.id == shop.owner_id
}

fn require_manager(user: &User, shop: &Shop) -> Result<()> {
    if can_manage(user, shop) {
        Ok(())
    } else {
        Err(Error::forbidden("you do not manage this shop"))
    }
}

/// Clamps user-supplied paging to sane values.
pub fn paging(page: Option<i64>, per_page: Option<i64>, default_per_page: i64) -> (i64, i64) {
    let page = page.unwrap_or(1).clamp(1, 1_000_000);
    let per_page = per_page.unwrap_or(default_per_page).clamp(1, MAX_PER_PAGE);
    (page, per_page)
}

/// Fails unless `user` may open shops (sellers and admins).
pub fn require_shop_opener(user: &User) -> Result<()> {
    if user.role.can_open_shops() {
        Ok(())
    } else {
        Err(Error::forbidden("only sellers and admins can open shops"))
    }
}

/// The shop with this handle, if `actor` may edit it.
pub async fn managed_shop(store: &Store, actor: &User, handle: &str) -> Result<Shop> {
    let shop = shop_by_handle(store, handle).await?;
    require_manager(actor, &shop)?;
    Ok(shop)
}

pub async fn create_shop(store: &Store, actor: &User, form: ShopForm) -> Result<Shop> {
    require_shop_opener(actor)?;
    let valid = validate::shop(&form)?;
    let id = ShopId::new();
    let mut tx = store.begin().await?;
    check_images(
        &mut tx,
        actor,
        None,
        &[
            ("avatar_image", valid.avatar.clone()),
            ("banner_image", valid.banner.clone()),
        ],
    )
    .await?;
    shops::insert(&mut tx, &id, &actor.id, &valid, now_ms()).await?;
    tx.commit().await?;
    shop_by_id(store, &id).await
}

pub async fn update_shop(
    store: &Store,
    actor: &User,
    handle: &str,
    changes: ShopChanges,
) -> Result<Shop> {
    let shop = managed_shop(store, actor, handle).await?;
    let form = ShopForm {
        handle: shop.handle.clone(),
        name: changes.name.unwrap_or_else(|| shop.name.clone()),
        summary: changes.summary.unwrap_or_else(|| shop.summary.clone()),
        avatar_image: changes
            .avatar_image
            .unwrap_or_else(|| shop.avatar.as_ref().map(|i| i.id.to_string())),
        banner_image: changes
            .banner_image
            .unwrap_or_else(|| shop.banner.as_ref().map(|i| i.id.to_string())),
        links: changes.links.unwrap_or_else(|| shop.links.clone()),
        manually_approves_followers: changes
            .manually_approves_followers
            .unwrap_or(shop.manually_approves_followers),
    };
    let valid = validate::shop(&form)?;
    let mut tx = store.begin().await?;
    check_images(
        &mut tx,
        actor,
        Some(&shop),
        &[
            ("avatar_image", valid.avatar.clone()),
            ("banner_image", valid.banner.clone()),
        ],
    )
    .await?;
    let now = now_ms();
    shops::update(&mut tx, &shop.id, &valid, now).await?;
    events::record(
        &mut tx,
        &Event::ShopChanged {
            shop_id: shop.id.to_string(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    shop_by_id(store, &shop.id).await
}

pub async fn shop_by_handle(store: &Store, handle: &str) -> Result<Shop> {
    let handle = handle.trim().to_ascii_lowercase();
    shops::by_handle(store, &handle)
        .await?
        .ok_or_else(|| Error::not_found("shop"))
}

pub async fn shop_by_id(store: &Store, id: &ShopId) -> Result<Shop> {
    shops::by_id(store, id)
        .await?
        .ok_or_else(|| Error::not_found("shop"))
}

pub async fn shops_of(store: &Store, user: &User) -> Result<Vec<Shop>> {
    shops::by_owner(store, &user.id).await
}

pub async fn list_shops(store: &Store, page: i64, per_page: i64) -> Result<Page<Shop>> {
    shops::list(store, page, per_page).await
}

/// Images may be attached by whoever uploaded them, or reused from the shop owner's uploads.
async fn check_images(
    tx: &mut Tx,
    actor: &User,
    shop: Option<&Shop>,
    refs: &[(&str, Option<ImageId>)],
) -> Result<()> {
    let ids: Vec<ImageId> = refs.iter().filter_map(|(_, id)| id.clone()).collect();
    let found = db_images::by_ids(tx, &ids).await?;
    let mut errors = FieldErrors::new();
    for (field, id) in refs {
        let Some(id) = id else { continue };
        let ok = found.iter().any(|i| {
            &i.id == id
                && (i.owner_id == actor.id || shop.is_some_and(|s| s.owner_id == i.owner_id))
        });
        if !ok {
            errors.add(*field, Problem::UnknownImage);
        }
    }
    errors.into_result()
}

async fn check_product_images(
    tx: &mut Tx,
    actor: &User,
    shop: &Shop,
    p: &ValidProduct,
) -> Result<()> {
    let refs: Vec<(String, Option<ImageId>)> = p
        .images
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (format!("images[{i}].id"), Some(id.clone())))
        .collect();
    let refs: Vec<(&str, Option<ImageId>)> = refs
        .iter()
        .map(|(f, id)| (f.as_str(), id.clone()))
        .collect();
    check_images(tx, actor, Some(shop), &refs).await
}

/// Adds a product to a shop. `default_status` applies when the form names none.
pub async fn create_product(
    store: &Store,
    actor: &User,
    shop_handle: &str,
    form: ProductForm,
    default_status: ProductStatus,
) -> Result<Product> {
    let shop = managed_shop(store, actor, shop_handle).await?;
    let valid = validate::product(&form, default_status)?;
    let id = ProductId::new();
    let mut tx = store.begin().await?;
    check_product_images(&mut tx, actor, &shop, &valid).await?;
    let now = now_ms();
    products::insert(&mut tx, &id, &shop.id, &valid, now).await?;
    events::record(&mut tx, &product_changed(&id), now).await?;
    tx.commit().await?;
    product_by_id(store, &id).await
}

/// Applies a partial edit. The whole resulting product is validated; on any problem nothing
/// changes.
pub async fn update_product(
    store: &Store,
    actor: &User,
    id: &ProductId,
    changes: ProductChanges,
) -> Result<Product> {
    let (shop, product) = managed_product(store, actor, id).await?;
    let form = changes.apply_to(&product);
    let valid = validate::product(&form, product.status)?;
    let mut tx = store.begin().await?;
    check_product_images(&mut tx, actor, &shop, &valid).await?;
    let now = now_ms();
    products::update(&mut tx, id, &valid, now).await?;
    events::record(&mut tx, &product_changed(id), now).await?;
    tx.commit().await?;
    product_by_id(store, id).await
}

pub async fn set_product_status(
    store: &Store,
    actor: &User,
    id: &ProductId,
    status: ProductStatus,
) -> Result<Product> {
    managed_product(store, actor, id).await?;
    let now = now_ms();
    let mut tx = store.begin().await?;
    products::set_status(&mut tx, id, status, now).await?;
    events::record(&mut tx, &product_changed(id), now).await?;
    tx.commit().await?;
    product_by_id(store, id).await
}

pub async fn delete_product(store: &Store, actor: &User, id: &ProductId) -> Result<()> {
    let (shop, _) = managed_product(store, actor, id).await?;
    let mut tx = store.begin().await?;
    products::delete(&mut tx, id).await?;
    let deleted = Event::ProductDeleted {
        product_id: id.to_string(),
        shop_handle: shop.handle,
    };
    events::record(&mut tx, &deleted, now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

fn product_changed(id: &ProductId) -> Event {
    Event::ProductChanged {
        product_id: id.to_string(),
    }
}

pub async fn product_by_id(store: &Store, id: &ProductId) -> Result<Product> {
    products::by_id(store, id)
        .await?
        .ok_or_else(|| Error::not_found("product"))
}

/// A product and its shop, if `actor` may edit it.
pub async fn managed_product(
    store: &Store,
    actor: &User,
    id: &ProductId,
) -> Result<(Shop, Product)> {
    let product = product_by_id(store, id).await?;
    let shop = shop_by_id(store, &product.shop_id).await?;
    require_manager(actor, &shop)?;
    Ok((shop, product))
}

/// A product as `viewer` may see it: published ones for everybody, the rest only for those who
/// manage the shop (others get "not found", so drafts do not leak).
pub async fn visible_product(
    store: &Store,
    viewer: Option<&User>,
    id: &ProductId,
) -> Result<(Shop, Product)> {
    let product = product_by_id(store, id).await?;
    let shop = shop_by_id(store, &product.shop_id).await?;
    if product.is_public() || viewer.is_some_and(|u| can_manage(u, &shop)) {
        Ok((shop, product))
    } else {
        Err(Error::not_found("product"))
    }
}

/// A page of a shop's products; unpublished ones only when asked for by a manager.
pub async fn shop_products(
    store: &Store,
    viewer: Option<&User>,
    shop: &Shop,
    mut filter: ProductFilter,
    page: i64,
    per_page: i64,
) -> Result<Page<Product>> {
    if filter.include_unpublished && !viewer.is_some_and(|u| can_manage(u, shop)) {
        filter.include_unpublished = false;
    }
    if let Some(t) = &filter.tag {
        filter.tag = Some(t.trim().trim_start_matches('#').to_lowercase());
    }
    filter.query = filter
        .query
        .map(|q| q.trim().chars().take(200).collect::<String>())
        .filter(|q| !q.is_empty());
    products::list(store, &shop.id, &filter, page, per_page).await
}

pub async fn shop_tags(store: &Store, shop: &Shop) -> Result<Vec<(String, i64)>> {
    products::shop_tags(store, &shop.id, 50).await
}

/// The newest published products across all shops (for the home page), with shop handles.
pub async fn newest_products(store: &Store, limit: i64) -> Result<Vec<(String, Product)>> {
    products::newest_published(store, limit.clamp(1, MAX_PER_PAGE)).await
}
