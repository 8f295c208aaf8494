//! The Kanban board: one column per task status, cards that move by themselves.
//!
//! The server renders the board at a log `seq`; once hydrated, the page follows `board` and `agents`
//! from exactly that `seq`, so no event falls between the render and the live stream.

use leptos::prelude::*;

use crate::{
    api::get_board,
    components::{card::Card, header::Header},
    model::{Board, TaskStatus},
};

#[component]
pub fn BoardPage() -> impl IntoView {
    let snapshot = Resource::new(|| (), |_| get_board());
    view! {
        <Suspense fallback=|| {
            view! {
                <Header active_subagents=Signal::stored(None)/>
                <main class="page"><p class="loading">"Loading the board…"</p></main>
            }
        }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(board) => view! { <LiveBoard board/> }.into_any(),
                    Err(e) => {
                        view! {
                            <Header active_subagents=Signal::stored(None)/>
                            <main class="page">
                                <p class="error" role="alert">{format!("Could not load the board: {e}")}</p>
                            </main>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn LiveBoard(board: Board) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    let since = board.seq;
    let board = RwSignal::new(board);
    let active = Signal::derive(move || Some(board.with(|b| b.active_subagents.len())));

    #[cfg(feature = "hydrate")]
    {
        let reload: crate::live::Reload = std::rc::Rc::new(move || {
            Box::pin(async move {
                let fresh = get_board().await.ok()?;
                let seq = fresh.seq;
                board.set(fresh);
                Some(seq)
            })
        });
        crate::live::follow(
            vec!["board".into(), "agents".into()],
            since,
            move |event| board.update(|b| b.apply(&event)),
            reload,
        );
    }

    view! {
        <Header active_subagents=active/>
        <main class="page board-page">
            <h1 class="visually-hidden">"Board"</h1>
            <div class="board">
                {TaskStatus::ALL.into_iter().map(|status| view! { <Column status board/> }).collect_view()}
            </div>
        </main>
    }
}

/// Cards rendered per column; the count in the heading still covers them all.
const CARDS_PER_COLUMN: usize = 50;

#[component]
fn Column(status: TaskStatus, board: RwSignal<Board>) -> impl IntoView {
    let column = Memo::new(move |_| board.with(|b| b.column(status, CARDS_PER_COLUMN)));
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
                    each=move || column.with(|c| c.cards.clone())
                    // A new last_seq re-renders the card; an unchanged one is left alone.
                    key=|task| (task.id.clone(), task.last_seq)
                    children=|task| view! { <Card task/> }
                />
            </ol>
            <Show when=move || { hidden() > 0 }>
                <p class="more">{move || format!("+ {} older", hidden())}</p>
            </Show>
        </section>
    }
}
