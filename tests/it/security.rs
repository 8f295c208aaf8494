//! Who may reach what: login, cookies, origins, workspace isolation, and every limit.

use std::time::Duration;

use crate::common::{task_created, task_progress, TestServer, WsClient, TOKEN};
use flightdeck::store::Role;
use futures::SinkExt;
use leptos::server_fn::ServerFn;
use reqwest::{header, redirect::Policy, Client, StatusCode};
use serde_json::json;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{client::IntoClientRequest, Error as WsError, Message},
};

fn no_redirects() -> Client {
    Client::builder().redirect(Policy::none()).timeout(crate::common::CALL_TIMEOUT).build().unwrap()
}

#[tokio::test]
async fn pages_need_a_login_and_redirect_to_it() {
    let server = TestServer::start().await;
    let response = no_redirects().get(server.http("/?x=1")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/login?next=/%3Fx%3D1");

    let login = no_redirects().get(server.http("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.text().await.unwrap().contains("Access token"));

    let board =
        no_redirects().get(server.http("/")).header(header::COOKIE, format!("fd_token={TOKEN}")).send().await.unwrap();
    assert_eq!(board.status(), StatusCode::OK);
    assert!(board.text().await.unwrap().contains("Active Sub-Agents"));
}

#[tokio::test]
async fn login_sets_an_httponly_cookie_and_logout_clears_it() {
    let server = TestServer::start().await;
    let client = no_redirects();
    let ok = client.post(server.http("/login")).form(&[("token", TOKEN), ("next", "/")]).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let cookie = ok.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("fd_token={TOKEN};")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");

    let bad = client.post(server.http("/login")).form(&[("token", "wrong"), ("next", "/")]).send().await.unwrap();
    assert_eq!(bad.headers()[header::LOCATION], "/login?error=1&next=/");
    assert!(bad.headers().get(header::SET_COOKIE).is_none());

    let offsite = client.post(server.http("/login")).form(&[("token", TOKEN), ("next", "//evil.test")]).send().await;
    assert_eq!(offsite.unwrap().headers()[header::LOCATION], "/", "never redirected off-site");

    let forged = client
        .post(server.http("/login"))
        .header(header::ORIGIN, "http://evil.test")
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let out = client.post(server.http("/logout")).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn server_functions_need_a_login_and_read_only_their_workspace() {
    let server = TestServer::start().await;
    server.post(&task_created("mine", "Default's")).await;
    let acme = server.token("acme", Role::Viewer).await;
    let url = server.http(app::server_fns::board::GetBoard::PATH);

    let anonymous = Client::new().post(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let as_default = Client::new().post(&url).header(header::COOKIE, format!("fd_token={TOKEN}")).send().await.unwrap();
    assert_eq!(as_default.status(), StatusCode::OK);
    assert!(as_default.text().await.unwrap().contains("Default's"));

    let forged = Client::new()
        .post(&url)
        .header(header::COOKIE, format!("fd_token={TOKEN}"))
        .header(header::ORIGIN, "http://evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a cookie request from another origin is refused");

    let as_acme = Client::new().post(&url).header(header::COOKIE, format!("fd_token={acme}")).send().await.unwrap();
    assert_eq!(as_acme.status(), StatusCode::OK);
    assert!(!as_acme.text().await.unwrap().contains("Default's"), "acme cannot read default's board");
}

#[tokio::test]
async fn the_socket_needs_a_valid_token_and_the_right_origin() {
    let server = TestServer::start().await;
    let addr = server.running.addr;
    for url in [format!("ws://{addr}/ws"), format!("ws://{addr}/ws?token=wrong")] {
        match connect_async(&url).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 401, "{url}"),
            other => panic!("{url}: expected 401, got {:?}", other.map(|_| ())),
        }
    }
    // The session cookie works, from the same origin only.
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request.headers_mut().insert("cookie", format!("fd_token={TOKEN}").parse().unwrap());
    request.headers_mut().insert("origin", format!("http://{addr}").parse().unwrap());
    assert!(connect_async(request.clone()).await.is_ok());
    request.headers_mut().insert("origin", "http://evil.test".parse().unwrap());
    match connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_subscriber_sees_only_its_own_workspace() {
    let server = TestServer::start().await;
    let acme_ingest = server.token("acme", Role::Ingest).await;
    let acme_viewer = server.token("acme", Role::Viewer).await;
    let (mut acme, _) = WsClient::connect_to(&format!("ws://{}/ws?token={acme_viewer}", server.running.addr)).await;
    let (mut default, _) = WsClient::connect(&server).await;
    acme.subscribe(&["events"], Some(0)).await;
    default.subscribe(&["board"], Some(0)).await;

    server.post(&task_created("d1", "Default")).await;
    let body = json!([task_created("a1", "Acme"), task_progress("a1", 10)]).to_string().into_bytes();
    assert_eq!(server.post_raw(body, Some(&acme_ingest)).await.0, 201);
    server.post(&task_progress("d1", 20)).await;

    let acme_seqs = acme.seqs(2).await;
    assert_eq!(acme_seqs, vec![2, 3]);
    assert_eq!(default.seqs(2).await, vec![1, 4]);
    assert!(acme.next_json_within(Duration::from_millis(300)).await.is_none());

    let refused = acme.subscribe(&["workspace:default"], Some(0)).await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("bad_topic")));
    assert!(refused["message"].as_str().unwrap().contains("not your workspace"));
    let own = acme.subscribe(&["workspace:acme"], Some(0)).await;
    assert_eq!(own["type"], "subscribed");
    assert_eq!(acme.seqs(2).await, vec![2, 3], "replay of its own workspace only");
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket_with_1009() {
    let server = TestServer::start_with(|c| c.max_frame_bytes = 1_024).await;
    let (mut client, _) = WsClient::connect(&server).await;
    let big = json!({"op": "ping", "id": "x".repeat(4_096)}).to_string();
    let _ = client.stream.send(Message::text(big)).await;
    assert_eq!(client.close_code().await, Some(1009));
}

#[tokio::test]
async fn too_many_topics_is_an_error_frame() {
    let server = TestServer::start_with(|c| c.max_topics = 3).await;
    let (mut client, _) = WsClient::connect(&server).await;
    let answer = client.subscribe(&["task:a", "task:b", "task:c", "task:d"], None).await;
    assert_eq!(answer["code"], "too_many_topics");
    assert_eq!(client.subscribe(&["task:a", "task:b", "task:c"], None).await["type"], "subscribed");
}

#[tokio::test]
async fn too_many_sockets_for_one_token_is_429() {
    let server = TestServer::start_with(|c| c.max_connections_per_token = 2).await;
    let (_one, _) = WsClient::connect(&server).await;
    let (two, _) = WsClient::connect(&server).await;
    match connect_async(server.ws_url()).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    drop(two);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(connect_async(server.ws_url()).await.is_ok(), "a closed socket frees its place");
}

#[tokio::test]
async fn the_ingest_rate_limit_is_429_with_retry_after_and_stores_nothing() {
    let server = TestServer::start_with(|c| {
        c.ingest_rate = 1;
        c.ingest_burst = 3;
    })
    .await;
    let batch = json!([task_created("a", "A"), task_created("b", "B"), task_created("c", "C")]);
    assert_eq!(server.post(&batch).await.0, 201);
    let response = Client::new()
        .post(server.http("/api/events"))
        .bearer_auth(TOKEN)
        .body(task_created("d", "D").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers()[header::RETRY_AFTER].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(server.head().await, 3);
}

#[tokio::test]
async fn an_oversized_body_gets_a_json_413() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 1_024).await;
    let (status, body) = server.post(&json!({"type": "task:created", "payload": {"title": "x".repeat(5_000)}})).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "too_large");
}

/// A GET sent byte for byte, so `..` and `%2e%2e` reach the server as written (HTTP clients
/// normalise them away).
async fn raw_get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.running.addr).await.unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n", server.running.addr);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}

