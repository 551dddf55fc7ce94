//! Seeding: one seller, one shop and one published product that looks like a real listing,
//! created through the library exactly as the web form and the API would.

use fedishop::config::Settings;
use fedishop::domain::accounts::{self, NewUser, Role, User};
use fedishop::domain::catalog::service as catalog;
use fedishop::domain::catalog::{
    ImageForm, ProductForm, ProductStatus, ShopForm, ShopLink, VariantForm, VariantOption,
};

pub const SHOP_HANDLE: &str = "kyotoleaf";
/// Plain text that appears verbatim in the rendered page (no characters HTML would escape).
pub const PRODUCT_TITLE: &str = "Uji Kabusecha Shaded Green Tea";

/// Creates the seller, shop and product; returns the product page's path.
pub async fn seed(settings: &Settings) -> anyhow::Result<String> {
    let store = fedishop::server::open_store(settings).await?;
    let seller = accounts::create_user(
        &store,
        NewUser {
            username: "hanako".into(),
            display_name: Some("Hanako Tanaka".into()),
            password: "correct horse battery staple".into(),
            password_confirm: None,
            role: Role::Seller,
        },
    )
    .await?;
    catalog::create_shop(
        &store,
        &seller,
        ShopForm {
            handle: SHOP_HANDLE.into(),
            name: "Kyoto Leaf Tea Co.".into(),
            summary: "Small-batch **Japanese green teas**, sourced directly from family farms \
                      in Uji, Shizuoka and Kagoshima. Shipped every Tuesday."
                .into(),
            avatar_image: None,
            banner_image: None,
            links: vec![ShopLink {
                label: "Blog".into(),
                url: "https://blog.kyotoleaf.example/".into(),
            }],
            manually_approves_followers: false,
        },
    )
    .await?;
    let image = upload_sample_image(&store, settings, &seller).await?;
    let variant = |sku: &str, size: &str, price: &str, stock: i64| VariantForm {
        sku: sku.into(),
        options: vec![VariantOption {
            name: "Size".into(),
            value: size.into(),
        }],
        price: Some(price.into()),
        stock,
    };
    let product = catalog::create_product(
        &store,
        &seller,
        SHOP_HANDLE,
        ProductForm {
            title: PRODUCT_TITLE.into(),
            description: DESCRIPTION.into(),
            price: "14.50".into(),
            currency: "EUR".into(),
            compare_at_price: Some("17.00".into()),
            stock: 0,
            sku: Some("UJI-KABUSE".into()),
            tags: ["greentea", "uji", "kabusecha", "loose_leaf", "organic"]
                .map(String::from)
                .to_vec(),
            images: vec![ImageForm {
                id: image.id.to_string(),
                alt: "Dark green, needle-shaped tea leaves in a small white ceramic bowl".into(),
            }],
            variants: vec![
                variant("UJI-KABUSE-50", "50 g", "14.50", 42),
                variant("UJI-KABUSE-100", "100 g", "26.00", 17),
                variant("UJI-KABUSE-250", "250 g", "59.00", 5),
            ],
            status: Some("published".into()),
        },
        ProductStatus::Published,
    )
    .await?;
    store.close().await;
    Ok(fedishop::urls::Urls::product_path(SHOP_HANDLE, &product.id))
}

/// A 960×720 PNG gradient, uploaded the way the web form does it.
async fn upload_sample_image(
    store: &fedishop::db::Store,
    settings: &Settings,
    owner: &User,
) -> anyhow::Result<fedishop::domain::images::Image> {
    let img = image::RgbImage::from_fn(960, 720, |x, y| {
        image::Rgb([(40 + x / 8) as u8, (90 + y / 6) as u8, ((x + y) / 12) as u8])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)?;
    let image = fedishop::domain::images::store_upload(
        store,
        &settings.media_dir(),
        owner,
        png.into_inner(),
        settings.max_upload_bytes,
        "image",
    )
    .await?;
    Ok(image)
}

/// About 1.5 KB of Markdown, the size of a typical hand-written listing.
const DESCRIPTION: &str = "\
## Shaded for sweetness

Our **kabusecha** comes from a third-generation family garden on the hills above Uji. The \
bushes are covered with black *kanreisha* cloth for about ten days before the first spring \
harvest, which raises the theanine content and gives the leaf its deep colour, a soft, brothy \
sweetness and very little bitterness. It sits between a bright everyday sencha and a \
gyokuro.

### Tasting notes

- Fresh-cut grass and steamed spinach on the nose
- Round, savoury *umami* with a hint of sweet pea
- Long, clean finish without astringency

### How to brew

1. Use soft water at **70 °C** (let boiled water rest for about three minutes).
2. Put 5 g of leaves in a *kyusu* or any small teapot for 150 ml of water.
3. Steep for 60 seconds, then pour out every last drop.
4. Re-steep two or three times: 20 seconds for the second infusion, 45 for the third.

Cold brewing works beautifully too: 10 g of leaves in a litre of cold water, eight hours in \
the fridge.

### Storage

Keep the resealable pouch closed, away from light and strong smells, and enjoy it within two \
months of opening. Unopened pouches keep for a year in a cool cupboard.

> \"The best kabusecha I have found outside Japan.\" (a customer from Lyon)

Harvested in May 2024, first flush, *Yabukita* and *Saemidori* cultivars. Packed by hand in \
our workshop; see our [brewing guide](https://blog.kyotoleaf.example/brewing) for more.
";
