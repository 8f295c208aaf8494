//! The Kanban board: one column per task status, cards that move by themselves, a filter bar.
//!
//! The server renders the board at a log `seq`; once hydrated, the page follows `board` and `agents`
//! from exactly that `seq`, so no event falls between the render and the live stream.
//!
//! `/?at=<seq>` (or `?time=`) is the board at a past moment, rebuilt by the server from the nearest
//! snapshot and the events after it, under the time control (`components::time`).

use leptos::prelude::*;

use super::{live_or_past, live_page, loaded, loaded_then, past_page};
#[cfg(feature = "hydrate")]
use crate::server_fns::board::{get_tasks, Column as Cards, FETCH_AT_MOST};
use crate::{
    components::{
        card::{Arrivals, Card},
        header::Header,
        task_actions::{ActionNotice, Controls, NewTaskForm, SelectionBar},
        time::{Pruned, TimeControl},
    },
    domain::task::TaskStatus,
    server_fns::board::{get_board, get_board_at, Board, Filter, DRAWN},
};

#[component]
pub fn BoardPage() -> impl IntoView {
    live_or_past(
        || loaded("Loading the board…", "the board", get_board, |page| view! { <LiveBoard page/> }.into_any()),
        |at, time| {
            let read = move || get_board_at(at, time.clone());
            loaded_then("Rebuilding the board…", "the board at that moment", read, past_board)
        },
    )
}

/// The board at a past moment. Its code (the time control, the player, the page around them) is
/// in a chunk of its own that the browser loads the first time a past moment is shown: most
/// visits are to the live board, whose wasm then leaves it out (`cargo leptos build --split`).
#[lazy]
pub(crate) fn past_board(page: crate::server_fns::Page<crate::server_fns::Past<Board>>) -> AnyView {
    view! { <Past page/> }.into_any()
}

/// Loads the past board's chunk when the page being hydrated shows a past moment. The server sent
/// that page whole, and a `Suspend` hydrates at once, with the code it finds already loaded.
#[cfg(feature = "hydrate")]
pub(crate) async fn load_for_hydration() {
    use leptos_router::location::{BrowserUrl, LocationProvider};
    let Ok(url) = BrowserUrl::current() else { return };
    if url.path() == "/" && crate::components::time::asked(url.search_params()).is_some() {
        __preload_past_board().await;
    }
}

/// The board as it was, under the time control. The header goes on following the present
/// (connection, sub-agents, toasts).
#[component]
fn Past(page: crate::server_fns::Page<crate::server_fns::Past<Board>>) -> impl IntoView {
    let at = page.view.moment.at;
    let past = past_page(page, None, "/".into(), move || get_board_at(at, String::new()), Board::apply);
    Arrivals::provide();
    let filter = RwSignal::new(Filter::default());
    let body = match past.view {
        Some(board) => view! {
            <FilterBar board filter/>
            <div class="board" data-testid="past-board">
                {TaskStatus::COLUMNS.into_iter().map(|status| view! { <Column status board filter controls=None/> }).collect_view()}
            </div>
        }
        .into_any(),
        None => view! { <Pruned moment=past.moment.get_untracked() what="the board"/> }.into_any(),
    };
    view! {
        <Header/>
        <main class="page board-page">
            <h1 class="visually-hidden">"Board at a past moment"</h1>
            <TimeControl moment=past.moment path="/".into() player=past.player/>
            {body}
        </main>
    }
}

#[component]
fn LiveBoard(page: crate::server_fns::Page<Board>) -> impl IntoView {
    expect_context::<crate::live::fleet::Fleet>()
        .learn_titles(page.view.tasks.iter().chain(&page.view.briefs).map(|t| (t.id.as_str(), t.title.as_str())));
    let controls = Controls::new(&page.me);
    Arrivals::provide();
    let board = live_page(page, vec![], get_board, |b: &mut Board, e| b.apply(e));
    let filter = RwSignal::new(Filter::default());
    let agents = Signal::derive(move || board.with(Board::known_agents));
    let chosen = Signal::derive(move || {
        let ids = controls.selected.get();
        board.with(|b| ids.iter().filter_map(|id| b.find(id).cloned()).collect())
    });
    view! {
        <Header/>
        <main class="page board-page">
            <h1 class="visually-hidden">"Board"</h1>
            <div class="board-tools">
                <NewTaskForm controls agents/>
                <FilterBar board filter/>
            </div>
            <ActionNotice controls/>
            <SelectionBar controls chosen/>
            <div class="board">
                {TaskStatus::COLUMNS.into_iter().map(|status| view! { <Column status board filter controls=Some(controls)/> }).collect_view()}
            </div>
        </main>
    }
}

