//! The smallest board-shaped Leptos 0.8 page, built only to measure what the framework alone puts in
//! the shipped wasm (`scripts/wasm-floor.sh`, `docs/performance.md`): a router, a server function
//! read through a resource, a WebSocket whose JSON frames move cards between columns, a header.
use futures::StreamExt;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Status {
    Todo,
    Doing,
    Done,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub agent: Option<String>,
    pub progress: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum Frame {
    #[serde(rename = "task:created")]
    Created(Card),
    #[serde(rename = "task:moved")]
    Moved { id: String, status: Status },
    #[serde(rename = "agent:health")]
    Health { agent: String, online: bool },
}

#[server]
pub async fn get_board() -> Result<Vec<Card>, ServerFnError> {
    Ok(Vec::new())
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Board" />
        <Router>
            <Routes fallback=|| "not found">
                <Route path=path!("/") view=Board />
            </Routes>
        </Router>
    }
}

/// The snapshot comes through a resource awaited under `Suspense`, as the board's does; the live
/// part builds on it.
#[component]
fn Board() -> impl IntoView {
    let board = Resource::new(|| (), |_| get_board());
    view! {
        <Suspense fallback=|| "loading">
            {move || Suspend::new(async move {
                match board.await {
                    Ok(list) => view! { <Live list /> }.into_any(),
                    Err(e) => e.to_string().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Live(list: Vec<Card>) -> impl IntoView {
    let cards = RwSignal::new(list);
    let online = RwSignal::new(0usize);
    let live = RwSignal::new(false);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            let Ok(ws) = gloo_net::websocket::futures::WebSocket::open("/ws") else { return };
            live.set(true);
            let (_, mut read) = ws.split();
            while let Some(Ok(gloo_net::websocket::Message::Text(text))) = read.next().await {
                match serde_json::from_str::<Frame>(&text) {
                    Ok(Frame::Created(card)) => cards.update(|c| c.push(card)),
                    Ok(Frame::Moved { id, status }) => cards.update(|c| {
                        if let Some(card) = c.iter_mut().find(|c| c.id == id) {
                            card.status = status;
                        }
                    }),
                    Ok(Frame::Health { online: up, .. }) => {
                        online.update(|n| if up { *n += 1 } else { *n = n.saturating_sub(1) })
                    }
                    Err(_) => {}
                }
            }
            live.set(false);
        });
    });
    view! {
        <header>
            <span class=move || if live.get() { "live" } else { "offline" }>{move || if live.get() { "Live" } else { "Offline" }}</span>
            <span>{move || online.get()} " agents"</span>
        </header>
        <main>
            {[Status::Todo, Status::Doing, Status::Done].into_iter().map(|status| view! { <Column status cards /> }).collect_view()}
        </main>
    }
}

#[component]
fn Column(status: Status, cards: RwSignal<Vec<Card>>) -> impl IntoView {
    let title = format!("{status:?}");
    let mine = Memo::new(move |_| cards.get().into_iter().filter(|c| c.status == status).collect::<Vec<_>>());
    view! {
        <section>
            <h2>{title} " " {move || mine.get().len()}</h2>
            <For each=move || mine.get() key=|c| c.id.clone() let:card>
                <CardView card />
            </For>
        </section>
    }
}

#[component]
fn CardView(card: Card) -> impl IntoView {
    view! {
        <article>
            <h3>{card.title}</h3>
            {card.agent.map(|a| view! { <p class="agent">{a}</p> })}
            <progress value=card.progress max=1.0 />
        </article>
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
