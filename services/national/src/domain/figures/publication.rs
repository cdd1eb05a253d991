//! Disclosure control of an answer: the items, lines and ties of its groups of candidates, and
//! the suppression that leaves no hidden count recomputable by differencing.

use super::*;
use crate::domain::query::{MAX_DIMENSIONS, Scope};

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

/// The published answers of one year. Every *table* a question can slice — each breakdown of
/// at most [`MAX_DIMENSIONS`] dimensions of the universe, by nation, région or académie — is
/// suppressed together, in one system: its lines are the relations and distributions inside
/// each group and, for each table and each of its dimensions, the cells that differ in that
/// one only with the cell of the coarser table they add up to. Every answer of the year
/// (nation, région, académie, any breakdown, and the year before of another answer) is a slice
/// of that one decision, so no line anywhere holds exactly one hidden count, and no combination
/// of answers differences to one.
pub struct Publication {
    tables: HashMap<Vec<Dimension>, Table>,
}

/// One table as decided: group keys (one value per dimension, in the table's order) and the
/// groups as published.
struct Table {
    keys: Vec<Vec<String>>,
    published: Vec<Figures>,
}

/// A table while the system is built: its groups' raw figures, the first solver item of its
/// groups (group `g`, item `k` at `base + g * n + k`) and where each key is.
struct Draft {
    dims: Vec<Dimension>,
    keys: Vec<Vec<String>>,
    at: HashMap<Vec<String>, usize>,
    groups: Vec<Figures>,
    base: usize,
}

impl Publication {
    /// `trainings` are those of the school year before the exam year of `records`; `universe`
    /// the dimensions questions may break down by (the places are always there).
    pub fn new(
        records: &[Record],
        trainings: &[Training],
        threshold: i64,
        universe: &[Dimension],
    ) -> Self {
        let records: Vec<&Record> = records.iter().collect();
        let index = index_training(trainings);
        let trainings: Vec<&Training> = trainings.iter().collect();
        let items = Item::all();
        let n = items.len();

        let mut drafts: Vec<Draft> = Vec::new();
        let mut values: Vec<i64> = Vec::new();
        for dims in tables(universe) {
            let (keys, groups): (Vec<Vec<String>>, Vec<Figures>) = if dims.is_empty() {
                (
                    vec![Vec::new()],
                    vec![compute(&records, &trainings, &index)],
                )
            } else {
                breakdown(&records, &trainings, &index, &dims)
                    .into_iter()
                    .map(|c| (c.key.into_iter().map(|(_, v)| v).collect(), c.figures))
                    .unzip()
            };
            let base = values.len();
            values.extend(groups.iter().flat_map(|f| items.iter().map(|i| i.value(f))));
            let at = keys.iter().cloned().zip(0..).collect();
            drafts.push(Draft {
                dims,
                keys,
                at,
                groups,
                base,
            });
        }
        let position: HashMap<&[Dimension], usize> = drafts
            .iter()
            .enumerate()
            .map(|(i, d)| (d.dims.as_slice(), i))
            .collect();

        let within = Within::new(&items);
        let mut lines = Vec::new();
        let mut ties = Vec::new();
        for t in &drafts {
            for g in 0..t.groups.len() {
                within.add(&values, t.base + g * n, &mut lines, &mut ties);
            }
            // The cells that differ in dimension `i` only add up to a cell of the coarser table.
            for (i, coarser) in coarser(&t.dims) {
                let Some(m) = position.get(coarser.as_slice()).map(|&m| &drafts[m]) else {
                    continue;
                };
                let mut parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                for (g, key) in t.keys.iter().enumerate() {
                    let mut rest = key.clone();
                    rest.remove(i);
                    if let Some(&whole) = m.at.get(&rest) {
                        parts.entry(whole).or_default().push(g);
                    }
                }
                for (whole, cells) in parts {
                    for k in 0..n {
                        let whole = m.base + whole * n + k;
                        let cells: Vec<usize> = cells.iter().map(|&g| t.base + g * n + k).collect();
                        // A line that does not hold (trainees without a candidacy count in a
                        // place's total, not in its cells) differences to no count.
                        if cells.iter().map(|&c| values[c]).sum::<i64>() == values[whole] {
                            lines.push(std::iter::once(whole).chain(cells).collect());
                        }
                    }
                }
            }
        }
        let hidden = suppression::suppress_items(&values, &lines, &ties, threshold);

        let tables = drafts
            .into_iter()
            .map(|t| {
                let hidden = &hidden[t.base..t.base + t.groups.len() * n];
                let published = t
                    .groups
                    .into_iter()
                    .zip(hidden.chunks(n))
                    .map(|(mut f, hidden)| {
                        mark_hidden(&mut f, &items, hidden);
                        finish_publication(&mut f, threshold);
                        f
                    })
                    .collect();
                let table = Table {
                    keys: t.keys,
                    published,
                };
                (t.dims, table)
            })
            .collect();
        Publication { tables }
    }

