//! The queries both backends speak the same way, built once for any sqlx database: a page of the
//! log, a list of entity rows, and the writes of a commit. Each backend runs them on its own
//! connections.

use app::domain::{entity::Query, Seq};
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{
    project::{Appended, Writes},
    LogQuery, StoreError,
};

/// `SELECT seq, frame` for one page of the log, oldest first (the newest `limit` when asked, then
/// to be reversed by the caller).
pub fn log_page<'a, DB>(q: &'a LogQuery) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("");
    push_log_page(&mut sql, q);
    sql
}

/// The same page (oldest first) as one text of `seq:frame` lines, or NULL when it is empty:
/// `aggregate` is the backend's string aggregate of `seq || ':' || frame` with a newline, in seq
/// order. A replay page then crosses the driver as one value, not a row (and two copies) per
/// event. A frame is compact JSON, so it holds no newline.
pub fn log_page_joined<'a, DB>(q: &'a LogQuery, aggregate: &'static str) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("SELECT ");
    sql.push(aggregate).push(" FROM (");
    push_log_page(&mut sql, q);
    sql.push(") AS joined");
    sql
}

/// Splits what [`log_page_joined`] selected back into `(seq, frame)`.
pub fn split_joined(text: Option<String>) -> Result<Vec<(Seq, String)>, StoreError> {
    let Some(text) = text else { return Ok(Vec::new()) };
    text.split('\n')
        .map(|line| {
            let (seq, frame) =
                line.split_once(':').ok_or_else(|| StoreError::Corrupt("a log line without its seq".into()))?;
            let seq = seq.parse().map_err(|_| StoreError::Corrupt(format!("a log line with seq `{seq}`")))?;
            Ok((seq, frame.to_string()))
        })
        .collect()
}

fn push_log_page<'a, DB>(sql: &mut QueryBuilder<'a, DB>, q: &'a LogQuery)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    // With a byte bound, the page (at most `limit` rows) is cut where its running size passes it.
    // `octet_length`, not `length`: the size in bytes is in the value's header, while counting its
    // characters reads all of it (a third of a PostgreSQL page query's time).
    let bounded = q.max_bytes.filter(|_| !q.newest);
    if bounded.is_some() {
        sql.push(
            "SELECT seq, frame FROM (SELECT seq, frame, SUM(octet_length(frame)) OVER (ORDER BY seq) - \
             octet_length(frame) AS before FROM (",
        );
    }
    match q.topics.as_deref().unwrap_or_default() {
        [] => {
            sql.push("SELECT seq, frame FROM events WHERE workspace = ").push_bind(q.workspace.as_str());
            sql.push(" AND seq > ").push_bind(q.after as i64).push(" AND seq <= ").push_bind(q.upto as i64);
        }
        // One topic: walk its index and fetch each frame by seq.
        [topic] => {
            sql.push("SELECT t.seq AS seq, e.frame AS frame FROM event_topics t JOIN events e ON e.seq = t.seq");
            sql.push(" WHERE t.workspace = ").push_bind(q.workspace.as_str());
            sql.push(" AND t.topic = ").push_bind(topic.as_str());
            sql.push(" AND t.seq > ").push_bind(q.after as i64).push(" AND t.seq <= ").push_bind(q.upto as i64);
        }
        // Each topic's first `limit` seqs after the cursor, straight off the (workspace, topic, seq)
        // index: the page costs what it holds, however far behind the head it starts.
        topics => {
            sql.push("SELECT seq, frame FROM events WHERE workspace = ").push_bind(q.workspace.as_str());
            sql.push(" AND seq IN (");
            for (i, topic) in topics.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ");
                }
                sql.push("SELECT seq FROM (SELECT seq FROM event_topics WHERE workspace = ")
                    .push_bind(q.workspace.as_str());
                sql.push(" AND topic = ").push_bind(topic.as_str()).push(" AND seq > ").push_bind(q.after as i64);
                sql.push(" AND seq <= ").push_bind(q.upto as i64).push(" ORDER BY seq");
                sql.push(if q.newest { " DESC" } else { "" }).push(" LIMIT ").push_bind(i64::from(q.limit));
                sql.push(") AS t").push(i.to_string());
            }
            sql.push(")");
        }
    }
    sql.push(if q.newest { " ORDER BY seq DESC LIMIT " } else { " ORDER BY seq LIMIT " });
    sql.push_bind(i64::from(q.limit));
    if let Some(max) = bounded {
        sql.push(") AS page) AS sized WHERE before < ").push_bind(max.max(1) as i64).push(" ORDER BY seq");
    }
}

