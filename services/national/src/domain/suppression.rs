//! Statistical disclosure control for published answers: primary suppression of small counts and
//! complementary suppression, so that no hidden count can be recomputed from what is shown.
//!
//! An answer is a set of *items* (counts) and *lines*: sets of items whose sum is known to the
//! reader, or whose items add up (a margin and its cells; a measure and the measures it is the
//! sum of). A line holding exactly one hidden item gives it away (the sum minus the others), so
//! hiding goes on, smallest item first, until no line holds exactly one. A reader who chains
//! lines learns nothing more: every line with a hidden item holds another, never learnt either.

use std::collections::BTreeMap;

/// Which items to hide: the `0 < value < threshold` ones (a zero reveals nobody), and enough
/// others that no line holds exactly one hidden item. `ties` are (item, items hidden with it):
/// figures that would bound a hidden count (the marks under 6 when eliminatory marks are hidden).
pub fn suppress_items(
    values: &[i64],
    lines: &[Vec<usize>],
    ties: &[(usize, Vec<usize>)],
    threshold: i64,
) -> Vec<bool> {
    let mut hidden: Vec<bool> = values.iter().map(|&v| v > 0 && v < threshold).collect();
    loop {
        let mut changed = false;
        for (item, with) in ties {
            if hidden[*item] {
                for &i in with {
                    changed |= !hidden[i];
                    hidden[i] = true;
                }
            }
        }
        for line in lines {
            if line.iter().filter(|&&i| hidden[i]).count() != 1 {
                continue;
            }
            // Hide the smallest other item, preferring non-zero ones (a hidden zero can be
            // guessed when it is the only candidate).
            if let Some(i) = line
                .iter()
                .copied()
                .filter(|&i| !hidden[i])
                .min_by_key(|&i| (values[i] == 0, values[i], i))
            {
                hidden[i] = true;
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
}

/// The lines of a table of `keys.len()` cells keyed by one value per dimension (`dims` of
/// them), with the table total as index `keys.len()`. A line is the set of cells that share
/// every value but one (its sum is a margin, published here or in another answer); with one
/// dimension that margin is the total, and the cells and the total always make a line. Lines of
/// one cell are left out: that cell is its margin, which another answer publishes.
pub fn table_lines(keys: &[Vec<String>], dims: usize) -> Vec<Vec<usize>> {
    let total = keys.len();
    let mut lines: Vec<Vec<usize>> = Vec::new();
    if keys.is_empty() {
        return lines;
    }
    if dims != 1 {
        lines.push((0..=total).collect());
    }
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
        for mut line in by_rest.into_values() {
            if dims == 1 {
                line.push(total);
            }
            if line.len() > 1 {
                lines.push(line);
            }
        }
    }
    lines
}

/// Returns which cells of a table to hide and whether its total must be hidden too.
///
/// `keys[i]` are the dimension values of cell `i` (`dims` of them); `total` is the table total
/// (published beside it).
pub fn suppress_table(
    keys: &[Vec<String>],
    dims: usize,
    values: &[i64],
    total: i64,
    threshold: i64,
) -> (Vec<bool>, bool) {
    let mut all = values.to_vec();
    all.push(total);
    let mut hidden = suppress_items(&all, &table_lines(keys, dims), &[], threshold);
    let total_hidden = hidden.pop().unwrap_or(false);
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
