-- Campaigns are data: the 2011 notice (津物业〔2011〕4号) is one row, next year's another.
-- Phases are whole days in China time, inclusive; the service validates them before insert.
CREATE TABLE campaigns (
    campaign_id        text PRIMARY KEY,
    title_zh           text NOT NULL,
    title_en           text NOT NULL,
    notice_no          text,
    window_starts_on   date NOT NULL,
    window_ends_on     date NOT NULL,
    starts_on          date NOT NULL,
    ends_on            date NOT NULL,
    phases             jsonb NOT NULL,
    template_id        text,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL,
    -- Set once by the overdue scan after the planning phase; the claim that makes it run once.
    overdue_checked_at timestamptz,
    CHECK (window_starts_on <= window_ends_on AND starts_on <= ends_on)
);

-- One row per announced phase: the unique key makes CampaignPhaseStarted exactly-once.
CREATE TABLE campaign_phase_announcements (
    campaign_id  text NOT NULL REFERENCES campaigns (campaign_id),
    phase        text NOT NULL CHECK (phase IN ('mobilisation', 'planning', 'implementation')),
    announced_at timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, phase)
);

-- The current activity plan (具体活动方案) of each district office and enterprise per campaign;
-- a resubmission replaces it and bumps the version. `staff` holds phone numbers (personal data):
-- never copied into events or list responses.
CREATE TABLE activity_plans (
    plan_id            text PRIMARY KEY,
    campaign_id        text NOT NULL REFERENCES campaigns (campaign_id),
    submitter_kind     text NOT NULL CHECK (submitter_kind IN ('district', 'enterprise')),
    submitter_id       text NOT NULL,
    submitter_name     text NOT NULL,
    version            integer NOT NULL CHECK (version >= 1),
    departments        jsonb NOT NULL,
    staff              jsonb NOT NULL,
    schedule           jsonb NOT NULL,
    summary            text NOT NULL,
    submitted_by       text NOT NULL,
    first_submitted_at timestamptz NOT NULL,
    submitted_at       timestamptz NOT NULL,
    UNIQUE (campaign_id, submitter_kind, submitter_id)
);

-- Who missed the planning deadline; the key makes PlanOverdue exactly-once per submitter.
CREATE TABLE plan_overdue (
    campaign_id    text NOT NULL REFERENCES campaigns (campaign_id),
    submitter_kind text NOT NULL CHECK (submitter_kind IN ('district', 'enterprise')),
    submitter_id   text NOT NULL,
    submitter_name text NOT NULL,
    deadline       timestamptz NOT NULL,
    detected_at    timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, submitter_kind, submitter_id)
);
