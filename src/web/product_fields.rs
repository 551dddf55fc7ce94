//! The product form's data: what was typed (`Fields`), how it becomes a domain
//! `ProductForm` (`build`), and how domain field names map back to the HTML inputs. Pure; the
//! handlers are in `product_form.rs`.

use crate::domain::catalog::{
    validate, ImageForm, Product, ProductForm, ProductStatus, VariantForm, VariantOption,
};
use crate::domain::ids::ImageId;
use crate::error::FieldErrors;
use crate::web::forms::{whole_number, FormData};
use crate::web::views::ImgView;

/// File inputs for new images on the form.
pub const NEW_IMAGE_SLOTS: usize = 4;
/// Empty variant rows offered below the existing ones.
pub const EMPTY_VARIANT_ROWS: usize = 5;

/// One image already attached to the product, as shown and as submitted.
#[derive(Clone, Debug)]
pub struct ExistingImage {
    pub id: String,
    pub alt: String,
    pub keep: bool,
    pub thumb: Option<ImgView>,
}

#[derive(Clone, Debug, Default)]
pub struct VariantRow {
    pub sku: String,
    pub opt1: String,
    pub opt2: String,
    pub opt3: String,
    pub price: String,
    pub stock: String,
}

/// The product form exactly as typed (or as stored, for a fresh edit page).
#[derive(Clone, Debug, Default)]
pub struct Fields {
    pub title: String,
    pub description: String,
    pub price: String,
    pub currency: String,
    pub compare_at_price: String,
    pub stock: String,
    pub sku: String,
    pub tags: String,
    pub status: String,
    pub option1_name: String,
    pub option2_name: String,
    pub option3_name: String,
    pub existing: Vec<ExistingImage>,
    pub new_alts: Vec<String>,
    pub variants: Vec<VariantRow>,
}

impl Fields {
    pub fn blank() -> Fields {
        Fields {
            currency: "EUR".into(),
            status: ProductStatus::Draft.as_str().into(),
            new_alts: vec![String::new(); NEW_IMAGE_SLOTS],
            variants: vec![VariantRow::default(); EMPTY_VARIANT_ROWS],
            ..Fields::default()
        }
    }

    pub fn of(p: &Product) -> Fields {
        let f = ProductForm::from_product(p);
        let option_name = |j: usize| {
            p.variants
                .first()
                .and_then(|v| v.options.get(j))
                .map_or(String::new(), |o| o.name.clone())
        };
        let mut variants: Vec<VariantRow> = f
            .variants
            .iter()
            .map(|v| VariantRow {
                sku: v.sku.clone(),
                opt1: v.options.first().map_or(String::new(), |o| o.value.clone()),
                opt2: v.options.get(1).map_or(String::new(), |o| o.value.clone()),
                opt3: v.options.get(2).map_or(String::new(), |o| o.value.clone()),
                // Empty means "the product price", so only differing prices are shown.
                price: v
                    .price
                    .clone()
                    .filter(|vp| *vp != f.price)
                    .unwrap_or_default(),
                stock: v.stock.to_string(),
            })
            .collect();
        variants.extend(std::iter::repeat_n(
            VariantRow::default(),
            EMPTY_VARIANT_ROWS,
        ));
        Fields {
            option1_name: option_name(0),
            option2_name: option_name(1),
            option3_name: option_name(2),
            title: f.title,
            description: f.description,
            price: f.price,
            currency: f.currency,
            compare_at_price: f.compare_at_price.unwrap_or_default(),
            stock: if p.variants.is_empty() {
                f.stock.to_string()
            } else {
                "0".into()
            },
            sku: f.sku.unwrap_or_default(),
            tags: f.tags.join(", "),
            status: p.status.as_str().into(),
            existing: p
                .images
                .iter()
                .map(|i| ExistingImage {
                    id: i.image.id.to_string(),
                    alt: i.alt.clone(),
                    keep: true,
                    thumb: Some(ImgView::thumb(&i.image, &i.alt)),
                })
                .collect(),
            new_alts: vec![String::new(); NEW_IMAGE_SLOTS],
            variants,
        }
    }

