//! Server functions: snapshots the pages render from, each read at one log `seq`.

use leptos::prelude::*;

use crate::model::Board;

/// The Kanban board and the `seq` it was read at, so the page can subscribe from exactly there.
#[server]
pub async fn get_board() -> Result<Board, ServerFnError> {
    let source = expect_context::<ssr::SnapshotSource>();
    let viewer = ssr::viewer().await?;
    source.0.board(&viewer.workspace).await.map_err(ServerFnError::new)
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

    /// Who is looking: put into the request's extensions by the server's login gate.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Viewer {
        pub workspace: String,
    }

    /// The signed-in viewer of the current request; an error when there is none.
    pub async fn viewer() -> Result<Viewer, leptos::prelude::ServerFnError> {
        use axum::Extension;
        let Extension(viewer) = leptos_axum::extract::<Extension<Viewer>>()
            .await
            .map_err(|_| leptos::prelude::ServerFnError::new("not signed in"))?;
        Ok(viewer)
    }
}
