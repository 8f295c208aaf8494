//! Flightdeck's shared crate: event and entity types, the pages and their components, and the server
//! functions. Compiled twice: with `ssr` into the server, with `hydrate` into the browser bundle.

pub mod components;
pub mod domain;
pub mod live;
pub mod pages;
pub mod protocol;
pub mod server_fns;
pub mod topics;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    Lazy, ParamSegment, SsrMode, StaticSegment,
};

/// The workspace used until accounts arrive: every event and entity belongs to one.
pub const DEFAULT_WORKSPACE: &str = "default";

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                // The stylesheet by its content-hashed name in a release build (`src/site.rs`).
                <HashedStylesheet options=options.clone() id="flightdeck"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Every page says what it may load and run: scripts only from this site and the inline ones that
/// carry this response's nonce (Leptos puts it on each script it writes), wasm compiled from this
/// site, no plugins, no framing by any page, forms only back to this site. Inline `style`
/// attributes stay allowed: progress bars set their width with one.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Loads, before the page is hydrated, the code its server-rendered HTML needs beyond the main wasm
/// that no lazy route loads (`hydrate_lazy` waits for the routes' own).
#[cfg(feature = "hydrate")]
pub async fn load_for_hydration() {
    pages::board::load_for_hydration().await;
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    live::provide_live_status();
    live::fleet::provide_fleet();
    components::clock::provide_now();
    view! {
        <Title text="Flightdeck"/>
        <Router>
            <Routes fallback=|| view! { <pages::NotFound/> }>
                // Async: the page is sent whole, so it reads fine before (or without) the wasm.
                <Route path=StaticSegment("") view=pages::board::BoardPage ssr=SsrMode::Async/>
                <Route
                    path=(StaticSegment("tasks"), ParamSegment("id"))
                    view={Lazy::<pages::lazy::Task>::new()}
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("agents") view={Lazy::<pages::lazy::Agents>::new()} ssr=SsrMode::Async/>
                <Route
                    path=StaticSegment("approvals")
                    view={Lazy::<pages::lazy::Approvals>::new()}
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("sessions") view={Lazy::<pages::lazy::Sessions>::new()} ssr=SsrMode::Async/>
                <Route
                    path=(StaticSegment("sessions"), ParamSegment("id"))
                    view={Lazy::<pages::lazy::Session>::new()}
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("runs") view={Lazy::<pages::lazy::Runs>::new()} ssr=SsrMode::Async/>
                <Route path=StaticSegment("events") view={Lazy::<pages::lazy::Events>::new()} ssr=SsrMode::Async/>
                <Route
                    path=StaticSegment("settings")
                    view={Lazy::<pages::lazy::Settings>::new()}
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("login") view=pages::login::LoginPage/>
            </Routes>
        </Router>
    }
}
