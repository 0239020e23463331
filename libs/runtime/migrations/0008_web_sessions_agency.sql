-- Which outside agency a signed-in agency account belongs to (runtime.auth.Principal.agency_id;
-- the 12345 hotline is one). Null for every other role.
ALTER TABLE web_sessions ADD COLUMN agency_id text;
