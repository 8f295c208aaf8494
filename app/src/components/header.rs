//! The bar on top of every page: navigation, how many sub-agents work, whether the page is live,
//! and the toasts for events an operator must not miss.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::toast::Toasts;
use crate::live::{fleet::Fleet, LinkState, LiveStatus};

const SECTIONS: &[(&str, &str)] = &[
    ("/", "Board"),
    ("/sessions", "Sessions"),
    ("/approvals", "Approvals"),
    ("/runs", "Runs"),
    ("/agents", "Agents"),
    ("/events", "Events"),
    ("/settings", "Settings"),
];

#[component]
pub fn Header() -> impl IntoView {
    let live = expect_context::<LiveStatus>();
    let fleet = expect_context::<Fleet>();
    let path = use_location().pathname;
    let current = move |href: &str| {
        let here = path.get();
        let on = if href == "/" { here == "/" || here.starts_with("/tasks/") } else { here.starts_with(href) };
        on.then_some("page")
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Flightdeck"</a>
            <nav aria-label="Main">
                {SECTIONS
                    .iter()
                    .map(|(href, label)| view! { <a href=*href aria-current=move || current(href)>{*label}</a> })
                    .collect_view()}
            </nav>
            <div class="topbar-status">
                <span class="subagents" data-testid="active-subagents">
                    "Active Sub-Agents: "
                    <strong>{move || fleet.count().map_or("–".to_string(), |n| n.to_string())}</strong>
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
        <Toasts/>
    }
}
