-- One row per notice per recipient per cause: the unique key is what makes "exactly one notice per
-- person per cause" hold even if the inbox were bypassed.
CREATE TABLE notices (
    notice_id       text PRIMARY KEY,
    cause_event_id  text NOT NULL,
    cause_type      text NOT NULL,
    kind            text NOT NULL,
    recipient_kind  text NOT NULL,
    recipient_id    text NOT NULL,
    district_code   text NOT NULL,
    project_id      text NOT NULL,
    title_zh        text NOT NULL,
    body_zh         text NOT NULL,
    title_en        text NOT NULL,
    body_en         text NOT NULL,
    correlation_id  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    read_at         timestamptz,
    UNIQUE (cause_event_id, recipient_kind, recipient_id, kind)
);
CREATE INDEX notices_recipient ON notices (recipient_kind, recipient_id, created_at DESC);
