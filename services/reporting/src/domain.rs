//! The MLDS survey's vocabulary (national nomenclature) and the rules of a submission.

use std::collections::HashSet;

pub const ACTION_KINDS: &[&str] = &[
    "prevention",
    "remobilisation",
    "remise_a_niveau",
    "orientation",
    "alternance",
    "exam_preparation",
    "accompaniment",
];
pub const AGE_BANDS: &[&str] = &["under_16", "16-17", "18-20", "21-25"];
pub const OUTCOMES: &[&str] = &[
    "school",
    "apprenticeship",
    "vocational_training",
    "employment",
    "civic_service",
    "other_support",
    "no_solution",
    "unknown",
];

cplds_runtime::text_enum!(Sex { Female => "female", Male => "male" });

impl Sex {
    pub fn from_pb(sex: i32) -> Option<Sex> {
        match cplds_proto::v1::Sex::try_from(sex) {
            Ok(cplds_proto::v1::Sex::Female) => Some(Sex::Female),
            Ok(cplds_proto::v1::Sex::Male) => Some(Sex::Male),
            _ => None,
        }
    }

    pub fn to_pb(self) -> i32 {
        match self {
            Sex::Female => cplds_proto::v1::Sex::Female as i32,
            Sex::Male => cplds_proto::v1::Sex::Male as i32,
        }
    }
}

/// The survey's year: from the CPLDS's first session (2017) to next year.
pub fn parse_year(year: i32, today: chrono::NaiveDate) -> Result<i32, String> {
    use chrono::Datelike;
    let last = today.year() + 1;
    if (2017..=last).contains(&year) {
        Ok(year)
    } else {
        Err(format!("must be between 2017 and {last}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub action_kind: &'static str,
    pub sex: Sex,
    pub age_band: &'static str,
    pub outcome: &'static str,
    pub young_people: u32,
}

fn one_of(value: &str, allowed: &'static [&'static str]) -> Result<&'static str, String> {
    allowed
        .iter()
        .copied()
        .find(|a| *a == value.trim())
        .ok_or_else(|| format!("{value:?} is not one of: {}", allowed.join(", ")))
}

/// A raw line as the API receives it.
pub struct RawLine<'a> {
    pub action_kind: &'a str,
    pub sex: Option<Sex>,
    pub age_band: &'a str,
    pub outcome: &'a str,
    pub young_people: u32,
}

/// Checks every line; errors are (field path, reason), with `lines[i].field` paths.
pub fn parse_lines(raw: &[RawLine<'_>]) -> Result<Vec<Line>, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    if raw.is_empty() {
        errors.push((
            "lines".to_owned(),
            "at least one line is required".to_owned(),
        ));
    }
    if raw.len() > 10_000 {
        errors.push(("lines".to_owned(), "at most 10000 lines".to_owned()));
    }
    for (i, l) in raw.iter().enumerate() {
        let f = |name: &str| format!("lines[{i}].{name}");
        let kind = one_of(l.action_kind, ACTION_KINDS)
            .map_err(|e| errors.push((f("action_kind"), e)))
            .ok();
        let band = one_of(l.age_band, AGE_BANDS)
            .map_err(|e| errors.push((f("age_band"), e)))
            .ok();
        let outcome = one_of(l.outcome, OUTCOMES)
            .map_err(|e| errors.push((f("outcome"), e)))
            .ok();
        if l.sex.is_none() {
            errors.push((f("sex"), "is required".into()));
        }
        if l.young_people == 0 {
            errors.push((
                f("young_people"),
                "must be at least 1 (leave empty cells out)".into(),
            ));
        }
        if let (Some(action_kind), Some(sex), Some(age_band), Some(outcome)) =
            (kind, l.sex, band, outcome)
        {
            if !seen.insert((action_kind, sex, age_band, outcome)) {
                errors.push((format!("lines[{i}]"), "the same cell is given twice".into()));
            }
            out.push(Line {
                action_kind,
                sex,
                age_band,
                outcome,
                young_people: l.young_people,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

pub fn parse_remarks(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.chars().count() > 4000 {
        Err("must be at most 4000 characters".into())
    } else {
        Ok(t.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>(kind: &'a str, band: &'a str, n: u32) -> RawLine<'a> {
        RawLine {
            action_kind: kind,
            sex: Some(Sex::Female),
            age_band: band,
            outcome: "school",
            young_people: n,
        }
    }

    #[test]
    fn lines() {
        assert_eq!(
            parse_lines(&[raw("remobilisation", "16-17", 12)]).unwrap()[0].young_people,
            12
        );
        let errs = parse_lines(&[raw("knitting", "16-17", 0), raw("remobilisation", "99", 3)])
            .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            fields,
            [
                "lines[0].action_kind",
                "lines[0].young_people",
                "lines[1].age_band"
            ]
        );
        let dup = parse_lines(&[
            raw("orientation", "18-20", 1),
            raw("orientation", "18-20", 2),
        ])
        .unwrap_err();
        assert_eq!(dup[0].0, "lines[1]");
        assert!(parse_lines(&[]).is_err());
    }
}
