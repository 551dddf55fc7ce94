// A Fedify-based ActivityPub peer for the interop tests (tests/interop/fedishop-interop.test.mjs).
//
// Serves one Person actor, `peer` (RSA key for HTTP signatures + Ed25519 key for object proofs,
// generated at start), its WebFinger, inbox, outbox and followers, and the Notes it writes. Every
// activity that reaches an inbox listener is recorded: Fedify verifies the HTTP signature (RFC 9421
// or draft-cavage) before calling a listener, so a recorded activity is a signature-verified one.
// Follows are accepted automatically. A test drives the peer through plain-JSON control routes:
//
//   POST /control/follow      {"target": actorUrl}          signed Follow to the actor
//   POST /control/undo-follow {"target": actorUrl}          Undo of that Follow
//   POST /control/like        {"object": noteUrl}           Like, sent to the note's author
//   POST /control/announce    {"object": noteUrl}           Announce (to Public, cc author + followers)
//   POST /control/reply       {"inReplyTo": noteUrl, "content": "<p>…</p>"}   Create(Note) reply
//   GET  /control/received    every activity received (oldest first)
//   GET  /control/requests    every request to the ActivityPub routes (method, path, status, signature kind)
//   GET  /control/health
//
// Usage: node fedify-peer.mjs [PORT]   (or PEER_PORT; 0 picks a free port). PEER_LOG=debug|info|warning
// sets Fedify's log level (stderr). Prints `peer listening on http://127.0.0.1:PORT` when ready.

import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import { randomUUID } from 'node:crypto';

import { configure, getConsoleSink } from '@logtape/logtape';
import { Temporal } from '@js-temporal/polyfill';
import { createFederation, generateCryptoKeyPair, MemoryKvStore } from '@fedify/fedify';
import {
  Accept, Activity, Announce, Create, Endpoints, Follow, Like, Mention, Note, Person, PUBLIC_COLLECTION, Undo,
} from '@fedify/vocab';

const PORT = Number(process.argv[2] ?? process.env.PEER_PORT ?? 0);
const ID = 'peer';

await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { stderr: getConsoleSink({ console: { ...console, debug: console.error, info: console.error, log: console.error } }) },
  loggers: [
    { category: 'fedify', lowestLevel: process.env.PEER_LOG || 'warning', sinks: ['stderr'] },
    { category: ['logtape', 'meta'], lowestLevel: 'warning', sinks: ['stderr'] },
  ],
});

// Key pairs, generated once per run: RSA (HTTP signatures, `publicKey`) and Ed25519 (object proofs).
const keyPairs = [await generateCryptoKeyPair('RSASSA-PKCS1-v1_5'), await generateCryptoKeyPair('Ed25519')];

const received = []; // verified inbox activities
const requests = []; // every ActivityPub-side HTTP request
const followers = new Map(); // actor id -> actor
const following = new Map(); // target actor id -> { follow, actor }
const notes = new Map(); // our Notes by id

let origin; // set once listening
let federation;

/** What the test reads about one received activity. */
async function record(ctx, activity) {
  const raw = await activity.toJsonLd();
  const entry = {
    verified: true, // only listeners see activities whose signature verified
    type: activity.constructor.name,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    objectId: activity.objectId?.href ?? null,
    object: null,
    receivedAt: new Date().toISOString(),
    raw,
  };
  // Describe the object as Fedify understood it, only when the sender embedded its own object (Fedify
  // would refetch anything else, e.g. our own Follow inside an Accept, or a note that was deleted).
  const embedded = raw && typeof raw.object === 'object' && raw.object !== null ? raw.object : null;
  if (embedded && (!embedded.id || new URL(embedded.id).origin === activity.actorId?.origin)) {
    try {
      entry.object = await describe(await activity.getObject(ctx));
    } catch (e) {
      entry.objectError = String(e);
    }
  }
  received.push(entry);
  console.error(`peer: received ${entry.type} ${entry.id} from ${entry.actor} (object ${entry.objectId})`);
}

