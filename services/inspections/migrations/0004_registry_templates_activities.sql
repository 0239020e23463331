-- Community cultural activities (notice 三(一)3) and publicity activities (三(二)), recorded per
-- project by the project's enterprise. Records only: no events are published for them.
CREATE TABLE activity_records (
    record_id              text PRIMARY KEY,
    project_id             text NOT NULL REFERENCES projects (project_id),
    kind                   text NOT NULL CHECK (kind IN ('cultural', 'publicity')),
    title                  text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    held_on                date NOT NULL,
    participants           integer NOT NULL CHECK (participants >= 0),
    description            text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    photo_refs             text[] NOT NULL DEFAULT '{}' CHECK (cardinality(photo_refs) <= 9),
    recorded_by            text NOT NULL,
    recorder_enterprise_id text NOT NULL,
    idempotency_key        text,
    recorded_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (recorded_by, idempotency_key)
);
CREATE INDEX activity_records_project ON activity_records (project_id, held_on DESC, recorded_at DESC);
