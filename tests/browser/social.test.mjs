// Federation in a real browser (Debian's headless Chromium driven by playwright-core): two
// fedishop instances on loopback, A with a seller's shop and a published product, B with a member.
// The member follows the shop from B's /feed, sees its product backfilled, likes it and replies;
// an anonymous visitor sees the like and the reply on A's product page; the seller sees the
// follower and the activity in A's shop dashboard.
//
// Both instances use SQLite in their own temp data directory (FEDISHOP_DATABASE_URL is ignored:
// two instances cannot share one database), with FEDISHOP_DEV_FEDERATION=true so they may talk
// plain http to each other on loopback ports.
//
// Run with scripts/browser-tests.sh, or here with `npm test` (or `node --test social.test.mjs`)
// after `cargo build --bin fedishop`.
// Env: FEDISHOP_BIN (binary; default ../../target/debug/fedishop), FEDISHOP_CHROMIUM (default
// /usr/bin/chromium), FEDISHOP_KEEP_TMP=1 (keep the temp dir: server logs and screenshots).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  addUser,
  api,
  eventually,
  fedishopEnv,
  freePort,
  issueToken,
  killChildrenOnExit,
  requireBinary,
  spawnFedishop,
  stopProcess,
  tailOf,
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

const WAIT_MS = 15_000; // every single wait in a step (eventually()'s default is the same 15 s)
const FEDERATION_MS = 20_000; // waiting for something to travel between the instances
const STEP_MS = 90_000; // a whole step

const SELLER = { username: 'anna', display_name: 'Anna Seller', password: 'anna has a long password' };
const MEMBER = { username: 'cleo', display_name: 'Cleo Member', password: 'cleo has a long password' };
const SHOP = { handle: 'teashop', name: 'Anna’s Tea Shop', summary: 'Loose-leaf tea, **federated**.' };
const PRODUCT = {
  title: 'Lapsang Souchong',
  description: 'Pine-smoked black tea from Fujian.',
  price: '12.50',
  currency: 'EUR',
  stock: 5,
  tags: ['tea', 'black'],
};
const REPLY = 'Is it smoky?';

// ---------------------------------------------------------------------------------------------
// Shared state of the run.

let tmp; // temp dir: both data dirs, logs, screenshots
let browser;
const A = { name: 'A' }; // the seller's instance: { name, port, addr, base, dir, log, proc }
const B = { name: 'B' }; // the member's instance
let productUrl; // absolute URL of the product on A (from the API)
const passed = new Set();
const notes = [];
const screenshots = [];

// ---------------------------------------------------------------------------------------------
// Helpers.

/** The environment of an instance: hermetic, no FEDISHOP_* of the caller's leaks in. */
const envOf = (inst) => fedishopEnv({ addr: inst.addr, dataDir: inst.dir, devFederation: true });

/** How the CLI runs against `inst`'s data dir (cwd: its dir, so no ./fedishop.toml is read). */
const cliOf = (inst) => ({ cwd: inst.dir, env: envOf(inst), label: `instance ${inst.name}` });

async function prepareInstance(inst) {
  inst.port = await freePort();
  inst.addr = `127.0.0.1:${inst.port}`;
  inst.base = `http://${inst.addr}`;
  inst.dir = path.join(tmp, `instance-${inst.name}`);
  inst.log = path.join(tmp, `server-${inst.name}.log`);
  fs.mkdirSync(inst.dir, { recursive: true });
}

async function startServer(inst) {
  // cwd: the instance's dir, so no ./fedishop.toml of the developer's is read.
  inst.proc = spawnFedishop({ cwd: inst.dir, env: envOf(inst), logFile: inst.log });
  await waitForHealthz(inst.proc, inst.base, { logFile: inst.log, label: `fedishop ${inst.name}` });
}

// Whatever happens (an uncaught error, Ctrl-C), the servers do not outlive the test process.
killChildrenOnExit(() => [A.proc, B.proc]);

const stepContexts = []; // closed at the end of the step that opened them, after any screenshot

/** A fresh browser context (no cookies), in English. */
async function newContext() {
  const ctx = await browser.newContext({ locale: 'en-US', extraHTTPHeaders: { 'Accept-Language': 'en-US' } });
  ctx.setDefaultTimeout(WAIT_MS);
  ctx.setDefaultNavigationTimeout(WAIT_MS);
  stepContexts.push(ctx);
  return ctx;
}

const pathOf = (page) => new URL(page.url()).pathname;

