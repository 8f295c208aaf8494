//! The log's timestamps (`2026-01-01T12:00:00.000Z`) as milliseconds, and durations as people read
//! them. Shared by the server's health job and the browser's ticking clocks, so both say the same.

/// Milliseconds since the Unix epoch of an RFC 3339 UTC timestamp as the log writes it
/// (`YYYY-MM-DDTHH:MM:SS[.fff]Z`); `None` for anything else.
pub fn millis(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| ts.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &ts[19..];
    let fraction = match rest.strip_prefix('.') {
        Some(f) => {
            let digits = f.strip_suffix('Z')?;
            let padded = format!("{digits:0<3}");
            padded.get(..3)?.parse::<i64>().ok()?
        }
        None if rest == "Z" => 0,
        None => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + fraction)
}

/// A moment a person typed, in UTC: `YYYY-MM-DDTHH:MM`, with seconds and a fraction or not, `Z` or
/// not (a `datetime-local` field's value), as the log's timestamp; `None` for anything else.
/// Without a fraction it stands for the end of its second: "at 12:00:05" holds what happened then.
pub fn typed(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('Z');
    let full = match text.len() {
        16 => format!("{text}:00.999Z"),
        19 => format!("{text}.999Z"),
        _ => format!("{text}Z"),
    };
    millis(&full).map(format)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The log's timestamp for milliseconds since the epoch (the inverse of [`millis`]).
pub fn format(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, f) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{f:03}Z")
}

/// The date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `ts` plus `ms` milliseconds, as the log writes times.
pub fn add(ts: &str, ms: i64) -> Option<String> {
    Some(format(millis(ts)? + ms))
}

/// `45 s`, `2 m 10 s`, `3 h 5 m`, `2 d 4 h`: two units at most, never negative.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} m {} s", s / 60, s % 60),
        3_600..=86_399 => format!("{} h {} m", s / 3_600, (s % 3_600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// Milliseconds from `from` to `to`, when both parse.
pub fn between(from: &str, to: &str) -> Option<i64> {
    Some(millis(to)? - millis(from)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_typed_moment_reads_as_the_logs_timestamp() {
        assert_eq!(super::typed("2026-03-04T05:06").as_deref(), Some("2026-03-04T05:06:00.999Z"));
        assert_eq!(super::typed("2026-03-04T05:06:07").as_deref(), Some("2026-03-04T05:06:07.999Z"));
        assert_eq!(super::typed("2026-03-04T05:06:07.5Z").as_deref(), Some("2026-03-04T05:06:07.500Z"));
        assert_eq!(super::typed("yesterday"), None);
    }

    use super::*;

    #[test]
    fn parses_the_log_format() {
        assert_eq!(millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(millis("1970-01-01T00:00:01.250Z"), Some(1_250));
        assert_eq!(millis("2026-03-01T00:00:00.000Z"), Some(1_772_323_200_000));
        assert_eq!(millis("2000-02-29T12:30:00.5Z"), Some(951_827_400_500));
        for bad in ["", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00+01:00", "x026-01-01T00:00:00Z"] {
            assert_eq!(millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_back_what_it_parses() {
        for ts in ["1970-01-01T00:00:00.000Z", "2000-02-29T12:30:00.500Z", "2026-12-31T23:59:59.999Z"] {
            assert_eq!(format(millis(ts).unwrap()), ts);
        }
        assert_eq!(add("2026-01-01T00:00:58.000Z", 3_000).as_deref(), Some("2026-01-01T00:01:01.000Z"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(-5), "0 s");
        assert_eq!(duration(45_900), "45 s");
        assert_eq!(duration(130_000), "2 m 10 s");
        assert_eq!(duration(3 * 3_600_000 + 5 * 60_000), "3 h 5 m");
        assert_eq!(duration(52 * 3_600_000), "2 d 4 h");
    }
}
