//! A rule of the procedure that forbids an act now: what domain rules return, and what the wire
//! shows as FAILED_PRECONDITION with the rule's name (`WINDOW_CLOSED`, `NOT_ASSIGNED`...).
//!
//! Domain modules decide and return a [`RuleViolation`]; handlers say which record it is about
//! ([`RuleViolation::on`]) and the error mapping does the rest.

use crate::error::ServiceError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleViolation {
    /// Short machine-readable name, SCREAMING_SNAKE_CASE.
    pub rule: &'static str,
    /// The rule, as the person refused should read it.
    pub message: String,
}

impl RuleViolation {
    pub fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }

    /// The service error for this refusal about `subject` (`candidacy/0192…`, `session/…`).
    pub fn on(self, subject: impl Into<String>) -> ServiceError {
        ServiceError::precondition(self.rule, subject, self.message)
    }
}

/// `Err` of a [`RuleViolation`], for rules written as `if … { return refuse(…) }`.
pub fn refuse<T>(rule: &'static str, message: impl Into<String>) -> Result<T, RuleViolation> {
    Err(RuleViolation::new(rule, message))
}

/// Attaches the subject to a domain decision's refusal: `rules::withdraw(&facts).on(subject)?`.
pub trait Decided<T> {
    fn on(self, subject: impl Into<String>) -> Result<T, ServiceError>;
}

impl<T> Decided<T> for Result<T, RuleViolation> {
    fn on(self, subject: impl Into<String>) -> Result<T, ServiceError> {
        self.map_err(|v| v.on(subject))
    }
}

/// A row looked up by its key, or `NOT_FOUND` naming it: `store::cohort(db, id).await.found("cohort", id)`.
pub trait Found<T> {
    fn found(self, noun: &str, key: impl std::fmt::Display) -> crate::error::ServiceResult<T>;
}

impl<T> Found<T> for Result<Option<T>, sea_orm::DbErr> {
    fn found(self, noun: &str, key: impl std::fmt::Display) -> crate::error::ServiceResult<T> {
        self?.ok_or_else(|| ServiceError::not_found(format!("{noun} {key}")))
    }
}

/// A row a unique index may refuse, or the refusal `taken` gives (ALREADY_EXISTS, or a rule when
/// a concurrent act got there first): `store::insert_board(..).await.unless_taken(exists)`.
pub trait Unique<T> {
    fn unless_taken(self, taken: impl FnOnce() -> ServiceError) -> crate::error::ServiceResult<T>;
}

impl<T> Unique<T> for Result<T, sea_orm::DbErr> {
    fn unless_taken(self, taken: impl FnOnce() -> ServiceError) -> crate::error::ServiceResult<T> {
        self.map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                taken()
            } else {
                e.into()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_names_rule_and_subject() {
        let r: Result<(), _> = refuse("WINDOW_CLOSED", "the window closed on 19 June");
        match r.on("campaign/2026") {
            Err(ServiceError::FailedPrecondition {
                rule,
                subject,
                message,
            }) => {
                assert_eq!(rule, "WINDOW_CLOSED");
                assert_eq!(subject, "campaign/2026");
                assert!(message.contains("19 June"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