#[tokio::test]
async fn artifacts_are_served_only_from_the_workspace_folder() {
    let outside = tempfile::tempdir().unwrap();
    let root = outside.path().join("artifacts");
    std::fs::create_dir_all(root.join("default/reports")).unwrap();
    std::fs::create_dir_all(root.join("acme")).unwrap();
    std::fs::write(root.join("default/reports/summary.txt"), "all green").unwrap();
    std::fs::write(root.join("acme/secret.txt"), "acme only").unwrap();
    std::fs::write(outside.path().join("outside.txt"), "not an artifact").unwrap();
    std::os::unix::fs::symlink(outside.path().join("outside.txt"), root.join("default/escape")).unwrap();
    let dir = root.clone();
    let server = TestServer::start_with(move |c| c.artifacts_dir = dir).await;

    let (status, body) = raw_get(&server, "/artifacts/reports/summary.txt", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("all green"));
    assert!(body.to_lowercase().contains("content-security-policy: sandbox"), "{body}");

    let (status, body) = raw_get(&server, "/artifacts/reports/summary.txt", None).await;
    assert_eq!(status, 303, "a signed-out browser is sent to the login page");
    assert!(body.contains("location: /login?next=/artifacts/reports/summary.txt"), "{body}");
    assert!(!body.contains("all green"));
    assert_eq!(raw_get(&server, "/artifacts/missing.txt", Some(TOKEN)).await.0, 404);
    assert_eq!(raw_get(&server, "/artifacts/reports", Some(TOKEN)).await.0, 404, "a folder is not a file");
    assert_eq!(raw_get(&server, "/artifacts/secret.txt", Some(TOKEN)).await.0, 404, "acme's file is not default's");
    for traversal in [
        "/artifacts/../acme/secret.txt",
        "/artifacts/reports/../../acme/secret.txt",
        "/artifacts/%2e%2e/acme/secret.txt",
        "/artifacts/..%2f..%2foutside.txt",
        "/artifacts/%2Fetc%2Fpasswd",
        "/artifacts/reports%5c..%5c..%5coutside.txt",
    ] {
        let (status, body) = raw_get(&server, traversal, Some(TOKEN)).await;
        assert!(status == 400 || status == 422, "{traversal}: {status}");
        assert!(!body.contains("acme only") && !body.contains("not an artifact"), "{traversal} leaked");
    }
    let (status, body) = raw_get(&server, "/artifacts/escape", Some(TOKEN)).await;
    assert_eq!(status, 403, "a symlink out of the folder is refused");
    assert!(!body.contains("not an artifact"));
}

