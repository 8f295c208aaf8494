//! A workspace's approval policy: ordered rules that decide an agent's tool call before anyone is
//! asked, how long an approval waits for a person, and what it answers when nobody decided. One per
//! workspace, replaced whole by `policy:updated`, which only an admin may post: an agent must not
//! be able to allow itself everything.
//!
//! A rule names tools (`Bash`, `Read|Grep|Glob`, `mcp__*`) and, optionally, what the call's subject
//! (its command, file or pattern) must match (`input`) and must not match (`unless`): a glob where
//! `*` is any text and `?` one character, or a regular expression after `re:`. `{cwd}` stands for
//! the agent's working directory. The first rule that matches decides.

use serde::{Deserialize, Serialize};

use super::{check, entity::Index, Entity, EntitySet, Invalid, Payload, Seq, Stamp, Step};
use crate::topics;

/// The id of a workspace's one policy.
pub const POLICY_ID: &str = "workspace";

/// How long an approval waits for a person when the policy does not say: five minutes.
pub const DEFAULT_TTL_SECONDS: u32 = 300;
/// Longest a held request may wait: less than the hook timeout `flightdeck hooks` writes (an hour).
pub const MAX_TTL_SECONDS: u32 = 3_000;
const MAX_RULES: usize = 100;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    Allow,
    Deny,
    /// Hold the call for an operator.
    #[default]
    Ask,
}

impl RuleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Allow => "allow",
            RuleAction::Deny => "deny",
            RuleAction::Ask => "ask",
        }
    }

    pub fn parse(text: &str) -> Option<RuleAction> {
        [RuleAction::Allow, RuleAction::Deny, RuleAction::Ask].into_iter().find(|a| a.as_str() == text)
    }
}

/// What a held request answers when its approval times out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// No decision: the agent asks in its own terminal.
    #[default]
    NoDecision,
    Deny,
}

impl OnTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::NoDecision => "no_decision",
            OnTimeout::Deny => "deny",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Tool names, a glob; `|` separates alternatives.
    pub tool: String,
    /// What the call's subject must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// What the call's subject must not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless: Option<String>,
    pub action: RuleAction,
    /// Told to the agent with a deny, and shown with the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Rule {
    /// The rule in a line, as activities and the CLI name it.
    pub fn describe(&self) -> String {
        let mut text = format!("{} {}", self.action.as_str(), self.tool);
        if let Some(input) = &self.input {
            text.push_str(&format!(" matching `{input}`"));
        }
        if let Some(unless) = &self.unless {
            text.push_str(&format!(" unless `{unless}`"));
        }
        text
    }

    fn validate(&self, at: usize) -> Result<(), Invalid> {
        let bad = |reason: String| check::field("rules", format!("rule {}: {reason}", at + 1));
        if self.tool.trim().is_empty() || self.tool.len() > check::MAX_TITLE {
            return Err(bad("`tool` names one or more tools".into()));
        }
        for pattern in [&self.input, &self.unless].into_iter().flatten() {
            if pattern.is_empty() || pattern.len() > check::MAX_TITLE {
                return Err(bad(format!("a pattern must be 1 to {} characters", check::MAX_TITLE)));
            }
        }
        if self.reason.as_ref().is_some_and(|r| r.len() > check::MAX_TITLE) {
            return Err(bad("`reason` is too long".into()));
        }
        #[cfg(feature = "ssr")]
        matching::compile(self, Some("/project")).map_err(bad)?;
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: String,
    pub rules: Vec<Rule>,
    pub on_timeout: OnTimeout,
    pub ttl_seconds: u32,
    pub updated_by: Option<String>,
    pub updated_at: String,
    pub seq: Seq,
    pub last_seq: Seq,
}

