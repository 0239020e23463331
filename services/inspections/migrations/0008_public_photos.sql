-- Photos the public may see (issue 15): an inspection item's photo named by a published exposure
-- case (ExposurePublished.attachments, consumed from wuye.exposure.events). The row opens the
-- public route /public/photos/{attachment_id} for it; the case's ExposureWithdrawn closes it
-- again (withdrawn_at). Only references are kept here: the bytes stay in `attachments`, and only
-- their re-encoded copy (no EXIF) is ever served publicly.
CREATE TABLE public_photos (
    case_id        text        NOT NULL,
    attachment_id  uuid        NOT NULL,
    project_id     text        NOT NULL,
    published_at   timestamptz NOT NULL,
    withdrawn_at   timestamptz,
    PRIMARY KEY (case_id, attachment_id)
);
CREATE INDEX public_photos_open ON public_photos (attachment_id) WHERE withdrawn_at IS NULL;
