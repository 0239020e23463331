-- Projects get a place: the registry's street address and WGS-84 latitude/longitude (optional:
-- older records have none), and a PostGIS geography point derived from them, so filing by
-- lat/long finds the nearest project within a radius with an index (ST_DWithin, KNN <->).
-- PostGIS comes from Debian's postgresql-<major>-postgis-3 (deploy/local/stack.py installs it);
-- CREATE EXTENSION needs a superuser or a database owner where the extension is trusted.

CREATE EXTENSION IF NOT EXISTS postgis;

ALTER TABLE complaint_projects
    ADD COLUMN address   text,
    ADD COLUMN latitude  double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD CONSTRAINT complaint_projects_both_or_neither
        CHECK ((latitude IS NULL) = (longitude IS NULL)),
    ADD COLUMN location geography(Point, 4326) GENERATED ALWAYS AS (
        CASE WHEN latitude IS NULL OR longitude IS NULL THEN NULL
             ELSE ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography END
    ) STORED;

CREATE INDEX complaint_projects_location ON complaint_projects USING gist (location);