impl Default for Policy {
    /// A workspace that never set one: no rules (every permission prompt asks a person), five
    /// minutes to decide, then no decision.
    fn default() -> Policy {
        Policy {
            id: POLICY_ID.into(),
            rules: vec![],
            on_timeout: OnTimeout::NoDecision,
            ttl_seconds: DEFAULT_TTL_SECONDS,
            updated_by: None,
            updated_at: String::new(),
            seq: 0,
            last_seq: 0,
        }
    }
}

impl Entity for Policy {
    const KIND: &'static str = "policy";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: None, status: None, sort: self.seq as i64 }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdated {
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub on_timeout: OnTimeout,
    /// How long an approval waits for a person; five minutes when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    /// Who changed it: filled in from the person signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl Payload for PolicyUpdated {
    fn validate(&self) -> Result<(), Invalid> {
        if self.rules.len() > MAX_RULES {
            return Err(check::field("rules", format!("at most {MAX_RULES} rules")));
        }
        for (at, rule) in self.rules.iter().enumerate() {
            rule.validate(at)?;
        }
        if self.ttl_seconds.is_some_and(|t| t == 0 || t > MAX_TTL_SECONDS) {
            return Err(check::field("ttl_seconds", format!("must be between 1 and {MAX_TTL_SECONDS}")));
        }
        check::name("by", self.by.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        vec![topics::APPROVALS.to_string()]
    }
    fn admin_only(&self) -> bool {
        true
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        if self.by.is_none() {
            self.by = at.by.clone();
        }
        let old = set.get::<Policy>(POLICY_ID)?;
        set.put(&Policy {
            id: POLICY_ID.into(),
            rules: self.rules.clone(),
            on_timeout: self.on_timeout,
            ttl_seconds: self.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS),
            updated_by: self.by.clone(),
            updated_at: at.ts.clone(),
            seq: old.map_or(at.seq, |p| p.seq),
            last_seq: at.seq,
        });
        Ok(())
    }
}

/// Which rule decides a call, matched on the server (the browser never needs the regex engine).
#[cfg(feature = "ssr")]
pub mod matching {
    use regex::Regex;

    use super::{Policy, Rule};

