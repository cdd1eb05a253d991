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
    // For publication (threshold 3): 08 and 10 have one candidate each and are hidden; the one
    // eliminatory mark of 51 is hidden with a complementary cell, so that it cannot be
    // recovered as the total minus the others.
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
    assert_eq!(hidden(|f| f.sat_whole_exam), [true, true, false]);
    assert_eq!(hidden(|f| f.eliminatory_part_1), [true, false, true]);
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
    assert!(
        !p.totals
            .as_ref()
            .unwrap()
            .sat_whole_exam
            .unwrap()
            .suppressed
    );
    assert!(p.suppressed);
}
