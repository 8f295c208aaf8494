//! The Flightdeck server: durable event log, live hub, ingest API and the dashboard's pages.

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod held;
pub mod hub;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod render;
pub mod server;
pub mod shutdown;
pub mod site;
pub mod state;
pub mod store;
pub mod writer;
