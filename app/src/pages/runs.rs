//! `/runs`: the sprint runner's current batch — its cycles and a timeline chart of who ran what
//! when, live — and the history of batches.

use leptos::prelude::*;

use super::{live_page, loaded};
use crate::{
    components::{
        clock::{running, Now},
        header::Header,
        timeline::RunChart,
    },
    domain::run::{MaxCycles, Runs},
    server_fns::{runs::get_runs, Page},
    topics,
};

#[component]
pub fn RunsPage() -> impl IntoView {
    loaded("Loading runs…", "the runs", get_runs, |page| view! { <LiveRuns page/> }.into_any())
}

#[component]
fn LiveRuns(page: Page<Runs>) -> impl IntoView {
    let runs = live_page(page, vec![topics::RUNS.into()], get_runs, |r: &mut Runs, e| r.apply(e));
    let now = expect_context::<Now>().0;
    let current = move || runs.with(|r| r.current().cloned());
    let summary = move || {
        current().map(|b| {
            let done = match b.max_cycles {
                MaxCycles::Count(n) => format!("{} of {n} cycles done", b.cycles_completed),
                MaxCycles::All(_) => format!("{} cycles done, no limit", b.cycles_completed),
            };
            let cycle = b.cycle.map_or("between cycles".to_string(), |c| format!("cycle {c} running"));
            view! {
                <p class="batch-line" data-testid="batch-line">
                    <span class="status" data-status=b.status.as_str() data-testid="batch-status">{b.status.as_str()}</span>
                    {format!(" Batch {} · {done} · {cycle} · ", b.batch_id)}
                    {move || running(now.get(), Some(&b.started_at), b.ended_at.as_deref())}
                </p>
            }
            .into_any()
        })
    };
    view! {
        <Header/>
        <main class="page runs-page">
            <h1>"Runs"</h1>
            {move || summary().unwrap_or_else(|| view! { <p class="empty">"No batch has run yet."</p> }.into_any())}
            <section aria-label="Timeline" class="chart-scroll">
                {move || view! { <RunChart runs=runs.get() now=Signal::derive(move || now.get())/> }}
            </section>
            <section aria-label="Cycles">
                <h2>"Cycles"</h2>
                <ol class="cycles">
                    {move || runs.with(|r| r.cycles.clone()).into_iter().map(|c| {
                        let done = c.ended_at.is_some();
                        view! {
                            <li class="cycle" data-done=done.to_string()>
                                <strong>{format!("Cycle {}", c.number)}</strong>
                                {format!(" · {} · {}/{} stories done", if done { "ended" } else { "running" },
                                    c.completed_stories.len(), c.story_keys.len())}
                                <span class="stories">{c.story_keys.join(", ")}</span>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            </section>
            <section aria-label="History">
                <h2>"History"</h2>
                <table class="history-table">
                    <thead><tr><th scope="col">"Batch"</th><th scope="col">"Status"</th><th scope="col">"Cycles"</th><th scope="col">"Duration"</th></tr></thead>
                    <tbody>
                        {move || runs.with(|r| r.batches.clone()).into_iter().map(|b| view! {
                            <tr>
                                <td>{b.batch_id}</td>
                                <td class="status" data-status=b.status.as_str()>{b.status.as_str()}</td>
                                <td>{b.cycles_completed}</td>
                                <td>{move || running(now.get(), Some(&b.started_at), b.ended_at.as_deref())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        </main>
    }
}
