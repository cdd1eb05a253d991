//! Records of this académie's staff trained in a cohort of another académie of the région
//! académique, as that académie sends them: who may send one, and what each changes. Records
//! may arrive in any order (a completion before the enrolment); a final record is never
//! reopened.

use cplds_runtime::academy::Academy;

cplds_runtime::text_enum!(
    /// Where a member of staff trained elsewhere stands.
    ExternalStatus { Enrolled => "enrolled", Completed => "completed", Abandoned => "abandoned" }
);

/// Outcomes of a forwarded record, as the contract spells them.
pub const ENROLLED: &str = "ENROLLED";
pub const COMPLETED: &str = "COMPLETED";
pub const ABANDONED: &str = "ABANDONED";

impl ExternalStatus {
    /// The status an outcome of the contract records.
    pub fn from_outcome(outcome: &str) -> Result<Self, String> {
        match outcome {
            ENROLLED => Ok(ExternalStatus::Enrolled),
            COMPLETED => Ok(ExternalStatus::Completed),
            ABANDONED => Ok(ExternalStatus::Abandoned),
            other => Err(format!("unknown outcome {other:?}")),
        }
    }

    pub fn outcome(self) -> &'static str {
        match self {
            ExternalStatus::Enrolled => ENROLLED,
            ExternalStatus::Completed => COMPLETED,
            ExternalStatus::Abandoned => ABANDONED,
        }
    }
}

/// The académie a record comes from: another académie of `home`'s région, which published the
/// record under its own name.
pub fn sender(
    home: &Academy,
    published_by: &str,
    organizing: &str,
) -> Result<&'static Academy, String> {
    Academy::find(organizing)
        .filter(|a| a.code == published_by && *a != home && a.region == home.region)
        .ok_or_else(|| {
            format!(
                "record from {published_by:?} for {organizing:?}: not another académie of the \
                 région académique {}",
                home.region.name
            )
        })
}

/// What a record changes in what is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The enrolment is recorded now (it was not yet).
    pub enrols: bool,
    /// The record is closed with this status.
    pub closes: Option<ExternalStatus>,
}

/// The change a record with `outcome` makes, given the status recorded so far; `None` when the
/// record is already final, so nothing changes.
pub fn change(recorded: Option<ExternalStatus>, outcome: ExternalStatus) -> Option<Change> {
    let closes = (outcome != ExternalStatus::Enrolled).then_some(outcome);
    match recorded {
        None => Some(Change {
            enrols: true,
            closes,
        }),
        Some(ExternalStatus::Enrolled) => Some(Change {
            enrols: false,
            closes,
        }),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExternalStatus::*;

    #[test]
    fn outcomes_read_both_ways() {
        for s in ExternalStatus::ALL {
            assert_eq!(ExternalStatus::from_outcome(s.outcome()), Ok(*s));
        }
        assert!(ExternalStatus::from_outcome("GRADUATED").is_err());
    }

    #[test]
    fn only_another_academie_of_the_region_sends_records() {
        let limoges = Academy::find("limoges").unwrap();
        assert_eq!(
            sender(limoges, "bordeaux", "bordeaux").unwrap().code,
            "bordeaux"
        );
        assert!(
            sender(limoges, "toulouse", "toulouse").is_err(),
            "another région"
        );
        assert!(sender(limoges, "limoges", "limoges").is_err(), "itself");
        assert!(
            sender(limoges, "poitiers", "bordeaux").is_err(),
            "under another name"
        );
        assert!(sender(limoges, "atlantis", "atlantis").is_err());
    }

    #[test]
    fn any_order_and_final_records_stay_final() {
        let both = |enrols, closes| Some(Change { enrols, closes });
        assert_eq!(change(None, Enrolled), both(true, None));
        assert_eq!(change(None, Completed), both(true, Some(Completed)));
        assert_eq!(change(Some(Enrolled), Enrolled), both(false, None));
        assert_eq!(
            change(Some(Enrolled), Abandoned),
            both(false, Some(Abandoned))
        );
        for last in [Completed, Abandoned] {
            for outcome in ExternalStatus::ALL {
                assert_eq!(change(Some(last), *outcome), None);
            }
        }
    }
}
