//! Usage: the tokens and money agents' telemetry reports, added up per session, per task and in the
//! workspace's budget. A report is what one request used, or (`cumulative`) the totals so far of
//! one of a session's series (one metric of one model, say); the projection turns the second into
//! what it adds, remembering each series' totals in the session, so every reducer just adds.
//!
//! A session's usage comes from one source: the first that reports it (`otlp-logs`, say). Another
//! source's reports for the same session are logged but add nothing, so a tool that sends both
//! logs and metrics about the same requests is not counted twice.

use serde::{Deserialize, Serialize};

use super::{
    budget::{Budget, WORKSPACE_BUDGET},
    check,
    session::Session,
    task::{Task, Usage},
    EntitySet, EventBody, Invalid, Payload, Stamp, Step,
};
use crate::topics;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReported {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The task it is charged to; filled in from the session when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The values are the totals so far of the session's `series`, not one request's. Logged as
    /// what they added.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cumulative: bool,
    /// Which of the session's running totals a cumulative report continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Where the report comes from: a session counts the first source only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl UsageReported {
    /// What this report adds, once the projection has made it a delta.
    pub fn added(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            cost_usd: self.cost_usd.unwrap_or(0.0),
        }
    }
}

/// Adds `more` to `usage`.
pub fn add(usage: &mut Usage, more: &Usage) {
    usage.input_tokens = usage.input_tokens.saturating_add(more.input_tokens);
    usage.output_tokens = usage.output_tokens.saturating_add(more.output_tokens);
    usage.cost_usd += more.cost_usd;
}

impl Payload for UsageReported {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("session_id", self.session_id.as_deref())?;
        check::opt_id("task_id", self.task_id.as_deref())?;
        check::non_negative("cost_usd", self.cost_usd)?;
        check::opt_word("source", self.source.as_deref())?;
        check::name("model", self.model.as_deref())?;
        check::name("series", self.series.as_deref())?;
        if self.cumulative && self.session_id.is_none() {
            return Err(check::field("cumulative", "totals are a session's: give `session_id`"));
        }
        Ok(())
    }
    fn topics(&self) -> Vec<String> {
        let mut topics = vec![topics::AGENTS.to_string()];
        topics.extend(self.session_id.as_deref().map(topics::session));
        if let Some(task) = &self.task_id {
            topics.extend([topics::BOARD.to_string(), topics::task(task)]);
        }
        topics
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        if let Some(id) = &self.session_id {
            let mut session = set.require::<Session>(id)?;
            let counted = session.usage_source.is_none() || session.usage_source == self.source;
            if !counted {
                (self.input_tokens, self.output_tokens, self.cost_usd) = (None, None, None);
            } else if self.cumulative {
                let totals = session.usage_totals.entry(self.series.clone().unwrap_or_default()).or_default();
                let before = totals.clone();
                // A total below the last one is a restarted series: all of it is new.
                let grew = |total: u64, last: u64| if total >= last { total - last } else { total };
                if let Some(total) = self.input_tokens {
                    (self.input_tokens, totals.input_tokens) = (Some(grew(total, before.input_tokens)), total);
                }
                if let Some(total) = self.output_tokens {
                    (self.output_tokens, totals.output_tokens) = (Some(grew(total, before.output_tokens)), total);
                }
                if let Some(total) = self.cost_usd {
                    let added = if total >= before.cost_usd { total - before.cost_usd } else { total };
                    (self.cost_usd, totals.cost_usd) = (Some(added), total);
                }
            }
            self.cumulative = false;
            if self.task_id.is_none() {
                self.task_id = session.task_id.clone();
            }
            session.apply(&EventBody::UsageReported(self.clone()), at);
            set.put(&session);
        }
        let added = self.added();
        if let Some(task_id) = &self.task_id {
            let mut task = set.require::<Task>(task_id)?;
            task.apply(&EventBody::UsageReported(self.clone()), at);
            set.put(&task);
        }
        let mut budget = set
            .get::<Budget>(WORKSPACE_BUDGET)?
            .unwrap_or_else(|| Budget { id: WORKSPACE_BUDGET.to_string(), ..Budget::default() });
        budget.spent_usd += added.cost_usd;
        budget.input_tokens = budget.input_tokens.saturating_add(added.input_tokens);
        budget.output_tokens = budget.output_tokens.saturating_add(added.output_tokens);
        budget.updated_at = at.ts.clone();
        set.put(&budget);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::{SessionKind, SessionStarted};

    fn stamp(seq: u64) -> Stamp {
        Stamp { seq, ts: format!("2026-01-01T00:00:0{seq}.000Z"), by: None }
    }

    #[test]
    fn totals_become_what_they_add_and_a_second_source_adds_nothing() {
        let mut set = EntitySet::default();
        set.provide("session", "s1".into(), None);
        set.provide("budget", WORKSPACE_BUDGET.into(), None);
        let mut start = SessionStarted {
            id: "s1".into(),
            kind: SessionKind::Persistent,
            title: None,
            task_id: None,
            agent: None,
            parent_id: None,
        };
        start.project(&mut set, &stamp(1)).unwrap();
        let report = |input: u64, cumulative: bool, source: &str| UsageReported {
            session_id: Some("s1".into()),
            input_tokens: Some(input),
            cost_usd: Some(input as f64 / 1000.0),
            cumulative,
            source: Some(source.into()),
            ..Default::default()
        };
        let mut first = report(100, true, "otlp-metrics");
        first.project(&mut set, &stamp(2)).unwrap();
        let mut other_model = UsageReported { series: Some("haiku".into()), ..report(7, true, "otlp-metrics") };
        other_model.project(&mut set, &stamp(3)).unwrap();
        assert_eq!(other_model.input_tokens, Some(7), "each series has its own totals");
        let mut second = report(250, true, "otlp-metrics");
        second.project(&mut set, &stamp(4)).unwrap();
        assert_eq!((second.input_tokens, second.cumulative), (Some(150), false), "logged as what it added");
        let mut other = report(999, false, "otlp-logs");
        other.project(&mut set, &stamp(5)).unwrap();
        assert_eq!(other.input_tokens, None, "another source's report adds nothing");
        let session = set.get::<Session>("s1").unwrap().unwrap();
        assert_eq!((session.usage.input_tokens, session.usage_source.as_deref()), (257, Some("otlp-metrics")));
        let orphan = UsageReported { cumulative: true, input_tokens: Some(1), ..Default::default() };
        assert!(orphan.validate().unwrap_err().to_string().contains("session_id"), "totals are a session's");
        let budget = set.get::<Budget>(WORKSPACE_BUDGET).unwrap().unwrap();
        assert_eq!(budget.input_tokens, 257);
        assert!((budget.spent_usd - 0.257).abs() < 1e-9);
    }
}
