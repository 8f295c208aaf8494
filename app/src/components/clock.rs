//! Times that tick: "12 s ago", a running duration. The server renders the absolute time; once
//! hydrated, one shared ticker makes every such time relative and keeps it moving.

use leptos::prelude::*;

use crate::domain::time;

/// The browser's now, in milliseconds, once a second; `None` on the server and before hydration,
/// so both render the same first frame.
#[derive(Clone, Copy)]
pub struct Now(pub RwSignal<Option<i64>>);

pub fn provide_now() {
    let now = Now(RwSignal::new(None));
    provide_context(now);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        now.0.set(Some(js_sys::Date::now() as i64));
        leptos::task::spawn_local(async move {
            loop {
                gloo_timers::future::sleep(std::time::Duration::from_secs(1)).await;
                now.0.set(Some(js_sys::Date::now() as i64));
            }
        });
    });
}

/// `ts` as "2 m 10 s ago" (or its clock time before hydration).
#[component]
pub fn Ago(#[prop(into)] ts: Signal<Option<String>>) -> impl IntoView {
    let now = expect_context::<Now>().0;
    let text = move || {
        let Some(ts) = ts.get() else { return "never".to_string() };
        match (now.get(), time::millis(&ts)) {
            (Some(now), Some(at)) => format!("{} ago", time::duration(now - at)),
            _ => ts.get(11..19).map_or(ts.clone(), |clock| format!("at {clock} UTC")),
        }
    };
    view! { <time datetime=move || ts.get().unwrap_or_default()>{text}</time> }
}

/// How long from `start` to `end` (or to now while it runs).
pub fn running(now: Option<i64>, start: Option<&str>, end: Option<&str>) -> String {
    let Some(start) = start.and_then(time::millis) else { return "–".into() };
    let end = match end {
        Some(end) => time::millis(end),
        None => now,
    };
    end.map_or("–".into(), |end| time::duration(end - start))
}
