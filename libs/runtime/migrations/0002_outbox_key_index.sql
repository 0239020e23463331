-- The relay holds back a row while an earlier row with the same key waits out its backoff;
-- this index keeps that check cheap.
CREATE INDEX outbox_pending_key ON outbox (key, seq) WHERE published_at IS NULL;
