-- Instances keep live tokens in memory. A revocation is counted, announced with NOTIFY, and waits
-- until every instance that keeps tokens has emptied its memory and said so here.

ALTER TABLE log_state ADD COLUMN revocations BIGINT NOT NULL DEFAULT 0;

-- One row per listening instance: the last revocation it has heard (its memory emptied since) and
-- when it last reached the database. UNLOGGED: after a crash every instance starts listening anew.
CREATE UNLOGGED TABLE token_listeners (
    id      TEXT PRIMARY KEY,
    heard   BIGINT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
);
