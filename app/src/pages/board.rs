//! The Kanban board: one column per task status, cards that move by themselves, a filter bar.
//!
//! The server renders the board at a log `seq`; once hydrated, the page follows `board` and `agents`
//! from exactly that `seq`, so no event falls between the render and the live stream.
//!
//! `/?at=<seq>` is the board at a past moment: the log replayed up to that seq by the same reducer,
//! with a time control to step one event back or forward, jump to any seq, and return to Live.
//! The steps are links, so they work before the wasm loads; once it has, they change the board
//! without reloading the page.

use leptos::prelude::*;

use leptos_router::{components::A, hooks::use_query_map};

use super::{live_page, LoadFailed};
use crate::{
    components::{card::Card, clock::Ago, header::Header},
    domain::{task::TaskStatus, Seq},
    server_fns::board::{get_board, get_board_at, Board, Filter, PastBoard},
};

#[component]
pub fn BoardPage() -> impl IntoView {
    let query = use_query_map();
    let at = Memo::new(move |_| query.with(|q| q.get("at").and_then(|s| s.trim().parse::<Seq>().ok())));
    view! {
        {move || match at.get() {
            Some(seq) => view! { <PastBoardPage at=seq/> }.into_any(),
            None => view! { <LiveBoardPage/> }.into_any(),
        }}
    }
}

#[component]
fn PastBoardPage(at: Seq) -> impl IntoView {
    let snapshot = Resource::new(move || at, get_board_at);
    view! {
        <Suspense fallback=|| view! { <Header/><main class="page"><p class="loading">"Rebuilding the board…"</p></main> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(page) => view! { <Past page at/> }.into_any(),
                    Err(e) => view! { <LoadFailed what="the board at that moment" error=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The board as it was, under the time control. The board stays as it was; the header goes on
/// following the present (connection, sub-agents, toasts).
#[component]
fn Past(page: crate::server_fns::Page<PastBoard>, at: Seq) -> impl IntoView {
    let past = live_page(page, vec![], move || get_board_at(at), |_: &mut PastBoard, _| {}).get_untracked();
    let filter = RwSignal::new(Filter::default());
    let controls = view! { <TimeControl past=past.clone()/> };
    let body = match past.board {
        Some(board) => {
            let board = RwSignal::new(board);
            view! {
                <FilterBar board filter/>
                <div class="board" data-testid="past-board">
                    {TaskStatus::ALL.into_iter().map(|status| view! { <Column status board filter/> }).collect_view()}
                </div>
            }
            .into_any()
        }
        None => view! {
            <p class="empty" data-testid="history-starts" role="status">
                {format!(
                    "The log before seq {} has been pruned, so the board at seq {} cannot be rebuilt. History starts after seq {}.",
                    past.starts_after + 1, past.at, past.starts_after
                )}
            </p>
        }
        .into_any(),
    };
    view! {
        <Header/>
        <main class="page board-page">
            <h1 class="visually-hidden">"Board at a past moment"</h1>
            {controls}
            {body}
        </main>
    }
}

/// Where in the log the board is, and the way to another moment or back to Live.
#[component]
fn TimeControl(past: PastBoard) -> impl IntoView {
    let step = |to: Option<Seq>, label: &'static str, rel: &'static str| match to {
        Some(seq) => view! { <A href=format!("/?at={seq}") attr:rel=rel attr:class="step">{label}</A> }.into_any(),
        None => view! { <span class="step disabled" aria-disabled="true">{label}</span> }.into_any(),
    };
    view! {
        <section class="time-control" aria-label="Time control" data-testid="time-control">
            <p class="moment">
                <strong data-testid="moment">{format!("Seq {} of {}", past.at.min(past.head), past.head)}</strong>
                {past.ts.clone().map(|ts| view! { " · " <Ago ts=Signal::stored(Some(ts))/> })}
            </p>
            {step(past.previous, "◀ Back one event", "prev")}
            {step(past.next, "Forward one event ▶", "next")}
            <form class="scrub" method="get" action="/">
                <label>
                    "Seq"
                    <input type="range" name="at" min="1" max=past.head.max(1).to_string() value=past.at.to_string()/>
                </label>
                <button type="submit">"Go"</button>
            </form>
            <A href="/" attr:class="live-link" attr:data-testid="back-to-live">"Return to Live"</A>
        </section>
    }
}

#[component]
fn LiveBoardPage() -> impl IntoView {
    let snapshot = Resource::new(|| (), |_| get_board());
    view! {
        <Suspense fallback=|| view! { <Header/><main class="page"><p class="loading">"Loading the board…"</p></main> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(page) => view! { <LiveBoard page/> }.into_any(),
                    Err(e) => view! { <LoadFailed what="the board" error=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn LiveBoard(page: crate::server_fns::Page<Board>) -> impl IntoView {
    expect_context::<crate::live::fleet::Fleet>()
        .learn_titles(page.view.tasks.iter().map(|t| (t.id.as_str(), t.title.as_str())));
    let board = live_page(page, vec![], get_board, |b: &mut Board, e| b.apply(e));
    let filter = RwSignal::new(Filter::default());
    view! {
        <Header/>
        <main class="page board-page">
            <h1 class="visually-hidden">"Board"</h1>
            <FilterBar board filter/>
            <div class="board">
                {TaskStatus::ALL.into_iter().map(|status| view! { <Column status board filter/> }).collect_view()}
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

/// Cards rendered per column; the count in the heading still covers them all.
const CARDS_PER_COLUMN: usize = 50;

#[component]
fn Column(status: TaskStatus, board: RwSignal<Board>, filter: RwSignal<Filter>) -> impl IntoView {
    let column = Memo::new(move |_| filter.with(|f| board.with(|b| b.column(status, CARDS_PER_COLUMN, f))));
    let hidden = move || column.with(|c| c.total - c.cards.len());
    let heading = format!("column-{}", status.as_str());
    let labelled_by = heading.clone();
    view! {
        <section class="column" data-status=status.as_str() aria-labelledby=labelled_by>
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
                    children=|(task, badge)| view! { <Card task badge/> }
                />
            </ol>
            <Show when=move || { hidden() > 0 }>
                <p class="more">{move || format!("+ {} older", hidden())}</p>
            </Show>
        </section>
    }
}
