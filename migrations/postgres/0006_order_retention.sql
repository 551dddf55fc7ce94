-- Retention on the buyer's side: a member's order with a remote shop keeps the address it
-- was sent with until the order has been closed for the retention period; this marks when it
-- was erased. Keep in step with migrations/sqlite/0006_order_retention.sql.
ALTER TABLE remote_orders ADD COLUMN address_erased_at BIGINT;
