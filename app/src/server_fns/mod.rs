//! Server functions: one file per page, each returning what its page renders, read at one log `seq`
//! so the page can subscribe from exactly there.

pub mod actions;
pub mod agents;
pub mod approvals;
pub mod board;
pub mod events;
pub mod runs;
pub mod sessions;
pub mod settings;
pub mod task;

use leptos::prelude::*;
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
    /// Looking at a past moment, where nothing can be done.
    #[serde(default)]
    pub in_past: bool,
}

impl Me {
    /// Why the decision buttons are disabled, when they are.
    pub fn why_not(&self) -> Option<String> {
        if self.in_past {
            return Some("This is the page as it was: return to Live to chat or decide.".into());
        }
        (!self.can_decide).then(|| format!("Signed in with a read-only {} token: it cannot chat or decide.", self.role))
    }

    /// The same person at a past moment.
    pub fn in_past(self) -> Me {
        Me { can_decide: false, in_past: true, ..self }
    }
}

/// Where a page at a past moment is in the log: what its time control shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    /// The page holds every event up to this seq.
    pub at: Seq,
    pub head: Seq,
    /// When the last of the page's events up to `at` was committed.
    pub ts: Option<String>,
    /// The page's event before that one, and its first after `at`: one step back and forward.
    pub previous: Option<Seq>,
    pub next: Option<Seq>,
    /// Set when the log before the moment was pruned: up to where, and the earliest moment that
    /// can still be rebuilt (from a snapshot taken after the cut).
    pub pruned: Option<(Seq, Seq)>,
}

/// A page as it was at a moment: `view` is `None` when the log there was pruned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Past<T> {
    pub moment: Moment,
    pub view: Option<T>,
}

/// Events the time control plays at most per trip.
pub const PLAY_PAGE: u32 = 200;

/// The workspace's events of `topic` (empty: all) after `after`, oldest first: what the time control
/// plays forward from a past moment, through the page's own live reducer. Each is its frame as
/// logged, for the page to read with `crate::wire::read`, decoding only the types it shows.
#[server(output = JsonAnswer)]
pub async fn get_log_after(after: Seq, topic: String) -> Result<Vec<String>, ServerFnError> {
    let workspace = ssr::viewer().await?.workspace;
    let source = leptos::prelude::expect_context::<ssr::ReadSource>();
    let topic = (!topic.is_empty()).then_some(topic);
    source.0.log_after(&workspace, after, topic, PLAY_PAGE).await.map_err(ServerFnError::new)
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

    /// What the pages read of the store, through the server (`src/api/pages.rs`).
    #[async_trait::async_trait]
    pub trait PageReads: Send + Sync + 'static {
        /// The rows each query selects, all from one consistent snapshot, and its seq.
        async fn read(&self, workspace: &str, queries: Vec<Query>) -> Result<Snapshot, String>;
        /// The newest `limit` event frames of the workspace, oldest first, and the head they end at.
        async fn recent_events(&self, workspace: &str, limit: u32) -> Result<(Seq, Vec<String>), String>;
        /// The rows each query selected right after event `at`, rebuilt from the store's nearest
        /// snapshot, and where that moment is among the events of `topic` (`None`: all of them).
        async fn read_at(
            &self,
            workspace: &str,
            queries: Vec<Query>,
            at: Seq,
            topic: Option<String>,
        ) -> Result<PastRead, String>;
        /// The seq of the workspace's last event committed at or before `ts`.
        async fn seq_at_time(&self, workspace: &str, ts: &str) -> Result<Seq, String>;
        /// Event frames of `topic` (`None`: all) after `after`, oldest first, at most `limit`.
        async fn log_after(
            &self,
            workspace: &str,
            after: Seq,
            topic: Option<String>,
            limit: u32,
        ) -> Result<Vec<String>, String>;
    }

    /// A past moment's rows (`None`: the log there was pruned) and its place in the log.
    #[derive(Clone, Debug, Default)]
    pub struct PastRead {
        pub moment: super::Moment,
        pub rows: Option<Vec<Vec<String>>>,
    }

    /// Put into the Leptos context by the server for every request.
    #[derive(Clone)]
    pub struct ReadSource(pub Arc<dyn PageReads>);

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

    /// What a page's actions post through: the server's one ingest step, as the viewer, who is
    /// recorded as the person who made the events.
    #[async_trait::async_trait]
    pub trait Actions: Send + Sync + 'static {
        /// Commits `events` as one batch, each guarded by its `if_seq` (empty: none is), and
        /// answers their seqs; a refusal is said in words the page shows.
        async fn post(
            &self,
            viewer: &Viewer,
            events: Vec<crate::domain::EventBody>,
            if_seq: Vec<Option<Seq>>,
        ) -> Result<Vec<Seq>, Refused>;
    }

    /// Why an action was not taken: the HTTP status the API would answer, and the words.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Refused {
        pub status: u16,
        pub message: String,
    }

    #[derive(Clone)]
    pub struct ActionSource(pub Arc<dyn Actions>);

    /// Posts `events` as the signed-in viewer.
    pub async fn act(events: Vec<crate::domain::EventBody>) -> Result<(), ServerFnError> {
        act_guarded(events, vec![]).await.map(|_| ())
    }

    /// Posts `events` as the signed-in viewer, each stored only while its task is at its `if_seq`;
    /// answers their seqs.
    pub async fn act_guarded(
        events: Vec<crate::domain::EventBody>,
        if_seq: Vec<Option<Seq>>,
    ) -> Result<Vec<Seq>, ServerFnError> {
        let viewer = viewer().await?;
        let actions = leptos::prelude::expect_context::<ActionSource>();
        actions.0.post(&viewer, events, if_seq).await.map_err(|refused| {
            // The answer's status says what kind of refusal it is (409 stale, 403 role, 422 invalid).
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response
                    .set_status(http::StatusCode::from_u16(refused.status).unwrap_or(http::StatusCode::BAD_REQUEST));
            }
            ServerFnError::new(refused.message)
        })
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
        let me = super::Me { name: viewer.name, role: viewer.role, can_decide: viewer.can_decide, in_past: false };
        Ok(Read { snapshot, active_subagents, me })
    }

    /// A page at a past moment: `queries` answered as right after event `at` (or the last event at
    /// or before `time`, when given), built into the page's view by `build`; `topic` is what the
    /// page follows, for its steps back and forward. The header stays in the present.
    pub async fn read_past<T>(
        queries: Vec<Query>,
        at: Seq,
        time: &str,
        topic: Option<String>,
        build: impl FnOnce(Seq, &[Vec<String>]) -> Result<T, String>,
    ) -> Result<super::Page<super::Past<T>>, ServerFnError> {
        let read = read_page(vec![]).await?;
        let workspace = viewer().await?.workspace;
        let source = leptos::prelude::expect_context::<ReadSource>();
        let at = match time.trim() {
            "" => at,
            typed => {
                let ts = crate::domain::time::typed(typed).ok_or_else(|| {
                    ServerFnError::new(format!("`{typed}` is not a moment: write it as YYYY-MM-DDTHH:MM[:SS] in UTC"))
                })?;
                source.0.seq_at_time(&workspace, &ts).await.map_err(ServerFnError::new)?
            }
        };
        let past = source.0.read_at(&workspace, queries, at, topic).await.map_err(ServerFnError::new)?;
        let view = past.rows.map(|rows| build(past.moment.at, &rows)).transpose().map_err(ServerFnError::new)?;
        Ok(read.page(super::Past { moment: past.moment, view }))
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
