-- Rectification orders: one per failed item, with a deadline set by severity and the calendar.
CREATE TABLE rectification_orders (
    order_id          text PRIMARY KEY,
    inspection_id     text NOT NULL REFERENCES inspections (inspection_id),
    project_id        text NOT NULL REFERENCES projects (project_id),
    items             jsonb NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('general', 'serious', 'urgent')),
    status            text NOT NULL
                      CHECK (status IN ('ordered', 'submitted', 'verified', 'rejected', 'inadequate')),
    deadline          timestamptz NOT NULL,
    ordered_at        timestamptz NOT NULL,
    submissions       integer NOT NULL DEFAULT 0,
    rejections        integer NOT NULL DEFAULT 0,
    submitted_at      timestamptz,
    evidence_text     text,
    photo_refs        jsonb NOT NULL DEFAULT '[]',
    rejected_at       timestamptz,
    rejection_reason  text,
    overdue_at        timestamptz,
    verified_at       timestamptz,
    inadequate_at     timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rectification_orders_project ON rectification_orders (project_id, ordered_at DESC);
-- What the overdue scan reads: open orders still owed by the enterprise, by deadline.
CREATE INDEX rectification_orders_due ON rectification_orders (deadline)
    WHERE overdue_at IS NULL AND status IN ('ordered', 'rejected');

-- Every action on an order, for the timeline and for audit.
CREATE TABLE rectification_history (
    seq           bigserial PRIMARY KEY,
    order_id      text NOT NULL REFERENCES rectification_orders (order_id),
    action        text NOT NULL,
    actor         text NOT NULL,
    actor_role    text NOT NULL,
    at            timestamptz NOT NULL,
    evidence_text text,
    photo_refs    jsonb,
    reason        text
);
CREATE INDEX rectification_history_order ON rectification_history (order_id, seq);

-- Complaint facts received from the complaints service (no personal data), to detect projects
-- that gather complaints.
CREATE TABLE complaint_signals (
    complaint_id  text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('filed', 'overdue')),
    project_id    text NOT NULL,
    district_code text NOT NULL,
    enterprise_id text NOT NULL,
    at            timestamptz NOT NULL,
    PRIMARY KEY (complaint_id, kind)
);
CREATE INDEX complaint_signals_project ON complaint_signals (project_id, at);

CREATE TABLE scheduled_patrols (
    patrol_id       text PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects (project_id),
    reason          text NOT NULL,
    complaint_count integer NOT NULL,
    window_days     integer NOT NULL,
    scheduled_at    timestamptz NOT NULL,
    due_by          timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    inspection_id   text
);
-- At most one open scheduled patrol per project: a burst of complaints schedules it once.
CREATE UNIQUE INDEX scheduled_patrols_one_open ON scheduled_patrols (project_id) WHERE status = 'open';
