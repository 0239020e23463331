-- Idempotency-Key on complaint intake (issue 13): the key is scoped to the caller (the principal's
-- subject: an owner account, an enterprise staff member, an Open311 client application, or the
-- owners' web form with a server-generated one-time submission id), with the SHA-256 of the
-- request so the same key with a different request is refused. NULL: filed without a key.
ALTER TABLE complaints
    ADD COLUMN idempotency_scope       text,
    ADD COLUMN idempotency_key         text,
    ADD COLUMN idempotency_fingerprint text;

CREATE UNIQUE INDEX complaints_idempotency ON complaints (idempotency_scope, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
