//! PocketBase's datetime wire format `YYYY-MM-DD HH:MM:SS.mmmZ` (spec §1.6).

use jiff::fmt::temporal::DateTimePrinter;
use jiff::{Timestamp, civil::DateTime, tz::TimeZone};

/// The wire format but its `Z`: ISO 8601 with a space, always three fraction digits.
/// NOTE: jiff's ISO printer, not `strftime`, which interprets its format string: 1.1k
/// instructions a timestamp against 1.9k (two per record create, one per log entry).
const PRINTER: DateTimePrinter = DateTimePrinter::new().separator(b' ').precision(Some(3));

/// Formats a timestamp in the wire format (UTC, millisecond precision).
pub fn format(ts: Timestamp) -> String {
    let mut out = String::with_capacity(24);
    // Writing to a String cannot fail.
    let _ = PRINTER.print_datetime(&TimeZone::UTC.to_datetime(ts), &mut out);
    out.push('Z');
    out
}

/// Now, in the wire format.
pub fn now() -> String {
    format(Timestamp::now())
}

/// Parses every input form PocketBase accepts for date fields and returns the canonical
/// wire string; `None` when unparseable (callers store `""`, as PocketBase does silently).
pub fn parse(input: &str) -> Option<String> {
    let s = input.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(format(truncate_ms(ts)));
    }
    // PB's own format ends in a literal Z but uses a space; jiff's Timestamp parser accepts
    // the space separator, so what remains are the zone-less civil forms.
    let civil = s.strip_suffix('Z').unwrap_or(s);
    let dt = civil.parse::<DateTime>().ok().or_else(|| {
        civil
            .parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    })?;
    let ts = dt.to_zoned(TimeZone::UTC).ok()?.timestamp();
    Some(format(truncate_ms(ts)))
}

fn truncate_ms(ts: Timestamp) -> Timestamp {
    let ms = ts.as_millisecond();
    Timestamp::from_millisecond(ms).unwrap_or(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pocketbase_input_forms() {
        assert_eq!(
            parse("2024-01-02T03:04:05.123456+02:00").as_deref(),
            Some("2024-01-02 01:04:05.123Z")
        );
        assert_eq!(
            parse("2024-05-05").as_deref(),
            Some("2024-05-05 00:00:00.000Z")
        );
        assert_eq!(
            parse("2024-05-05 10:11:12").as_deref(),
            Some("2024-05-05 10:11:12.000Z")
        );
        assert_eq!(
            parse("2026-11-23 05:02:20.795Z").as_deref(),
            Some("2026-11-23 05:02:20.795Z")
        );
        assert_eq!(parse("garbage"), None);
        assert_eq!(
            format(Timestamp::from_millisecond(1_700_000_000_005).unwrap_or_default()),
            "2023-11-14 22:13:20.005Z"
        );
        assert_eq!(format(Timestamp::UNIX_EPOCH), "1970-01-01 00:00:00.000Z");
        assert_eq!(parse("01/02/2024"), None);
    }
}
