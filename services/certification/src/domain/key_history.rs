//! The public history of the académie's document keys: every key ever configured, with when it
//! was first seen and when it was retired. A key dropped from the configuration stays in the
//! history (retired), so what it signed keeps verifying.

/// A key of the configured ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingKey {
    pub kid: String,
    /// Raw 32-byte Ed25519 public key, hex.
    pub public_key: String,
    pub retired: bool,
}

/// A key of the stored history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub kid: String,
    pub retired: bool,
}

/// What to write so that the history tells the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// A key seen for the first time (retired already if the ring says so).
    Record(RingKey),
    /// A known key retired now, or made current again.
    SetRetired { kid: String, retired: bool },
}

/// The changes that bring the history up to the ring: new keys, keys the ring now retires or
/// makes current again, and known keys the configuration dropped (retired).
pub fn changes(ring: &[RingKey], known: &[KnownKey]) -> Vec<KeyChange> {
    let mut out = Vec::new();
    for key in ring {
        match known.iter().find(|k| k.kid == key.kid) {
            None => out.push(KeyChange::Record(key.clone())),
            Some(k) if k.retired != key.retired => out.push(KeyChange::SetRetired {
                kid: key.kid.clone(),
                retired: key.retired,
            }),
            Some(_) => {}
        }
    }
    for k in known {
        if !k.retired && !ring.iter().any(|r| r.kid == k.kid) {
            out.push(KeyChange::SetRetired {
                kid: k.kid.clone(),
                retired: true,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(kid: &str, retired: bool) -> RingKey {
        RingKey {
            kid: kid.into(),
            public_key: format!("{kid}-public"),
            retired,
        }
    }

    fn known(kid: &str, retired: bool) -> KnownKey {
        KnownKey {
            kid: kid.into(),
            retired,
        }
    }

    #[test]
    fn a_new_key_is_recorded_as_the_ring_says() {
        assert_eq!(
            changes(&[ring("b", false), ring("a", true)], &[]),
            [
                KeyChange::Record(ring("b", false)),
                KeyChange::Record(ring("a", true))
            ]
        );
    }

    #[test]
    fn a_rotation_retires_the_old_key() {
        assert_eq!(
            changes(&[ring("b", false), ring("a", true)], &[known("a", false)]),
            [
                KeyChange::Record(ring("b", false)),
                KeyChange::SetRetired {
                    kid: "a".into(),
                    retired: true
                }
            ]
        );
    }

    #[test]
    fn a_key_made_current_again_is_no_longer_retired() {
        assert_eq!(
            changes(&[ring("a", false)], &[known("a", true)]),
            [KeyChange::SetRetired {
                kid: "a".into(),
                retired: false
            }]
        );
    }

    #[test]
    fn a_dropped_key_stays_in_the_history_retired() {
        assert_eq!(
            changes(&[ring("b", false)], &[known("b", false), known("a", false)]),
            [KeyChange::SetRetired {
                kid: "a".into(),
                retired: true
            }]
        );
        assert!(changes(&[ring("b", false)], &[known("b", false), known("a", true)]).is_empty());
    }
}
