//! The timeline chart of a batch: one row per story, one bar per command from its start to its end
//! (or to now while it runs), coloured by status. Plain SVG, so it renders on the server too.

use leptos::prelude::*;

use crate::domain::{run::Runs, time};

const WIDTH: f64 = 960.0;
const GUTTER: f64 = 120.0;
const ROW: f64 = 30.0;
const AXIS: f64 = 24.0;

/// A bar's colour class: what its status means.
fn tone(status: &str) -> &'static str {
    match status {
        "running" => "running",
        "success" | "succeeded" | "done" | "completed" | "passed" => "success",
        "error" | "failed" | "failure" | "timeout" => "error",
        _ => "other",
    }
}

#[component]
pub fn RunChart(runs: Runs, #[prop(into)] now: Signal<Option<i64>>) -> impl IntoView {
    let mut stories: Vec<String> = Vec::new();
    for c in &runs.commands {
        if !stories.contains(&c.story_key) {
            stories.push(c.story_key.clone());
        }
    }
    let start = runs.current().and_then(|b| time::millis(&b.started_at));
    let ended = runs.current().and_then(|b| b.ended_at.as_deref().and_then(time::millis));
    // The right edge: the batch's end, else now, else (on the server) the last thing that happened.
    let last_seen = runs
        .commands
        .iter()
        .flat_map(|c| [Some(&c.started_at), c.ended_at.as_ref()])
        .flatten()
        .filter_map(|t| time::millis(t))
        .max();
    let height = AXIS + ROW * stories.len().max(1) as f64;
    let label = format!("Timeline of {} commands over {} stories", runs.commands.len(), stories.len());
    let chart = move || {
        let (Some(start), Some(end)) =
            (start, ended.or(now.get()).or(last_seen).map(|e| e.max(start.unwrap_or(e) + 1000)))
        else {
            return view! { <text x="8" y="20" class="chart-empty">"No commands yet"</text> }.into_any();
        };
        let span = (end - start).max(1) as f64;
        let x = |ms: i64| GUTTER + (WIDTH - GUTTER - 8.0) * ((ms - start).max(0) as f64 / span);
        let right_now = now.get().or(last_seen).unwrap_or(end);
        let rows = stories
            .iter()
            .enumerate()
            .map(|(i, story)| {
                let y = AXIS + ROW * i as f64;
                view! {
                    <text x="4" y=y + ROW * 0.65 class="chart-story">{story.clone()}</text>
                    <line x1=GUTTER y1=y + ROW x2=WIDTH y2=y + ROW class="chart-rule"/>
                }
            })
            .collect_view();
        let bars = runs
            .commands
            .iter()
            .filter_map(|c| {
                let row = stories.iter().position(|s| *s == c.story_key)?;
                let from = time::millis(&c.started_at)?;
                let to = c.ended_at.as_deref().and_then(time::millis).unwrap_or(right_now).max(from);
                let (x0, x1) = (x(from), x(to).max(x(from) + 3.0));
                let y = AXIS + ROW * row as f64 + 4.0;
                let title = format!("{} · {} · {} · {}", c.story_key, c.command, c.status, time::duration(to - from));
                Some(view! {
                    <g class="bar" data-status=tone(&c.status) data-command=c.command.clone()>
                        <title>{title}</title>
                        <rect x=x0 y=y width=x1 - x0 height=ROW - 8.0 rx="3"/>
                        // A label only where it fits inside its bar.
                        {(x1 - x0 > 7.0 * c.command.len() as f64 + 8.0).then(|| view! {
                            <text x=x0 + 4.0 y=y + ROW * 0.5 class="bar-label">{c.command.clone()}</text>
                        })}
                    </g>
                })
            })
            .collect_view();
        let ticks = (0..=4)
            .map(|i| {
                let at = start + (span as i64) * i / 4;
                view! { <text x=x(at) y="14" class="chart-tick">{time::duration(at - start)}</text> }
            })
            .collect_view();
        view! { {ticks}{rows}{bars} }.into_any()
    };
    view! {
        <svg class="run-chart" viewBox=format!("0 0 {WIDTH} {height}") role="img" aria-label=label
            preserveAspectRatio="xMinYMin meet" data-testid="run-chart">
            {chart}
        </svg>
    }
}
