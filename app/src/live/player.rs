//! Plays a past page forward: the events after its moment, fetched a page at a time, each applied
//! by the page's own live reducer once as much time has passed as passed between it and the one
//! before, divided by the speed. The address follows along, so a reload or a shared link lands
//! where play stopped.

use std::{cell::Cell, collections::VecDeque, rc::Rc, time::Duration};

use gloo_timers::future::sleep;
use leptos::prelude::*;

use crate::{
    components::time::Player,
    domain::{time, Event},
    server_fns::{get_log_after, Moment},
};

/// The longest wait between two events, however quiet the log was between them: a long pause
/// plays as a short one.
const MAX_WAIT_MS: f64 = 2_000.0;
/// Waits are slept in slices this long, so a pause or a new speed counts at once.
const SLICE_MS: f64 = 50.0;
/// Events applied back to back before the page gets a frame to draw them.
const BURST: u32 = 50;

/// Starts playing whenever the control's play button is pressed, until it is pressed again or
/// play reaches the present.
pub fn play<T: Send + Sync + 'static>(
    player: Player,
    moment: RwSignal<Moment>,
    view: RwSignal<T>,
    topic: String,
    path: String,
    apply: fn(&mut T, &Event),
) {
    // Each press starts a run of its own; an older one still sleeping sees it is stale and stops.
    let runs = Rc::new(Cell::new(0_u32));
    Effect::new(move |_| {
        if !player.playing.get() {
            return;
        }
        runs.set(runs.get() + 1);
        let run = Run { player, moment, view, topic: topic.clone(), path: path.clone(), apply, id: runs.get() };
        let runs = runs.clone();
        leptos::task::spawn_local_scoped_with_cancellation(async move { run.go(&runs).await });
    });
}

struct Run<T: Send + Sync + 'static> {
    player: Player,
    moment: RwSignal<Moment>,
    view: RwSignal<T>,
    topic: String,
    path: String,
    apply: fn(&mut T, &Event),
    id: u32,
}

impl<T: Send + Sync + 'static> Run<T> {
    async fn go(self, runs: &Cell<u32>) {
        let current = || runs.get() == self.id && self.player.playing.get_untracked();
        let mut queue: VecDeque<Event> = VecDeque::new();
        let mut burst = 0;
        while current() {
            if queue.is_empty() {
                let after = self.moment.with_untracked(|m| m.at);
                match get_log_after(after, self.topic.clone()).await {
                    Ok(events) if !events.is_empty() => queue.extend(events),
                    // Nothing after it: this is the present.
                    _ => {
                        self.player.playing.set(false);
                        self.player.caught_up.set(true);
                        return;
                    }
                }
                self.moment.update(|m| m.next = queue.front().map(|e| e.seq));
                continue;
            }
            let Some(event) = queue.front().cloned() else { continue };
            let from = self.moment.with_untracked(|m| m.ts.as_deref().and_then(time::millis));
            let gap = match (from, time::millis(&event.ts)) {
                (Some(from), Some(to)) => (to - from).max(0) as f64,
                _ => 0.0,
            };
            let (mut played, mut waited) = (0.0, 0.0);
            while played < gap && waited < MAX_WAIT_MS && current() {
                let speed = f64::from(self.player.speed.get_untracked().max(1));
                let slice = SLICE_MS.min((gap - played) / speed).max(1.0);
                sleep(Duration::from_millis(slice as u64)).await;
                (played, waited) = (played + slice * speed, waited + slice);
            }
            if !current() {
                return;
            }
            if waited == 0.0 {
                burst += 1;
                if burst >= BURST {
                    burst = 0;
                    sleep(Duration::from_millis(16)).await;
                }
            }
            queue.pop_front();
            self.view.update(|v| (self.apply)(v, &event));
            let next = queue.front().map(|e| e.seq);
            self.moment.update(|m| {
                m.previous = Some(m.at);
                (m.at, m.ts, m.next, m.head) = (event.seq, Some(event.ts.clone()), next, m.head.max(event.seq));
            });
            if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                let address = format!("{}?at={}", self.path, event.seq);
                let _ = history.replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(&address));
            }
        }
    }
}
