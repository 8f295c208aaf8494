//! One module per page, and what every live page shares: a snapshot at a seq, then the feed.

pub mod agents;
pub mod approvals;
pub mod board;
pub mod events;
pub mod lazy;
pub mod login;
pub mod runs;
pub mod sessions;
pub mod settings;
pub mod task;

use std::future::Future;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    components::{
        header::Header,
        time::{asked, Player},
    },
    domain::{Event, Seq},
    live::fleet::Fleet,
    server_fns::{Me, Moment, Page, Past},
    wire::Reads,
};

/// The page at the moment its address asks for (`?at=<seq>` or `?time=`), else the live page.
pub fn live_or_past(
    live: impl Fn() -> AnyView + Send + Sync + 'static,
    past: impl Fn(Seq, String) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| query.with(asked));
    move || match asked.get() {
        Some((at, time)) => past(at, time),
        None => live(),
    }
}

/// A page's snapshot read once by `read`: `loading` while it comes, then the page `show` makes of
/// it, or what went wrong reading `what`. The server renders the page with the snapshot in it.
pub fn loaded<T, Fut>(
    loading: &'static str,
    what: &'static str,
    read: impl Fn() -> Fut + Send + Sync + 'static,
    show: impl Fn(T) -> AnyView + Clone + Send + Sync + 'static,
) -> AnyView
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ServerFnError>> + Send + 'static,
{
    loaded_then(loading, what, read, move |page| std::future::ready(show(page)))
}

/// [`loaded`], for a page whose view waits for something more: the code of a lazy page.
pub fn loaded_then<T, Fut, Shown>(
    loading: &'static str,
    what: &'static str,
    read: impl Fn() -> Fut + Send + Sync + 'static,
    show: impl Fn(T) -> Shown + Clone + Send + Sync + 'static,
) -> AnyView
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ServerFnError>> + Send + 'static,
    Shown: Future<Output = AnyView> + Send + 'static,
{
    let snapshot = Resource::new(|| (), move |_| read());
    view! {
        <Suspense fallback=move || view! { <Header/><main class="page"><p class="loading">{loading}</p></main> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match snapshot.await {
                        Ok(page) => show(page).await,
                        Err(e) => view! { <LoadFailed what error=e.to_string()/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
    .into_any()
}

/// Turns a page's snapshot into a live view: the header learns the page's counts, and (in the
/// browser) the page follows `topics` from the snapshot's seq, applying each event of a type `T`
/// reads with `apply` and reloading with `reload` after a `reset`.
pub fn live_page<T, F, Fut>(page: Page<T>, topics: Vec<String>, reload: F, apply: fn(&mut T, &Event)) -> RwSignal<T>
where
    T: Reads + Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<Page<T>, ServerFnError>> + 'static,
{
    feed::<T, T, F, Fut>(page, topics, reload, apply)
}

/// [`live_page`], decoding the event types `R` reads: a past page's feed is only the header's, but
/// reading what its live page reads, it shares that page's reader rather than compiling another.
fn feed<R, T, F, Fut>(page: Page<T>, topics: Vec<String>, reload: F, apply: fn(&mut T, &Event)) -> RwSignal<T>
where
    R: Reads + 'static,
    T: Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<Page<T>, ServerFnError>> + 'static,
{
    let fleet = expect_context::<Fleet>();
    fleet.init(page.active_subagents);
    #[cfg(feature = "hydrate")]
    let since = crate::live::Position { seq: page.seq, epoch: page.epoch.clone() };
    #[cfg(not(feature = "hydrate"))]
    let since = page.seq;
    let view = RwSignal::new(page.view);
    #[cfg(feature = "hydrate")]
    {
        let frame = Frame::default();
        let pending = frame.clone();
        let reload: crate::live::Reload = std::rc::Rc::new(move || {
            let fresh = reload();
            let pending = pending.clone();
            Box::pin(async move {
                let fresh = fresh.await.ok()?;
                fleet.init(fresh.active_subagents);
                // What waited for the next frame is in the fresh snapshot, or after it.
                pending.0.borrow_mut().clear();
                view.set(fresh.view);
                Some(crate::live::Position { seq: fresh.seq, epoch: fresh.epoch })
            })
        });
        crate::live::follow::<R>(topics, since, move |event| frame.push(event, view, apply), reload);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (topics, reload, apply, since, R::READS);
    view
}

/// Most events a page holds back for the next frame: a hidden tab draws no frames, so past this
/// many it applies them at once rather than let them pile up.
#[cfg(feature = "hydrate")]
const FRAME_EVENTS: usize = 2_000;

/// The events that arrived since the page last drew, applied together in the next animation
/// frame: a burst of 500 events re-renders the page once per frame, not 500 times.
#[cfg(feature = "hydrate")]
#[derive(Clone, Default)]
struct Frame(std::rc::Rc<std::cell::RefCell<Vec<Event>>>);

#[cfg(feature = "hydrate")]
impl Frame {
    fn push<T: Send + Sync + 'static>(&self, event: Event, view: RwSignal<T>, apply: fn(&mut T, &Event)) {
        let first = {
            let mut pending = self.0.borrow_mut();
            pending.push(event);
            pending.len() == 1
        };
        let flush = {
            let pending = self.0.clone();
            move || {
                let events = std::mem::take(&mut *pending.borrow_mut());
                if !events.is_empty() {
                    view.update(|v| events.iter().for_each(|e| apply(v, e)));
                }
            }
        };
        if self.0.borrow().len() >= FRAME_EVENTS {
            flush();
        } else if first {
            request_animation_frame(flush);
        }
    }
}

/// A page at a past moment, as its time control and body use it.
pub struct PastPage<T: Send + Sync + 'static> {
    pub moment: RwSignal<Moment>,
    /// `None` when the log there was pruned.
    pub view: Option<RwSignal<T>>,
    pub player: Player,
    /// The viewer, who can do nothing here.
    pub me: Me,
}

/// Turns a past page's snapshot into its signals. The header goes on following the present; the
/// page stays at its moment until played forward, when (in the browser) the events of `topic`
/// (`None`: all) after it are applied by `apply`, the page's own live reducer.
pub fn past_page<T, F, Fut>(
    page: Page<Past<T>>,
    topic: Option<String>,
    path: String,
    reload: F,
    apply: fn(&mut T, &Event),
) -> PastPage<T>
where
    T: Reads + Clone + Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<Page<Past<T>>, ServerFnError>> + 'static,
{
    let me = page.me.clone().in_past();
    let past = feed::<T, Past<T>, F, Fut>(page, vec![], reload, |_, _| {}).get_untracked();
    let (moment, view, player) = (RwSignal::new(past.moment), past.view.map(RwSignal::new), Player::new());
    #[cfg(feature = "hydrate")]
    if let Some(view) = view {
        crate::live::player::play(player, moment, view, topic.unwrap_or_default(), path, apply);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (topic, path, apply);
    PastPage { moment, view, player, me }
}

/// A page whose snapshot could not be read.
#[component]
pub fn LoadFailed(what: &'static str, error: String) -> impl IntoView {
    view! {
        <Header/>
        <main class="page">
            <p class="error" role="alert">{format!("Could not load {what}: {error}")}</p>
        </main>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Header/>
        <main class="page">
            <h1>"Not found"</h1>
            <p><a href="/">"Back to the board"</a></p>
        </main>
    }
}
