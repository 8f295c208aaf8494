//! Server functions: one file per page, each returning what its page renders, read at one log `seq`
//! so the page can subscribe from exactly there.

pub mod agents;
pub mod board;
pub mod events;
pub mod runs;
pub mod sessions;
pub mod task;

use leptos::server_fn::{codec::Post, Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::domain::{session::Session, Seq};

/// How every server function answers: JSON, as Leptos's default, but read from text. The page's
/// resources read their server-rendered values from text too, so the browser bundle carries one
/// decoder per type instead of one for text and one for bytes.
pub type JsonAnswer = Post<JsonText>;

pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, serde_json::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = String;

    fn decode(bytes: Bytes) -> Result<T, String> {
        let text = std::str::from_utf8(&bytes).map_err(|e| e.to_string())?;
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// What every page gets besides its own data: the seq it was read at and what the header shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub seq: Seq,
    /// The log `seq` belongs to, which the page resumes in.
    pub epoch: String,
    /// Ids of sub-agent sessions running now, for "Active Sub-Agents: N".
    pub active_subagents: Vec<String>,
    /// Who is looking.
    pub me: Me,
    pub view: T,
}

/// The person at the page, as far as the page needs to know.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub role: String,
    /// Whether they may chat and decide approvals (not with a read-only viewer token).
    pub can_decide: bool,
}

impl Me {
    /// Why the decision buttons are disabled, when they are.
    pub fn why_not(&self) -> Option<String> {
        (!self.can_decide).then(|| format!("Signed in with a read-only {} token: it cannot chat or decide.", self.role))
    }
}

/// The part of a page every read shares: the running sub-agent sessions.
pub fn active_subagents(rows: &[String]) -> Result<Vec<String>, String> {
    Ok(crate::domain::entity::decode_rows::<Session>(rows)?.into_iter().map(|s| s.id).collect())
}

/// What the server gives the server functions to read from; implemented over the server's store.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::sync::Arc;

    use leptos::prelude::ServerFnError;

    use crate::domain::{
        entity::{Query, Snapshot},
        session::{Session, ACTIVE_SUBAGENT},
        Seq,
    };

    #[async_trait::async_trait]
    pub trait Reads: Send + Sync + 'static {
        /// The rows each query selects, all from one consistent snapshot, and its seq.
        async fn read(&self, workspace: &str, queries: Vec<Query>) -> Result<Snapshot, String>;
        /// The newest `limit` event frames of the workspace, oldest first, and the head they end at.
        async fn recent_events(&self, workspace: &str, limit: u32) -> Result<(Seq, Vec<String>), String>;
        /// The workspace's log from its start up to `upto`, and the next seq after it (if any).
        async fn history(&self, workspace: &str, upto: Seq) -> Result<History, String>;
    }

    /// A workspace's log up to a seq: what a page at a past moment is rebuilt from.
    #[derive(Clone, Debug, Default)]
    pub struct History {
        /// Events up to here have been pruned: the log starts after it.
        pub pruned_upto: Seq,
        /// Frames in seq order, up to the seq asked for.
        pub frames: Vec<String>,
        /// The first of the workspace's seqs after the one asked for.
        pub next: Option<Seq>,
        /// The log's head.
        pub head: Seq,
    }

    /// Put into the Leptos context by the server for every request.
    #[derive(Clone)]
    pub struct ReadSource(pub Arc<dyn Reads>);

    /// The server's health settings, for pages that explain them.
    #[derive(Clone, Copy, Debug)]
    pub struct HealthSettings {
        pub heartbeat_ms: i64,
    }

    /// Who is looking: put into the request's extensions by the server's login gate.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Viewer {
        pub token_id: String,
        pub workspace: String,
        /// `admin`, `ingest` or `viewer`.
        pub role: String,
        /// Who made a decision or wrote a message: the name given at sign-in, or the token's.
        pub name: String,
        /// Whether this role may post, and so chat and decide approvals.
        pub can_decide: bool,
    }

    /// What a page's actions post through: the server's one ingest step, as the viewer.
    #[async_trait::async_trait]
    pub trait Actions: Send + Sync + 'static {
        async fn post(&self, viewer: &Viewer, events: Vec<crate::domain::EventBody>) -> Result<(), String>;
    }

    #[derive(Clone)]
    pub struct ActionSource(pub Arc<dyn Actions>);

    /// Posts `events` as the signed-in viewer.
    pub async fn act(events: Vec<crate::domain::EventBody>) -> Result<(), ServerFnError> {
        let viewer = viewer().await?;
        let actions = leptos::prelude::expect_context::<ActionSource>();
        actions.0.post(&viewer, events).await.map_err(ServerFnError::new)
    }

    /// The signed-in viewer of the current request; an error when there is none.
    pub async fn viewer() -> Result<Viewer, ServerFnError> {
        use axum::Extension;
        let Extension(viewer) =
            leptos_axum::extract::<Extension<Viewer>>().await.map_err(|_| ServerFnError::new("not signed in"))?;
        Ok(viewer)
    }

    /// Reads `queries` for the signed-in viewer, with the header's query appended.
    pub async fn read_page(queries: Vec<Query>) -> Result<Read, ServerFnError> {
        let source = leptos::prelude::expect_context::<ReadSource>();
        let viewer = viewer().await?;
        let mut queries = queries;
        queries.push(Query::all::<Session>().with_status(&[ACTIVE_SUBAGENT]));
        let mut snapshot = source.0.read(&viewer.workspace, queries).await.map_err(ServerFnError::new)?;
        let header = snapshot.rows.pop().unwrap_or_default();
        let active_subagents = super::active_subagents(&header).map_err(ServerFnError::new)?;
        let me = super::Me { name: viewer.name, role: viewer.role, can_decide: viewer.can_decide };
        Ok(Read { snapshot, active_subagents, me })
    }

    /// A page's rows and what every page shows besides.
    pub struct Read {
        pub snapshot: Snapshot,
        pub active_subagents: Vec<String>,
        pub me: super::Me,
    }

    impl Read {
        pub fn page<T>(self, view: T) -> super::Page<T> {
            let (seq, epoch) = (self.snapshot.seq, self.snapshot.epoch);
            super::Page { seq, epoch, active_subagents: self.active_subagents, me: self.me, view }
        }
    }
}
