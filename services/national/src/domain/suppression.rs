//! Statistical disclosure control for published tables: primary suppression of small counts and
//! complementary suppression, so that no hidden cell can be recomputed from the totals.
//!
//! A table has cells keyed by one value per dimension. A *line* is the set of cells that share
//! every value but one; its sum can be known (from a margin or another query), so a line must
//! never hold exactly one hidden cell. Hiding goes on, smallest cell first, until that holds.

use std::collections::BTreeMap;

/// Returns which cells to hide and whether the table total must be hidden too.
///
/// `keys[i]` are the dimension values of cell `i` (`dims` of them); `total` is the table total
/// (published beside it). Counts with `0 < value < threshold` are hidden (zeros are not: a zero
/// reveals nobody).
pub fn suppress_table(
    keys: &[Vec<String>],
    dims: usize,
    values: &[i64],
    total: i64,
    threshold: i64,
) -> (Vec<bool>, bool) {
    let mut hidden: Vec<bool> = values.iter().map(|&v| v > 0 && v < threshold).collect();
    let total_hidden = total > 0 && total < threshold;
    if dims == 0 || keys.is_empty() {
        return (hidden, total_hidden);
    }
    // Lines: for each dimension, the cells that agree on all the other dimensions.
    let mut lines: Vec<Vec<usize>> = Vec::new();
    for d in 0..dims {
        let mut by_rest: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            let rest: Vec<&str> = k
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != d)
                .map(|(_, v)| v.as_str())
                .collect();
            by_rest.entry(rest).or_default().push(i);
        }
        lines.extend(by_rest.into_values());
    }
    let mut total_hidden = total_hidden;
    loop {
        let mut changed = false;
        for line in &lines {
            let count = line.iter().filter(|&&i| hidden[i]).count();
            if count != 1 {
                continue;
            }
            // Hide the smallest other cell, preferring non-zero ones (a hidden zero can be
            // guessed when it is the only candidate).
            let pick = line
                .iter()
                .copied()
                .filter(|&i| !hidden[i])
                .min_by_key(|&i| (values[i] == 0, values[i], i));
            match pick {
                Some(i) => {
                    hidden[i] = true;
                    changed = true;
                }
                // A line of one cell: its sum is the cell; in one dimension that sum is the total.
                None if dims == 1 && !total_hidden => {
                    total_hidden = true;
                }
                None => {}
            }
        }
        if !changed {
            break;
        }
    }
    (hidden, total_hidden)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn table(values: &[i64], cols: usize) -> Vec<Vec<String>> {
        (0..values.len())
            .map(|i| match (i.checked_div(cols), i.checked_rem(cols)) {
                (Some(row), Some(col)) => vec![row.to_string(), col.to_string()],
                _ => vec![i.to_string()],
            })
            .collect()
    }

    #[test]
    fn one_dimension() {
        let (h, t) = suppress_table(&table(&[9, 2, 14], 0), 1, &[9, 2, 14], 25, 5);
        assert_eq!(
            h,
            [true, true, false],
            "the smallest other cell is hidden with the small one"
        );
        assert!(!t);
        let (h, t) = suppress_table(&table(&[3], 0), 1, &[3], 3, 5);
        assert_eq!((h, t), (vec![true], true));
        let (h, _) = suppress_table(&table(&[0, 7, 8], 0), 1, &[0, 7, 8], 15, 5);
        assert_eq!(h, [false, false, false]);
    }

    proptest! {
        /// Every small count is hidden, and no line (row or column) of a published two-way table
        /// has exactly one hidden cell, so none can be recomputed from a margin.
        #[test]
        fn no_hidden_cell_is_recoverable(values in prop::collection::vec(0i64..12, 1..30), cols in 1usize..6, threshold in 2i64..6) {
            let n = values.len() - values.len() % cols;
            prop_assume!(n >= cols);
            let values = &values[..n];
            let keys = table(values, cols);
            let total: i64 = values.iter().sum();
            let (hidden, _) = suppress_table(&keys, 2, values, total, threshold);
            for (i, &v) in values.iter().enumerate() {
                if v > 0 && v < threshold { prop_assert!(hidden[i]); }
            }
            let rows = n / cols;
            for r in 0..rows {
                let k = (0..cols).filter(|c| hidden[r * cols + c]).count();
                prop_assert!(k != 1 || cols == 1, "row {r} has one hidden cell");
            }
            for c in 0..cols {
                let k = (0..rows).filter(|r| hidden[r * cols + c]).count();
                prop_assert!(k != 1 || rows == 1, "column {c} has one hidden cell");
            }
        }

        #[test]
        fn one_way_tables_with_their_total(values in prop::collection::vec(0i64..12, 1..15), threshold in 2i64..6) {
            let keys = table(&values, 0);
            let total: i64 = values.iter().sum();
            let (hidden, total_hidden) = suppress_table(&keys, 1, &values, total, threshold);
            let k = hidden.iter().filter(|h| **h).count();
            prop_assert!(k != 1 || total_hidden, "a single hidden cell is total minus the others");
        }
    }
}
