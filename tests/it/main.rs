//! Integration tests: one binary (one link step), each module against a real server on a free port
//! with a temporary SQLite file, a real HTTP client and real WebSocket clients.

mod common;

mod acting;
mod approvals;
mod board;
mod bounds;
mod compat;
mod docs;
mod domain;
mod faults;
mod feeds;
mod fuzz;
mod fuzz_feeds;
mod health;
mod held;
mod history;
mod idempotency;
mod ingest;
mod live;
mod operations;
mod otel_clients;
mod otlp;
mod otlp_exports;
mod overload;
mod past;
mod scale;
mod security;
mod shutdown;
mod snapshots;
mod sprint;
mod tokens;
