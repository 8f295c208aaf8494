//! Budgets: what the fleet (or one task) has spent against its limit, in money and tokens.

use serde::{Deserialize, Serialize};

use super::{check, task::Task, Entity, EntitySet, EventBody, Invalid, Payload, Stamp, Step};
use crate::{domain::task::Usage, topics};

/// The budget an update without an `id` is about.
pub const WORKSPACE_BUDGET: &str = "workspace";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub id: String,
    pub spent_usd: f64,
    pub limit_usd: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub updated_at: String,
}

impl Entity for Budget {
    const KIND: &'static str = "budget";
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetUpdated {
    /// Which budget: `workspace` when absent, or a name of the caller's choosing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub spent_usd: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// When the spend is one task's, its token usage is set from this update too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl BudgetUpdated {
    /// The token usage this update reports, for the task it names.
    pub fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            cost_usd: self.spent_usd,
        }
    }
}

impl Payload for BudgetUpdated {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("id", self.id.as_deref())?;
        check::non_negative("spent_usd", Some(self.spent_usd))?;
        check::non_negative("limit_usd", self.limit_usd)?;
        check::opt_id("task_id", self.task_id.as_deref())
    }
    fn topics(&self) -> Vec<String> {
        match &self.task_id {
            Some(task_id) => vec![topics::BOARD.to_string(), topics::task(task_id)],
            None => vec![topics::AGENTS.to_string()],
        }
    }
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        if let Some(task_id) = &self.task_id {
            let mut task = set.require::<Task>(task_id)?;
            task.apply(&EventBody::BudgetUpdated(self.clone()), at);
            set.put(&task);
        }
        let id = self.id.clone().unwrap_or_else(|| WORKSPACE_BUDGET.to_string());
        let budget = Budget {
            id,
            spent_usd: self.spent_usd,
            limit_usd: self.limit_usd,
            input_tokens: self.input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            updated_at: at.ts.clone(),
        };
        set.put(&budget);
        Ok(())
    }
}
