//! `/settings`: the workspace's approval policy. The rules in order (the first that matches an
//! agent's tool call decides it), each removable or moved up; a form to add one; how long an
//! approval waits for a person and what it answers then. Each change saves the policy whole, as
//! the signed-in admin; everyone else sees it read-only, with the reason.

use leptos::prelude::*;

use super::{live_page, loaded};
use crate::{
    components::header::Header,
    domain::policy::{OnTimeout, Policy, PolicyUpdated, Rule, RuleAction, MAX_TTL_SECONDS},
    server_fns::{
        settings::{get_settings, save_policy, Settings},
        Me, Page,
    },
    topics,
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    loaded("Loading settings…", "the settings", get_settings, |page| view! { <LiveSettings page/> }.into_any())
}

/// Why this person cannot change the policy, if they cannot.
fn why_not(me: &Me) -> Option<String> {
    me.why_not().or_else(|| {
        (me.role != "admin").then(|| format!("Signed in with an {} token: only an admin changes the policy.", me.role))
    })
}

#[component]
fn LiveSettings(page: Page<Settings>) -> impl IntoView {
    let why = why_not(&page.me);
    let settings = live_page(page, vec![topics::APPROVALS.into()], get_settings, |s: &mut Settings, e| s.apply(e));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let disabled = why.is_some();
    // Every change is the policy as it is now, changed, saved whole.
    let save = move |change: Box<dyn FnOnce(&mut Policy) + Send>| {
        let mut policy = settings.with_untracked(|s| s.policy.clone());
        change(&mut policy);
        let payload = PolicyUpdated {
            rules: policy.rules,
            on_timeout: policy.on_timeout,
            ttl_seconds: Some(policy.ttl_seconds),
            by: None,
        };
        let json = serde_json::to_string(&payload).unwrap_or_default();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = save_policy(json).await;
            error.set(
                result.err().map(|e| e.to_string().trim_start_matches("error running server function: ").to_string()),
            );
            busy.set(false);
        });
    };
    let rules = move || settings.with(|s| s.policy.rules.iter().cloned().enumerate().collect::<Vec<_>>());
    view! {
        <Header/>
        <main class="page settings-page">
            <h1>"Settings"</h1>
            <section aria-labelledby="policy-heading">
                <h2 id="policy-heading">"Approval policy"</h2>
                <p class="hint">
                    "When an agent asks to use a tool, the first rule that matches decides: allow, deny, or ask a person. "
                    "A permission request no rule matches is asked. Patterns are globs (* any text), or regular expressions after re:; "
                    "{cwd} is the agent's directory."
                </p>
                {why.clone().map(|r| view! { <p class="why-not" data-testid="why-not">{r}</p> })}
                <ol class="rules" data-testid="rules">
                    <For
                        each=rules
                        key=|(i, rule)| (*i, rule.describe(), rule.reason.clone())
                        children=move |(i, rule)| {
                            let remove = save.clone();
                            let up = save.clone();
                            view! {
                                <li class="rule" data-action=rule.action.as_str()>
                                    <span class="rule-text">{rule.describe()}</span>
                                    {rule.reason.clone().map(|r| view! { <span class="rule-reason">{format!(" — {r}")}</span> })}
                                    <span class="rule-actions">
                                        <button type="button" disabled=move || disabled || busy.get() || i == 0
                                            aria-label=format!("Move rule {} up", i + 1)
                                            on:click=move |_| up(Box::new(move |p: &mut Policy| p.rules.swap(i - 1, i)))>"↑"</button>
                                        <button type="button" disabled=move || disabled || busy.get()
                                            aria-label=format!("Remove rule {}", i + 1)
                                            on:click=move |_| remove(Box::new(move |p: &mut Policy| { p.rules.remove(i); }))>"Remove"</button>
                                    </span>
                                </li>
                            }
                        }
                    />
                </ol>
                <Show when=move || settings.with(|s| s.policy.rules.is_empty())>
                    <p class="empty">"No rules: every permission request waits for a person."</p>
                </Show>
                <NewRule disabled busy save=save.clone()/>
                <Timeout settings disabled busy save/>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {move || settings.with(|s| s.policy.updated_by.clone()).map(|by| view! {
                    <p class="hint">{format!("Last changed by {by}.")}</p>
                })}
            </section>
        </main>
    }
}