/// `SELECT data` for the rows one [`Query`] selects in `workspace`.
pub fn entity_rows<'a, DB>(workspace: &'a str, q: &'a Query) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("SELECT data FROM entities WHERE workspace = ");
    sql.push_bind(workspace).push(" AND kind = ").push_bind(q.kind.as_str());
    push_filters(&mut sql, q);
    sql.push(if q.newest_first { " ORDER BY sort DESC, id" } else { " ORDER BY sort, id" });
    sql.push(" LIMIT ").push_bind(i64::from(q.limit));
    sql
}

/// `SELECT id, sort, data` for the rows one [`Query`] selects in `workspace` as they were at
/// `snapshot`: each row's newest version at or below it, filtered and ordered as [`entity_rows`]
/// does, at most `limit` of them.
pub fn snapshot_rows<'a, DB>(workspace: &'a str, q: &'a Query, snapshot: Seq, limit: u32) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("SELECT id, sort, data FROM snapshot_rows r WHERE workspace = ");
    sql.push_bind(workspace).push(" AND kind = ").push_bind(q.kind.as_str());
    sql.push(" AND seq <= ").push_bind(snapshot as i64);
    push_filters(&mut sql, q);
    // The version that matched is the row's state only when no newer one is in the snapshot.
    sql.push(
        " AND NOT EXISTS (SELECT 1 FROM snapshot_rows n WHERE n.workspace = r.workspace AND n.kind = r.kind \
         AND n.id = r.id AND n.seq > r.seq AND n.seq <= ",
    )
    .push_bind(snapshot as i64)
    .push(")");
    sql.push(if q.newest_first { " ORDER BY sort DESC, id" } else { " ORDER BY sort, id" });
    sql.push(" LIMIT ").push_bind(i64::from(limit));
    sql
}

/// Copies the rows changed since the snapshot at `last` (all of them when there is none: -1) into
/// the snapshot at `head`.
pub fn snapshot_copy<'a, DB>(head: i64, last: i64) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new(
        "INSERT INTO snapshot_rows (workspace, kind, id, seq, parent, status, sort, data) \
         SELECT workspace, kind, id, ",
    );
    sql.push_bind(head).push(", parent, status, sort, data FROM entities WHERE changed > ").push_bind(last);
    sql
}

/// Records the snapshot at `head`, holding `rows` rows.
pub fn snapshot_mark<'a, DB>(head: i64, rows: i64, taken_at: String) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("INSERT INTO snapshots (seq, rows, taken_at) VALUES (");
    sql.push_bind(head).push(", ").push_bind(rows).push(", ").push_bind(taken_at).push(")");
    sql
}

/// The newest snapshot at or below `at` and the oldest at or above `from`, each NULL when none is.
pub fn snapshots_around<'a, DB>(at: Seq, from: Seq) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("SELECT (SELECT MAX(seq) FROM snapshots WHERE seq <= ");
    sql.push_bind(at as i64).push("), (SELECT MIN(seq) FROM snapshots WHERE seq >= ").push_bind(from as i64);
    sql.push(")");
    sql
}

/// `SELECT data` of one row's newest version at or below `snapshot`.
pub fn snapshot_row<'a, DB>(workspace: &'a str, kind: &'a str, id: &'a str, snapshot: Seq) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("SELECT data FROM snapshot_rows WHERE workspace = ");
    sql.push_bind(workspace).push(" AND kind = ").push_bind(kind).push(" AND id = ").push_bind(id);
    sql.push(" AND seq <= ").push_bind(snapshot as i64).push(" ORDER BY seq DESC LIMIT 1");
    sql
}

/// The `id`, `parent` and `status` conditions of a [`Query`], as [`Query::admits`] states them.
fn push_filters<'a, DB>(sql: &mut QueryBuilder<'a, DB>, q: &'a Query)
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    if let Some(id) = &q.id {
        sql.push(" AND id = ").push_bind(id.as_str());
    }
    if let Some(parent) = &q.parent {
        sql.push(" AND parent = ").push_bind(parent.as_str());
    }
    if !q.status.is_empty() {
        sql.push(" AND status IN (");
        let mut list = sql.separated(", ");
        for status in &q.status {
            list.push_bind(status.as_str());
        }
        sql.push(")");
    }
}

/// Rows per multi-row statement: well under SQLite's 32,766 bound parameters and PostgreSQL's
/// 65,535, whatever the column count.
const ROWS_PER_STATEMENT: usize = 1_000;

/// How a backend takes several statements.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Statements {
    /// All in one query, separated by `;`: SQLite runs them in one call into its worker thread,
    /// binding each statement's parameters in turn, where one query each costs a thread hop each.
    Joined,
    /// As the data-modifying parts of one `WITH … SELECT 1`: PostgreSQL prepares one statement per
    /// query, and one query saves a round trip per statement. Up to [`PG_MAX_BINDS`] parameters a
    /// query; the parts see one snapshot, so no two of them may write the same row.
    Chained,
}

