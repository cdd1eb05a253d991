use super::*;
use crate::domain::{
    query::Scope,
    record::{ExamResult, Part, Profile, RegistrationStatus},
};

fn rec(key: &str, status: RegistrationStatus, exam: Option<(Part, Part, bool)>) -> Record {
    let mut r = Record::new("toulouse", 2025, key);
    r.status = Some(status);
    r.profile = Profile {
        sex: "female".into(),
        department: "31".into(),
        staff_category: "first_degree".into(),
        workplace_type: "college".into(),
        runs_mlds_actions: true,
        is_dropout_referent: false,
    };
    r.exam = exam.map(|(a, b, admitted)| ExamResult {
        part_1: a,
        part_2: b,
        admitted,
        reason: if admitted {
            String::new()
        } else {
            "TOTAL_BELOW_20".into()
        },
    });
    r
}

#[test]
fn the_session_report_counts() {
    use Part::*;
    let rs = [
        rec(
            "a",
            RegistrationStatus::Validated,
            Some((Mark(24), Mark(30), true)),
        ),
        rec(
            "b",
            RegistrationStatus::Validated,
            Some((Mark(10), Mark(36), false)),
        ),
        rec(
            "c",
            RegistrationStatus::Validated,
            Some((Mark(20), Absent, false)),
        ),
        rec("d", RegistrationStatus::Rejected, None),
        rec("e", RegistrationStatus::Withdrawn, None),
    ];
    let refs: Vec<&Record> = rs.iter().collect();
    let t = Training {
        academy: "toulouse".into(),
        school_year: 2024,
        candidate_key: "a".into(),
        enrolled: true,
        completed: true,
        abandoned: false,
        minutes: 190 * 60,
    };
    let trainings = [t];
    let idx = index_training(&trainings);
    let tr: Vec<&Training> = trainings.iter().collect();
    let f = compute(&refs, &tr, &idx);
    assert_eq!(f.count(Measure::Registrations), 5);
    assert_eq!(f.count(Measure::Invalidated), 1);
    assert_eq!(f.count(Measure::Withdrawn), 1);
    assert_eq!(f.count(Measure::FirstDegreeWithdrawn), 1);
    assert_eq!(f.count(Measure::AdmittedToSit), 3);
    assert_eq!(f.count(Measure::SatWholeExam), 2);
    assert_eq!(
        (f.count(Measure::Admitted), f.count(Measure::NotAdmitted)),
        (1, 2)
    );
    assert_eq!(f.admitted_rate.percent, 33.3);
    assert_eq!(f.count(Measure::EliminatoryPart1), 1, "5/20 is eliminatory");
    assert_eq!(f.count(Measure::AbsentPart2), 1);
    assert_eq!(
        (f.part_1.lowest, f.part_1.highest, f.part_1.mean),
        (5.0, 12.0, 9.0)
    );
    assert_eq!(f.average.marks, 2);
    assert_eq!(
        f.distribution_part_2.iter().map(|c| c.value).sum::<i64>(),
        2
    );
    assert_eq!(
        (
            f.count(Measure::TrainedWithResult),
            f.count(Measure::TrainedAdmitted)
        ),
        (1, 1)
    );
    assert_eq!(f.mean_training_hours_admitted, 190.0);
    assert_eq!(f.count(Measure::MldsActionsAdmitted), 1);
    assert_eq!(f.count(Measure::TrainingCompleted), 1);
}

#[test]
fn the_average_of_two_epreuves_is_never_rounded() {
    use Part::*;
    // 9.5 and 10 average 9.75 (the jury's report shows 9.75, not 9.5); 12 and 13.5: 12.75.
    let rs = [
        rec(
            "a",
            RegistrationStatus::Validated,
            Some((Mark(19), Mark(20), false)),
        ),
        rec(
            "b",
            RegistrationStatus::Validated,
            Some((Mark(24), Mark(27), true)),
        ),
    ];
    let refs: Vec<&Record> = rs.iter().collect();
    let f = compute(&refs, &[], &HashMap::new());
    assert_eq!(
        (f.average.lowest, f.average.highest, f.average.mean),
        (9.75, 12.75, 11.25)
    );
    // Two-point buckets: 9.75 in [8,10), 12.75 in [12,14).
    let buckets: Vec<i64> = f.distribution_average.iter().map(|c| c.value).collect();
    assert_eq!(buckets, vec![0, 0, 0, 0, 1, 0, 1, 0, 0, 0]);
}