/** An object as Fedify's vocabulary classes read it (so the test sees Fedify's interpretation). */
async function describe(obj) {
  if (!obj) return null;
  const tags = [];
  for await (const t of obj.getTags()) tags.push({ type: t.constructor.name, name: t.name?.toString() ?? null, href: t.href?.href ?? null });
  const str = (v) => v?.toString() ?? null;
  const hrefs = (urls) => urls.map((u) => u.href);
  return {
    type: obj.constructor.name, id: obj.id?.href ?? null, attributedTo: obj.attributionId?.href ?? null,
    name: str(obj.name), content: str(obj.content), url: obj.url instanceof URL ? obj.url.href : (obj.url?.href?.href ?? null),
    inReplyTo: obj.replyTargetId?.href ?? null, to: hrefs(obj.toIds), cc: hrefs(obj.ccIds), tags,
    attachments: hrefs(obj.attachmentIds ?? []), published: str(obj.published), updated: str(obj.updated),
  };
}

function buildFederation() {
  const fed = createFederation({ kv: new MemoryKvStore(), origin, allowPrivateAddress: true });
  fed
    .setActorDispatcher('/users/{identifier}', async (ctx, identifier) => {
      if (identifier !== ID) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: 'Fedify peer',
        summary: 'Interop test peer',
        url: ctx.getActorUri(identifier),
        inbox: ctx.getInboxUri(identifier),
        outbox: ctx.getOutboxUri(identifier),
        followers: ctx.getFollowersUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
      });
    })
    .setKeyPairsDispatcher((_ctx, identifier) => (identifier === ID ? keyPairs : []))
    .mapHandle((_ctx, handle) => (handle === ID ? ID : null));
  fed.setOutboxDispatcher('/users/{identifier}/outbox', () => ({ items: [] }));
  fed.setFollowersDispatcher('/users/{identifier}/followers', () => ({ items: [...followers.keys()].map((u) => new URL(u)) }));
  fed.setObjectDispatcher(Note, '/notes/{id}', (ctx, values) => notes.get(ctx.getObjectUri(Note, values).href) ?? null);
  fed
    .setInboxListeners('/users/{identifier}/inbox', '/inbox')
    .setSharedKeyDispatcher(() => ({ identifier: ID })) // signed GETs when checking incoming activities
    .on(Follow, async (ctx, follow) => {
      await record(ctx, follow);
      if (follow.objectId?.href !== ctx.getActorUri(ID).href) return;
      const follower = await follow.getActor(ctx);
      if (!follower?.id) return;
      followers.set(follower.id.href, follower);
      await ctx.sendActivity({ identifier: ID }, follower, new Accept({ id: newId(ctx), actor: ctx.getActorUri(ID), object: follow }));
    })
    .on(Activity, record);
  return fed;
}

const newId = (ctx) => new URL(`/activities/${randomUUID()}`, ctx.origin);

/** A remote object by URL, fetched with a signed GET (as the peer actor). */
async function lookup(ctx, url) {
  const documentLoader = await ctx.getDocumentLoader({ identifier: ID });
  const obj = await ctx.lookupObject(url, { documentLoader });
  if (!obj?.id) throw new Error(`could not look up ${url}`);
  return obj;
}

/** The note at `url` and its author (attributedTo), both looked up. */
async function noteAndAuthor(ctx, url) {
  const note = await lookup(ctx, url);
  if (!note.attributionId) throw new Error(`${url} has no attributedTo`);
  return { note, author: await lookup(ctx, note.attributionId.href) };
}

