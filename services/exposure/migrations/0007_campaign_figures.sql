-- The campaign's own figures (issue 16). Facts like the others: rebuilt by a replay.
--
-- A campaign's dates: from the first day of its earliest phase to the last day of its latest
-- phase seen so far (CampaignPhaseStarted). Phases are announced as they start, so the range grows
-- until the last phase (implementation) has started. Facts are attributed to a campaign by their
-- own time within that range (China time, both days inclusive).
ALTER TABLE campaign_facts ADD COLUMN starts_on date, ADD COLUMN ends_on date;

-- Complaints accepted (签收) within the acceptance clock: accepted (ComplaintAccepted) and never
-- overdue on the acceptance clock (ComplaintOverdue, clock = acceptance).
ALTER TABLE complaint_facts
    ADD COLUMN accepted_at timestamptz,
    ADD COLUMN acceptance_overdue boolean NOT NULL DEFAULT false;

-- One row per activity held (ActivityHeld): cultural or publicity, counted by the day it was held.
-- Ids, kind, day and a head count only: no title, description or photos.
CREATE TABLE activity_facts (
    record_id       text PRIMARY KEY,
    project_id      text NOT NULL,
    enterprise_id   text NOT NULL,
    district_code   text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('cultural', 'publicity')),
    held_on         date NOT NULL,
    participants    integer NOT NULL CHECK (participants >= 0)
);
CREATE INDEX activity_facts_held ON activity_facts (held_on, district_code, enterprise_id);