/// PostgreSQL's bound on the parameters of one statement.
const PG_MAX_BINDS: usize = 65_535;

/// Queries built under [`Statements`].
pub struct Batched<'a, DB: Database> {
    how: Statements,
    queries: Vec<QueryBuilder<'a, DB>>,
    /// Parts in the last query, and the parameters they bind.
    parts: usize,
    binds: usize,
}

impl<'a, DB: Database> Batched<'a, DB> {
    pub fn new(how: Statements) -> Self {
        Batched { how, queries: Vec::new(), parts: 0, binds: 0 }
    }

    /// Starts a statement with `sql` that will bind `binds` parameters, and returns the query to
    /// push the rest of it onto.
    pub fn statement(&mut self, sql: &str, binds: usize) -> &mut QueryBuilder<'a, DB> {
        let fits = match self.how {
            Statements::Joined => true,
            Statements::Chained => self.binds + binds <= PG_MAX_BINDS,
        };
        match self.queries.last_mut() {
            Some(query) if fits => match self.how {
                Statements::Joined => {
                    query.push("; ").push(sql);
                }
                Statements::Chained => {
                    query.push(format!("), w{} AS (", self.parts)).push(sql);
                }
            },
            _ => {
                self.close();
                self.queries.push(QueryBuilder::new(match self.how {
                    Statements::Joined => sql.to_string(),
                    Statements::Chained => format!("WITH w0 AS ({sql}"),
                }));
                (self.parts, self.binds) = (0, 0);
            }
        }
        self.parts += 1;
        self.binds += binds;
        self.queries.last_mut().expect("a query was just pushed")
    }

    /// Ends the last query's chain, if it has one.
    fn close(&mut self) {
        if let (Statements::Chained, Some(query)) = (self.how, self.queries.last_mut()) {
            query.push(") SELECT 1");
        }
    }

    pub fn into_queries(mut self) -> Vec<QueryBuilder<'a, DB>> {
        self.close();
        self.queries
    }

    /// The queries, the last chain ending with what `select` pushes (it gets the name of the last
    /// part, to read what that part returns) instead of `SELECT 1`. Chained statements only.
    pub fn into_queries_selecting(
        mut self,
        select: impl FnOnce(&str, &mut QueryBuilder<'a, DB>),
    ) -> Vec<QueryBuilder<'a, DB>> {
        debug_assert!(matches!(self.how, Statements::Chained));
        let last = format!("w{}", self.parts.saturating_sub(1));
        if let Some(query) = self.queries.last_mut() {
            query.push(") ");
            select(&last, query);
        }
        self.queries
    }
}

/// Adds to `out` the statement that counts each workspace's new events in its log (`added`: how
/// many each workspace appended in this commit).
pub fn log_counts<'a, DB>(added: &'a std::collections::BTreeMap<String, u64>, out: &mut Batched<'a, DB>)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    for (workspace, new) in added.iter().filter(|(_, new)| **new > 0) {
        out.statement("INSERT INTO workspace_log (workspace, events, pruned_upto) VALUES (", 2)
            .push_bind(workspace.as_str())
            .push(", ")
            .push_bind(*new as i64)
            .push(", 0) ON CONFLICT (workspace) DO UPDATE SET events = workspace_log.events + excluded.events");
    }
}

