-- Accounts, shops, catalog and media. Timestamps are Unix epoch milliseconds (UTC).
-- Ids are UUIDv7 text. Keep in step with migrations/postgres/0001_catalog.sql.

CREATE TABLE actor_names (
    name TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE REFERENCES actor_names (name),
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE images (
    id TEXT PRIMARY KEY NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id),
    file_name TEXT NOT NULL,
    thumb_name TEXT NOT NULL,
    mime TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    thumb_width BIGINT NOT NULL,
    thumb_height BIGINT NOT NULL,
    byte_size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE shops (
    id TEXT PRIMARY KEY NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id),
    handle TEXT NOT NULL UNIQUE REFERENCES actor_names (name),
    name TEXT NOT NULL,
    summary TEXT NOT NULL,
    summary_html TEXT NOT NULL,
    avatar_image_id TEXT REFERENCES images (id),
    banner_image_id TEXT REFERENCES images (id),
    links_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX shops_owner ON shops (owner_id);

CREATE TABLE products (
    id TEXT PRIMARY KEY NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    description_html TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    compare_at_minor BIGINT,
    currency TEXT NOT NULL,
    stock BIGINT NOT NULL,
    sku TEXT,
    status TEXT NOT NULL,
    search_text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX products_shop_status ON products (shop_id, status, published_at);

CREATE TABLE product_images (
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images (id),
    alt TEXT NOT NULL,
    PRIMARY KEY (product_id, position)
);

CREATE TABLE product_variants (
    id TEXT PRIMARY KEY NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    options_json TEXT NOT NULL,
    sku TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    stock BIGINT NOT NULL,
    UNIQUE (product_id, sku)
);
CREATE INDEX product_variants_product ON product_variants (product_id, position);

CREATE TABLE product_tags (
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (product_id, tag)
);
CREATE INDEX product_tags_tag ON product_tags (tag);
