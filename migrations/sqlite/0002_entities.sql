-- One table for every entity kind: the entity as JSON, beside the few columns reads filter on.
-- New entity kinds need no new table: the domain (app/src/domain) says what goes in each column.

CREATE TABLE entities (
    workspace TEXT NOT NULL,
    kind      TEXT NOT NULL,
    id        TEXT NOT NULL,
    parent    TEXT,
    status    TEXT,
    sort      INTEGER NOT NULL DEFAULT 0,
    data      TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, id)
);
CREATE INDEX entities_parent ON entities (workspace, kind, parent, sort);
CREATE INDEX entities_status ON entities (workspace, kind, status, sort);

INSERT INTO entities (workspace, kind, id, parent, status, sort, data)
    SELECT workspace, 'task', id, NULL, status, created_seq, data FROM tasks;
INSERT INTO entities (workspace, kind, id, parent, status, sort, data)
    SELECT workspace, 'agent', id, NULL, 'healthy', 0, data FROM agents;
INSERT INTO entities (workspace, kind, id, parent, status, sort, data)
    SELECT workspace, 'session', id, task_id, kind || CASE WHEN active THEN ':active' ELSE ':ended' END, 0, data
    FROM sessions;

DROP TABLE tasks;
DROP TABLE agents;
DROP TABLE sessions;

-- Frames now carry `timestamp` beside `ts`.
UPDATE events SET frame = json_set(frame, '$.timestamp', ts) WHERE json_extract(frame, '$.timestamp') IS NULL;
