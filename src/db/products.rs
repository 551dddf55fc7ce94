//! Products with their images, variants and tags. A product is written as a whole, in the
//! caller's transaction; variants keep their ids across edits when their SKU stays the same.

use std::collections::HashMap;

use sqlx::Row;

use super::{images::image_from_row, placeholders, Store, Tx};
use crate::domain::catalog::validate::ValidProduct;
use crate::domain::catalog::{
    Page, Product, ProductFilter, ProductImage, ProductStatus, Variant, VariantOption,
};
use crate::domain::ids::{ProductId, ShopId, VariantId};
use crate::domain::money::{Currency, Money};
use crate::error::{Error, Result};

const PRODUCT_COLUMNS: &str = "id, shop_id, title, description, description_html, price_minor, \
     compare_at_minor, currency, stock, sku, status, created_at, updated_at, published_at";

fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("stored unknown currency {code}")))
}

fn product_from_row(row: &sqlx::any::AnyRow) -> Result<Product> {
    let c = currency(&row.try_get::<String, _>("currency")?)?;
    let status: String = row.try_get("status")?;
    Ok(Product {
        id: ProductId::from_db(row.try_get("id")?),
        shop_id: ShopId::from_db(row.try_get("shop_id")?),
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        description_html: row.try_get("description_html")?,
        price: Money::new(row.try_get("price_minor")?, c),
        compare_at: row
            .try_get::<Option<i64>, _>("compare_at_minor")?
            .map(|m| Money::new(m, c)),
        stock: row.try_get("stock")?,
        sku: row.try_get("sku")?,
        status: ProductStatus::parse(&status)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("stored unknown status {status}")))?,
        tags: vec![],
        images: vec![],
        variants: vec![],
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        published_at: row.try_get("published_at")?,
    })
}

pub async fn insert(
    tx: &mut Tx,
    id: &ProductId,
    shop: &ShopId,
    p: &ValidProduct,
    now: i64,
) -> Result<()> {
    let published_at = (p.status == ProductStatus::Published).then_some(now);
    sqlx::query(
        "INSERT INTO products (id, shop_id, title, description, description_html, price_minor, \
         compare_at_minor, currency, stock, sku, status, search_text, created_at, updated_at, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
    )
    .bind(id.as_str())
    .bind(shop.as_str())
    .bind(&p.title)
    .bind(&p.description)
    .bind(&p.description_html)
    .bind(p.price.minor)
    .bind(p.compare_at.map(|m| m.minor))
    .bind(p.price.currency.code)
    .bind(p.stock)
    .bind(p.sku.clone())
    .bind(p.status.as_str())
    .bind(&p.search_text)
    .bind(now)
    .bind(published_at)
    .execute(&mut **tx)
    .await?;
    write_children(tx, id, p).await
}

/// Replaces every field of a product. `published_at` is set the first time it is published.
pub async fn update(tx: &mut Tx, id: &ProductId, p: &ValidProduct, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE products SET title = $2, description = $3, description_html = $4, price_minor = $5, \
         compare_at_minor = $6, currency = $7, stock = $8, sku = $9, status = $10, search_text = $11, \
         updated_at = $12, published_at = CASE WHEN $10 = 'published' AND published_at IS NULL \
         THEN $12 ELSE published_at END WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(&p.title)
    .bind(&p.description)
    .bind(&p.description_html)
    .bind(p.price.minor)
    .bind(p.compare_at.map(|m| m.minor))
    .bind(p.price.currency.code)
    .bind(p.stock)
    .bind(p.sku.clone())
    .bind(p.status.as_str())
    .bind(&p.search_text)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM product_images WHERE product_id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM product_tags WHERE product_id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    write_children(tx, id, p).await
}

