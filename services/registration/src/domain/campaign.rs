//! The yearly registration window of an académie and the admissibility of a submission.
//!
//! The window is set in Europe/Paris civil time (closing at 17:00 in one académie, at midnight in
//! another) and stored as instants. What counts against it: the moment of an online submission,
//! the reception of an e-mail, the postmark date of a letter (a date, compared with the dates of
//! opening and closing).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use cplds_runtime::{
    kit::{RuleViolation, refuse},
    time::{format_paris_human, paris_date, parse_paris_local},
};

/// First session of the CPLDS (décret of 5 May 2017).
pub const FIRST_YEAR: i32 = 2017;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("{0}")]
    Opens(String),
    #[error("{0}")]
    Closes(String),
    #[error("the window must close after it opens")]
    Order,
}

impl Window {
    pub fn parse_local(opens: &str, closes: &str) -> Result<Self, Vec<WindowError>> {
        let o = parse_paris_local(opens.trim()).map_err(WindowError::Opens);
        let c = parse_paris_local(closes.trim()).map_err(WindowError::Closes);
        match (o, c) {
            (Ok(opens_at), Ok(closes_at)) if opens_at < closes_at => Ok(Window {
                opens_at,
                closes_at,
            }),
            (Ok(_), Ok(_)) => Err(vec![WindowError::Order]),
            (o, c) => Err([o.err(), c.err()].into_iter().flatten().collect()),
        }
    }
}

