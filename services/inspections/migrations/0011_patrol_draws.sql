-- Patrols by random draw (双随机、一公开, issue 16): each draw with every input, its seed and
-- algorithm, and the result; the roster's names stay here (the event carries staff ids only).
CREATE TABLE patrol_draws (
    draw_id                text PRIMARY KEY,
    district_code          text NOT NULL,
    drawn_by               text NOT NULL,
    drawn_at               timestamptz NOT NULL,
    algorithm              text NOT NULL,
    seed                   text NOT NULL,
    project_count          integer NOT NULL,
    inspectors_per_project integer NOT NULL,
    exclusion_days         integer NOT NULL,
    inputs                 jsonb NOT NULL,  -- projects, excluded ids, inspectors with names and conflicts
    result                 jsonb NOT NULL,  -- [{patrol_id, project_id, enterprise_id, inspector_ids}]
    due_by                 timestamptz NOT NULL
);
CREATE INDEX patrol_draws_district ON patrol_draws (district_code, drawn_at DESC);

-- Where a scheduled patrol comes from: complaints (as before) or a draw.
ALTER TABLE scheduled_patrols
    ADD COLUMN origin        text NOT NULL DEFAULT 'complaint'
                             CHECK (origin IN ('complaint', 'random_draw')),
    ADD COLUMN draw_id       text REFERENCES patrol_draws (draw_id),
    ADD COLUMN inspector_ids text[],
    ADD CONSTRAINT scheduled_patrols_draw_origin CHECK ((origin = 'random_draw') = (draw_id IS NOT NULL));