    /// The answer for `scope` broken down by `dims`, as published: its totals and its cells.
    /// Dimensions outside the universe give no cells.
    pub fn answer(&self, scope: &Scope, dims: &[Dimension]) -> (Figures, Vec<Cell>) {
        let place = match scope {
            Scope::National => None,
            Scope::Region(code) => Some((Dimension::Region, (*code).to_owned())),
            Scope::Academy(a) => Some((Dimension::Academy, a.code.to_owned())),
        };
        let slice = |dims: &[Dimension]| -> Vec<(Vec<(Dimension, String)>, &Figures)> {
            let all = canonical(
                &dims
                    .iter()
                    .copied()
                    .chain(place.iter().map(|(d, _)| *d))
                    .collect::<Vec<_>>(),
            );
            let Some(table) = self.tables.get(&all) else {
                return Vec::new();
            };
            let value = |g: usize, d: Dimension| {
                all.iter()
                    .position(|&x| x == d)
                    .map_or(String::new(), |i| table.keys[g][i].clone())
            };
            (0..table.keys.len())
                .filter(|&g| place.as_ref().is_none_or(|(d, v)| value(g, *d) == *v))
                .map(|g| {
                    let key = dims.iter().map(|&d| (d, value(g, d))).collect();
                    (key, &table.published[g])
                })
                .collect()
        };
        let totals = slice(&[])
            .first()
            .map_or_else(|| compute(&[], &[], &HashMap::new()), |(_, f)| (*f).clone());
        if dims.is_empty() {
            return (totals, Vec::new());
        }
        let mut cells: Vec<Cell> = slice(dims)
            .into_iter()
            .map(|(key, f)| Cell {
                key,
                figures: f.clone(),
            })
            .collect();
        cells.sort_by(|a, b| a.key.cmp(&b.key));
        (totals, cells)
    }
}

/// Every table of the universe: at most [`MAX_DIMENSIONS`] of its dimensions that describe
/// candidates, by nation, région or académie.
fn tables(universe: &[Dimension]) -> Vec<Vec<Dimension>> {
    let mut free: Vec<Dimension> = universe.iter().copied().filter(|d| !d.is_place()).collect();
    free.sort();
    free.dedup();
    let mut all = Vec::new();
    for mask in 0..1usize << free.len() {
        let base: Vec<Dimension> = (0..free.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| free[i])
            .collect();
        if base.len() > MAX_DIMENSIONS {
            continue;
        }
        for place in [None, Some(Dimension::Region), Some(Dimension::Academy)] {
            all.push(canonical(
                &base.iter().copied().chain(place).collect::<Vec<_>>(),
            ));
        }
    }
    all.sort();
    all.dedup();
    all
}

/// Dimensions in one order, so that a table is the same whichever answer asks for it; an
/// académie comes with its région, so that tables by académie nest in tables by région.
fn canonical(dims: &[Dimension]) -> Vec<Dimension> {
    let mut dims = dims.to_vec();
    if dims.contains(&Dimension::Academy) {
        dims.push(Dimension::Region);
    }
    dims.sort();
    dims.dedup();
    dims
}

/// The tables `dims` (canonical) refines, each with the position of the dimension it lacks:
/// one dimension less (the région stays while its académie is there: it is implied).
fn coarser(dims: &[Dimension]) -> Vec<(usize, Vec<Dimension>)> {
    (0..dims.len())
        .filter(|&i| !(dims[i] == Dimension::Region && dims.contains(&Dimension::Academy)))
        .map(|i| {
            let mut c = dims.to_vec();
            c.remove(i);
            (i, c)
        })
        .collect()
}

/// The lines and ties inside one group of candidates, as positions among its items: every
/// relation of [`RELATIONS`] and every distribution with its count (the whole first); hidden
/// eliminatory marks hide the buckets that hold them.
struct Within {
    lines: Vec<Vec<usize>>,
    ties: Vec<(usize, Vec<usize>)>,
}

impl Within {
    fn new(items: &[Item]) -> Within {
        let at = |item: Item| items.iter().position(|&i| i == item).unwrap_or(0);
        let mut lines = Vec::new();
        let mut ties = Vec::new();
        for (whole, parts) in RELATIONS {
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
        Within { lines, ties }
    }

    /// The lines and ties of the group whose items are `values[base..]`. A relation that does
    /// not hold there (results known before their registrations) differences to no count.
    fn add(
        &self,
        values: &[i64],
        base: usize,
        lines: &mut Vec<Vec<usize>>,
        ties: &mut Vec<(usize, Vec<usize>)>,
    ) {
        for line in &self.lines {
            let (whole, parts) = (line[0], &line[1..]);
            if values[base + whole] == parts.iter().map(|&p| values[base + p]).sum::<i64>() {
                lines.push(line.iter().map(|&i| base + i).collect());
            }
        }
        for (item, with) in &self.ties {
            ties.push((base + item, with.iter().map(|&i| base + i).collect()));
        }
    }
}

fn mark_hidden(f: &mut Figures, items: &[Item], hidden: &[bool]) {
    for (item, &h) in items.iter().zip(hidden) {
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
