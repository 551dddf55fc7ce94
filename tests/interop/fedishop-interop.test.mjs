// Federation interop: a real third-party ActivityPub implementation (Fedify, via fedify-peer.mjs)
// against the real `fedishop` binary, both on loopback. The peer follows a shop, receives the
// product as Create(Note) (Fedify checks our draft-cavage signature and parses our JSON-LD), likes
// and replies to it (fedishop checks Fedify's signatures), then receives Update and Delete.
//
// Run with scripts/interop-tests.sh, or here with `node --test` after `npm ci` and
// `cargo build --bin fedishop`.
// Env: FEDISHOP_BIN (binary; default ../../target/debug/fedishop), FEDISHOP_DATABASE_URL (an EMPTY
// database; SQLite in the temp dir otherwise), FEDISHOP_LOG (default info), PEER_LOG (Fedify's log
// level, default warning), FEDISHOP_KEEP_TMP=1 (keep the temp dir with both logs).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  addUser,
  api as apiCall,
  eventually as eventuallyEvery,
  fedishopEnv,
  freePort,
  issueToken,
  killChildrenOnExit,
  request as requestWithin,
  spawnFedishop,
  spawnLogged,
  stopProcess,
  tailOf,
  waitForHealthz,
} from '../support/fedishop.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PEER = path.join(HERE, 'fedify-peer.mjs');

const WAIT_MS = 20_000; // every wait for a delivery or a page to change
const STARTUP_MS = 30_000; // fedishop's /healthz, the peer's "listening" line
const STEP_MS = 60_000; // a whole step
const HTTP_MS = 10_000; // one HTTP request

const PUBLIC = 'https://www.w3.org/ns/activitystreams#Public';
const AP = 'application/activity+json';
const SELLER = { name: 'alice', password: 'correct horse battery staple' };
const SHOP = { handle: 'teashop', name: 'Tea Shop', summary: 'Fine **tea**' };
const PRODUCT = { title: 'Oolong', description: 'Roasted', price: '24.00', currency: 'EUR', stock: 7, tags: ['tea'], status: 'published' };
const REPLY = 'Is it smoky?';

// ---------------------------------------------------------------------------------------------
// Shared state of the run.

let tmp;
let base; // http://127.0.0.1:PORT of fedishop
let peerBase; // http://127.0.0.1:PORT of the Fedify peer
let server; // fedishop child process
let peer; // peer child process
let serverLog;
let peerLog;
let env; // fedishop's environment (serve and CLI)
let token;
let shopId; // the shop actor's id
let product; // the API's answer for the product
let productId; // its ActivityPub id
let createdNote; // the Note as the peer received it
const passed = new Set();
let stepCount = 0;

// ---------------------------------------------------------------------------------------------
// Helpers.

/** Polls `fn` every 200 ms until it returns a truthy value (see eventually in ../support). */
const eventually = (fn, message, ms = WAIT_MS) => eventuallyEvery(fn, message, ms, 200);

/** A request bounded by HTTP_MS; JSON bodies are sent as JSON. Returns { status, type, text, json }. */
const request = (url, options = {}) => requestWithin(url, { ...options, timeoutMs: HTTP_MS });

/** fedishop's JSON API as the seller; asserts the expected status. */
const api = (method, p, body, expect) => apiCall(base, token, method, `/api/v1${p}`, body, expect, { timeoutMs: HTTP_MS });

/** Tells the peer to do something; asserts it worked (a delivery fedishop refused fails here). */
async function peerDo(what, body) {
  const r = await request(`${peerBase}/control/${what}`, { method: 'POST', body });
  assert.equal(r.status, 200, `peer ${what} ${JSON.stringify(body)} failed: ${r.text.slice(0, 1000)}`);
  return r.json;
}

const received = async () => (await request(`${peerBase}/control/received`)).json;
const summary = (list) => JSON.stringify(list.map((a) => `${a.type} ${a.objectId} by ${a.actor}`));

/** Waits until the peer has received an activity matching `pred`. */
async function waitForActivity(description, pred) {
  let last = [];
  return eventually(
    async () => {
      last = await received();
      return last.find(pred) ?? null;
    },
    () => `the peer never received ${description}; it received ${summary(last)}`,
  );
}