    /// Reads the submitted form; `current` supplies thumbnails for the existing images.
    pub fn read(form: &FormData, current: Option<&Product>) -> Fields {
        let text = |n: &str| form.text(n).to_string();
        let mut existing = vec![];
        for i in 0..validate::MAX_IMAGES * 2 {
            let id = form.text(&format!("existing_id_{i}"));
            if id.is_empty() {
                continue;
            }
            // Only images of this product can be listed again; anything else is dropped.
            let Some(img) =
                current.and_then(|p| p.images.iter().find(|x| x.image.id.as_str() == id))
            else {
                continue;
            };
            existing.push(ExistingImage {
                id: id.to_string(),
                alt: text(&format!("existing_alt_{i}")),
                keep: form.has(&format!("keep_image_{i}")),
                thumb: Some(ImgView::thumb(&img.image, &img.alt)),
            });
        }
        let mut variants = vec![];
        for i in 0..validate::MAX_VARIANTS + EMPTY_VARIANT_ROWS {
            let name = |f: &str| format!("variant_{f}_{i}");
            if !form.has(&name("sku")) {
                continue;
            }
            variants.push(VariantRow {
                sku: text(&name("sku")),
                opt1: text(&name("opt1")),
                opt2: text(&name("opt2")),
                opt3: text(&name("opt3")),
                price: text(&name("price")),
                stock: text(&name("stock")),
            });
        }
        Fields {
            title: text("title"),
            description: text("description"),
            price: text("price"),
            currency: text("currency"),
            compare_at_price: text("compare_at_price"),
            stock: text("stock"),
            sku: text("sku"),
            tags: text("tags"),
            status: text("status"),
            option1_name: text("option1_name"),
            option2_name: text("option2_name"),
            option3_name: text("option3_name"),
            existing,
            new_alts: (0..NEW_IMAGE_SLOTS)
                .map(|k| text(&format!("image_alt_{k}")))
                .collect(),
            variants,
        }
    }
}

/// The domain form built from `Fields`, and how its field names map back to the HTML form.
pub struct Built {
    pub form: ProductForm,
    pub problems: FieldErrors,
    /// For `images[i]`: (field for the id problem, field for the alt problem).
    pub image_fields: Vec<(String, String)>,
    /// For each new upload: its slot and its index in `form.images` (a placeholder id).
    pub uploads: Vec<(usize, usize)>,
    /// For `variants[i]`: the row number and the option column of each option.
    pub variant_rows: Vec<(usize, Vec<usize>)>,
}

pub fn build(f: &Fields, upload_slots: &[usize]) -> Built {
    let mut problems = FieldErrors::new();
    let mut images = vec![];
    let mut image_fields = vec![];
    for (i, img) in f.existing.iter().enumerate().filter(|(_, x)| x.keep) {
        images.push(ImageForm {
            id: img.id.clone(),
            alt: img.alt.clone(),
        });
        image_fields.push((format!("existing_alt_{i}"), format!("existing_alt_{i}")));
    }
    let mut uploads = vec![];
    for &k in upload_slots {
        uploads.push((k, images.len()));
        images.push(ImageForm {
            id: ImageId::new().to_string(),
            alt: f.new_alts.get(k).cloned().unwrap_or_default(),
        });
        image_fields.push((format!("image_{k}"), format!("image_alt_{k}")));
    }
    let mut variants = vec![];
    let mut variant_rows = vec![];
    for (r, row) in f.variants.iter().enumerate() {
        if row.sku.trim().is_empty() {
            continue;
        }
        let mut options = vec![];
        let mut cols = vec![];
        for (col, name, value) in [
            (1, &f.option1_name, &row.opt1),
            (2, &f.option2_name, &row.opt2),
            (3, &f.option3_name, &row.opt3),
        ] {
            if !value.trim().is_empty() {
                options.push(VariantOption {
                    name: name.clone(),
                    value: value.clone(),
                });
                cols.push(col);
            }
        }
        let price = Some(row.price.clone()).filter(|p| !p.trim().is_empty());
        let stock = whole_number(&mut problems, &format!("variant_stock_{r}"), &row.stock);
        variants.push(VariantForm {
            sku: row.sku.clone(),
            options,
            price,
            stock,
        });
        variant_rows.push((r, cols));
    }
    let stock = whole_number(&mut problems, "stock", &f.stock);
    let opt = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
    let form = ProductForm {
        title: f.title.clone(),
        description: f.description.clone(),
        price: f.price.clone(),
        currency: f.currency.clone(),
        compare_at_price: opt(&f.compare_at_price),
        stock,
        sku: opt(&f.sku),
        tags: validate::split_tags(&f.tags),
        images,
        variants,
        status: opt(&f.status),
    };
    Built {
        form,
        problems,
        image_fields,
        uploads,
        variant_rows,
    }
}

