//! Who a trainee or a tutor is, as valid values only.
//!
//! Source of the tutor's qualification: arrêté of 5 May 2017 on the training, art. 2: a
//! volunteer chosen for experience among staff holding the CAPES / CAPLP *coordination
//! pédagogique et ingénierie de formation* (CPIF) or the CPLDS itself, working in the MLDS.
//!
//! Names, e-mail, NUMEN, UAI and birth dates are the runtime's `people` types, parsed by the
//! same rules in every service.

use cplds_runtime::academy::Academy;

cplds_runtime::text_enum!(Sex { Female => "female", Male => "male" });
cplds_runtime::text_enum!(TutorQualification { Cpif => "cpif", Cplds => "cplds" });
cplds_runtime::text_enum!(
    /// The sex a record sent by another académie states: it may state none (stored empty).
    StatedSex { Female => "female", Male => "male", Unstated => "" }
);

impl From<Option<Sex>> for StatedSex {
    fn from(s: Option<Sex>) -> Self {
        match s {
            Some(Sex::Female) => StatedSex::Female,
            Some(Sex::Male) => StatedSex::Male,
            None => StatedSex::Unstated,
        }
    }
}

impl StatedSex {
    pub fn sex(self) -> Option<Sex> {
        match self {
            StatedSex::Female => Some(Sex::Female),
            StatedSex::Male => Some(Sex::Male),
            StatedSex::Unstated => None,
        }
    }
}

pub use cplds_runtime::people::{BirthDate, Email, PersonName, StaffNumber, Uai};

/// An académie code of the reference data.
pub fn academy(code: &str) -> Result<&'static Academy, String> {
    let code = code.trim().to_ascii_lowercase();
    if code.is_empty() {
        return Err("is required".into());
    }
    Academy::parse(&code)
}

/// A trainee as the request states them, every field valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trainee {
    pub last_name: PersonName,
    pub first_name: PersonName,
    pub birth_date: Option<BirthDate>,
    pub email: Email,
    pub staff_number: StaffNumber,
    pub sex: Sex,
    pub workplace_uai: Uai,
    pub home_academy: &'static Academy,
}

impl Trainee {
    /// The rule tying fields together: one works in an establishment of one's own académie.
    pub fn workplace_violation(&self) -> Option<String> {
        match self.workplace_uai.academy() {
            Some(a) if a == self.home_academy => None,
            Some(a) => Some(format!(
                "the establishment {} is in the académie de {}, not in the trainee's académie ({})",
                self.workplace_uai.as_str(),
                a.name,
                self.home_academy.name
            )),
            None => Some(format!(
                "the establishment {} is in no known département",
                self.workplace_uai.as_str()
            )),
        }
    }
}

/// A tutor as the training office designates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tutor {
    pub last_name: PersonName,
    pub first_name: PersonName,
    pub email: Email,
    pub qualification: TutorQualification,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uai_check_letters_and_academies() {
        // Lycée Montesquieu (Bordeaux), Lycée Gay-Lussac (Limoges).
        let bordeaux = format!("0330021{}", Uai::check_letter("0330021").unwrap() as char);
        assert_eq!(
            Uai::parse(&bordeaux).unwrap().academy().unwrap().code,
            "bordeaux"
        );
        let limoges = format!("0870015{}", Uai::check_letter("0870015").unwrap() as char);
        assert_eq!(
            Uai::parse(&limoges).unwrap().academy().unwrap().code,
            "limoges"
        );
        assert!(Uai::parse("0310036X").unwrap_err().contains("expected W"));
        assert!(Uai::parse("").unwrap_err().contains("required"));
        let corsica = format!("6200002{}", Uai::check_letter("6200002").unwrap() as char);
        assert_eq!(Uai::parse(&corsica).unwrap().department(), "2A");
    }

    #[test]
    fn emails_names_numen() {
        assert_eq!(
            Email::parse(" Marie.Curie@AC-Bordeaux.FR ")
                .unwrap()
                .as_str(),
            "Marie.Curie@ac-bordeaux.fr"
        );
        for bad in ["marie", "marie@", "@ac.fr", "marie@localhost", "a..b@ac.fr"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(PersonName::parse("R2D2").is_err());
        assert_eq!(
            PersonName::parse("  Le   Goff ").unwrap().as_str(),
            "Le Goff"
        );
        assert_eq!(
            StaffNumber::parse("12e0123456abc").unwrap().as_str(),
            "12E0123456ABC"
        );
        assert!(StaffNumber::parse("12E01234").is_err());
        assert!(academy(" Limoges ").is_ok());
        assert!(academy("atlantis").is_err());
        assert!(academy("").unwrap_err().contains("required"));
    }

    #[test]
    fn a_stated_sex_may_be_none() {
        for s in [None, Some(Sex::Female), Some(Sex::Male)] {
            assert_eq!(StatedSex::from(s).sex(), s);
        }
        assert_eq!("".parse::<StatedSex>().unwrap(), StatedSex::Unstated);
        assert!("x".parse::<StatedSex>().is_err());
    }

    #[test]
    fn workplace_must_be_in_the_home_academy() {
        let uai =
            |d: &str| Uai::parse(&format!("{d}{}", Uai::check_letter(d).unwrap() as char)).unwrap();
        let t = |home: &str, workplace: Uai| Trainee {
            last_name: PersonName::parse("Martin").unwrap(),
            first_name: PersonName::parse("Léa").unwrap(),
            birth_date: None,
            email: Email::parse("lea.martin@ac-limoges.fr").unwrap(),
            staff_number: StaffNumber::parse("12E0000001ABC").unwrap(),
            sex: Sex::Female,
            workplace_uai: workplace,
            home_academy: Academy::find(home).unwrap(),
        };
        assert!(t("limoges", uai("0870015")).workplace_violation().is_none());
        assert!(
            t("bordeaux", uai("0870015"))
                .workplace_violation()
                .unwrap()
                .contains("Limoges")
        );
    }
}
