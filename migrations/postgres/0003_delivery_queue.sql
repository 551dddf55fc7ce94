-- Durable delivery: the state of each remote instance (circuit breaker, unavailable mark),
-- leases so that several processes share the queue, per-object order, and instance blocks.
-- Timestamps are epoch ms.
-- Keep in step with migrations/sqlite/0003_delivery_queue.sql.

-- Destination instance (URL authority: host, or host:port), the object the activity is
-- about (deliveries of one object to one inbox go out in order), and the lease a worker
-- holds while it sends. Delivered rows are deleted; failed ones stay for the admin.
ALTER TABLE deliveries ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN object_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
DELETE FROM deliveries WHERE state = 'done';
UPDATE deliveries SET
    host = lower(split_part(split_part(inbox, '://', 2), '/', 1)),
    object_id = COALESCE((SELECT object FROM activities a WHERE a.id = deliveries.activity_id), '');
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at, id);
CREATE INDEX deliveries_order ON deliveries (inbox, object_id, state, created_at);
CREATE INDEX deliveries_host ON deliveries (host, state);
CREATE INDEX deliveries_age ON deliveries (state, created_at);

-- One row per remote instance we deliver to. consecutive_failures drives the circuit
-- breaker (no attempts until circuit_open_until); failing_since is the first failure after
-- the last success; unavailable_since is set after days of failures and cleared by any
-- success or any signed request from the instance.
CREATE TABLE instances (
    host TEXT PRIMARY KEY NOT NULL,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    failing_since BIGINT,
    circuit_open_until BIGINT NOT NULL DEFAULT 0,
    unavailable_since BIGINT,
    last_success_at BIGINT,
    last_failure_at BIGINT,
    last_error TEXT,
    delivered BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0
);

-- Instances the admin blocked. severity: 'suspend' (nothing in, nothing out) or 'silence'.
-- A block covers the domain and its subdomains.
CREATE TABLE domain_blocks (
    domain TEXT PRIMARY KEY NOT NULL,
    severity TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
