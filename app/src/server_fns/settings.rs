//! The settings page: the workspace's approval policy, read and replaced whole by an admin.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::Page;
use crate::domain::{policy::Policy, Event, EventBody, Seq};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub seq: Seq,
    pub policy: Policy,
}

impl crate::wire::Reads for Settings {
    const READS: u64 = crate::wire::kinds(&[crate::domain::EventKind::PolicyUpdated]);
}

impl Settings {
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        if let EventBody::PolicyUpdated(e) = &event.body {
            self.policy.rules = e.rules.clone();
            self.policy.on_timeout = e.on_timeout;
            self.policy.ttl_seconds = e.ttl_seconds.unwrap_or(crate::domain::policy::DEFAULT_TTL_SECONDS);
            self.policy.updated_by = e.by.clone();
            self.policy.updated_at = event.ts.clone();
        }
    }
}

#[server(output = super::JsonAnswer)]
pub async fn get_settings() -> Result<Page<Settings>, ServerFnError> {
    use crate::domain::{
        entity::{decode_rows, Query},
        policy::POLICY_ID,
    };
    let read = super::ssr::read_page(vec![Query::one::<Policy>(POLICY_ID)]).await?;
    let policy = decode_rows::<Policy>(&read.snapshot.rows[0]).map_err(ServerFnError::new)?.pop().unwrap_or_default();
    let seq = read.snapshot.seq;
    Ok(read.page(Settings { seq, policy }))
}

/// Replaces the policy as the signed-in person (an admin): `policy` is a `policy:updated` payload
/// as JSON. The server checks every rule and names the one it refuses.
#[server(output = super::JsonAnswer)]
pub async fn save_policy(policy: String) -> Result<(), ServerFnError> {
    let mut updated: crate::domain::policy::PolicyUpdated =
        serde_json::from_str(&policy).map_err(|e| ServerFnError::new(format!("the policy is not valid: {e}")))?;
    updated.by = Some(super::ssr::viewer().await?.name);
    super::ssr::act(vec![EventBody::PolicyUpdated(updated)]).await
}
