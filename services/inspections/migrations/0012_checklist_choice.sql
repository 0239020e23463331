-- Checklists by contracted service grade (issue 16): why an inspection walked its checklist
-- (the project's grade's own, the general one as a fallback, or one the inspector named) and the
-- grade the project was contracted at when it was inspected, so the API and pages can say so.
ALTER TABLE inspections
    ADD COLUMN checklist_reason text NOT NULL DEFAULT 'given'
        CHECK (checklist_reason IN ('contract_grade', 'no_grade_checklist',
                                    'grade_checklist_missing', 'given')),
    ADD COLUMN contracted_grade text;