#[test]
fn registered_candidates_by_fate_and_why_the_others_failed() {
    use Part::*;
    use RegistrationStatus::*;
    let mut rs = vec![
        rec("a", Validated, Some((Mark(24), Mark(30), true))),
        rec("b", Validated, Some((Mark(10), Mark(8), false))),
        rec("c", Validated, Some((Mark(6), Absent, false))),
        rec("d", Validated, Some((Mark(20), Absent, false))),
        rec("e", Validated, Some((Mark(18), Mark(19), false))),
        rec("f", Rejected, None),
        rec("g", Withdrawn, None),
        rec("h", Validated, None),
    ];
    // Known only from an exam fact: a result, but not (yet) a registration.
    let mut unknown = rec("i", Validated, Some((Mark(30), Mark(30), true)));
    unknown.status = None;
    rs.push(unknown);
    rs[7].profile.runs_mlds_actions = false;
    let refs: Vec<&Record> = rs.iter().collect();
    let f = compute(&refs, &[], &HashMap::new());
    let c = |m| f.count(m);
    assert_eq!(c(Measure::Registrations), 8);
    assert_eq!(
        [
            Measure::Invalidated,
            Measure::Withdrawn,
            Measure::PresentAtBoth,
            Measure::AbsentFromAnEpreuve,
            Measure::AwaitingResult,
        ]
        .map(c),
        [1, 1, 3, 2, 1],
        "the fates add up to the registrations"
    );
    // Every registered declarer, whatever its fate (h declares none).
    assert_eq!(c(Measure::MldsDeclarers), 7);
    assert_eq!(c(Measure::FirstDegreeRegistered), 8);
    assert_eq!(c(Measure::FirstDegreeWithdrawn), 1);
    // Not admitted: b (two eliminatory marks), c (eliminatory, absent), d (absent), e (total).
    assert_eq!(c(Measure::NotAdmitted), 4);
    assert_eq!(c(Measure::EliminatedCandidates), 2);
    assert_eq!(
        (c(Measure::EliminatoryPart1), c(Measure::EliminatoryPart2)),
        (2, 1),
        "eliminatory counts are marks"
    );
    assert_eq!(c(Measure::FailedOnTotalOnly), 1);
    assert_eq!(c(Measure::NotAdmittedPresentAtBoth), 2);
    // Among those who sat both (a, b, e, i): 2 of 4; among those with a result: 4 of 6.
    assert_eq!(f.not_admitted_rate_present_at_both.percent, 50.0);
    assert_eq!(f.not_admitted_rate.percent, 66.7);
}

#[test]
fn hidden_counts_are_not_differences_of_shown_ones() {
    use Part::*;
    let mut rs: Vec<Record> = (0..20)
        .map(|i| {
            rec(
                &format!("a{i}"),
                RegistrationStatus::Validated,
                Some((Mark(30), Mark(30), true)),
            )
        })
        .collect();
    for r in &mut rs[10..] {
        r.profile.department = "81".into();
    }
    // In 31: an eliminatory mark of 4/20, and an absence at épreuve 2.
    rs.push(rec(
        "e",
        RegistrationStatus::Validated,
        Some((Mark(8), Mark(30), false)),
    ));
    rs.push(rec(
        "b",
        RegistrationStatus::Validated,
        Some((Mark(30), Absent, false)),
    ));
    let (totals, cells) = Publication::new(&rs, &[], 3, &[Dimension::Department])
        .answer(&Scope::National, &[Dimension::Department]);
    for f in std::iter::once(&totals).chain(cells.iter().map(|c| &c.figures)) {
        let shown = |m: Measure| !f.counts[&m].suppressed;
        if !shown(Measure::NotAdmitted) {
            // Not admitted = with a result (trained + untrained) − admitted.
            assert!(
                !(shown(Measure::Admitted)
                    && shown(Measure::TrainedWithResult)
                    && shown(Measure::UntrainedWithResult)),
                "not admitted recomputed: {f:?}"
            );
        }
        if !shown(Measure::AbsentPart2) {
            // Absent at 2 = marks at 1 + absent at 1 − marks at 2.
            assert!(
                f.part_1.suppressed || f.part_2.suppressed || !shown(Measure::AbsentPart1),
                "absent at épreuve 2 recomputed: {f:?}"
            );
        }
        if !shown(Measure::EliminatoryPart1) {
            assert!(
                f.part_1.suppressed || (f.part_1.lowest == 0.0 && f.part_1.highest == 0.0),
                "a lowest mark of 4 tells the hidden eliminatory mark: {f:?}"
            );
        }
    }
}