/// The statements that write one commit's [`Writes`], added to `out`: entity upserts, events,
/// their topics and idempotency keys, each as few multi-row statements as the parameter bound
/// allows.
pub fn writes<'a, DB>(w: &'a Writes, out: &mut Batched<'a, DB>)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    let rows: Vec<_> = w.rows.iter().collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = out.statement(
            "INSERT INTO entities (workspace, kind, id, parent, status, sort, data, changed) ",
            chunk.len() * 8,
        );
        sql.push_values(chunk, |mut b, ((workspace, kind, id), row)| {
            b.push_bind(&**workspace)
                .push_bind(*kind)
                .push_bind(id.as_str())
                .push_bind(row.index.parent.as_deref())
                .push_bind(row.index.status.as_deref())
                .push_bind(row.index.sort)
                .push_bind(row.data.as_str())
                .push_bind(w.changed as i64);
        });
        sql.push(
            " ON CONFLICT (workspace, kind, id) DO UPDATE SET parent = excluded.parent, status = excluded.status, \
             sort = excluded.sort, data = excluded.data, changed = excluded.changed",
        );
    }
    for chunk in w.events.chunks(ROWS_PER_STATEMENT) {
        let sql = out.statement("INSERT INTO events (seq, workspace, type, ts, frame) ", chunk.len() * 5);
        sql.push_values(chunk, |mut b, e| {
            b.push_bind(e.seq as i64)
                .push_bind(&*e.workspace)
                .push_bind(e.kind)
                .push_bind(e.ts.as_str())
                .push_bind(&*e.frame);
        });
    }
    let topics: Vec<(&Appended, &String)> =
        w.events.iter().flat_map(|e| e.topics.iter().map(move |t| (e, t))).collect();
    for chunk in topics.chunks(ROWS_PER_STATEMENT) {
        let sql = out.statement("INSERT INTO event_topics (workspace, topic, seq) ", chunk.len() * 3);
        sql.push_values(chunk, |mut b, (e, topic)| {
            b.push_bind(&*e.workspace).push_bind(topic.as_str()).push_bind(e.seq as i64);
        });
    }
    let keys: Vec<_> = w.keys.iter().collect();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let sql = out.statement("INSERT INTO idempotency (workspace, key, hash, seqs, created_at) ", chunk.len() * 5);
        sql.push_values(chunk, |mut b, ((workspace, key), r)| {
            let seqs = serde_json::to_string(&r.seqs).unwrap_or_else(|_| "[]".into());
            b.push_bind(&**workspace)
                .push_bind(key.as_str())
                .push_bind(r.hash.as_str())
                .push_bind(seqs)
                .push_bind(r.ts.as_str());
        });
        // A key older than the window is replaced: its first commit is forgotten.
        sql.push(
            " ON CONFLICT (workspace, key) DO UPDATE SET hash = excluded.hash, seqs = excluded.seqs, \
             created_at = excluded.created_at",
        );
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Postgres, Sqlite};

    use super::{split_joined, Batched, Statements, PG_MAX_BINDS};

    #[test]
    fn statements_are_joined_or_chained_and_a_chain_stays_within_the_parameter_bound() {
        let mut joined = Batched::<Sqlite>::new(Statements::Joined);
        joined.statement("INSERT INTO a VALUES (", 1).push_bind(1_i64).push(")");
        joined.statement("UPDATE b SET c = ", 1).push_bind(2_i64);
        let sql: Vec<String> = joined.into_queries().iter().map(|q| q.sql().to_string()).collect();
        assert_eq!(sql, vec!["INSERT INTO a VALUES (?); UPDATE b SET c = ?"]);

        let mut chained = Batched::<Postgres>::new(Statements::Chained);
        chained.statement("INSERT INTO a VALUES (", 1).push_bind(1_i64).push(")");
        chained.statement("INSERT INTO b VALUES (", 1).push_bind(2_i64).push(")");
        // Declared to bind more than the rest of the bound: starts a query of its own.
        chained.statement("INSERT INTO c VALUES (", PG_MAX_BINDS - 1).push_bind(3_i64).push(")");
        let sql: Vec<String> = chained.into_queries().iter().map(|q| q.sql().to_string()).collect();
        assert_eq!(
            sql,
            vec![
                "WITH w0 AS (INSERT INTO a VALUES ($1)), w1 AS (INSERT INTO b VALUES ($2)) SELECT 1",
                "WITH w0 AS (INSERT INTO c VALUES ($1)) SELECT 1",
            ]
        );

        // A chain may end by reading what its last part returns.
        let mut chained = Batched::<Postgres>::new(Statements::Chained);
        chained.statement("INSERT INTO a VALUES (", 1).push_bind(1_i64).push(")");
        chained.statement("UPDATE b SET c = ", 1).push_bind(2_i64).push(" RETURNING c");
        let queries = chained.into_queries_selecting(|last, q| {
            q.push(format!("SELECT c FROM {last}"));
        });
        let sql: Vec<String> = queries.iter().map(|q| q.sql().to_string()).collect();
        assert_eq!(
            sql,
            vec!["WITH w0 AS (INSERT INTO a VALUES ($1)), w1 AS (UPDATE b SET c = $2 RETURNING c) SELECT c FROM w1"]
        );
    }

    #[test]
    fn a_joined_page_splits_back_into_its_events_and_a_broken_line_is_an_error() {
        assert_eq!(split_joined(None).unwrap(), vec![]);
        let page = r#"7:{"seq":7,"a":"x:y"}
9:{"seq":9}"#;
        let split = split_joined(Some(page.into())).unwrap();
        assert_eq!(split, vec![(7, r#"{"seq":7,"a":"x:y"}"#.to_string()), (9, r#"{"seq":9}"#.to_string())]);
        assert!(split_joined(Some("no seq here".into())).is_err());
        assert!(split_joined(Some("x:{}".into())).is_err());
    }
}
