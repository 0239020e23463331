-- Campaigns and their activity plans (活动方案), from wuye.campaigns.events: the city office's
-- campaign table shows plans submitted against plans due per district. A campaign row is written
-- by CampaignPhaseStarted (title, planning dates) or by a PlanSubmitted seen first; `seen_at` is
-- the latest moment either showed the campaign (the table shows the campaign seen last). One plan
-- row per campaign and submitter, at its highest version. Facts like the others: rebuilt by a
-- replay. Nothing personal: the events carry no staff or phone numbers.
CREATE TABLE campaign_facts (
    campaign_id         text PRIMARY KEY,
    title_zh            text,
    planning_starts_on  date,
    planning_ends_on    date,
    seen_at             timestamptz NOT NULL
);

CREATE TABLE plan_facts (
    campaign_id     text NOT NULL,
    submitter_kind  text NOT NULL CHECK (submitter_kind IN ('district', 'enterprise')),
    submitter_id    text NOT NULL,
    plan_id         text NOT NULL,
    version         integer NOT NULL,
    submitted_at    timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, submitter_kind, submitter_id)
);
