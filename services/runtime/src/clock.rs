//! Time as a dependency, so window and deadline rules are testable at any instant.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests set by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(at)))
    }

    /// A panic elsewhere while the lock was held cannot leave a half-written instant: the
    /// value is still a valid time, so a poisoned lock is simply taken over.
    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at;
    }

    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test that panicked while holding the clock left it poisoned: every later reading
    /// panicked too. The instant is still valid, so the clock goes on.
    #[test]
    fn a_poisoned_clock_still_tells_the_time() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = ManualClock::new(at);
        let held = Arc::clone(&clock);
        let panicked = std::thread::spawn(move || {
            let _guard = held.0.lock().unwrap();
            panic!("a test fails while holding the clock");
        })
        .join();
        assert!(panicked.is_err() && clock.0.is_poisoned());
        assert_eq!(clock.now(), at);
        clock.advance(Duration::seconds(5));
        assert_eq!(clock.now(), at + Duration::seconds(5));
    }
}
