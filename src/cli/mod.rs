//! Commands that manage a Flightdeck database directly, without a running server.

pub mod token;
