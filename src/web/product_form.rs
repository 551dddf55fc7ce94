//! Adding and editing products from the dashboard (text fields, images with alt text,
//! variant rows) and the publish/archive/delete buttons. The form is checked with
//! `validate::product` before any upload is stored; the service writes. The form's data and
//! its mapping to domain names are in `product_fields.rs`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::domain::catalog::{
    service, validate, Product, ProductChanges, ProductForm, ProductStatus, Shop,
};
use crate::domain::ids::ProductId;
use crate::domain::money::{all_currencies, Currency};
use crate::error::Error;
use crate::server::AppState;
use crate::urls::Urls;
use crate::web::ctx::Visitor;
use crate::web::errors::{WebError, WebResult};
use crate::web::forms::{merge_validation, Errs, FormData};
use crate::web::i18n::Lang;
use crate::web::product_fields::{build, ExistingImage, Fields, NEW_IMAGE_SLOTS};
use crate::web::render::{private_page, see_other, Chrome};
use crate::web::uploads::store_file;
use crate::web::views::status_label;

struct StatusChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// One input of the variant table.
struct Cell {
    name: String,
    value: String,
    label: String,
    inputmode: &'static str,
}

/// A file input for a new image with its alt text input.
struct NewSlot {
    file: String,
    alt_name: String,
    alt: String,
    label: String,
}

/// An image already attached, with its input names.
struct ExistingRow {
    id_name: String,
    keep_name: String,
    alt_name: String,
    img: ExistingImage,
}

#[derive(Template)]
#[template(path = "product_form.html")]
struct ProductFormPage {
    t: Lang,
    c: Chrome,
    shop_name: String,
    shop_handle: String,
    action: String,
    /// Set when editing.
    product_id: Option<String>,
    public_path: Option<String>,
    stored_status: Option<ProductStatus>,
    f: Fields,
    existing: Vec<ExistingRow>,
    new_slots: Vec<NewSlot>,
    variant_rows: Vec<Vec<Cell>>,
    e: Errs,
    files_dropped: bool,
    currencies: &'static [Currency],
    statuses: Vec<StatusChoice>,
}

impl ProductFormPage {
    fn is_selected_currency(&self, c: &Currency) -> bool {
        self.f.currency.trim().eq_ignore_ascii_case(c.code)
    }
    fn can_publish(&self) -> bool {
        self.stored_status
            .is_some_and(|s| s != ProductStatus::Published)
    }
    fn can_archive(&self) -> bool {
        self.stored_status
            .is_some_and(|s| s != ProductStatus::Archived)
    }
}

fn form_page(
    v: &Visitor,
    status: StatusCode,
    shop: &Shop,
    product: Option<&Product>,
    f: Fields,
    e: Errs,
    files_dropped: bool,
) -> WebResult {
    let t = v.lang;
    let action = match product {
        Some(p) => format!("/dashboard/products/{}/edit", p.id),
        None => format!("/dashboard/shops/{}/products/new", shop.handle),
    };
    let existing = f
        .existing
        .iter()
        .enumerate()
        .map(|(i, img)| ExistingRow {
            id_name: format!("existing_id_{i}"),
            keep_name: format!("keep_image_{i}"),
            alt_name: format!("existing_alt_{i}"),
            img: img.clone(),
        })
        .collect();
    let new_slots = f
        .new_alts
        .iter()
        .enumerate()
        .map(|(k, alt)| NewSlot {
            file: format!("image_{k}"),
            alt_name: format!("image_alt_{k}"),
            alt: alt.clone(),
            label: t.f1("field.new_image", k + 1),
        })
        .collect();
    let variant_rows = f
        .variants
        .iter()
        .enumerate()
        .map(|(r, row)| {
            [
                ("sku", &row.sku, "field.variant_sku", ""),
                ("opt1", &row.opt1, "field.variant_opt1", ""),
                ("opt2", &row.opt2, "field.variant_opt2", ""),
                ("opt3", &row.opt3, "field.variant_opt3", ""),
                ("price", &row.price, "field.variant_price", "decimal"),
                ("stock", &row.stock, "field.variant_stock", "numeric"),
            ]
            .into_iter()
            .map(|(col, value, label, inputmode)| Cell {
                name: format!("variant_{col}_{r}"),
                value: value.clone(),
                label: t.f2("product_form.row_label", t.s(label), r + 1),
                inputmode,
            })
            .collect()
        })
        .collect();
    let tpl = ProductFormPage {
        t,
        c: Chrome::with_forms(v),
        shop_name: shop.name.clone(),
        shop_handle: shop.handle.clone(),
        action,
        product_id: product.map(|p| p.id.to_string()),
        public_path: product.map(|p| Urls::product_path(&shop.handle, &p.id)),
        stored_status: product.map(|p| p.status),
        statuses: [
            ProductStatus::Draft,
            ProductStatus::Published,
            ProductStatus::Archived,
        ]
        .into_iter()
        .map(|s| StatusChoice {
            value: s.as_str(),
            label: status_label(t, s),
            selected: f.status.trim() == s.as_str(),
        })
        .collect(),
        existing,
        new_slots,
        variant_rows,
        f,
        e,
        files_dropped,
        currencies: all_currencies(),
    };
    private_page(status, v, &tpl)
}

