-- The district offices' rosters for random patrol draws (双随机, issue 16): the inspectors of a
-- district with the enterprises or projects each must not inspect (回避). A roster entry is never
-- deleted, only deactivated: a draw copies the active roster into its own inputs when it is made,
-- so a later change never alters a published draw's re-run.
CREATE TABLE draw_rosters (
    district_code  text NOT NULL,
    inspector_id   text NOT NULL,
    name           text NOT NULL,
    conflicts      text[] NOT NULL DEFAULT '{}',
    active         boolean NOT NULL DEFAULT true,
    added_by       text NOT NULL,
    added_at       timestamptz NOT NULL,
    deactivated_by text,
    deactivated_at timestamptz,
    PRIMARY KEY (district_code, inspector_id),
    CHECK (active = (deactivated_at IS NULL))
);