#[tokio::test]
async fn revoking_a_token_closes_its_open_sockets_with_4401() {
    let server = TestServer::start_with(|c| c.heartbeat_ms = 200).await;
    let token = server.token("default", Role::Viewer).await;
    let (mut client, _) = WsClient::connect_to(&format!("ws://{}/ws?token={token}", server.running.addr)).await;
    let id = server.running.state.store.list_tokens().await.unwrap().into_iter().last().unwrap().record.id;
    assert!(server.running.state.store.revoke_token(&id).await.unwrap());
    assert_eq!(client.close_code().await, Some(4401));
}

#[tokio::test]
async fn the_session_endpoint_tells_signed_in_from_signed_out() {
    let server = TestServer::start().await;
    let signed_in = Client::new().get(server.http("/api/session")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let body: serde_json::Value = signed_in.json().await.unwrap();
    assert_eq!((body["workspace"].as_str(), body["role"].as_str()), (Some("default"), Some("admin")));
    let signed_out = Client::new().get(server.http("/api/session")).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_workspace_name_cannot_climb_out_of_the_artifacts_folder() {
    let outside = tempfile::tempdir().unwrap();
    let root = outside.path().join("artifacts");
    std::fs::create_dir_all(root.join("default")).unwrap();
    std::fs::write(outside.path().join("fd.db"), "every workspace's log").unwrap();
    let dir = root.clone();
    let server = TestServer::start_with(move |c| c.artifacts_dir = dir).await;
    // `token create` refuses names that are not plain.
    let database = format!("--database-url={}", server.config.database_url);
    for bad in ["..", ".", "../x", "a/b", ".hidden"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["token", "create", "--name", "x", "--role", "viewer", "--workspace", bad, &database])
            .output()
            .unwrap();
        assert!(!output.status.success(), "workspace `{bad}` was accepted");
        assert!(String::from_utf8_lossy(&output.stderr).contains("plain name"), "{bad}");
    }
    // A token stored with such a name before the rule still reads nothing outside its folder.
    let climber = server.token("..", Role::Viewer).await;
    for path in ["/artifacts/fd.db", "/artifacts/artifacts/default", "/artifacts/default"] {
        let (status, body) = raw_get(&server, path, Some(&climber)).await;
        assert!(status == 403 || status == 404, "{path}: {status} {body}");
        assert!(!body.contains("every workspace"), "{path}");
    }
}

#[tokio::test]
async fn only_same_site_paths_follow_a_login() {
    let server = TestServer::start().await;
    for next in ["/\t/evil.test", "/%09/evil.test", "/\n/evil.test", "/\\evil.test", " //evil.test"] {
        let answer =
            no_redirects().post(server.http("/login")).form(&[("token", TOKEN), ("next", next)]).send().await.unwrap();
        let location = answer.headers()[header::LOCATION].to_str().unwrap().to_string();
        let resolved = reqwest::Url::parse("http://127.0.0.1/").unwrap().join(&location).unwrap();
        assert_eq!(resolved.host_str(), Some("127.0.0.1"), "{next:?} led to {location}");
    }
}

#[tokio::test]
async fn pages_carry_a_policy_that_uses_their_nonces_and_forbids_framing() {
    let server = TestServer::start().await;
    let page =
        no_redirects().get(server.http("/")).header(header::COOKIE, format!("fd_token={TOKEN}")).send().await.unwrap();
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = page.text().await.unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("'unsafe-inline'") || policy.contains("style-src-attr 'unsafe-inline'"), "{policy}");
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce in the policy");
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every script carries this response's nonce"
    );
    let login = no_redirects().get(server.http("/login")).send().await.unwrap();
    assert!(login.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
    let again = no_redirects().get(server.http("/login")).send().await.unwrap();
    assert_ne!(
        again.headers()[header::CONTENT_SECURITY_POLICY],
        login.headers()[header::CONTENT_SECURITY_POLICY],
        "a fresh nonce per response"
    );
}

