//! A task's page, `/tasks/:id`: Overview, Activity, Deliverables and Sessions tabs, all live.
//! The tabs are links (`?tab=`), so they work before and without the wasm too. `?at=<seq>` (or
//! `?time=`) shows the page as it was then, under the time control.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{live_or_past, live_page, loaded, past_page, NotFound};
use crate::{
    components::{
        activity::ActivityList,
        approval::ApprovalCard,
        card::PrLink,
        clock::{running, Ago, Now},
        header::Header,
        task_actions::{ActionNotice, Controls, TaskActions},
        time::{Pruned, TimeControl},
    },
    domain::{deliverable::DeliverableKind, Seq},
    server_fns::{
        task::{get_task, get_task_at, TaskDetail},
        Moment, Page, Past,
    },
    topics,
};

const TABS: &[(&str, &str)] = &[
    ("overview", "Overview"),
    ("activity", "Activity"),
    ("deliverables", "Deliverables"),
    ("sessions", "Sessions"),
    ("approvals", "Approvals"),
];

#[component]
pub fn TaskPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    live_or_past(move || live_task(id.get()), move |at, time| past_task(id.get(), at, time))
}

fn live_task(id: String) -> AnyView {
    let ask = id.clone();
    loaded(
        "Loading the task…",
        "the task",
        move || get_task(ask.clone()),
        move |page| match page {
            Page { view: None, .. } => view! { <NotFound/> }.into_any(),
            page => view! { <LiveTask page id=id.clone()/> }.into_any(),
        },
    )
}

#[component]
fn LiveTask(page: Page<Option<TaskDetail>>, id: String) -> impl IntoView {
    if let Some(d) = &page.view {
        expect_context::<crate::live::fleet::Fleet>().learn_titles([(d.task.id.as_str(), d.task.title.as_str())]);
    }
    let me = page.me.clone();
    let reload_id = id.clone();
    let detail = live_page(page, vec![topics::task(&id)], move || get_task(reload_id.clone()), TaskDetail::follow);
    view! {
        <Header/>
        <main class="page task-page">
            <TaskBody detail id me moment=None/>
        </main>
    }
}

fn past_task(id: String, at: Seq, time: String) -> AnyView {
    let ask = id.clone();
    let read = move || get_task_at(ask.clone(), at, time.clone());
    loaded("Rebuilding the task…", "the task at that moment", read, move |page| {
        view! { <PastTask page id=id.clone()/> }.into_any()
    })
}

/// The task's page as it was, under the time control; steps go from one of its events to the next.
#[component]
fn PastTask(page: Page<Past<Option<TaskDetail>>>, id: String) -> impl IntoView {
    let (at, reload_id, path) = (page.view.moment.at, id.clone(), format!("/tasks/{id}"));
    let reload = move || get_task_at(reload_id.clone(), at, String::new());
    let past = past_page(page, Some(topics::task(&id)), path.clone(), reload, TaskDetail::follow);
    let body = match past.view {
        Some(detail) => view! { <TaskBody detail id me=past.me moment=Some(past.moment)/> }.into_any(),
        None => view! { <Pruned moment=past.moment.get_untracked() what="this task"/> }.into_any(),
    };
    view! {
        <Header/>
        <main class="page task-page">
            <TimeControl moment=past.moment path player=past.player/>
            {body}
        </main>
    }
}