/** fedishop's CLI with the server's environment. */
const cliOptions = () => ({ cwd: tmp, env });

async function startServer() {
  const addr = `127.0.0.1:${await freePort()}`;
  base = `http://${addr}`;
  // Hermetic environment: no FEDISHOP_* settings leak in except the database URL.
  env = fedishopEnv({
    addr,
    dataDir: path.join(tmp, 'data'),
    devFederation: true,
    keepDatabaseUrl: true,
    extra: {
      FEDISHOP_LOG: process.env.FEDISHOP_LOG || 'info',
      NO_COLOR: '1', // plain log file
    },
  });
  serverLog = path.join(tmp, 'fedishop.log');
  server = spawnFedishop({ cwd: tmp, env, logFile: serverLog });
  await waitForHealthz(server, base, { logFile: serverLog, ms: STARTUP_MS });
}

/** The peer, on a port it picks; resolves once it prints its "listening" line. */
async function startPeer() {
  peerLog = path.join(tmp, 'peer.log');
  peer = spawnLogged(process.execPath, [PEER, '0'], { cwd: tmp, env: process.env, logFile: peerLog });
  peerBase = await eventually(() => {
    if (peer.exitCode !== null) throw new Error(`peer exited (${peer.exitCode}); log:\n${tailOf(peerLog)}`);
    return /peer listening on (http:\/\/\S+)/.exec(fs.readFileSync(peerLog, 'utf8'))?.[1];
  }, 'the Fedify peer did not start', STARTUP_MS);
}

// Whatever happens (an uncaught error, Ctrl-C), neither process outlives the test process.
killChildrenOnExit(() => [server, peer]);

