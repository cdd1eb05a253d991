//! The yearly registration window of an académie and the admissibility of a submission.
//!
//! The window is set in Europe/Paris civil time (closing at 17:00 in one académie, at midnight in
//! another) and stored as instants. What counts against it: the moment of an online submission,
//! the reception of an e-mail, the postmark date of a letter (a date, compared with the dates of
//! opening and closing).
//!
//! Sources (`/work/shared/domain/README.md`, "Registration"): registration online, by post
//! (the postmark date counts) or by e-mail before the closing time; anything received after the
//! deadline is *irrecevable*. An inadmissible candidacy is recorded, not refused ([`Late`]): the
//! session report counts the "candidatures irrecevables", which a refusal leaving no trace could
//! not (issue 13 §4). One that comes before the window opens is refused: no text makes it a
//! candidacy of the session.

use chrono::{DateTime, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use cplds_runtime::{
    kit::{RuleViolation, refuse},
    time::{format_paris_human, paris_date, paris_year, parse_paris_local},
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
    let max = paris_year(now) + 2;
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

/// How the campaign receives a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reception {
    /// Inside the window: the instant it counts from.
    InTime(DateTime<Utc>),
    /// After the window closed: recorded as inadmissible.
    Late(Late),
}

/// A candidacy received after the window closed (*irrecevable*): recorded with its channel,
/// the moment that counted and why, counted in the figures, never entered in the exam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Late {
    pub channel: Channel,
    /// What counted: the online submission, the e-mail's reception, noon of the postmark day.
    pub received_at: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
}

impl Late {
    /// Whole days from the closing day to the day it counted from (Europe/Paris).
    pub fn days_late(&self) -> u32 {
        let days = (paris_date(self.received_at) - paris_date(self.closed_at)).num_days();
        u32::try_from(days).unwrap_or(0)
    }

    /// Why it is inadmissible, in French, as the candidate and the exam office read it.
    pub fn explanation(&self) -> String {
        let received = match self.channel {
            Channel::Post { postmark } => {
                format!("le {} (cachet de la poste)", postmark.format("%d/%m/%Y"))
            }
            Channel::Email { received_at } => {
                format!(
                    "le {} (réception du courriel)",
                    format_paris_human(received_at)
                )
            }
            Channel::Online => format!("le {} (en ligne)", format_paris_human(self.received_at)),
        };
        format!(
            "Candidature reçue {received}, après la clôture des inscriptions le {} : \
             irrecevable.",
            format_paris_human(self.closed_at)
        )
    }
}

/// How the campaign receives a submission: late ones are recorded whatever the state of the
/// campaign; one in time is taken until the recteur publishes the list; one before the window
/// opens is refused.
pub fn can_submit(
    c: &CampaignFacts,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Reception, RuleViolation> {
    match admissibility(c.window, channel, now) {
        Ok(_) if c.list_published => refuse(
            "ADMITTED_LIST_PUBLISHED",
            "the admitted list is published: registration is over",
        ),
        Ok(at) => Ok(Reception::InTime(at)),
        Err(Inadmissible::AfterClosing { received_at, .. }) => Ok(Reception::Late(Late {
            channel,
            received_at,
            closed_at: c.window.closes_at,
        })),
        Err(e) => Err(e.into()),
    }
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
    AfterClosing {
        closes: String,
        /// The instant it counted from (noon of the postmark day for a letter).
        received_at: DateTime<Utc>,
    },
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
    let after = |received_at| Inadmissible::AfterClosing {
        closes: format_paris_human(window.closes_at),
        received_at,
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
                Err(after(at))
            } else {
                Ok(at)
            }
        }
        // A postmark has no hour: a letter stamped on the closing day is in time.
        Channel::Post { postmark } => {
            if postmark < paris_date(window.opens_at) {
                Err(before())
            } else if postmark > paris_date(window.closes_at) {
                Err(after(paris_noon(postmark)))
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
        assert_eq!(
            can_submit(&facts(false), Channel::Online, now),
            Ok(Reception::InTime(now))
        );
    }

    #[test]
    fn submission_before_the_window_is_refused_as_not_open() {
        let e = can_submit(&facts(false), Channel::Online, at("2025-05-20T10:00")).unwrap_err();
        assert_eq!(e.rule, "WINDOW_NOT_OPEN");
    }

    /// Before, a late candidacy was refused and left no trace: it could not be counted.
    #[test]
    fn a_submission_after_the_window_is_received_as_inadmissible() {
        let when = at("2025-06-20T17:01");
        let Ok(Reception::Late(late)) = can_submit(&facts(false), Channel::Online, when) else {
            panic!("not late")
        };
        assert_eq!((late.received_at, late.days_late()), (when, 0));
        assert_eq!(
            late.explanation(),
            "Candidature reçue le 20/06/2025 à 17:01 (en ligne), après la clôture des \
             inscriptions le 20/06/2025 à 17:00 : irrecevable."
        );
    }

    #[test]
    fn a_late_letter_counts_from_its_postmark_day_even_after_the_list() {
        let letter = Channel::Post {
            postmark: NaiveDate::from_ymd_opt(2025, 6, 23).unwrap(),
        };
        let Ok(Reception::Late(late)) = can_submit(&facts(true), letter, at("2025-07-02T09:00"))
        else {
            panic!("not late")
        };
        assert_eq!(late.received_at, at("2025-06-23T12:00"));
        assert_eq!(late.days_late(), 3);
        assert!(
            late.explanation()
                .contains("le 23/06/2025 (cachet de la poste)")
        );
    }

    #[test]
    fn no_submission_in_time_once_the_list_is_published() {
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
