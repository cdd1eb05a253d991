//! Disclosure control of an answer: the items, lines and ties of its groups of candidates, and
//! the suppression that leaves no hidden count recomputable by differencing.

use super::*;

/// A mark distribution of a group of candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    Part1,
    Part2,
    Average,
}

impl Distribution {
    pub const ALL: [Distribution; 3] = [
        Distribution::Part1,
        Distribution::Part2,
        Distribution::Average,
    ];

    /// The count its buckets add up to.
    pub fn marks(self) -> Measure {
        match self {
            Distribution::Part1 => Measure::MarksPart1,
            Distribution::Part2 => Measure::MarksPart2,
            Distribution::Average => Measure::SatWholeExam,
        }
    }

    /// The count of eliminatory marks its lowest marks would bound.
    pub fn eliminatory(self) -> Option<Measure> {
        match self {
            Distribution::Part1 => Some(Measure::EliminatoryPart1),
            Distribution::Part2 => Some(Measure::EliminatoryPart2),
            Distribution::Average => None,
        }
    }

    pub fn buckets(self, f: &Figures) -> &[Count] {
        match self {
            Distribution::Part1 => &f.distribution_part_1,
            Distribution::Part2 => &f.distribution_part_2,
            Distribution::Average => &f.distribution_average,
        }
    }

    fn buckets_mut(self, f: &mut Figures) -> &mut Vec<Count> {
        match self {
            Distribution::Part1 => &mut f.distribution_part_1,
            Distribution::Part2 => &mut f.distribution_part_2,
            Distribution::Average => &mut f.distribution_average,
        }
    }

    fn stats_mut(self, f: &mut Figures) -> &mut MarkStats {
        match self {
            Distribution::Part1 => &mut f.part_1,
            Distribution::Part2 => &mut f.part_2,
            Distribution::Average => &mut f.average,
        }
    }
}

/// The buckets `[0,2)`, `[2,4)`, `[4,6)`: every eliminatory mark (5/20 or less) is in them.
const ELIMINATORY_BUCKETS: usize = 3;

/// What disclosure control protects in a group of candidates: a measure (published or
/// derived) or a bucket of a mark distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Measure(Measure),
    Bucket(Distribution, usize),
}

impl Item {
    /// Every item of a group, in a fixed order.
    pub fn all() -> Vec<Item> {
        let mut items: Vec<Item> = Measure::ALL
            .iter()
            .chain(Measure::DERIVED.iter())
            .map(|&m| Item::Measure(m))
            .collect();
        for d in Distribution::ALL {
            items.extend((0..BUCKETS).map(|b| Item::Bucket(d, b)));
        }
        items
    }

    pub fn value(self, f: &Figures) -> i64 {
        match self {
            Item::Measure(m) => f.count(m),
            Item::Bucket(d, b) => d.buckets(f).get(b).map_or(0, |c| c.value),
        }
    }

    /// Whether the answer shows it (derived measures are only differences of shown ones).
    pub fn published(self) -> bool {
        match self {
            Item::Measure(m) => Measure::ALL.contains(&m),
            Item::Bucket(..) => true,
        }
    }
}

/// The items, lines and ties of an answer of `groups` groups of candidates: group 0 is the
/// total, group `1 + i` the cell keyed `keys[i]`; item `k` of group `g` has index
/// `g * items.len() + k`. Lines: each item across the cells and the total (the table's lines),
/// and inside each group every relation of [`RELATIONS`] and every distribution with its count.
/// Ties: hidden eliminatory marks hide the buckets that hold them.
pub struct Layout {
    pub items: Vec<Item>,
    pub lines: Vec<Vec<usize>>,
    pub ties: Vec<(usize, Vec<usize>)>,
}