/** One scenario step, skipped when a step it needs failed; a failure prints both logs' tails. */
function step(key, title, needs, fn) {
  stepCount++;
  it(title, { timeout: STEP_MS }, async (t) => {
    const missing = needs.filter((n) => !passed.has(n));
    if (missing.length) {
      t.skip(`needs the step(s) that failed: ${missing.join(', ')}`);
      return;
    }
    try {
      await fn();
      passed.add(key);
    } catch (e) {
      for (const [name, log] of [['fedishop', serverLog], ['peer', peerLog]]) {
        if (log) e.message += `\n--- ${name} log (${log}):\n${tailOf(log, 25)}`;
      }
      throw e;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The scenario.

describe('fedishop federates with Fedify', { timeout: 12 * STEP_MS }, () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fedishop-interop-'));

  after(async () => {
    for (const what of peerBase ? ['received', 'requests'] : []) {
      // What the peer saw, for a post-mortem (kept with the logs).
      await request(`${peerBase}/control/${what}`)
        .then((r) => fs.writeFileSync(path.join(tmp, `peer-${what}.json`), JSON.stringify(r.json, null, 2)))
        .catch(() => {});
    }
    await Promise.all([stopProcess(server), stopProcess(peer)]);
    if (process.env.FEDISHOP_KEEP_TMP || passed.size < stepCount) {
      console.log(`interop: logs kept in ${tmp}`);
    } else if (tmp) {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  step('setup', 'fedishop runs, a seller opens a shop, the Fedify peer runs', [], async () => {
    await startServer();
    await addUser({ username: SELLER.name, password: SELLER.password, role: 'seller' }, cliOptions());
    token = await issueToken(SELLER.name, cliOptions());
    assert.match(token, /^\S+$/, 'token issue printed more than a token');
    await api('POST', '/shops', SHOP, 201);
    shopId = `${base}/shops/${SHOP.handle}`;
    await startPeer();
  });

  step('actor', 'the shop is an ActivityPub Organization actor', ['setup'], async () => {
    const r = await request(shopId, { headers: { accept: AP } });
    assert.ok(
      r.status === 200 && /^application\/(activity|ld)\+json/.test(r.type),
      `fedishop does not federate (yet?): GET ${shopId} with Accept: ${AP} answered ${r.status} ${r.type}`,
    );
    const actor = r.json;
    assert.equal(actor.type, 'Organization');
    assert.equal(actor.id, shopId);
    for (const k of ['inbox', 'outbox', 'followers', 'following']) assert.equal(typeof actor[k], 'string', `actor has no ${k}`);
    assert.equal(actor.endpoints?.sharedInbox, `${base}/inbox`);
    assert.equal(actor.publicKey?.id, `${shopId}#main-key`);
    assert.equal(actor.publicKey?.owner, shopId);
    assert.match(actor.publicKey?.publicKeyPem ?? '', /BEGIN PUBLIC KEY/);
  });

  step('follow', 'the peer follows the shop and gets an Accept', ['actor'], async () => {
    const { id: followId } = await peerDo('follow', { target: shopId });
    const accept = await waitForActivity('an Accept of its Follow', (a) => a.type === 'Accept' && a.objectId === followId);
    assert.equal(accept.actor, shopId);
    assert.ok(accept.verified);
  });

  step('create', 'a new product reaches the peer as Create(Note)', ['follow'], async () => {
    product = await api('POST', `/shops/${SHOP.handle}/products`, PRODUCT, 201);
    productId = `${base}/shops/${SHOP.handle}/products/${product.id}`;
    const create = await waitForActivity(`a Create of ${productId}`, (a) => a.type === 'Create' && a.objectId === productId);
    assert.equal(create.actor, shopId);
    const note = create.object; // as Fedify parsed it
    assert.ok(note, `Fedify could not read the Create's object: ${create.objectError}`);
    assert.equal(note.type, 'Note');
    assert.equal(note.id, productId);
    assert.equal(note.attributedTo, shopId);
    assert.match(note.content ?? '', /Oolong/);
    assert.match(note.content ?? '', /24\.00/);
    assert.ok(
      note.tags.some((t) => t.type === 'Hashtag' && t.name?.toLowerCase() === '#tea'),
      `no Hashtag #tea among ${JSON.stringify(note.tags)}`,
    );
    assert.equal(note.url, product.url);
    assert.equal(note.url, productId);
    assert.ok([...note.to, ...note.cc].includes(PUBLIC), `the Note is not public: to ${note.to}, cc ${note.cc}`);
    createdNote = create;
  });

  step('fetch', 'the product URL serves the same Note as ActivityPub JSON', ['create'], async () => {
    const r = await request(productId, { headers: { accept: AP } });
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/(activity|ld)\+json/);
    assert.equal(r.json.type, 'Note');
    assert.equal(r.json.id, productId);
    assert.equal(r.json.attributedTo, shopId);
    assert.equal(r.json.content, createdNote.object.content);
  });

  step('interact', "the peer's Like and reply show on the product page", ['create'], async () => {
    await peerDo('like', { object: productId });
    await peerDo('reply', { inReplyTo: productId, content: `<p>${REPLY}</p>` });
    let html = '';
    await eventually(
      async () => {
        html = (await request(productId, { headers: { accept: 'text/html' } })).text;
        return html.includes(REPLY) && /<span[^>]*\bclass="likes-count"[^>]*>\s*1\s*<\/span>/.test(html);
      },
      () =>
        `the product page never showed the reply "${REPLY}" (${html.includes(REPLY) ? 'shown' : 'missing'}) and ` +
        `<span class="likes-count">1</span> (found: ${/<span[^>]*likes-count[^>]*>[^<]*<\/span>/.exec(html)?.[0] ?? 'none'})`,
    );
  });

  step('announce', 'fedishop accepts an Announce of the product', ['create'], async () => {
    await peerDo('announce', { object: productId });
  });

  step('update', 'an edit reaches the peer as Update(Note)', ['create'], async () => {
    await api('PATCH', `/products/${product.id}`, { title: 'Oolong reserve' }, 200);
    const update = await waitForActivity(`an Update of ${productId}`, (a) => a.type === 'Update' && a.objectId === productId);
    assert.equal(update.actor, shopId);
    assert.match(`${update.object?.name ?? ''} ${update.object?.content ?? ''}`, /Oolong reserve/, 'the Update does not carry the new title');
  });

  step('delete', 'deleting the product reaches the peer as Delete', ['create'], async () => {
    await api('DELETE', `/products/${product.id}`, undefined, 204);
    const del = await waitForActivity(`a Delete of ${productId}`, (a) => a.type === 'Delete' && a.objectId === productId);
    assert.equal(del.actor, shopId);
  });

  step('unfollow', 'fedishop accepts the peer’s Undo(Follow)', ['follow'], async () => {
    await peerDo('undo-follow', { target: shopId });
  });
});
