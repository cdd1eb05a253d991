//! The yearly registration window of an académie and the admissibility of a submission.
//!
//! The window is set in Europe/Paris civil time (closing at 17:00 in one académie, at midnight in
//! another) and stored as instants. What counts against it: the moment of an online submission,
//! the reception of an e-mail, the postmark date of a letter (a date, compared with the dates of
//! opening and closing).

use chrono::{DateTime, NaiveDate, Utc};
use cplds_runtime::time::{paris_date, parse_paris_local};

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
    let max = paris_date(now)
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap_or(FIRST_YEAR)
        + 2;
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
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Post { .. } => "post",
            Channel::Email { .. } => "email",
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

/// The instant recorded as the submission time, or why the submission is inadmissible.
pub fn admissibility(
    window: Window,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Inadmissible> {
    let human = cplds_runtime::time::format_paris_human;
    match channel {
        Channel::Online | Channel::Email { .. } => {
            let at = match channel {
                Channel::Email { received_at } => received_at,
                _ => now,
            };
            if at < window.opens_at {
                Err(Inadmissible::BeforeOpening {
                    opens: human(window.opens_at),
                })
            } else if at > window.closes_at {
                Err(Inadmissible::AfterClosing {
                    closes: human(window.closes_at),
                })
            } else {
                Ok(at)
            }
        }
        Channel::Post { postmark } => {
            // A postmark has no hour: a letter stamped on the closing day is in time.
            if postmark < paris_date(window.opens_at) {
                Err(Inadmissible::BeforeOpening {
                    opens: human(window.opens_at),
                })
            } else if postmark > paris_date(window.closes_at) {
                Err(Inadmissible::AfterClosing {
                    closes: human(window.closes_at),
                })
            } else {
                let noon = postmark.and_hms_opt(12, 0, 0).expect("valid time");
                let at = cplds_runtime::time::parse_paris_local(
                    &noon.format("%Y-%m-%dT%H:%M").to_string(),
                )
                .expect("noon exists in Paris");
                Ok(at.clamp(window.opens_at, window.closes_at))
            }
        }
    }
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
