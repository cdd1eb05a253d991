//! Who acts on which session and trainee (issue 12 §4). The node's auth layer checks the role a
//! method grants; these rules decide from the assignments recorded:
//! - the training office assigns the trainers who run each session; a trainer records
//!   attendance only at those sessions, and follows (reads the enrolments and progress of) only
//!   the cohorts they run a session of;
//! - the recteur designates each trainee's tutor (arrêté of 5 May 2017 on the training, art. 2:
//!   "il est désigné par le recteur"), and so reads every enrolment, as the training office
//!   does; the tutor, who acts with the trainer role, records the trainee's internship and reads
//!   their enrolment;
//! - nobody records hours for themselves.
//!
//! Each act is judged under the role it is performed as: a trainer who is also in training reads
//! their own enrolment as its trainee, and the trainer role gives them nothing on it.

use cplds_runtime::auth::{Caller, Role};

use super::enrolment::NotAllowed;

/// At most this many trainers run one session.
pub const MAX_SESSION_TRAINERS: usize = 10;

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn among(who: &str, people: &[String]) -> bool {
    people.iter().any(|p| same(p, who))
}

/// The people assigned around one enrolment, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Around<'a> {
    /// The trainee's e-mail address (their account).
    pub trainee: &'a str,
    /// The tutor the recteur designated, if any.
    pub tutor: Option<&'a str>,
    /// The trainers who run at least one session of the trainee's cohort.
    pub cohort_trainers: &'a [String],
}

fn not_for_oneself(caller: &Caller, trainee: &str) -> Result<(), NotAllowed> {
    if same(&caller.subject, trainee) {
        return Err(NotAllowed("nobody records hours for themselves".into()));
    }
    Ok(())
}

/// A trainer records attendance at a session they run, and never their own.
pub fn may_record_attendance(
    caller: &Caller,
    session_trainers: &[String],
    trainee: &str,
) -> Result<(), NotAllowed> {
    not_for_oneself(caller, trainee)?;
    if caller.has(Role::Trainer) && among(&caller.subject, session_trainers) {
        return Ok(());
    }
    Err(NotAllowed(
        "attendance is recorded by a trainer who runs the session".into(),
    ))
}

/// The internship is recorded by the trainee's tutor. Without a tutor, a trainer of the cohort
/// may (the rules then say whether the académie requires a tutor first).
pub fn may_record_internship(caller: &Caller, a: &Around<'_>) -> Result<(), NotAllowed> {
    not_for_oneself(caller, a.trainee)?;
    let me = caller.subject.as_str();
    let allowed = caller.has(Role::Trainer)
        && match a.tutor {
            Some(tutor) => same(tutor, me),
            None => among(me, a.cohort_trainers),
        };
    if allowed {
        return Ok(());
    }
    Err(NotAllowed(match a.tutor {
        Some(_) => "the internship is recorded by the trainee's tutor".into(),
        None => "the internship is recorded by the trainee's tutor, or without one by a \
                 trainer of the cohort"
            .into(),
    }))
}

/// The training office and the recteur read every enrolment; a trainer those of the cohorts
/// they run a session of and of the trainees they tutor; a candidate their own.
pub fn may_read_enrolment(
    caller: &Caller,
    enrolment_id: &str,
    a: &Around<'_>,
) -> Result<(), NotAllowed> {
    let me = caller.subject.as_str();
    let as_office = caller.has(Role::TrainingOffice) || caller.has(Role::Recteur);
    let as_trainer = caller.has(Role::Trainer)
        && (among(me, a.cohort_trainers) || a.tutor.is_some_and(|t| same(t, me)));
    let as_trainee = caller.has(Role::Candidate) && same(a.trainee, me);
    if as_office || as_trainer || as_trainee {
        return Ok(());
    }
    Err(NotAllowed(format!(
        "enrolment {enrolment_id} is neither yours nor of a cohort or trainee you are assigned to"
    )))
}

/// The training office and the recteur follow every cohort; a trainer the cohorts they run a
/// session of.
pub fn may_follow_cohort(
    caller: &Caller,
    cohort_id: &str,
    cohort_trainers: &[String],
) -> Result<(), NotAllowed> {
    if caller.has(Role::TrainingOffice)
        || caller.has(Role::Recteur)
        || (caller.has(Role::Trainer) && among(&caller.subject, cohort_trainers))
    {
        return Ok(());
    }
    Err(NotAllowed(format!(
        "you run no session of cohort {cohort_id}"
    )))
}

