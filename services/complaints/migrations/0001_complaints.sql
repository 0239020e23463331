-- Complaints: the service's local copy of the project registry (from wuye.registry.projects),
-- the complaints themselves and the ticket-number sequence.

CREATE TABLE complaint_projects (
    project_id      text PRIMARY KEY,
    project_name    text NOT NULL,
    district_code   text NOT NULL,
    district_name   text NOT NULL,
    enterprise_id   text NOT NULL,
    enterprise_name text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE complaint_ticket_seq;

CREATE TABLE complaints (
    complaint_id         text PRIMARY KEY,
    ticket_no            text NOT NULL UNIQUE,
    token_sha256         text NOT NULL UNIQUE,  -- the follow-up token itself is never stored
    project_id           text NOT NULL REFERENCES complaint_projects (project_id),
    enterprise_id        text NOT NULL,
    district_code        text NOT NULL,
    category             text NOT NULL,
    urgency              text NOT NULL,
    channel              text NOT NULL,
    status               text NOT NULL,
    handling_org         text,
    responsible_staff_id text,
    filed_at             timestamptz NOT NULL,
    -- earliest moment an SLA warning or overdue becomes due (NULL: no clock running)
    next_due             timestamptz,
    -- when a replied complaint without feedback closes by itself (NULL unless replied)
    auto_close_at        timestamptz,
    -- personal data, kept apart from the document so it is never serialised by accident
    contact_name         text,
    contact_phone        text,
    doc                  jsonb NOT NULL,
    version              integer NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX complaints_enterprise ON complaints (enterprise_id, filed_at DESC);
CREATE INDEX complaints_handling ON complaints (handling_org, filed_at DESC);
CREATE INDEX complaints_district ON complaints (district_code, filed_at DESC);
CREATE INDEX complaints_status ON complaints (status, filed_at DESC);
CREATE INDEX complaints_next_due ON complaints (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX complaints_auto_close ON complaints (auto_close_at) WHERE auto_close_at IS NOT NULL;
