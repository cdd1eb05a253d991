//! For publication, small counts are hidden with their complements, so that none can be
//! recovered from what is shown.

use cplds_proto::v1 as pb;
use cplds_runtime::bus::{EventBus as _, memory::InMemoryBus};

use crate::helpers::{academy_scope, fact, national, reims_results, result, stats, wait_totals};

#[tokio::test]
async fn publication_hides_small_counts_with_their_complements() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    reims_results(&bus, &f).await;
    // For publication (threshold 3): 08 and 10 have one candidate each and are hidden; in 51,
    // one candidate was absent at épreuve 2, so its count of who sat both is hidden too (else
    // 5 with a result − 4 gives the absent one), and its one eliminatory mark is hidden with
    // the total's.
    let p = stats(
        &mut f,
        academy_scope("reims"),
        vec![pb::Dimension::Department],
        true,
    )
    .await;
    let hidden = |pick: fn(&pb::Figures) -> Option<pb::Count>| -> Vec<bool> {
        p.cells
            .iter()
            .map(|c| pick(c.figures.as_ref().unwrap()).unwrap().suppressed)
            .collect()
    };
    assert_eq!(
        p.cells
            .iter()
            .map(|c| c.key[0].value.as_str())
            .collect::<Vec<_>>(),
        ["08", "10", "51"]
    );
    assert_eq!(hidden(|f| f.sat_whole_exam), [true, true, true]);
    assert_eq!(hidden(|f| f.eliminatory_part_1), [false, false, true]);
    assert_eq!(hidden(|f| f.absent_part_2), [false, false, true]);
    assert!(
        p.cells[2]
            .figures
            .as_ref()
            .unwrap()
            .eliminatory_part_1
            .unwrap()
            .value
            == 0,
        "a hidden count shows no value"
    );
    assert!(
        p.cells[0]
            .figures
            .as_ref()
            .unwrap()
            .part_1
            .unwrap()
            .suppressed,
        "marks of a group of one are hidden"
    );
    let part_1 = p.cells[2].figures.as_ref().unwrap().part_1.unwrap();
    assert!(
        !part_1.suppressed && part_1.extremes_suppressed && part_1.lowest == 0.0,
        "51's lowest mark (5/20) would tell its hidden eliminatory mark"
    );
    let totals = p.totals.as_ref().unwrap();
    assert!(totals.eliminatory_part_1.unwrap().suppressed);
    assert_eq!(totals.part_1.unwrap().marks, 7);
    assert!(p.suppressed);
}

/// The answers of one year for a région and for each of its académies are slices of one table
/// suppressed once: a count hidden in Reims's answer is never the région's minus Nancy-Metz's
/// (Strasbourg sent nothing, so its zeros are known).
#[tokio::test]
async fn no_academy_count_is_its_region_minus_the_others() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    reims_results(&bus, &f).await;
    // Nancy-Metz: four admitted, four with an eliminatory mark at épreuve 1, four absent at
    // épreuve 2: large enough to be shown on their own.
    let marks = [(Some(30), Some(30)), (Some(8), Some(30)), (Some(30), None)];
    let messages: Vec<_> = (0..12u64)
        .map(|i| {
            let (a, b) = marks[(i % 3) as usize];
            let payload = result(&format!("n{i}"), a, b, "54");
            fact("nancy-metz", "examination", i + 1, payload)
        })
        .collect();
    bus.publish(&messages).await.unwrap();
    wait_totals(&f, academy_scope("nancy-metz"), "Nancy-Metz applied", |t| {
        t.admitted.unwrap().value == 4
    })
    .await;

    let region = pb::Scope {
        level: pb::ScopeLevel::Region as i32,
        code: "grand-est".into(),
    };
    let mut answers = Vec::new();
    for scope in [region, academy_scope("reims"), academy_scope("nancy-metz")] {
        let p = stats(&mut f, scope, vec![], true).await;
        answers.push(p.totals.unwrap());
    }
    let [region, reims, nancy] = &answers[..] else {
        unreachable!()
    };
    let counts = |f: &pb::Figures| -> Vec<(&'static str, pb::Count)> {
        vec![
            ("admitted", f.admitted.unwrap()),
            ("not_admitted", f.not_admitted.unwrap()),
            ("sat_whole_exam", f.sat_whole_exam.unwrap()),
            ("eliminatory_part_1", f.eliminatory_part_1.unwrap()),
            ("absent_part_1", f.absent_part_1.unwrap()),
            ("absent_part_2", f.absent_part_2.unwrap()),
            ("referents_with_result", f.referents_with_result.unwrap()),
            ("referents_admitted", f.referents_admitted.unwrap()),
        ]
    };
    let mut hidden = 0;
    for ((name, r), ((_, g), (_, n))) in counts(reims)
        .into_iter()
        .zip(counts(region).into_iter().zip(counts(nancy)))
    {
        if r.suppressed {
            hidden += 1;
            assert!(
                g.suppressed || n.suppressed,
                "Reims's hidden {name} is the région's {} − Nancy-Metz's {}",
                g.value,
                n.value
            );
        }
    }
    assert!(hidden > 0, "Reims's eliminatory mark is hidden");
}
