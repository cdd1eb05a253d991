//! Who may read a certificate: the recteur's office and the exam office read every one; anyone
//! else (a holder, with the candidate role) only those issued to the e-mail of their token.

/// The reader of a certificate, as the token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// The recteur's office or the exam office.
    Staff,
    /// Anyone else, by the subject of their token (an e-mail).
    Person { subject: String, is_candidate: bool },
}

impl Reader {
    pub fn new(is_staff: bool, is_candidate: bool, subject: &str) -> Self {
        if is_staff {
            Reader::Staff
        } else {
            Reader::Person {
                subject: subject.trim().to_owned(),
                is_candidate,
            }
        }
    }

    /// Whether this reader may read the certificate issued to `holder_email`.
    pub fn may_read(&self, holder_email: &str) -> bool {
        match self {
            Reader::Staff => true,
            Reader::Person {
                subject,
                is_candidate,
            } => *is_candidate && holder_email.eq_ignore_ascii_case(subject),
        }
    }

    /// The e-mail a list is restricted to: a person's list holds only their own certificates.
    pub fn own_email(&self) -> Option<String> {
        match self {
            Reader::Staff => None,
            Reader::Person { subject, .. } => Some(subject.to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_read_every_certificate() {
        let staff = Reader::new(true, false, "dec@ac-toulouse.fr");
        assert!(staff.may_read("candidate0@ac-toulouse.fr"));
        assert_eq!(staff.own_email(), None);
    }

    #[test]
    fn a_holder_reads_only_their_own() {
        let holder = Reader::new(false, true, " Candidate0@AC-Toulouse.fr ");
        assert!(holder.may_read("candidate0@ac-toulouse.fr"));
        assert!(!holder.may_read("candidate1@ac-toulouse.fr"));
        assert_eq!(
            holder.own_email().as_deref(),
            Some("candidate0@ac-toulouse.fr")
        );
    }

    #[test]
    fn without_the_candidate_role_nothing_is_yours() {
        let it = Reader::new(false, false, "candidate0@ac-toulouse.fr");
        assert!(!it.may_read("candidate0@ac-toulouse.fr"));
    }
}
