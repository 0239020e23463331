-- The relay's selection skips rows whose key has an earlier row waiting out a backoff. Without
-- this index that check scanned the whole table, published rows included (42 ms per pass with
-- 50k rows; it grew with the 30 days of published rows kept): rows in backoff are the few
-- unpublished ones whose next attempt is in the future, a short range of this index.
CREATE INDEX outbox_pending_retry ON outbox (next_attempt_at) WHERE published_at IS NULL;
