-- A row the relay can never publish as it is (larger than the broker accepts, a header that
-- cannot be serialised) is parked after OUTBOX_MAX_ATTEMPTS attempts: `parked_at` set,
-- `next_attempt_at` moved to 'infinity' so the selection skips it and the key's later rows stay
-- held back behind it (per-key order), until an operator releases or discards it
-- (`python -m runtime.dlq parked|release|discard`, docs/operations.md).
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;
CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL AND published_at IS NULL;
