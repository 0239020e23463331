-- Exposure cases and their public timeline: a projection of the wuye.exposure.events topic (each
-- row changes only by applying one of those events), so replaying the topic rebuilds them.
-- Enterprises and projects only: no owner, no complaint text, no personal data.
CREATE TABLE cases (
    case_id         text PRIMARY KEY,
    project_id      text NOT NULL,
    project_name    text NOT NULL,
    enterprise_id   text NOT NULL,
    enterprise_name text NOT NULL,
    district_code   text NOT NULL,
    reason          text NOT NULL,
    tier            text NOT NULL CHECK (tier IN ('light', 'general', 'serious')),
    order_id        text NOT NULL UNIQUE,
    inspection_id   text NOT NULL,
    items           jsonb NOT NULL,
    deadline        timestamptz NOT NULL,
    notice_no       text,
    notice_id       text,
    -- opened: awaiting the criticism notice; in_review: the district may hold or confirm until
    -- review_ends_at; held: the district holds it; published; withdrawn (never or no longer public)
    status          text NOT NULL CHECK (status IN ('opened', 'in_review', 'held', 'published', 'withdrawn')),
    review_ends_at  timestamptz,
    published_at    timestamptz,
    min_until       timestamptz,
    max_until       timestamptz,
    rectified_at    timestamptz,
    withdrawn_at    timestamptz,
    withdraw_reason text,
    opened_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX cases_board ON cases (published_at DESC, case_id) WHERE status = 'published';
CREATE INDEX cases_district ON cases (district_code, status);
CREATE INDEX cases_enterprise ON cases (enterprise_id, status);

CREATE TABLE case_timeline (
    event_id        text PRIMARY KEY,
    case_id         text NOT NULL REFERENCES cases,
    event_type      text NOT NULL,
    at              timestamptz NOT NULL,
    title_zh        text NOT NULL,
    title_en        text NOT NULL,
    detail_zh       text NOT NULL DEFAULT '',
    detail_en       text NOT NULL DEFAULT '',
    ref             text  -- e.g. the criticism notice's id
);
CREATE INDEX case_timeline_case ON case_timeline (case_id, at);

CREATE TABLE objections (
    objection_id    text PRIMARY KEY,
    case_id         text NOT NULL REFERENCES cases,
    enterprise_id   text NOT NULL,
    grounds         text NOT NULL,
    filed_at        timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'upheld', 'rejected')),
    decision_reason text,
    decided_at      timestamptz
);
CREATE UNIQUE INDEX objections_one_pending ON objections (case_id) WHERE status = 'pending';

-- Exposure events already applied to the tables above (at emission, or when replayed).
CREATE TABLE applied_events (
    event_id        text PRIMARY KEY,
    applied_at      timestamptz NOT NULL DEFAULT now()
);
