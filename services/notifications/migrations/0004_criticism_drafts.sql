-- A circulated criticism (通报批评) is drafted by the ladder and becomes a notice only when the
-- district office signs it off: the number (文号) is taken from notice_numbers in the sign-off's
-- transaction, so a withdrawn draft never had one and no number is skipped or used twice.
-- draft_id is the id of the notice it becomes.
CREATE TABLE criticism_drafts (
    draft_id        text PRIMARY KEY,
    rule_id         text NOT NULL,
    reason          text NOT NULL,
    subject_kind    text NOT NULL,
    subject_id      text NOT NULL,
    project_id      text,
    enterprise_id   text,
    district_code   text,
    title_zh        text NOT NULL,              -- the preview, without a number
    body_zh         text NOT NULL,
    cause_event_id  text NOT NULL,
    cause_type      text NOT NULL,
    cause_payload   text NOT NULL,              -- the cause event as JSON, to issue from
    correlation_id  text NOT NULL,
    drafted_at      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'issued', 'withdrawn')),
    decided_at      timestamptz,
    decided_by      text,
    withdraw_reason text,
    notice_no       text,
    CHECK ((status = 'draft') = (decided_at IS NULL)),
    CHECK ((status = 'issued') = (notice_no IS NOT NULL)),
    CHECK ((status = 'withdrawn') = (withdraw_reason IS NOT NULL))
);
CREATE INDEX criticism_drafts_district ON criticism_drafts (district_code, status, drafted_at);
