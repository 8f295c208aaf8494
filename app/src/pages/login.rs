//! Sign-in: a token is exchanged for an HttpOnly cookie by `POST /login` (a plain form, so it works
//! before and without the wasm).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let failed = move || query.with(|q| q.get("error").is_some());
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/".to_string()));
    view! {
        <main class="login">
            <form class="login-card" method="post" action="/login">
                <h1>"Flightdeck"</h1>
                <p class="login-hint">"Sign in with an access token (" <code>"flightdeck token create"</code> ")."</p>
                <label for="token">"Access token"</label>
                <input id="token" name="token" type="password" autocomplete="current-password" required autofocus/>
                <label for="name">"Your name " <span class="optional">"(on your messages and decisions)"</span></label>
                <input id="name" name="name" type="text" autocomplete="name" maxlength="64"/>
                <input type="hidden" name="next" value=next/>
                <Show when=failed>
                    <p class="error" role="alert">"That token is not valid, or it has been revoked."</p>
                </Show>
                <button type="submit">"Sign in"</button>
            </form>
        </main>
    }
}
