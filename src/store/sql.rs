//! The queries both backends speak the same way, built once for any sqlx database: a page of the
//! log and a list of entity rows. Each backend runs them on its own connections.

use app::domain::entity::Query;
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::LogQuery;

/// `SELECT seq, frame` for one page of the log, oldest first (the newest `limit` when asked, then
/// to be reversed by the caller).
pub fn log_page<'a, DB>(q: &'a LogQuery) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    // With a byte bound, the page (at most `limit` rows) is cut where its running size passes it.
    let bounded = q.max_bytes.filter(|_| !q.newest);
    let mut sql = QueryBuilder::<DB>::new(match bounded {
        Some(_) => {
            "SELECT seq, frame FROM (SELECT seq, frame, SUM(LENGTH(frame)) OVER (ORDER BY seq) - LENGTH(frame) \
             AS before FROM ("
        }
        None => "",
    });
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
    sql
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
    sql.push(if q.newest_first { " ORDER BY sort DESC, id" } else { " ORDER BY sort, id" });
    sql.push(" LIMIT ").push_bind(i64::from(q.limit));
    sql
}
