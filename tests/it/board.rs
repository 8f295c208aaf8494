//! The board of a big fleet: the page carries in full only the cards it draws, every other task in
//! brief, and a column fetches the rest by id when it comes to show them.

use reqwest::header;
use serde_json::{json, Value};

use crate::common::{client, TestServer, TOKEN};

fn created(i: usize) -> Value {
    json!({"type": "task:created", "payload": {"id": format!("b{i}"), "title": format!("Task {i}"), "description": format!("Details #{i}#")}})
}

async fn fetch(server: &TestServer, ids: &[String]) -> (u16, String) {
    let form: Vec<(String, String)> = ids.iter().enumerate().map(|(i, id)| (format!("ids[{i}]"), id.clone())).collect();
    let response = client()
        .post(server.http("/api/board/tasks"))
        .header(header::COOKIE, format!("fd_token={TOKEN}"))
        .form(&form)
        .send()
        .await
        .expect("the board's fetch answers");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_board_page_carries_its_drawn_cards_in_full_and_fetches_the_rest_by_id() {
    let server = TestServer::start().await;
    let (status, _) = server.post(&json!((0..60).map(created).collect::<Vec<_>>())).await;
    assert_eq!(status, 201);
    let page = client().get(server.http("/")).header(header::COOKIE, format!("fd_token={TOKEN}")).send().await.unwrap();
    let html = page.text().await.unwrap();
    // Inbox draws its 20 newest cards, b59 down to b40, and counts the other 40.
    assert!(html.contains(r#"data-task-id="b59""#) && html.contains(r#"data-task-id="b40""#));
    assert!(!html.contains(r#"data-task-id="b39""#));
    assert!(html.contains("+ 40 older"), "the count covers every task");
    // The drawn ones ride in full (their descriptions), the others only in brief (titles, no more).
    assert!(html.contains("Details #40#"));
    assert!(html.contains("Task 0") && !html.contains("Details #0#") && !html.contains("Details #39#"));

    let (status, body) = fetch(&server, &["b3".into(), "b39".into(), "nowhere".into()]).await;
    assert_eq!(status, 200, "{body}");
    let tasks: Vec<Value> = serde_json::from_str(&body).unwrap();
    let got: Vec<(&str, &str)> =
        tasks.iter().map(|t| (t["id"].as_str().unwrap(), t["description"].as_str().unwrap())).collect();
    assert_eq!(got.len(), 2, "an unknown id is left out: {body}");
    assert!(got.contains(&("b3", "Details #3#")) && got.contains(&("b39", "Details #39#")));

    let too_many: Vec<String> = (0..201).map(|i| format!("b{i}")).collect();
    let (status, body) = fetch(&server, &too_many).await;
    assert!(status >= 400, "{status}");
    assert!(body.contains("at most 200 tasks"), "{body}");
}
