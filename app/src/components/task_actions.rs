//! The controls an operator runs tasks with: the New task form, each card's menu (move, cancel,
//! retry), the selection bar for several cards at once, and the notice that says what happened,
//! with Undo for ten seconds after a move or a cancel.
//!
//! Every control is a plain form posting to its server function, so it works before and without
//! the wasm; once hydrated, a submit calls the same function instead of loading a page. Nothing
//! here moves a card: the page's live stream does, when the event is in the log.

use std::collections::BTreeSet;

use leptos::{prelude::*, server_fn::ServerFn};

use crate::{
    domain::{
        task::{Task, TaskStatus},
        Seq,
    },
    server_fns::{
        actions::{
            assign_tasks, cancel_tasks, create_task, destinations, move_tasks, retry_task, CancelTasks, CreateTask,
            Move, MoveTasks, RetryTask, Target,
        },
        Me,
    },
};

/// How long Undo is offered after a move or a cancel.
const UNDO_MS: u64 = 10_000;

/// What the board's controls share: why they are disabled (if they are), the cards selected,
/// and the last outcome.
#[derive(Clone, Copy)]
pub struct Controls {
    pub why_not: StoredValue<Option<String>>,
    pub selected: RwSignal<BTreeSet<String>>,
    pub notice: RwSignal<Option<Notice>>,
    /// The card being dragged: its id, seq and status.
    pub dragging: RwSignal<Option<(String, Seq, TaskStatus)>>,
}

/// What the last action did, or why it was refused; `undo` puts back what it moved.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub id: u64,
    pub text: String,
    pub refused: bool,
    pub undo: Vec<Move>,
}

impl Controls {
    pub fn new(me: &Me) -> Controls {
        Controls {
            why_not: StoredValue::new(me.why_not()),
            selected: RwSignal::new(BTreeSet::new()),
            notice: RwSignal::new(None),
            dragging: RwSignal::new(None),
        }
    }

    /// Drops the dragged card on the column of `status`.
    pub fn drop_on(self, status: TaskStatus) {
        if let Some(card) = self.dragging.get_untracked() {
            self.dragging.set(None);
            if card.2.column() != status {
                self.move_to(vec![card], status);
            }
        }
    }

    pub fn disabled(self) -> bool {
        self.why_not.with_value(Option::is_some)
    }

    /// Runs an action; says `done` when it is stored, with Undo made by `undo` from the seqs of
    /// its events, or what refused it.
    pub fn run<F>(self, done: String, call: F, undo: impl FnOnce(&[Seq]) -> Vec<Move> + 'static)
    where
        F: std::future::Future<Output = Result<Vec<Seq>, ServerFnError>> + 'static,
    {
        leptos::task::spawn_local(async move {
            let id = self.notice.with_untracked(|n| n.as_ref().map_or(0, |n| n.id + 1));
            let notice = match call.await {
                Ok(seqs) => Notice { id, text: done, refused: false, undo: undo(&seqs) },
                Err(e) => Notice { id, text: said(&e), refused: true, undo: vec![] },
            };
            let offers_undo = !notice.undo.is_empty();
            self.notice.set(Some(notice));
            if offers_undo {
                // Undo lapses; the words stay until the next action.
                set_timeout(
                    move || self.notice.update(|n| n.iter_mut().filter(|n| n.id == id).for_each(|n| n.undo.clear())),
                    std::time::Duration::from_millis(UNDO_MS),
                );
            }
        });
    }

    /// Moves tasks (`from`: each with its seq and where it was), offering to move them back.
    pub fn move_to(self, from: Vec<(String, Seq, TaskStatus)>, status: TaskStatus) {
        let moves: Vec<Move> = from.iter().map(|(id, seq, _)| Move { id: id.clone(), seq: *seq, status }).collect();
        let done = match from.as_slice() {
            [(id, _, _)] => format!("Moved {id} to {}.", status.label()),
            many => format!("Moved {} tasks to {}.", many.len(), status.label()),
        };
        self.run(done, move_tasks(moves), move |seqs| back(&from, seqs));
    }

    /// Cancels tasks, offering to put them back where they were.
    pub fn cancel(self, from: Vec<(String, Seq, TaskStatus)>, reason: String) {
        let targets: Vec<Target> = from.iter().map(|(id, seq, _)| Target { id: id.clone(), seq: *seq }).collect();
        let done = match from.as_slice() {
            [(id, _, _)] => format!("Cancelled {id}."),
            many => format!("Cancelled {} tasks.", many.len()),
        };
        self.run(done, cancel_tasks(targets, reason), move |seqs| back(&from, seqs));
    }

    pub fn assign(self, targets: Vec<Target>, agent: String) {
        let done = format!("Assigned {} to {agent}.", plural(targets.len()));
        self.run(done, assign_tasks(targets, agent), |_| vec![]);
    }
}

/// The moves that undo a change of each task (`from`) that landed at `seqs`.
fn back(from: &[(String, Seq, TaskStatus)], seqs: &[Seq]) -> Vec<Move> {
    from.iter().zip(seqs).map(|((id, _, status), seq)| Move { id: id.clone(), seq: *seq, status: *status }).collect()
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 task".into()
    } else {
        format!("{n} tasks")
    }
}

