// Buying in a real browser (Debian's headless Chromium driven by playwright-core): the seller sets
// up checkout (bank transfer, one shipping option) in the dashboard; a guest adds two products
// (one with a variant) to the cart, checks out with an address, picks shipping and bank transfer,
// reviews the order as the server priced it and places it, landing on the order page with the
// payment reference and total; the seller sees the order, marks it paid and shipped with a
// tracking number; the guest's order page then shows "Shipped" and the tracking number.
//
// One instance on SQLite in its own temp data directory (FEDISHOP_DATABASE_URL is ignored, so this
// file can run beside storefront.test.mjs, which needs an empty database of its own). The seller's
// account and token come from the CLI, the shop and products from the JSON API.
//
// Run with scripts/browser-tests.sh, or here with `node --test orders.test.mjs` after
// `cargo build --bin fedishop`.
// Env: FEDISHOP_BIN, FEDISHOP_CHROMIUM (default /usr/bin/chromium), FEDISHOP_KEEP_TMP=1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  addUser,
  api,
  fedishopEnv,
  freePort,
  issueToken,
  killChildrenOnExit,
  requireBinary,
  spawnFedishop,
  stopProcess,
  waitForHealthz,
} from '../support/fedishop.mjs';

const CHROMIUM = process.env.FEDISHOP_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const WAIT_MS = 15_000;
const STEP_MS = 90_000;

const SELLER = { username: 'sella', display_name: 'Sella Seller', password: 'sella has a long password' };
const SHOP = { handle: 'teashop', name: 'Sella’s Tea', summary: 'Tea and cups.' };
const TEA = {
  title: 'Jasmine Tea',
  description: 'Green tea scented with jasmine.',
  price: '12.00',
  currency: 'EUR',
  variants: [
    { sku: 'JAS-M', options: [{ name: 'Size', value: 'M' }], stock: 5 },
    { sku: 'JAS-L', options: [{ name: 'Size', value: 'L' }], price: '15.00', stock: 3 },
  ],
};
const CUP = { title: 'Tea Cup', description: 'Porcelain.', price: '8.00', currency: 'EUR', stock: 4 };
const BANK = 'Sella Seller, IBAN DE02 1203 0000 0000 2020 51';
const GUEST = {
  email: 'gus@example.org',
  name: 'Gus Guest',
  line1: 'Hauptstraße 1',
  city: 'Berlin',
  postal: '10115',
  country: 'DE',
};
const TOTAL = '€36.90'; // 2 × 12.00 (M) + 1 × 8.00 + 4.90 shipping
const TRACKING = { carrier: 'DHL', number: 'JJD0001234567' };

let tmp;
let base;
let dir;
let log;
let server;
let browser;
let sellerCtx;
let sellerPage;
let guestCtx;
let guestPage;
let tea;
let cup;
let orderPath; // the guest's /orders/{id}/{secret}
let orderNumber;
const passed = new Set();

killChildrenOnExit(() => [server]);

const url = (p) => new URL(p, base).href;
const pathOf = (page) => new URL(page.url()).pathname;
const text = (page) => page.evaluate(() => document.body.innerText);

async function newContext() {
  const ctx = await browser.newContext({ locale: 'en-US', extraHTTPHeaders: { 'Accept-Language': 'en-US' } });
  ctx.setDefaultTimeout(WAIT_MS);
  ctx.setDefaultNavigationTimeout(WAIT_MS);
  return ctx;
}

async function visit(page, p, expectStatus = 200) {
  const resp = await page.goto(url(p));
  assert.ok(resp, `no response for ${p}`);
  assert.equal(resp.status(), expectStatus, `GET ${p} answered ${resp.status()}, landed on ${page.url()}`);
  return resp;
}

async function clickAndLoad(page, locator) {
  const nav = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: WAIT_MS });
  await locator.click();
  await nav;
  await page.waitForLoadState('load');
}

async function waitForPath(page, test, what) {
  const ok = typeof test === 'string' ? (u) => u.pathname === test : (u) => test.test(u.pathname);
  try {
    await page.waitForURL(ok, { timeout: WAIT_MS });
    await page.waitForLoadState('load');
  } catch (e) {
    const h = await page.locator('h1').first().innerText({ timeout: 1_000 }).catch(() => '(none)');
    throw new Error(`${what}: expected to land on ${test}, still on ${page.url()} (h1: ${h})`, { cause: e });
  }
}

async function screenshotAll(label) {
  const shots = [];
  if (!browser) return shots;
  let i = 0;
  for (const ctx of browser.contexts()) {
    for (const page of ctx.pages()) {
      const stem = path.join(tmp, `fail-${label}-${i++}`);
      try {
        await page.screenshot({ path: `${stem}.png`, fullPage: true, timeout: 5_000 });
        fs.writeFileSync(`${stem}.html`, `<!-- ${page.url()} -->\n${await page.content()}`);
        shots.push(`${stem}.png (${page.url()})`);
      } catch {
        // closed
      }
    }
  }
  return shots;
}

