//! Toasts: a task failed, a pull request opened. Announced to screen readers, dismissed by hand.

use leptos::prelude::*;

use crate::live::fleet::Fleet;

#[component]
pub fn Toasts() -> impl IntoView {
    let fleet = expect_context::<Fleet>();
    view! {
        <section class="toasts" aria-label="Notifications" aria-live="assertive" role="log">
            <For
                each=move || fleet.toasts.get()
                key=|toast| toast.id
                children=move |toast| {
                    let id = toast.id;
                    view! {
                        <div class="toast" data-kind=toast.kind.as_str() data-testid="toast">
                            <a href=toast.href.clone()>{toast.text.clone()}</a>
                            <button type="button" class="dismiss" aria-label="Dismiss" on:click=move |_| fleet.dismiss(id)>
                                "×"
                            </button>
                        </div>
                    }
                }
            />
        </section>
    }
}