/** Navigates to `href` (absolute) and asserts the status. */
async function visit(page, href, expectStatus = 200) {
  const resp = await page.goto(href);
  assert.ok(resp, `no response for ${href}`);
  assert.equal(resp.status(), expectStatus, `GET ${href} answered ${resp.status()}, landed on ${page.url()}`);
  return resp;
}

/** Waits until the page is at `pathname` (and loaded). */
async function waitForPath(page, pathname, what) {
  try {
    await page.waitForURL((u) => u.pathname === pathname, { timeout: WAIT_MS });
    await page.waitForLoadState('load');
  } catch (e) {
    const h = await page.locator('h1').first().innerText({ timeout: 1_000 }).catch(() => '(none)');
    throw new Error(`${what}: expected to land on ${pathname}, still on ${page.url()} (h1: ${h})`, { cause: e });
  }
}

/** Clicks and waits for the resulting main-frame navigation to finish loading. */
async function clickAndLoad(page, locator) {
  const nav = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: WAIT_MS });
  await locator.click();
  await nav;
  await page.waitForLoadState('load');
}

/** Signs `user` in on `inst` through /login; lands on /dashboard. */
async function signIn(page, inst, user) {
  await visit(page, `${inst.base}/login`);
  await page.fill('form[action="/login"] [name="username"]', user.username);
  await page.fill('form[action="/login"] [name="password"]', user.password);
  await clickAndLoad(page, page.locator('form[action="/login"] button[type="submit"]'));
  await waitForPath(page, '/dashboard', `${user.username} signing in on ${inst.name}`);
}

/** A full-page screenshot into the temp dir. */
async function shoot(page, name) {
  const file = path.join(tmp, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: WAIT_MS });
  screenshots.push(file);
  return file;
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
        // page already closed
      }
    }
  }
  return shots;
}

/**
 * One scenario step. Skipped when a step it needs failed; on failure, screenshots (and HTML) of
 * every open page go to the temp dir, and their paths are printed with the servers' logs.
 */
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
      for (const inst of [A, B]) console.error(`[browser test] server ${inst.name} log: ${inst.log}\n${tailOf(inst.log, 15)}`);
      throw e;
    } finally {
      for (const ctx of stepContexts.splice(0)) await ctx.close().catch(() => {});
    }
  });
}

// Contexts that live across steps: cleo on B (follow, then like and reply on the same feed).
let cleo;
let cleoPage;

/** The feed item (article) on cleo's /feed whose title is the product's. */
const feedItem = (page) =>
  page.locator('article.feed-item', { has: page.locator('h3', { hasText: PRODUCT.title }) }).first();

// ---------------------------------------------------------------------------------------------
// The scenario.

