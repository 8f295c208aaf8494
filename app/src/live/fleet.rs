//! What the header shows on every page, kept live by whichever page runs a feed: the running
//! sub-agent sessions and the toasts for events an operator must not miss.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::{
    domain::{session::SessionKind, Event, EventBody, EventKind},
    wire::{kinds, Reads},
};

/// The event types [`Fleet::apply`] acts on: every page's feed decodes these.
pub const FLEET_READS: u64 = kinds(&[
    EventKind::TaskCreated,
    EventKind::TaskUpdated,
    EventKind::TaskCompleted,
    EventKind::TaskFailed,
    EventKind::SessionStarted,
    EventKind::SessionEnded,
    EventKind::ApprovalRequested,
    EventKind::ApprovalResolved,
]);

/// What a page reads and what the header reads: what the page's feed decodes.
pub struct AndFleet<R>(std::marker::PhantomData<R>);

impl<R: Reads> Reads for AndFleet<R> {
    const READS: u64 = R::READS | FLEET_READS;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastKind {
    Failure,
    PullRequest,
    Approval,
}

impl ToastKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ToastKind::Failure => "failure",
            ToastKind::PullRequest => "pull-request",
            ToastKind::Approval => "approval",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    pub id: u64,
    pub kind: ToastKind,
    pub text: String,
    /// Where the toast leads: the task's page.
    pub href: String,
    /// The approval a request toast decides, with Approve / Deny on it.
    pub approval: Option<String>,
}

/// Toasts shown at once; older ones give way.
const MAX_TOASTS: usize = 4;
/// Good news leaves by itself after this long; a failure or a request stays until dismissed.
#[cfg(feature = "hydrate")]
const GOOD_NEWS_MS: u64 = 8_000;

#[derive(Clone, Copy)]
pub struct Fleet {
    /// Ids of running sub-agent sessions; `None` until a page has read them.
    pub active_subagents: RwSignal<Option<Vec<String>>>,
    pub toasts: RwSignal<Vec<Toast>>,
    next_toast: StoredValue<u64>,
    /// Task titles the page has seen, so a toast can name the task.
    titles: StoredValue<HashMap<String, String>>,
}

pub fn provide_fleet() -> Fleet {
    let fleet = Fleet {
        active_subagents: RwSignal::new(None),
        toasts: RwSignal::new(vec![]),
        next_toast: StoredValue::new(1),
        titles: StoredValue::new(HashMap::new()),
    };
    provide_context(fleet);
    fleet
}

impl Fleet {
    /// Sets what a page's snapshot says.
    pub fn init(&self, active_subagents: Vec<String>) {
        self.active_subagents.set(Some(active_subagents));
    }

