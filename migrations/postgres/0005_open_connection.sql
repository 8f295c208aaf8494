-- Counting a connection of a token across instances, as one call: the lock, the instance's mark,
-- the count and the increment used to be six round trips in a transaction of their own, for every
-- socket and stream opened. A function runs them in the call's own transaction, with a fresh
-- snapshot for each statement, so the count taken after the lock sees every opening before it.

CREATE FUNCTION open_connection(p_instance TEXT, p_token TEXT, p_limit BIGINT, p_stale_secs DOUBLE PRECISION)
RETURNS BOOLEAN
LANGUAGE plpgsql
AS $$
DECLARE
    counted BIGINT;
BEGIN
    -- One opening per token at a time, across instances: the count and the increment agree.
    PERFORM pg_advisory_xact_lock(hashtextextended(p_token, 0));
    INSERT INTO instances (id, seen_at) VALUES (p_instance, clock_timestamp())
        ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at;
    SELECT COALESCE(SUM(c.open), 0) INTO counted
      FROM open_connections c JOIN instances i ON i.id = c.instance
     WHERE c.token_id = p_token AND i.seen_at > clock_timestamp() - make_interval(secs => p_stale_secs);
    IF counted >= p_limit THEN
        RETURN FALSE;
    END IF;
    INSERT INTO open_connections (instance, token_id, open) VALUES (p_instance, p_token, 1)
        ON CONFLICT (token_id, instance) DO UPDATE SET open = open_connections.open + 1;
    RETURN TRUE;
END
$$;
