//! One module per page, and what every live page shares: a snapshot at a seq, then the feed.

pub mod agents;
pub mod board;
pub mod events;
pub mod login;
pub mod runs;
pub mod sessions;
pub mod task;

use std::future::Future;

use leptos::prelude::*;

use crate::{components::header::Header, domain::Event, live::fleet::Fleet, server_fns::Page};

/// Turns a page's snapshot into a live view: the header learns the page's counts, and (in the
/// browser) the page follows `topics` from the snapshot's seq, applying each event with `apply`
/// and reloading with `reload` after a `reset`.
pub fn live_page<T, F, Fut>(page: Page<T>, topics: Vec<String>, reload: F, apply: fn(&mut T, &Event)) -> RwSignal<T>
where
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
        let reload: crate::live::Reload = std::rc::Rc::new(move || {
            let fresh = reload();
            Box::pin(async move {
                let fresh = fresh.await.ok()?;
                fleet.init(fresh.active_subagents);
                view.set(fresh.view);
                Some(crate::live::Position { seq: fresh.seq, epoch: fresh.epoch })
            })
        });
        crate::live::follow(topics, since, move |event| view.update(|v| apply(v, &event)), reload);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (topics, reload, apply, since);
    view
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