/// A session year: from the first CPLDS session to two years ahead of `now`.
pub fn parse_year(year: i32, now: DateTime<Utc>) -> Result<i32, String> {
    let max = paris_date(now).year() + 2;
    if (FIRST_YEAR..=max).contains(&year) {
        Ok(year)
    } else {
        Err(format!("must be between {FIRST_YEAR} and {max}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignState {
    Scheduled,
    Open,
    Closed,
    ListPublished,
}

pub fn state(window: Window, list_published: bool, now: DateTime<Utc>) -> CampaignState {
    if list_published {
        CampaignState::ListPublished
    } else if now < window.opens_at {
        CampaignState::Scheduled
    } else if now <= window.closes_at {
        CampaignState::Open
    } else {
        CampaignState::Closed
    }
}

/// What the rules need to know about a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignFacts {
    pub window: Window,
    pub list_published: bool,
}

/// The instant a submission counts from, if the campaign takes it: nothing once the recteur has
/// published the list, and only inside the window.
pub fn can_submit(
    c: &CampaignFacts,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, RuleViolation> {
    if c.list_published {
        return refuse(
            "ADMITTED_LIST_PUBLISHED",
            "the admitted list is published: registration is over",
        );
    }
    admissibility(c.window, channel, now).map_err(RuleViolation::from)
}

/// The window may move (an extension, a correction) until the list is published.
pub fn can_move_window(c: &CampaignFacts) -> Result<(), RuleViolation> {
    if c.list_published {
        return refuse(
            "ADMITTED_LIST_PUBLISHED",
            "the admitted list is published: the campaign is frozen",
        );
    }
    Ok(())
}

/// The recteur publishes the list once, after the window closed and every candidacy is decided.
pub fn can_publish_list(
    c: &CampaignFacts,
    undecided: u64,
    now: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    if c.list_published {
        return refuse(
            "ADMITTED_LIST_ALREADY_PUBLISHED",
            "the admitted list is published once; it is now frozen",
        );
    }
    if now <= c.window.closes_at {
        return refuse(
            "WINDOW_NOT_CLOSED",
            format!(
                "registration is open until {} (Europe/Paris); publish the list after it closes",
                format_paris_human(c.window.closes_at)
            ),
        );
    }
    if undecided > 0 {
        return refuse(
            "UNDECIDED_CANDIDACIES",
            format!("{undecided} candidacies still await a decision of the exam office"),
        );
    }
    Ok(())
}

/// Another publication of the list won the race for the campaign row.
pub fn list_published_meanwhile() -> RuleViolation {
    RuleViolation::new(
        "ADMITTED_LIST_ALREADY_PUBLISHED",
        "the admitted list was published meanwhile",
    )
}

cplds_runtime::text_enum!(
    /// How a candidacy reached the exam office, as stored.
    ChannelKind { Online => "online", Post => "post", Email => "email" }
);

/// How the candidacy reached the exam office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Online,
    /// A letter: its postmark date counts.
    Post {
        postmark: NaiveDate,
    },
    /// An e-mail: its reception counts.
    Email {
        received_at: DateTime<Utc>,
    },
}

impl Channel {
    pub fn kind(self) -> ChannelKind {
        match self {
            Channel::Online => ChannelKind::Online,
            Channel::Post { .. } => ChannelKind::Post,
            Channel::Email { .. } => ChannelKind::Email,
        }
    }

    pub fn postmark(self) -> Option<NaiveDate> {
        match self {
            Channel::Post { postmark } => Some(postmark),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inadmissible {
    #[error("registration opens on {opens} (Europe/Paris); the candidacy came before")]
    BeforeOpening { opens: String },
    #[error(
        "registration closed on {closes} (Europe/Paris); the candidacy is inadmissible (irrecevable)"
    )]
    AfterClosing { closes: String },
}

impl From<Inadmissible> for RuleViolation {
    fn from(e: Inadmissible) -> Self {
        let rule = match e {
            Inadmissible::BeforeOpening { .. } => "WINDOW_NOT_OPEN",
            Inadmissible::AfterClosing { .. } => "WINDOW_CLOSED",
        };
        RuleViolation::new(rule, e.to_string())
    }
}

/// The instant recorded as the submission time, or why the submission is inadmissible.
pub fn admissibility(
    window: Window,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Inadmissible> {
    let before = || Inadmissible::BeforeOpening {
        opens: format_paris_human(window.opens_at),
    };
    let after = || Inadmissible::AfterClosing {
        closes: format_paris_human(window.closes_at),
    };
    match channel {
        Channel::Online | Channel::Email { .. } => {
            let at = match channel {
                Channel::Email { received_at } => received_at,
                _ => now,
            };
            if at < window.opens_at {
                Err(before())
            } else if at > window.closes_at {
                Err(after())
            } else {
                Ok(at)
            }
        }
        // A postmark has no hour: a letter stamped on the closing day is in time.
        Channel::Post { postmark } => {
            if postmark < paris_date(window.opens_at) {
                Err(before())
            } else if postmark > paris_date(window.closes_at) {
                Err(after())
            } else {
                Ok(paris_noon(postmark).clamp(window.opens_at, window.closes_at))
            }
        }
    }
}

/// Noon in Europe/Paris on `date`. Clocks change at night (01:00 UTC), so the offset in force
/// at noon UTC is the one of noon in Paris, and noon is always one instant.
fn paris_noon(date: NaiveDate) -> DateTime<Utc> {
    let noon = date.and_time(NaiveTime::MIN) + chrono::TimeDelta::hours(12);
    let offset = Paris.offset_from_utc_datetime(&noon).fix();
    Utc.from_utc_datetime(&(noon - offset))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;

    fn window(o: &str, c: &str) -> Window {
        Window::parse_local(o, c).unwrap()
    }

    #[test]
    fn closing_hour_is_the_academy_s() {
        // 11 Sept – 11 Oct 2023 until 17:00; 24 June – 20 Sept 2024 until midnight.
        let w = window("2023-09-11T00:00", "2023-10-11T17:00");
        let at = |s: &str| parse_paris_local(s).unwrap();
        assert!(admissibility(w, Channel::Online, at("2023-10-11T16:59")).is_ok());
        assert!(admissibility(w, Channel::Online, at("2023-10-11T17:00")).is_ok());
        assert!(matches!(
            admissibility(w, Channel::Online, at("2023-10-11T17:01")),
            Err(Inadmissible::AfterClosing { .. })
        ));
        let w = window("2024-06-24T00:00", "2024-09-21T00:00");
        assert!(admissibility(w, Channel::Online, at("2024-09-20T23:59")).is_ok());
        assert!(admissibility(w, Channel::Online, at("2024-09-21T00:01")).is_err());
        assert!(matches!(
            admissibility(w, Channel::Online, at("2024-06-23T23:59")),
            Err(Inadmissible::BeforeOpening { .. })
        ));
    }

    #[test]
    fn postmark_date_counts() {
        let w = window("2023-09-11T00:00", "2023-10-11T17:00");
        let after_closing = parse_paris_local("2023-10-16T10:00").unwrap();
        let stamped = |d: &str| Channel::Post {
            postmark: NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
        };
        let t = admissibility(w, stamped("2023-10-11"), after_closing).unwrap();
        assert!(t <= w.closes_at);
        assert!(admissibility(w, stamped("2023-10-12"), after_closing).is_err());
        assert!(admissibility(w, stamped("2023-09-10"), after_closing).is_err());
        let received = Channel::Email {
            received_at: parse_paris_local("2023-10-11T17:30").unwrap(),
        };
        assert!(admissibility(w, received, after_closing).is_err());
    }

    #[test]
    fn window_errors() {
        assert_eq!(
            Window::parse_local("2024-09-20T17:00", "2024-06-24T00:00").unwrap_err(),
            vec![WindowError::Order]
        );
        assert_eq!(Window::parse_local("x", "y").unwrap_err().len(), 2);
    }

    fn facts(list_published: bool) -> CampaignFacts {
        CampaignFacts {
            window: window("2025-05-26T00:00", "2025-06-20T17:00"),
            list_published,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_paris_local(s).unwrap()
    }

    #[test]
    fn submission_inside_the_window_counts_from_now() {
        let now = at("2025-06-01T10:00");
        assert_eq!(can_submit(&facts(false), Channel::Online, now), Ok(now));
    }

    #[test]
    fn submission_before_the_window_is_refused_as_not_open() {
        let e = can_submit(&facts(false), Channel::Online, at("2025-05-20T10:00")).unwrap_err();
        assert_eq!(e.rule, "WINDOW_NOT_OPEN");
    }

    #[test]
    fn submission_after_the_window_is_refused_as_closed() {
        let e = can_submit(&facts(false), Channel::Online, at("2025-06-20T17:01")).unwrap_err();
        assert_eq!(e.rule, "WINDOW_CLOSED");
        assert!(e.message.contains("irrecevable"), "{}", e.message);
    }

    #[test]
    fn no_submission_once_the_list_is_published() {
        let e = can_submit(&facts(true), Channel::Online, at("2025-06-01T10:00")).unwrap_err();
        assert_eq!(e.rule, "ADMITTED_LIST_PUBLISHED");
    }

    #[test]
    fn the_window_moves_until_the_list_is_published() {
        assert!(can_move_window(&facts(false)).is_ok());
        assert_eq!(
            can_move_window(&facts(true)).unwrap_err().rule,
            "ADMITTED_LIST_PUBLISHED"
        );
    }

    #[test]
    fn the_list_is_published_once() {
        let e = can_publish_list(&facts(true), 0, at("2025-06-23T09:00")).unwrap_err();
        assert_eq!(e.rule, "ADMITTED_LIST_ALREADY_PUBLISHED");
        assert_eq!(
            list_published_meanwhile().rule,
            "ADMITTED_LIST_ALREADY_PUBLISHED"
        );
    }

    #[test]
    fn the_list_waits_for_the_window_to_close() {
        let e = can_publish_list(&facts(false), 0, at("2025-06-20T17:00")).unwrap_err();
        assert_eq!(e.rule, "WINDOW_NOT_CLOSED");
        assert!(e.message.contains("20/06/2025 à 17:00"), "{}", e.message);
        assert!(can_publish_list(&facts(false), 0, at("2025-06-20T17:01")).is_ok());
    }

    #[test]
    fn the_list_waits_for_every_decision() {
        let e = can_publish_list(&facts(false), 2, at("2025-06-23T09:00")).unwrap_err();
        assert_eq!(e.rule, "UNDECIDED_CANDIDACIES");
        assert!(e.message.starts_with("2 candidacies"), "{}", e.message);
    }

    #[test]
    fn a_letter_counts_from_noon_of_its_postmark_in_paris() {
        let w = window("2025-01-06T00:00", "2025-12-20T17:00");
        let on = |d: &str| Channel::Post {
            postmark: NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
        };
        let later = at("2025-12-24T10:00");
        // Winter (UTC+1) and summer (UTC+2), and the days the clocks change.
        for day in ["2025-01-15", "2025-07-15", "2025-03-30", "2025-10-26"] {
            assert_eq!(
                admissibility(w, on(day), later).unwrap(),
                at(&format!("{day}T12:00")),
                "{day}"
            );
        }
        // Stamped on the closing day before noon's instant: the closing instant is recorded.
        let w = window("2025-01-06T00:00", "2025-06-20T09:00");
        assert_eq!(
            admissibility(w, on("2025-06-20"), later).unwrap(),
            w.closes_at
        );
    }

    #[test]
    fn years_run_from_the_first_session_to_two_years_ahead() {
        let now = at("2025-06-01T10:00");
        assert_eq!(parse_year(2017, now), Ok(2017));
        assert_eq!(parse_year(2027, now), Ok(2027));
        assert_eq!(
            parse_year(2028, now).unwrap_err(),
            "must be between 2017 and 2027"
        );
        assert!(parse_year(2016, now).is_err());
    }

    proptest! {
        #[test]
        fn online_admissible_iff_inside_window(open_offset in 0i64..10_000_000, length in 1i64..10_000_000, probe in -20_000_000i64..40_000_000) {
            let base = parse_paris_local("2024-01-01T00:00").unwrap();
            let w = Window { opens_at: base + Duration::seconds(open_offset), closes_at: base + Duration::seconds(open_offset + length) };
            let now = base + Duration::seconds(probe);
            let inside = now >= w.opens_at && now <= w.closes_at;
            prop_assert_eq!(admissibility(w, Channel::Online, now).is_ok(), inside);
            let st = state(w, false, now);
            prop_assert_eq!(st == CampaignState::Open, inside);
        }
    }
}