/// The task's heading and tabs, live or at a past moment (whose seq the tabs then keep).
#[component]
fn TaskBody(
    detail: RwSignal<Option<TaskDetail>>,
    id: String,
    me: crate::server_fns::Me,
    moment: Option<RwSignal<Moment>>,
) -> impl IntoView {
    let query = use_query_map();
    let tab =
        move || query.with(|q| q.get("tab")).filter(|t| TABS.iter().any(|(k, _)| k == t)).unwrap_or("overview".into());
    let title = move || detail.with(|d| d.as_ref().map(|d| d.task.title.clone()).unwrap_or_default());
    let status = move || detail.with(|d| d.as_ref().map(|d| d.task.status));
    let absent = move || detail.with(Option::is_none);
    // Only the live page acts: a past moment shows what was.
    let controls = moment.is_none().then(|| Controls::new(&me));
    let tab_href = move |key: &str| match moment {
        Some(m) => format!("?at={}&tab={key}", m.with(|m| m.at)),
        None => format!("?tab={key}"),
    };
    view! {
        <p class="crumbs"><a href="/">"Board"</a> " / " {id.clone()}</p>
        <h1>{title}</h1>
        <Show when=absent>
            <p class="empty" data-testid="not-yet">{format!("Task {id} did not exist yet at this moment.")}</p>
        </Show>
        <p class="status-line">
            <span class="status" data-status=move || status().map(|s| s.as_str()).unwrap_or_default() data-testid="task-status">
                {move || status().map(|s| s.label()).unwrap_or_default()}
            </span>
            {move || detail.with(|d| d.as_ref().map(|d| d.task.attempt)).filter(|a| *a > 1).map(|a| view! {
                <span class="attempt">{format!(" attempt {a}")}</span>
            })}
        </p>
        {controls.map(|controls| view! { <ActionNotice controls/> })}
        <nav class="tabs" role="tablist" aria-label="Task sections">
            {TABS
                .iter()
                .map(|(key, label)| {
                    let selected = move || (tab() == *key).to_string();
                    view! {
                        <a role="tab" href=move || tab_href(key) aria-selected=selected id=format!("tab-{key}")>
                            {*label}
                            <TabCount key detail/>
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        <section class="tab-panel" role="tabpanel" aria-labelledby=move || format!("tab-{}", tab())>
            {move || match tab().as_str() {
                "activity" => view! { <Activity detail/> }.into_any(),
                "deliverables" => view! { <Deliverables detail/> }.into_any(),
                "sessions" => view! { <Sessions detail/> }.into_any(),
                "approvals" => view! { <Approvals detail me=me.clone()/> }.into_any(),
                _ => view! { <Overview detail controls/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn TabCount(key: &'static str, detail: RwSignal<Option<TaskDetail>>) -> impl IntoView {
    let count = move || {
        detail.with(|d| {
            let d = d.as_ref()?;
            match key {
                "activity" => Some(d.activities.len()),
                "deliverables" => Some(d.deliverables.len()),
                "sessions" => Some(d.sessions.len()),
                "approvals" => Some(d.approvals.len()),
                _ => None,
            }
        })
    };
    move || count().map(|n| view! { <span class="count">{n}</span> })
}

#[component]
fn Overview(detail: RwSignal<Option<TaskDetail>>, controls: Option<Controls>) -> impl IntoView {
    let now = expect_context::<Now>().0;
    let task = move || detail.with(|d| d.as_ref().map(|d| d.task.clone()));
    let field = move |f: fn(&crate::domain::task::Task) -> Option<String>| {
        move || task().and_then(|t| f(&t)).unwrap_or_else(|| "–".into())
    };
    let duration =
        move || task().map(|t| running(now.get(), t.started_at.as_deref(), t.ended_at.as_deref())).unwrap_or_default();
    let progress = move || task().map_or(0, |t| t.progress.min(100));
    let usage = move || {
        task()
            .map(|t| format!("{} in · {} out · ${:.2}", t.usage.input_tokens, t.usage.output_tokens, t.usage.cost_usd))
    };
    let badge =
        move || detail.with(|d| d.as_ref().and_then(|d| d.agent.clone())).filter(|b| b.health.as_str() != "healthy");
    let error = move || task().and_then(|t| t.error);
    view! {
        {move || error().map(|e| view! {
            <section class="error-details" role="alert" aria-label="Error details">
                <h2>"Error"</h2>
                <p class="error-message">{e.message.clone()}</p>
                <p class="error-kind">{format!("Kind: {}", e.group())}</p>
                {e.context.map(|c| view! { <pre class="error-context">{serde_json::to_string_pretty(&c).unwrap_or_default()}</pre> })}
            </section>
        })}
        <dl class="overview">
            <dt>"Progress"</dt>
            <dd>
                <div class="progress" role="progressbar" aria-label="Progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=progress>
                    <div class="progress-fill" style:width=move || format!("{}%", progress())></div>
                </div>
                <span data-testid="progress">{move || format!("{}%", progress())}</span>
                {move || task().and_then(|t| t.phase).map(|p| view! { <span class="phase">{p}</span> })}
            </dd>
            <dt>"Latest"</dt>
            <dd data-testid="message">{field(|t| t.message.clone())}</dd>
            <dt>"Agent"</dt>
            <dd>
                {field(|t| t.assignee.clone())}
                {move || badge().map(|b| view! {
                    <span class="card-health" data-health=b.health.as_str()>
                        {format!(" ⚠ {} — {}", b.health.as_str(), b.reason.unwrap_or_default())}
                    </span>
                })}
            </dd>
            <dt>"Pull request"</dt>
            <dd>{move || match task().and_then(|t| t.pr_url) {
                Some(url) => view! { <PrLink url/> }.into_any(),
                None => "–".into_any(),
            }}</dd>
            <dt>"Branch"</dt>
            <dd>{field(|t| t.branch.clone())}</dd>
            <dt>"VM"</dt>
            <dd data-testid="vm">{field(|t| t.vm_id.clone())}</dd>
            <dt>"Duration"</dt>
            <dd>{duration}</dd>
            <dt>"Tokens"</dt>
            <dd>{usage}</dd>
            <dt>"Created"</dt>
            <dd><Ago ts=Signal::derive(move || task().map(|t| t.created_at))/></dd>
            <dt>"Summary"</dt>
            <dd>{field(|t| t.summary.clone())}</dd>
        </dl>
        {controls.map(|controls| {
            let agents = Signal::derive(move || detail.with(|d| d.iter().filter_map(|d| d.task.assignee.clone()).collect()));
            view! { <TaskActions task=Signal::derive(task) controls agents/> }
        })}
    }
}

#[component]
fn Activity(detail: RwSignal<Option<TaskDetail>>) -> impl IntoView {
    let entries = Signal::derive(move || detail.with(|d| d.as_ref().map(|d| d.activities.clone()).unwrap_or_default()));
    view! { <ActivityList entries empty="Nothing has happened yet."/> }
}

#[component]
fn Deliverables(detail: RwSignal<Option<TaskDetail>>) -> impl IntoView {
    let items = move || detail.with(|d| d.as_ref().map(|d| d.deliverables.clone()).unwrap_or_default());
    view! {
        <ul class="deliverables" aria-label="Deliverables">
            <For
                each=items
                key=|d| d.id.clone()
                children=|d| {
                    let href = d.href().filter(|h| h.starts_with('/') || crate::components::safe_http_url(h).is_some());
                    let download = d.kind != DeliverableKind::Url;
                    view! {
                        <li class="deliverable" data-kind=d.kind.as_str()>
                            <span class="kind">{d.kind.as_str()}</span>
                            {match href {
                                Some(href) => view! {
                                    <a href=href.clone() target="_blank" rel="noopener noreferrer">{d.title.clone()}</a>
                                    {download.then(|| view! { <a class="download" href=href download="">"Download"</a> })}
                                }.into_any(),
                                None => view! { <span>{d.title.clone()}</span> }.into_any(),
                            }}
                            <code class="path">{d.path.clone()}</code>
                            {d.description.clone().map(|t| view! { <p class="description">{t}</p> })}
                        </li>
                    }
                }
            />
        </ul>
        <Show when=move || items().is_empty()>
            <p class="empty">"No deliverables yet."</p>
        </Show>
    }
}

#[component]
fn Sessions(detail: RwSignal<Option<TaskDetail>>) -> impl IntoView {
    let now = expect_context::<Now>().0;
    let sessions = move || detail.with(|d| d.as_ref().map(|d| d.sessions.clone()).unwrap_or_default());
    view! {
        <table class="sessions">
            <thead>
                <tr><th scope="col">"Session"</th><th scope="col">"Kind"</th><th scope="col">"Agent"</th><th scope="col">"Status"</th><th scope="col">"Duration"</th></tr>
            </thead>
            <tbody>
                <For
                    each=sessions
                    key=|s| (s.id.clone(), s.last_seq)
                    children=move |s| {
                        let status = match (s.outcome, s.is_active()) {
                            (_, true) => "active".to_string(),
                            (Some(o), false) => o.as_str().to_string(),
                            (None, false) => "ended".to_string(),
                        };
                        let (start, end) = (s.started_at.clone(), s.ended_at.clone());
                        view! {
                            <tr data-session=s.id.clone()>
                                <td>{s.id.clone()}</td>
                                <td>{s.kind.as_str()}</td>
                                <td>{s.agent.clone().unwrap_or_default()}</td>
                                <td class="session-status" data-status=status.clone()>{status.clone()}</td>
                                <td>{move || running(now.get(), Some(&start), end.as_deref())}</td>
                            </tr>
                        }
                    }
                />
            </tbody>
        </table>
    }
}

#[component]
fn Approvals(detail: RwSignal<Option<TaskDetail>>, me: crate::server_fns::Me) -> impl IntoView {
    let approvals = move || detail.with(|d| d.as_ref().map(|d| d.approvals.clone()).unwrap_or_default());
    view! {
        <ul class="approvals">
            {move || {
                let me = me.clone();
                approvals().into_iter().rev().map(|approval| view! { <ApprovalCard approval me=me.clone()/> }).collect_view()
            }}
        </ul>
        <Show when=move || approvals().is_empty()>
            <p class="empty">"No approval was asked about this task."</p>
        </Show>
    }
}
