-- Photo references of the evidence (issue 15): the inspector's photos of each failed item, as
-- InspectionFailed carried them (id, SHA-256, type). Never bytes: the inspections service keeps
-- those and serves them (to the offices under its workspace, to the public only while a case
-- that names them is published). Owners' photos never reach this service.
CREATE TABLE evidence_photos (
    inspection_id   text NOT NULL,
    item_id         text NOT NULL,
    attachment_id   text NOT NULL,
    position        integer NOT NULL,
    sha256          text NOT NULL,
    content_type    text NOT NULL,
    PRIMARY KEY (inspection_id, attachment_id)
);
CREATE INDEX evidence_photos_item ON evidence_photos (inspection_id, item_id, position);

-- What a case's ExposurePublished named as published with it: the board shows exactly these.
ALTER TABLE cases ADD COLUMN published_photos jsonb NOT NULL DEFAULT '[]'::jsonb;
