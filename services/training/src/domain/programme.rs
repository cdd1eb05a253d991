//! A programme version: the catalogue of modules with their kind, mode and hours.
//!
//! The names are the académie's (the annex of the arrêté may change); the totals per kind are
//! the arrêté's and are checked here, so a programme that exists can be followed to 190 h.

use std::collections::BTreeSet;

use super::{format_minutes, text_enum};

text_enum!(ModuleKind { Theory => "theory", Deepening => "deepening", Practical => "practical" });
text_enum!(ModuleMode {
    Presence => "presence",
    SynchronousDistance => "synchronous_distance",
    AsynchronousDistance => "asynchronous_distance",
});

impl ModuleKind {
    pub fn label(self) -> &'static str {
        match self {
            ModuleKind::Theory => "modules théoriques",
            ModuleKind::Deepening => "modules d'approfondissement",
            ModuleKind::Practical => "formation pratique (stage tutoré)",
        }
    }
}

impl ModuleMode {
    pub fn label(self) -> &'static str {
        match self {
            ModuleMode::Presence => "présentiel",
            ModuleMode::SynchronousDistance => "distanciel synchrone",
            ModuleMode::AsynchronousDistance => "distanciel asynchrone",
        }
    }
}

/// What one trainee must follow, per kind (arrêté of 5 May 2017 on the training).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    pub theory_modules: usize,
    pub theory_minutes: u32,
    /// Deepening modules each trainee chooses, and their total.
    pub deepening_chosen: usize,
    pub deepening_minutes: u32,
    pub practical_modules: usize,
    pub practical_minutes: u32,
}

pub const ARRETE_2017: Requirements = Requirements {
    theory_modules: 6,
    theory_minutes: 120 * 60,
    deepening_chosen: 3,
    deepening_minutes: 30 * 60,
    practical_modules: 2,
    practical_minutes: 40 * 60,
};

impl Requirements {
    /// 190 h.
    pub fn trainee_minutes(&self) -> u32 {
        self.theory_minutes + self.deepening_minutes + self.practical_minutes
    }

    pub fn minutes_of(&self, kind: ModuleKind) -> u32 {
        match kind {
            ModuleKind::Theory => self.theory_minutes,
            ModuleKind::Deepening => self.deepening_minutes,
            ModuleKind::Practical => self.practical_minutes,
        }
    }
}

/// At most this many modules in a catalogue.
pub const MAX_MODULES: usize = 60;
/// A single module lasts at most this long.
pub const MAX_MODULE_MINUTES: u32 = 120 * 60;

/// `T1`, `A3`, `P2`: letters, digits, `.` and `-`, at most 16, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleCode(String);

impl ModuleCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_uppercase();
        if t.is_empty() {
            return Err("is required".into());
        }
        if t.len() > 16
            || !t.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(format!(
                "{s:?} is not a module code (letters, digits, '.' and '-', at most 16, e.g. T1)"
            ));
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ModuleCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A title: 1 to 200 characters, spaces collapsed.
pub fn title(s: &str) -> Result<String, String> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        return Err("is required".into());
    }
    if t.chars().count() > 200 {
        return Err("must be at most 200 characters".into());
    }
    Ok(t)
}

/// A planned duration: a positive multiple of 15 minutes, at most `max`.
pub fn minutes(m: u32, max: u32) -> Result<u32, String> {
    if m == 0 {
        return Err("is required (minutes, e.g. 1200 for 20 h)".into());
    }
    if !m.is_multiple_of(15) {
        return Err(format!("{m} is not a multiple of 15 minutes"));
    }
    if m > max {
        return Err(format!("{m} minutes is more than {}", format_minutes(max)));
    }
    Ok(m)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub code: ModuleCode,
    pub title: String,
    pub kind: ModuleKind,
    pub mode: ModuleMode,
    pub minutes: u32,
}

/// A catalogue that passed every rule: unique codes, practical modules in presence, the totals
/// per kind of the requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programme {
    pub version: i32,
    pub title: String,
    pub modules: Vec<Module>,
    pub requirements: Requirements,
}

/// A field path in the request (`modules[2].mode`, `modules`) and what is wrong.
pub type FieldError = (String, String);