#[tokio::test]
async fn a_workspace_sees_its_own_position_not_the_global_head() {
    let server = TestServer::start().await;
    let other = server.token("other", Role::Ingest).await;
    let (_, mine) = server.post(&task_created("t1", "Mine")).await;
    let mine = mine["seqs"][0].as_u64().unwrap();
    for i in 0..5 {
        let body = task_created(&format!("o{i}"), "Theirs").to_string().into_bytes();
        assert_eq!(server.post_raw(body, Some(&other)).await.0, 201);
    }
    assert_eq!(server.head().await, mine + 5);
    let (_, history) = server.get("/api/events").await;
    assert_eq!(history["head"], mine, "history shows the workspace's own position");
    let (_, hello) = WsClient::connect(&server).await;
    assert_eq!(hello["seq"], mine, "the greeting too: {hello}");
    // Subscribing from it misses nothing of the workspace.
    let (mut socket, _) = WsClient::connect(&server).await;
    socket.subscribe(&["board"], Some(mine)).await;
    server.post(&task_created("t2", "Next")).await;
    assert_eq!(socket.next_json().await["payload"]["id"], "t2");
}

#[tokio::test]
async fn metrics_without_a_valid_token_is_a_401_not_a_redirect() {
    let server = TestServer::start().await;
    for token in [None, Some("wrong")] {
        let mut request = no_redirects().get(server.http("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{token:?}");
    }
    let cookie = no_redirects().get(server.http("/metrics")).header(header::COOKIE, "fd_token=wrong").send().await;
    assert_eq!(cookie.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_pr_link_that_is_not_http_is_refused_at_ingest() {
    let server = TestServer::start().await;
    server.post(&task_created("t1", "Ship")).await;
    for url in ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "ftp://x.test/pr"] {
        let body = json!({"type": "task:updated", "payload": {"id": "t1", "pr_url": url}});
        let (status, answer) = server.post(&body).await;
        assert_eq!(status, 422, "{url}: {answer}");
        assert!(answer.to_string().contains("pr_url"), "{answer}");
    }
    let (status, _) =
        server.post(&json!({"type": "task:completed", "payload": {"id": "t1", "pr_url": "javascript:x"}})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn boolean_settings_take_one_and_zero_as_well_as_true_and_false() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["1", "0", "true", "false", "yes", "off"] {
        // An invalid number stops the server right after its settings are read.
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["serve", "--addr", "127.0.0.1:0", "--max-topics", "0"])
            .arg(format!("--database-url=sqlite://{}", dir.path().join("x.db").display()))
            .env("FLIGHTDECK_DEMO", value)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("--max-topics must be greater than 0"), "FLIGHTDECK_DEMO={value}: {said}");
        assert!(!said.contains("invalid value"), "FLIGHTDECK_DEMO={value}: {said}");
    }
}
