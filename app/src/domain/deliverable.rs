//! Deliverables: what a task produced — a file, a URL or an artifact served from Flightdeck's
//! artifacts directory.

use serde::{Deserialize, Serialize};

use super::{check, entity::Index, generated_id, task::Task, Entity, EntitySet, Invalid, Payload, Seq, Stamp, Step};
use crate::topics;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliverableKind {
    /// A file the agent wrote; downloadable by its name from the artifacts directory.
    File,
    /// A link (http or https only).
    Url,
    /// A file under the workspace's artifacts directory, by its relative path.
    Artifact,
}

impl DeliverableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliverableKind::File => "file",
            DeliverableKind::Url => "url",
            DeliverableKind::Artifact => "artifact",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deliverable {
    pub id: String,
    pub task_id: String,
    pub kind: DeliverableKind,
    pub title: String,
    /// A file path, a URL, or a path relative to the artifacts directory.
    pub path: String,
    pub description: Option<String>,
    pub created_at: String,
    pub seq: Seq,
}

impl Entity for Deliverable {
    const KIND: &'static str = "deliverable";
    fn id(&self) -> &str {
        &self.id
    }
    fn index(&self) -> Index {
        Index { parent: Some(self.task_id.clone()), status: Some(self.kind.as_str().into()), sort: self.seq as i64 }
    }
}

impl Deliverable {
    pub fn added(e: &DeliverableAdded, at: &Stamp) -> Deliverable {
        Deliverable {
            id: e.id.clone().unwrap_or_else(|| generated_id("dlv", at)),
            task_id: e.task_id.clone(),
            kind: e.kind,
            title: e.title.clone(),
            path: e.path.clone(),
            description: e.description.clone(),
            created_at: at.ts.clone(),
            seq: at.seq,
        }
    }

    /// Where the dashboard fetches it: the URL itself, or its place under `/artifacts/`.
    pub fn href(&self) -> Option<String> {
        match self.kind {
            DeliverableKind::Url => Some(self.path.trim().to_string()),
            DeliverableKind::Artifact => Some(format!("/artifacts/{}", self.path.trim_start_matches('/'))),
            DeliverableKind::File => {
                let name = self.path.rsplit(['/', '\\']).next().filter(|n| !n.is_empty())?;
                Some(format!("/artifacts/{name}"))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverableAdded {
    /// `dlv-<seq>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub task_id: String,
    pub kind: DeliverableKind,
    pub title: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Payload for DeliverableAdded {
    fn validate(&self) -> Result<(), Invalid> {
        check::opt_id("id", self.id.as_deref())?;
        check::id("task_id", &self.task_id)?;
        check::required("title", &self.title, check::MAX_TITLE)?;
        check::required("path", &self.path, check::MAX_URL)?;
        check::text("description", self.description.as_deref(), check::MAX_TEXT)?;
        match self.kind {
            DeliverableKind::Url => check::http_url("path", Some(&self.path)),
            DeliverableKind::Artifact if self.path.split('/').any(|part| part == ".." || part == ".") => {
                Err(check::field("path", "an artifact path must not contain `.` or `..` segments"))
            }
            _ => Ok(()),
        }
    }
    fn topics(&self) -> Vec<String> {
        vec![topics::task(&self.task_id)]
    }
    fn task_id(&self) -> Option<&str> {
        Some(&self.task_id)
    }
    fn project(&mut self, set: &mut EntitySet, at: &Stamp) -> Result<(), Step> {
        set.require::<Task>(&self.task_id)?;
        self.id.get_or_insert_with(|| generated_id("dlv", at));
        set.absent::<Deliverable>(self.id.as_deref().unwrap_or_default())?;
        set.put(&Deliverable::added(self, at));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_link() {
        let at = Stamp { seq: 3, ts: "t".into(), by: None };
        let mut e = DeliverableAdded {
            id: None,
            task_id: "t1".into(),
            kind: DeliverableKind::File,
            title: "Test Page".into(),
            path: "~/Documents/Shared/mission-control/test-page.html".into(),
            description: None,
        };
        assert_eq!(Deliverable::added(&e, &at).href().as_deref(), Some("/artifacts/test-page.html"));
        e.kind = DeliverableKind::Artifact;
        e.path = "reports/summary.pdf".into();
        assert_eq!(Deliverable::added(&e, &at).href().as_deref(), Some("/artifacts/reports/summary.pdf"));
        e.path = "../secret".into();
        assert!(e.validate().is_err());
    }
}