/// Images and tags are rewritten; variants are upserted by SKU so their ids stay stable.
async fn write_children(tx: &mut Tx, id: &ProductId, p: &ValidProduct) -> Result<()> {
    for (pos, (image, alt)) in p.images.iter().enumerate() {
        sqlx::query("INSERT INTO product_images (product_id, position, image_id, alt) VALUES ($1, $2, $3, $4)")
            .bind(id.as_str())
            .bind(pos as i64)
            .bind(image.as_str())
            .bind(alt)
            .execute(&mut **tx)
            .await?;
    }
    for tag in &p.tags {
        sqlx::query("INSERT INTO product_tags (product_id, tag) VALUES ($1, $2)")
            .bind(id.as_str())
            .bind(tag)
            .execute(&mut **tx)
            .await?;
    }
    let existing: Vec<(String, String)> =
        sqlx::query_as("SELECT id, sku FROM product_variants WHERE product_id = $1")
            .bind(id.as_str())
            .fetch_all(&mut **tx)
            .await?;
    for (vid, sku) in &existing {
        if !p.variants.iter().any(|v| &v.sku == sku) {
            sqlx::query("DELETE FROM product_variants WHERE id = $1")
                .bind(vid)
                .execute(&mut **tx)
                .await?;
        }
    }
    for (pos, v) in p.variants.iter().enumerate() {
        let options = serde_json::to_string(&v.options).map_err(Error::internal)?;
        match existing.iter().find(|(_, sku)| *sku == v.sku) {
            Some((vid, _)) => {
                sqlx::query(
                    "UPDATE product_variants SET position = $2, title = $3, options_json = $4, \
                     price_minor = $5, stock = $6 WHERE id = $1",
                )
                .bind(vid)
                .bind(pos as i64)
                .bind(&v.title)
                .bind(options)
                .bind(v.price.minor)
                .bind(v.stock)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO product_variants (id, product_id, position, title, options_json, sku, \
                     price_minor, stock) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(VariantId::new().as_str())
                .bind(id.as_str())
                .bind(pos as i64)
                .bind(&v.title)
                .bind(options)
                .bind(&v.sku)
                .bind(v.price.minor)
                .bind(v.stock)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

pub async fn set_status(
    tx: &mut Tx,
    id: &ProductId,
    status: ProductStatus,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE products SET status = $2, updated_at = $3, published_at = CASE WHEN $2 = 'published' \
         AND published_at IS NULL THEN $3 ELSE published_at END WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(status.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &ProductId) -> Result<()> {
    sqlx::query("DELETE FROM products WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn by_id(store: &Store, id: &ProductId) -> Result<Option<Product>> {
    let row = sqlx::query(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    match row {
        Some(r) => {
            let mut v = vec![product_from_row(&r)?];
            attach_children(store, &mut v).await?;
            Ok(v.pop())
        }
        None => Ok(None),
    }
}

/// A product with its variants but without images and tags: what pricing an order needs.
pub async fn for_sale(store: &Store, id: &ProductId) -> Result<Option<Product>> {
    let row = sqlx::query(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    match row {
        Some(r) => {
            let mut v = vec![product_from_row(&r)?];
            attach_variants(store, &mut v).await?;
            Ok(v.pop())
        }
        None => Ok(None),
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One page of a shop's products, newest first.
pub async fn list(
    store: &Store,
    shop: &ShopId,
    f: &ProductFilter,
    page: i64,
    per_page: i64,
) -> Result<Page<Product>> {
    let mut where_sql = String::from("shop_id = $1");
    let mut args: Vec<String> = vec![shop.as_str().to_string()];
    if !f.include_unpublished {
        where_sql.push_str(" AND status = 'published'");
    }
    if let Some(tag) = &f.tag {
        args.push(tag.clone());
        where_sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM product_tags t WHERE t.product_id = products.id AND t.tag = ${})",
            args.len()
        ));
    }
    if let Some(q) = &f.query {
        for word in q.to_lowercase().split_whitespace().take(8) {
            args.push(format!("%{}%", like_escape(word)));
            where_sql.push_str(&format!(
                " AND search_text LIKE ${} ESCAPE '\\'",
                args.len()
            ));
        }
    }
    let count_sql = format!("SELECT COUNT(*) AS n FROM products WHERE {where_sql}");
    let mut q = sqlx::query(&count_sql);
    for a in &args {
        q = q.bind(a);
    }
    let total: i64 = q.fetch_one(store.pool()).await?.try_get("n")?;
    let list_sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE {where_sql} \
         ORDER BY COALESCE(published_at, created_at) DESC, id DESC LIMIT ${} OFFSET ${}",
        args.len() + 1,
        args.len() + 2
    );
    let mut q = sqlx::query(&list_sql);
    for a in &args {
        q = q.bind(a);
    }
    let rows = q
        .bind(per_page)
        .bind((page - 1) * per_page)
        .fetch_all(store.pool())
        .await?;
    let mut items = rows
        .iter()
        .map(product_from_row)
        .collect::<Result<Vec<_>>>()?;
    attach_children(store, &mut items).await?;
    Ok(Page {
        items,
        total,
        page,
        per_page,
    })
}

/// The newest published products of every shop, each with its shop's handle.
pub async fn newest_published(store: &Store, limit: i64) -> Result<Vec<(String, Product)>> {
    let columns: String = PRODUCT_COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, s.handle FROM products p JOIN shops s ON s.id = p.shop_id \
         WHERE p.status = 'published' ORDER BY p.published_at DESC, p.id DESC LIMIT $1"
    );
    let rows = sqlx::query(&sql)
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    let handles = rows
        .iter()
        .map(|r| r.try_get::<String, _>("handle"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut items = rows
        .iter()
        .map(product_from_row)
        .collect::<Result<Vec<_>>>()?;
    attach_children(store, &mut items).await?;
    Ok(handles.into_iter().zip(items).collect())
}

/// Tags in use by a shop's published products, with counts, most used first.
pub async fn shop_tags(store: &Store, shop: &ShopId, limit: i64) -> Result<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.tag, COUNT(*) AS n FROM product_tags t JOIN products p ON p.id = t.product_id \
         WHERE p.shop_id = $1 AND p.status = 'published' GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT $2",
    )
    .bind(shop.as_str())
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows)
}

/// Loads images, variants and tags for many products with three queries.
async fn attach_children(store: &Store, products: &mut [Product]) -> Result<()> {
    attach_images(store, products).await?;
    attach_variants(store, products).await?;
    attach_tags(store, products).await
}

/// The products' ids for an `IN` list, and where each one is in `products`.
fn id_index(products: &[Product]) -> (Vec<String>, HashMap<String, usize>) {
    let ids: Vec<String> = products.iter().map(|p| p.id.to_string()).collect();
    let index = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    (ids, index)
}

async fn attach_images(store: &Store, products: &mut [Product]) -> Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    let (ids, index) = id_index(products);
    let sql = format!(
        "SELECT pi.product_id, pi.alt, {} FROM product_images pi JOIN images i ON i.id = pi.image_id \
         WHERE pi.product_id IN ({}) ORDER BY pi.product_id, pi.position",
        super::images::IMAGE_COLUMNS,
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id.as_str());
    }
    for row in q.fetch_all(store.pool()).await? {
        let pid: String = row.try_get("product_id")?;
        if let Some(&i) = index.get(&pid) {
            products[i].images.push(ProductImage {
                image: image_from_row(&row)?,
                alt: row.try_get("alt")?,
            });
        }
    }
    Ok(())
}

async fn attach_variants(store: &Store, products: &mut [Product]) -> Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    let (ids, index) = id_index(products);
    let sql = format!(
        "SELECT id, product_id, title, options_json, sku, price_minor, stock FROM product_variants \
         WHERE product_id IN ({}) ORDER BY product_id, position",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id.as_str());
    }
    for row in q.fetch_all(store.pool()).await? {
        let pid: String = row.try_get("product_id")?;
        if let Some(&i) = index.get(&pid) {
            let options: Vec<VariantOption> =
                serde_json::from_str(&row.try_get::<String, _>("options_json")?)
                    .map_err(Error::internal)?;
            let c = products[i].price.currency;
            products[i].variants.push(Variant {
                id: VariantId::from_db(row.try_get("id")?),
                title: row.try_get("title")?,
                options,
                sku: row.try_get("sku")?,
                price: Money::new(row.try_get("price_minor")?, c),
                stock: row.try_get("stock")?,
            });
        }
    }
    Ok(())
}

async fn attach_tags(store: &Store, products: &mut [Product]) -> Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    let (ids, index) = id_index(products);
    let sql = format!(
        "SELECT product_id, tag FROM product_tags WHERE product_id IN ({}) ORDER BY tag",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query_as::<_, (String, String)>(&sql);
    for id in &ids {
        q = q.bind(id.as_str());
    }
    for (pid, tag) in q.fetch_all(store.pool()).await? {
        if let Some(&i) = index.get(&pid) {
            products[i].tags.push(tag);
        }
    }
    Ok(())
}

/// Number of published products on this instance.
pub async fn count_published(store: &Store) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE status = 'published'")
            .fetch_one(store.pool())
            .await?,
    )
}
