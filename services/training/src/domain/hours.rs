//! Hours per trainee and module: a ledger that never credits a module beyond its hours, the
//! progress against the 190 h summed by kind of module and by presence / distance, and what
//! the attestation needs.
//!
//! Sources: the hours are the arrêté's (5 May 2017, on the training, art. 1 and its annex: 120 h
//! of theory in six modules, three deepening modules of 30 h chosen by the trainee, 40 h of
//! practical training in two modules). What the attestation needs beyond them (a tutor, a GPDS
//! meeting led) is the académie's setting ([`super::settings`]).

use std::collections::BTreeMap;

use cplds_runtime::kit::{RuleViolation, refuse};
use serde::{Deserialize, Serialize};

use super::{
    format_minutes,
    programme::{
        DeepeningChoice, Module, ModuleCode, ModuleKind, ModuleMode, Programme, is_required,
    },
    roster::EnrolmentStatus,
    settings::Settings,
};

/// Minutes by kind of module and by mode (the `TrainingHours` of the events). Practical modules
/// are in presence, so they count both as presence and as internship.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    pub theory: u32,
    pub deepening: u32,
    pub practical: u32,
    pub presence: u32,
    pub synchronous_distance: u32,
    pub asynchronous_distance: u32,
    pub internship: u32,
}

impl Hours {
    pub fn add(&mut self, m: &Module, minutes: u32) {
        match m.kind {
            ModuleKind::Theory => self.theory += minutes,
            ModuleKind::Deepening => self.deepening += minutes,
            ModuleKind::Practical => {
                self.practical += minutes;
                self.internship += minutes;
            }
        }
        match m.mode {
            ModuleMode::Presence => self.presence += minutes,
            ModuleMode::SynchronousDistance => self.synchronous_distance += minutes,
            ModuleMode::AsynchronousDistance => self.asynchronous_distance += minutes,
        }
    }

    /// All kinds together.
    pub fn total(&self) -> u32 {
        self.theory + self.deepening + self.practical
    }

    pub fn plus(self, o: Hours) -> Hours {
        Hours {
            theory: self.theory + o.theory,
            deepening: self.deepening + o.deepening,
            practical: self.practical + o.practical,
            presence: self.presence + o.presence,
            synchronous_distance: self.synchronous_distance + o.synchronous_distance,
            asynchronous_distance: self.asynchronous_distance + o.asynchronous_distance,
            internship: self.internship + o.internship,
        }
    }
}

/// The minutes credited to one trainee, per module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger(BTreeMap<ModuleCode, u32>);

impl Ledger {
    pub fn credited(&self, code: &ModuleCode) -> u32 {
        self.0.get(code).copied().unwrap_or(0)
    }

    /// What is already recorded (read back from the database), without checks.
    pub fn record(&mut self, code: ModuleCode, minutes: u32) {
        *self.0.entry(code).or_insert(0) += minutes;
    }

    /// Credits `minutes` to `module`, or says which rule forbids it. Only modules the trainee
    /// must follow are credited, and never beyond their hours.
    pub fn credit(
        &mut self,
        module: &Module,
        choice: Option<&DeepeningChoice>,
        minutes: u32,
    ) -> Result<(), RuleViolation> {
        if !is_required(module, choice) {
            return refuse(
                "MODULE_NOT_CHOSEN",
                format!(
                    "{} is a deepening module the trainee has not chosen",
                    module.code
                ),
            );
        }
        let already = self.credited(&module.code);
        if already + minutes > module.minutes {
            return refuse(
                "MODULE_HOURS_EXCEEDED",
                format!(
                    "{} lasts {}; {} already credited, {} more would exceed it",
                    module.code,
                    format_minutes(module.minutes),
                    format_minutes(already),
                    format_minutes(minutes)
                ),
            );
        }
        self.record(module.code.clone(), minutes);
        Ok(())
    }

