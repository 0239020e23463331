-- Which working-day calendar produced an order's deadline: 'official:<year>',
-- 'provisional:holidays-<version>:<year>' (no official file for that year yet), 'elapsed' (a
-- deadline in hours), several joined with '+'. Set once with the deadline and never recomputed,
-- so adding the official file later changes only deadlines computed after it. NULL: orders
-- issued before this column.
ALTER TABLE rectification_orders ADD COLUMN deadline_calendar text;
