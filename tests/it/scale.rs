//! Several instances on one PostgreSQL database: a client on any instance sees every event, gapless
//! and in order, whichever instance it was posted to; an instance killed mid-ingest loses nothing it
//! acknowledged; a token revoked on one instance closes its sockets on every other.
//!
//! These always run on PostgreSQL (`FLIGHTDECK_TEST_DATABASE`, else the local `test` database).

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use flightdeck::{
    config::ServeConfig,
    server::Running,
    store::{Role, TokenRecord},
};
use serde_json::json;

use crate::common::{task_created, Schema, WsClient, DATABASE_VARIABLE, TOKEN};

async fn shared_database() -> Arc<Schema> {
    let base = std::env::var(DATABASE_VARIABLE)
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://127.0.0.1:5432/test".into());
    Arc::new(Schema::create(&base).await)
}

async fn instance(schema: &Schema, adjust: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut config = ServeConfig::with("127.0.0.1:0".parse().unwrap(), &schema.url());
    config.token = Some(TOKEN.into());
    adjust(&mut config);
    flightdeck::server::start(config).await.expect("instance starts")
}

async fn post(addr: std::net::SocketAddr, body: &serde_json::Value) -> Result<u64, String> {
    let response = crate::common::client()
        .post(format!("http://{addr}/api/events"))
        .bearer_auth(TOKEN)
        .timeout(Duration::from_secs(5))
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    match status.as_u16() {
        201 => Ok(answer["seqs"][0].as_u64().unwrap()),
        _ => Err(answer.to_string()),
    }
}

