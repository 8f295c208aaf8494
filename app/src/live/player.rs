//! Plays a past page forward: the events after its moment, fetched a page at a time, each applied
//! by the page's own live reducer once as much time has passed as passed between it and the one
//! before, divided by the speed. The address follows along, so a reload or a shared link lands
//! where play stopped.

use std::{cell::Cell, collections::VecDeque, rc::Rc, time::Duration};

use gloo_timers::future::sleep;
use leptos::prelude::*;

use crate::{
    components::time::Player,
    domain::{time, Event, Seq},
    live::fleet::AndFleet,
    protocol::ServerFrame,
    server_fns::{get_log_after, Moment},
    wire::{self, Reads},
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
pub fn play<T: Reads + Send + Sync + 'static>(
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

/// A logged event as played: every one moves the moment on; the page applies those it reads.
struct Step {
    seq: Seq,
    ts: String,
    event: Option<Event>,
}

impl Step {
    fn read<T: Reads>(frame: &str) -> Option<Step> {
        match wire::read::<T>(frame) {
            Ok(ServerFrame::Event(event)) => Some(Step { seq: event.seq, ts: event.ts.clone(), event: Some(event) }),
            Ok(ServerFrame::Skipped { seq, ts }) => Some(Step { seq, ts, event: None }),
            Ok(ServerFrame::Control(_)) => None,
            Err(e) => {
                leptos::logging::warn!("flightdeck: unreadable logged event: {e}");
                None
            }
        }
    }
}

impl<T: Reads + Send + Sync + 'static> Run<T> {
    async fn go(self, runs: &Cell<u32>) {
        let current = || runs.get() == self.id && self.player.playing.get_untracked();
        let mut queue: VecDeque<Step> = VecDeque::new();
        let mut burst = 0;
        while current() {
            if queue.is_empty() {
                let after = self.moment.with_untracked(|m| m.at);
                match get_log_after(after, self.topic.clone()).await {
                    // The reader the page's feed has, so that both share one decoder.
                    Ok(frames) if !frames.is_empty() => {
                        queue.extend(frames.iter().filter_map(|f| Step::read::<AndFleet<T>>(f)))
                    }
                    // Nothing after it: this is the present.
                    _ => {
                        self.player.playing.set(false);
                        self.player.caught_up.set(true);
                        return;
                    }
                }
                if queue.is_empty() {
                    // Not one of them readable: stop here rather than ask for them again forever.
                    self.player.playing.set(false);
                    return;
                }
                self.moment.update(|m| m.next = queue.front().map(|s| s.seq));
                continue;
            }
            let Some(Step { seq, ts, event }) = queue.pop_front() else { continue };
            let from = self.moment.with_untracked(|m| m.ts.as_deref().and_then(time::millis));
            let gap = match (from, time::millis(&ts)) {
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
            if let Some(event) = &event {
                self.view.update(|v| (self.apply)(v, event));
            }
            let next = queue.front().map(|s| s.seq);
            self.moment.update(|m| {
                m.previous = Some(m.at);
                (m.at, m.ts, m.next, m.head) = (seq, Some(ts), next, m.head.max(seq));
            });
            if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                let address = format!("{}?at={seq}", self.path);
                let _ = history.replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(&address));
            }
        }
    }
}