    /// Remembers task titles a page read, for the toasts.
    pub fn learn_titles<'a>(&self, tasks: impl IntoIterator<Item = (&'a str, &'a str)>) {
        self.titles.update_value(|titles| {
            titles.extend(tasks.into_iter().map(|(id, title)| (id.to_string(), title.to_string())));
        });
    }

    fn title(&self, id: &str) -> String {
        self.titles.with_value(|t| t.get(id).cloned()).unwrap_or_else(|| format!("task {id}"))
    }

    pub fn count(&self) -> Option<usize> {
        self.active_subagents.with(|a| a.as_ref().map(Vec::len))
    }

    /// Applies a live event: the counter moves, and important events raise a toast. An event type
    /// added here belongs in [`FLEET_READS`] too.
    pub fn apply(&self, event: &Event) {
        match &event.body {
            EventBody::TaskCreated(e) => self.learn_titles(e.id.as_deref().map(|id| (id, e.title.as_str()))),
            EventBody::TaskUpdated(e) if e.title.is_some() => {
                self.learn_titles(e.title.as_deref().map(|title| (e.id.as_str(), title)))
            }
            EventBody::SessionStarted(e) if e.kind == SessionKind::Subagent => self.active_subagents.update(|a| {
                if let Some(list) = a {
                    if !list.contains(&e.id) {
                        list.push(e.id.clone());
                    }
                }
            }),
            EventBody::SessionEnded(e) => self.active_subagents.update(|a| {
                if let Some(list) = a {
                    list.retain(|id| id != &e.id);
                }
            }),
            EventBody::TaskFailed(e) => {
                let text = format!("Failed: {} — {}", self.title(&e.id), e.error.message);
                self.toast(ToastKind::Failure, text, &e.id)
            }
            EventBody::TaskUpdated(e) if e.pr_url.is_some() => {
                self.toast(ToastKind::PullRequest, format!("Pull request opened: {}", self.title(&e.id)), &e.id)
            }
            EventBody::ApprovalRequested(e) => {
                let href = match (&e.session_id, &e.task_id) {
                    (Some(session), _) => format!("/sessions/{session}"),
                    (None, Some(task)) => format!("/tasks/{task}?tab=approvals"),
                    (None, None) => "/sessions".to_string(),
                };
                let text = format!("Approval requested: {}", e.title);
                self.push_toast(Toast { id: 0, kind: ToastKind::Approval, text, href, approval: e.id.clone() })
            }
            // Decided anywhere: its request leaves every page.
            EventBody::ApprovalResolved(e) => {
                self.toasts.update(|toasts| toasts.retain(|t| t.approval.as_deref() != Some(e.id.as_str())))
            }
            EventBody::TaskCompleted(e) if e.pr_url.is_some() => {
                self.toast(ToastKind::PullRequest, format!("Done with a pull request: {}", self.title(&e.id)), &e.id)
            }
            _ => {}
        }
    }

    fn toast(&self, kind: ToastKind, text: String, task_id: &str) {
        self.push(kind, text, format!("/tasks/{task_id}"));
    }

    fn push(&self, kind: ToastKind, text: String, href: String) {
        self.push_toast(Toast { id: 0, kind, text, href, approval: None });
    }

    fn push_toast(&self, toast: Toast) {
        let id = self.next_toast.get_value();
        #[cfg(feature = "hydrate")]
        let kind = toast.kind;
        self.next_toast.set_value(id + 1);
        self.toasts.update(|toasts| {
            toasts.push(Toast { id, ..toast });
            let excess = toasts.len().saturating_sub(MAX_TOASTS);
            toasts.drain(..excess);
        });
        #[cfg(feature = "hydrate")]
        if kind == ToastKind::PullRequest {
            let fleet = *self;
            leptos::task::spawn_local(async move {
                gloo_timers::future::sleep(std::time::Duration::from_millis(GOOD_NEWS_MS)).await;
                fleet.dismiss(id);
            });
        }
    }

    pub fn dismiss(&self, id: u64) {
        self.toasts.update(|toasts| toasts.retain(|t| t.id != id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::read_samples_as as read_as;

    struct Header;

    impl Reads for Header {
        const READS: u64 = FLEET_READS;
    }

    fn fleet() -> Fleet {
        Fleet {
            active_subagents: RwSignal::new(Some(vec![])),
            toasts: RwSignal::new(vec![]),
            next_toast: StoredValue::new(1),
            titles: StoredValue::new(HashMap::new()),
        }
    }

    #[test]
    fn the_header_decodes_every_event_type_it_acts_on() {
        Owner::new().with(|| {
            let (mut whole, mut read) = (fleet(), fleet());
            let shown = |f: &Fleet| (f.active_subagents.get_untracked(), f.toasts.get_untracked());
            let skipped = read_as::<Header, _, _>(&mut whole, &mut read, |f, e| f.apply(e), shown);
            assert!(skipped > 20, "the header skips what it does not show: {skipped} skipped");
            let kinds: Vec<ToastKind> = whole.toasts.get_untracked().iter().map(|t| t.kind).collect();
            assert!(kinds.contains(&ToastKind::Failure), "{kinds:?}");
            // The samples decide their approval after asking it: its toast came and went.
            assert!(!kinds.contains(&ToastKind::Approval), "{kinds:?}");
        })
    }
}
