-- A commit made without taking the head's lock first (an instance that knows the head from its
-- own last commit) moves the head only from the value it built on. `expect_head` turns "the head
-- had moved" (its guarded update found no row) into an error, which aborts the whole statement:
-- the instance then commits again under the lock.

CREATE FUNCTION expect_head(moved BIGINT) RETURNS BIGINT
LANGUAGE plpgsql
AS $$
BEGIN
    IF moved IS NULL THEN
        RAISE EXCEPTION 'the log head moved under an unlocked commit' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN moved;
END
$$;