/// A tutor accompanies someone else.
pub fn may_tutor(trainee: &str, tutor: &str) -> Result<(), String> {
    if same(trainee, tutor) {
        return Err("a trainee is not their own tutor".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::caller;

    fn trainers() -> Vec<String> {
        vec!["formateur@ac-toulouse.fr".into()]
    }

    const TRAINEE: &str = "camille@ac-toulouse.fr";

    #[test]
    fn attendance_is_recorded_by_a_trainer_of_the_session() {
        let runs = caller("Formateur@ac-toulouse.fr", &[Role::Trainer]);
        assert!(may_record_attendance(&runs, &trainers(), TRAINEE).is_ok());
        let other = caller("autre@ac-toulouse.fr", &[Role::Trainer]);
        assert!(may_record_attendance(&other, &trainers(), TRAINEE).is_err());
        // Running the session is not enough without acting as a trainer.
        let office = caller("formateur@ac-toulouse.fr", &[Role::TrainingOffice]);
        assert!(may_record_attendance(&office, &trainers(), TRAINEE).is_err());
    }

    #[test]
    fn nobody_records_their_own_hours() {
        let me = caller(TRAINEE, &[Role::Trainer, Role::Candidate]);
        let mine = vec![TRAINEE.to_owned()];
        let e = may_record_attendance(&me, &mine, TRAINEE).unwrap_err();
        assert!(e.0.contains("themselves"), "{e}");
        let a = Around {
            trainee: TRAINEE,
            tutor: Some(TRAINEE),
            cohort_trainers: &mine,
        };
        assert!(may_record_internship(&me, &a).is_err());
    }

    #[test]
    fn the_tutor_records_the_internship() {
        let t = trainers();
        let a = Around {
            trainee: TRAINEE,
            tutor: Some("paul@ac-toulouse.fr"),
            cohort_trainers: &t,
        };
        let tutor = caller("paul@ac-toulouse.fr", &[Role::Trainer]);
        assert!(may_record_internship(&tutor, &a).is_ok());
        let trainer = caller("formateur@ac-toulouse.fr", &[Role::Trainer]);
        assert!(may_record_internship(&trainer, &a).is_err());
        // Without a tutor, a trainer of the cohort may; another may not.
        let untutored = Around { tutor: None, ..a };
        assert!(may_record_internship(&trainer, &untutored).is_ok());
        assert!(may_record_internship(&tutor, &untutored).is_err());
    }

    #[test]
    fn each_reads_the_enrolments_they_are_assigned_to() {
        let t = trainers();
        let a = Around {
            trainee: TRAINEE,
            tutor: Some("paul@ac-toulouse.fr"),
            cohort_trainers: &t,
        };
        for ok in [
            caller("eafc@ac-toulouse.fr", &[Role::TrainingOffice]),
            caller("recteur@ac-toulouse.fr", &[Role::Recteur]),
            caller("formateur@ac-toulouse.fr", &[Role::Trainer]),
            caller("paul@ac-toulouse.fr", &[Role::Trainer]),
            caller(TRAINEE, &[Role::Candidate]),
        ] {
            assert!(may_read_enrolment(&ok, "e1", &a).is_ok(), "{ok:?}");
        }
        // A tutor's e-mail with the candidate role only, another trainer: no.
        for denied in [
            caller("paul@ac-toulouse.fr", &[Role::Candidate]),
            caller("autre@ac-toulouse.fr", &[Role::Trainer, Role::Candidate]),
        ] {
            assert!(may_read_enrolment(&denied, "e1", &a).is_err(), "{denied:?}");
        }
    }

    #[test]
    fn a_cohort_is_followed_by_the_office_and_its_trainers() {
        let t = trainers();
        assert!(
            may_follow_cohort(&caller("eafc@x.fr", &[Role::TrainingOffice]), "c1", &[]).is_ok()
        );
        assert!(may_follow_cohort(&caller("r@x.fr", &[Role::Recteur]), "c1", &[]).is_ok());
        let trainer = caller("formateur@ac-toulouse.fr", &[Role::Trainer]);
        assert!(may_follow_cohort(&trainer, "c1", &t).is_ok());
        assert!(may_follow_cohort(&trainer, "c2", &[]).is_err());
    }

    #[test]
    fn a_trainee_is_not_their_own_tutor() {
        assert!(may_tutor(TRAINEE, "Camille@ac-toulouse.fr").is_err());
        assert!(may_tutor(TRAINEE, "paul@ac-toulouse.fr").is_ok());
    }
}