    /// Modules with credited minutes.
    pub fn modules(&self) -> impl Iterator<Item = (&ModuleCode, u32)> {
        self.0.iter().filter(|(_, m)| **m > 0).map(|(c, m)| (c, *m))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleProgress<'a> {
    pub module: &'a Module,
    pub credited: u32,
    pub required: bool,
}

impl ModuleProgress<'_> {
    pub fn complete(&self) -> bool {
        self.credited >= self.module.minutes
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress<'a> {
    /// 190 h.
    pub required_minutes: u32,
    /// Credited on the modules the trainee must follow.
    pub credited_minutes: u32,
    pub hours: Hours,
    pub modules: Vec<ModuleProgress<'a>>,
}

impl Progress<'_> {
    /// Every module the trainee must follow is complete (the choice made).
    pub fn hours_complete(&self) -> bool {
        self.credited_minutes == self.required_minutes
            && self
                .modules
                .iter()
                .filter(|m| m.required)
                .all(|m| m.complete())
    }
}

pub fn progress<'a>(
    programme: &'a Programme,
    choice: Option<&'a DeepeningChoice>,
    ledger: &Ledger,
) -> Progress<'a> {
    let mut hours = Hours::default();
    let modules: Vec<ModuleProgress> = programme
        .modules
        .iter()
        .map(|m| {
            let required = is_required(m, choice);
            let credited = ledger.credited(&m.code).min(m.minutes);
            if required {
                hours.add(m, credited);
            }
            ModuleProgress {
                module: m,
                credited,
                required,
            }
        })
        .collect();
    Progress {
        required_minutes: programme.requirements.trainee_minutes(),
        credited_minutes: hours.total(),
        hours,
        modules,
    }
}

/// What the tutored internship has, beyond its hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Internship {
    pub tutor_assigned: bool,
    pub gpds_session_led: bool,
}

/// What is still missing for the attestation under the académie's `settings`, as (rule,
/// sentence in French), in the order the rules are checked.
pub fn missing(
    programme: &Programme,
    choice: Option<&DeepeningChoice>,
    ledger: &Ledger,
    internship: Internship,
    settings: &Settings,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if choice.is_none() {
        out.push((
            "DEEPENING_NOT_CHOSEN",
            format!(
                "les {} modules d'approfondissement ne sont pas choisis",
                programme.requirements.deepening_chosen
            ),
        ));
    }
    let p = progress(programme, choice, ledger);
    let incomplete: Vec<String> = p
        .modules
        .iter()
        .filter(|m| m.required && !m.complete())
        .map(|m| {
            format!(
                "{} ({} sur {})",
                m.module.code,
                format_minutes(m.credited),
                format_minutes(m.module.minutes)
            )
        })
        .collect();
    if !incomplete.is_empty() {
        out.push((
            "MODULES_INCOMPLETE",
            format!("modules incomplets : {}", incomplete.join(", ")),
        ));
    }
    if settings.require_tutor && !internship.tutor_assigned {
        out.push(("NO_TUTOR", "aucun tuteur n'est désigné".to_owned()));
    }
    if settings.require_gpds_session && !internship.gpds_session_led {
        out.push((
            "GPDS_SESSION_NOT_LED",
            "la séance du GPDS conduite en stage n'est pas enregistrée".to_owned(),
        ));
    }
    out
}