const control = {
  'GET /control/health': async (ctx) => ({ ok: true, actor: ctx.getActorUri(ID).href }),
  'GET /control/received': async () => received,
  'GET /control/requests': async () => requests,
  'POST /control/follow': async (ctx, { target }) => {
    const actor = await lookup(ctx, target);
    const follow = new Follow({ id: newId(ctx), actor: ctx.getActorUri(ID), object: actor.id });
    await ctx.sendActivity({ identifier: ID }, actor, follow);
    following.set(actor.id.href, { follow, actor });
    return { sent: 'Follow', id: follow.id.href, to: actor.id.href };
  },
  'POST /control/undo-follow': async (ctx, { target }) => {
    const f = following.get(target);
    if (!f) throw new Error(`not following ${target}`);
    const undo = new Undo({ id: newId(ctx), actor: ctx.getActorUri(ID), object: f.follow });
    await ctx.sendActivity({ identifier: ID }, f.actor, undo);
    following.delete(target);
    return { sent: 'Undo', id: undo.id.href, to: target };
  },
  'POST /control/like': async (ctx, { object }) => {
    const { note, author } = await noteAndAuthor(ctx, object);
    const like = new Like({ id: newId(ctx), actor: ctx.getActorUri(ID), object: note.id, to: author.id });
    await ctx.sendActivity({ identifier: ID }, author, like);
    return { sent: 'Like', id: like.id.href, to: author.id.href };
  },
  'POST /control/announce': async (ctx, { object }) => {
    const { note, author } = await noteAndAuthor(ctx, object);
    const announce = new Announce({
      id: newId(ctx), actor: ctx.getActorUri(ID), object: note.id, published: Temporal.Now.instant(),
      to: PUBLIC_COLLECTION, ccs: [author.id, ctx.getFollowersUri(ID)],
    });
    await ctx.sendActivity({ identifier: ID }, author, announce);
    return { sent: 'Announce', id: announce.id.href, to: author.id.href };
  },
  'POST /control/reply': async (ctx, { inReplyTo, content }) => {
    const { note: target, author } = await noteAndAuthor(ctx, inReplyTo);
    const id = ctx.getObjectUri(Note, { id: randomUUID() });
    const published = Temporal.Now.instant();
    const audience = { tos: [PUBLIC_COLLECTION, author.id], ccs: [ctx.getFollowersUri(ID)] };
    const note = new Note({
      id, attribution: ctx.getActorUri(ID), replyTarget: target.id, content, published, url: id, ...audience,
      tags: [new Mention({ href: author.id, name: `@${author.preferredUsername}@${author.id.host}` })],
    });
    notes.set(id.href, note);
    const create = new Create({ id: new URL(`${id.href}#create`), actor: ctx.getActorUri(ID), object: note, published, ...audience });
    await ctx.sendActivity({ identifier: ID }, author, create);
    return { sent: 'Create', id: create.id.href, note: id.href, to: author.id.href };
  },
};

async function handle(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url, origin);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const request = new Request(url, { method: req.method, headers, body: ['GET', 'HEAD'].includes(req.method) ? undefined : body });
  const route = control[`${req.method} ${url.pathname}`];
  if (route) {
    const ctx = federation.createContext(request, undefined);
    try {
      const out = await route(ctx, body.length ? JSON.parse(body.toString('utf8')) : {});
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(out));
    } catch (e) {
      console.error(`peer: ${req.method} ${url.pathname} failed: ${e?.stack ?? e}`);
      const detail = { error: String(e?.message ?? e), status: e?.statusCode ?? null, body: e?.responseBody ?? null };
      return send(res, 500, { 'content-type': 'application/json' }, JSON.stringify(detail));
    }
  }
  const response = await federation.fetch(request, {
    contextData: undefined,
    onNotFound: () => new Response('Not found\n', { status: 404 }),
    onNotAcceptable: () => new Response('Not acceptable\n', { status: 406 }),
  });
  const sig = headers.has('signature-input') ? 'rfc9421' : headers.has('signature') ? 'draft-cavage' : 'none';
  requests.push({ method: req.method, path: url.pathname, accept: headers.get('accept'), signature: sig, status: response.status });
  if (req.method === 'POST' && response.status >= 300) console.error(`peer: POST ${url.pathname} -> ${response.status} (signature: ${sig})`);
  send(res, response.status, Object.fromEntries(response.headers), Buffer.from(await response.arrayBuffer()));
}

const send = (res, status, headers, body) => res.writeHead(status, headers).end(body);

const server = http.createServer((req, res) =>
  handle(req, res).catch((e) => {
    console.error(`peer: request failed: ${e?.stack ?? e}`);
    if (!res.headersSent) send(res, 500, { 'content-type': 'text/plain' }, 'internal error\n');
    else res.end();
  }),
);
server.listen(PORT, '127.0.0.1', () => {
  origin = `http://127.0.0.1:${server.address().port}`;
  federation = buildFederation();
  console.log(`peer listening on ${origin}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(0));
