-- Notices issued under the rules in data/rules.toml, each addressed to several recipients (copies),
-- each copy delivered through the recipient's channels. Replaces the slice's single notices table
-- (no deployment held data in it).
DROP TABLE notices;

-- The registry copy: which enterprise and district a project belongs to (from wuye.registry.projects).
CREATE TABLE projects (
    project_id      text PRIMARY KEY,
    project_name    text NOT NULL,
    enterprise_id   text NOT NULL,
    enterprise_name text NOT NULL,
    district_code   text NOT NULL,
    district_name   text NOT NULL,
    occurred_at     timestamptz NOT NULL
);
CREATE INDEX projects_enterprise ON projects (enterprise_id);

-- Where a recipient wants its notices besides the in-app inbox: e-mail addresses and webhook URLs,
-- registered by the recipient over HTTP. Webhook secrets are not stored: they are derived from the
-- signing key in the service's settings (a Secret) and the endpoint id.
CREATE TABLE endpoints (
    endpoint_id     text PRIMARY KEY,
    recipient_kind  text NOT NULL CHECK (recipient_kind IN ('enterprise', 'manager', 'district', 'city')),
    recipient_id    text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    address         text NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    UNIQUE (recipient_kind, recipient_id, channel, address)
);
CREATE INDEX endpoints_recipient ON endpoints (recipient_kind, recipient_id) WHERE disabled_at IS NULL;

-- One notice per cause and rule (notice_id is derived from both).
CREATE TABLE notices (
    notice_id       text PRIMARY KEY,
    rule_id         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('notice', 'reminder', 'criticism')),
    reason          text NOT NULL,
    notice_no       text UNIQUE,
    subject_kind    text NOT NULL,
    subject_id      text NOT NULL,
    project_id      text,
    enterprise_id   text,
    district_code   text,
    title_zh        text NOT NULL,
    body_zh         text NOT NULL,
    title_en        text NOT NULL,
    body_en         text NOT NULL,
    cause_event_id  text NOT NULL,
    cause_type      text NOT NULL,
    correlation_id  text NOT NULL,
    issued_at       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cause_event_id, rule_id)
);
CREATE INDEX notices_subject ON notices (subject_kind, subject_id);
CREATE INDEX notices_district ON notices (district_code, issued_at DESC);

-- One copy per recipient per notice: the in-app inbox.
CREATE TABLE notice_copies (
    copy_id         text PRIMARY KEY,
    notice_id       text NOT NULL REFERENCES notices,
    recipient_kind  text NOT NULL,
    recipient_id    text NOT NULL,
    cc              boolean NOT NULL,
    read_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (notice_id, recipient_kind, recipient_id)
);
CREATE INDEX notice_copies_inbox ON notice_copies (recipient_kind, recipient_id, created_at DESC);

-- One delivery per copy per endpoint, recorded in the same transaction as the notice, before any
-- send. delivery_id is the idempotency key the channels carry (Message-ID, Idempotency-Key).
CREATE TABLE deliveries (
    delivery_id     text PRIMARY KEY,
    copy_id         text NOT NULL REFERENCES notice_copies,
    notice_id       text NOT NULL REFERENCES notices,
    endpoint_id     text NOT NULL REFERENCES endpoints,
    channel         text NOT NULL,
    address         text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_error      text,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (copy_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_notice ON deliveries (notice_id);

CREATE TABLE delivery_attempts (
    delivery_id     text NOT NULL REFERENCES deliveries,
    attempt_no      integer NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('delivered', 'transient', 'permanent')),
    detail          text NOT NULL,
    PRIMARY KEY (delivery_id, attempt_no)
);

-- The ladder: a reminder schedules its criticism; a resolving event or a criticism cancels it.
CREATE TABLE escalations (
    escalation_id   text PRIMARY KEY,          -- = the reminder's notice_id
    rule_id         text NOT NULL,             -- the criticism rule to issue
    subject_kind    text NOT NULL,
    subject_id      text NOT NULL,
    due_at          timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'issued', 'cancelled')),
    cause_event_id  text NOT NULL,
    cause_type      text NOT NULL,
    cause_payload   jsonb NOT NULL,
    correlation_id  text NOT NULL,
    settled_at      timestamptz,
    settled_by      text
);
CREATE INDEX escalations_due ON escalations (due_at) WHERE status = 'pending';
CREATE INDEX escalations_subject ON escalations (subject_kind, subject_id) WHERE status = 'pending';

-- 文号: one gapless sequence per district office and year (taken in the issuing transaction).
CREATE TABLE notice_numbers (
    district_code   text NOT NULL,
    year            integer NOT NULL,
    last_seq        integer NOT NULL,
    PRIMARY KEY (district_code, year)
);
