-- Connection slots taken in blocks: `open_connections.open` now counts the slots an instance holds
-- (its open connections and the spare slots it took with them), and an instance asks for a block
-- only when it has no spare slot left (`src/limits/slots.rs`). An instance of the previous
-- release still calls `open_connection` (0005) during an upgrade; it now leases one slot, so the
-- lock and the count are written once, here, and the limit holds across both releases.

CREATE FUNCTION lease_connections(
    p_instance TEXT, p_token TEXT, p_limit BIGINT, p_stale_secs DOUBLE PRECISION, p_want BIGINT
)
RETURNS BIGINT
LANGUAGE plpgsql
AS $$
DECLARE
    counted BIGINT;
    granted BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_token, 0));
    INSERT INTO instances (id, seen_at) VALUES (p_instance, clock_timestamp())
        ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at;
    SELECT COALESCE(SUM(c.open), 0) INTO counted
      FROM open_connections c JOIN instances i ON i.id = c.instance
     WHERE c.token_id = p_token AND i.seen_at > clock_timestamp() - make_interval(secs => p_stale_secs);
    -- As many as asked for, or as many as are left.
    granted := LEAST(p_want, p_limit - counted);
    IF granted <= 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO open_connections (instance, token_id, open) VALUES (p_instance, p_token, granted)
        ON CONFLICT (token_id, instance) DO UPDATE SET open = open_connections.open + granted;
    RETURN granted;
END
$$;

CREATE OR REPLACE FUNCTION open_connection(
    p_instance TEXT, p_token TEXT, p_limit BIGINT, p_stale_secs DOUBLE PRECISION
)
RETURNS BOOLEAN
LANGUAGE sql
AS $$ SELECT lease_connections(p_instance, p_token, p_limit, p_stale_secs, 1) > 0 $$;
