//! Command line and environment: every setting is a flag or a `FLIGHTDECK_*` variable.

use std::{net::SocketAddr, time::Duration};

use clap::{Args, Parser, Subcommand};

use app::domain::agent::HealthRules;

use crate::store::Role;

#[derive(Parser, Debug)]
#[command(name = "flightdeck", version, about = "Mission control for fleets of AI agents")]
pub struct Cli {
    /// Without a command, `serve` (what `cargo leptos watch` runs).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `text` for people, `json` (one object a line) for log collectors.
    #[arg(long, global = true, env = "FLIGHTDECK_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

impl Cli {
    pub fn into_command(self) -> Command {
        self.command.unwrap_or_else(|| {
            let defaults = Cli::parse_from(["flightdeck", "serve"]);
            defaults.command.expect("parsed `serve`")
        })
    }
}

#[derive(Subcommand, Debug)]
// Parsed once at start and taken apart at once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the server: dashboard, ingest API and live streams on one port.
    Serve(ServeConfig),
    /// Drive realistic agent traffic against a running server through its public API.
    Demo(DemoConfig),
    /// Create, list and revoke access tokens.
    Token(TokenCommand),
    /// Post one event: `flightdeck emit task:progress --id t1 --progress 50`.
    Emit(EmitCommand),
    /// Print (or install) the settings that wire an agent tool's hooks to Flightdeck.
    Hooks(HooksCommand),
    /// Forward an agent tool's notification to Flightdeck: `flightdeck notify codex '<json>'`.
    Notify(NotifyCommand),
    /// Show or change the workspace's approval policy (changes need an admin token).
    Policy(PolicyCommand),
}

#[derive(Args, Clone, Debug)]
pub struct PolicyCommand {
    /// Base URL of the server.
    #[arg(long, env = "FLIGHTDECK_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// A token of the workspace: any to show, an admin's to change.
    #[arg(long, env = "FLIGHTDECK_TOKEN", hide_env_values = true)]
    pub token: String,
    #[command(subcommand)]
    pub action: PolicyAction,
}

#[derive(Subcommand, Clone, Debug)]
pub enum PolicyAction {
    /// Print the rules in order, and what happens when nobody decides.
    Show,
    /// Add a rule: `flightdeck policy add --tool Bash --input 're:git push|rm ' --action ask`.
    Add {
        /// Tool names, a glob; `|` separates alternatives (`Read|Grep|Glob`, `mcp__*`).
        #[arg(long)]
        tool: String,
        /// What the call's command, file or pattern must match: a glob, or a regex after `re:`.
        #[arg(long)]
        input: Option<String>,
        /// What it must not match (`{cwd}/*`: inside the project).
        #[arg(long)]
        unless: Option<String>,
        /// allow, deny or ask.
        #[arg(long, value_parser = ["allow", "deny", "ask"])]
        action: String,
        /// Told to the agent with a deny.
        #[arg(long)]
        reason: Option<String>,
        /// Its place in the list, from 1 (default: last).
        #[arg(long)]
        at: Option<usize>,
    },
    /// Remove the rule at a place in the list, from 1.
    Remove { place: usize },
    /// How long an approval waits for a person, and what it answers when nobody decided.
    Set {
        #[arg(long)]
        ttl_seconds: Option<u32>,
        #[arg(long, value_parser = ["no_decision", "deny"])]
        on_timeout: Option<String>,
    },
}

#[derive(Args, Clone, Debug)]
pub struct HooksCommand {
    #[command(subcommand)]
    pub tool: HooksTool,
}

#[derive(Subcommand, Clone, Debug)]
pub enum HooksTool {
    /// Claude Code: every hook event posted to `/api/feeds/claude-code`, the token read from
    /// `FLIGHTDECK_TOKEN` when the hook runs.
    ClaudeCode {
        /// Base URL of the server, as the agent's machine reaches it.
        #[arg(long, env = "FLIGHTDECK_URL", default_value = "http://127.0.0.1:3000")]
        url: String,
        /// The agent's id on the dashboard (default: `claude-code:<project directory>`).
        #[arg(long)]
        agent: Option<String>,
        /// Merge into this settings file (such as `.claude/settings.json`) instead of printing,
        /// keeping the hooks it has.
        #[arg(long)]
        install: Option<std::path::PathBuf>,
    },
}

