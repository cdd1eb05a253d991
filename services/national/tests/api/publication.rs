//! For publication, small counts are hidden with their complements, so that none can be
//! recovered from what is shown.

use cplds_proto::v1 as pb;
use cplds_runtime::bus::memory::InMemoryBus;

use crate::helpers::{academy_scope, national, reims_results, stats};

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
