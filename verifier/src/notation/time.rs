//! RFC 3339 times as Notation writes them: seconds precision, any UTC offset
//! (`2023-06-27T13:30:33+08:00`); fractional seconds are accepted and truncated, as Go does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_cert::der::DateTime;

/// Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) between 1970 and 9999.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 || !s.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let year = u16::try_from(num(0..4)?).ok()?;
    let (month, day) = (num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' {
                return None;
            }
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let dt = DateTime::new(
        year,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    let local = i64::try_from(dt.unix_duration().as_secs()).ok()?;
    let utc = u64::try_from(local - offset_secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(utc))
}

/// Formats a time as RFC 3339 UTC with seconds precision (`2024-06-18T07:20:31Z`).
pub fn format_rfc3339(t: SystemTime) -> String {
    let secs = unix_seconds(t);
    match DateTime::from_unix_duration(Duration::from_secs(secs)) {
        Ok(dt) => dt.to_string(),
        Err(_) => format!("@{secs}"),
    }
}

/// Whole seconds since 1970 (0 before it).
pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `t` truncated to whole seconds, as Notation stores times.
pub(crate) fn truncate(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds(t))
}