impl Layout {
    /// `holds(group, whole, parts)` tells whether a relation holds in a group: one that does
    /// not (results known before their registrations) differences to no count, so it is no line.
    pub fn new(
        keys: &[Vec<String>],
        dims: usize,
        holds: impl Fn(usize, Measure, &[Measure]) -> bool,
    ) -> Layout {
        let items = Item::all();
        let n = items.len();
        let groups = keys.len() + 1;
        let index = |item: Item| items.iter().position(|&i| i == item).unwrap_or(0);
        let mut lines = Vec::new();
        // Cells are groups 1.., the total group 0; table lines name the total as keys.len().
        let group_of = |cell: usize| if cell == keys.len() { 0 } else { cell + 1 };
        for line in suppression::table_lines(keys, dims) {
            for k in 0..n {
                lines.push(line.iter().map(|&c| group_of(c) * n + k).collect());
            }
        }
        let mut ties = Vec::new();
        for g in 0..groups {
            let at = |item: Item| g * n + index(item);
            for (whole, parts) in RELATIONS.iter().filter(|(w, p)| holds(g, *w, p)) {
                let mut line = vec![at(Item::Measure(*whole))];
                line.extend(parts.iter().map(|&m| at(Item::Measure(m))));
                lines.push(line);
            }
            for d in Distribution::ALL {
                let mut line = vec![at(Item::Measure(d.marks()))];
                line.extend((0..BUCKETS).map(|b| at(Item::Bucket(d, b))));
                lines.push(line);
                if let Some(e) = d.eliminatory() {
                    ties.push((
                        at(Item::Measure(e)),
                        (0..ELIMINATORY_BUCKETS)
                            .map(|b| at(Item::Bucket(d, b)))
                            .collect(),
                    ));
                }
            }
        }
        Layout { items, lines, ties }
    }
}

/// Prepares totals and cells for publication: counts below `threshold` are hidden, with
/// complementary suppression across cells, the total and the measures of each group (see
/// [`Layout`]), so that no hidden count can be recovered by differencing what is shown. Mark
/// statistics follow their counts (lowest and highest also follow the eliminatory marks), rates
/// follow the counts they are made of.
pub fn suppress(totals: &mut Figures, cells: &mut [Cell], threshold: i64) {
    let keys: Vec<Vec<String>> = cells
        .iter()
        .map(|c| c.key.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    let dims = cells.first().map_or(0, |c| c.key.len());
    let groups: Vec<&Figures> = std::iter::once(&*totals)
        .chain(cells.iter().map(|c| &c.figures))
        .collect();
    let layout = Layout::new(&keys, dims, |g, whole, parts| {
        groups
            .get(g)
            .is_some_and(|f| f.count(whole) == parts.iter().map(|&m| f.count(m)).sum::<i64>())
    });
    let n = layout.items.len();
    let values: Vec<i64> = groups
        .iter()
        .flat_map(|f| layout.items.iter().map(|i| i.value(f)))
        .collect();
    let hidden = suppression::suppress_items(&values, &layout.lines, &layout.ties, threshold);
    let groups = std::iter::once(totals).chain(cells.iter_mut().map(|c| &mut c.figures));
    for (f, hidden) in groups.zip(hidden.chunks(n)) {
        for (item, &h) in layout.items.iter().zip(hidden) {
            match *item {
                Item::Measure(m) => {
                    if let Some(c) = f.counts.get_mut(&m) {
                        c.suppressed = h;
                    }
                }
                Item::Bucket(d, b) => {
                    if let Some(c) = d.buckets_mut(f).get_mut(b) {
                        c.suppressed = h;
                    }
                }
            }
        }
        finish_publication(f, threshold);
    }
}

fn finish_publication(f: &mut Figures, threshold: i64) {
    let hidden = |f: &Figures, m: Measure| f.counts.get(&m).is_some_and(|c| c.suppressed);
    let rates_hidden = hidden(f, Measure::Admitted) || hidden(f, Measure::NotAdmitted);
    f.admitted_rate.suppressed = rates_hidden;
    f.not_admitted_rate.suppressed = rates_hidden;
    f.not_admitted_rate_present_at_both.suppressed =
        hidden(f, Measure::NotAdmittedPresentAtBoth) || hidden(f, Measure::SatWholeExam);
    for d in Distribution::ALL {
        let marks_hidden = hidden(f, d.marks());
        let extremes_hidden = d.eliminatory().is_some_and(|e| hidden(f, e));
        let stats = d.stats_mut(f);
        if marks_hidden || stats.marks < threshold {
            *stats = MarkStats {
                suppressed: true,
                extremes_suppressed: true,
                ..MarkStats::default()
            };
        } else if extremes_hidden {
            // A lowest of 4 would tell an eliminatory mark was given, a highest of 5 that all were.
            stats.lowest = 0.0;
            stats.highest = 0.0;
            stats.extremes_suppressed = true;
        }
        for c in d.buckets_mut(f).iter_mut() {
            if c.suppressed {
                c.value = 0;
            }
        }
    }
    if hidden(f, Measure::TrainedAdmitted) {
        f.mean_training_hours_admitted = 0.0;
    }
    if hidden(f, Measure::TrainedWithResult) {
        f.mean_training_hours_not_admitted = 0.0;
    }
    for c in f.counts.values_mut() {
        if c.suppressed {
            c.value = 0;
        }
    }
}
