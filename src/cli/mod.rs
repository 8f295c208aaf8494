//! Commands besides `serve`: `token` manages a database directly, `emit`, `notify` and `policy`
//! talk to a running server, `hooks` writes the settings that make an agent tool post to it.

pub mod emit;
pub mod hooks;
pub mod notify;
pub mod policy;
pub mod token;
