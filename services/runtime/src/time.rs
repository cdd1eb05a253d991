//! Instants on the wire (google.protobuf.Timestamp) and civil time in Europe/Paris, where every
//! deadline of the procedure is set.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;

pub fn to_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn from_timestamp(t: &prost_types::Timestamp) -> Result<DateTime<Utc>, String> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err("nanos must be within 0..1e9".into());
    }
    DateTime::from_timestamp(t.seconds, t.nanos as u32)
        .ok_or_else(|| "timestamp out of range".into())
}

/// Parses a civil date-time in Europe/Paris: `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`.
/// Refuses the hour skipped by the spring change and the hour repeated in autumn, whose instant
/// would be ambiguous: a deadline must be one instant.
pub fn parse_paris_local(s: &str) -> Result<DateTime<Utc>, String> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            format!("{s:?} is not a date-time of the form YYYY-MM-DDTHH:MM (Europe/Paris)")
        })?;
    match Paris.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "{s} does not exist in Europe/Paris (clocks skip that hour)"
        )),
        LocalResult::Ambiguous(_, _) => Err(format!(
            "{s} happens twice in Europe/Paris (clocks go back); choose another time"
        )),
    }
}

/// `YYYY-MM-DDTHH:MM[:SS]` in Europe/Paris (seconds shown only when not zero).
pub fn format_paris_local(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&Paris);
    if local.format("%S").to_string() == "00" {
        local.format("%Y-%m-%dT%H:%M").to_string()
    } else {
        local.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// The civil date in Europe/Paris of an instant.
pub fn paris_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Paris).date_naive()
}

/// The calendar year in Paris at `t` (a campaign's year).
pub fn paris_year(t: DateTime<Utc>) -> i32 {
    chrono::Datelike::year(&paris_date(t))
}

/// Human form for documents: `20/09/2024 à 17:00`.
pub fn format_paris_human(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris)
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date of the form YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_offsets_follow_summer_time() {
        // Summer: UTC+2; winter: UTC+1.
        assert_eq!(
            parse_paris_local("2024-09-20T17:00").unwrap().to_rfc3339(),
            "2024-09-20T15:00:00+00:00"
        );
        assert_eq!(
            parse_paris_local("2024-01-10T17:00").unwrap().to_rfc3339(),
            "2024-01-10T16:00:00+00:00"
        );
        assert_eq!(
            format_paris_local(parse_paris_local("2023-10-11T17:00").unwrap()),
            "2023-10-11T17:00"
        );
        assert_eq!(
            format_paris_local(parse_paris_local("2023-10-11T23:59:59").unwrap()),
            "2023-10-11T23:59:59"
        );
    }

    #[test]
    fn skipped_and_repeated_hours_are_refused() {
        assert!(
            parse_paris_local("2025-03-30T02:30")
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            parse_paris_local("2025-10-26T02:30")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_paris_local("2025-13-01T10:00").is_err());
        assert!(parse_paris_local("tomorrow").is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        let t = parse_paris_local("2024-06-24T00:00").unwrap();
        assert_eq!(from_timestamp(&to_timestamp(t)).unwrap(), t);
        assert!(
            from_timestamp(&prost_types::Timestamp {
                seconds: 0,
                nanos: -1
            })
            .is_err()
        );
    }
}
