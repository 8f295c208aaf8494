-- Snapshots: the rows of every workspace at moments of the log, taken every N events, so the state at
-- any past seq is rebuilt from the nearest snapshot plus the events after it, not from the start.
-- A snapshot holds only the rows that changed since the one before it: a row's state at snapshot S is
-- its newest version at or below S.

-- The seq of the commit that last wrote each row: what changed since the last snapshot.
ALTER TABLE entities ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX entities_changed ON entities (changed);

-- One row per snapshot taken, written with its rows: every event up to `seq` is in them.
CREATE TABLE snapshots (
    seq      INTEGER PRIMARY KEY,
    rows     INTEGER NOT NULL,
    taken_at TEXT NOT NULL
);

CREATE TABLE snapshot_rows (
    workspace TEXT NOT NULL,
    kind      TEXT NOT NULL,
    id        TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    parent    TEXT,
    status    TEXT,
    sort      INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, id, seq)
) WITHOUT ROWID;
CREATE INDEX snapshot_rows_parent ON snapshot_rows (workspace, kind, parent, sort);
CREATE INDEX snapshot_rows_status ON snapshot_rows (workspace, kind, status, sort);
CREATE INDEX snapshot_rows_sort ON snapshot_rows (workspace, kind, sort);
