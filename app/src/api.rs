//! Server functions: snapshots the pages render from, each read at one log `seq`.

use leptos::prelude::*;

use crate::model::Board;

/// The Kanban board and the `seq` it was read at, so the page can subscribe from exactly there.
#[server]
pub async fn get_board() -> Result<Board, ServerFnError> {
    let source = expect_context::<ssr::SnapshotSource>();
    source.0.board(crate::DEFAULT_WORKSPACE).await.map_err(ServerFnError::new)
}

/// What the server gives the server functions to read from; implemented by the server's store.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::sync::Arc;

    use crate::model::Board;

    #[async_trait::async_trait]
    pub trait Snapshots: Send + Sync + 'static {
        async fn board(&self, workspace: &str) -> Result<Board, String>;
    }

    /// Put into the Leptos context by the server for every request.
    #[derive(Clone)]
    pub struct SnapshotSource(pub Arc<dyn Snapshots>);
}
