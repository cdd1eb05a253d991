//! Past sessions imported at the académie (a CSV per candidate, pseudonymised there): the
//! national figures of that year count them like live facts; the same file again changes
//! nothing; a corrected row replaces what was sent; every bad row is named.

use std::sync::Arc;

use cplds_examination::ExaminationModule;
use cplds_proto::v1::{self as pb, examination_service_client::ExaminationServiceClient};
use cplds_runtime::{
    auth::Role,
    bus::memory::InMemoryBus,
    testing::{TestNode, TestNodeOptions, authed, bad_fields},
    time::parse_paris_local,
};

use crate::helpers::{Federation, academy_scope, national, wait_totals_of};

const HEADER: &str = "staff_number,sex,department,staff_category,workplace_type,mlds_actions,dropout_referent,status,part_1,part_2\n";

const SESSION_2024: &str = "\
12E0000001AAA,female,51,first_degree,college,yes,no,validated,14,12
12E0000002AAA,male,51,second_degree_tenured,lycee,no,yes,validated,10.5,9.5
12E0000003AAA,female,08,first_degree,erea,yes,no,validated,4,18
12E0000004AAA,female,10,public_contract_second_degree,college,no,no,validated,ABS,12
12E0000005AAA,male,51,first_degree,college,no,no,withdrawn,,
12E0000006AAA,male,51,first_degree,iem,no,no,rejected,,
";

/// The 2024 totals of Reims once `done` holds.
async fn totals_2024(f: &Federation, what: &str, done: fn(&pb::Figures) -> bool) -> pb::Figures {
    wait_totals_of(f, 2024, academy_scope("reims"), what, done).await
}

#[tokio::test]
async fn a_past_session_feeds_the_national_figures_once() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let mut opts = TestNodeOptions::new("reims", vec![Arc::new(ExaminationModule)]);
    opts.bus = Some(Arc::new(bus.clone()));
    let node = TestNode::start(opts).await.unwrap();
    node.clock
        .set(parse_paris_local("2025-06-01T10:00").unwrap());
    let mut exam = ExaminationServiceClient::new(node.channel().await);
    let office = node.token("dec@ac-reims.fr", &[Role::ExamOffice]);
    let mut import = async |year: i32, csv: String| {
        exam.import_past_session(authed(
            pb::ImportPastSessionRequest {
                year,
                csv: csv.into_bytes(),
            },
            &office,
        ))
        .await
        .map(|r| r.into_inner())
    };

    let first = import(2024, format!("{HEADER}{SESSION_2024}"))
        .await
        .unwrap();
    assert_eq!(
        (first.candidates, first.imported, first.unchanged),
        (6, 6, 0)
    );
    // Admitted: 14 + 12, and 10.5 + 9.5 (20/40 exactly); not: an eliminatory 4, an absence.
    let t = totals_2024(&f, "the past session", |t| {
        t.registrations.unwrap().value == 6
    })
    .await;
    assert_eq!(t.admitted.unwrap().value, 2);
    assert_eq!(t.not_admitted.unwrap().value, 2);
    assert_eq!(t.eliminatory_part_1.unwrap().value, 1);
    assert_eq!(t.withdrawn.unwrap().value, 1);
    assert_eq!(t.invalidated.unwrap().value, 1);
    assert_eq!(t.mlds_declarers.unwrap().value, 2);

    let again = import(2024, format!("{HEADER}{SESSION_2024}"))
        .await
        .unwrap();
    assert_eq!(
        (again.imported, again.unchanged),
        (0, 6),
        "the same file sends nothing"
    );

    // A corrected row: the absent candidate had in fact sat épreuve 1 (11/20): admitted.
    let corrected = SESSION_2024.replace("validated,ABS,12", "validated,11,12");
    let fixed = import(2024, format!("{HEADER}{corrected}")).await.unwrap();
    assert_eq!((fixed.imported, fixed.unchanged), (1, 5));
    let t = totals_2024(&f, "the corrected row", |t| t.admitted.unwrap().value == 3).await;
    assert_eq!(t.registrations.unwrap().value, 6);
    assert_eq!(t.absent_part_1.unwrap().value, 0);

    // Every bad row named, nothing sent.
    let bad = format!(
        "{HEADER}12E0000001AAA,F,51,first_degree,college,yes,no,validated,14,12\n\
         12E0000009AAA,male,51,first_degree,college,no,no,rejected,12,\n"
    );
    let err = import(2024, bad).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["csv[2].sex", "csv[3].part_1"]);
    let err = import(2031, format!("{HEADER}{SESSION_2024}"))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["year"]);
    let t = totals_2024(&f, "unchanged", |t| t.admitted.unwrap().value == 3).await;
    assert_eq!(t.registrations.unwrap().value, 6);
}
