//! What the header shows on every page, kept live by whichever page runs a feed: the running
//! sub-agent sessions and the toasts for events an operator must not miss.

use leptos::prelude::*;

use crate::domain::{session::SessionKind, Event, EventBody};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastKind {
    Failure,
    PullRequest,
}

impl ToastKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ToastKind::Failure => "failure",
            ToastKind::PullRequest => "pull-request",
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
}

/// Toasts shown at once; older ones give way.
const MAX_TOASTS: usize = 4;

#[derive(Clone, Copy)]
pub struct Fleet {
    /// Ids of running sub-agent sessions; `None` until a page has read them.
    pub active_subagents: RwSignal<Option<Vec<String>>>,
    pub toasts: RwSignal<Vec<Toast>>,
    next_toast: StoredValue<u64>,
}

pub fn provide_fleet() -> Fleet {
    let fleet = Fleet { active_subagents: RwSignal::new(None), toasts: RwSignal::new(vec![]), next_toast: StoredValue::new(1) };
    provide_context(fleet);
    fleet
}

impl Fleet {
    /// Sets what a page's snapshot says.
    pub fn init(&self, active_subagents: Vec<String>) {
        self.active_subagents.set(Some(active_subagents));
    }

    pub fn count(&self) -> Option<usize> {
        self.active_subagents.with(|a| a.as_ref().map(Vec::len))
    }

    /// Applies a live event: the counter moves, and important events raise a toast.
    pub fn apply(&self, event: &Event) {
        match &event.body {
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
                self.toast(ToastKind::Failure, format!("Task {} failed: {}", e.id, e.error.message), &e.id)
            }
            EventBody::TaskUpdated(e) if e.pr_url.is_some() => {
                self.toast(ToastKind::PullRequest, format!("Pull request opened for task {}", e.id), &e.id)
            }
            EventBody::TaskCompleted(e) if e.pr_url.is_some() => {
                self.toast(ToastKind::PullRequest, format!("Task {} done with a pull request", e.id), &e.id)
            }
            _ => {}
        }
    }

    fn toast(&self, kind: ToastKind, text: String, task_id: &str) {
        let id = self.next_toast.get_value();
        self.next_toast.set_value(id + 1);
        let href = format!("/tasks/{task_id}");
        self.toasts.update(|toasts| {
            toasts.push(Toast { id, kind, text, href });
            let excess = toasts.len().saturating_sub(MAX_TOASTS);
            toasts.drain(..excess);
        });
    }

    pub fn dismiss(&self, id: u64) {
        self.toasts.update(|toasts| toasts.retain(|t| t.id != id));
    }
}
