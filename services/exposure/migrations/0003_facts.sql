-- Facts behind the public board's grades and campaign statistics. Each table is a pure fold of input
-- events (registry, inspections, complaints, surveys): every row changes only by applying one of them,
-- idempotently, so replaying the topics rebuilds the same rows. Ids, categories, counts and times only:
-- no owner, no address, no complaint text, no personal data.

-- The registry copy (wuye.registry.projects): who runs each project, in which district, by name.
-- A late older record never overwrites a newer one (occurred_at).
CREATE TABLE projects (
    project_id      text PRIMARY KEY,
    project_name    text NOT NULL,
    enterprise_id   text NOT NULL,
    enterprise_name text NOT NULL,
    district_code   text NOT NULL,
    district_name   text NOT NULL,
    occurred_at     timestamptz NOT NULL
);
CREATE INDEX facts_projects_district ON projects (district_code, enterprise_id);
CREATE INDEX facts_projects_enterprise ON projects (enterprise_id);

-- One row per inspection (InspectionCompleted), self-inspections and patrols alike.
CREATE TABLE inspection_facts (
    inspection_id   text PRIMARY KEY,
    project_id      text NOT NULL,
    enterprise_id   text NOT NULL,
    district_code   text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('self', 'patrol')),
    score           numeric(5, 2) NOT NULL,
    pass_mark       numeric(5, 2) NOT NULL,
    passed          boolean NOT NULL,
    inspected_at    timestamptz NOT NULL
);
CREATE INDEX facts_inspections_project ON inspection_facts (project_id, enterprise_id);

-- One row per rectification order, whichever of its events arrives first: ordered
-- (RectificationOrdered), verified (RectificationVerified: verified_at, on_time), overdue
-- (RectificationOverdue), inadequate (RectificationRejected with inadequate = true, 整改不到位).
-- An order is due once it is verified, overdue or inadequate; it was rectified on time if it was
-- verified on time and never overdue.
CREATE TABLE order_facts (
    order_id        text PRIMARY KEY,
    project_id      text NOT NULL,
    enterprise_id   text NOT NULL,
    district_code   text NOT NULL,
    deadline        timestamptz NOT NULL,
    ordered_at      timestamptz,
    verified_at     timestamptz,
    on_time         boolean,
    overdue         boolean NOT NULL DEFAULT false,
    overdue_at      timestamptz,
    inadequate_at   timestamptz
);
CREATE INDEX facts_orders_project ON order_facts (project_id, enterprise_id);

-- One row per complaint (wuye.complaints.events): filed (ComplaintFiled), overdue on the completion
-- clock (ComplaintOverdue, clock = completion), closed (ComplaintClosed). A complaint is due once it
-- is closed or past its completion deadline; it was completed on time if closed and never overdue.
CREATE TABLE complaint_facts (
    complaint_id        text PRIMARY KEY,
    project_id          text NOT NULL,
    enterprise_id       text NOT NULL,
    district_code       text NOT NULL,
    category            text NOT NULL,
    filed_at            timestamptz,
    completion_overdue  boolean NOT NULL DEFAULT false,
    closed_at           timestamptz
);
CREATE INDEX facts_complaints_project ON complaint_facts (project_id, enterprise_id);

-- One row per closed satisfaction survey (SurveyClosed): counts and rates only.
CREATE TABLE survey_facts (
    survey_id           text PRIMARY KEY,
    project_id          text NOT NULL,
    enterprise_id       text NOT NULL,
    district_code       text NOT NULL,
    households          integer NOT NULL CHECK (households >= 1),
    responses           integer NOT NULL CHECK (responses >= 0),
    coverage            double precision NOT NULL CHECK (coverage BETWEEN 0 AND 1),
    satisfaction_rate   double precision CHECK (satisfaction_rate BETWEEN 0 AND 1),
    closed_at           timestamptz NOT NULL
);
CREATE INDEX facts_surveys_latest ON survey_facts (project_id, enterprise_id, closed_at DESC, survey_id DESC);