#[derive(Args, Clone, Debug)]
pub struct NotifyCommand {
    /// Base URL of the server.
    #[arg(long, env = "FLIGHTDECK_URL", default_value = "http://127.0.0.1:3000", global = true)]
    pub url: String,
    /// An ingest or admin token.
    #[arg(long, env = "FLIGHTDECK_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub tool: NotifyTool,
}

#[derive(Subcommand, Clone, Debug)]
pub enum NotifyTool {
    /// Codex's `notify` program: `notify = ["flightdeck", "notify", "codex"]` in its config.toml.
    Codex {
        /// The notification, as Codex passes it.
        json: String,
    },
}

#[derive(Args, Clone, Debug)]
pub struct EmitCommand {
    /// Base URL of the server.
    #[arg(long, env = "FLIGHTDECK_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// An ingest or admin token.
    #[arg(long, env = "FLIGHTDECK_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The event type (`task:progress`, `agent:heartbeat`, …; see docs/events.md).
    pub event_type: String,
    /// The payload as `--field value` pairs; `--a.b value` nests, JSON values are taken as JSON.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub fields: Vec<String>,
}

#[derive(Args, Clone, Debug)]
pub struct TokenCommand {
    /// The database whose tokens to manage.
    #[arg(long, env = "FLIGHTDECK_DATABASE_URL", default_value = "sqlite://flightdeck.db", global = true)]
    pub database_url: String,
    #[command(subcommand)]
    pub action: TokenAction,
}

