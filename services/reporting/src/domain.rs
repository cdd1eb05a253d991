//! The MLDS survey's vocabulary (national nomenclature) and the rules of a submission.

use std::collections::HashSet;

/// The MLDS's action types (circulaire of 29 March 2013; the domain README's four objectives):
/// aménagement du parcours de formation initiale (PAFI), accueil et remobilisation, préparer à
/// nouveau tout ou partie d'un examen, retour en formation initiale (droit au retour en
/// formation), obligation de formation des 16-18 ans.
pub const ACTION_TYPES: &[&str] = &[
    "pafi",
    "remobilisation",
    "exam_preparation_again",
    "return_to_training",
    "training_obligation",
];
/// The MLDS takes in young people over 16.
pub const AGE_BANDS: &[&str] = &["16-17", "18-20", "21-25", "26+"];
/// What became of them after the accompaniment (devenir).
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

/// One count of the survey: a category (age band, action type or outcome), a sex, a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub category: &'static str,
    pub sex: Sex,
    pub young_people: u32,
}

/// A year's survey as the MLDS counts: the young people accompanied (each once, by age band),
/// the actions they followed (one may follow several) and what became of them (each one outcome).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    pub headcount: Vec<Count>,
    pub actions: Vec<Count>,
    pub outcomes: Vec<Count>,
}

impl Survey {
    pub fn young_people(&self) -> i64 {
        self.headcount
            .iter()
            .map(|c| i64::from(c.young_people))
            .sum()
    }

    fn headcount_of(&self, sex: Sex) -> u32 {
        total(&self.headcount, sex)
    }
}

fn total(counts: &[Count], sex: Sex) -> u32 {
    counts
        .iter()
        .filter(|c| c.sex == sex)
        .map(|c| c.young_people)
        .sum()
}

/// A raw count as the API receives it.
pub struct RawCount<'a> {
    pub category: &'a str,
    pub sex: Option<Sex>,
    pub young_people: u32,
}

/// The raw survey: `former_lines` counts the lines of the former format, which are refused.
pub struct RawSurvey<'a> {
    pub former_lines: usize,
    pub headcount: Vec<RawCount<'a>>,
    pub actions: Vec<RawCount<'a>>,
    pub outcomes: Vec<RawCount<'a>>,
}

fn one_of(value: &str, allowed: &'static [&'static str]) -> Result<&'static str, String> {
    allowed
        .iter()
        .copied()
        .find(|a| *a == value.trim())
        .ok_or_else(|| format!("{value:?} is not one of: {}", allowed.join(", ")))
}

/// Parses one list of counts (`field`: its name, `category`: the name of its category field).
fn parse_counts(
    raw: &[RawCount<'_>],
    field: &str,
    category: &str,
    allowed: &'static [&'static str],
    errors: &mut Vec<(String, String)>,
) -> Vec<Count> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    if raw.len() > 1_000 {
        errors.push((field.to_owned(), "at most 1000 lines".to_owned()));
        return out;
    }
    for (i, c) in raw.iter().enumerate() {
        let f = |name: &str| format!("{field}[{i}].{name}");
        let value = one_of(c.category, allowed)
            .map_err(|e| errors.push((f(category), e)))
            .ok();
        if c.sex.is_none() {
            errors.push((f("sex"), "is required".into()));
        }
        if c.young_people == 0 {
            errors.push((
                f("young_people"),
                "must be at least 1 (leave empty cells out)".into(),
            ));
        }
        if let (Some(category), Some(sex)) = (value, c.sex) {
            if !seen.insert((category, sex)) {
                errors.push((
                    format!("{field}[{i}]"),
                    "the same cell is given twice".into(),
                ));
            }
            out.push(Count {
                category,
                sex,
                young_people: c.young_people,
            });
        }
    }
    out
}

