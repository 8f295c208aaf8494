-- Retention per workspace: how many events each workspace's log holds, and up to which seq it was
-- pruned (every event of the workspace at or below it may be gone).
CREATE TABLE workspace_log (
    workspace   TEXT PRIMARY KEY,
    events      INTEGER NOT NULL,
    pruned_upto INTEGER NOT NULL
);

-- Until now pruning cut the whole log at one seq: that cut holds for every workspace, old or new.
ALTER TABLE log_state ADD COLUMN pruned_floor INTEGER NOT NULL DEFAULT 0;
UPDATE log_state SET pruned_floor = COALESCE((SELECT MIN(seq) FROM events), head + 1) - 1;

INSERT INTO workspace_log (workspace, events, pruned_upto)
    SELECT workspace, COUNT(*), (SELECT pruned_floor FROM log_state) FROM events GROUP BY workspace;

-- Keys past the retention window are forgotten in slices, oldest first.
CREATE INDEX idempotency_created ON idempotency (created_at);
