-- Staff sign-in sessions of this service's workspace pages (runtime.web_session). The browser
-- holds only a random id; the row is found by the id's SHA-256, so a leaked table (a backup)
-- gives no usable cookie. Every service keeps its own: none reads another's.
CREATE TABLE web_sessions (
    id_hash           text PRIMARY KEY,
    subject           text NOT NULL,
    role              text NOT NULL,
    district_code     text,
    enterprise_id     text,
    name              text,
    csrf_secret       text NOT NULL,
    -- the identity provider's tokens: refreshed server-side, never sent to the browser
    access_token      text,
    refresh_token     text,
    id_token          text,
    access_expires_at timestamptz,
    created_at        timestamptz NOT NULL,
    last_seen_at      timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
