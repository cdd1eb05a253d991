//! What a candidate declares, as valid values only.

cplds_runtime::text_enum!(Sex { Female => "female", Male => "male" });
cplds_runtime::text_enum!(
    /// Public sector, or a private establishment under contract.
    Sector { Public => "public", PrivateUnderContract => "private_under_contract" }
);
cplds_runtime::text_enum!(StaffStatus {
    Tenured => "tenured",
    ContractPermanent => "contract_permanent",
    ContractFixedTerm => "contract_fixed_term",
    PrivateContractTeacher => "private_contract_teacher",
    PrivateDelegatePermanent => "private_delegate_permanent",
    PrivateDelegateFixedTerm => "private_delegate_fixed_term",
});
cplds_runtime::text_enum!(StaffFunction { Teaching => "teaching", Education => "education", Other => "other" });
cplds_runtime::text_enum!(Corps { FirstDegree => "first_degree", SecondDegree => "second_degree" });
cplds_runtime::text_enum!(WorkplaceType { College => "college", Lycee => "lycee", Erea => "erea", Iem => "iem", Other => "other", Ecole => "ecole" });
cplds_runtime::text_enum!(
    /// Corps d'origine as the session report groups candidates.
    StaffCategory {
        FirstDegree => "first_degree",
        SecondDegreeTenured => "second_degree_tenured",
        PublicContractSecondDegree => "public_contract_second_degree",
        PrivateUnderContract => "private_under_contract",
    }
);

impl StaffStatus {
    pub fn sector(self) -> Sector {
        match self {
            StaffStatus::Tenured
            | StaffStatus::ContractPermanent
            | StaffStatus::ContractFixedTerm => Sector::Public,
            _ => Sector::PrivateUnderContract,
        }
    }
}

pub use cplds_runtime::people::{
    BirthDate, Department, Email, PersonName, Phone, StaffNumber, Uai,
};

/// A declaration that passed every rule of form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub last_name: PersonName,
    pub first_name: PersonName,
    pub birth_date: BirthDate,
    pub email: Email,
    pub phone: Option<Phone>,
    pub staff_number: StaffNumber,
    pub sex: Sex,
    pub sector: Sector,
    pub status: StaffStatus,
    pub function: StaffFunction,
    pub corps: Corps,
    pub workplace_uai: Uai,
    pub workplace_type: WorkplaceType,
    pub department: Department,
    pub runs_mlds_actions: bool,
    pub is_dropout_referent: bool,
}

impl Candidate {
    pub fn staff_category(&self) -> StaffCategory {
        staff_category(self.corps, self.sector, self.status)
    }
}

pub fn staff_category(corps: Corps, sector: Sector, status: StaffStatus) -> StaffCategory {
    match (corps, sector) {
        (Corps::FirstDegree, _) => StaffCategory::FirstDegree,
        (Corps::SecondDegree, Sector::PrivateUnderContract) => StaffCategory::PrivateUnderContract,
        (Corps::SecondDegree, Sector::Public) if status == StaffStatus::Tenured => {
            StaffCategory::SecondDegreeTenured
        }
        (Corps::SecondDegree, Sector::Public) => StaffCategory::PublicContractSecondDegree,
    }
}

/// The rules that tie fields together; field paths are relative to the candidate message.
pub fn cross_field_violations(c: &Candidate) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if c.status.sector() != c.sector {
        out.push((
            "status",
            format!(
                "status {} belongs to the {} sector, not {}",
                c.status,
                c.status.sector(),
                c.sector
            ),
        ));
    }
    let uai_department = c.workplace_uai.department();
    if uai_department != c.department.as_str() {
        out.push((
            "department",
            format!("the establishment {} is in département {uai_department}; register in the département where you work", c.workplace_uai.as_str()),
        ));
    }
    out
}

/// A valid candidate for tests across the crate.
#[cfg(test)]
pub(crate) mod fixtures {
    use cplds_runtime::academy::Academy;

    use super::*;

    /// A tenured lycée teacher of the Haute-Garonne (31).
    pub fn tenured_teacher() -> Candidate {
        let toulouse = Academy::find("toulouse").unwrap();
        Candidate {
            last_name: PersonName::parse("Martin").unwrap(),
            first_name: PersonName::parse("Camille").unwrap(),
            birth_date: BirthDate::parse(
                "1984-03-12",
                chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
            )
            .unwrap(),
            email: Email::parse("camille.martin@ac-toulouse.fr").unwrap(),
            phone: None,
            staff_number: StaffNumber::parse("12E0000001ABC").unwrap(),
            sex: Sex::Female,
            sector: Sector::Public,
            status: StaffStatus::Tenured,
            function: StaffFunction::Teaching,
            corps: Corps::SecondDegree,
            workplace_uai: Uai::parse("0310036W").unwrap(),
            workplace_type: WorkplaceType::Lycee,
            department: Department::parse("31", toulouse).unwrap(),
            runs_mlds_actions: false,
            is_dropout_referent: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use cplds_runtime::academy::Academy;

    use super::{fixtures::tenured_teacher, *};

    #[test]
    fn consistent_fields_pass() {
        assert!(cross_field_violations(&tenured_teacher()).is_empty());
    }

    #[test]
    fn a_status_belongs_to_its_sector() {
        let mut c = tenured_teacher();
        c.sector = Sector::PrivateUnderContract;
        let v = cross_field_violations(&c);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, "status");
        assert!(v[0].1.contains("public sector"), "{}", v[0].1);
    }

    #[test]
    fn the_departement_is_the_workplace_s() {
        let mut c = tenured_teacher();
        c.department = Department::parse("32", Academy::find("toulouse").unwrap()).unwrap();
        let v = cross_field_violations(&c);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, "department");
        assert!(v[0].1.contains("département 31"), "{}", v[0].1);
    }

    #[test]
    fn staff_categories() {
        use StaffStatus::*;
        assert_eq!(
            staff_category(Corps::FirstDegree, Sector::Public, ContractPermanent),
            StaffCategory::FirstDegree
        );
        assert_eq!(
            staff_category(Corps::SecondDegree, Sector::Public, Tenured),
            StaffCategory::SecondDegreeTenured
        );
        assert_eq!(
            staff_category(Corps::SecondDegree, Sector::Public, ContractPermanent),
            StaffCategory::PublicContractSecondDegree
        );
        assert_eq!(
            staff_category(
                Corps::SecondDegree,
                Sector::PrivateUnderContract,
                PrivateContractTeacher
            ),
            StaffCategory::PrivateUnderContract
        );
    }
}
