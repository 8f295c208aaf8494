//! The board at a past moment: `/?at=<seq>` rendered by the server from the log, replayed by the
//! board's own reducer; another workspace's events are not in it; pruned history says so.

use reqwest::header;

use crate::common::{task_created, TestServer, TOKEN};

pub async fn page(server: &TestServer, path: &str, token: &str) -> String {
    let response = crate::common::client()
        .get(server.http(path))
        .header(header::COOKIE, format!("fd_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The column a card is rendered in, read off the server's HTML.
fn column_of(html: &str, title: &str) -> Option<String> {
    let at = html.find(title)?;
    let start = html[..at].rfind("data-status=\"")? + "data-status=\"".len();
    Some(html[start..].split('"').next()?.to_string())
}

#[tokio::test]
async fn a_deep_link_renders_the_board_as_it_was() {
    let server = TestServer::start().await;
    let (_, created) = server.post(&task_created("t1", "Ship the feeds")).await;
    let created = created["seqs"][0].as_u64().unwrap();
    let acme = server.token("acme", flightdeck::store::Role::Admin).await;
    let (_, _) = server.post_raw(task_created("x", "Someone else's").to_string().into_bytes(), Some(&acme)).await;
    let moved = serde_json::json!({"type": "task:updated", "payload": {"id": "t1", "status": "in_progress"}});
    let (_, moved) = server.post(&moved).await;
    let moved = moved["seqs"][0].as_u64().unwrap();
    let done = serde_json::json!({"type": "task:completed", "payload": {"id": "t1"}});
    server.post(&done).await;

    let then = page(&server, &format!("/?at={created}"), TOKEN).await;
    assert_eq!(column_of(&then, "Ship the feeds").as_deref(), Some("inbox"), "the card where it was");
    assert!(then.contains(&format!("Seq {created} of")), "the moment is named");
    assert!(then.contains(&format!("href=\"/?at={moved}\"")), "one step forward skips other workspaces' events");
    assert!(!then.contains("Someone else"), "another workspace's events are not replayed");
    let later = page(&server, &format!("/?at={moved}"), TOKEN).await;
    assert_eq!(column_of(&later, "Ship the feeds").as_deref(), Some("in_progress"));
    assert!(later.contains(&format!("href=\"/?at={created}\"")), "and one step back");
    let now = page(&server, "/", TOKEN).await;
    assert_eq!(column_of(&now, "Ship the feeds").as_deref(), Some("done"));
    assert!(!now.contains("Time control"));
}

#[tokio::test]
async fn pruned_history_says_where_it_starts_instead_of_a_wrong_board() {
    let server = TestServer::start_with(|c| {
        c.retain_events = 2;
        c.prune_every_ms = 20;
    })
    .await;
    for i in 0..5 {
        server.post(&task_created(&format!("t{i}"), "T")).await;
    }
    server.until_pruned("default", 3).await;
    let html = page(&server, "/?at=4", TOKEN).await;
    assert!(html.contains("has been pruned"), "{html}");
    assert!(!html.contains("data-testid=\"past-board\""));
}
