//! The bar on top of every page: where you are, how many sub-agents work, and whether the page is live.

use leptos::prelude::*;

use crate::live::{LinkState, LiveStatus};

#[component]
pub fn Header(
    /// Sub-agent sessions running now; `None` while unknown.
    #[prop(into)]
    active_subagents: Signal<Option<usize>>,
) -> impl IntoView {
    let live = expect_context::<LiveStatus>();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Flightdeck"</a>
            <nav aria-label="Main">
                <a href="/" aria-current="page">"Board"</a>
            </nav>
            <div class="topbar-status">
                <span class="subagents" data-testid="active-subagents">
                    "Active Sub-Agents: "
                    <strong>{move || active_subagents.get().map_or("–".to_string(), |n| n.to_string())}</strong>
                </span>
                <span
                    class="link-state"
                    role="status"
                    aria-live="polite"
                    data-testid="connection"
                    data-state=move || live.state.get().as_str()
                >
                    {move || live.label()}
                </span>
                <Show when=move || live.state.get() == LinkState::SignedOut>
                    <a class="signin" href="/login">"Sign in again"</a>
                </Show>
                <form method="post" action="/logout" class="logout">
                    <button type="submit">"Sign out"</button>
                </form>
            </div>
        </header>
    }
}
