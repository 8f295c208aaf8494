-- Idempotency keys: a request retried with the key of one already committed gets the first answer
-- (the same seqs) and stores nothing new. `hash` tells a true retry from the key reused for another body.
CREATE TABLE idempotency (
    workspace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    hash       TEXT NOT NULL,
    seqs       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (workspace, key)
);
