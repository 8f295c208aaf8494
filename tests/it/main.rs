//! Integration tests: one binary (one link step), each module against a real server on a free port
//! with a temporary SQLite file, a real HTTP client and real WebSocket clients.

mod common;

mod approvals;
mod compat;
mod docs;
mod domain;
mod faults;
mod feeds;
mod fuzz;
mod health;
mod history;
mod idempotency;
mod ingest;
mod live;
mod operations;
mod otlp;
mod overload;
mod past;
mod scale;
mod security;
mod shutdown;
mod snapshots;
mod sprint;
mod tokens;
