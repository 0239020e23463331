-- Open311 client applications' API keys, issued, listed and revoked with
-- `python -m services.complaints.apikeys`. Only the key's SHA-256 is stored (a dump holds no
-- usable key); the first characters identify it in lists. A revoked key stays for the record.
CREATE TABLE open311_api_keys (
    key_id          text PRIMARY KEY,
    client_id       text NOT NULL CHECK (client_id ~ '^[a-z0-9][a-z0-9._-]{0,47}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_sha256      text NOT NULL UNIQUE,
    key_prefix      text NOT NULL,
    rate_per_minute integer NOT NULL CHECK (rate_per_minute BETWEEN 1 AND 10000),
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);

CREATE INDEX open311_api_keys_client ON open311_api_keys (client_id, created_at);
