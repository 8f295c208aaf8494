-- The PostgreSQL schema: the same tables as SQLite's migrations arrive at, made in one step.

CREATE TABLE log_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    -- The last seq assigned. A commit locks this row (FOR UPDATE) and assigns seqs after it inside
    -- its transaction, so seqs are gapless and in commit order across every instance.
    head         BIGINT NOT NULL,
    -- Made with the database: a restored or replaced one has another.
    epoch        TEXT NOT NULL,
    pruned_floor BIGINT NOT NULL DEFAULT 0
);
INSERT INTO log_state (id, head, epoch) VALUES (1, 0, substr(md5(random()::text || clock_timestamp()::text), 1, 16));

CREATE TABLE events (
    seq       BIGINT PRIMARY KEY,
    workspace TEXT NOT NULL,
    type      TEXT NOT NULL,
    ts        TEXT NOT NULL,
    -- The frame exactly as pushed to subscribers: replay sends it without serialising again.
    frame     TEXT NOT NULL
);
CREATE INDEX events_workspace_seq ON events (workspace, seq);

CREATE TABLE event_topics (
    workspace TEXT NOT NULL,
    topic     TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (workspace, topic, seq)
);
CREATE INDEX event_topics_seq ON event_topics (seq);

CREATE TABLE entities (
    workspace TEXT NOT NULL,
    kind      TEXT NOT NULL,
    id        TEXT NOT NULL,
    parent    TEXT,
    status    TEXT,
    sort      BIGINT NOT NULL DEFAULT 0,
    data      TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, id)
);
CREATE INDEX entities_parent ON entities (workspace, kind, parent, sort);
CREATE INDEX entities_status ON entities (workspace, kind, status, sort);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE idempotency (
    workspace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    hash       TEXT NOT NULL,
    seqs       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (workspace, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);

CREATE TABLE workspace_log (
    workspace   TEXT PRIMARY KEY,
    events      BIGINT NOT NULL,
    pruned_upto BIGINT NOT NULL
);
