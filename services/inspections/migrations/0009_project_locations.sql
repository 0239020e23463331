-- A project's location: WGS-84 degrees of its main gate, optional (both or neither). Published on
-- the registry topic (ProjectRegistered/ProjectUpdated latitude, longitude).
ALTER TABLE projects
    ADD COLUMN latitude  double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD CONSTRAINT projects_location_both_or_neither CHECK ((latitude IS NULL) = (longitude IS NULL));
