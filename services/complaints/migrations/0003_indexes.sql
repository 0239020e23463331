-- Open311's public GET requests looks up the handling enterprise's name per row.
CREATE INDEX IF NOT EXISTS complaint_projects_enterprise ON complaint_projects (enterprise_id);
