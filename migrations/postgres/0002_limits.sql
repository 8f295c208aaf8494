-- Counters for per-token limits that hold across instances. UNLOGGED: they are written on every
-- request and worth nothing after a crash (the instances that held the connections are gone too),
-- so they skip the WAL and its flush.

CREATE UNLOGGED TABLE instances (
    id      TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);

CREATE UNLOGGED TABLE open_connections (
    instance TEXT NOT NULL,
    token_id TEXT NOT NULL,
    open     INTEGER NOT NULL,
    PRIMARY KEY (token_id, instance)
);

CREATE UNLOGGED TABLE rate_buckets (
    key     TEXT PRIMARY KEY,
    tokens  DOUBLE PRECISION NOT NULL,
    updated TIMESTAMPTZ NOT NULL
);
