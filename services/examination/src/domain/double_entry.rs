//! Double blind entry of marks: two different board members each enter the mark of an épreuve
//! without seeing the other's entry. Equal entries make the mark; different ones are a mismatch
//! the president must reconcile before deliberation. Entrants may correct their own entry until
//! deliberation; a correction undoes a reconciliation (the president settles the new pair).

use cplds_runtime::kit::{RuleViolation, refuse};

use super::mark::PartResult;

cplds_runtime::text_enum!(MarkStatus {
    NotEntered => "not_entered",
    AwaitingSecondEntry => "awaiting_second_entry",
    Agreed => "agreed",
    Mismatch => "mismatch",
    Reconciled => "reconciled",
});

/// Two entries per épreuve: the first and the second entrant.
pub const ENTRIES_NEEDED: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entrant's e-mail, lowercase.
    pub entrant: String,
    pub value: PartResult,
}

/// The entries of one épreuve of one candidate and the president's reconciliation, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sheet {
    pub entries: Vec<Entry>,
    pub reconciled: Option<PartResult>,
}

impl Sheet {
    pub fn status(&self) -> MarkStatus {
        match self.entries.as_slice() {
            [] => MarkStatus::NotEntered,
            [_] => MarkStatus::AwaitingSecondEntry,
            [a, b, ..] if a.value == b.value => MarkStatus::Agreed,
            _ if self.reconciled.is_some() => MarkStatus::Reconciled,
            _ => MarkStatus::Mismatch,
        }
    }

    /// The mark that counts: both entries agree, or the president reconciled them.
    pub fn agreed(&self) -> Option<PartResult> {
        match self.status() {
            MarkStatus::Agreed => Some(self.entries[0].value),
            MarkStatus::Reconciled => self.reconciled,
            _ => None,
        }
    }

    pub fn entry_of(&self, entrant: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.entrant.eq_ignore_ascii_case(entrant))
    }

    /// What `viewer` may see: their own entry, and every entry once both are in (blindness
    /// protects the second entry until it is made). `viewer = None` is the exam office.
    pub fn visible_to(&self, viewer: Option<&str>) -> Vec<&Entry> {
        if self.entries.len() >= ENTRIES_NEEDED {
            return self.entries.iter().collect();
        }
        match viewer {
            Some(v) => self.entry_of(v).into_iter().collect(),
            None => Vec::new(),
        }
    }
}

pub fn can_enter(sheet: &Sheet, entrant: &str) -> Result<(), RuleViolation> {
    if sheet.entry_of(entrant).is_some() {
        return refuse(
            "ALREADY_ENTERED",
            "you already entered this mark; correct your entry instead (CorrectMark)",
        );
    }
    if sheet.entries.len() >= ENTRIES_NEEDED {
        return refuse(
            "DOUBLE_ENTRY_COMPLETE",
            "two members already entered this mark",
        );
    }
    Ok(())
}

pub fn can_correct(sheet: &Sheet, entrant: &str, value: PartResult) -> Result<(), RuleViolation> {
    match sheet.entry_of(entrant) {
        None => refuse(
            "NO_ENTRY_TO_CORRECT",
            "you have not entered this mark; only an entrant corrects their entry",
        ),
        Some(e) if e.value == value => {
            refuse("UNCHANGED", format!("your entry is already {value}"))
        }
        Some(_) => Ok(()),
    }
}

pub fn can_reconcile(sheet: &Sheet) -> Result<(), RuleViolation> {
    match sheet.status() {
        MarkStatus::Mismatch | MarkStatus::Reconciled => Ok(()),
        MarkStatus::Agreed => refuse(
            "NOTHING_TO_RECONCILE",
            "both entries agree: there is nothing to reconcile",
        ),
        MarkStatus::NotEntered | MarkStatus::AwaitingSecondEntry => refuse(
            "SECOND_ENTRY_MISSING",
            "a mark is reconciled once both members have entered it",
        ),
    }
}

