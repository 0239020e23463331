-- Owner satisfaction surveys: the campaigns' implementation phases (from wuye.campaigns.events),
-- the surveys with their running tally, the one-time token hashes, the anonymous comments and
-- the SurveyMissing marks.

CREATE TABLE survey_campaigns (
    campaign_id        text PRIMARY KEY,
    title_zh           text NOT NULL,
    starts_on          date NOT NULL,   -- implementation phase, China dates, inclusive
    ends_on            date NOT NULL,
    occurred_at        timestamptz NOT NULL,
    -- set once when the SurveyMissing scan has handled the campaign (the exactly-once claim)
    missing_checked_at timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE surveys (
    survey_id     text PRIMARY KEY,
    campaign_id   text NOT NULL REFERENCES survey_campaigns (campaign_id),
    project_id    text NOT NULL REFERENCES complaint_projects (project_id),
    enterprise_id text NOT NULL,
    district_code text NOT NULL,
    households    integer NOT NULL CHECK (households >= 1),
    questions     jsonb NOT NULL,
    opened_at     timestamptz NOT NULL,
    closes_at     timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at     timestamptz,
    responses     integer NOT NULL DEFAULT 0,
    satisfied     integer NOT NULL DEFAULT 0,
    sums          jsonb NOT NULL DEFAULT '{}'::jsonb,
    counts        jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, project_id)  -- one survey per project and campaign
);

CREATE INDEX surveys_enterprise ON surveys (enterprise_id, campaign_id);
CREATE INDEX surveys_district ON surveys (district_code);
CREATE INDEX surveys_closes ON surveys (closes_at) WHERE status = 'open';

-- Only the SHA-256 of each token; which household holds which token is not known here.
CREATE TABLE survey_tokens (
    token_sha256 text PRIMARY KEY,
    survey_id    text NOT NULL REFERENCES surveys (survey_id),
    used         boolean NOT NULL DEFAULT false
);

CREATE INDEX survey_tokens_survey ON survey_tokens (survey_id);

-- Optional comments, kept apart from tokens and without a time so they cannot be linked back.
CREATE TABLE survey_comments (
    id        bigserial PRIMARY KEY,
    survey_id text NOT NULL REFERENCES surveys (survey_id),
    comment   text NOT NULL
);

CREATE TABLE survey_missing (
    campaign_id   text NOT NULL REFERENCES survey_campaigns (campaign_id),
    enterprise_id text NOT NULL,
    detected_at   timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, enterprise_id)
);
