//! `fedishop demo`: three local instances that federate with each other on loopback
//! (`localhost:PORT`, `FEDISHOP_DEV_FEDERATION` on), with sample shops, products, members and
//! follows, so a newcomer sees federation with one command. Each instance keeps its SQLite
//! file in a fresh directory under the system temp dir, removed again when the demo stops
//! (Ctrl-C or SIGTERM).

use std::time::Duration;

use crate::config::Settings;
use crate::domain::accounts::{self, NewUser, Role, User};
use crate::domain::catalog::{service, ProductForm, ProductStatus, ShopForm, ShopLink};
use crate::domain::orders::checkout::{
    CheckoutSettings, PaymentMethod, PaymentOption, ShippingOption,
};
use crate::domain::orders::service as orders;
use crate::federation::social;
use crate::server::{self, AppState};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "fedishop demo password";

struct Instance {
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(port: u16, dir: &std::path::Path) -> anyhow::Result<Instance> {
    let settings = Settings {
        domain: format!("localhost:{port}"),
        bind: format!("127.0.0.1:{port}").parse()?,
        data_dir: dir.join(format!("instance-{port}")),
        dev_federation: true,
        open_registrations: true,
        ..Settings::default()
    };
    settings.validate()?;
    let store = server::open_store(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
    let state = AppState::new(store, settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = state.clone();
    tokio::spawn(async move {
        let done = async {
            let _ = stopped.await;
        };
        if let Err(e) = server::serve(listener, serving, done).await {
            tracing::error!(error = %e, "demo instance stopped");
        }
    });
    Ok(Instance { state, stop })
}

async fn account(state: &AppState, name: &str, display: &str, role: Role) -> anyhow::Result<User> {
    Ok(accounts::create_user(
        &state.store,
        NewUser {
            username: name.into(),
            display_name: Some(display.into()),
            password: DEMO_PASSWORD.into(),
            password_confirm: None,
            role,
        },
    )
    .await?)
}

async fn shop(
    state: &AppState,
    owner: &User,
    handle: &str,
    name: &str,
    summary: &str,
) -> anyhow::Result<()> {
    service::create_shop(
        &state.store,
        owner,
        ShopForm {
            handle: handle.into(),
            name: name.into(),
            summary: summary.into(),
            avatar_image: None,
            banner_image: None,
            links: vec![ShopLink {
                label: "About".into(),
                url: format!("{}/shops/{handle}", state.urls.base()),
            }],
            manually_approves_followers: false,
        },
    )
    .await?;
    // Open checkout: bank transfer, cash on delivery, pickup; two shipping options.
    orders::update_settings(
        &state.store,
        owner,
        handle,
        &CheckoutSettings {
            payment_methods: vec![
                PaymentOption {
                    method: PaymentMethod::BankTransfer,
                    details: format!("{name}, IBAN DE89 3704 0044 0532 0130 00 (demo)"),
                    url: None,
                },
                PaymentOption {
                    method: PaymentMethod::CashOnDelivery,
                    details: String::new(),
                    url: None,
                },
                PaymentOption {
                    method: PaymentMethod::PayAtPickup,
                    details: "At the shop, Mon-Fri 10:00-18:00".into(),
                    url: None,
                },
            ],
            shipping_options: vec![
                ShippingOption {
                    id: "standard".into(),
                    name: "Standard parcel".into(),
                    price: "4.90".into(),
                    currency: "EUR".into(),
                    countries: vec![],
                },
                ShippingOption {
                    id: "express".into(),
                    name: "Express".into(),
                    price: "12.00".into(),
                    currency: "EUR".into(),
                    countries: vec![],
                },
            ],
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

async fn product(
    state: &AppState,
    owner: &User,
    handle: &str,
    (title, description, price, currency, stock, tags): (&str, &str, &str, &str, i64, &[&str]),
) -> anyhow::Result<()> {
    service::create_product(
        &state.store,
        owner,
        handle,
        ProductForm {
            title: title.into(),
            description: description.into(),
            price: price.into(),
            currency: currency.into(),
            compare_at_price: None,
            stock,
            sku: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            images: vec![],
            variants: vec![],
            status: Some("published".into()),
        },
        ProductStatus::Published,
    )
    .await?;
    state.federation.changed();
    Ok(())
}

/// Runs the demo until Ctrl-C.
pub async fn run(base_port: u16) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("fedishop-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ports = [base_port, base_port + 1, base_port + 2];
    let mut instances = Vec::new();
    for port in ports {
        instances.push(start(port, &dir).await?);
    }
    let (tea, pots, members) = (
        &instances[0].state,
        &instances[1].state,
        &instances[2].state,
    );

    let anna = account(tea, "anna", "Anna (tea seller)", Role::Seller).await?;
    shop(
        tea,
        &anna,
        "teashop",
        "Anna's Tea",
        "Small-batch **oolong** and green tea.",
    )
    .await?;
    for p in [
        (
            "Oolong reserve",
            "Roasted over charcoal; notes of honey.",
            "24.00",
            "EUR",
            7,
            &["tea", "oolong"][..],
        ),
        (
            "Sencha",
            "Bright, grassy first flush from Shizuoka.",
            "12.50",
            "EUR",
            20,
            &["tea", "green"][..],
        ),
    ] {
        product(tea, &anna, "teashop", p).await?;
    }
    let ben = account(pots, "ben", "Ben (potter)", Role::Seller).await?;
    shop(
        pots,
        &ben,
        "potter",
        "Ben's Pottery",
        "Hand-thrown teapots and cups.",
    )
    .await?;
    product(
        pots,
        &ben,
        "potter",
        (
            "Blue teapot",
            "Stoneware, 0.8 l.",
            "48.00",
            "EUR",
            3,
            &["ceramics"][..],
        ),
    )
    .await?;
    let cleo = account(members, "cleo", "Cleo", Role::Member).await?;

    // Follows across servers: Cleo follows both shops; Ben follows Anna's shop.
    let tea_handle = format!("@teashop@{}", tea.settings.domain);
    let pot_handle = format!("@potter@{}", pots.settings.domain);
    social::follow(members, &cleo, &tea_handle).await?;
    social::follow(members, &cleo, &pot_handle).await?;
    social::follow(pots, &ben, &tea_handle).await?;
    // Followers see the shops' existing products (read from their outboxes on Accept) and,
    // from now on, every new one as it is published.
    tokio::time::sleep(Duration::from_secs(2)).await;
    product(
        tea,
        &anna,
        "teashop",
        (
            "Jasmine pearls",
            "Hand-rolled, scented over five nights.",
            "18.00",
            "EUR",
            12,
            &["tea"][..],
        ),
    )
    .await?;
    product(
        pots,
        &ben,
        "potter",
        (
            "Tea bowl",
            "Ash glaze, each one different.",
            "22.00",
            "EUR",
            5,
            &["ceramics"][..],
        ),
    )
    .await?;

    println!(
        "fedishop demo: three instances federating on loopback (data in {}, removed on exit)",
        dir.display()
    );
    println!();
    for (i, who) in [("teashop", "anna"), ("potter", "ben"), ("", "cleo")]
        .iter()
        .enumerate()
    {
        let s = &instances[i].state;
        let url = s.urls.base();
        if who.0.is_empty() {
            println!("  {url}  member {}: sign in and open {url}/feed", who.1);
        } else {
            println!(
                "  {url}  shop @{}@{} (seller {})",
                who.0, s.settings.domain, who.1
            );
        }
    }
    println!();
    println!("  every password: {DEMO_PASSWORD}");
    println!(
        "  try: sign in as cleo, like and reply to a product on her /feed page, then see the \
         reply on {}/shops/teashop",
        tea.urls.base()
    );
    println!();
    println!("Ctrl-C stops all three.");
    server::shutdown_signal().await;
    for i in instances {
        let _ = i.stop.send(());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
