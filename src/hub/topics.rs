//! The set of topics one subscriber follows.

use std::collections::BTreeSet;

/// `events` (or `workspace:<own>`) matches everything; any other topic matches events that carry it.
/// Topics are always within the subscriber's workspace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicSet {
    topics: BTreeSet<String>,
    /// `workspace:<own id>`, which means the same as `events`.
    own_workspace: String,
}

impl TopicSet {
    pub fn new(topics: impl IntoIterator<Item = String>, workspace: &str) -> TopicSet {
        TopicSet { topics: topics.into_iter().collect(), own_workspace: format!("workspace:{workspace}") }
    }

    pub fn everything(&self) -> bool {
        self.topics.contains("events") || self.topics.contains(&self.own_workspace)
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn matches(&self, event_topics: &[String]) -> bool {
        self.everything() || event_topics.iter().any(|t| self.topics.contains(t))
    }

    pub fn remove(&mut self, topics: &[String]) {
        for t in topics {
            self.topics.remove(t);
        }
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// For the log query: `None` when every event matches.
    pub fn filter(&self) -> Option<Vec<String>> {
        (!self.everything()).then(|| self.to_vec())
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.topics.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::TopicSet;

    #[test]
    fn matching() {
        let set = TopicSet::new(["board".to_string()], "default");
        assert!(set.matches(&["board".into(), "task:1".into()]));
        assert!(!set.matches(&["agents".into()]));
        let all = TopicSet::new(["events".to_string()], "default");
        assert!(all.matches(&["agents".into()]));
        assert_eq!(all.filter(), None);
        let own = TopicSet::new(["workspace:default".to_string()], "default");
        assert_eq!(own.filter(), None);
        assert_eq!(set.filter(), Some(vec!["board".to_string()]));
    }
}
