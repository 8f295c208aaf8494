//! Toasts: a task failed, a pull request opened, an agent asks for approval (with Approve / Deny
//! right on it, from any page). Announced to screen readers, dismissed by hand.

use leptos::prelude::*;

use super::approval::{send, Verdict};
use crate::live::fleet::{Fleet, Toast};

#[component]
pub fn Toasts() -> impl IntoView {
    let fleet = expect_context::<Fleet>();
    view! {
        <section class="toasts" aria-label="Notifications" aria-live="assertive" role="log">
            <For
                each=move || fleet.toasts.get()
                key=|toast| toast.id
                children=move |toast| view! { <ToastView toast fleet/> }
            />
        </section>
    }
}

#[component]
fn ToastView(toast: Toast, fleet: Fleet) -> impl IntoView {
    let id = toast.id;
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let decide = move |approval: String, verdict: Verdict| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            match send(approval, verdict, String::new(), None).await {
                Ok(()) => fleet.dismiss(id),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let buttons = toast.approval.clone().map(|approval| {
        let (yes, no) = (approval.clone(), approval);
        view! {
            <span class="toast-decide">
                <button type="button" class="approve" disabled=move || busy.get()
                    on:click=move |_| decide(yes.clone(), Verdict::Approve)>"Approve"</button>
                <button type="button" class="reject" disabled=move || busy.get()
                    on:click=move |_| decide(no.clone(), Verdict::Deny)>"Deny"</button>
            </span>
        }
    });
    view! {
        <div class="toast" data-kind=toast.kind.as_str() data-testid="toast">
            <a href=toast.href.clone()>{toast.text.clone()}</a>
            {buttons}
            <button type="button" class="dismiss" aria-label="Dismiss" on:click=move |_| fleet.dismiss(id)>
                "×"
            </button>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </div>
    }
}
