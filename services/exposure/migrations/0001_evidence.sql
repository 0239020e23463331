-- Evidence of failures, collected from events. Nothing here is public until the publication rules
-- (issue 6) turn it into a published exposure case; no owner data is ever stored here.
CREATE TABLE evidence (
    evidence_id     text PRIMARY KEY,
    source_event_id text NOT NULL UNIQUE,
    source_type     text NOT NULL,
    project_id      text NOT NULL,
    project_name    text NOT NULL,
    enterprise_id   text NOT NULL,
    enterprise_name text NOT NULL,
    district_code   text NOT NULL,
    inspection_id   text,
    score           numeric(5, 2),
    failed_items    jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    correlation_id  text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_project ON evidence (project_id, occurred_at DESC);
