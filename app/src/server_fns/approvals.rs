//! The approvals inbox: every approval still waiting, oldest first (the one expiring soonest is
//! usually on top), then the latest decided.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::Page;
use crate::domain::{approval::Approval, Event, EventBody, Seq};

/// Decided approvals the inbox keeps below the waiting ones.
pub const DECIDED: u32 = 30;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inbox {
    pub seq: Seq,
    /// Waiting, oldest first.
    pub pending: Vec<Approval>,
    /// Decided, newest decision first.
    pub decided: Vec<Approval>,
}

impl crate::wire::Reads for Inbox {
    const READS: u64 =
        crate::wire::kinds(&[crate::domain::EventKind::ApprovalRequested, crate::domain::EventKind::ApprovalResolved]);
}

impl Inbox {
    pub fn apply(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        self.seq = event.seq;
        let at = event.stamp();
        match &event.body {
            EventBody::ApprovalRequested(e) => self.pending.push(Approval::requested(e, &at)),
            EventBody::ApprovalResolved(e) => {
                if let Some(i) = self.pending.iter().position(|a| a.id == e.id) {
                    let mut decided = self.pending.remove(i);
                    decided.apply(&event.body, &at);
                    self.decided.insert(0, decided);
                    self.decided.truncate(DECIDED as usize);
                }
            }
            _ => {}
        }
    }
}

#[server(output = super::JsonAnswer)]
pub async fn get_approvals() -> Result<Page<Inbox>, ServerFnError> {
    use crate::domain::{
        approval::ApprovalStatus,
        entity::{decode_rows, Query},
    };
    let queries = vec![
        Query::all::<Approval>().with_status(&[ApprovalStatus::Pending.as_str()]),
        Query::all::<Approval>()
            .with_status(&[
                ApprovalStatus::Approved.as_str(),
                ApprovalStatus::Rejected.as_str(),
                ApprovalStatus::Timeout.as_str(),
            ])
            .newest(DECIDED),
    ];
    let read = super::ssr::read_page(queries).await?;
    let rows = &read.snapshot.rows;
    let mut decided: Vec<Approval> = decode_rows(&rows[1]).map_err(ServerFnError::new)?;
    decided.sort_by(|a, b| b.last_seq.cmp(&a.last_seq));
    let inbox = Inbox { seq: read.snapshot.seq, pending: decode_rows(&rows[0]).map_err(ServerFnError::new)?, decided };
    Ok(read.page(inbox))
}
