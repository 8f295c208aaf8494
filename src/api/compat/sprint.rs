//! The sprint runner (seeds/002). Its events are canonical already (`batch:start`, `cycle:end`,
//! `command:progress`, `story:status`, `context:*`; its `error` is accepted as `run:error`) and are
//! posted to `POST /api/events`. What its dashboard needs besides is the `init` frame: a socket that
//! subscribes to `runs` without `since` (or names it in the URL, `/ws?topics=runs`) first gets
//! `{"type": "init", "seq", "payload": {"batch": <the running batch or null>, "events": [<last 50>]}}`,
//! then every later event, with no gap.

use app::{
    domain::{
        entity::Query,
        run::{Batch, BatchStatus},
        Seq,
    },
    topics,
};
use serde_json::{json, Value};

use crate::{
    hub::socket::Greeting,
    store::{LogQuery, Store, StoreError},
};

/// Events the init frame carries.
const RECENT: u32 = 50;

pub struct Init;

/// The greeting `/ws` gives `runs` subscribers.
pub static INIT: Init = Init;

#[async_trait::async_trait]
impl Greeting for Init {
    fn topic(&self) -> &'static str {
        topics::RUNS
    }

    async fn greet(&self, store: &dyn Store, workspace: &str, timestamp: &str) -> Result<(Seq, String), StoreError> {
        let running = Query::all::<Batch>().with_status(&[BatchStatus::Running.as_str()]).newest(1);
        let snapshot = store.read(workspace, &[running]).await?;
        let batch: Value = match snapshot.rows[0].first() {
            Some(row) => serde_json::from_str(row).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None => Value::Null,
        };
        let query = LogQuery {
            workspace: workspace.to_string(),
            after: 0,
            upto: snapshot.seq,
            topics: Some(vec![topics::RUNS.to_string()]),
            limit: RECENT,
            newest: true,
            max_bytes: None,
        };
        let events: Vec<Value> = store
            .read_log(&query)
            .await?
            .iter()
            .map(|(_, frame)| serde_json::from_str(frame).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<_, _>>()?;
        let frame = json!({
            "type": "init",
            "seq": snapshot.seq,
            "payload": { "batch": batch, "events": events },
            "timestamp": timestamp,
        });
        Ok((snapshot.seq, frame.to_string()))
    }
}
