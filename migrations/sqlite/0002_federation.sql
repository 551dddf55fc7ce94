-- Federation: actor keys, remote actors, follows, reactions and replies, remote products,
-- the transactional outbox (events -> activities -> deliveries) and inbox de-duplication.
-- Actors are referred to by their ActivityPub id, local or remote. Timestamps are epoch ms.
-- Keep in step with migrations/postgres/0002_federation.sql.

ALTER TABLE shops ADD COLUMN manually_approves_followers BIGINT NOT NULL DEFAULT 0;

-- RSA key pairs of local actors (shops, members, the instance actor), made on first need.
CREATE TABLE actor_keys (
    actor TEXT PRIMARY KEY NOT NULL,
    public_key_pem TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Actors on other servers that we have fetched.
CREATE TABLE remote_actors (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    username TEXT NOT NULL,
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    summary_html TEXT NOT NULL,
    url TEXT,
    icon_url TEXT,
    inbox TEXT NOT NULL,
    shared_inbox TEXT,
    followers TEXT,
    key_id TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    fetched_at BIGINT NOT NULL
);
CREATE INDEX remote_actors_key ON remote_actors (key_id);
CREATE INDEX remote_actors_handle ON remote_actors (username, host);

-- Who follows whom. state: pending (waiting for Accept) or accepted.
CREATE TABLE follows (
    follower TEXT NOT NULL,
    followee TEXT NOT NULL,
    state TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    accepted_at BIGINT,
    PRIMARY KEY (follower, followee)
);
CREATE INDEX follows_followee ON follows (followee, state);

-- Activity ids already processed by the inbox: a duplicate has no second effect.
CREATE TABLE inbox_seen (
    activity_id TEXT PRIMARY KEY NOT NULL,
    received_at BIGINT NOT NULL
);

-- Likes (kind like) and boosts (kind announce) of our products.
CREATE TABLE reactions (
    activity_id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    object TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (kind, actor, object)
);
CREATE INDEX reactions_object ON reactions (object, kind);

-- Replies to our products (sanitised HTML), from anywhere.
CREATE TABLE replies (
    id TEXT PRIMARY KEY NOT NULL,
    actor TEXT NOT NULL,
    in_reply_to TEXT NOT NULL,
    content_html TEXT NOT NULL,
    url TEXT,
    published BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE INDEX replies_target ON replies (in_reply_to, published);

-- Products of remote shops that local members follow (for the home feed).
CREATE TABLE remote_products (
    id TEXT PRIMARY KEY NOT NULL,
    actor TEXT NOT NULL,
    title TEXT NOT NULL,
    content_html TEXT NOT NULL,
    url TEXT,
    price TEXT NOT NULL,
    currency TEXT NOT NULL,
    stock BIGINT,
    sku TEXT,
    image_url TEXT,
    image_alt TEXT,
    published BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX remote_products_actor ON remote_products (actor, published);

-- Objects we have published, with a hash of what readers see (to skip no-op Updates).
CREATE TABLE federated_objects (
    id TEXT PRIMARY KEY NOT NULL,
    actor TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Domain changes to federate, written in the same transaction as the change.
CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    processed_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_events_pending ON outbox_events (processed_at, id);

-- Activities our actors have sent; public ones make up the outbox collections.
CREATE TABLE activities (
    id TEXT PRIMARY KEY NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    object TEXT NOT NULL,
    body TEXT NOT NULL,
    public BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX activities_actor ON activities (actor, public, created_at);

-- One signed POST per (activity, inbox); the delivery worker sends due rows.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    activity_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    inbox TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (activity_id, inbox)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
