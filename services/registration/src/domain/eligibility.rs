//! Who may sit the CPLDS (décret n° 2017-791): teaching and education staff of the public sector,
//! tenured or on an open-ended contract (CDI); in private establishments under contract, maîtres
//! contractuels and maîtres délégués on a CDI. Nobody else.

use super::candidate::{Corps, Sector, StaffFunction, StaffStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligibility {
    pub eligible: bool,
    /// One sentence per rule applied, in French, for the candidate and the exam office.
    pub explanations: Vec<String>,
}

pub fn evaluate(
    sector: Sector,
    status: StaffStatus,
    function: StaffFunction,
    corps: Corps,
) -> Eligibility {
    let mut explanations = Vec::new();
    let mut eligible = true;
    match sector {
        Sector::Public => {
            match function {
                StaffFunction::Teaching | StaffFunction::Education => explanations
                    .push("Personnel d'enseignement ou d'éducation de l'enseignement public : condition de fonction remplie.".into()),
                StaffFunction::Other => {
                    eligible = false;
                    explanations.push(
                        "Seuls les personnels d'enseignement et d'éducation peuvent se présenter : condition de fonction non remplie.".into(),
                    );
                }
            }
            match status {
                StaffStatus::Tenured => explanations.push("Personnel titulaire : condition de statut remplie.".into()),
                StaffStatus::ContractPermanent => {
                    explanations.push("Contractuel en contrat à durée indéterminée (CDI) : condition de statut remplie.".into())
                }
                StaffStatus::ContractFixedTerm => {
                    eligible = false;
                    explanations.push("Les contractuels en contrat à durée déterminée (CDD) ne peuvent pas se présenter.".into());
                }
                _ => {
                    eligible = false;
                    explanations.push("Statut de l'enseignement privé déclaré pour un établissement public.".into());
                }
            }
        }
        Sector::PrivateUnderContract => match status {
            StaffStatus::PrivateContractTeacher if function == StaffFunction::Teaching => {
                explanations.push("Maître contractuel d'un établissement privé sous contrat : condition remplie.".into())
            }
            StaffStatus::PrivateDelegatePermanent if function == StaffFunction::Teaching => {
                explanations.push("Maître délégué en CDI d'un établissement privé sous contrat : condition remplie.".into())
            }
            StaffStatus::PrivateDelegateFixedTerm => {
                eligible = false;
                explanations.push("Les maîtres délégués en contrat à durée déterminée (CDD) ne peuvent pas se présenter.".into());
            }
            StaffStatus::PrivateContractTeacher | StaffStatus::PrivateDelegatePermanent => {
                eligible = false;
                explanations.push(
                    "Dans l'enseignement privé sous contrat, seuls les maîtres (fonction d'enseignement) peuvent se présenter.".into(),
                );
            }
            _ => {
                eligible = false;
                explanations.push("Statut de l'enseignement public déclaré pour un établissement privé sous contrat.".into());
            }
        },
    }
    if corps == Corps::FirstDegree && eligible {
        explanations.push(
            "Les personnels du premier degré (SEGPA, EREA, IEM...) peuvent se présenter.".into(),
        );
    }
    Eligibility {
        eligible,
        explanations,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn any_case() -> impl Strategy<Value = (Sector, StaffStatus, StaffFunction, Corps)> {
        (
            prop::sample::select(Sector::ALL.to_vec()),
            prop::sample::select(StaffStatus::ALL.to_vec()),
            prop::sample::select(StaffFunction::ALL.to_vec()),
            prop::sample::select(Corps::ALL.to_vec()),
        )
    }

    proptest! {
        /// The décret, stated independently: eligible iff one of the listed situations.
        #[test]
        fn matches_the_decree((sector, status, function, corps) in any_case()) {
            let expected = match (sector, status) {
                (Sector::Public, StaffStatus::Tenured | StaffStatus::ContractPermanent) => function != StaffFunction::Other,
                (Sector::PrivateUnderContract, StaffStatus::PrivateContractTeacher | StaffStatus::PrivateDelegatePermanent) => function == StaffFunction::Teaching,
                _ => false,
            };
            let e = evaluate(sector, status, function, corps);
            prop_assert_eq!(e.eligible, expected);
            prop_assert!(!e.explanations.is_empty(), "every outcome is explained");
        }

        #[test]
        fn fixed_term_contracts_are_never_eligible((sector, _s, function, corps) in any_case()) {
            for status in [StaffStatus::ContractFixedTerm, StaffStatus::PrivateDelegateFixedTerm] {
                let e = evaluate(sector, status, function, corps);
                prop_assert!(!e.eligible);
                prop_assert!(e.explanations.iter().any(|x| x.contains("CDD") || x.contains("Statut")));
            }
        }
    }

    #[test]
    fn examples() {
        let e = evaluate(
            Sector::Public,
            StaffStatus::Tenured,
            StaffFunction::Education,
            Corps::SecondDegree,
        );
        assert!(e.eligible);
        let e = evaluate(
            Sector::Public,
            StaffStatus::Tenured,
            StaffFunction::Teaching,
            Corps::FirstDegree,
        );
        assert!(e.eligible && e.explanations.iter().any(|x| x.contains("premier degré")));
        let e = evaluate(
            Sector::Public,
            StaffStatus::ContractFixedTerm,
            StaffFunction::Teaching,
            Corps::SecondDegree,
        );
        assert!(!e.eligible && e.explanations.iter().any(|x| x.contains("CDD")));
        let e = evaluate(
            Sector::Public,
            StaffStatus::Tenured,
            StaffFunction::Other,
            Corps::SecondDegree,
        );
        assert!(!e.eligible);
    }
}