impl Programme {
    pub fn new(
        version: i32,
        title: String,
        modules: Vec<Module>,
        requirements: Requirements,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        if version < 1 {
            errors.push(("version".into(), "must be 1 or more".into()));
        }
        if modules.is_empty() {
            errors.push(("modules".into(), "is required".into()));
        }
        if modules.len() > MAX_MODULES {
            errors.push(("modules".into(), format!("at most {MAX_MODULES} modules")));
        }
        for (i, m) in modules.iter().enumerate() {
            if let Some(j) = modules[..i].iter().position(|o| o.code == m.code) {
                errors.push((
                    format!("modules[{i}].code"),
                    format!("{} is already the code of modules[{j}]", m.code),
                ));
            }
            if m.kind == ModuleKind::Practical && m.mode != ModuleMode::Presence {
                errors.push((
                    format!("modules[{i}].mode"),
                    "a practical module takes place in an establishment: PRESENCE".into(),
                ));
            }
        }
        let of = |k: ModuleKind| modules.iter().filter(move |m| m.kind == k);
        let total = |k: ModuleKind| of(k).map(|m| m.minutes).sum::<u32>();
        let r = requirements;
        for (kind, count, minutes) in [
            (ModuleKind::Theory, r.theory_modules, r.theory_minutes),
            (
                ModuleKind::Practical,
                r.practical_modules,
                r.practical_minutes,
            ),
        ] {
            let (n, t) = (of(kind).count(), total(kind));
            if n != count || t != minutes {
                errors.push((
                    "modules".into(),
                    format!(
                        "{}: {n} modules for {}; the arrêté requires {count} modules for {}",
                        kind.label(),
                        format_minutes(t),
                        format_minutes(minutes)
                    ),
                ));
            }
        }
        let deepening: Vec<u32> = of(ModuleKind::Deepening).map(|m| m.minutes).collect();
        if deepening.len() < r.deepening_chosen
            || !has_choice(&deepening, r.deepening_chosen, r.deepening_minutes)
        {
            errors.push((
                "modules".into(),
                format!(
                    "{}: {} offered; the trainee must be able to choose {} of them totalling {}",
                    ModuleKind::Deepening.label(),
                    deepening.len(),
                    r.deepening_chosen,
                    format_minutes(r.deepening_minutes)
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Self {
                version,
                title,
                modules,
                requirements,
            })
        } else {
            Err(errors)
        }
    }

    pub fn module(&self, code: &ModuleCode) -> Option<&Module> {
        self.modules.iter().find(|m| &m.code == code)
    }

    pub fn find(&self, code: &str) -> Option<&Module> {
        ModuleCode::parse(code)
            .ok()
            .and_then(|c| self.modules.iter().find(|m| m.code == c))
    }

    /// Checks a trainee's choice of deepening modules.
    pub fn choose_deepening(&self, codes: &[String]) -> Result<DeepeningChoice, String> {
        let r = self.requirements;
        let mut chosen: Vec<ModuleCode> = Vec::new();
        for c in codes {
            let code = ModuleCode::parse(c)?;
            match self.module(&code) {
                None => return Err(format!("{code} is not a module of the programme")),
                Some(m) if m.kind != ModuleKind::Deepening => {
                    return Err(format!("{code} is not a deepening module"));
                }
                Some(_) if chosen.contains(&code) => {
                    return Err(format!("{code} is chosen twice"));
                }
                Some(_) => chosen.push(code),
            }
        }
        if chosen.len() != r.deepening_chosen {
            return Err(format!(
                "choose exactly {} deepening modules ({} given)",
                r.deepening_chosen,
                chosen.len()
            ));
        }
        let total: u32 = chosen
            .iter()
            .filter_map(|c| self.module(c))
            .map(|m| m.minutes)
            .sum();
        if total != r.deepening_minutes {
            return Err(format!(
                "the chosen modules total {}; they must total {}",
                format_minutes(total),
                format_minutes(r.deepening_minutes)
            ));
        }
        chosen.sort();
        Ok(DeepeningChoice(chosen))
    }

    /// The modules a trainee must complete: the compulsory ones and the chosen deepening ones.
    pub fn required_modules<'a>(
        &'a self,
        choice: Option<&'a DeepeningChoice>,
    ) -> impl Iterator<Item = &'a Module> + 'a {
        self.modules.iter().filter(move |m| is_required(m, choice))
    }
}

/// Compulsory, or a deepening module the trainee chose.
pub fn is_required(m: &Module, choice: Option<&DeepeningChoice>) -> bool {
    m.kind != ModuleKind::Deepening || choice.is_some_and(|c| c.contains(&m.code))
}

/// Some `k` of `minutes` total exactly `target`.
fn has_choice(minutes: &[u32], k: usize, target: u32) -> bool {
    fn go(rest: &[u32], k: usize, target: u32) -> bool {
        match (k, rest.split_first()) {
            (0, _) => target == 0,
            (_, None) => false,
            (_, Some((&first, tail))) => {
                (first <= target && go(tail, k - 1, target - first)) || go(tail, k, target)
            }
        }
    }
    go(minutes, k, target)
}

/// The deepening modules a trainee chose: valid for their programme, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepeningChoice(Vec<ModuleCode>);

impl DeepeningChoice {
    pub fn codes(&self) -> &[ModuleCode] {
        &self.0
    }

