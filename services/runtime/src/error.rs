//! The small, closed set of service errors, and their one mapping to gRPC statuses (design rule 6).
//!
//! Handlers return `ServiceError`; `Status::from` is the only place that knows the wire form.
//! Field violations travel as google.rpc `BadRequest` details and procedure violations as
//! `PreconditionFailure`, so any gRPC client can read them.

use std::fmt;

use sea_orm::DbErr;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the offending field in the request, e.g. `candidate.email`.
    pub field: String,
    /// The rule it breaks, in a sentence.
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<Violation>),
    /// A rule of the procedure forbids the act now (window closed, list already published...).
    #[error("{message}")]
    FailedPrecondition {
        /// Short machine-readable rule name, e.g. `WINDOW_CLOSED`.
        rule: &'static str,
        subject: String,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![Violation {
            field: field.into(),
            description: description.into(),
        }])
    }

    pub fn precondition(
        rule: &'static str,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::FailedPrecondition {
            rule,
            subject: subject.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn internal(err: impl fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::InvalidArgument(violations) => {
                let message = format!("invalid argument: {}", describe(&violations));
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::FailedPrecondition {
                rule,
                subject,
                message,
            } => {
                let details =
                    ErrorDetails::with_precondition_failure(vec![PreconditionViolation::new(
                        rule,
                        subject,
                        message.clone(),
                    )]);
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            ServiceError::NotFound(m) => Status::not_found(m),
            ServiceError::AlreadyExists(m) => Status::already_exists(m),
            ServiceError::PermissionDenied(m) => Status::permission_denied(m),
            ServiceError::Unauthenticated(m) => Status::unauthenticated(m),
            ServiceError::Unavailable(m) => Status::unavailable(m),
            ServiceError::Internal(m) => {
                // The cause is logged here, once; the client learns only that it was not its fault.
                tracing::error!(error = %m, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                ServiceError::Unavailable(format!("database unavailable: {err}"))
            }
            _ => ServiceError::Internal(format!("database: {err}")),
        }
    }
}

impl From<sea_orm::TransactionError<ServiceError>> for ServiceError {
    fn from(err: sea_orm::TransactionError<ServiceError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// A handler's result as tonic wants it: the message, or the mapped status.
pub fn reply<T>(r: ServiceResult<T>) -> Result<tonic::Response<T>, Status> {
    r.map(tonic::Response::new).map_err(Status::from)
}

/// Collects every field violation of a request, so the caller learns all of them at once.
///
/// ```
/// # use cplds_runtime::error::Violations;
/// let mut v = Violations::default();
/// let year: Option<i32> = v.check("year", if 2025 > 2016 { Ok(2025) } else { Err("too early") });
/// assert_eq!(year, Some(2025));
/// assert!(v.finish().is_ok());
/// ```
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// Records the error of `result` against `field`; returns the value if there was one.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(Violation {
                    field: field.to_owned(),
                    description: e.to_string(),
                });
                None
            }
        }
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Prefixes the field paths of a nested message's violations.
    pub fn nest(&mut self, prefix: &str, inner: Violations) {
        for v in inner.0 {
            self.0.push(Violation {
                field: format!("{prefix}.{}", v.field),
                description: v.description,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(self.0))
        }
    }

    /// The parsed values of a request, typed, when no violation was recorded:
    /// `let (year, window) = v.finish_with((year, window))?;` where each is the `Option` a
    /// [`Violations::check`] returned. A value missing without a violation is a bug of the
    /// parser, reported as INTERNAL rather than a panic.
    pub fn finish_with<P: Parsed>(self, parsed: P) -> Result<P::Value, ServiceError> {
        self.finish()?;
        parsed
            .complete()
            .ok_or_else(|| ServiceError::internal("a request field was neither parsed nor refused"))
    }
}

/// Values being parsed: `Option`s from [`Violations::check`], and tuples of them.
pub trait Parsed {
    type Value;
    /// Every value, if every one was parsed.
    fn complete(self) -> Option<Self::Value>;
}

impl<T> Parsed for Option<T> {
    type Value = T;
    fn complete(self) -> Option<T> {
        self
    }
}

macro_rules! parsed_tuple {
    ($($name:ident)+) => {
        impl<$($name: Parsed),+> Parsed for ($($name,)+) {
            type Value = ($($name::Value,)+);
            #[allow(non_snake_case)]
            fn complete(self) -> Option<Self::Value> {
                let ($($name,)+) = self;
                Some(($($name.complete()?,)+))
            }
        }
    };
}

parsed_tuple!(A);
parsed_tuple!(A B);
parsed_tuple!(A B C);
parsed_tuple!(A B C D);
parsed_tuple!(A B C D E);
parsed_tuple!(A B C D E F);
parsed_tuple!(A B C D E F G);
parsed_tuple!(A B C D E F G H);
parsed_tuple!(A B C D E F G H I);
parsed_tuple!(A B C D E F G H I J);
parsed_tuple!(A B C D E F G H I J K);
parsed_tuple!(A B C D E F G H I J K L);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_every_field() {
        let mut v = Violations::default();
        v.add("candidate.email", "not an e-mail address");
        v.add("year", "must be 2017 or later");
        let status: Status = v.finish().unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|f| f.field.clone())
            .collect();
        assert_eq!(fields, ["candidate.email", "year"]);
        assert!(status.message().contains("candidate.email"));
    }

    #[test]
    fn finish_with_types_the_parsed_values() {
        let mut v = Violations::default();
        let a = v.check("a", Ok::<_, String>(1));
        let b = v.check("b", Ok::<_, String>("x"));
        assert_eq!(v.finish_with((a, b)).unwrap(), (1, "x"));

        let mut v = Violations::default();
        let a = v.check("a", Err::<i32, _>("bad"));
        assert!(matches!(
            v.finish_with(a),
            Err(ServiceError::InvalidArgument(_))
        ));

        // A parser that forgot to record its violation is a bug, not a panic.
        let v = Violations::default();
        assert!(matches!(
            v.finish_with(None::<i32>),
            Err(ServiceError::Internal(_))
        ));
    }

    #[test]
    fn precondition_carries_the_rule() {
        let status: Status =
            ServiceError::precondition("WINDOW_CLOSED", "campaign/2025", "closed").into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        assert_eq!(
            details.precondition_failure().unwrap().violations[0].r#type,
            "WINDOW_CLOSED"
        );
    }

    #[test]
    fn internal_hides_the_cause() {
        let status: Status = ServiceError::internal("password=secret in a query").into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
