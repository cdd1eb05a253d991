//! What an académie's attestation requires beyond the hours, and what its organisation aims at
//! (issue 13 §9). The texts fix the hours; the rest differs from one académie to another, so it
//! is a setting of the académie, by default as the arrêté says.
//!
//! Sources (`/work/shared/domain/README.md`, "Training"):
//! - the hours per kind of module: arrêté of 5 May 2017 on the training, art. 1 and its annex
//!   (six theory modules, 120 h; three deepening modules chosen, 30 h; two practical modules in
//!   an establishment, 40 h). Not a setting: see [`super::programme::ARRETE_2017`];
//! - the tutor: art. 2, "les candidats en formation sont accompagnés jusqu'à la présentation des
//!   épreuves par un tuteur volontaire", designated by the recteur. Required by default;
//! - the GPDS meeting: the internship's description lists leading a GPDS meeting among what the
//!   trainee does there, an objective of the practical training, not a condition of the
//!   attestation. Not required by default; an académie may require it;
//! - the presence/distance balance: about a third in presence (seminars) and two thirds at a
//!   distance in the Poitiers organisation (région académique Nouvelle-Aquitaine). No text sets
//!   it: by default no target; an académie that sets one is warned below it, never refused.
//!
//! A cohort of a région académique follows the settings of the académie that runs it: that
//! académie issues the attestation.

use super::FieldError;

/// An académie's settings; [`Settings::default`] is the arrêté's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The attestation waits for a tutor, who records the internship (art. 2).
    pub require_tutor: bool,
    /// The attestation waits for a GPDS meeting led during the internship.
    pub require_gpds_session: bool,
    /// The share of the sessions' hours the académie aims to hold in presence, in percent.
    pub target_presence_percent: Option<u8>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            require_tutor: true,
            require_gpds_session: false,
            target_presence_percent: None,
        }
    }
}

impl Settings {
    /// Settings as the training office gives them; 0 is no target.
    pub fn parse(
        require_tutor: bool,
        require_gpds_session: bool,
        target_presence_percent: u32,
    ) -> Result<Settings, Vec<FieldError>> {
        let target = match target_presence_percent {
            0 => None,
            p @ 1..=100 => u8::try_from(p).ok(),
            _ => {
                return Err(vec![(
                    "target_presence_percent".into(),
                    "must be between 0 (no target) and 100".into(),
                )]);
            }
        };
        Ok(Settings {
            require_tutor,
            require_gpds_session,
            target_presence_percent: target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_arrete_s() {
        let d = Settings::default();
        assert!(d.require_tutor, "art. 2: a tutor designated by the recteur");
        assert!(!d.require_gpds_session, "an objective, not a condition");
        assert_eq!(d.target_presence_percent, None, "no text sets a share");
    }

    #[test]
    fn a_target_is_a_percentage_or_none() {
        assert_eq!(
            Settings::parse(true, true, 33)
                .unwrap()
                .target_presence_percent,
            Some(33)
        );
        assert_eq!(
            Settings::parse(false, false, 0)
                .unwrap()
                .target_presence_percent,
            None
        );
        let e = Settings::parse(true, false, 101).unwrap_err();
        assert_eq!(e[0].0, "target_presence_percent");
    }
}