    pub fn contains(&self, code: &ModuleCode) -> bool {
        self.0.contains(code)
    }

    /// Stored form: `A1,A3,A5`.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(ModuleCode::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form back against the programme.
    pub fn from_stored(programme: &Programme, s: &str) -> Result<Self, String> {
        let codes: Vec<String> = s.split(',').map(str::to_owned).collect();
        programme.choose_deepening(&codes)
    }

    pub fn dropped<'a>(&'a self, new: &'a DeepeningChoice) -> impl Iterator<Item = &'a ModuleCode> {
        self.0.iter().filter(|c| !new.contains(c))
    }
}

/// The codes of a set of modules, for messages.
pub fn codes<'a>(it: impl IntoIterator<Item = &'a ModuleCode>) -> String {
    it.into_iter()
        .map(ModuleCode::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    pub fn module(code: &str, kind: ModuleKind, mode: ModuleMode, hours: u32) -> Module {
        Module {
            code: ModuleCode::parse(code).unwrap(),
            title: format!("Module {code}"),
            kind,
            mode,
            minutes: hours * 60,
        }
    }

    /// The shape of the arrêté: 6 × 20 h theory, 5 × 10 h deepening offered, 2 × 20 h practical.
    pub fn standard() -> Programme {
        use ModuleKind::*;
        use ModuleMode::*;
        let mut modules = Vec::new();
        for (i, mode) in [
            Presence,
            Presence,
            SynchronousDistance,
            SynchronousDistance,
            AsynchronousDistance,
            AsynchronousDistance,
        ]
        .into_iter()
        .enumerate()
        {
            modules.push(module(&format!("T{}", i + 1), Theory, mode, 20));
        }
        for (i, mode) in [
            Presence,
            SynchronousDistance,
            AsynchronousDistance,
            Presence,
            SynchronousDistance,
        ]
        .into_iter()
        .enumerate()
        {
            modules.push(module(&format!("A{}", i + 1), Deepening, mode, 10));
        }
        modules.push(module("P1", Practical, Presence, 20));
        modules.push(module("P2", Practical, Presence, 20));
        Programme::new(1, "Programme 2017".into(), modules, ARRETE_2017).unwrap()
    }

    #[test]
    fn the_standard_catalogue_is_190_hours() {
        let p = standard();
        let choice = p
            .choose_deepening(&["a1".into(), "A3".into(), "A5".into()])
            .unwrap();
        let total: u32 = p.required_modules(Some(&choice)).map(|m| m.minutes).sum();
        assert_eq!(total, 190 * 60);
        assert_eq!(p.requirements.trainee_minutes(), 190 * 60);
        assert_eq!(choice.to_stored(), "A1,A3,A5");
        assert_eq!(
            DeepeningChoice::from_stored(&p, "A1,A3,A5").unwrap(),
            choice
        );
    }

    #[test]
    fn refusals_name_their_field() {
        let mut modules = standard().modules;
        modules[1].code = modules[0].code.clone();
        modules[12].mode = ModuleMode::SynchronousDistance;
        modules.remove(5);
        let errors = Programme::new(0, "x".into(), modules, ARRETE_2017).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
        assert!(fields.contains(&"version"), "{errors:?}");
        assert!(fields.contains(&"modules[1].code"), "{errors:?}");
        assert!(fields.contains(&"modules[11].mode"), "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.0 == "modules" && e.1.contains("5 modules for 100 h")),
            "{errors:?}"
        );
    }

    #[test]
    fn deepening_choices() {
        let p = standard();
        let c = |codes: &[&str]| {
            p.choose_deepening(&codes.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(c(&["A1", "A2"]).unwrap_err().contains("exactly 3"));
        assert!(c(&["A1", "A1", "A2"]).unwrap_err().contains("twice"));
        assert!(
            c(&["A1", "A2", "T1"])
                .unwrap_err()
                .contains("not a deepening")
        );
        assert!(c(&["A1", "A2", "Z9"]).unwrap_err().contains("not a module"));
        // Unequal offer: 5 h + 10 h + 15 h is fine, 5 + 10 + 10 is not.
        let mut modules = standard().modules;
        modules[6].minutes = 5 * 60;
        modules[7].minutes = 15 * 60;
        let p = Programme::new(2, "x".into(), modules, ARRETE_2017).unwrap();
        let c = |codes: &[&str]| {
            p.choose_deepening(&codes.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(c(&["A1", "A2", "A3"]).is_ok());
        assert!(c(&["A1", "A3", "A4"]).unwrap_err().contains("25 h"));
    }

    #[test]
    fn module_fields() {
        assert_eq!(ModuleCode::parse(" t1 ").unwrap().as_str(), "T1");
        assert!(ModuleCode::parse("").unwrap_err().contains("required"));
        assert!(ModuleCode::parse("T 1").is_err());
        assert!(ModuleCode::parse("-T1").is_err());
        assert!(minutes(0, MAX_MODULE_MINUTES).is_err());
        assert!(minutes(100, MAX_MODULE_MINUTES).unwrap_err().contains("15"));
        assert!(minutes(121 * 60, MAX_MODULE_MINUTES).is_err());
        assert!(title("  ").is_err());
    }

    fn kind() -> impl Strategy<Value = ModuleKind> {
        prop::sample::select(ModuleKind::ALL.to_vec())
    }

    proptest! {
        /// A catalogue is accepted exactly when it has the arrêté's totals per kind and a choice
        /// of three deepening modules totalling 30 h; then every valid choice makes 190 h.
        #[test]
        fn accepted_iff_the_totals_per_kind_hold(
            edits in prop::collection::vec((0usize..13, kind(), 1u32..=16), 0..3),
        ) {
            let mut modules = standard().modules;
            for (i, k, steps) in edits {
                let m = &mut modules[i];
                m.kind = k;
                m.mode = ModuleMode::Presence;
                m.minutes = steps * 150;
            }
            let of = |k: ModuleKind| modules.iter().filter(|m| m.kind == k).map(|m| m.minutes).collect::<Vec<_>>();
            let (theory, deepening, practical) = (of(ModuleKind::Theory), of(ModuleKind::Deepening), of(ModuleKind::Practical));
            let mut triple = false;
            for a in 0..deepening.len() {
                for b in a + 1..deepening.len() {
                    for c in b + 1..deepening.len() {
                        triple |= deepening[a] + deepening[b] + deepening[c] == 30 * 60;
                    }
                }
            }
            let expected = theory.len() == 6 && theory.iter().sum::<u32>() == 120 * 60
                && practical.len() == 2 && practical.iter().sum::<u32>() == 40 * 60
                && triple;
            let result = Programme::new(1, "p".into(), modules.clone(), ARRETE_2017);
            prop_assert_eq!(result.is_ok(), expected, "{:?}", result.as_ref().err());
            if let Ok(p) = result {
                let offered: Vec<&Module> = p.modules.iter().filter(|m| m.kind == ModuleKind::Deepening).collect();
                for a in 0..offered.len() {
                    for b in a + 1..offered.len() {
                        for c in b + 1..offered.len() {
                            let codes = [a, b, c].map(|i| offered[i].code.as_str().to_owned());
                            if let Ok(choice) = p.choose_deepening(&codes) {
                                let t: u32 = p.required_modules(Some(&choice)).map(|m| m.minutes).sum();
                                prop_assert_eq!(t, 190 * 60);
                            }
                        }
                    }
                }
            }
        }

        #[test]
        fn the_standard_shape_is_accepted_in_any_order(seed in any::<u64>()) {
            let mut modules = standard().modules;
            // A deterministic shuffle from the seed.
            let n = modules.len();
            for i in (1..n).rev() {
                let j = (seed.wrapping_mul(i as u64 + 7) % (i as u64 + 1)) as usize;
                modules.swap(i, j);
            }
            prop_assert!(Programme::new(1, "p".into(), modules, ARRETE_2017).is_ok());
        }
    }
}
