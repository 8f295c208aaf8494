//! One export's spans linked into trees: each span's parent in the export, its nearest
//! `invoke_agent` ancestor, and whether its whole ancestry is in the export. Built without
//! recursion in time and memory linear in the number of spans, whatever the spans claim: a span
//! that is its own parent, or a cycle of parents, is cut where the walk finds it.

use std::collections::HashMap;

use opentelemetry_proto::tonic::trace::v1::Span;

/// Where a walk up the parents has been: not yet, on the current path, or settled.
#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    OnPath,
    Done,
}

pub struct Forest<'a> {
    /// Each span with the service that sent it.
    pub spans: Vec<(String, &'a Span)>,
    /// Whether the span is an agent's (`invoke_agent`).
    pub is_agent: Vec<bool>,
    /// The span's parent in this export (none for a root, a missing parent, or a cut cycle).
    pub parent: Vec<Option<usize>>,
    /// The nearest `invoke_agent` ancestor in this export.
    pub home: Vec<Option<usize>>,
    /// How many agent spans are above it in this export.
    pub depth: Vec<usize>,
    /// The span's ancestry ends at the trace's root inside this export: nothing above it is
    /// still to come.
    pub rooted: Vec<bool>,
    /// When the ancestry leaves the export: the id of the first ancestor not in it.
    pub waiting_for: Vec<Option<Vec<u8>>>,
}

impl<'a> Forest<'a> {
    pub fn link(spans: Vec<(String, &'a Span)>, is_agent: impl Fn(&Span) -> bool) -> Forest<'a> {
        let n = spans.len();
        let index: HashMap<(&[u8], &[u8]), usize> =
            spans.iter().enumerate().map(|(i, (_, s))| ((s.trace_id.as_slice(), s.span_id.as_slice()), i)).collect();
        let agent: Vec<bool> = spans.iter().map(|(_, s)| is_agent(s)).collect();
        // The parent each span names, when it is in the export (and is not the span itself).
        let named: Vec<Option<usize>> = spans
            .iter()
            .map(|(_, s)| match s.parent_span_id.is_empty() {
                true => None,
                false => index.get(&(s.trace_id.as_slice(), s.parent_span_id.as_slice())).copied(),
            })
            .collect();
        let mut parent: Vec<Option<usize>> = named.iter().enumerate().map(|(i, p)| p.filter(|&p| p != i)).collect();
        let mut forest = Forest {
            is_agent: agent,
            parent: Vec::new(),
            home: vec![None; n],
            depth: vec![0; n],
            rooted: vec![false; n],
            waiting_for: vec![None; n],
            spans,
        };
        let mut mark = vec![Mark::New; n];
        let mut path = Vec::new();
        for start in 0..n {
            // Up the parents until a settled span, a root, or the path itself (a cycle, cut there).
            let mut at = Some(start);
            while let Some(node) = at {
                if mark[node] != Mark::New {
                    break;
                }
                mark[node] = Mark::OnPath;
                path.push(node);
                at = match parent[node] {
                    Some(p) if mark[p] == Mark::OnPath => {
                        parent[node] = None;
                        None
                    }
                    other => other,
                };
            }
            // Then back down, each span settled from its settled parent.
            while let Some(node) = path.pop() {
                forest.settle(node, parent[node], named[node].is_some());
                mark[node] = Mark::Done;
            }
        }
        forest.parent = parent;
        forest
    }

    /// `in_export`: the parent the span names is in this export (so a span without `parent` here
    /// is a root or a cut cycle, not one waiting for its parent).
    fn settle(&mut self, node: usize, parent: Option<usize>, in_export: bool) {
        let span = self.spans[node].1;
        match parent {
            Some(p) => {
                self.home[node] = if self.is_agent[p] { Some(p) } else { self.home[p] };
                self.rooted[node] = self.rooted[p];
                self.waiting_for[node] = self.waiting_for[p].clone();
            }
            // A root, a span whose parent is not in this export, or the end of a cut cycle.
            None => {
                let missing = !span.parent_span_id.is_empty() && !in_export;
                self.rooted[node] = !missing;
                self.waiting_for[node] = missing.then(|| span.parent_span_id.clone());
            }
        }
        self.depth[node] = self.home[node].map_or(0, |h| self.depth[h] + 1);
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn span(&self, i: usize) -> &'a Span {
        self.spans[i].1
    }

    pub fn service(&self, i: usize) -> &str {
        &self.spans[i].0
    }

    /// The trace's outermost agent: no agent above it, and nothing above it still to come.
    pub fn is_trace_agent(&self, i: usize) -> bool {
        self.is_agent[i] && self.home[i].is_none() && self.rooted[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u8, parent: Option<u8>, agent: bool) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: if agent { "invoke_agent".into() } else { "work".into() },
            ..Default::default()
        }
    }

    fn link(spans: &[Span]) -> Forest<'_> {
        Forest::link(spans.iter().map(|s| ("svc".to_string(), s)).collect(), |s| s.name == "invoke_agent")
    }

    #[test]
    fn spans_find_their_agent_whatever_the_order() {
        // tool(4) → chat(3) → agent(2) → http root(1), sent child first.
        let spans = [span(4, Some(3), false), span(3, Some(2), false), span(2, Some(1), true), span(1, None, false)];
        let forest = link(&spans);
        assert_eq!(forest.home, vec![Some(2), Some(2), None, None]);
        assert!(forest.rooted.iter().all(|r| *r));
        assert!(forest.is_trace_agent(2), "the agent under an HTTP root is the trace's");
        assert_eq!(forest.depth[0], 1);
    }

    #[test]
    fn a_missing_parent_is_waited_for_and_cycles_are_cut() {
        let spans = [span(5, Some(9), false), span(6, Some(6), true), span(7, Some(8), true), span(8, Some(7), false)];
        let forest = link(&spans);
        assert_eq!(forest.waiting_for[0], Some(vec![9; 8]));
        assert!(!forest.rooted[0]);
        assert!(forest.is_trace_agent(1), "its own parent: cut, a root");
        // 7 ↔ 8: one edge is cut, and each has at most the other as its agent.
        assert!(forest.parent[2].is_none() || forest.parent[3].is_none());
        assert!(forest.home[2].is_none());
    }

    #[test]
    fn a_deep_chain_is_linear() {
        let spans: Vec<Span> = (0..20_000u32)
            .map(|i| Span {
                trace_id: vec![1; 16],
                span_id: i.to_be_bytes().repeat(2),
                parent_span_id: if i == 0 { vec![] } else { (i - 1).to_be_bytes().repeat(2) },
                name: "invoke_agent".into(),
                ..Default::default()
            })
            .collect();
        let forest = Forest::link(spans.iter().rev().map(|s| ("svc".to_string(), s)).collect(), |_| true);
        assert_eq!(forest.depth[0], 19_999, "the deepest, sent first");
        assert_eq!(forest.home[0], Some(1));
    }
}
