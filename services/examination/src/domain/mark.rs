//! Marks /20 with half points, kept as integer half points (0..=40) so that no rounding can ever
//! move a candidate across a boundary of the rules.

use std::fmt;

/// A mark /20 in half points: `HalfPoints(27)` is 13.5/20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HalfPoints(u8);

impl HalfPoints {
    pub const MAX: u8 = 40;

    pub fn new(half_points: u32) -> Result<Self, String> {
        if half_points <= u32::from(Self::MAX) {
            Ok(Self(half_points as u8))
        } else {
            Err(format!(
                "{} is not a mark between 0 and 20",
                Self::show(half_points)
            ))
        }
    }

    /// Parses "13", "13.5", "13,5", "13.0", "13.50": a mark from 0 to 20 in steps of a half.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("is required (or record an absence)".into());
        }
        let bad = || {
            format!("{t:?} is not a mark /20 (a number from 0 to 20, half points allowed: 13.5)")
        };
        let (whole, fraction) = match t.split_once(['.', ',']) {
            Some((w, f)) => (w, f),
            None => (t, ""),
        };
        if whole.is_empty()
            || whole.len() > 3
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || (t.contains(['.', ',']) && fraction.is_empty())
        {
            return Err(bad());
        }
        let whole: u32 = whole.parse().map_err(|_| bad())?;
        let digits = fraction.trim_end_matches('0');
        let half = match digits {
            "" => 0,
            "5" => 1,
            _ => {
                return Err(format!(
                    "{t:?}: marks are given in half points (13 or 13.5, not {t})"
                ));
            }
        };
        let half_points = whole * 2 + half;
        if half_points > u32::from(Self::MAX) {
            return Err(format!("{t} is above 20: a mark is between 0 and 20"));
        }
        Ok(Self(half_points as u8))
    }

    pub fn half_points(self) -> u32 {
        u32::from(self.0)
    }

    /// "13.5", "8", "20".
    pub fn show(half_points: u32) -> String {
        if half_points.is_multiple_of(2) {
            format!("{}", half_points / 2)
        } else {
            format!("{}.5", half_points / 2)
        }
    }
}

impl fmt::Display for HalfPoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Self::show(self.half_points()))
    }
}

/// What a board records for an épreuve: a mark, or the candidate's absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartResult {
    Absent,
    Mark(HalfPoints),
}

impl PartResult {
    /// From a request's `mark` and `absent` fields: exactly one of them.
    pub fn parse(mark: &str, absent: bool) -> Result<Self, String> {
        match (absent, mark.trim().is_empty()) {
            (true, true) => Ok(PartResult::Absent),
            (true, false) => Err("leave the mark empty when recording an absence".into()),
            (false, _) => HalfPoints::parse(mark).map(PartResult::Mark),
        }
    }

    /// Stored form: `None` half points means absent.
    pub fn from_stored(absent: bool, half_points: Option<i32>) -> Option<Self> {
        match (absent, half_points) {
            (true, _) => Some(PartResult::Absent),
            (false, Some(h)) => u32::try_from(h)
                .ok()
                .and_then(|h| HalfPoints::new(h).ok())
                .map(PartResult::Mark),
            (false, None) => None,
        }
    }

    pub fn is_absent(self) -> bool {
        matches!(self, PartResult::Absent)
    }

    pub fn mark(self) -> Option<HalfPoints> {
        match self {
            PartResult::Mark(m) => Some(m),
            PartResult::Absent => None,
        }
    }

    /// Stored half points (`None` when absent).
    pub fn stored_half_points(self) -> Option<i32> {
        self.mark().map(|m| m.half_points() as i32)
    }
}

impl fmt::Display for PartResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartResult::Absent => f.write_str("absent"),
            PartResult::Mark(m) => write!(f, "{m}/20"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn half_points_parse() {
        let hp = |s: &str| HalfPoints::parse(s).map(HalfPoints::half_points);
        assert_eq!(hp("13.5"), Ok(27));
        assert_eq!(hp("13,5"), Ok(27));
        assert_eq!(hp(" 13 "), Ok(26));
        assert_eq!(hp("13.0"), Ok(26));
        assert_eq!(hp("13.50"), Ok(27));
        assert_eq!(hp("0"), Ok(0));
        assert_eq!(hp("20"), Ok(40));
        assert_eq!(hp("20.0"), Ok(40));
        assert_eq!(hp("5.5"), Ok(11));
        for bad in [
            "20.5", "21", "-1", "13.25", "13.", ".5", "abc", "1e1", "13.5.5", "", "+3", "1000",
        ] {
            assert!(HalfPoints::parse(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(HalfPoints::parse("13.25").unwrap_err().contains("half"));
        assert!(HalfPoints::parse("21").unwrap_err().contains("above 20"));
    }

    #[test]
    fn part_results() {
        assert_eq!(PartResult::parse("", true), Ok(PartResult::Absent));
        assert!(PartResult::parse("12", true).is_err());
        assert!(PartResult::parse("", false).is_err());
        assert_eq!(
            PartResult::parse("12", false).unwrap().stored_half_points(),
            Some(24)
        );
        assert_eq!(
            PartResult::from_stored(false, Some(27)),
            Some(PartResult::Mark(HalfPoints(27)))
        );
        assert_eq!(
            PartResult::from_stored(true, None),
            Some(PartResult::Absent)
        );
        assert_eq!(PartResult::from_stored(false, Some(41)), None);
        assert_eq!(PartResult::from_stored(false, None), None);
    }

    proptest! {
        /// Every half point from 0 to 20 shows and parses back to itself, with a comma too.
        #[test]
        fn show_parse_round_trip(h in 0u32..=40) {
            let shown = HalfPoints::show(h);
            prop_assert_eq!(HalfPoints::parse(&shown).unwrap().half_points(), h);
            prop_assert_eq!(HalfPoints::parse(&shown.replace('.', ",")).unwrap().half_points(), h);
            prop_assert_eq!(HalfPoints::new(h).unwrap().to_string(), shown);
        }

        /// Nothing outside 0..=20 and nothing finer than a half point is ever accepted.
        #[test]
        fn only_half_points_in_range(whole in 0u32..200, frac in 0u32..100) {
            let s = format!("{whole}.{frac:02}");
            let ok = HalfPoints::parse(&s);
            let valid = (frac == 0 || frac == 50) && whole * 2 + u32::from(frac == 50) <= 40;
            prop_assert_eq!(ok.is_ok(), valid, "{}", s);
            prop_assert!(HalfPoints::new(41 + whole).is_err());
        }
    }
}
