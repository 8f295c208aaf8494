//! `flightdeck token create|list|revoke`, and what each role may do.

use crate::common::{task_created, TestServer};
use clap::Parser;
use flightdeck::config::{Cli, Command, TokenAction, TokenCommand};

async fn token_cli(server: &TestServer, args: &[&str]) -> anyhow::Result<String> {
    let mut argv = vec!["flightdeck", "token"];
    argv.extend_from_slice(args);
    let Command::Token(mut command) = Cli::try_parse_from(argv)?.into_command() else { unreachable!() };
    command.database_url = server.config.database_url.clone();
    let mut out = Vec::new();
    flightdeck::cli::token::run(command, &mut out).await?;
    Ok(String::from_utf8(out)?)
}

#[tokio::test]
async fn a_created_token_works_until_it_is_revoked() {
    let server = TestServer::start().await;
    let created = token_cli(&server, &["create", "--name", "ci", "--role", "ingest"]).await.unwrap();
    let token = created.lines().next().unwrap().to_string();
    assert!(token.starts_with("fd_"), "{created}");

    let body = task_created("t1", "From CI").to_string().into_bytes();
    assert_eq!(server.post_raw(body.clone(), Some(&token)).await.0, 201);

    let listing = token_cli(&server, &["list"]).await.unwrap();
    let line = listing.lines().find(|l| l.ends_with(" ci")).expect("listed");
    assert!(!listing.contains(&token), "the token itself is never listed");
    let id = line.split_whitespace().next().unwrap();

    token_cli(&server, &["revoke", id]).await.unwrap();
    let (status, answer) = server.post_raw(body, Some(&token)).await;
    assert_eq!(status, 401, "{answer}");
    assert!(token_cli(&server, &["revoke", id]).await.is_err(), "revoking twice is refused");
    assert!(token_cli(&server, &["list"]).await.unwrap().lines().any(|l| l.starts_with(id) && !l.contains("  -  ")));
}

#[tokio::test]
async fn a_viewer_token_cannot_post() {
    let server = TestServer::start().await;
    let created = token_cli(&server, &["create", "--name", "wall", "--role", "viewer"]).await.unwrap();
    let token = created.lines().next().unwrap();
    let (status, answer) = server.post_raw(task_created("t", "T").to_string().into_bytes(), Some(token)).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(server.head().await, 0);
}

#[tokio::test]
async fn events_land_in_the_token_workspace() {
    let server = TestServer::start().await;
    let created = token_cli(&server, &["create", "--name", "acme-ci", "--workspace", "acme"]).await.unwrap();
    let token = created.lines().next().unwrap();
    assert_eq!(server.post_raw(task_created("t", "Acme's").to_string().into_bytes(), Some(token)).await.0, 201);
    assert_eq!(server.tasks_of("acme").await.len(), 1);
    assert!(server.tasks_of("default").await.is_empty());
}

#[test]
fn bad_token_arguments_are_refused() {
    for argv in [
        vec!["flightdeck", "token", "create", "--name", "x", "--role", "root"],
        vec!["flightdeck", "token", "create"],
        vec!["flightdeck", "token", "revoke"],
    ] {
        assert!(Cli::try_parse_from(&argv).is_err(), "{argv:?}");
    }
    let parsed = Cli::try_parse_from(["flightdeck", "token", "create", "--name", "x", "--role", "viewer"]).unwrap();
    assert!(matches!(parsed.into_command(), Command::Token(TokenCommand { action: TokenAction::Create { .. }, .. })));
}

#[tokio::test]
async fn a_bad_workspace_name_is_refused() {
    let server = TestServer::start().await;
    let err = token_cli(&server, &["create", "--name", "x", "--workspace", "a b"]).await.unwrap_err();
    assert!(err.to_string().contains("workspace"), "{err}");
    let err = token_cli(&server, &["create", "--name", " "]).await.unwrap_err();
    assert!(err.to_string().contains("--name"), "{err}");
    assert_eq!(server.running.state.store.list_tokens().await.unwrap().len(), 1, "only the configured token");
}

#[tokio::test]
async fn token_commands_and_ingest_share_the_file_without_busy_errors() {
    let server = TestServer::start().await;
    let url = server.config.database_url.clone();
    // Another process's view of the same file, as `flightdeck token create` has.
    let cli = flightdeck::store::open(&url).await.unwrap();
    let tokens = tokio::spawn(async move {
        for i in 0..40 {
            let record = flightdeck::store::TokenRecord {
                id: format!("cli-{i}"),
                workspace: "default".into(),
                role: flightdeck::store::Role::Viewer,
                name: format!("cli {i}"),
            };
            cli.create_token(&record, &format!("hash-{i}")).await.expect("no SQLITE_BUSY for the CLI");
        }
    });
    let posts = futures::future::join_all((0..20).map(|w| {
        let server = &server;
        async move {
            for i in 0..10 {
                let (status, body) = server.post(&task_created(&format!("w{w}-{i}"), "busy")).await;
                assert_eq!(status, 201, "{body}");
            }
        }
    }));
    posts.await;
    tokens.await.unwrap();
    assert_eq!(server.head().await, 200);
}
