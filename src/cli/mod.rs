//! Commands besides `serve`: `token` manages a database directly, `emit` posts to a running server.

pub mod emit;
pub mod token;
