//! Statistical disclosure control for published answers: primary suppression of small counts and
//! complementary suppression, so that no hidden count can be recomputed from what is shown.
//!
//! An answer is a set of *items* (counts) and *lines*: sets of items whose sum is known to the
//! reader, or whose items add up (a margin and its cells; a measure and the measures it is the
//! sum of). A line holding exactly one hidden item gives it away (the sum minus the others), so
//! hiding goes on, smallest item first, until no line holds exactly one. A reader who chains
//! lines learns nothing more: every line with a hidden item holds another, never learnt either.

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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A one-way table: cells `0..values.len()` and their total last, in one line.
    fn one_way(values: &[i64], threshold: i64) -> (Vec<bool>, bool) {
        let mut all = values.to_vec();
        all.push(values.iter().sum());
        let line: Vec<usize> = (0..all.len()).collect();
        let mut hidden = suppress_items(&all, &[line], &[], threshold);
        let total = hidden.pop().unwrap_or(false);
        (hidden, total)
    }

    #[test]
    fn one_dimension() {
        assert_eq!(
            one_way(&[9, 2, 14], 5),
            (vec![true, true, false], false),
            "the smallest other cell is hidden with the small one"
        );
        assert_eq!(one_way(&[3], 5), (vec![true], true));
        assert_eq!(one_way(&[0, 7, 8], 5), (vec![false, false, false], false));
    }

    #[test]
    fn ties_hide_what_would_bound_a_hidden_count() {
        // Item 0 hidden (small) hides 1 and 2 with it, which then need a complement in line 1-3.
        let hidden = suppress_items(
            &[2, 8, 9, 30, 40],
            &[vec![3, 1, 2, 4]],
            &[(0, vec![1, 2])],
            5,
        );
        assert_eq!(hidden, [true, true, true, false, false]);
    }

    proptest! {
        /// Every small count is hidden, and no line (row or column) of a two-way table with
        /// its margins has exactly one hidden item, so none can be recomputed.
        #[test]
        fn no_line_holds_one_hidden_item(values in prop::collection::vec(0i64..12, 1..30), cols in 1usize..6, threshold in 2i64..6) {
            let rows = values.len() / cols;
            prop_assume!(rows >= 1);
            let cell = |r: usize, c: usize| r * cols + c;
            let mut all: Vec<i64> = values[..rows * cols].to_vec();
            let mut lines = Vec::new();
            for r in 0..rows {
                let mut line = vec![all.len()];
                all.push((0..cols).map(|c| values[cell(r, c)]).sum());
                line.extend((0..cols).map(|c| cell(r, c)));
                lines.push(line);
            }
            for c in 0..cols {
                let mut line = vec![all.len()];
                all.push((0..rows).map(|r| values[cell(r, c)]).sum());
                line.extend((0..rows).map(|r| cell(r, c)));
                lines.push(line);
            }
            let hidden = suppress_items(&all, &lines, &[], threshold);
            for (i, &v) in all.iter().enumerate() {
                if v > 0 && v < threshold { prop_assert!(hidden[i]); }
            }
            for line in &lines {
                prop_assert!(line.iter().filter(|&&i| hidden[i]).count() != 1, "{line:?}");
            }
        }
    }
}
