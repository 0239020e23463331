-- Random patrol draws (双随机、一公开), from wuye.inspections.draws: the public board's /draws page
-- lists each draw (district, date, projects, seed) with everything needed to re-run it, and the
-- result of each drawn project's patrol from inspection_facts. Facts like the others: rebuilt by a
-- replay. Nothing personal: inspectors appear by staff id only.
CREATE TABLE draw_facts (
    draw_id        text PRIMARY KEY,
    district_code  text NOT NULL,
    drawn_at       timestamptz NOT NULL,
    seed           text NOT NULL,
    algorithm      text NOT NULL,
    event          jsonb NOT NULL  -- the PatrolsDrawn payload, as published
);
CREATE INDEX draw_facts_drawn_at ON draw_facts (drawn_at DESC);
