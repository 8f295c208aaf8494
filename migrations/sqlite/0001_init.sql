-- The event log, the state tables events are applied to, and ingest tokens.

-- One row: the seq of the last committed event. Writers bump it inside their transaction, which keeps
-- seqs gapless even after old events are pruned.
CREATE TABLE log_state (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    head INTEGER NOT NULL
);
INSERT INTO log_state (id, head) VALUES (1, 0);

CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
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
    seq       INTEGER NOT NULL,
    PRIMARY KEY (workspace, topic, seq)
) WITHOUT ROWID;
CREATE INDEX event_topics_seq ON event_topics (seq);

CREATE TABLE tasks (
    workspace   TEXT NOT NULL,
    id          TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_seq INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
);
CREATE INDEX tasks_status ON tasks (workspace, status);

CREATE TABLE agents (
    workspace TEXT NOT NULL,
    id        TEXT NOT NULL,
    last_seq  INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
);

CREATE TABLE sessions (
    workspace TEXT NOT NULL,
    id        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    task_id   TEXT,
    active    INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
);
CREATE INDEX sessions_active ON sessions (workspace, kind, active);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