describe('social: follow a shop on another instance, like and reply, seen by visitor and seller', { timeout: 10 * 60_000 }, () => {
  const started = Date.now();

  before(async () => {
    requireBinary();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fedishop-social-'));
    await prepareInstance(A);
    await prepareInstance(B);
    // Accounts first (the CLI creates and migrates the SQLite file), then the servers.
    const user = (u, role) => ({ username: u.username, password: u.password, role, displayName: u.display_name });
    await addUser(user(SELLER, 'seller'), cliOf(A));
    await addUser(user(MEMBER, 'member'), cliOf(B));
    const token = await issueToken(SELLER.username, cliOf(A));
    assert.ok(token, '`fedishop token issue anna` printed a token');
    await Promise.all([startServer(A), startServer(B)]);

    // The shop and a published product on A, through the JSON API.
    await api(A.base, token, 'POST', '/api/v1/shops', { handle: SHOP.handle, name: SHOP.name, summary: SHOP.summary }, 201);
    const product = await api(A.base, token, 'POST', `/api/v1/shops/${SHOP.handle}/products`, PRODUCT, 201);
    assert.equal(product.status, 'published', 'a product created through the API without "status" is published');
    productUrl = product.url;
    assert.equal(new URL(productUrl).origin, A.base, `the product's url is on A (is ${productUrl})`);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: WAIT_MS });
    cleo = await newContext();
    stepContexts.length = 0; // cleo's context lives for the whole run
    cleoPage = await cleo.newPage();
    console.error(
      `[browser test] A (seller) at ${A.base}, B (member) at ${B.base}, temp dir ${tmp}, Chromium ${browser.version()}`,
    );
  });

  after(async () => {
    try {
      if (browser) await browser.close().catch(() => {});
    } finally {
      await Promise.all([stopProcess(A.proc), stopProcess(B.proc)]);
      const failed = ['follow', 'react', 'product', 'dashboard'].some((k) => !passed.has(k));
      for (const n of notes) console.error(`[browser test] note: ${n}`);
      console.error(`[browser test] ${passed.size} step(s) passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (failed || process.env.FEDISHOP_KEEP_TMP) {
        for (const s of screenshots) console.error(`[browser test] screenshot: ${s}`);
        console.error(`[browser test] kept ${tmp} (server logs: ${A.log}, ${B.log})`);
      } else if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }
  });

  step('follow', 'cleo on B follows @teashop@A from /feed; the product is backfilled into her feed', [], async (t) => {
    const page = cleoPage;
    const target = `@${SHOP.handle}@${A.addr}`;
    await signIn(page, B, MEMBER);

    await visit(page, `${B.base}/feed`);
    const form = page.locator('form#follow-form');
    assert.equal(
      (await page.locator('.follow-anywhere h2').innerText()).trim(),
      'Follow a shop anywhere',
      'the feed page has the "Follow a shop anywhere" form',
    );
    assert.equal(await page.locator('.following .empty').count(), 1, 'cleo follows nobody yet');
    await form.locator('input[name="target"]').fill(target);
    await clickAndLoad(page, form.getByRole('button', { name: 'Follow', exact: true }));
    assert.equal(pathOf(page), '/feed', `after following: at ${page.url()}`);
    const error = await page.locator('#follow-form .field-error').allInnerTexts();
    assert.deepEqual(error, [], `the follow form shows no error (${JSON.stringify(error)})`);

    // The shop is listed under "Following", as followed or requested.
    const row = page.locator('.following-list li', { has: page.locator('.handle', { hasText: target }) });
    assert.equal(await row.count(), 1, `"${target}" is listed under Following`);
    const state = (await row.locator('.follow-state').innerText()).trim();
    assert.match(state, /^(following|requested)$/i, `its state is following or requested (is "${state}")`);
    assert.ok((await row.innerText()).includes(SHOP.name), `the row names the shop "${SHOP.name}"`);
    t.diagnostic(`right after following, the state is "${state}"`);

    // The shop accepts by itself and sends its existing products: reload until the product shows.
    let loads = 0;
    await eventually(
      async () => {
        loads++;
        await visit(page, `${B.base}/feed`);
        return (await feedItem(page).count()) > 0;
      },
      `"${PRODUCT.title}" appears in cleo's feed`,
      FEDERATION_MS,
      500,
    );
    t.diagnostic(`the product appeared after ${loads} load(s) of /feed`);
    const now = (await row.locator('.follow-state').innerText()).trim();
    assert.equal(now.toLowerCase(), 'following', `once accepted, the shop's state is "following" (is "${now}")`);

    const item = feedItem(page);
    const title = item.locator('h3');
    assert.equal(
      await title.locator('a').getAttribute('href'),
      productUrl,
      "the feed item's title links to the product page on A",
    );
    assert.ok((await item.locator('.price-now').innerText()).includes('12.50'), 'the feed item shows the price 12.50');
    assert.ok((await item.locator('.feed-shop').innerText()).includes(target), 'the feed item names the shop @teashop@A');
  });

  step('react', 'cleo likes the product and replies "Is it smoky?" from the feed item', ['follow'], async () => {
    const page = cleoPage;
    await visit(page, `${B.base}/feed`);
    let item = feedItem(page);
    await clickAndLoad(page, item.locator('.react-buttons').getByRole('button', { name: 'Like', exact: true }));
    assert.equal(pathOf(page), '/feed', `after Like: at ${page.url()}`);
    item = feedItem(page);
    const unlike = item.locator('.react-buttons').getByRole('button', { name: 'Unlike', exact: true });
    assert.equal(await unlike.count(), 1, 'the Like button turned into Unlike');
    assert.match((await unlike.getAttribute('class')) || '', /\bpressed\b/, 'the Unlike button is shown pressed');

    // The reply form sits in a closed <details>: open it, then type and send.
    const details = item.locator('details.reply-details');
    assert.equal(await details.evaluate((d) => d.open), false, 'the reply form starts folded');
    await details.locator('summary').click();
    await eventually(() => details.evaluate((d) => d.open), 'the reply form unfolds');
    const form = details.locator('form.reply-form');
    await form.locator('textarea[name="content"]').fill(REPLY);
    await clickAndLoad(page, form.getByRole('button', { name: 'Reply', exact: true }));
    assert.equal(pathOf(page), '/feed', `after replying: at ${page.url()}`);
    const errors = await page.locator('.feed .field-error, .feed .form-error').allInnerTexts();
    assert.deepEqual(errors, [], `the feed shows no reply error (${JSON.stringify(errors)})`);
    assert.equal(
      await feedItem(page).locator('textarea[name="content"]').inputValue(),
      '',
      'the reply form is empty again after sending',
    );
    await feedItem(page).scrollIntoViewIfNeeded();
    await shoot(page, 'feed');
  });

  step('product', "an anonymous visitor sees the like and cleo's reply on A's product page", ['react'], async (t) => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    let loads = 0;
    let seen = null; // what the last load showed
    await eventually(
      async () => {
        loads++;
        await visit(page, productUrl);
        const likes = (await page.locator('.likes-count').innerText()).trim();
        const replies = await page.locator('.reply-list .reply-content').allInnerTexts();
        seen = { likes, replies };
        return likes === '1' && replies.some((r) => r.includes(REPLY));
      },
      () => `the product page on A shows 1 like and the reply "${REPLY}" (it shows ${JSON.stringify(seen)})`,
      FEDERATION_MS,
      500,
    );
    t.diagnostic(`the like and the reply were on A's product page after ${loads} load(s)`);
    assert.equal((await page.locator('h1').first().innerText()).trim(), PRODUCT.title, 'the <h1> is the title');
    assert.equal(await page.locator('.likes-count').count(), 1, 'one .likes-count');
    assert.equal(await page.locator('.reaction-counts .likes-count').innerText(), '1', '<span class="likes-count">1</span>');
    assert.equal((await page.locator('.boosts-count').innerText()).trim(), '0', 'no boosts');
    const reply = page.locator('.reply-list li.reply', { hasText: REPLY });
    assert.equal(await reply.count(), 1, 'exactly one reply with the text');
    const meta = await reply.locator('.reply-meta').innerText();
    assert.ok(meta.includes(`@${MEMBER.username}@${B.addr}`), `the reply is signed @cleo@B (meta: ${JSON.stringify(meta)})`);
    assert.ok(meta.includes(MEMBER.display_name), `the reply shows cleo's name (meta: ${JSON.stringify(meta)})`);
    assert.equal(
      await page.locator('.replies .sign-in-hint a[href="/login"]').count(),
      1,
      'an anonymous visitor is invited to sign in to react',
    );
    assert.equal(await page.locator('form[action^="/interact/"]').count(), 0, 'an anonymous visitor gets no reaction forms');
    await shoot(page, 'product');
  });

  step('dashboard', "anna sees cleo among the shop's followers and her like and reply under recent activity", ['product'], async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, A, SELLER);
    await visit(page, `${A.base}/dashboard/shops/${SHOP.handle}`);
    const cleoHandle = `@${MEMBER.username}@${B.addr}`;

    const panel = page.locator('section#followers');
    const accepted = panel.locator('ul[aria-labelledby="accepted-heading"] li.follower');
    assert.equal(await accepted.count(), 1, 'one current follower');
    const who = await accepted.first().locator('.who').innerText();
    assert.ok(who.includes(cleoHandle), `the follower is ${cleoHandle} (is ${JSON.stringify(who)})`);
    assert.ok(who.includes(MEMBER.display_name), `the follower shows cleo's name (is ${JSON.stringify(who)})`);
    assert.equal(await panel.locator('li.follower.pending').count(), 0, 'no follow request is waiting');

    const activity = page.locator('section.recent-activity');
    const like = activity.locator('li.activity-like');
    const reply = activity.locator('li.activity-reply');
    assert.equal(await like.count(), 1, 'one like under recent activity');
    assert.equal(await reply.count(), 1, 'one reply under recent activity');
    const likeText = await like.innerText();
    assert.ok(likeText.includes(cleoHandle), `the like is by ${cleoHandle} (${JSON.stringify(likeText)})`);
    assert.ok(likeText.includes('liked'), `the like says "liked" (${JSON.stringify(likeText)})`);
    assert.ok(likeText.includes(PRODUCT.title), `the like names the product (${JSON.stringify(likeText)})`);
    const replyText = await reply.innerText();
    assert.ok(replyText.includes(cleoHandle), `the reply is by ${cleoHandle} (${JSON.stringify(replyText)})`);
    assert.ok(replyText.includes('replied to'), `the reply says "replied to" (${JSON.stringify(replyText)})`);
    assert.equal((await reply.locator('blockquote.reply-content').innerText()).trim(), REPLY, 'the reply text is quoted');
    assert.equal(
      new URL(await like.locator(`a`, { hasText: PRODUCT.title }).getAttribute('href'), A.base).href,
      productUrl,
      'the activity links to the product page',
    );
  });
});
