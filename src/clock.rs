//! Wall-clock timestamps as the log and the wire carry them.

use time::{format_description::FormatItem, macros::format_description, OffsetDateTime};

/// RFC 3339 in UTC with milliseconds: sortable as text, readable by `Date.parse`.
const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(RFC3339_MILLIS).unwrap_or_default()
}
