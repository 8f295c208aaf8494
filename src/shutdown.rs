//! How a server stops. [`signal`] waits for SIGTERM or Ctrl-C; [`Running::stop`] then stops
//! accepting, lets in-flight requests (and so writes) finish and be answered, and, through the
//! hub's shutdown broadcast, ends every SSE stream and closes every socket with "going away" (the
//! pages reconnect), all within the shutdown deadline whatever clients do.

use std::net::SocketAddr;

use tokio::{sync::oneshot, task::JoinHandle};

use crate::state::AppState;

/// A server that is accepting connections.
pub struct Running {
    pub addr: SocketAddr,
    /// The admin token created on first start, to be shown once.
    pub first_token: Option<String>,
    pub state: AppState,
    /// Tells the server to stop accepting and close gracefully.
    pub(crate) stop: oneshot::Sender<()>,
    /// The task serving connections; it ends when the last one has.
    pub(crate) task: JoinHandle<std::io::Result<()>>,
    /// How long [`Running::stop`] waits before it drops what is still open.
    pub(crate) deadline: std::time::Duration,
}

impl Running {
    /// Stops accepting, lets in-flight requests (and so writes) finish and be answered, ends every
    /// SSE stream and closes every socket with "going away" (the page reconnects), then returns —
    /// within the shutdown deadline whatever a client does.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(self.deadline, &mut task).await.is_err() {
            tracing::warn!(
                deadline_ms = self.deadline.as_millis() as u64,
                "shutdown deadline passed; dropping what is open"
            );
            task.abort();
        }
    }
}

/// Waits for SIGTERM or Ctrl-C.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
