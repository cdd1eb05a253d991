//! Places and the waiting list of a cohort: requests are taken in order; a request is accepted
//! while places remain, else it waits; a place freed (withdrawal, abandonment) goes to the
//! first person waiting. The api loads a cohort's roster (tens of rows) in the transaction that
//! locks the cohort, applies one act here, and stores what changed.
//!
//! Source (`/work/shared/domain/README.md`, "Registration"): registering for the training is an
//! act separate from registering for the exam, the training is not compulsory to sit it, and its
//! places are limited. The order of requests is the académies' practice, not a text.

use cplds_runtime::kit::{RuleViolation, refuse};

cplds_runtime::text_enum!(EnrolmentStatus {
    Waitlisted => "waitlisted",
    Accepted => "accepted",
    Withdrawn => "withdrawn",
    Abandoned => "abandoned",
    Completed => "completed",
});

impl EnrolmentStatus {
    /// Holds one of the cohort's places.
    pub fn holds_place(self) -> bool {
        matches!(self, EnrolmentStatus::Accepted | EnrolmentStatus::Completed)
    }

    /// Still in the cohort (not left).
    pub fn is_live(self) -> bool {
        !matches!(
            self,
            EnrolmentStatus::Withdrawn | EnrolmentStatus::Abandoned
        )
    }
}

/// The requests of a cohort in the order they were made, with their status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster<Id> {
    capacity: u32,
    entries: Vec<(Id, EnrolmentStatus)>,
}

/// What a departure changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure<Id> {
    /// The status the person had, and the one they now have.
    pub from: EnrolmentStatus,
    pub to: EnrolmentStatus,
    /// Who got the place freed, in order.
    pub promoted: Vec<Id>,
}

impl<Id: Clone + PartialEq> Roster<Id> {
    /// `entries` in request order.
    pub fn new(capacity: u32, entries: Vec<(Id, EnrolmentStatus)>) -> Self {
        Self { capacity, entries }
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn places_taken(&self) -> u32 {
        self.entries.iter().filter(|(_, s)| s.holds_place()).count() as u32
    }

    pub fn status(&self, id: &Id) -> Option<EnrolmentStatus> {
        self.entries.iter().find(|(i, _)| i == id).map(|(_, s)| *s)
    }

    /// Who waits, first first.
    pub fn waiting(&self) -> impl Iterator<Item = &Id> {
        self.entries
            .iter()
            .filter(|(_, s)| *s == EnrolmentStatus::Waitlisted)
            .map(|(i, _)| i)
    }

    /// 1 for the first person waiting.
    pub fn waiting_position(&self, id: &Id) -> Option<u32> {
        self.waiting().position(|i| i == id).map(|p| p as u32 + 1)
    }

    /// A new request, last in order: a place if one is free, else the waiting list.
    pub fn request(&mut self, id: Id) -> EnrolmentStatus {
        let status = if self.places_taken() < self.capacity && self.waiting().next().is_none() {
            EnrolmentStatus::Accepted
        } else {
            EnrolmentStatus::Waitlisted
        };
        self.entries.push((id, status));
        status
    }

    /// Leaving before the training started for them (`started`: hours are credited). From the
    /// waiting list or from a place; a freed place goes to the first person waiting.
    pub fn withdraw(&mut self, id: &Id, started: bool) -> Result<Departure<Id>, RuleViolation> {
        let from = match self.status(id) {
            Some(EnrolmentStatus::Accepted) if started => {
                return refuse(
                    "TRAINING_STARTED",
                    "hours are already credited: record an abandonment instead",
                );
            }
            Some(s @ (EnrolmentStatus::Waitlisted | EnrolmentStatus::Accepted)) => s,
            other => return left_or_done(other),
        };
        Ok(self.leave(id, from, EnrolmentStatus::Withdrawn))
    }

    /// A trainee holding a place stops the training; the place goes to the first person waiting.
    pub fn abandon(&mut self, id: &Id) -> Result<Departure<Id>, RuleViolation> {
        match self.status(id) {
            Some(from @ EnrolmentStatus::Accepted) => {
                Ok(self.leave(id, from, EnrolmentStatus::Abandoned))
            }
            Some(EnrolmentStatus::Waitlisted) => refuse(
                "NOT_ACCEPTED",
                "the person is on the waiting list: withdraw the request instead",
            ),
            other => left_or_done(other),
        }
    }

    fn leave(&mut self, id: &Id, from: EnrolmentStatus, to: EnrolmentStatus) -> Departure<Id> {
        if let Some(e) = self.entries.iter_mut().find(|(i, _)| i == id) {
            e.1 = to;
        }
        Departure {
            from,
            to,
            promoted: self.fill(),
        }
    }

    /// Gives free places to those waiting, in order.
    fn fill(&mut self) -> Vec<Id> {
        let mut promoted = Vec::new();
        while self.places_taken() < self.capacity {
            let Some(next) = self
                .entries
                .iter_mut()
                .find(|(_, s)| *s == EnrolmentStatus::Waitlisted)
            else {
                break;
            };
            next.1 = EnrolmentStatus::Accepted;
            promoted.push(next.0.clone());
        }
        promoted
    }

    #[cfg(test)]
    fn complete(&mut self, id: &Id) {
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|(i, s)| i == id && *s == EnrolmentStatus::Accepted)
        {
            e.1 = EnrolmentStatus::Completed;
        }
    }
}

