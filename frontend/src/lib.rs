//! Browser entry point: hydrates the server-rendered page into the live app.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // A page whose code is in a chunk (a past board) waits for it: hydration cannot.
    wasm_bindgen_futures::spawn_local(async {
        app::load_for_hydration().await;
        leptos::mount::hydrate_lazy(app::App);
    });
}
