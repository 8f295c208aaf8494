//! The time control of a page shown at a past moment: where it is in the log, a step back or
//! forward among the page's own events, play at 1×–60× their pace, a slider over every seq, a
//! jump to a time, and the way back to Live.
//!
//! Every move but play is a link or a plain form, so it works before the wasm loads and
//! server-renders the moment it goes to; once hydrated, the router makes them moves without a reload.

use leptos::prelude::*;
use leptos_router::components::A;

use super::clock::Ago;
use crate::{domain::Seq, server_fns::Moment};

/// The speeds play offers: 1× is the pace the events were committed at.
pub const SPEEDS: [u32; 6] = [1, 2, 5, 10, 30, 60];

/// What a page's query asks for: a seq (`?at=`), or a time (`?time=`) that the server turns into
/// the seq of the last event at or before it. `None`: the page is live.
pub fn asked(query: &leptos_router::params::ParamsMap) -> Option<(Seq, String)> {
    let time = query.get("time").filter(|t| !t.trim().is_empty());
    let at = query.get("at").and_then(|s| s.trim().parse::<Seq>().ok());
    match (at, time) {
        (None, None) => None,
        (at, time) => Some((at.unwrap_or(0), time.unwrap_or_default())),
    }
}

/// Play's state, shared by the control and the page that plays.
#[derive(Clone, Copy)]
pub struct Player {
    pub playing: RwSignal<bool>,
    pub speed: RwSignal<u32>,
    /// Set once play has reached the present.
    pub caught_up: RwSignal<bool>,
}

impl Player {
    pub fn new() -> Player {
        Player { playing: RwSignal::new(false), speed: RwSignal::new(SPEEDS[0]), caught_up: RwSignal::new(false) }
    }
}

impl Default for Player {
    fn default() -> Self {
        Player::new()
    }
}

/// `path` is the page's own address (`/`, `/tasks/t1`), which every move keeps.
#[component]
pub fn TimeControl(moment: RwSignal<Moment>, path: String, player: Player) -> impl IntoView {
    let at = move || moment.with(|m| m.at.min(m.head));
    let head = move || moment.with(|m| m.head);
    let ts = Signal::derive(move || moment.with(|m| m.ts.clone()));
    let href = {
        let path = path.clone();
        move |seq: Seq| format!("{path}?at={seq}")
    };
    let step = |to: fn(&Moment) -> Option<Seq>, label: &'static str, rel: &'static str| {
        let href = href.clone();
        move || match moment.with(to) {
            Some(seq) => view! { <A href=href(seq) attr:rel=rel attr:class="step">{label}</A> }.into_any(),
            None => view! { <span class="step disabled" aria-disabled="true">{label}</span> }.into_any(),
        }
    };
    // Plain forms, so they work before the wasm loads; once it has, the router goes there instead.
    let go = {
        let path = path.clone();
        #[cfg(feature = "hydrate")]
        let navigate = leptos_router::hooks::use_navigate();
        move |field: &str, value: String| {
            let address = format!("{path}?{field}={value}");
            #[cfg(feature = "hydrate")]
            navigate(&address, Default::default());
            #[cfg(not(feature = "hydrate"))]
            let _ = address;
        }
    };
    let (seq_field, time_field) = (NodeRef::<leptos::html::Input>::new(), NodeRef::<leptos::html::Input>::new());
    let (go_seq, go_time, scrub) = (go.clone(), go.clone(), go);
    let on_seq = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go_seq("at", seq_field.get().map(|i| i.value()).unwrap_or_default());
    };
    let on_time = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go_time("time", time_field.get().map(|i| i.value()).unwrap_or_default());
    };
    // `datetime-local` takes `YYYY-MM-DDTHH:MM:SS`, the log's timestamp without its fraction.
    let typed = move || ts.get().and_then(|t| t.get(..19).map(str::to_string)).unwrap_or_default();
    let (scrub_path, time_path, live_path) = (path.clone(), path.clone(), path);
    view! {
        <section class="time-control" aria-label="Time control" data-testid="time-control">
            <p class="moment">
                <strong data-testid="moment">{move || format!("Seq {} of {}", at(), head())}</strong>
                {move || ts.get().map(|_| view! { " · " <Ago ts/> })}
            </p>
            <div class="steps">
                {step(|m| m.previous, "◀ Back one event", "prev")}
                <button
                    type="button"
                    class="play"
                    data-testid="play"
                    aria-pressed=move || player.playing.get().to_string()
                    on:click=move |_| {
                        player.caught_up.set(false);
                        player.playing.update(|p| *p = !*p);
                    }
                >
                    {move || if player.playing.get() { "❚❚ Pause" } else { "▶ Play" }}
                </button>
                <label class="speed">
                    "Speed"
                    <select
                        name="speed"
                        data-testid="speed"
                        on:change=move |ev| player.speed.set(event_target_value(&ev).parse().unwrap_or(SPEEDS[0]))
                    >
                        {SPEEDS
                            .iter()
                            .map(|s| view! { <option value=s.to_string() selected=move || player.speed.get() == *s>{format!("{s}×")}</option> })
                            .collect_view()}
                    </select>
                </label>
                {step(|m| m.next, "Forward one event ▶", "next")}
            </div>
            <form method="get" action=scrub_path class="scrub" on:submit=on_seq>
                <label>
                    "Seq"
                    <input type="range" name="at" min="0" max=move || head().to_string() prop:value=move || at().to_string()
                        node_ref=seq_field on:change=move |ev| scrub("at", event_target_value(&ev))/>
                </label>
                <button type="submit">"Go"</button>
            </form>
            <form method="get" action=time_path class="jump" on:submit=on_time>
                <label>
                    "Time (UTC)"
                    <input type="datetime-local" name="time" step="1" data-testid="jump-time" prop:value=typed
                        node_ref=time_field/>
                </label>
                <button type="submit">"Go"</button>
            </form>
            <Show when=move || player.caught_up.get()>
                <p class="caught-up" role="status">"Played up to the present."</p>
            </Show>
            <A href=live_path attr:class="live-link" attr:data-testid="back-to-live">"Return to Live"</A>
        </section>
    }
}

/// What a page at a pruned moment says instead of a wrong page.
#[component]
pub fn Pruned(moment: Moment, what: &'static str) -> impl IntoView {
    let (upto, earliest) = moment.pruned.unwrap_or_default();
    view! {
        <p class="empty" data-testid="history-starts" role="status">
            {format!(
                "The log up to seq {upto} has been pruned, so {what} at seq {} cannot be rebuilt. History starts at seq {earliest}.",
                moment.at
            )}
            " "
            <a href=format!("?at={earliest}")>{format!("Go to seq {earliest}")}</a>
        </p>
    }
}
