//! The demo's people: Toulouse's candidates, as the registration form gets them.

use cplds_proto::v1 as pb;
use cplds_runtime::people::Uai;

pub struct Person {
    last: &'static str,
    first: &'static str,
    sex: pb::Sex,
    department: &'static str,
    /// The seven digits of the workplace's UAI, as a number.
    uai_digits: u32,
    workplace: pb::WorkplaceType,
    sector: pb::StaffSector,
    status: pb::StaffStatus,
    corps: pb::Corps,
    mlds: bool,
    referent: bool,
}

pub const PEOPLE: &[Person] = &[
    Person {
        last: "Garcia",
        first: "Inès",
        sex: pb::Sex::Female,
        department: "31",
        uai_digits: 310036,
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: true,
    },
    Person {
        last: "Bernard",
        first: "Lucas",
        sex: pb::Sex::Male,
        department: "31",
        uai_digits: 311234,
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: false,
        referent: true,
    },
    Person {
        last: "Roux",
        first: "Chloé",
        sex: pb::Sex::Female,
        department: "81",
        uai_digits: 810012,
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::ContractPermanent,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Fabre",
        first: "Hugo",
        sex: pb::Sex::Male,
        department: "82",
        uai_digits: 820021,
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Castan",
        first: "Léa",
        sex: pb::Sex::Female,
        department: "65",
        uai_digits: 650040,
        workplace: pb::WorkplaceType::Erea,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::FirstDegree,
        mlds: false,
        referent: false,
    },
    Person {
        last: "Marty",
        first: "Nathan",
        sex: pb::Sex::Male,
        department: "12",
        uai_digits: 120055,
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::PrivateUnderContract,
        status: pb::StaffStatus::PrivateContractTeacher,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: true,
    },
    Person {
        last: "Vidal",
        first: "Manon",
        sex: pb::Sex::Female,
        department: "31",
        uai_digits: 312007,
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: true,
    },
    Person {
        last: "Durand",
        first: "Théo",
        sex: pb::Sex::Male,
        department: "09",
        uai_digits: 90003,
        workplace: pb::WorkplaceType::Iem,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::FirstDegree,
        mlds: false,
        referent: true,
    },
    Person {
        last: "Lacombe",
        first: "Sarah",
        sex: pb::Sex::Female,
        department: "46",
        uai_digits: 460011,
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::ContractFixedTerm,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Cazals",
        first: "Paul",
        sex: pb::Sex::Male,
        department: "32",
        uai_digits: 320018,
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Soulié",
        first: "Emma",
        sex: pb::Sex::Female,
        department: "31",
        uai_digits: 313301,
        workplace: pb::WorkplaceType::Other,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Rey",
        first: "Jules",
        sex: pb::Sex::Male,
        department: "81",
        uai_digits: 810150,
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: false,
        referent: false,
    },
];

/// The UAI whose seven digits write `number`, with its check letter.
pub(super) fn uai(number: u32) -> String {
    Uai::of_number(number).as_str().to_owned()
}

pub(super) fn email(p: &Person) -> String {
    let clean = |s: &str| s.to_lowercase().replace(['é', 'è'], "e").replace('ï', "i");
    format!("{}.{}@ac-toulouse.fr", clean(p.first), clean(p.last))
}

pub fn details(i: usize, p: &Person) -> pb::CandidateDetails {
    pb::CandidateDetails {
        last_name: p.last.into(),
        first_name: p.first.into(),
        birth_date: format!("19{}-0{}-1{}", 70 + i % 25, 1 + i % 9, i % 10),
        email: email(p),
        phone: format!("06 12 34 {:02} {:02}", i, i * 3 % 100),
        staff_number: format!("{:02}E{:07}TLS", 10 + i, 4_200_000 + i * 37),
        sex: p.sex as i32,
        sector: p.sector as i32,
        status: p.status as i32,
        function: pb::StaffFunction::Teaching as i32,
        corps: p.corps as i32,
        workplace_uai: uai(p.uai_digits),
        workplace_type: p.workplace as i32,
        department: p.department.into(),
        runs_mlds_actions: p.mlds,
        is_dropout_referent: p.referent,
    }
}

/// A minimal valid PDF, as a scanned document would be.
pub(super) fn scan(title: &str) -> Vec<u8> {
    let mut d = cplds_runtime::pdf::Document::new(title);
    d.page()
        .text(72.0, 770.0, cplds_runtime::pdf::Font::Regular, 12.0, title);
    d.finish()
}