async fn managed_shop(state: &AppState, v: &Visitor, handle: &str) -> Result<Shop, WebError> {
    let user = v.require_user()?;
    Ok(service::managed_shop(&state.store, user, handle).await?)
}

async fn managed_product(
    state: &AppState,
    v: &Visitor,
    id: &str,
) -> Result<(Shop, Product), WebError> {
    let user = v.require_user()?;
    let id = ProductId::parse(id).ok_or_else(|| Error::not_found("product"))?;
    Ok(service::managed_product(&state.store, user, &id).await?)
}

pub async fn new_product_form(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
) -> WebResult {
    let shop = managed_shop(&state, &v, &handle).await?;
    form_page(
        &v,
        StatusCode::OK,
        &shop,
        None,
        Fields::blank(),
        Errs::none(),
        false,
    )
}

pub async fn edit_product_form(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let (shop, product) = managed_product(&state, &v, &id).await?;
    form_page(
        &v,
        StatusCode::OK,
        &shop,
        Some(&product),
        Fields::of(&product),
        Errs::none(),
        false,
    )
}

/// Checks the form, stores its uploads, and hands the finished `ProductForm` to `save`.
/// Re-shows the form with every problem when anything is wrong; nothing is written then
/// (uploads are stored only after the text fields pass).
async fn submit<F, Fut>(
    state: &AppState,
    v: &Visitor,
    mut form: FormData,
    shop: &Shop,
    product: Option<&Product>,
    save: F,
) -> WebResult
where
    F: FnOnce(ProductForm) -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<Product>>,
{
    let user = v.require_user()?;
    let fields = Fields::read(&form, product);
    let slots: Vec<usize> = (0..NEW_IMAGE_SLOTS)
        .filter(|k| form.has_file(&format!("image_{k}")))
        .collect();
    let mut built = build(&fields, &slots);
    let mut problems = form.problems.clone();
    for (f, p) in std::mem::take(&mut built.problems).0 {
        problems.add(f, p);
    }
    let default_status = product.map_or(ProductStatus::Draft, |p| p.status);
    merge_validation(
        &mut problems,
        validate::product(&built.form, default_status).map(|_| ()),
    )?;
    if problems.is_empty() {
        for &(k, index) in &built.uploads {
            let field = format!("image_{k}");
            if let Some(img) = store_file(state, user, &mut form, &field, &mut problems).await? {
                built.form.images[index].id = img.id.to_string();
            }
        }
    }
    if problems.is_empty() {
        match save(built.form.clone()).await {
            Ok(_) => {
                state.changed();
                return Ok(see_other(&format!("/dashboard/shops/{}", shop.handle)));
            }
            Err(e) => merge_validation(&mut problems, Err(e))?,
        }
    }
    let e = Errs::from_fields(v.lang, &problems, |f| built.rename(f));
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    form_page(v, status, shop, product, fields, e, !slots.is_empty())
}

pub async fn create_product(
    State(state): State<AppState>,
    v: Visitor,
    Path(handle): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let shop = managed_shop(&state, &v, &handle).await?;
    let user = v.require_user()?;
    let store = &state.store;
    submit(&state, &v, form, &shop, None, |pf| {
        service::create_product(store, user, &shop.handle, pf, ProductStatus::Draft)
    })
    .await
}

pub async fn update_product(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    form: FormData,
) -> WebResult {
    v.check_csrf(form.csrf())?;
    let (shop, product) = managed_product(&state, &v, &id).await?;
    let user = v.require_user()?;
    let store = &state.store;
    submit(&state, &v, form, &shop, Some(&product), |pf| {
        let changes = ProductChanges {
            title: Some(pf.title),
            description: Some(pf.description),
            price: Some(pf.price),
            currency: Some(pf.currency),
            compare_at_price: Some(pf.compare_at_price),
            stock: Some(pf.stock),
            sku: Some(pf.sku),
            tags: Some(pf.tags),
            images: Some(pf.images),
            variants: Some(pf.variants),
            status: pf.status,
        };
        service::update_product(store, user, &product.id, changes)
    })
    .await
}

/// What the buttons on the dashboard do.
#[derive(Clone, Copy)]
enum Action {
    Publish,
    Archive,
    Delete,
}

async fn act(state: AppState, v: Visitor, id: String, form: FormData, action: Action) -> WebResult {
    v.check_csrf(form.csrf())?;
    let (shop, product) = managed_product(&state, &v, &id).await?;
    let user = v.require_user()?;
    match action {
        Action::Publish => {
            service::set_product_status(&state.store, user, &product.id, ProductStatus::Published)
                .await?;
        }
        Action::Archive => {
            service::set_product_status(&state.store, user, &product.id, ProductStatus::Archived)
                .await?;
        }
        Action::Delete => service::delete_product(&state.store, user, &product.id).await?,
    }
    state.changed();
    Ok(see_other(&format!("/dashboard/shops/{}", shop.handle)))
}

pub async fn publish(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    form: FormData,
) -> WebResult {
    act(state, v, id, form, Action::Publish).await
}

pub async fn archive(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    form: FormData,
) -> WebResult {
    act(state, v, id, form, Action::Archive).await
}

pub async fn delete(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    form: FormData,
) -> WebResult {
    act(state, v, id, form, Action::Delete).await
}