    /// A rule that decided, and where it stands in the list (0-based).
    pub struct Decided<'a> {
        pub at: usize,
        pub rule: &'a Rule,
    }

    impl Policy {
        /// The first rule that matches a call of `tool` about `subject`, in `cwd`.
        pub fn decide(&self, tool: &str, subject: &str, cwd: Option<&str>) -> Option<Decided<'_>> {
            self.rules.iter().enumerate().find_map(|(at, rule)| {
                let matched = match compile(rule, cwd) {
                    Ok(Some(c)) => c.matches(tool, subject),
                    // A rule that names `{cwd}` cannot match a call without one; a bad pattern
                    // was refused when the policy was written.
                    Ok(None) | Err(_) => false,
                };
                matched.then_some(Decided { at, rule })
            })
        }
    }

    pub(super) struct Compiled {
        tool: Regex,
        input: Option<Regex>,
        unless: Option<Regex>,
    }

    impl Compiled {
        fn matches(&self, tool: &str, subject: &str) -> bool {
            self.tool.is_match(tool)
                && self.input.as_ref().is_none_or(|r| r.is_match(subject))
                && !self.unless.as_ref().is_some_and(|r| r.is_match(subject))
        }
    }

    /// The rule's patterns as regular expressions; `None` when one names `{cwd}` and there is none.
    pub(super) fn compile(rule: &Rule, cwd: Option<&str>) -> Result<Option<Compiled>, String> {
        let tools: Vec<String> = rule.tool.split('|').map(|t| glob(t.trim(), "")).collect();
        let tool = cached(&format!("^(?:{})$", tools.join("|"))).map_err(|e| format!("`tool`: {e}"))?;
        let pattern = |text: &Option<String>, name: &str| -> Result<Option<Option<Regex>>, String> {
            let Some(text) = text else { return Ok(Some(None)) };
            if text.contains("{cwd}") && cwd.is_none() {
                return Ok(None);
            }
            let cwd = cwd.unwrap_or("");
            let source = match text.strip_prefix("re:") {
                Some(re) => format!("(?s){}", re.replace("{cwd}", &regex::escape(cwd))),
                None => format!("(?s)^{}$", glob(text, cwd)),
            };
            cached(&source).map(|r| Some(Some(r))).map_err(|e| format!("`{name}`: {e}"))
        };
        let (Some(input), Some(unless)) = (pattern(&rule.input, "input")?, pattern(&rule.unless, "unless")?) else {
            return Ok(None);
        };
        Ok(Some(Compiled { tool, input, unless }))
    }

    /// Patterns compiled once, not at every tool call: each agent's hooks ask for the same few.
    /// Bounded: past this many the cache starts again.
    const CACHED: usize = 1_024;

    fn cached(source: &str) -> Result<Regex, regex::Error> {
        static CACHE: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Regex>>> =
            std::sync::OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(regex) = cache.lock().expect("pattern cache").get(source) {
            return Ok(regex.clone());
        }
        let regex = Regex::new(source)?;
        let mut cache = cache.lock().expect("pattern cache");
        if cache.len() >= CACHED {
            cache.clear();
        }
        cache.insert(source.to_string(), regex.clone());
        Ok(regex)
    }

    /// A glob as a regular expression: `*` any text, `?` one character, `{cwd}` the directory.
    fn glob(text: &str, cwd: &str) -> String {
        text.split("{cwd}")
            .map(|part| {
                let mut out = String::new();
                for c in part.chars() {
                    match c {
                        '*' => out.push_str(".*"),
                        '?' => out.push('.'),
                        c => out.push_str(&regex::escape(&c.to_string())),
                    }
                }
                out
            })
            .collect::<Vec<_>>()
            .join(&regex::escape(cwd))
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn rule(tool: &str, input: Option<&str>, unless: Option<&str>, action: RuleAction) -> Rule {
        Rule { tool: tool.into(), input: input.map(Into::into), unless: unless.map(Into::into), action, reason: None }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let policy = Policy {
            rules: vec![
                rule("Read|Grep|Glob", None, None, RuleAction::Allow),
                rule("Bash", Some("re:git push|rm "), None, RuleAction::Ask),
                rule("Edit|Write", None, Some("{cwd}/*"), RuleAction::Deny),
                rule("Bash", Some("npm *"), None, RuleAction::Allow),
                rule("mcp__*", None, None, RuleAction::Deny),
            ],
            ..Policy::default()
        };
        let at = |tool: &str, subject: &str| policy.decide(tool, subject, Some("/src/shop")).map(|d| d.at);
        assert_eq!(at("Grep", "TODO"), Some(0));
        assert_eq!(at("Bash", "git push origin main"), Some(1));
        assert_eq!(at("Bash", "sudo rm -rf /"), Some(1));
        assert_eq!(at("Bash", "npm test"), Some(3));
        assert_eq!(at("Bash", "make"), None, "nothing matches: nobody decides here");
        assert_eq!(at("Write", "/src/shop/a.rs"), None, "inside the project");
        assert_eq!(at("Write", "/etc/passwd"), Some(2), "outside the project");
        assert_eq!(at("mcp__github__merge", "x"), Some(4));
        assert_eq!(policy.decide("Write", "/etc/passwd", None).map(|d| d.at), None, "no cwd, no {{cwd}} rule");
        assert_eq!(policy.rules[2].describe(), "deny Edit|Write unless `{cwd}/*`");
    }

    #[test]
    fn a_bad_pattern_is_refused_when_written() {
        let bad = PolicyUpdated {
            rules: vec![rule("Bash", Some("re:(unclosed"), None, RuleAction::Ask)],
            ..Default::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("rule 1") && err.contains("input"), "{err}");
        let ttl = PolicyUpdated { ttl_seconds: Some(MAX_TTL_SECONDS + 1), ..Default::default() };
        assert!(ttl.validate().unwrap_err().to_string().contains("ttl_seconds"));
    }
}