/// The sheet after an entrant changed their entry (the reconciliation no longer applies).
pub fn corrected(mut sheet: Sheet, entrant: &str, value: PartResult) -> Sheet {
    if let Some(e) = sheet
        .entries
        .iter_mut()
        .find(|e| e.entrant.eq_ignore_ascii_case(entrant))
    {
        e.value = value;
    }
    sheet.reconciled = None;
    sheet
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::mark::HalfPoints;

    fn mark(h: u32) -> PartResult {
        PartResult::Mark(HalfPoints::new(h).unwrap())
    }

    fn entry(who: &str, v: PartResult) -> Entry {
        Entry {
            entrant: who.into(),
            value: v,
        }
    }

    #[test]
    fn a_mismatch_waits_for_the_president() {
        let mut s = Sheet::default();
        assert_eq!(s.status(), MarkStatus::NotEntered);
        assert!(can_enter(&s, "a@x.fr").is_ok());
        s.entries.push(entry("a@x.fr", mark(24)));
        assert_eq!(s.status(), MarkStatus::AwaitingSecondEntry);
        assert_eq!(can_enter(&s, "A@x.fr").unwrap_err().rule, "ALREADY_ENTERED");
        // The second entrant cannot see the first entry; the exam office neither.
        assert!(s.visible_to(Some("b@x.fr")).is_empty());
        assert!(s.visible_to(None).is_empty());
        assert_eq!(s.visible_to(Some("a@x.fr")).len(), 1);
        assert_eq!(can_reconcile(&s).unwrap_err().rule, "SECOND_ENTRY_MISSING");
        s.entries.push(entry("b@x.fr", mark(25)));
        assert_eq!(s.status(), MarkStatus::Mismatch);
        assert_eq!(s.agreed(), None);
        assert_eq!(s.visible_to(Some("b@x.fr")).len(), 2);
        assert_eq!(
            can_enter(&s, "c@x.fr").unwrap_err().rule,
            "DOUBLE_ENTRY_COMPLETE"
        );
        assert!(can_reconcile(&s).is_ok());
        s.reconciled = Some(mark(25));
        assert_eq!(s.status(), MarkStatus::Reconciled);
        assert_eq!(s.agreed(), Some(mark(25)));
        // A correction that makes the entries agree settles it without the president.
        let s = corrected(s, "a@x.fr", mark(25));
        assert_eq!(s.status(), MarkStatus::Agreed);
        assert_eq!(s.reconciled, None);
        assert_eq!(can_reconcile(&s).unwrap_err().rule, "NOTHING_TO_RECONCILE");
    }

    #[test]
    fn corrections() {
        let s = Sheet {
            entries: vec![entry("a@x.fr", mark(20))],
            reconciled: None,
        };
        assert_eq!(
            can_correct(&s, "b@x.fr", mark(22)).unwrap_err().rule,
            "NO_ENTRY_TO_CORRECT"
        );
        assert_eq!(
            can_correct(&s, "a@x.fr", mark(20)).unwrap_err().rule,
            "UNCHANGED"
        );
        assert!(can_correct(&s, "a@x.fr", PartResult::Absent).is_ok());
    }

    fn any_result() -> impl Strategy<Value = PartResult> {
        prop_oneof![Just(PartResult::Absent), (0u32..=40).prop_map(mark)]
    }

    proptest! {
        /// Whatever two members enter, the mark counts only when both agree or the president
        /// settled it; and before the second entry nobody but the first entrant sees a value.
        #[test]
        fn agreement_or_reconciliation(a in any_result(), b in any_result(), r in proptest::option::of(any_result())) {
            let one = Sheet { entries: vec![entry("a@x.fr", a)], reconciled: None };
            prop_assert!(one.agreed().is_none());
            prop_assert!(one.visible_to(Some("b@x.fr")).is_empty());
            let two = Sheet { entries: vec![entry("a@x.fr", a), entry("b@x.fr", b)], reconciled: r };
            match two.agreed() {
                Some(v) if a == b => prop_assert_eq!(v, a),
                Some(v) => prop_assert_eq!(Some(v), r),
                None => prop_assert!(a != b && r.is_none()),
            }
            prop_assert_eq!(two.status() == MarkStatus::Mismatch, a != b && r.is_none());
        }
    }
}