function step(key, title, needs, fn) {
  it(title, { timeout: STEP_MS }, async (t) => {
    const missing = needs.filter((n) => !passed.has(n));
    if (missing.length) {
      t.skip(`needs the step(s) that failed: ${missing.join(', ')}`);
      return;
    }
    try {
      await fn(t);
      passed.add(key);
    } catch (e) {
      const shots = await screenshotAll(key);
      console.error(`\n[browser test] step "${key}" failed: ${e.message}`);
      for (const s of shots) console.error(`[browser test] screenshot: ${s}`);
      console.error(`[browser test] server log: ${log}`);
      throw e;
    }
  });
}

describe('orders: guest checkout with bank transfer, seller marks paid and shipped', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    requireBinary();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fedishop-orders-'));
    dir = path.join(tmp, 'data');
    fs.mkdirSync(dir);
    log = path.join(tmp, 'server.log');
    const addr = `127.0.0.1:${await freePort()}`;
    base = `http://${addr}`;
    const env = fedishopEnv({ addr, dataDir: dir });
    const cliOptions = { cwd: dir, env, label: 'orders instance' };
    await addUser({ username: SELLER.username, password: SELLER.password, role: 'seller', displayName: SELLER.display_name }, cliOptions);
    const token = await issueToken(SELLER.username, cliOptions);
    server = spawnFedishop({ cwd: dir, env, logFile: log });
    await waitForHealthz(server, base, { logFile: log });
    await api(base, token, 'POST', '/api/v1/shops', SHOP, 201);
    tea = await api(base, token, 'POST', `/api/v1/shops/${SHOP.handle}/products`, TEA, 201);
    cup = await api(base, token, 'POST', `/api/v1/shops/${SHOP.handle}/products`, CUP, 201);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: WAIT_MS });
    sellerCtx = await newContext();
    sellerPage = await sellerCtx.newPage();
    guestCtx = await newContext();
    guestPage = await guestCtx.newPage();
    console.error(`[browser test] fedishop at ${base}, temp dir ${tmp}, Chromium ${browser.version()}`);
  });

  after(async () => {
    try {
      if (browser) await browser.close().catch(() => {});
    } finally {
      await stopProcess(server);
      const failed = ['settings', 'buy', 'ship', 'tracked'].some((k) => !passed.has(k));
      if (failed || process.env.FEDISHOP_KEEP_TMP) {
        console.error(`[browser test] kept ${tmp} (server log: ${log})`);
      } else if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }
  });

  step('settings', 'the seller sets up checkout: bank transfer and a shipping option', [], async () => {
    const page = sellerPage;
    await visit(page, '/login');
    await page.fill('form[action="/login"] [name="username"]', SELLER.username);
    await page.fill('form[action="/login"] [name="password"]', SELLER.password);
    await clickAndLoad(page, page.locator('form[action="/login"] button[type="submit"]'));
    await waitForPath(page, '/dashboard', 'after sign-in');

    // Before: product pages say the shop takes no orders; the dashboard says why.
    await visit(page, `/dashboard/shops/${SHOP.handle}`);
    assert.ok(await page.locator('.checkout-missing').isVisible(), 'the dashboard notes that checkout is not set up');
    await clickAndLoad(page, page.locator('a', { hasText: 'Checkout settings' }).first());
    await waitForPath(page, `/dashboard/shops/${SHOP.handle}/checkout`, 'the checkout settings link');

    // Bank transfer without details is refused next to the field.
    await page.check('#pm_bank_transfer_on');
    await page.fill('#ship_id_0', 'standard');
    await page.fill('#ship_name_0', 'Standard parcel');
    await page.fill('#ship_price_0', '4.90');
    await page.selectOption('#ship_currency_0', 'EUR');
    await clickAndLoad(page, page.locator('#save-checkout'));
    assert.equal(await page.locator('#pm_bank_transfer_details[aria-invalid="true"]').count(), 1, 'bank details are required');
    assert.equal(await page.inputValue('#ship_name_0'), 'Standard parcel', 'the typed values are kept');

    await page.fill('#pm_bank_transfer_details', BANK);
    await clickAndLoad(page, page.locator('#save-checkout'));
    await waitForPath(page, `/dashboard/shops/${SHOP.handle}/checkout`, 'after saving');
    assert.ok((await text(page)).includes('Checkout settings saved.'), 'saved notice');
    await visit(page, `/dashboard/shops/${SHOP.handle}`);
    assert.equal(await page.locator('.checkout-missing').count(), 0, 'the notice is gone once checkout is open');
  });

  step('buy', 'a guest adds two items (one with a variant), checks out, reviews and places the order', ['settings'], async () => {
    const page = guestPage;
    await visit(page, `/shops/${SHOP.handle}/products/${tea.id}`);
    const m = tea.variants.find((v) => v.sku === 'JAS-M');
    await page.selectOption('#buy-variant', m.id);
    await page.fill('#buy-quantity', '2');
    await clickAndLoad(page, page.getByRole('button', { name: 'Add to cart' }));
    await waitForPath(page, `/shops/${SHOP.handle}/cart`, 'after adding the tea');

    await visit(page, `/shops/${SHOP.handle}/products/${cup.id}`);
    await clickAndLoad(page, page.getByRole('button', { name: 'Add to cart' }));
    await waitForPath(page, `/shops/${SHOP.handle}/cart`, 'after adding the cup');
    const cart = await text(page);
    assert.ok(cart.includes(TEA.title) && cart.includes('(M)') && cart.includes(CUP.title), `the cart lists both items: ${cart}`);
    assert.ok(cart.includes('€32.00'), 'the cart subtotal is €32.00');

    await clickAndLoad(page, page.getByRole('link', { name: 'Checkout' }));
    await waitForPath(page, `/shops/${SHOP.handle}/checkout`, 'the checkout link');
    await page.fill('#email', GUEST.email);
    await page.fill('#ship_name', GUEST.name);
    await page.fill('#ship_line1', GUEST.line1);
    await page.fill('#ship_postal', GUEST.postal);
    await page.fill('#ship_city', GUEST.city);
    await page.fill('#ship_country', GUEST.country);
    await page.check('#ship-standard');
    await page.check('#pay-bank_transfer');
    await clickAndLoad(page, page.getByRole('button', { name: 'Review order' }));
    const review = await text(page);
    assert.ok(review.includes('Review your order'), `the review page: ${review}`);
    assert.ok(review.includes(TOTAL), `the review shows the total ${TOTAL}`);
    assert.ok(review.includes(BANK), 'the review shows the bank details');

    await clickAndLoad(page, page.locator('#place-order'));
    await waitForPath(page, /^\/orders\/[0-9a-f-]{36}\/[A-Za-z0-9_-]{43}$/, 'after placing the order');
    orderPath = pathOf(page);
    orderNumber = (await page.locator('.order-number').innerText()).trim();
    const order = await text(page);
    assert.match(orderNumber, /^[0-9A-Z]{5}-[0-9A-Z]{5}$/, 'an order number');
    assert.ok(order.includes(`quoting the reference ${orderNumber}`), `the payment reference: ${order}`);
    assert.ok(order.includes(TOTAL), 'the order page shows the total');
    assert.ok(order.includes(BANK), 'the order page shows the bank details');
    assert.ok(order.includes('Pending'), 'the order is pending');

    // The cart is empty now.
    await visit(page, `/shops/${SHOP.handle}/cart`);
    assert.ok((await text(page)).includes('Your cart is empty.'), 'the cart was emptied');
  });

  step('ship', 'the seller sees the order, marks it paid, then shipped with tracking', ['buy'], async () => {
    const page = sellerPage;
    await visit(page, `/dashboard/shops/${SHOP.handle}`);
    await clickAndLoad(page, page.locator('a', { hasText: /^Orders$/ }).first());
    await waitForPath(page, `/dashboard/shops/${SHOP.handle}/orders`, 'the orders link');
    const list = await text(page);
    assert.ok(list.includes(orderNumber) && list.includes(GUEST.name) && list.includes(TOTAL), `the list shows the order: ${list}`);
    await clickAndLoad(page, page.getByRole('link', { name: orderNumber }));
    const detail = await text(page);
    assert.ok(detail.includes(GUEST.email) && detail.includes(GUEST.line1), 'the seller sees address and contact');

    await clickAndLoad(page, page.locator('#action-paid button[type="submit"]'));
    assert.equal((await page.locator('.order-status').innerText()).trim(), 'Paid');
    await page.fill('#carrier-shipped', TRACKING.carrier);
    await page.fill('#tracking-shipped', TRACKING.number);
    await clickAndLoad(page, page.locator('#action-shipped button[type="submit"]'));
    assert.equal((await page.locator('.order-status').innerText()).trim(), 'Shipped');
    assert.equal((await page.locator('.order-tracking').innerText()).trim(), TRACKING.number);
  });

  step('tracked', "the guest's order page shows shipped and the tracking number", ['ship'], async () => {
    const page = guestPage;
    const resp = await visit(page, orderPath);
    assert.equal(resp.headers()['cache-control'], 'no-store', 'the order page is not stored');
    assert.equal(resp.headers()['referrer-policy'], 'no-referrer', 'the secret does not leak as a referrer');
    assert.equal((await page.locator('.order-status').innerText()).trim(), 'Shipped');
    assert.equal((await page.locator('.order-tracking').innerText()).trim(), TRACKING.number);
    assert.equal((await page.locator('.order-carrier').innerText()).trim(), TRACKING.carrier);
    assert.equal(await page.locator('form.cancel-order').count(), 0, 'no cancel button after shipping');
  });
});