/// A refusal in the server's own words.
fn said(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(said) => said.clone(),
        other => other.to_string(),
    }
}

/// The last outcome, with Undo while it is offered. Announced to screen readers.
#[component]
pub fn ActionNotice(controls: Controls) -> impl IntoView {
    let notice = controls.notice;
    view! {
        <div class="action-notice" role="status" aria-live="polite" data-testid="action-notice">
            {move || notice.get().map(|n| {
                let undo = n.undo.clone();
                let offers = !undo.is_empty();
                view! {
                    <p class="notice" data-refused=n.refused.to_string() role=n.refused.then_some("alert")>
                        {n.text.clone()}
                        <Show when=move || offers>
                            {
                                let undo = undo.clone();
                                view! {
                                    <button type="button" class="undo" on:click=move |_| {
                                        let undo = undo.clone();
                                        controls.run("Undone.".into(), move_tasks(undo), |_| vec![]);
                                    }>"Undo"</button>
                                }
                            }
                        </Show>
                        <button type="button" class="dismiss" aria-label="Dismiss" on:click=move |_| notice.set(None)>"×"</button>
                    </p>
                }
            })}
        </div>
    }
}

/// The form a task is created with: title, description, labels and, optionally, an agent from
/// those the board knows or one typed.
#[component]
pub fn NewTaskForm(controls: Controls, agents: Signal<Vec<String>>) -> impl IntoView {
    let form = NodeRef::<leptos::html::Form>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(form) = form.get_untracked() else { return };
        let field = |name: &str| field_value(&form, name);
        let title = field("title");
        if title.trim().is_empty() {
            return;
        }
        let done = format!("Created “{}”.", title.trim());
        let call = create_task(title, field("description"), field("labels"), field("assignee"));
        form.reset();
        controls.run(done, call, |_| vec![]);
    };
    let disabled = controls.disabled();
    view! {
        <details class="new-task">
            <summary>"New task"</summary>
            <form node_ref=form method="post" action=CreateTask::PATH on:submit=submit aria-label="New task">
                <fieldset disabled=disabled>
                    <label>"Title" <input name="title" required maxlength="200" autocomplete="off"/></label>
                    <label>"Description" <textarea name="description" rows="3"></textarea></label>
                    <label>"Labels" <input name="labels" placeholder="comma, separated" autocomplete="off"/></label>
                    <label>
                        "Assignee"
                        <input name="assignee" list="known-agents" placeholder="Inbox (nobody yet)" autocomplete="off"/>
                    </label>
                    <datalist id="known-agents">
                        {move || agents.get().into_iter().map(|a| view! { <option value=a/> }).collect_view()}
                    </datalist>
                    <button type="submit">"Create task"</button>
                </fieldset>
                {controls.why_not.get_value().map(|r| view! { <p class="why-not">{r}</p> })}
            </form>
        </details>
    }
}

