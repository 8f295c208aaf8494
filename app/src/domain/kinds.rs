//! Sets of event types, one bit per type ([`EventKind::bit`]): what a reader decodes. A page
//! names the types it shows, and its decoder (`crate::wire`) skips the rest as it reads them, so
//! their payloads' decoders are not in that page's wasm.

use super::{EventKind, ALL_EVENTS};

/// The event types a reader decodes, one bit each ([`EventKind::bit`]).
pub trait Reads {
    const READS: u64;
}

/// A reader of every event type: the server, tests, and pages that show any event.
pub struct Everything;

impl Reads for Everything {
    const READS: u64 = ALL_EVENTS;
}

/// A page of something that may be missing (an unknown task) reads what it shows when present.
impl<R: Reads> Reads for Option<R> {
    const READS: u64 = R::READS;
}

/// A set of event types, for [`Reads::READS`].
pub const fn kinds(list: &[EventKind]) -> u64 {
    let mut set = 0;
    let mut i = 0;
    while i < list.len() {
        set |= list[i].bit();
        i += 1;
    }
    set
}
