-- Wake the relay when outbox rows are committed. A statement trigger instead of a `pg_notify`
-- call after each enqueue saves a round trip per event; PostgreSQL sends the notification at
-- commit (none if the transaction rolls back) and folds repeats within one transaction into one.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wuye_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