fn left_or_done<T>(status: Option<EnrolmentStatus>) -> Result<T, RuleViolation> {
    match status {
        Some(EnrolmentStatus::Completed) => refuse(
            "ALREADY_COMPLETED",
            "the training is completed and its attestation issued",
        ),
        Some(s @ (EnrolmentStatus::Withdrawn | EnrolmentStatus::Abandoned)) => {
            refuse("ALREADY_LEFT", format!("the enrolment is already {s}"))
        }
        _ => refuse("NOT_IN_COHORT", "no such request in the cohort"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use EnrolmentStatus::*;

    /// Two places, four requests: two accepted, two waiting in order.
    fn two_places_four_requests() -> Roster<&'static str> {
        let mut r = Roster::new(2, vec![]);
        assert_eq!(r.request("a"), Accepted);
        assert_eq!(r.request("b"), Accepted);
        assert_eq!(r.request("c"), Waitlisted);
        assert_eq!(r.request("d"), Waitlisted);
        r
    }

    #[test]
    fn places_then_waiting_list_in_order_of_request() {
        let r = two_places_four_requests();
        assert_eq!(r.places_taken(), 2);
        assert_eq!(r.waiting_position(&"c"), Some(1));
        assert_eq!(r.waiting_position(&"d"), Some(2));
    }

    #[test]
    fn a_freed_place_goes_to_the_first_waiting() {
        let mut r = two_places_four_requests();
        let a = r.withdraw(&"a", false).unwrap();
        assert_eq!((a.from, a.to, a.promoted), (Accepted, Withdrawn, vec!["c"]));
        assert_eq!(r.status(&"c"), Some(Accepted));
        assert_eq!(r.waiting_position(&"d"), Some(1));
        let d = r.withdraw(&"d", false).unwrap();
        assert_eq!((d.from, d.to, d.promoted), (Waitlisted, Withdrawn, vec![]));
        let b = r.abandon(&"b").unwrap();
        assert_eq!((b.from, b.to, b.promoted), (Accepted, Abandoned, vec![]));
        assert_eq!(r.places_taken(), 1);
        // A free place and nobody waiting: the next request is accepted.
        assert_eq!(r.request("e"), Accepted);
        assert_eq!(r.request("f"), Waitlisted);
    }

    #[test]
    fn already_left() {
        let mut r = two_places_four_requests();
        r.withdraw(&"d", false).unwrap();
        assert_eq!(r.withdraw(&"d", false).unwrap_err().rule, "ALREADY_LEFT");
        assert_eq!(r.abandon(&"d").unwrap_err().rule, "ALREADY_LEFT");
    }

    #[test]
    fn training_started() {
        let mut r = two_places_four_requests();
        assert_eq!(r.withdraw(&"b", true).unwrap_err().rule, "TRAINING_STARTED");
        // Waiting, nothing can have started.
        assert!(r.withdraw(&"c", true).is_ok());
    }

    #[test]
    fn not_accepted() {
        let mut r = two_places_four_requests();
        assert_eq!(r.abandon(&"c").unwrap_err().rule, "NOT_ACCEPTED");
    }

    #[test]
    fn already_completed() {
        let mut r = two_places_four_requests();
        r.complete(&"a");
        assert_eq!(
            r.withdraw(&"a", false).unwrap_err().rule,
            "ALREADY_COMPLETED"
        );
        assert_eq!(r.abandon(&"a").unwrap_err().rule, "ALREADY_COMPLETED");
    }

    #[test]
    fn not_in_cohort() {
        let mut r = two_places_four_requests();
        assert_eq!(r.abandon(&"zz").unwrap_err().rule, "NOT_IN_COHORT");
        assert_eq!(r.withdraw(&"zz", false).unwrap_err().rule, "NOT_IN_COHORT");
    }

    #[derive(Debug, Clone)]
    enum Act {
        Request,
        Withdraw(usize, bool),
        Abandon(usize),
        Complete(usize),
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            3 => Just(Act::Request),
            2 => (any::<usize>(), any::<bool>()).prop_map(|(i, s)| Act::Withdraw(i, s)),
            1 => any::<usize>().prop_map(Act::Abandon),
            1 => any::<usize>().prop_map(Act::Complete),
        ]
    }

    proptest! {
        /// Over any sequence of requests and departures: never more places taken than the
        /// capacity; the places are held by the earliest live requests (order kept); those waiting
        /// are the others, in order of request; a departure promotes exactly the first waiting.
        #[test]
        fn never_over_capacity_and_order_kept(
            capacity in 1u32..6,
            acts in prop::collection::vec(act(), 0..60),
        ) {
            let mut r: Roster<usize> = Roster::new(capacity, vec![]);
            let mut n = 0usize;
            for a in acts {
                let first_waiting = r.waiting().next().copied();
                let promoted = match a {
                    Act::Request => {
                        r.request(n);
                        n += 1;
                        None
                    }
                    Act::Withdraw(i, started) if n > 0 => {
                        r.withdraw(&(i % n), started).ok().map(|d| d.promoted)
                    }
                    Act::Abandon(i) if n > 0 => r.abandon(&(i % n)).ok().map(|d| d.promoted),
                    Act::Complete(i) if n > 0 => {
                        r.complete(&(i % n));
                        None
                    }
                    _ => None,
                };
                if let Some(p) = promoted {
                    prop_assert!(p.len() <= 1);
                    if let Some(first) = p.first() {
                        prop_assert_eq!(Some(*first), first_waiting);
                    }
                }
                prop_assert!(r.places_taken() <= capacity);
                let live: Vec<(usize, EnrolmentStatus)> = r.entries.iter().copied().filter(|(_, s)| s.is_live()).collect();
                let holders = (capacity as usize).min(live.len());
                for (k, (id, s)) in live.iter().enumerate() {
                    if k < holders {
                        prop_assert!(s.holds_place(), "{id} is among the first {holders} live requests but {s}");
                    } else {
                        prop_assert_eq!(*s, Waitlisted);
                        prop_assert_eq!(r.waiting_position(id), Some((k - holders) as u32 + 1));
                    }
                }
            }
        }
    }
}