impl Built {
    /// Domain field name -> HTML form field name.
    pub fn rename(&self, field: &str) -> String {
        if let Some((i, rest)) = indexed(field, "images") {
            return match (self.image_fields.get(i), rest) {
                (Some((_, alt)), "alt") => alt.clone(),
                (Some((id, _)), _) => id.clone(),
                (None, _) => "image_0".into(),
            };
        }
        if let Some((i, rest)) = indexed(field, "variants") {
            let Some((row, cols)) = self.variant_rows.get(i) else {
                return "variant_sku_0".into();
            };
            let col = |j: usize| cols.get(j).copied().unwrap_or(1);
            return match rest {
                "sku" | "price" | "stock" => format!("variant_{rest}_{row}"),
                "options" => format!("variant_opt1_{row}"),
                _ => match indexed(rest, "options") {
                    Some((j, "name")) => format!("option{}_name", col(j)),
                    Some((j, _)) => format!("variant_opt{}_{row}", col(j)),
                    None => format!("variant_sku_{row}"),
                },
            };
        }
        match field {
            "images" => "image_0".into(),
            "variants" => "variant_sku_0".into(),
            f => f.to_string(),
        }
    }
}

/// `images[3].alt` -> `(3, "alt")` for prefix `images`.
pub fn indexed<'a>(field: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let rest = field.strip_prefix(prefix)?.strip_prefix('[')?;
    let (n, rest) = rest.split_once(']')?;
    Some((n.parse().ok()?, rest.strip_prefix('.').unwrap_or(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_with_rows() -> Fields {
        let mut f = Fields::blank();
        f.option1_name = "Size".into();
        f.option2_name = "Colour".into();
        f.option3_name = "Material".into();
        f.variants[0] = VariantRow {
            sku: "T-S".into(),
            opt1: "S".into(),
            opt2: "".into(),
            opt3: "".into(),
            price: "".into(),
            stock: "3".into(),
        };
        f.variants[2] = VariantRow {
            sku: "T-M".into(),
            opt1: "".into(),
            opt2: "Red".into(),
            opt3: "Wool".into(),
            price: "12".into(),
            stock: "x".into(),
        };
        f
    }

    #[test]
    fn empty_rows_are_ignored_and_fields_map_back_to_rows() {
        let b = build(&fields_with_rows(), &[1]);
        assert_eq!(b.form.variants.len(), 2);
        assert_eq!(b.form.variants[0].options.len(), 1);
        assert_eq!(b.form.variants[1].options[0].name, "Colour");
        assert_eq!(b.form.variants[1].options[1].name, "Material");
        assert_eq!(b.form.variants[1].options[1].value, "Wool");
        assert_eq!(
            b.problems.get("variant_stock_2"),
            Some(&crate::error::Problem::NotANumber)
        );
        assert_eq!(b.rename("variants[1].sku"), "variant_sku_2");
        assert_eq!(b.rename("variants[1].options[0].value"), "variant_opt2_2");
        assert_eq!(b.rename("variants[1].options[0].name"), "option2_name");
        assert_eq!(b.rename("variants[1].options[1].value"), "variant_opt3_2");
        assert_eq!(b.rename("variants[1].options[1].name"), "option3_name");
        assert_eq!(b.rename("variants[0].options"), "variant_opt1_0");
        assert_eq!(b.rename("images[0].alt"), "image_alt_1");
        assert_eq!(b.rename("images[0].id"), "image_1");
        assert_eq!(b.rename("title"), "title");
        assert_eq!(b.uploads, vec![(1, 0)]);
    }

    fn three_option_product() -> Product {
        use crate::domain::catalog::Variant;
        use crate::domain::ids::{ProductId, ShopId, VariantId};
        use crate::domain::money::{Currency, Money};
        let opts = |size: &str, colour: &str, material: &str| {
            [("Size", size), ("Colour", colour), ("Material", material)]
                .into_iter()
                .map(|(name, value)| VariantOption {
                    name: name.into(),
                    value: value.into(),
                })
                .collect::<Vec<_>>()
        };
        let variant = |sku: &str, options: Vec<VariantOption>, minor: i64, stock: i64| Variant {
            id: VariantId::new(),
            title: options
                .iter()
                .map(|o| o.value.as_str())
                .collect::<Vec<_>>()
                .join(" / "),
            options,
            sku: sku.into(),
            price: Money::new(minor, Currency::EUR),
            stock,
        };
        Product {
            id: ProductId::new(),
            shop_id: ShopId::new(),
            title: "Scarf".into(),
            description: String::new(),
            description_html: String::new(),
            price: Money::new(900, Currency::EUR),
            compare_at: None,
            stock: 0,
            sku: None,
            status: ProductStatus::Draft,
            tags: vec![],
            images: vec![],
            variants: vec![
                variant("SC-S-RW", opts("S", "Red", "Wool"), 1000, 2),
                variant("SC-M-BC", opts("M", "Blue", "Cotton"), 1250, 5),
            ],
            created_at: 0,
            updated_at: 0,
            published_at: None,
        }
    }

    #[test]
    fn three_options_round_trip_through_the_form() {
        let p = three_option_product();
        let f = Fields::of(&p);
        assert_eq!(f.option1_name, "Size");
        assert_eq!(f.option2_name, "Colour");
        assert_eq!(f.option3_name, "Material");
        assert_eq!(f.variants[0].opt3, "Wool");
        assert_eq!(f.variants[1].opt3, "Cotton");
        let b = build(&f, &[]);
        assert!(b.problems.is_empty());
        // Variant prices differ from the product price, so the form keeps them all.
        assert_eq!(b.form.variants, ProductForm::from_product(&p).variants);
        assert_eq!(b.form.variants[0].options.len(), 3);
        assert_eq!(b.rename("variants[1].options[2].value"), "variant_opt3_1");
        assert_eq!(b.rename("variants[1].options[2].name"), "option3_name");
    }

    #[test]
    fn kept_images_come_first() {
        let mut f = Fields::blank();
        let id = ImageId::new().to_string();
        f.existing = vec![
            ExistingImage {
                id: ImageId::new().to_string(),
                alt: "gone".into(),
                keep: false,
                thumb: None,
            },
            ExistingImage {
                id: id.clone(),
                alt: "kept".into(),
                keep: true,
                thumb: None,
            },
        ];
        let b = build(&f, &[0]);
        assert_eq!(b.form.images.len(), 2);
        assert_eq!(b.form.images[0].id, id);
        assert_eq!(b.rename("images[0].alt"), "existing_alt_1");
        assert_eq!(b.rename("images[1].alt"), "image_alt_0");
    }
}
