//! `/sessions`: every session; `/sessions/:id`: one session — its activity (a coding agent's tool
//! calls and turns), its chat, live in every open tab, a message box that posts as you, its state
//! and progress, the spec, its approvals with a countdown and Approve / Reject, its sub-agents and
//! the tickets it generated.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{live_or_past, live_page, loaded, past_page, NotFound};
use crate::{
    components::{
        activity::ActivityList,
        approval::ApprovalCard,
        clock::Ago,
        header::Header,
        time::{Pruned, TimeControl},
    },
    domain::{
        session::{Role, SessionKind},
        Seq,
    },
    server_fns::{
        sessions::{get_session, get_session_at, get_sessions, send_message, SessionDetail, SessionList},
        Me, Page, Past,
    },
    topics,
};

#[component]
pub fn SessionsPage() -> impl IntoView {
    loaded("Loading sessions…", "the sessions", get_sessions, |page| view! { <LiveSessions page/> }.into_any())
}

#[component]
fn LiveSessions(page: Page<SessionList>) -> impl IntoView {
    let list = live_page(
        page,
        vec![topics::AGENTS.into(), topics::APPROVALS.into()],
        get_sessions,
        |l: &mut SessionList, e| l.apply(e),
    );
    view! {
        <Header/>
        <main class="page sessions-page">
            <h1>"Sessions"</h1>
            <ul class="session-list">
                <For
                    each=move || list.with(|l| l.sessions.iter().map(|s| (s.clone(), l.waiting(&s.id))).collect::<Vec<_>>())
                    key=|(s, waiting)| (s.id.clone(), s.last_seq, *waiting)
                    children=|(s, waiting)| {
                        let state = s.state.clone().unwrap_or_else(|| if s.is_active() { "active".into() } else { "ended".into() });
                        view! {
                            <li class="session-row" data-session=s.id.clone()>
                                <a href=format!("/sessions/{}", s.id)>{s.title.clone().unwrap_or_else(|| s.id.clone())}</a>
                                <span class="kind">{s.kind.as_str()}</span>
                                <span class="state">{state}</span>
                                {(waiting > 0).then(|| view! { <span class="waiting">{format!("{waiting} awaiting approval")}</span> })}
                                <Ago ts=Signal::stored(Some(s.started_at.clone()))/>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || list.with(|l| l.sessions.is_empty())>
                <p class="empty">"No session has started yet."</p>
            </Show>
        </main>
    }
}

#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    live_or_past(move || live_session(id.get()), move |at, time| past_session(id.get(), at, time))
}

fn live_session(id: String) -> AnyView {
    let ask = id.clone();
    loaded(
        "Loading the session…",
        "the session",
        move || get_session(ask.clone()),
        move |page| match page {
            Page { view: None, .. } => view! { <NotFound/> }.into_any(),
            page => view! { <LiveSession page id=id.clone()/> }.into_any(),
        },
    )
}

#[component]
fn LiveSession(page: Page<Option<SessionDetail>>, id: String) -> impl IntoView {
    let me = page.me.clone();
    let reload_id = id.clone();
    let detail =
        live_page(page, vec![topics::session(&id)], move || get_session(reload_id.clone()), SessionDetail::follow);
    view! {
        <Header/>
        <main class="page session-page">
            <SessionBody detail id me/>
        </main>
    }
}

fn past_session(id: String, at: Seq, time: String) -> AnyView {
    let ask = id.clone();
    let read = move || get_session_at(ask.clone(), at, time.clone());
    loaded("Rebuilding the session…", "the session at that moment", read, move |page| {
        view! { <PastSession page id=id.clone()/> }.into_any()
    })
}

/// The session's page as it was, under the time control; steps go from one of its events to the next.
#[component]
fn PastSession(page: Page<Past<Option<SessionDetail>>>, id: String) -> impl IntoView {
    let (at, reload_id, path) = (page.view.moment.at, id.clone(), format!("/sessions/{id}"));
    let reload = move || get_session_at(reload_id.clone(), at, String::new());
    let past = past_page(page, Some(topics::session(&id)), path.clone(), reload, SessionDetail::follow);
    let body = match past.view {
        Some(detail) => {
            let absent = move || detail.with(Option::is_none);
            let message = format!("Session {id} had not started yet at this moment.");
            view! {
                <Show when=absent>
                    <p class="empty" data-testid="not-yet">{message.clone()}</p>
                </Show>
                <SessionBody detail id me=past.me/>
            }
            .into_any()
        }
        None => view! { <Pruned moment=past.moment.get_untracked() what="this session"/> }.into_any(),
    };
    view! {
        <Header/>
        <main class="page session-page">
            <TimeControl moment=past.moment path player=past.player/>
            {body}
        </main>
    }
}

/// The session's heading, activity, chat and side panels, live or at a past moment.
#[component]
fn SessionBody(detail: RwSignal<Option<SessionDetail>>, id: String, me: Me) -> impl IntoView {
    let session = move || detail.with(|d| d.as_ref().map(|d| d.session.clone()));
    let title = move || session().map(|s| s.title.unwrap_or(s.id)).unwrap_or_default();
    // A design session is a conversation with a spec; any other is an agent at work, whose page
    // leads with what it did.
    let design = move || session().is_some_and(|s| s.kind == SessionKind::Design);
    let state = move || {
        session().map(|s| match (s.state, s.kind, s.outcome) {
            (Some(state), _, _) => state,
            (None, SessionKind::Design, _) => "started".into(),
            (None, _, Some(outcome)) => outcome.as_str().into(),
            (None, _, None) => "running".into(),
        })
    };
    let progress = move || session().and_then(|s| s.progress).unwrap_or(0).min(100);
    let shows_progress = move || design() || session().is_some_and(|s| s.progress.is_some());
    let spec = move || session().and_then(|s| s.spec);
    let shows_spec = move || design() || spec().is_some();
    // An agent still at work can be written to: its next hook carries the message.
    let running = move || session().is_some_and(|s| s.is_active() && s.kind != SessionKind::Design);
    let shows_chat =
        move || design() || running() || detail.with(|d| d.as_ref().is_some_and(|d| !d.messages.is_empty()));
    let shows_activity = move || !design() || detail.with(|d| d.as_ref().is_some_and(|d| !d.activities.is_empty()));
    let (chat_id, chat_me) = (id.clone(), me.clone());
    let activities =
        Signal::derive(move || detail.with(|d| d.as_ref().map(|d| d.activities.clone()).unwrap_or_default()));
    let children = move || detail.with(|d| d.as_ref().map(|d| d.children.clone()).unwrap_or_default());
    let ended = move || session().is_some_and(|s| !s.is_active());
    view! {
            <p class="crumbs"><a href="/sessions">"Sessions"</a> " / " {id.clone()}</p>
            <h1>{title}</h1>
            <p class="status-line">
                <span class="status" data-testid="session-state">{state}</span>
                <Show when=shows_progress>
                    <span class="progress session-progress" role="progressbar" aria-label="Session progress" aria-valuemin="0"
                        aria-valuemax="100" aria-valuenow=progress>
                        <span class="progress-fill" style:width=move || format!("{}%", progress())></span>
                    </span>
                    <span data-testid="session-progress">{move || format!("{}%", progress())}</span>
                </Show>
                {move || session().and_then(|s| s.agent).map(|agent| view! {
                    <a class="session-agent" href=format!("/agents#{agent}")>{agent.clone()}</a>
                })}
                {move || session().and_then(|s| s.parent_id).map(|parent| view! {
                    <span>"sub-agent of "<a href=format!("/sessions/{parent}")>{parent.clone()}</a></span>
                })}
                <Show when=ended>
                    <span class="status" data-testid="session-ended">"ended"</span>
                </Show>
            </p>
            {move || session().and_then(|s| s.message).map(|m| view! { <p class="session-message" data-testid="session-message">{m}</p> })}
            {move || session().map(|s| s.usage).filter(|u| u.input_tokens + u.output_tokens > 0 || u.cost_usd > 0.0).map(|u| view! {
                <p class="session-usage" data-testid="session-usage">
                    {format!("{} tokens in · {} out · ${:.4}", u.input_tokens, u.output_tokens, u.cost_usd)}
                </p>
            })}
            <div class="session-layout">
                <div class="session-main">
                <Show when=shows_activity>
                <section class="session-activity" aria-label="Session activity">
                    <h2>"Activity"</h2>
                    <ActivityList entries=activities empty="No tool call or turn yet."/>
                </section>
                </Show>
                <Show when=shows_chat>
                <section class="chat" aria-label="Chat">
                    <ol class="messages" data-testid="messages">
                        <For
                            each=move || detail.with(|d| d.as_ref().map(|d| d.messages.clone()).unwrap_or_default())
                            key=|m| (m.id.clone(), m.delivered_at.clone())
                            children=move |m| {
                                let delivery = (m.role == Role::Human && !design()).then(|| match &m.delivered_via {
                                    Some(via) => format!("delivered to the agent ({via})"),
                                    None => "waiting for the agent's next hook".to_string(),
                                });
                                view! {
                                    <li class="message" data-role=m.role.as_str() data-stop=m.stop.then_some("true")>
                                        <span class="author">{m.author.clone().unwrap_or_else(|| m.role.as_str().to_string())}</span>
                                        {m.stop.then(|| view! { <span class="stop-mark">"Stop"</span> })}
                                        <p class="text">{m.text.clone()}</p>
                                        <Ago ts=Signal::stored(Some(m.created_at.clone()))/>
                                        {delivery.map(|d| view! { <span class="delivery" data-testid="delivery">{d}</span> })}
                                    </li>
                                }
                            }
                        />
                    </ol>
                    <MessageBox session_id=chat_id.clone() me=chat_me.clone() agent=Signal::derive(running)/>
                </section>
                </Show>
                </div>
                <aside class="session-side">
                    <Show when=shows_spec>
                    <section class="spec-card" aria-label="Spec">
                        <h2>"Spec"</h2>
                        {move || match spec() {
                            Some(serde_json::Value::String(text)) => view! { <p class="spec-text">{text}</p> }.into_any(),
                            Some(value) => view! {
                                <pre class="spec-json" data-testid="spec">{serde_json::to_string_pretty(&value).unwrap_or_default()}</pre>
                            }.into_any(),
                            None => view! { <p class="empty">"No spec yet."</p> }.into_any(),
                        }}
                    </section>
                    </Show>
                    <section aria-label="Approvals">
                        <h2>"Approvals"</h2>
                        <ul class="approvals">
                            {move || {
                                let me = me.clone();
                                detail.with(|d| d.as_ref().map(|d| d.approvals.clone()).unwrap_or_default())
                                    .into_iter()
                                    .rev()
                                    .map(|approval| view! { <ApprovalCard approval me=me.clone()/> })
                                    .collect_view()
                            }}
                        </ul>
                    </section>
                    <Show when=move || !children().is_empty()>
                    <section aria-label="Sub-agents">
                        <h2>"Sub-agents"</h2>
                        <ul class="subagents" data-testid="subagents">
                            {move || children().into_iter().map(|s| {
                                let state = if s.is_active() { "running".to_string() } else {
                                    s.outcome.map_or("ended", |o| o.as_str()).to_string()
                                };
                                view! {
                                    <li><a href=format!("/sessions/{}", s.id)>{s.title.clone().unwrap_or(s.id.clone())}</a>" · "{state}</li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                    </Show>
                    <section aria-label="Tickets">
                        <h2>"Tickets"</h2>
                        <ul class="tickets">
                            {move || detail.with(|d| d.as_ref().map(|d| d.tickets.clone()).unwrap_or_default())
                                .into_iter()
                                .map(|t| view! {
                                    <li><a href=format!("/tasks/{}", t.id)>{t.title.clone()}</a>" · "{t.status.label()}</li>
                                })
                                .collect_view()}
                        </ul>
                    </section>
                </aside>
            </div>
    }
}

/// The box a person writes to the session with; their name goes with the message. To an agent at
/// work it also offers "Stop this agent": its next tool call is denied with the message.
#[component]
fn MessageBox(session_id: String, me: Me, agent: Signal<bool>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let reason = me.why_not();
    let disabled = reason.is_some();
    let post = move |stop: bool| {
        let body = text.get_untracked();
        let body = match (body.trim().is_empty(), stop) {
            (true, false) => return,
            (true, true) => "Stop now.".to_string(),
            (false, _) => body,
        };
        let session_id = session_id.clone();
        leptos::task::spawn_local(async move {
            match send_message(session_id, body, Some(stop)).await {
                Ok(()) => {
                    text.set(String::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let stop = post.clone();
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        post(false);
    };
    let label = move || match agent.get() {
        true => format!("Message the agent as {}", me.name),
        false => format!("Message as {}", me.name),
    };
    view! {
        <form class="message-box" on:submit=send>
            <label for="message">{label}</label>
            <textarea id="message" name="message" rows="2" disabled=disabled
                prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <div class="message-actions">
                <button type="submit" disabled=disabled>"Send"</button>
                <Show when=move || agent.get()>
                    <button type="button" class="stop-agent" disabled=disabled on:click={
                        let stop = stop.clone();
                        move |_| stop(true)
                    }>"Stop this agent"</button>
                </Show>
            </div>
            {reason.map(|r| view! { <p class="why-not">{r}</p> })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
}