/// The training can be completed (and the attestation issued) now, or the first rule that
/// forbids it.
pub fn can_complete(
    status: EnrolmentStatus,
    programme: &Programme,
    choice: Option<&DeepeningChoice>,
    ledger: &Ledger,
    internship: Internship,
    settings: &Settings,
) -> Result<(), RuleViolation> {
    match status {
        EnrolmentStatus::Accepted => {}
        EnrolmentStatus::Completed => {
            return refuse("ALREADY_COMPLETED", "the attestation is already issued");
        }
        s => {
            return refuse(
                "NOT_IN_TRAINING",
                format!("a {s} enrolment cannot complete the training"),
            );
        }
    }
    match missing(programme, choice, ledger, internship, settings)
        .into_iter()
        .next()
    {
        None => Ok(()),
        Some((rule, why)) => refuse(rule, format!("the training is not complete: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::programme::tests::standard;

    fn code(s: &str) -> ModuleCode {
        ModuleCode::parse(s).unwrap()
    }

    #[test]
    fn credits_stop_at_a_module_s_hours() {
        let p = standard();
        let t1 = p.module(&code("T1")).unwrap();
        let mut l = Ledger::default();
        l.credit(t1, None, 12 * 60).unwrap();
        let e = l.credit(t1, None, 9 * 60).unwrap_err();
        assert_eq!(e.rule, "MODULE_HOURS_EXCEEDED");
        assert!(e.message.contains("12 h already credited"), "{e}");
        l.credit(t1, None, 8 * 60).unwrap();
        assert_eq!(l.credited(&t1.code), 20 * 60);
        let a1 = p.module(&code("A1")).unwrap();
        assert_eq!(
            l.credit(a1, None, 60).unwrap_err().rule,
            "MODULE_NOT_CHOSEN"
        );
        let choice = p
            .choose_deepening(&["A1".into(), "A2".into(), "A3".into()])
            .unwrap();
        l.credit(a1, Some(&choice), 60).unwrap();
    }

    #[test]
    fn progress_by_kind_and_mode() {
        let p = standard();
        let choice = p
            .choose_deepening(&["A1".into(), "A2".into(), "A3".into()])
            .unwrap();
        let mut l = Ledger::default();
        for (c, h) in [("T1", 20), ("T3", 10), ("T5", 5), ("A2", 10), ("P1", 20)] {
            l.credit(p.module(&code(c)).unwrap(), Some(&choice), h * 60)
                .unwrap();
        }
        let pr = progress(&p, Some(&choice), &l);
        assert_eq!(pr.required_minutes, 190 * 60);
        assert_eq!(pr.credited_minutes, 65 * 60);
        let h = pr.hours;
        assert_eq!((h.theory, h.deepening, h.practical), (35 * 60, 600, 1200));
        assert_eq!(
            (h.presence, h.synchronous_distance, h.asynchronous_distance),
            (40 * 60, 20 * 60, 5 * 60)
        );
        assert_eq!(h.internship, 20 * 60);
        assert!(!pr.hours_complete());
    }

    /// Every requirement on: the order the rules are checked in.
    const STRICT: Settings = Settings {
        require_tutor: true,
        require_gpds_session: true,
        target_presence_percent: None,
    };

    #[test]
    fn completion_rules_in_order() {
        let p = standard();
        let ok = Internship {
            tutor_assigned: true,
            gpds_session_led: true,
        };
        let mut l = Ledger::default();
        let rule = |l: &Ledger, c: Option<&DeepeningChoice>, i: Internship| {
            can_complete(EnrolmentStatus::Accepted, &p, c, l, i, &STRICT)
                .err()
                .map(|e| e.rule)
        };
        assert_eq!(rule(&l, None, ok), Some("DEEPENING_NOT_CHOSEN"));
        let choice = p
            .choose_deepening(&["A1".into(), "A4".into(), "A5".into()])
            .unwrap();
        assert_eq!(rule(&l, Some(&choice), ok), Some("MODULES_INCOMPLETE"));
        for m in p.required_modules(Some(&choice)) {
            l.credit(m, Some(&choice), m.minutes).unwrap();
        }
        let no_tutor = Internship {
            tutor_assigned: false,
            gpds_session_led: true,
        };
        assert_eq!(rule(&l, Some(&choice), no_tutor), Some("NO_TUTOR"));
        let no_gpds = Internship {
            tutor_assigned: true,
            gpds_session_led: false,
        };
        assert_eq!(
            rule(&l, Some(&choice), no_gpds),
            Some("GPDS_SESSION_NOT_LED")
        );
        assert_eq!(rule(&l, Some(&choice), ok), None);
        let refused_when = |s: EnrolmentStatus| {
            can_complete(s, &p, Some(&choice), &l, ok, &STRICT)
                .unwrap_err()
                .rule
        };
        assert_eq!(refused_when(EnrolmentStatus::Waitlisted), "NOT_IN_TRAINING");
        assert_eq!(
            refused_when(EnrolmentStatus::Completed),
            "ALREADY_COMPLETED"
        );
        assert!(progress(&p, Some(&choice), &l).hours_complete());
    }

    /// Before, the GPDS meeting and the tutor were required everywhere, whatever the académie.
    #[test]
    fn beyond_the_hours_the_academie_s_settings_decide() {
        let p = standard();
        let choice = p
            .choose_deepening(&["A1".into(), "A4".into(), "A5".into()])
            .unwrap();
        let mut l = Ledger::default();
        for m in p.required_modules(Some(&choice)) {
            l.credit(m, Some(&choice), m.minutes).unwrap();
        }
        let none = Internship {
            tutor_assigned: false,
            gpds_session_led: false,
        };
        let tutored = Internship {
            tutor_assigned: true,
            ..none
        };
        let rules = |i: Internship, s: &Settings| -> Vec<&str> {
            missing(&p, Some(&choice), &l, i, s)
                .into_iter()
                .map(|(r, _)| r)
                .collect()
        };
        // The arrêté's: a tutor, the GPDS meeting an objective only.
        let arrete = Settings::default();
        assert_eq!(rules(none, &arrete), ["NO_TUTOR"]);
        assert!(rules(tutored, &arrete).is_empty());
        assert_eq!(rules(tutored, &STRICT), ["GPDS_SESSION_NOT_LED"]);
        let untutored = Settings {
            require_tutor: false,
            ..arrete
        };
        assert!(rules(none, &untutored).is_empty());
    }

    proptest! {
        /// Whatever is entered, in any order: no module is ever credited beyond its hours, a
        /// credit is refused exactly when it would exceed them (or the module is not followed),
        /// the totals by kind and by mode agree, and 190 h is reached exactly when every module
        /// followed is complete.
        #[test]
        fn never_over_credited_and_totals_agree(
            chosen in prop::sample::subsequence(vec!["A1", "A2", "A3", "A4", "A5"], 3),
            entries in prop::collection::vec((0usize..13, 1u32..=48), 0..80),
        ) {
            let p = standard();
            let choice = p.choose_deepening(&chosen.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            let mut l = Ledger::default();
            for (i, quarters) in entries {
                let m = &p.modules[i];
                let minutes = quarters * 15;
                let before = l.credited(&m.code);
                let allowed = is_required(m, Some(&choice)) && before + minutes <= m.minutes;
                let r = l.credit(m, Some(&choice), minutes);
                prop_assert_eq!(r.is_ok(), allowed);
                prop_assert_eq!(l.credited(&m.code), if allowed { before + minutes } else { before });
                prop_assert!(l.credited(&m.code) <= m.minutes);
            }
            let pr = progress(&p, Some(&choice), &l);
            let h = pr.hours;
            prop_assert_eq!(h.theory + h.deepening + h.practical, pr.credited_minutes);
            prop_assert_eq!(h.presence + h.synchronous_distance + h.asynchronous_distance, pr.credited_minutes);
            prop_assert_eq!(h.internship, h.practical);
            prop_assert!(h.theory <= 120 * 60 && h.deepening <= 30 * 60 && h.practical <= 40 * 60);
            prop_assert_eq!(pr.hours_complete(), pr.credited_minutes == 190 * 60);
            let ledger_total: u32 = l.modules().map(|(_, m)| m).sum();
            prop_assert_eq!(ledger_total, pr.credited_minutes, "nothing credited outside the modules followed");
        }
    }
}
