//! One module per page.

pub mod board;
pub mod login;

use leptos::prelude::*;

use crate::components::header::Header;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Header active_subagents=Signal::stored(None)/>
        <main class="page">
            <h1>"Not found"</h1>
            <p><a href="/">"Back to the board"</a></p>
        </main>
    }
}
