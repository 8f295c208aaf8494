//! Pages the browser loads the code of when it first shows one (`cargo leptos build --split`):
//! the board, the page most visits start on, comes with the main bundle; each other page's
//! views and decoders come in a chunk of their own. On the server nothing changes.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

macro_rules! lazy_pages {
    ($($route:ident => $page:path,)+) => {$(
        /// The route of a page whose code loads on demand.
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                $page().into_any()
            }
        }
    )+};
}

lazy_pages! {
    Task => super::task::TaskPage,
    Agents => super::agents::AgentsPage,
    Approvals => super::approvals::ApprovalsPage,
    Sessions => super::sessions::SessionsPage,
    Session => super::sessions::SessionPage,
    Runs => super::runs::RunsPage,
    Events => super::events::EventsPage,
    Settings => super::settings::SettingsPage,
}
