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
        ssr::{Actions, PageReads, PastRead, Viewer},
        Moment,
    },
};

use crate::{
    state::AppState,
    store::{past, LogQuery, Role, Store, TokenRecord},
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

/// Lets the pages' actions (a chat message, a decision) post through the one ingest step, as the
/// signed-in viewer's token: the same role checks, limits and refusals as the API.
pub struct IngestActions(pub AppState);

#[async_trait::async_trait]
impl Actions for IngestActions {
    async fn post(&self, viewer: &Viewer, events: Vec<EventBody>) -> Result<(), String> {
        let role = Role::parse(&viewer.role).ok_or_else(|| format!("unknown role `{}`", viewer.role))?;
        let caller = TokenRecord {
            id: viewer.token_id.clone(),
            workspace: viewer.workspace.clone(),
            role,
            name: viewer.name.clone(),
        };
        for event in &events {
            event.validate().map_err(|e| e.to_string())?;
        }
        super::ingest::accept(&self.0, &caller, events).await.map(|_| ()).map_err(|e| e.to_string())
    }
}
