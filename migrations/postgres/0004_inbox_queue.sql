-- The durable inbox queue. A verified activity is stored here before the inbox answers 202;
-- the insert on activity_id is also the de-duplication (a repeated id inserts nothing). The
-- inbox worker applies queued rows, each actor's in arrival order (seq), under a lease so that
-- several processes sharing one database never apply the same row twice. Finished rows keep
-- their id (body emptied) for de-duplication and are pruned after 7 days. Timestamps are
-- epoch ms. Keep in step with migrations/sqlite/0004_inbox_queue.sql.

-- state: 'queued' (waiting, or being applied while lease_until is in the future), 'done',
-- 'failed' (refused for good, or given up after temporary errors; last_error says why).
CREATE TABLE inbox_queue (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id TEXT NOT NULL UNIQUE,
    actor TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    processed_at BIGINT
);
CREATE INDEX inbox_queue_queued ON inbox_queue (seq) WHERE state = 'queued';
-- Actors with an activity being applied or waiting for a retry: their later ones wait.
CREATE INDEX inbox_queue_busy ON inbox_queue (actor)
    WHERE state = 'queued' AND (lease_until > 0 OR next_attempt_at > 0);
CREATE INDEX inbox_queue_received ON inbox_queue (received_at);

-- Ids handled before this queue existed stay known for de-duplication.
INSERT INTO inbox_queue (activity_id, actor, body, received_at, state, processed_at)
    SELECT activity_id, '', '', received_at, 'done', received_at FROM inbox_seen;
DROP TABLE inbox_seen;