/// `GET /api/tasks` on an instance with `token`: the status, and the tasks when it gave them.
async fn tasks(addr: std::net::SocketAddr, token: &str) -> (u16, serde_json::Value) {
    let response =
        crate::common::client().get(format!("http://{addr}/api/tasks")).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn clients_on_two_instances_see_every_event_gapless_and_in_order() {
    let schema = shared_database().await;
    let a = instance(&schema, |_| {}).await;
    let b = instance(&schema, |_| {}).await;
    let url = |r: &Running| format!("ws://{}/ws?token={TOKEN}", r.addr);
    let (mut on_a, _) = WsClient::connect_to(&url(&a)).await;
    let (mut on_b, _) = WsClient::connect_to(&url(&b)).await;
    on_a.subscribe(&["board"], None).await;
    on_b.subscribe(&["board"], None).await;

    // Both instances take posts at once: their commits interleave in one log.
    let posts = (0..40).map(|i| {
        let addr = if i % 2 == 0 { a.addr } else { b.addr };
        async move { post(addr, &task_created(&format!("t{i}"), "shared")).await.unwrap() }
    });
    let mut acked: Vec<u64> = futures::future::join_all(posts).await;
    acked.sort();
    assert_eq!(acked, (1..=40).collect::<Vec<_>>(), "gapless seqs across instances");
    let expected: Vec<u64> = (1..=40).collect();
    assert_eq!(on_a.seqs(40).await, expected, "instance A's client: every event, in order");
    assert_eq!(on_b.seqs(40).await, expected, "instance B's client: every event, in order");

    // A resume on B from the middle replays the rest from the log, then goes on live.
    let (mut resumed, _) = WsClient::connect_to(&url(&b)).await;
    resumed.subscribe(&["board"], Some(30)).await;
    post(a.addr, &task_created("late", "after")).await.unwrap();
    assert_eq!(resumed.seqs(11).await, (31..=41).collect::<Vec<_>>());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_token_revoked_on_one_instance_closes_its_sockets_on_the_other() {
    let schema = shared_database().await;
    let a = instance(&schema, |_| {}).await;
    let b = instance(&schema, |c| c.heartbeat_ms = 200).await;
    let viewer = "fd_viewer_token_for_two_instances_0123";
    let record = TokenRecord { id: "v1".into(), workspace: "default".into(), role: Role::Viewer, name: "v".into() };
    a.state.store.create_token(&record, &flightdeck::auth::hash_token(viewer)).await.unwrap();
    let (mut socket, _) = WsClient::connect_to(&format!("ws://{}/ws?token={viewer}", b.addr)).await;
    socket.subscribe(&["board"], None).await;
    assert!(a.state.store.revoke_token("v1").await.unwrap());
    let closed = tokio::time::timeout(Duration::from_secs(5), socket.close_code()).await.expect("closed in time");
    assert_eq!(closed, Some(app::protocol::close::REVOKED));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn every_event_an_instance_acknowledged_before_it_was_killed_reaches_a_client_of_the_survivor() {
    let schema = shared_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut doomed = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--token", TOKEN, "--ingest-burst", "100000"])
        .arg("--database-url")
        .arg(schema.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let doomed_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..200 {
        if reqwest::get(format!("http://{doomed_addr}/readyz")).await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let survivor = instance(&schema, |_| {}).await;

    // Eight agents post to the doomed instance, one event after another, until it is gone.
    let acked = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let agents: Vec<_> = (0..8)
        .map(|agent| {
            let acked = acked.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let body =
                        json!({"type": "task:created", "payload": {"id": format!("a{agent}-{i}"), "title": "x"}});
                    match post(doomed_addr, &body).await {
                        Ok(seq) => {
                            acked.lock().unwrap().insert(seq);
                        }
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doomed.kill().expect("SIGKILL");
    let _ = doomed.wait();
    for agent in agents {
        agent.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // A client of the survivor resumes from the start: every acknowledged event is there, and the
    // log it is served has no hole.
    let head = survivor.state.store.head().await.unwrap();
    let (mut client, _) = WsClient::connect_to(&format!("ws://{}/ws?token={TOKEN}", survivor.addr)).await;
    client.subscribe(&["board"], Some(0)).await;
    let delivered = client.seqs(head as usize).await;
    assert_eq!(delivered, (1..=head).collect::<Vec<_>>(), "gapless and in order");
    let missing: Vec<_> = acked.iter().filter(|seq| !delivered.contains(seq)).collect();
    assert!(missing.is_empty(), "acknowledged but not delivered: {missing:?}");
    assert!(acked.len() >= 200);
    survivor.stop().await;
}

#[tokio::test]
async fn per_token_limits_hold_across_instances() {
    use tokio_tungstenite::{connect_async, tungstenite::Error as WsError};
    let schema = shared_database().await;
    let limited = |c: &mut ServeConfig| {
        c.max_connections_per_token = 2;
        c.ingest_rate = 1;
        c.ingest_burst = 10;
    };
    let a = instance(&schema, limited).await;
    let b = instance(&schema, limited).await;
    let url = |r: &Running| format!("ws://{}/ws?token={TOKEN}", r.addr);

    // Two sockets of one token, one on each instance: its limit is reached on both.
    let (_on_a, _) = WsClient::connect_to(&url(&a)).await;
    let (on_b, _) = WsClient::connect_to(&url(&b)).await;
    for r in [&a, &b] {
        match connect_async(url(r)).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 429),
            other => panic!("expected 429 from {}, got {:?}", r.addr, other.map(|_| ())),
        }
    }
    // A socket closed on B frees the slot for A.
    drop(on_b);
    let mut reopened = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(socket) = connect_async(url(&a)).await {
            reopened = Some(socket);
            break;
        }
    }
    assert!(reopened.is_some(), "the slot closed on B is free on A");

    // The ingest rate is one bucket for the token: 6 events on A and 4 on B take the burst of 10,
    // and the next event is refused by either instance, with nothing stored.
    let batch = |n: usize, from: usize| {
        serde_json::Value::Array((from..from + n).map(|i| task_created(&format!("r{i}"), "rate")).collect())
    };
    post(a.addr, &batch(6, 0)).await.expect("within the burst on A");
    post(b.addr, &batch(4, 6)).await.expect("within the burst on B");
    for r in [&a, &b] {
        let refused = post(r.addr, &task_created("over", "rate")).await.expect_err("over the shared rate");
        assert!(refused.contains("rate_limited"), "{refused}");
    }
    assert_eq!(a.state.store.head().await.unwrap(), 10, "nothing over the rate was stored");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_row_another_instance_changed_is_read_afresh() {
    let schema = shared_database().await;
    let a = instance(&schema, |_| {}).await;
    let b = instance(&schema, |_| {}).await;
    // A commits the task (and may keep its row in memory); B renames it; A moves it on.
    post(a.addr, &task_created("t", "one")).await.unwrap();
    post(b.addr, &json!({"type": "task:updated", "payload": {"id": "t", "title": "two"}})).await.unwrap();
    post(a.addr, &crate::common::task_progress("t", 50)).await.unwrap();

    let (_, tasks) = tasks(b.addr, TOKEN).await;
    assert_eq!(tasks[0]["title"], "two", "A's commit kept B's rename: {tasks}");
    assert_eq!(tasks[0]["progress"], 50, "{tasks}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_instance_builds_on_the_head_it_left_and_commits_under_the_lock_once_another_moved_it() {
    let schema = shared_database().await;
    let a = instance(&schema, |_| {}).await;
    let b = instance(&schema, |_| {}).await;
    // A's first commit takes the head's lock and learns the head; its next two build on it.
    for i in 0..3 {
        assert_eq!(post(a.addr, &task_created(&format!("a{i}"), "a")).await.unwrap(), i + 1);
    }
    // B moves the head. A's next commit, built on seq 3, finds it moved: it writes nothing and is
    // made again under the lock, after B's event.
    assert_eq!(post(b.addr, &task_created("b0", "b")).await.unwrap(), 4);
    assert_eq!(post(a.addr, &task_created("a3", "a")).await.unwrap(), 5);

    let scraped = crate::common::scrape_metrics(format!("http://{}/metrics", a.addr)).await;
    for (path, n) in [("unlocked", 2), ("locked", 2), ("retried", 1)] {
        let line = format!("flightdeck_store_commits_total{{path=\"{path}\"}} {n}");
        assert!(scraped.lines().any(|l| l == line), "{line} in:\n{scraped}");
    }
    // The log holds each event once, at the seq its answer gave, in the order they were posted.
    let logged = a.state.store.read_tail(0, 10, 10).await.unwrap();
    let ids: Vec<(u64, String)> = logged
        .iter()
        .map(|l| {
            let frame: serde_json::Value = serde_json::from_str(&l.frame).unwrap();
            assert_eq!(frame["seq"], l.seq, "{frame}");
            (l.seq, frame["payload"]["id"].as_str().unwrap().to_string())
        })
        .collect();
    let expected: Vec<(u64, String)> =
        [(1, "a0"), (2, "a1"), (3, "a2"), (4, "b0"), (5, "a3")].iter().map(|(s, id)| (*s, id.to_string())).collect();
    assert_eq!(ids, expected);
    a.stop().await;
    b.stop().await;
}

/// Connection slots counted in the shared table, across instances and tokens.
async fn slots_counted(schema: &Schema) -> i64 {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
    sqlx::query_scalar("SELECT COALESCE(SUM(open), 0) FROM open_connections").fetch_one(&mut db).await.unwrap()
}

/// The slots counted once they are `want`, or after 3 s.
async fn slots_counted_become(schema: &Schema, want: i64) -> i64 {
    let mut now = slots_counted(schema).await;
    for _ in 0..60 {
        if now == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = slots_counted(schema).await;
    }
    now
}

#[tokio::test]
async fn an_instance_takes_connection_slots_in_blocks_and_gives_its_spares_back_at_its_heartbeat() {
    use tokio_tungstenite::{connect_async, tungstenite::Error as WsError};
    let schema = shared_database().await;
    // A limit of 128: a block is 2 slots.
    let a = instance(&schema, |c| c.max_connections_per_token = 128).await;
    let b = instance(&schema, |c| c.max_connections_per_token = 128).await;
    let url = |r: &Running| format!("ws://{}/ws?token={TOKEN}", r.addr);
    let counted = || slots_counted(&schema);
    let refused = |r: &Running| {
        let url = url(r);
        async move {
            match connect_async(url).await {
                Err(WsError::Http(response)) => response.status() == 429,
                Err(e) => panic!("expected 429 or a socket, got {e}"),
                Ok(_) => false,
            }
        }
    };

    // A's first socket takes a block of two slots; A's heartbeat (every 2 s) gives the spare back.
    let mut on_a = vec![WsClient::connect_to(&url(&a)).await.0];
    assert_eq!(counted().await, 2);
    assert_eq!(slots_counted_become(&schema, 1).await, 1, "the spare slot went back at A's heartbeat");
    // Just after a heartbeat: about 2 s before the next. A's second socket takes a block again, its
    // third the spare slot, without a statement.
    on_a.push(WsClient::connect_to(&url(&a)).await.0);
    assert_eq!(counted().await, 3);
    on_a.push(WsClient::connect_to(&url(&a)).await.0);
    assert_eq!(counted().await, 3, "the spare slot, without a statement");
    on_a.push(WsClient::connect_to(&url(&a)).await.0);
    assert_eq!(counted().await, 5, "a new block: one slot spare");

    // B fills what is left: 123 sockets. A's spare slot counts, so B is refused with 127 open.
    let url_b = url(&b);
    let on_b: Vec<_> = futures::future::join_all((0..123).map(|_| WsClient::connect_to(&url_b))).await;
    assert_eq!(counted().await, 128);
    assert!(refused(&b).await, "A's spare slot counts against the limit");
    // A's next heartbeat gives it back: B can have it, and then the limit is reached.
    let mut last = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(socket) = connect_async(url(&b)).await {
            last = Some(socket);
            break;
        }
    }
    assert!(last.is_some(), "the spare slot came back at the heartbeat");
    assert!(refused(&a).await && refused(&b).await, "128 open: the limit");

    // Closing B's sockets gives back all but a spare slot at once, and that one at the heartbeat.
    drop(on_b);
    drop(last);
    assert_eq!(slots_counted_become(&schema, 4).await, 4, "A's four sockets");
    drop(on_a);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_instance_takes_ingest_credit_ahead_and_spends_it_without_asking_the_database() {
    use sqlx::Connection;
    let schema = shared_database().await;
    // 20 ms of 5,000 events/s: each lease takes 100 events beyond the request that asks.
    let limited = |c: &mut ServeConfig| {
        c.ingest_rate = 5_000;
        c.ingest_burst = 1_000;
    };
    let a = instance(&schema, limited).await;
    let b = instance(&schema, limited).await;
    let bucket = || async {
        let mut db = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
        sqlx::query_as::<_, (f64, String)>("SELECT tokens, updated::text FROM rate_buckets")
            .fetch_one(&mut db)
            .await
            .unwrap()
    };
    let batch = |n: usize, from: usize| {
        serde_json::Value::Array((from..from + n).map(|i| task_created(&format!("l{i}"), "lease")).collect())
    };

    post(a.addr, &task_created("first", "lease")).await.unwrap();
    let (tokens, taken) = bucket().await;
    assert_eq!(tokens, 1_000.0 - 1.0 - 100.0, "one event and a lease of 100 taken from a full bucket");
    // The lease covers the next 100 events on A: the bucket is not touched.
    post(a.addr, &batch(100, 0)).await.unwrap();
    assert_eq!(bucket().await, (tokens, taken.clone()), "spent from the lease");
    // Spent: the next event takes from the bucket again; so does B, which holds nothing.
    post(a.addr, &task_created("next", "lease")).await.unwrap();
    let (_, again) = bucket().await;
    assert_ne!(again, taken, "A asked the bucket once its lease was spent");
    post(b.addr, &task_created("on-b", "lease")).await.unwrap();
    assert_ne!(bucket().await.1, again, "B counts in the same bucket");
    assert_eq!(a.state.store.head().await.unwrap(), 103);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_token_revoked_on_one_instance_is_refused_at_the_next_request_on_the_other() {
    use sqlx::Connection;
    let schema = shared_database().await;
    let a = instance(&schema, |_| {}).await;
    let b = instance(&schema, |_| {}).await;
    let token = "fd_ingest_token_kept_in_memory_0123456";
    let record = TokenRecord { id: "k1".into(), workspace: "default".into(), role: Role::Ingest, name: "k".into() };
    a.state.store.create_token(&record, &flightdeck::auth::hash_token(token)).await.unwrap();
    let get = |addr| async move { tasks(addr, token).await.0 };
    let mut db = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
    // B checks the token, starts listening for revocations, and keeps the token once it listens.
    assert_eq!(get(b.addr).await, 200);
    for _ in 0..100 {
        let listening: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM token_listeners").fetch_one(&mut db).await.unwrap();
        if listening > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get(b.addr).await, 200);

    assert!(a.state.store.revoke_token("k1").await.unwrap());
    // The revocation returned only once every listening instance had emptied its memory.
    let unheard: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM token_listeners WHERE heard < (SELECT revocations FROM log_state WHERE id = 1)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(unheard, 0);
    assert_eq!(get(b.addr).await, 401, "refused at the very next request on the other instance");
    assert_eq!(get(a.addr).await, 401);

    // A listener that lost its connection may have missed a revocation: the revocation waits for
    // it to listen again (and empty its memory) rather than return while it still answers.
    let second = "fd_ingest_token_kept_in_memory_6543210";
    let record = TokenRecord { id: "k2".into(), ..record };
    a.state.store.create_token(&record, &flightdeck::auth::hash_token(second)).await.unwrap();
    let get = |addr| async move { tasks(addr, second).await.0 };
    assert_eq!(get(b.addr).await, 200);
    assert_eq!(get(b.addr).await, 200);
    let cut: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE query = 'LISTEN \"flightdeck_revocations_' || current_schema() || '\"'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(cut >= 1, "the listeners' connections were cut");
    assert!(a.state.store.revoke_token("k2").await.unwrap());
    assert_eq!(get(b.addr).await, 401, "refused at the next request after a lost listener");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_instance_that_never_confirms_delays_a_revocation_but_does_not_stop_it() {
    use sqlx::Connection;
    let schema = shared_database().await;
    let a = instance(&schema, |_| {}).await;
    let token = "fd_ingest_token_kept_in_memory_9876543";
    let record = TokenRecord { id: "k3".into(), workspace: "default".into(), role: Role::Ingest, name: "k".into() };
    a.state.store.create_token(&record, &flightdeck::auth::hash_token(token)).await.unwrap();
    assert_eq!(tasks(a.addr, token).await.0, 200);
    // An instance that said it was alive a moment ago and then went silent (killed, say).
    let mut db = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
    sqlx::query("INSERT INTO token_listeners (id, heard, seen_at) VALUES ('gone', 0, now())")
        .execute(&mut db)
        .await
        .unwrap();
    let revoked = tokio::time::timeout(Duration::from_secs(10), a.state.store.revoke_token("k3")).await;
    assert!(revoked.expect("the revocation returns once the silent instance's memory has expired").unwrap());
    assert_eq!(tasks(a.addr, token).await.0, 401);
    a.stop().await;
}