#[test]
fn publication_hides_small_counts() {
    let rs: Vec<Record> = (0..12)
        .map(|i| {
            let mut r = rec(
                &format!("k{i}"),
                RegistrationStatus::Validated,
                Some((Part::Mark(30), Part::Mark(30), true)),
            );
            r.profile.department = if i < 9 {
                "31".into()
            } else if i < 11 {
                "81".into()
            } else {
                "82".into()
            };
            r
        })
        .collect();
    let (totals, cells) = Publication::new(&rs, &[], 5, &[Dimension::Department])
        .answer(&Scope::National, &[Dimension::Department]);
    let admitted: Vec<(bool, i64)> = cells
        .iter()
        .map(|c| {
            (
                c.figures.counts[&Measure::Admitted].suppressed,
                c.figures.counts[&Measure::Admitted].value,
            )
        })
        .collect();
    // 81 (2) and 82 (1) are small; with both hidden, neither can be recovered from 12 - 9.
    assert_eq!(admitted, [(false, 9), (true, 0), (true, 0)]);
    assert!(!totals.counts[&Measure::Admitted].suppressed);
    assert!(cells[1].figures.part_1.suppressed);
    assert!(cells[0].figures.admitted_rate.percent > 99.0);
}

mod differencing {
    use proptest::prelude::*;

    use super::*;

    /// (département, female, first degree, MLDS actions, référent, status, marks, trained).
    type Candidate = (
        usize,
        bool,
        bool,
        bool,
        bool,
        RegistrationStatus,
        Option<(Option<u8>, Option<u8>)>,
        bool,
    );

