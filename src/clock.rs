//! Time, behind a trait so tests can set it: the log's timestamps and the health job both read it.

use std::sync::{Arc, Mutex};

use time::{format_description::FormatItem, macros::format_description, Duration, OffsetDateTime};

/// RFC 3339 in UTC with milliseconds: sortable as text, readable by `Date.parse`.
const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    /// Now as the log writes it.
    fn now_rfc3339(&self) -> String {
        format(self.now())
    }

    /// Now in milliseconds since the epoch.
    fn now_millis(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

pub type SharedClock = Arc<dyn Clock>;

pub fn format(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(RFC3339_MILLIS).unwrap_or_default()
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to: tests drive time-based rules with it.
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn starting_now() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(OffsetDateTime::now_utc())))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += Duration::try_from(by).unwrap_or(Duration::ZERO);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Now, by the machine's clock, for places that have no clock handed to them (token records).
pub fn now_rfc3339() -> String {
    SystemClock.now_rfc3339()
}
