//! Facts that time produces. Each job enters what it concludes through the writer, like any event,
//! so it is pushed, replayed and still true after a restart.

pub mod health;
