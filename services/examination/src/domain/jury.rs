//! The session's jury: its president, and the jury's remarks of the session report.
//!
//! - The jury president is appointed for the session among the members of its boards; they
//!   close the deliberation for the whole session (issue 12 §4: not the president of any board)
//!   and sign its minutes. A jury president replaced on their board must be appointed again.
//! - The session report's sections 3 and 4 — the jury's general remarks (then épreuve 1, then
//!   épreuve 2), advice and recommendations (positive points, points to improve, points to
//!   avoid) — are written by the jury, not the recteur's office (`/work/shared/domain/README.md`,
//!   "The report's sections"), with section 1, the conditions for obtaining the certificate
//!   (issue 13 §1). Drafted, then published once the deliberation is closed; the report needs
//!   at least the general remarks and those on each épreuve.

use cplds_runtime::kit::{RuleViolation, refuse};
use serde::{Deserialize, Serialize};

/// The longest a section may be, in characters (a few pages).
pub const SECTION_MAX_CHARS: usize = 20_000;

/// The jury president acting: appointed, and still on their board.
pub fn appointed<T>(president: Option<T>) -> Result<T, RuleViolation> {
    president.map_or_else(
        || {
            refuse(
                "NO_JURY_PRESIDENT",
                "the session has no jury president: the exam office appoints one among the boards' members (AppointJuryPresident)",
            )
        },
        Ok,
    )
}

/// The jury's remarks, one text per section of the report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Remarks {
    pub general_remarks: String,
    pub part_1_remarks: String,
    pub part_2_remarks: String,
    pub advice: String,
    pub positive_points: String,
    pub points_to_improve: String,
    pub points_to_avoid: String,
    pub conditions: String,
}

/// The sections, as the contract names them, in the report's order of the issue.
pub const SECTIONS: [&str; 8] = [
    "general_remarks",
    "part_1_remarks",
    "part_2_remarks",
    "advice",
    "positive_points",
    "points_to_improve",
    "points_to_avoid",
    "conditions",
];

/// The sections a published report cannot do without.
pub const REQUIRED: [&str; 3] = ["general_remarks", "part_1_remarks", "part_2_remarks"];

impl Remarks {
    /// Each section's text, trimmed and at most [`SECTION_MAX_CHARS`]; every section too long
    /// named with its problem.
    pub fn parse(texts: [&str; 8]) -> Result<Remarks, Vec<(&'static str, String)>> {
        let mut bad = Vec::new();
        let mut parsed = texts.map(|t| t.trim().to_owned());
        for (name, text) in SECTIONS.iter().zip(parsed.iter_mut()) {
            let n = text.chars().count();
            if n > SECTION_MAX_CHARS {
                bad.push((
                    *name,
                    format!("must be at most {SECTION_MAX_CHARS} characters ({n} given)"),
                ));
            }
        }
        if !bad.is_empty() {
            return Err(bad);
        }
        let [
            general_remarks,
            part_1_remarks,
            part_2_remarks,
            advice,
            positive_points,
            points_to_improve,
            points_to_avoid,
            conditions,
        ] = parsed;
        Ok(Remarks {
            general_remarks,
            part_1_remarks,
            part_2_remarks,
            advice,
            positive_points,
            points_to_improve,
            points_to_avoid,
            conditions,
        })
    }

    /// (name, text) of each section, in [`SECTIONS`] order.
    pub fn sections(&self) -> [(&'static str, &str); 8] {
        [
            (SECTIONS[0], self.general_remarks.as_str()),
            (SECTIONS[1], self.part_1_remarks.as_str()),
            (SECTIONS[2], self.part_2_remarks.as_str()),
            (SECTIONS[3], self.advice.as_str()),
            (SECTIONS[4], self.positive_points.as_str()),
            (SECTIONS[5], self.points_to_improve.as_str()),
            (SECTIONS[6], self.points_to_avoid.as_str()),
            (SECTIONS[7], self.conditions.as_str()),
        ]
    }
}

/// What publishing a draft does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publishing {
    /// A new version, numbered.
    New(u32),
    /// The draft is what was published last: nothing changes, nothing is sent.
    Unchanged,
}

/// The remarks of a session, which the jury president writes before publishing them.
pub fn written<T>(remarks: Option<T>) -> Result<T, RuleViolation> {
    remarks.map_or_else(
        || {
            refuse(
                "REMARKS_NOT_WRITTEN",
                "write the jury's remarks (SaveJuryRemarks) before publishing them",
            )
        },
        Ok,
    )
}

/// Publishing the draft: it holds the required sections; the same text again is no new
/// version.
pub fn publish(
    draft: &Remarks,
    published: Option<&Remarks>,
    version: u32,
) -> Result<Publishing, RuleViolation> {
    let missing: Vec<&str> = draft
        .sections()
        .iter()
        .filter(|(name, text)| REQUIRED.contains(name) && text.is_empty())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return refuse(
            "REMARKS_INCOMPLETE",
            format!(
                "the report needs the jury's general remarks and those on each épreuve: {} empty",
                missing.join(", ")
            ),
        );
    }
    if published == Some(draft) {
        return Ok(Publishing::Unchanged);
    }
    Ok(Publishing::New(version + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remarks(general: &str) -> Remarks {
        Remarks::parse([
            general,
            " Épreuve 1 : séances bien construites. ",
            "Épreuve 2 : diagnostics trop rapides.",
            "",
            "",
            "",
            "",
            "",
        ])
        .unwrap()
    }

    #[test]
    fn sections_are_trimmed_and_bounded() {
        let r = remarks("Session de bon niveau.");
        assert_eq!(r.part_1_remarks, "Épreuve 1 : séances bien construites.");
        assert_eq!(
            r.sections()[1],
            ("part_1_remarks", r.part_1_remarks.as_str())
        );
        assert_eq!(r.sections().map(|s| s.0), SECTIONS);
        let long = "é".repeat(SECTION_MAX_CHARS + 1);
        let e = Remarks::parse(["", "", "", "", "", &long, "", &long]).unwrap_err();
        assert_eq!(
            e.iter().map(|b| b.0).collect::<Vec<_>>(),
            ["points_to_improve", "conditions"]
        );
        assert!(
            Remarks::parse(["", "", "", "", "", &long[..2 * SECTION_MAX_CHARS], "", ""]).is_ok()
        );
    }

    #[test]
    fn publishing_needs_the_general_remarks_and_each_epreuve() {
        assert_eq!(written(None::<()>).unwrap_err().rule, "REMARKS_NOT_WRITTEN");
        let e = publish(&remarks(""), None, 0).unwrap_err();
        assert_eq!(e.rule, "REMARKS_INCOMPLETE");
        assert!(
            e.message.ends_with("general_remarks empty"),
            "{}",
            e.message
        );
        let r = remarks("Session de bon niveau.");
        assert_eq!(publish(&r, None, 0), Ok(Publishing::New(1)));
        assert_eq!(publish(&r, Some(&r), 1), Ok(Publishing::Unchanged));
        let changed = remarks("Session de très bon niveau.");
        assert_eq!(publish(&changed, Some(&r), 1), Ok(Publishing::New(2)));
    }

    #[test]
    fn a_session_needs_its_jury_president() {
        assert_eq!(appointed(Some(1)), Ok(1));
        assert_eq!(appointed(None::<()>).unwrap_err().rule, "NO_JURY_PRESIDENT");
    }
}
