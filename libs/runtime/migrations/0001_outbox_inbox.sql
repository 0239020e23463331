-- Transactional outbox: rows are written in the same transaction as the business change and
-- published to Kafka by runtime.relay. Published rows are kept for a while for audit.
CREATE TABLE outbox (
    seq             bigserial PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    event_type      text NOT NULL,
    topic           text NOT NULL,
    key             bytea,
    headers         jsonb NOT NULL,
    payload         bytea NOT NULL,
    correlation_id  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

-- Inbox: one row per (consumer, event id) handled, written in the same transaction as the effect,
-- so a redelivered event is recognised and skipped.
CREATE TABLE inbox (
    consumer   text NOT NULL,
    event_id   text NOT NULL,
    event_type text NOT NULL,
    topic      text NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
