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
            assign_tasks, cancel_tasks, create_task, destinations, edit_task, move_tasks, retry_task, AssignTasks,
            CancelTasks, CreateTask, EditTask, Move, MoveTasks, RetryTask, Target,
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
/// button, so the menu works by keyboard, on a phone and without the wasm alike. `summary` is
/// what opens it (the board's cards: "⋯").
///
/// On the board (not `eager`) the buttons are drawn when the menu is first opened: hundreds of
/// cards would otherwise each carry a dozen nodes to hydrate that nobody looks at. Until then the
/// menu holds a link to the task's page, whose menu is drawn whole: that is where a browser
/// without the wasm acts.
#[component]
pub fn CardMenu(
    task: Task,
    controls: Controls,
    #[prop(optional)] summary: Option<&'static str>,
    #[prop(optional)] eager: bool,
) -> impl IntoView {
    let opened = RwSignal::new(eager);
    let (id, seq, status) = (task.id.clone(), task.last_seq, task.status);
    let disabled = controls.disabled();
    let on_move = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let to = submitter_value(&ev).and_then(|v| TaskStatus::parse(&v));
            if let Some(to) = to {
                controls.move_to(vec![(id.clone(), shown_seq(&ev, "moves[0][seq]", seq), status)], to);
            }
        }
    };
    let on_cancel = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            controls.cancel(vec![(id.clone(), shown_seq(&ev, "targets[0][seq]", seq), status)], String::new());
        }
    };
    let on_retry = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let agent = submitter_value(&ev).unwrap_or_default();
            let to = if agent.is_empty() { "in the Inbox".to_string() } else { format!("with {agent}") };
            let seq = shown_seq(&ev, "seq", seq);
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
    let page = format!("/tasks/{}", task.id);
    let menu = move || {
        if !opened.get() {
            let page = page.clone();
            return view! {
                <div class="menu"><a href=page>"Move, cancel or retry on the task’s page"</a></div>
            }
            .into_any();
        }
        let (on_move, on_cancel, on_retry, hidden) =
            (on_move.clone(), on_cancel.clone(), on_retry.clone(), hidden.clone());
        view! {
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
        }
        .into_any()
    };
    view! {
        <details class="card-menu" on:toggle=move |_| opened.set(true)>
            <summary aria-label=label title="Move, cancel or retry">{summary.unwrap_or("⋯")}</summary>
            {menu}
        </details>
    }
}

/// The task page's actions, on its Overview: the card's menu, an assignment, and an edit of the
/// title, description and labels. The edit is based on the task as it was when the form was
/// opened: a change by anyone since then refuses it, with who made the change.
#[component]
pub fn TaskActions(task: Signal<Option<Task>>, controls: Controls, agents: Signal<Vec<String>>) -> impl IntoView {
    let opened = RwSignal::new(None::<Task>);
    let edit = NodeRef::<leptos::html::Form>::new();
    let assign = NodeRef::<leptos::html::Form>::new();
    let disabled = controls.disabled();
    let on_edit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(form), Some(seen)) = (edit.get_untracked(), opened.get_untracked()) else { return };
        let field = |name: &str| field_value(&form, name);
        let call = edit_task(seen.id.clone(), seen.last_seq, field("title"), field("description"), field("labels"));
        controls.run(format!("Saved {}.", seen.id), call, |_| vec![]);
    };
    let on_assign = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(form), Some(now)) = (assign.get_untracked(), task.get_untracked()) else { return };
        let agent = field_value(&form, "agent");
        if !agent.trim().is_empty() {
            controls.assign(vec![Target { id: now.id, seq: now.last_seq }], agent);
        }
    };
    view! {
        <section class="task-actions" aria-label="Act on this task">
            {move || task.get().map(|task| view! { <CardMenu task controls summary="Move, cancel or retry" eager=true/> })}
            <form node_ref=assign class="assign" method="post" action=AssignTasks::PATH on:submit=on_assign aria-label="Assign">
                {move || task.get().map(|t| view! {
                    <input type="hidden" name="targets[0][id]" value=t.id.clone()/>
                    <input type="hidden" name="targets[0][seq]" value=t.last_seq.to_string()/>
                })}
                <label>"Assign to" <input name="agent" list="task-agents" autocomplete="off" disabled=disabled/></label>
                <datalist id="task-agents">
                    {move || agents.get().into_iter().map(|a| view! { <option value=a/> }).collect_view()}
                </datalist>
                <button type="submit" disabled=disabled>"Assign"</button>
            </form>
            // Opening the form takes the task as it is then; closing it forgets that copy.
            <details class="edit-task" on:toggle=move |_| {
                let open = opened.with_untracked(Option::is_none);
                opened.set(if open { task.get_untracked() } else { None });
            }>
                <summary>"Edit"</summary>
                <form node_ref=edit method="post" action=EditTask::PATH on:submit=on_edit aria-label="Edit task">
                    <fieldset disabled=disabled>
                        {move || opened.get().or_else(|| task.get_untracked()).map(|t| view! {
                            <input type="hidden" name="id" value=t.id.clone()/>
                            <input type="hidden" name="seq" value=t.last_seq.to_string()/>
                            <label>"Title" <input name="title" required maxlength="200" value=t.title.clone()/></label>
                            <label>"Description" <textarea name="description" rows="3" prop:value=t.description.clone().unwrap_or_default()></textarea></label>
                            <label>"Labels" <input name="labels" value=t.labels.join(", ")/></label>
                        })}
                        <button type="submit">"Save"</button>
                    </fieldset>
                </form>
            </details>
            {controls.why_not.get_value().map(|r| view! { <p class="why-not">{r}</p> })}
        </section>
    }
}

/// What to do with the selected cards: move, assign or cancel them together, in one request.
/// `chosen` is the selected tasks as the board holds them now.
#[component]
pub fn SelectionBar(controls: Controls, chosen: Signal<Vec<Task>>) -> impl IntoView {
    let chosen =
        move || chosen.with(|all| all.iter().map(|t| (t.id.clone(), t.last_seq, t.status)).collect::<Vec<_>>());
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

/// The seq a card's form holds (`field`), which is what the card showed when it was drawn: the
/// form, not the closure, is what a script-less post sends too.
fn shown_seq(ev: &leptos::ev::SubmitEvent, field: &str, drawn: Seq) -> Seq {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let form = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok());
        form.and_then(|f| field_value(&f, field).parse().ok()).unwrap_or(drawn)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, field);
        drawn
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
