-- The project registry as this service owns it; published on the compacted registry topic.
CREATE TABLE projects (
    project_id      text PRIMARY KEY,
    project_name    text NOT NULL,
    address         text NOT NULL,
    district_code   text NOT NULL,
    district_name   text NOT NULL,
    enterprise_id   text NOT NULL,
    enterprise_name text NOT NULL,
    service_grade   text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_district ON projects (district_code);
CREATE INDEX projects_enterprise ON projects (enterprise_id);

-- Checklist templates are data, versioned: a published version is never edited.
CREATE TABLE checklist_templates (
    template_id text NOT NULL,
    version     integer NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, version)
);

CREATE TABLE inspections (
    inspection_id    text PRIMARY KEY,
    project_id       text NOT NULL REFERENCES projects (project_id),
    kind             text NOT NULL CHECK (kind IN ('self', 'patrol')),
    template_id      text NOT NULL,
    template_version integer NOT NULL,
    score            numeric(5, 2) NOT NULL,
    pass_mark        numeric(5, 2) NOT NULL,
    passed           boolean NOT NULL,
    results          jsonb NOT NULL,
    recorded_by      text NOT NULL,
    recorder_role    text NOT NULL,
    idempotency_key  text,
    inspected_at     timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (template_id, template_version) REFERENCES checklist_templates (template_id, version),
    UNIQUE (recorded_by, idempotency_key)
);
CREATE INDEX inspections_project ON inspections (project_id, inspected_at DESC);
