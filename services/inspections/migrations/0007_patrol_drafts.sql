-- A patrol in progress on an inspector's phone: each completed item group is saved here, so the
-- patrol can be resumed; the draft id is the final submit's idempotency key.
CREATE TABLE patrol_drafts (
    recorded_by      text        NOT NULL,
    project_id       text        NOT NULL,
    draft_id         text        NOT NULL UNIQUE,
    template_id      text        NOT NULL,
    template_version integer     NOT NULL,
    results          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    started_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (recorded_by, project_id)
);
