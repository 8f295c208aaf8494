//! The documentation is tested: every example in docs/events.md is posted, in order, to a fresh
//! server and must be accepted, and every event type has its section.

use app::domain::EVENT_TYPES;
use serde_json::Value;

use crate::common::TestServer;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect("the doc exists")
}

/// The contents of the ```json blocks, in order.
fn json_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim()) {
            (None, "```json") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => block.push_str(line),
            (None, _) => {}
        }
    }
    blocks
}

#[tokio::test]
async fn every_example_in_the_events_doc_is_accepted() {
    let doc = read("docs/events.md");
    let server = TestServer::start().await;
    let blocks = json_blocks(&doc);
    assert!(blocks.len() >= EVENT_TYPES.len() - 1, "an example per type");
    for block in blocks {
        let body: Value = serde_json::from_str(&block).unwrap_or_else(|e| panic!("{block}: {e}"));
        let (status, answer) = server.post(&body).await;
        assert_eq!(status, 201, "{block}: {answer}");
    }
    for kind in EVENT_TYPES {
        assert!(doc.contains(&format!("### `{kind}`")), "docs/events.md has a section for {kind}");
    }
}