/// The form that adds a rule at the end.
#[component]
fn NewRule(
    disabled: bool,
    busy: RwSignal<bool>,
    save: impl Fn(Box<dyn FnOnce(&mut Policy) + Send>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let (tool, input, unless, reason) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let action = RwSignal::new("ask".to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let some = |s: RwSignal<String>| Some(s.get_untracked().trim().to_string()).filter(|s| !s.is_empty());
        let Some(tool_name) = some(tool) else { return };
        let rule = Rule {
            tool: tool_name,
            input: some(input),
            unless: some(unless),
            action: RuleAction::parse(&action.get_untracked()).unwrap_or_default(),
            reason: some(reason),
        };
        save(Box::new(move |p: &mut Policy| p.rules.push(rule)));
        for field in [tool, input, unless, reason] {
            field.set(String::new());
        }
    };
    let field = move |id: &'static str, label: &'static str, value: RwSignal<String>, hint: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input id=id type="text" placeholder=hint disabled=disabled
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        }
    };
    view! {
        <form class="new-rule" on:submit=add aria-label="Add a rule">
            <h3>"Add a rule"</h3>
            {field("rule-tool", "Tools", tool, "Bash, Read|Grep|Glob, mcp__*")}
            {field("rule-input", "Input matches", input, "re:git push|rm ")}
            {field("rule-unless", "Unless it matches", unless, "{cwd}/*")}
            <label for="rule-action">"Then"</label>
            <select id="rule-action" disabled=disabled prop:value=move || action.get()
                on:change=move |ev| action.set(event_target_value(&ev))>
                <option value="allow">"allow"</option>
                <option value="deny">"deny"</option>
                <option value="ask">"ask a person"</option>
            </select>
            {field("rule-reason", "Reason (told to the agent with a deny)", reason, "")}
            <button type="submit" disabled=move || disabled || busy.get()>"Add rule"</button>
        </form>
    }
}

/// How long an approval waits, and what it answers when nobody decided.
#[component]
fn Timeout(
    settings: RwSignal<Settings>,
    disabled: bool,
    busy: RwSignal<bool>,
    save: impl Fn(Box<dyn FnOnce(&mut Policy) + Send>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let ttl = RwSignal::new(settings.with_untracked(|s| s.policy.ttl_seconds.to_string()));
    let then = RwSignal::new(settings.with_untracked(|s| s.policy.on_timeout.as_str().to_string()));
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(seconds) = ttl.get_untracked().trim().parse::<u32>() else { return };
        let on_timeout = if then.get_untracked() == "deny" { OnTimeout::Deny } else { OnTimeout::NoDecision };
        save(Box::new(move |p: &mut Policy| {
            p.ttl_seconds = seconds;
            p.on_timeout = on_timeout;
        }));
    };
    view! {
        <form class="timeout-form" on:submit=apply aria-label="When nobody decides">
            <h3>"When nobody decides"</h3>
            <label for="ttl">{format!("Seconds an approval waits (1 to {MAX_TTL_SECONDS})")}</label>
            <input id="ttl" type="number" min="1" max=MAX_TTL_SECONDS disabled=disabled
                prop:value=move || ttl.get() on:input=move |ev| ttl.set(event_target_value(&ev))/>
            <label for="on-timeout">"Then"</label>
            <select id="on-timeout" disabled=disabled prop:value=move || then.get()
                on:change=move |ev| then.set(event_target_value(&ev))>
                <option value="no_decision">"no decision: the agent asks in its terminal"</option>
                <option value="deny">"deny"</option>
            </select>
            <button type="submit" disabled=move || disabled || busy.get()>"Save"</button>
        </form>
    }
}