    fn candidate() -> impl Strategy<Value = Candidate> {
        let status = prop::sample::select(vec![
            RegistrationStatus::Validated,
            RegistrationStatus::Validated,
            RegistrationStatus::Validated,
            RegistrationStatus::Rejected,
            RegistrationStatus::Withdrawn,
            RegistrationStatus::Registered,
        ]);
        let mark = prop::option::weighted(0.85, 0u8..=40);
        (
            0usize..4,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.2),
            status,
            prop::option::weighted(0.85, (mark.clone(), mark)),
            prop::bool::weighted(0.3),
        )
    }

    /// A candidate as the rules make it: a result only when admitted to sit, admitted when
    /// present at both with no eliminatory mark and 20/40 or more.
    fn record(i: usize, c: &Candidate) -> (Record, Option<Training>) {
        let (dep, female, first, mlds, referent, status, marks, trained) = *c;
        let academy = if dep < 2 { "toulouse" } else { "montpellier" };
        let key = format!("k{i}");
        let mut r = rec(&key, status, None);
        r.academy = academy.into();
        r.profile.department = ["31", "81", "34", "30"][dep].into();
        r.profile.sex = if female { "female" } else { "male" }.into();
        r.profile.staff_category = if first {
            "first_degree"
        } else {
            "second_degree_tenured"
        }
        .into();
        r.profile.runs_mlds_actions = mlds;
        r.profile.is_dropout_referent = referent;
        r.was_admitted_to_sit = true;
        if let (RegistrationStatus::Validated, Some((a, b))) = (status, marks) {
            let part = |m: Option<u8>| m.map_or(Part::Absent, Part::Mark);
            let admitted = matches!((a, b), (Some(a), Some(b)) if a > 10 && b > 10 && a + b >= 40);
            r.exam = Some(ExamResult {
                part_1: part(a),
                part_2: part(b),
                admitted,
                reason: String::new(),
            });
        }
        let t = trained.then(|| Training {
            academy: academy.into(),
            school_year: 2024,
            candidate_key: key,
            enrolled: true,
            completed: true,
            abandoned: false,
            minutes: 120 * 60,
        });
        (r, t)
    }

    /// The reader's lines inside one answer: each item over all cells and the total, and
    /// inside each group every relation and every distribution with its count. Group `g` item
    /// `k` is `g * n + k`. (Margins that other answers show are the next test's.)
    fn attack_lines(keys: &[Vec<String>], items: &[Item]) -> Vec<Vec<usize>> {
        let n = items.len();
        let at = |g: usize, item: Item| g * n + items.iter().position(|&i| i == item).unwrap();
        let mut lines = Vec::new();
        for k in 0..n {
            if !keys.is_empty() {
                lines.push((0..=keys.len()).map(|g| g * n + k).collect());
            }
        }
        for g in 0..=keys.len() {
            for (whole, parts) in RELATIONS {
                let mut line = vec![at(g, Item::Measure(*whole))];
                line.extend(parts.iter().map(|&m| at(g, Item::Measure(m))));
                lines.push(line);
            }
            for d in Distribution::ALL {
                let mut line = vec![at(g, Item::Measure(d.marks()))];
                line.extend((0..BUCKETS).map(|b| at(g, Item::Bucket(d, b))));
                lines.push(line);
            }
        }
        lines
    }

    fn hidden_flag(f: &Figures, item: Item) -> Option<bool> {
        match item {
            Item::Measure(m) => f.counts.get(&m).map(|c| c.suppressed),
            Item::Bucket(d, b) => d.buckets(f).get(b).map(|c| c.suppressed),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// For publication, a reader who knows every relation between measures and every
        /// line of the table (margins, totals) differences them as long as a line has
        /// exactly one unknown item: no hidden count is ever learnt. Small counts are
        /// hidden; rates and extreme marks follow the counts they would reveal.
        #[test]
        fn no_hidden_count_is_recomputable(
            candidates in prop::collection::vec(candidate(), 0..60),
            dims in prop::sample::subsequence(
                vec![Dimension::Department, Dimension::Sex, Dimension::StaffCategory, Dimension::Academy],
                0..=3,
            ),
            threshold in 2i64..6,
        ) {
            let made: Vec<(Record, Option<Training>)> =
                candidates.iter().enumerate().map(|(i, c)| record(i, c)).collect();
            let owned: Vec<Record> = made.iter().map(|(r, _)| r.clone()).collect();
            let records: Vec<&Record> = owned.iter().collect();
            let trainings: Vec<Training> = made.iter().filter_map(|(_, t)| t.clone()).collect();
            let idx = index_training(&trainings);
            let trs: Vec<&Training> = trainings.iter().collect();
            let raw_cells = breakdown(&records, &trs, &idx, &dims);
            let before: Vec<Figures> = std::iter::once(compute(&records, &trs, &idx))
                .chain(raw_cells.iter().map(|c| c.figures.clone()))
                .collect();
            let (totals, cells) =
                Publication::new(&owned, &trainings, threshold, &dims)
                .answer(&Scope::National, &dims);
            let after: Vec<&Figures> =
                std::iter::once(&totals).chain(cells.iter().map(|c| &c.figures)).collect();

            let keys: Vec<Vec<String>> = cells
                .iter()
                .map(|c| c.key.iter().map(|(_, v)| v.clone()).collect())
                .collect();
            let items = Item::all();
            let n = items.len();
            let lines = attack_lines(&keys, &items);
            // The relations hold on these candidates (else they would not be lines).
            for f in &before {
                for (whole, parts) in RELATIONS {
                    let sum: i64 = parts.iter().map(|&m| f.count(m)).sum();
                    prop_assert_eq!(f.count(*whole), sum, "{:?} = {:?}", whole, parts);
                }
                for d in Distribution::ALL {
                    let sum: i64 = d.buckets(f).iter().map(|c| c.value).sum();
                    prop_assert_eq!(f.count(d.marks()), sum);
                }
            }
            // What the reader knows: every published item shown.
            let mut known = vec![false; n * after.len()];
            let mut hidden = vec![false; n * after.len()];
            for (g, f) in after.iter().enumerate() {
                for (k, &item) in items.iter().enumerate() {
                    let v = item.value(&before[g]);
                    // A derived count is not shown, but a small one must not be learnt.
                    let Some(h) = hidden_flag(f, item) else {
                        hidden[g * n + k] = v > 0 && v < threshold;
                        continue;
                    };
                    prop_assert!(!(v > 0 && v < threshold) || h, "{:?} = {} is shown", item, v);
                    if !h {
                        prop_assert_eq!(item.value(f), v, "a shown count is unchanged");
                    }
                    known[g * n + k] = !h;
                    hidden[g * n + k] = h;
                }
            }
            // The attack: a line with one unknown item gives it; repeat until nothing more.
            loop {
                let mut learnt = false;
                for line in &lines {
                    let unknown: Vec<usize> = line.iter().copied().filter(|&i| !known[i]).collect();
                    if let [i] = unknown[..] {
                        prop_assert!(!hidden[i], "hidden {:?} of group {} recomputed from {:?}", items[i % n], i / n, line.iter().map(|&j| items[j % n]).collect::<Vec<_>>());
                        known[i] = true;
                        learnt = true;
                    }
                }
                if !learnt {
                    break;
                }
            }
            for f in &after {
                let h = |m: Measure| f.counts[&m].suppressed;
                if h(Measure::Admitted) || h(Measure::NotAdmitted) {
                    prop_assert!(f.admitted_rate.suppressed && f.not_admitted_rate.suppressed);
                }
                if h(Measure::NotAdmittedPresentAtBoth) || h(Measure::SatWholeExam) {
                    prop_assert!(f.not_admitted_rate_present_at_both.suppressed);
                }
                for (e, stats) in [(Measure::EliminatoryPart1, &f.part_1), (Measure::EliminatoryPart2, &f.part_2)] {
                    if h(e) {
                        prop_assert!(stats.extremes_suppressed && stats.lowest == 0.0 && stats.highest == 0.0);
                    }
                }
                // Marks under 6/20 would bound hidden eliminatory marks.
                for (e, d) in [(Measure::EliminatoryPart1, &f.distribution_part_1), (Measure::EliminatoryPart2, &f.distribution_part_2)] {
                    if h(e) {
                        prop_assert!(d[..3].iter().all(|c| c.suppressed));
                    }
                }
            }
        }
    }

    /// Académies of two régions, so that answers by scope nest: nation ⊃ région ⊃ académie.
    const PLACES: [&str; 4] = ["toulouse", "montpellier", "bordeaux", "poitiers"];

    /// A group's meaning whichever answer shows it: its place and cell values (a région is
    /// implied by its académie).
    type Meaning = BTreeMap<Dimension, String>;

    fn meaning(scope: &Scope, key: &[(Dimension, String)]) -> Meaning {
        let mut m: Meaning = key.iter().cloned().collect();
        match scope {
            Scope::National => {}
            Scope::Region(code) => {
                m.insert(Dimension::Region, (*code).to_owned());
            }
            Scope::Academy(a) => {
                m.insert(Dimension::Academy, a.code.to_owned());
            }
        }
        if m.contains_key(&Dimension::Academy) {
            m.remove(&Dimension::Region);
        }
        m
    }

    /// The groups a group of meaning `m` is one part of, each with what tells the parts
    /// apart: `m` without one of its values, and an académie's région in place of it.
    fn wholes(m: &Meaning) -> Vec<(Meaning, Dimension)> {
        let mut out = Vec::new();
        for (d, v) in m {
            let mut whole = m.clone();
            whole.remove(d);
            out.push((whole.clone(), *d));
            if *d == Dimension::Academy
                && let Some(a) = cplds_runtime::academy::Academy::find(v)
            {
                whole.insert(Dimension::Region, a.region.code.to_owned());
                out.push((whole, *d));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Every answer of one year a reader can ask — the nation, each région and each
        /// académie, by every part of a breakdown — put together, with every relation between
        /// them (a group shown in two answers, a scope the sum of those it contains, a margin
        /// the sum of its cells, the relations inside each group): differencing as long as a
        /// relation has one unknown never learns a hidden count.
        #[test]
        fn no_hidden_count_is_recomputable_across_answers(
            candidates in prop::collection::vec((candidate(), 0usize..4), 0..80),
            dims in prop::sample::subsequence(
                vec![Dimension::Department, Dimension::Sex, Dimension::Academy],
                0..=2,
            ),
            threshold in 2i64..6,
        ) {
            let made: Vec<(Record, Option<Training>)> = candidates
                .iter()
                .enumerate()
                .map(|(i, (c, place))| {
                    let (mut r, mut t) = record(i, c);
                    r.academy = PLACES[*place].into();
                    if let Some(t) = t.as_mut() {
                        t.academy = PLACES[*place].into();
                    }
                    (r, t)
                })
                .collect();
            let records: Vec<Record> = made.iter().map(|(r, _)| r.clone()).collect();
            let trainings: Vec<Training> = made.iter().filter_map(|(_, t)| t.clone()).collect();
            let mut scopes = vec![Scope::National, Scope::Region("occitanie"), Scope::Region("nouvelle-aquitaine")];
            scopes.extend(PLACES.map(|a| Scope::Academy(cplds_runtime::academy::Academy::find(a).unwrap())));
            let breakdowns: Vec<Vec<Dimension>> = (0..1usize << dims.len())
                .map(|mask| dims.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, d)| *d).collect())
                .collect();

            let published = Publication::new(&records, &trainings, threshold, &dims);
            let raw = Publication::new(&records, &trainings, 0, &dims);
            // Every group of every answer: its meaning, as published, and its true figures.
            let mut groups: Vec<(Meaning, Figures, Figures)> = Vec::new();
            for scope in &scopes {
                for b in &breakdowns {
                    let (t, cells) = published.answer(scope, b);
                    let (rt, rcells) = raw.answer(scope, b);
                    prop_assert_eq!(cells.len(), rcells.len());
                    groups.push((meaning(scope, &[]), t, rt));
                    for (c, rc) in cells.into_iter().zip(rcells) {
                        prop_assert_eq!(&c.key, &rc.key);
                        groups.push((meaning(scope, &c.key), c.figures, rc.figures));
                    }
                }
            }
            let items = Item::all();
            let n = items.len();
            let var = |g: usize, item: Item| g * n + items.iter().position(|&i| i == item).unwrap();
            let mut by_meaning: BTreeMap<&Meaning, Vec<usize>> = BTreeMap::new();
            for (g, (m, _, _)) in groups.iter().enumerate() {
                by_meaning.entry(m).or_default().push(g);
            }

            let mut lines: Vec<Vec<usize>> = Vec::new();
            // One group shown in several answers is one unknown.
            for same in by_meaning.values() {
                for pair in same.windows(2) {
                    for &item in &items {
                        lines.push(vec![var(pair[0], item), var(pair[1], item)]);
                    }
                }
            }
            for (g, (_, _, f)) in groups.iter().enumerate() {
                for (whole, parts) in RELATIONS {
                    let mut line = vec![var(g, Item::Measure(*whole))];
                    line.extend(parts.iter().map(|&m| var(g, Item::Measure(m))));
                    prop_assert_eq!(f.count(*whole), parts.iter().map(|&m| f.count(m)).sum::<i64>());
                    lines.push(line);
                }
                for d in Distribution::ALL {
                    let mut line = vec![var(g, Item::Measure(d.marks()))];
                    line.extend((0..BUCKETS).map(|b| var(g, Item::Bucket(d, b))));
                    lines.push(line);
                }
            }
            // A whole and its parts; a part no answer shows is zero when the parts add up.
            let mut parts: BTreeMap<(Meaning, Dimension), Vec<usize>> = BTreeMap::new();
            for (m, same) in &by_meaning {
                for key in wholes(m) {
                    parts.entry(key).or_default().push(same[0]);
                }
            }
            for ((whole, _), parts) in &parts {
                let Some(same) = by_meaning.get(whole) else { continue };
                for &item in &items {
                    let sum: i64 = parts.iter().map(|&g| item.value(&groups[g].2)).sum();
                    if sum == item.value(&groups[same[0]].2) {
                        let mut line = vec![var(same[0], item)];
                        line.extend(parts.iter().map(|&g| var(g, item)));
                        lines.push(line);
                    }
                }
            }

            // What the reader knows: every published item shown; what must stay unknown.
            let mut known = vec![false; n * groups.len()];
            let mut secret = vec![false; n * groups.len()];
            for (g, (_, shown, f)) in groups.iter().enumerate() {
                for (k, &item) in items.iter().enumerate() {
                    let v = item.value(f);
                    let Some(h) = hidden_flag(shown, item) else {
                        secret[g * n + k] = v > 0 && v < threshold;
                        continue;
                    };
                    prop_assert!(!(v > 0 && v < threshold) || h, "{:?} = {} is shown", item, v);
                    if !h {
                        prop_assert_eq!(item.value(shown), v, "a shown count is unchanged");
                    }
                    known[g * n + k] = !h;
                    secret[g * n + k] = h;
                }
            }
            loop {
                let mut learnt = false;
                for line in &lines {
                    let unknown: Vec<usize> = line.iter().copied().filter(|&i| !known[i]).collect();
                    if let [i] = unknown[..] {
                        prop_assert!(
                            !secret[i],
                            "hidden {:?} of {:?} recomputed from {:?}",
                            items[i % n],
                            groups[i / n].0,
                            line.iter().map(|&j| (&groups[j / n].0, items[j % n])).collect::<Vec<_>>()
                        );
                        known[i] = true;
                        learnt = true;
                    }
                }
                if !learnt {
                    break;
                }
            }
        }
    }
}
