//! What the pages' server functions reach the server through: reads of the store (now, and at a
//! past moment) and actions posted through the one ingest step, as the signed-in viewer. The app
//! crate names these as traits (`app::server_fns::ssr`), so nothing of the server is compiled into
//! it.

use std::sync::Arc;

use app::{
    domain::{
        entity::{Query, Snapshot},
        EventBody, Seq,
    },
    server_fns::{
        ssr::{Actions, PageReads, PastRead, Refused, Viewer},
        Moment,
    },
};

use super::{error::ApiError, ingest::Intake};
use crate::{
    state::AppState,
    store::{past, LogQuery, Role, Store, TokenRecord, SMALL_EVENT_BYTES},
};

/// Lets the pages' server functions read from the store without knowing it.
pub struct StoreReads(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl PageReads for StoreReads {
    async fn read(&self, workspace: &str, queries: Vec<Query>) -> Result<Snapshot, String> {
        self.0.read(workspace, &queries).await.map_err(|e| e.to_string())
    }

    async fn recent_events(&self, workspace: &str, limit: u32) -> Result<(Seq, Vec<String>), String> {
        let head = self.0.head().await.map_err(|e| e.to_string())?;
        let query = LogQuery {
            workspace: workspace.into(),
            after: 0,
            upto: head,
            topics: None,
            limit,
            newest: true,
            max_bytes: None,
        };
        let page = self.0.read_log(&query).await.map_err(|e| e.to_string())?;
        Ok((head, page.into_iter().map(|(_, frame)| frame).collect()))
    }

    async fn read_at(
        &self,
        workspace: &str,
        queries: Vec<Query>,
        at: Seq,
        topic: Option<String>,
    ) -> Result<PastRead, String> {
        let fail = |e: crate::store::StoreError| e.to_string();
        let head = self.0.head().await.map_err(fail)?;
        let at = at.min(head);
        let topics: Vec<String> = topic.into_iter().collect();
        let steps = past::steps(&*self.0, workspace, at, &topics, head).await.map_err(fail)?;
        let mut moment = Moment {
            at,
            head,
            ts: steps.last.map(|(_, ts)| ts),
            previous: steps.previous,
            next: steps.next,
            pruned: None,
        };
        let rows = match past::rebuild(&*self.0, workspace, at, &queries).await.map_err(fail)? {
            past::Rebuilt::Rows { rows, .. } => Some(rows),
            past::Rebuilt::Pruned { pruned_upto, earliest } => {
                moment.pruned = Some((pruned_upto, earliest));
                None
            }
        };
        Ok(PastRead { moment, rows })
    }

    async fn seq_at_time(&self, workspace: &str, ts: &str) -> Result<Seq, String> {
        past::seq_at_time(&*self.0, workspace, ts).await.map_err(|e| e.to_string())
    }

    async fn log_after(
        &self,
        workspace: &str,
        after: Seq,
        topic: Option<String>,
        limit: u32,
    ) -> Result<Vec<String>, String> {
        let fail = |e: crate::store::StoreError| e.to_string();
        let head = self.0.head().await.map_err(fail)?;
        let query = LogQuery {
            workspace: workspace.into(),
            after,
            upto: head,
            topics: topic.map(|t| vec![t]),
            limit,
            newest: false,
            max_bytes: Some(super::history::PAGE_BYTES),
        };
        Ok(self.0.read_log(&query).await.map_err(fail)?.into_iter().map(|(_, frame)| frame).collect())
    }
}

/// Lets the pages' actions (a chat message, a decision, a move) post through the one ingest step,
/// as the signed-in viewer's token: the same role checks, limits and refusals as the API. The
/// events record the viewer as the person who made them.
pub struct IngestActions(pub AppState);

#[async_trait::async_trait]
impl Actions for IngestActions {
    async fn post(
        &self,
        viewer: &Viewer,
        events: Vec<EventBody>,
        if_seq: Vec<Option<Seq>>,
    ) -> Result<Vec<Seq>, Refused> {
        let refused = |status: u16, message: String| Refused { status, message };
        let role = Role::parse(&viewer.role).ok_or_else(|| refused(403, format!("unknown role `{}`", viewer.role)))?;
        let caller = TokenRecord {
            id: viewer.token_id.clone(),
            workspace: viewer.workspace.clone(),
            role,
            name: viewer.name.clone(),
        };
        for event in &events {
            event.validate().map_err(|e| refused(422, e.to_string()))?;
        }
        let intake = Intake {
            if_seq,
            by: Some(viewer.name.clone()),
            bytes: events.len() * SMALL_EVENT_BYTES,
            ..Intake::default()
        };
        match super::ingest::accept_once(&self.0, &caller, events, intake).await {
            Ok(committed) => Ok(committed.iter().map(|c| c.seq).collect()),
            Err(ApiError::Stale { changed_by, .. }) => Err(refused(409, changed_first(changed_by.as_ref()))),
            Err(e) => Err(refused(e.status().as_u16(), e.to_string())),
        }
    }
}

/// A stale action, explained: who changed the task first and how, as far as the log says.
fn changed_first(event: Option<&serde_json::Value>) -> String {
    let what = event.and_then(|e| e["type"].as_str()).unwrap_or("another change");
    let task =
        event.and_then(|e| e["payload"]["id"].as_str()).map_or("The task".to_string(), |id| format!("Task {id}"));
    let who = event.and_then(|e| e["by"].as_str()).map_or(String::new(), |by| format!(" by {by}"));
    format!("{task} was changed first ({what}{who}); nothing was changed. It is shown as it is now.")
}