#[component]
fn FilterBar(board: RwSignal<Board>, filter: RwSignal<Filter>) -> impl IntoView {
    let choices = Memo::new(move |_| board.with(Board::choices));
    view! {
        <form class="filters" role="search" aria-label="Filter tasks" on:submit=|ev| ev.prevent_default()>
            <label>
                "Search"
                <input
                    type="search"
                    name="q"
                    placeholder="Title or id"
                    prop:value=move || filter.with(|f| f.text.clone())
                    on:input=move |ev| filter.update(|f| f.text = event_target_value(&ev))
                />
            </label>
            <label>
                "Agent"
                <select name="agent" on:change=move |ev| filter.update(|f| f.agent = event_target_value(&ev))>
                    <option value="">"All agents"</option>
                    {move || {
                        choices
                            .with(|(agents, _)| agents.clone())
                            .into_iter()
                            .map(|a| view! { <option value=a.clone()>{a.clone()}</option> })
                            .collect_view()
                    }}
                </select>
            </label>
            <label>
                "Label"
                <select name="label" on:change=move |ev| filter.update(|f| f.label = event_target_value(&ev))>
                    <option value="">"All labels"</option>
                    {move || {
                        choices
                            .with(|(_, labels)| labels.clone())
                            .into_iter()
                            .map(|l| view! { <option value=l.clone()>{l.clone()}</option> })
                            .collect_view()
                    }}
                </select>
            </label>
        </form>
    }
}

/// A column; on the live board (`controls`), cards dropped on it move to its status.
#[component]
fn Column(
    status: TaskStatus,
    board: RwSignal<Board>,
    filter: RwSignal<Filter>,
    controls: Option<Controls>,
) -> impl IntoView {
    let shown = RwSignal::new(DRAWN);
    let column = Memo::new(move |_| filter.with(|f| board.with(|b| b.column(status, shown.get(), f))));
    let hidden = move || column.with(|c| c.total - c.cards.len() - c.missing.len());
    #[cfg(feature = "hydrate")]
    fetch_missing(board, column);
    let heading = format!("column-{}", status.as_str());
    let labelled_by = heading.clone();
    view! {
        <section
            class="column"
            data-status=status.as_str()
            aria-labelledby=labelled_by
            on:dragover=move |ev| {
                if controls.is_some() {
                    ev.prevent_default();
                }
            }
            on:drop=move |ev| {
                if let Some(c) = controls {
                    ev.prevent_default();
                    c.drop_on(status);
                }
            }
        >
            <h2 id=heading>
                {status.label()}
                <span class="count" aria-label="cards">{move || column.with(|c| c.total)}</span>
            </h2>
            <ol class="cards">
                <For
                    each=move || {
                        column.with(|c| board.with(|b| c.cards.iter().map(|t| (t.clone(), b.badge(t))).collect::<Vec<_>>()))
                    }
                    // A new last_seq or badge re-renders the card; an unchanged one is left alone.
                    key=|(task, badge)| (task.id.clone(), task.last_seq, badge.as_ref().map(|b| b.health))
                    children=move |(task, badge)| match controls {
                        Some(controls) => view! { <Card task badge controls/> }.into_any(),
                        None => view! { <Card task badge/> }.into_any(),
                    }
                />
            </ol>
            <Show when=move || { hidden() > 0 }>
                <p class="more">{move || format!("+ {} older", hidden())}</p>
                <button type="button" class="show-more" on:click=move |_| shown.update(|n| *n += DRAWN)>
                    {format!("Show {DRAWN} more")}
                </button>
            </Show>
        </section>
    }
}

/// Fetches in full the cards a column is about to draw that the board holds only in brief (after
/// "Show more", a filter, or a task moving in). Each id is asked for once at a time; a task read
/// before its brief's last event is asked for again.
#[cfg(feature = "hydrate")]
fn fetch_missing(board: RwSignal<Board>, column: Memo<Cards>) {
    use std::collections::BTreeSet;
    let asked = StoredValue::new(BTreeSet::<String>::new());
    Effect::new(move |_| {
        let ids: Vec<String> =
            column.with(|c| c.missing.iter().filter(|id| !asked.with_value(|a| a.contains(*id))).cloned().collect());
        if ids.is_empty() {
            return;
        }
        asked.update_value(|a| a.extend(ids.iter().cloned()));
        leptos::task::spawn_local(async move {
            for chunk in ids.chunks(FETCH_AT_MOST) {
                let mut wanted = chunk.to_vec();
                for _ in 0..3 {
                    let Ok(fetched) = get_tasks(wanted.clone()).await else { break };
                    wanted = board.try_update(|b| b.fill(fetched)).unwrap_or_default();
                    if wanted.is_empty() {
                        break;
                    }
                    gloo_timers::future::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
            // The column may be gone by now (another page); then there is nothing to forget.
            asked.try_update_value(|a| ids.iter().for_each(|id| _ = a.remove(id)));
        });
    });
}