#[derive(Subcommand, Clone, Debug)]
pub enum TokenAction {
    /// Create a token and print it, once: only its hash is kept.
    Create {
        /// A name to recognise it by in `token list`.
        #[arg(long)]
        name: String,
        /// The workspace it may read and write.
        #[arg(long, default_value = app::DEFAULT_WORKSPACE)]
        workspace: String,
        /// admin, ingest (posts events) or viewer (reads only).
        #[arg(long, default_value = "ingest", value_parser = parse_role)]
        role: Role,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by the id `token list` shows.
    Revoke { id: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role `{s}`: expected admin, ingest or viewer"))
}

#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "FLIGHTDECK_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where events are stored: `sqlite://PATH` (created if missing).
    #[arg(long, env = "FLIGHTDECK_DATABASE_URL", default_value = "sqlite://flightdeck.db")]
    pub database_url: String,
    /// A token to accept (admin, default workspace), registered at start; for development and tests.
    #[arg(long, env = "FLIGHTDECK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Also run the demo orchestrator against this server. The variable takes `1`/`0`,
    /// `true`/`false`, `yes`/`no`, `on`/`off`.
    #[arg(long, env = "FLIGHTDECK_DEMO", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,
    /// Milliseconds between demo steps.
    #[arg(long, env = "FLIGHTDECK_DEMO_PACE_MS", default_value_t = 1_200)]
    pub demo_pace_ms: u64,
    /// Milliseconds between server pings on each socket.
    #[arg(long, env = "FLIGHTDECK_HEARTBEAT_MS", default_value_t = 30_000)]
    pub heartbeat_ms: u64,
    /// Milliseconds a socket may take to answer a ping before it is closed.
    #[arg(long, env = "FLIGHTDECK_PONG_TIMEOUT_MS", default_value_t = 10_000)]
    pub pong_timeout_ms: u64,
    /// Milliseconds one frame may take to write before the client counts as gone.
    #[arg(long, env = "FLIGHTDECK_SEND_TIMEOUT_MS", default_value_t = 30_000)]
    pub send_timeout_ms: u64,
    /// Milliseconds a follower may fall behind live (a catch-up that takes longer, a live frame
    /// taken later) before it is dropped to reconnect and resume.
    #[arg(long, env = "FLIGHTDECK_LAG_DEADLINE_MS", default_value_t = 60_000)]
    pub lag_deadline_ms: u64,
    /// Events the live ring holds; a reader further behind catches up from the log.
    #[arg(long, env = "FLIGHTDECK_LIVE_BUFFER", default_value_t = 4_096)]
    pub live_buffer: usize,
    /// Bytes of frames the live ring holds; a frame beyond them is read from the log by its followers.
    #[arg(long, env = "FLIGHTDECK_LIVE_BUFFER_BYTES", default_value_t = 16 << 20)]
    pub live_buffer_bytes: usize,
    /// Events each workspace's log keeps (a noisy workspace never prunes a quiet one's); a client
    /// resuming from before them gets `reset`.
    #[arg(long, env = "FLIGHTDECK_RETAIN_EVENTS", default_value_t = 1_000_000)]
    pub retain_events: u64,
    /// Milliseconds between two rounds of pruning (the log, and idempotency keys past their window).
    #[arg(long, env = "FLIGHTDECK_PRUNE_EVERY_MS", default_value_t = 1_000)]
    pub prune_every_ms: u64,
    /// Events between two snapshots of every workspace's state, from which a past moment is rebuilt:
    /// showing one replays at most about this many events.
    #[arg(long, env = "FLIGHTDECK_SNAPSHOT_EVERY", default_value_t = 2_000)]
    pub snapshot_every: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "FLIGHTDECK_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Largest body a hook feed (`/api/feeds/…`) accepts, in bytes: hook scripts may send a whole
    /// transcript, which the feed reads past without keeping.
    #[arg(long, env = "FLIGHTDECK_MAX_FEED_BODY_BYTES", default_value_t = 32 << 20)]
    pub max_feed_body_bytes: usize,
    /// Milliseconds a request's head may take to arrive, however slowly its bytes trickle in.
    #[arg(long, env = "FLIGHTDECK_REQUEST_HEAD_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_head_timeout_ms: u64,
    /// Milliseconds a connection may wait, idle, for its next request before it is closed.
    #[arg(long, env = "FLIGHTDECK_KEEP_ALIVE_TIMEOUT_MS", default_value_t = 60_000)]
    pub keep_alive_timeout_ms: u64,
    /// Milliseconds one render of a page may take before it is dropped and rendered again once
    /// (`src/render.rs`).
    #[arg(long, env = "FLIGHTDECK_PAGE_RENDER_TIMEOUT_MS", default_value_t = 10_000)]
    pub page_render_timeout_ms: u64,
    /// Connections that have not yet shown a valid token that may be open at once; past it the
    /// oldest of them is closed to make room.
    #[arg(long, env = "FLIGHTDECK_MAX_UNAUTHENTICATED_CONNECTIONS", default_value_t = 512)]
    pub max_unauthenticated_connections: usize,
    /// Largest WebSocket frame accepted from a client, in bytes.
    #[arg(long, env = "FLIGHTDECK_MAX_FRAME_BYTES", default_value_t = 64 << 10)]
    pub max_frame_bytes: usize,
    /// Most topics one WebSocket connection may follow.
    #[arg(long, env = "FLIGHTDECK_MAX_TOPICS", default_value_t = 64)]
    pub max_topics: usize,
    /// Most sockets open at once with one token.
    #[arg(long, env = "FLIGHTDECK_MAX_CONNECTIONS_PER_TOKEN", default_value_t = 64)]
    pub max_connections_per_token: usize,
    /// Events per second one token may post, sustained.
    #[arg(long, env = "FLIGHTDECK_INGEST_RATE", default_value_t = 500)]
    pub ingest_rate: u32,
    /// Events one token may post in a burst above the sustained rate.
    #[arg(long, env = "FLIGHTDECK_INGEST_BURST", default_value_t = 5_000)]
    pub ingest_burst: u32,
    /// Deliverable files: `<dir>/<workspace>/<path>` is served at `/artifacts/<path>`, nothing else.
    #[arg(long, env = "FLIGHTDECK_ARTIFACTS_DIR", default_value = "artifacts")]
    pub artifacts_dir: std::path::PathBuf,
    /// Milliseconds between the heartbeats agents are expected to send; two missed make one stale.
    #[arg(long, env = "FLIGHTDECK_AGENT_HEARTBEAT_MS", default_value_t = 30_000)]
    pub agent_heartbeat_ms: u64,
    /// Milliseconds a working agent may heartbeat without progress before it counts as stuck.
    #[arg(long, env = "FLIGHTDECK_STUCK_AFTER_MS", default_value_t = 600_000)]
    pub stuck_after_ms: u64,
    /// Milliseconds of silence after which an agent counts as crashed.
    #[arg(long, env = "FLIGHTDECK_CRASHED_AFTER_MS", default_value_t = 300_000)]
    pub crashed_after_ms: u64,
    /// Milliseconds between two judgements of every agent's health.
    #[arg(long, env = "FLIGHTDECK_HEALTH_CHECK_MS", default_value_t = 1_000)]
    pub health_check_ms: u64,
    /// Milliseconds between two looks for approvals past their expiry.
    #[arg(long, env = "FLIGHTDECK_APPROVAL_CHECK_MS", default_value_t = 250)]
    pub approval_check_ms: u64,
    /// Requests held open at once for an approval (Claude Code permission hooks, long-polls);
    /// beyond them a request is answered at once with no decision.
    #[arg(long, env = "FLIGHTDECK_MAX_HELD", default_value_t = 10_000)]
    pub max_held: usize,
    /// Milliseconds an `Idempotency-Key` is remembered: a retry within it is answered, not stored again.
    #[arg(long, env = "FLIGHTDECK_IDEMPOTENCY_WINDOW_MS", default_value_t = 86_400_000)]
    pub idempotency_window_ms: u64,
    /// Requests that may wait for a commit; beyond them a POST gets 503 with `Retry-After` at once.
    #[arg(long, env = "FLIGHTDECK_WRITER_QUEUE", default_value_t = 1_024)]
    pub writer_queue: usize,
    /// Bytes of request bodies that may wait for a commit; beyond them, 503 with `Retry-After`.
    #[arg(long, env = "FLIGHTDECK_WRITER_QUEUE_BYTES", default_value_t = 64 << 20)]
    pub writer_queue_bytes: usize,
    /// Milliseconds a shutdown may take: in-flight writes finish, streams and sockets close, then the
    /// process exits whatever is left.
    #[arg(long, env = "FLIGHTDECK_SHUTDOWN_TIMEOUT_MS", default_value_t = 10_000)]
    pub shutdown_timeout_ms: u64,
    /// The built site (wasm, JS, CSS, public files), as cargo-leptos writes it. Without it,
    /// `LEPTOS_SITE_ROOT` (which `cargo leptos` sets), else `target/site`.
    #[arg(long, env = "FLIGHTDECK_SITE_ROOT")]
    pub site_root: Option<String>,
}

impl ServeConfig {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }
    pub fn pong_timeout(&self) -> Duration {
        Duration::from_millis(self.pong_timeout_ms)
    }
    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }
    /// Refuses settings the server cannot run with, naming the flag.
    pub fn validate(&self) -> Result<(), String> {
        let positive: [(&str, u64); 26] = [
            ("--heartbeat-ms", self.heartbeat_ms),
            ("--pong-timeout-ms", self.pong_timeout_ms),
            ("--send-timeout-ms", self.send_timeout_ms),
            ("--live-buffer", self.live_buffer as u64),
            ("--live-buffer-bytes", self.live_buffer_bytes as u64),
            ("--lag-deadline-ms", self.lag_deadline_ms),
            ("--retain-events", self.retain_events),
            ("--max-body-bytes", self.max_body_bytes as u64),
            ("--max-feed-body-bytes", self.max_feed_body_bytes as u64),
            ("--request-head-timeout-ms", self.request_head_timeout_ms),
            ("--keep-alive-timeout-ms", self.keep_alive_timeout_ms),
            ("--page-render-timeout-ms", self.page_render_timeout_ms),
            ("--max-unauthenticated-connections", self.max_unauthenticated_connections as u64),
            ("--max-frame-bytes", self.max_frame_bytes as u64),
            ("--max-topics", self.max_topics as u64),
            ("--max-connections-per-token", self.max_connections_per_token as u64),
            ("--ingest-rate", u64::from(self.ingest_rate)),
            ("--ingest-burst", u64::from(self.ingest_burst)),
            ("--agent-heartbeat-ms", self.agent_heartbeat_ms),
            ("--stuck-after-ms", self.stuck_after_ms),
            ("--crashed-after-ms", self.crashed_after_ms),
            ("--health-check-ms", self.health_check_ms),
            ("--writer-queue", self.writer_queue as u64),
            ("--writer-queue-bytes", self.writer_queue_bytes as u64),
            ("--prune-every-ms", self.prune_every_ms),
            ("--snapshot-every", self.snapshot_every),
        ];
        if let Some((flag, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{flag} must be greater than 0"));
        }
        if self.approval_check_ms == 0 || self.shutdown_timeout_ms == 0 {
            return Err("--approval-check-ms and --shutdown-timeout-ms must be greater than 0".into());
        }
        if self.max_frame_bytes < 1024 {
            return Err(format!("--max-frame-bytes must be at least 1024, got {}", self.max_frame_bytes));
        }
        Ok(())
    }

    pub fn site_root(&self) -> String {
        self.site_root
            .clone()
            .or_else(|| std::env::var("LEPTOS_SITE_ROOT").ok())
            .unwrap_or_else(|| "target/site".into())
    }

    pub fn connection_deadlines(&self) -> crate::net::Deadlines {
        crate::net::Deadlines {
            stall: self.send_timeout(),
            head: Duration::from_millis(self.request_head_timeout_ms),
            idle: Duration::from_millis(self.keep_alive_timeout_ms),
            unauthenticated: self.max_unauthenticated_connections,
        }
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// Where the in-process demo keeps its token: beside the SQLite file, else in the working folder.
    pub fn demo_token_file(&self) -> std::path::PathBuf {
        let path = self.database_url.strip_prefix("sqlite://").or_else(|| self.database_url.strip_prefix("sqlite:"));
        std::path::PathBuf::from(format!("{}.demo-token", path.unwrap_or("flightdeck")))
    }
    pub fn prune_every(&self) -> Duration {
        Duration::from_millis(self.prune_every_ms)
    }
    pub fn approval_check(&self) -> Duration {
        Duration::from_millis(self.approval_check_ms)
    }
    pub fn health_check(&self) -> Duration {
        Duration::from_millis(self.health_check_ms)
    }
    pub fn health_rules(&self) -> HealthRules {
        HealthRules {
            heartbeat_ms: self.agent_heartbeat_ms as i64,
            stuck_after_ms: self.stuck_after_ms as i64,
            crashed_after_ms: self.crashed_after_ms as i64,
        }
    }

    /// Defaults for a server on `addr` storing in `database_url`, as if no flag were given.
    pub fn with(addr: SocketAddr, database_url: &str) -> ServeConfig {
        let Command::Serve(mut serve) = Cli::parse_from(["flightdeck", "serve"]).into_command() else {
            unreachable!("parsed `serve`")
        };
        serve.addr = addr;
        serve.database_url = database_url.to_string();
        serve
    }
}

#[derive(Args, Clone, Debug)]
pub struct DemoConfig {
    /// Base URL of the server to drive.
    #[arg(long, env = "FLIGHTDECK_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// An ingest or admin token.
    #[arg(long, env = "FLIGHTDECK_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Milliseconds between steps.
    #[arg(long, env = "FLIGHTDECK_DEMO_PACE_MS", default_value_t = 1_200)]
    pub pace_ms: u64,
    /// Stop after this many tasks have finished (0: run until stopped).
    #[arg(long, default_value_t = 0)]
    pub tasks: u64,
}