/// Checks a survey; errors are (field path, reason). Beyond each line's words: the headcount is
/// given; no action was followed by more young people of a sex than were accompanied; the
/// outcomes of a sex add up to its headcount (each young person has one, "unknown" included).
pub fn parse_survey(raw: &RawSurvey<'_>) -> Result<Survey, Vec<(String, String)>> {
    let mut errors = Vec::new();
    if raw.former_lines > 0 {
        errors.push((
            "lines".to_owned(),
            "the former format (cells crossing action, age and outcome) makes no headcount: send \
             headcount, actions and outcomes instead"
                .to_owned(),
        ));
    }
    if raw.headcount.is_empty() {
        errors.push((
            "headcount".to_owned(),
            "is required: the young people accompanied, by sex and age band".to_owned(),
        ));
    }
    let survey = Survey {
        headcount: parse_counts(
            &raw.headcount,
            "headcount",
            "age_band",
            AGE_BANDS,
            &mut errors,
        ),
        actions: parse_counts(
            &raw.actions,
            "actions",
            "action_type",
            ACTION_TYPES,
            &mut errors,
        ),
        outcomes: parse_counts(&raw.outcomes, "outcomes", "outcome", OUTCOMES, &mut errors),
    };
    if errors.is_empty() {
        for (i, a) in survey.actions.iter().enumerate() {
            let headcount = survey.headcount_of(a.sex);
            if a.young_people > headcount {
                errors.push((
                    format!("actions[{i}].young_people"),
                    format!(
                        "{} {} young people followed {}, but the headcount has {headcount}: an \
                         action counts young people among those accompanied",
                        a.young_people,
                        a.sex.as_str(),
                        a.category
                    ),
                ));
            }
        }
        for sex in [Sex::Female, Sex::Male] {
            let (outcomes, headcount) = (total(&survey.outcomes, sex), survey.headcount_of(sex));
            if outcomes != headcount {
                errors.push((
                    "outcomes".to_owned(),
                    format!(
                        "the outcomes of {} young people add up to {outcomes}, their headcount \
                         is {headcount}: each young person accompanied has one outcome \
                         (\"unknown\" included)",
                        sex.as_str()
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(survey)
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

    fn count(category: &str, sex: Sex, n: u32) -> RawCount<'_> {
        RawCount {
            category,
            sex: Some(sex),
            young_people: n,
        }
    }

    fn survey<'a>(
        headcount: Vec<RawCount<'a>>,
        actions: Vec<RawCount<'a>>,
        outcomes: Vec<RawCount<'a>>,
    ) -> RawSurvey<'a> {
        RawSurvey {
            former_lines: 0,
            headcount,
            actions,
            outcomes,
        }
    }

    fn fields(errors: &[(String, String)]) -> Vec<&str> {
        errors.iter().map(|e| e.0.as_str()).collect()
    }

    #[test]
    fn a_headcount_apart_from_actions() {
        // Twelve young women, eight of whom followed two actions: 20 actions followed, 12 people.
        let s = parse_survey(&survey(
            vec![
                count("16-17", Sex::Female, 5),
                count("18-20", Sex::Female, 7),
            ],
            vec![
                count("remobilisation", Sex::Female, 12),
                count("pafi", Sex::Female, 8),
            ],
            vec![
                count("school", Sex::Female, 9),
                count("unknown", Sex::Female, 3),
            ],
        ))
        .unwrap();
        assert_eq!(s.young_people(), 12);
    }

    #[test]
    fn words_of_each_line() {
        let errs = parse_survey(&survey(
            vec![
                count("under_16", Sex::Female, 3),
                count("16-17", Sex::Male, 0),
            ],
            vec![count("knitting", Sex::Female, 1)],
            vec![],
        ))
        .unwrap_err();
        assert_eq!(
            fields(&errs),
            [
                "headcount[0].age_band",
                "headcount[1].young_people",
                "actions[0].action_type"
            ]
        );
        let twice = parse_survey(&survey(
            vec![count("16-17", Sex::Male, 1), count("16-17", Sex::Male, 2)],
            vec![],
            vec![count("school", Sex::Male, 3)],
        ))
        .unwrap_err();
        assert_eq!(fields(&twice), ["headcount[1]"]);
        let empty = parse_survey(&survey(vec![], vec![], vec![])).unwrap_err();
        assert_eq!(fields(&empty), ["headcount"]);
        let mut former = survey(
            vec![count("16-17", Sex::Male, 1)],
            vec![],
            vec![count("school", Sex::Male, 1)],
        );
        former.former_lines = 1;
        assert_eq!(fields(&parse_survey(&former).unwrap_err()), ["lines"]);
    }

    #[test]
    fn an_inconsistent_return_is_refused() {
        // An action followed by more young men than were accompanied; outcomes of 9 for 10.
        let errs = parse_survey(&survey(
            vec![count("18-20", Sex::Male, 10)],
            vec![count("return_to_training", Sex::Male, 11)],
            vec![count("employment", Sex::Male, 9)],
        ))
        .unwrap_err();
        assert_eq!(fields(&errs), ["actions[0].young_people", "outcomes"]);
        assert!(errs[1].1.contains("add up to 9"), "{errs:?}");
        // Outcomes given for young women nobody counted.
        let errs = parse_survey(&survey(
            vec![count("18-20", Sex::Male, 2)],
            vec![],
            vec![
                count("school", Sex::Male, 2),
                count("school", Sex::Female, 1),
            ],
        ))
        .unwrap_err();
        assert_eq!(fields(&errs), ["outcomes"]);
    }
}
