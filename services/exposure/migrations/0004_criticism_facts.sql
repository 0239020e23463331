-- Criticism notices (通报批评) about rectification orders, from wuye.notifications.events. A notice
-- can be consumed before the order's overdue event (two topics, two consumers): the case picks it
-- up when it opens. A fact like the others: rebuilt by a replay.
CREATE TABLE criticism_facts (
    notice_id   text PRIMARY KEY,
    order_id    text NOT NULL,
    notice_no   text,
    project_id  text NOT NULL,
    issued_at   timestamptz NOT NULL
);
CREATE INDEX criticism_facts_order ON criticism_facts (order_id, issued_at);
