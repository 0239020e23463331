-- Photos and other attachments of a service's records (runtime.attachments), in the service's
-- own database: written in the same transaction as the record they belong to, so there are no
-- orphans and nothing half-written. `data` is the re-encoded image without EXIF (what is served
-- by default), `thumbnail` a small JPEG for lists, `original` the uploaded bytes only where
-- evidence rules keep them (an inspector's patrol photo); owners' photos never keep one.
CREATE TABLE attachments (
    attachment_id  uuid PRIMARY KEY,
    owner_kind     text NOT NULL,   -- e.g. 'complaint', 'inspection', 'rectification'
    owner_id       text NOT NULL,
    position       integer NOT NULL,
    content_type   text NOT NULL,
    sha256         text NOT NULL,   -- of `data`, hex
    byte_size      integer NOT NULL,
    width          integer NOT NULL,
    height         integer NOT NULL,
    data           bytea NOT NULL,
    thumbnail      bytea NOT NULL,  -- always image/jpeg
    original       bytea,
    original_type  text,
    original_sha256 text,
    created_at     timestamptz NOT NULL,
    UNIQUE (owner_kind, owner_id, position)
);
CREATE INDEX attachments_owner ON attachments (owner_kind, owner_id);
-- images are already compressed: store them out of line without trying to compress them again
ALTER TABLE attachments ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE attachments ALTER COLUMN original SET STORAGE EXTERNAL;
