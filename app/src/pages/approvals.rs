//! `/approvals`: the inbox of every approval in the workspace, live. Waiting ones first, oldest
//! first, each with its countdown, the tool call in full and the decision; then the latest decided.

use leptos::prelude::*;

use super::{live_page, loaded};
use crate::{
    components::{approval::ApprovalCard, header::Header},
    server_fns::{
        approvals::{get_approvals, Inbox},
        Page,
    },
    topics,
};

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    loaded("Loading approvals…", "the approvals", get_approvals, |page| view! { <LiveInbox page/> }.into_any())
}

#[component]
fn LiveInbox(page: Page<Inbox>) -> impl IntoView {
    let me = page.me.clone();
    let inbox = live_page(page, vec![topics::APPROVALS.into()], get_approvals, |i: &mut Inbox, e| i.apply(e));
    let waiting = move || inbox.with(|i| i.pending.len());
    let decided_me = me.clone();
    view! {
        <Header/>
        <main class="page approvals-page">
            <h1>"Approvals"</h1>
            <p class="hint" data-testid="waiting">
                {move || match waiting() {
                    0 => "Nothing is waiting for a decision.".to_string(),
                    1 => "1 waiting for a decision.".to_string(),
                    n => format!("{n} waiting for a decision, oldest first."),
                }}
            </p>
            <ul class="approvals inbox" aria-label="Waiting">
                <For
                    each=move || inbox.with(|i| i.pending.clone())
                    key=|a| (a.id.clone(), a.last_seq)
                    children=move |approval| view! { <ApprovalCard approval me=me.clone() link=true/> }
                />
            </ul>
            <Show when=move || inbox.with(|i| !i.decided.is_empty())>
                <h2>"Decided"</h2>
            </Show>
            <ul class="approvals decided" aria-label="Decided">
                <For
                    each=move || inbox.with(|i| i.decided.clone())
                    key=|a| (a.id.clone(), a.last_seq)
                    children=move |approval| view! { <ApprovalCard approval me=decided_me.clone() link=true/> }
                />
            </ul>
        </main>
    }
}
