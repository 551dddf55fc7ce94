-- Orders, checkout settings and the mail outbox. Timestamps are epoch ms; money is integer
-- minor units with its ISO 4217 code. Keep in step with migrations/postgres/0005_orders.sql.

-- What a shop offers at checkout: payment methods and shipping options (JSON, validated by
-- domain::orders::checkout). A shop without a row sells nothing until the seller sets it up.
CREATE TABLE shop_checkout (
    shop_id TEXT PRIMARY KEY NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    settings_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An order placed with one of this instance's shops: the seller's record, the source of
-- truth. Lines and totals are snapshots taken when the order was placed. The buyer is a
-- guest (e-mail + secret link), a local member (buyer_user_id) or a remote actor
-- (buyer_actor, answered at buyer_inbox, never a shared inbox).
-- status: pending | paid | shipped | delivered | cancelled | refunded | expired
CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    shop_id TEXT NOT NULL REFERENCES shops (id),
    status TEXT NOT NULL,
    buyer_kind TEXT NOT NULL,
    buyer_user_id TEXT REFERENCES users (id),
    buyer_actor TEXT,
    buyer_inbox TEXT,
    offer_id TEXT UNIQUE,
    idempotency_scope TEXT,
    idempotency_key TEXT,
    request_hash TEXT,
    secret_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    ship_name TEXT NOT NULL,
    ship_address_lines TEXT NOT NULL,
    ship_city TEXT NOT NULL,
    ship_postal_code TEXT NOT NULL,
    ship_country TEXT NOT NULL,
    ship_phone TEXT NOT NULL,
    buyer_note TEXT NOT NULL,
    shipping_option TEXT NOT NULL,
    shipping_minor BIGINT NOT NULL,
    payment_method TEXT NOT NULL,
    payment_instructions TEXT NOT NULL,
    payment_url TEXT,
    currency TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    carrier TEXT,
    tracking TEXT,
    reason TEXT,
    hold_until BIGINT,
    stock_released BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    paid_at BIGINT,
    shipped_at BIGINT,
    delivered_at BIGINT,
    closed_at BIGINT,
    address_erased_at BIGINT,
    UNIQUE (idempotency_scope, idempotency_key)
);
CREATE INDEX orders_shop ON orders (shop_id, created_at);
CREATE INDEX orders_buyer_user ON orders (buyer_user_id, created_at);
CREATE INDEX orders_hold ON orders (hold_until) WHERE status = 'pending';

CREATE TABLE order_lines (
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT,
    title TEXT NOT NULL,
    variant_title TEXT NOT NULL,
    sku TEXT NOT NULL,
    unit_minor BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    line_minor BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);

-- Every status change: who, when, why, and the activity that caused it (idempotency).
CREATE TABLE order_events (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    activity_id TEXT UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, created_at);

-- A local member's order with a shop on another instance: the buyer's copy, kept in step by
-- the shop's Accept, Reject and Update activities.
-- status: requested | rejected | pending | paid | shipped | delivered | cancelled | refunded | expired
CREATE TABLE remote_orders (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    shop_actor TEXT NOT NULL,
    shop_inbox TEXT NOT NULL,
    offer_id TEXT NOT NULL UNIQUE,
    order_ref TEXT,
    number TEXT,
    status TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    request_json TEXT NOT NULL,
    result_json TEXT,
    currency TEXT,
    total_minor BIGINT,
    reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX remote_orders_user ON remote_orders (user_id, created_at);

-- Notifications waiting for the mail transport; rows are deleted once sent.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);
