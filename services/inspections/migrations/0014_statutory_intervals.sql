-- Statutory service intervals (法定维保周期, issue 16): the facilities an enterprise registers per
-- project (lift, fire facilities, secondary water-supply tank), each service recorded, and each
-- missed due date once: the primary key (facility_id, due_on) makes the sweep exactly-once even
-- when it runs twice or on two replicas.
CREATE TABLE facilities (
    facility_id       text PRIMARY KEY,
    project_id        text NOT NULL REFERENCES projects (project_id),
    kind              text NOT NULL CHECK (kind IN ('lift', 'fire', 'water_tank')),
    name              text NOT NULL,
    contract_days     integer CHECK (contract_days > 0),  -- a stricter contractual interval; null: the law's
    last_serviced_on  date NOT NULL,
    next_due_on       date NOT NULL,
    registered_by     text NOT NULL,
    registered_at     timestamptz NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX facilities_due ON facilities (next_due_on);

CREATE TABLE facility_services (
    service_id   text PRIMARY KEY,
    facility_id  text NOT NULL REFERENCES facilities (facility_id),
    serviced_on  date NOT NULL,
    serviced_by  text NOT NULL,  -- the maintenance company or person, as the enterprise wrote it
    note         text NOT NULL DEFAULT '',
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL
);
CREATE INDEX facility_services_facility ON facility_services (facility_id, serviced_on DESC);

CREATE TABLE facility_misses (
    facility_id   text NOT NULL REFERENCES facilities (facility_id),
    due_on        date NOT NULL,
    detected_at   timestamptz NOT NULL,
    resolved_at   timestamptz,
    resolved_by   text REFERENCES facility_services (service_id),
    PRIMARY KEY (facility_id, due_on)
);
CREATE INDEX facility_misses_open ON facility_misses (facility_id) WHERE resolved_at IS NULL;