/// A card's menu: move it to another column, cancel it, or retry it. Each choice is a form
/// button, so the menu works by keyboard, on a phone and without the wasm alike.
#[component]
pub fn CardMenu(task: Task, controls: Controls) -> impl IntoView {
    let (id, seq, status) = (task.id.clone(), task.last_seq, task.status);
    let disabled = controls.disabled();
    let on_move = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let to = submitter_value(&ev).and_then(|v| TaskStatus::parse(&v));
            if let Some(to) = to {
                controls.move_to(vec![(id.clone(), seq, status)], to);
            }
        }
    };
    let on_cancel = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            controls.cancel(vec![(id.clone(), seq, status)], String::new());
        }
    };
    let on_retry = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let agent = submitter_value(&ev).unwrap_or_default();
            let to = if agent.is_empty() { "in the Inbox".to_string() } else { format!("with {agent}") };
            controls.run(format!("{id} is back {to}."), retry_task(id.clone(), seq, agent), |_| vec![]);
        }
    };
    let label = format!("Actions for {}", task.title);
    let hidden = move |prefix: &str| {
        view! {
            <input type="hidden" name=format!("{prefix}[id]") value=id.clone()/>
            <input type="hidden" name=format!("{prefix}[seq]") value=seq.to_string()/>
        }
    };
    view! {
        <details class="card-menu">
            <summary aria-label=label title="Move, cancel or retry">"⋯"</summary>
            <div class="menu" role="group" aria-label="Task actions">
                <form method="post" action=MoveTasks::PATH on:submit=on_move>
                    {hidden("moves[0]")}
                    <p class="menu-heading">"Move to…"</p>
                    {destinations(status.column())
                        .map(|to| view! {
                            <button type="submit" name="moves[0][status]" value=to.as_str() disabled=disabled>{to.label()}</button>
                        })
                        .collect_view()}
                </form>
                {(!status.finished()).then(|| view! {
                    <form method="post" action=CancelTasks::PATH on:submit=on_cancel.clone()>
                        {hidden("targets[0]")}
                        <input type="hidden" name="reason" value=""/>
                        <button type="submit" class="danger" disabled=disabled>"Cancel task"</button>
                    </form>
                })}
                {status.retryable().then(|| view! {
                    <form method="post" action=RetryTask::PATH on:submit=on_retry.clone()>
                        <input type="hidden" name="id" value=task.id.clone()/>
                        <input type="hidden" name="seq" value=seq.to_string()/>
                        <button type="submit" name="assignee" value="" disabled=disabled>"Retry from Inbox"</button>
                        {task.assignee.clone().map(|a| view! {
                            <button type="submit" name="assignee" value=a.clone() disabled=disabled>
                                {format!("Retry with {a}")}
                            </button>
                        })}
                    </form>
                })}
                {controls.why_not.get_value().map(|r| view! { <p class="why-not">{r}</p> })}
            </div>
        </details>
    }
}

/// What to do with the selected cards: move, assign or cancel them together, in one request.
#[component]
pub fn SelectionBar(controls: Controls, tasks: Signal<Vec<Task>>) -> impl IntoView {
    let chosen = move || {
        let ids = controls.selected.get();
        tasks.with(|all| {
            all.iter()
                .filter(|t| ids.contains(&t.id))
                .map(|t| (t.id.clone(), t.last_seq, t.status))
                .collect::<Vec<_>>()
        })
    };
    let agent = RwSignal::new(String::new());
    let count = move || controls.selected.with(BTreeSet::len);
    view! {
        <Show when=move || { count() > 0 }>
            <form class="selection-bar" aria-label="Selected tasks" on:submit=|ev| ev.prevent_default()>
                <span class="selected-count" data-testid="selected-count">{move || format!("{} selected", plural(count()))}</span>
                <label>
                    "Move to"
                    <select
                        name="status"
                        on:change=move |ev| {
                            if let Some(to) = TaskStatus::parse(&event_target_value(&ev)) {
                                controls.move_to(chosen(), to);
                                controls.selected.set(BTreeSet::new());
                            }
                        }
                    >
                        <option value="">"Choose a column"</option>
                        {TaskStatus::COLUMNS.into_iter().map(|s| view! { <option value=s.as_str()>{s.label()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Assign to"
                    <input name="agent" list="known-agents" autocomplete="off"
                        prop:value=move || agent.get() on:input=move |ev| agent.set(event_target_value(&ev))/>
                </label>
                <button type="button" on:click=move |_| {
                    let name = agent.get_untracked();
                    if name.trim().is_empty() {
                        return;
                    }
                    let targets = chosen().into_iter().map(|(id, seq, _)| Target { id, seq }).collect();
                    controls.assign(targets, name);
                    controls.selected.set(BTreeSet::new());
                }>"Assign"</button>
                <button type="button" class="danger" on:click=move |_| {
                    controls.cancel(chosen(), String::new());
                    controls.selected.set(BTreeSet::new());
                }>"Cancel tasks"</button>
                <button type="button" on:click=move |_| controls.selected.set(BTreeSet::new())>"Clear selection"</button>
            </form>
        </Show>
    }
}

/// The value of the button that submitted a form, if a button did.
fn submitter_value(ev: &leptos::ev::SubmitEvent) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let button = ev.submitter()?.dyn_into::<web_sys::HtmlButtonElement>().ok()?;
        Some(button.value())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// A named field's value in a form.
fn field_value(form: &leptos::web_sys::HtmlFormElement, name: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::FormData::new_with_form(form).ok().and_then(|data| data.get(name).as_string()).unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (form, name);
        String::new()
    }
}
