-- An endpoint belongs to the organisation that registered it: a project manager's address
-- registered by enterprise A is not used once the project passes to enterprise B. Registering the
-- same address again after disabling it creates a new endpoint (new id, new webhook secret).
ALTER TABLE endpoints ADD COLUMN owner_enterprise_id text;
UPDATE endpoints e SET owner_enterprise_id = coalesce(
    (SELECT p.enterprise_id FROM projects p WHERE e.recipient_kind = 'manager' AND p.project_id = e.recipient_id),
    CASE WHEN e.recipient_kind = 'enterprise' THEN e.recipient_id END);
ALTER TABLE endpoints DROP CONSTRAINT endpoints_recipient_kind_recipient_id_channel_address_key;
CREATE UNIQUE INDEX endpoints_active_address
    ON endpoints (recipient_kind, recipient_id, channel, address) WHERE disabled_at IS NULL;

-- A ladder step that cannot be issued (e.g. its rule was renamed) is marked failed and logged,
-- instead of blocking every later step.
ALTER TABLE escalations DROP CONSTRAINT escalations_status_check;
ALTER TABLE escalations ADD CONSTRAINT escalations_status_check
    CHECK (status IN ('pending', 'issued', 'cancelled', 'failed'));
