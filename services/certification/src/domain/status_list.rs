//! The W3C Bitstring Status List: one bit per certificate (1 = revoked), at the index each
//! credential names in its `credentialStatus`. The list is published whole, GZIP-compressed and
//! multibase base64url-encoded (`u…`), so a verifier learns the status of a certificate without
//! telling the académie which one it checks. Bit 0 is the most significant bit of the first byte.
//!
//! Positions are drawn at random (the specification's privacy advice): a sequential index would
//! tell the order of issuance, and neighbours in the list would be neighbours in the registry.

use std::io::{Read, Write};

use flate2::{Compression, GzBuilder, read::GzDecoder};

use super::multibase::{self, MultibaseError};

/// 16 KiB of bits: the minimum the specification sets, so that the list gives herd privacy.
pub const MIN_BITS: usize = 131_072;
/// A decoded list larger than this is refused (a small GZIP input may inflate enormously).
pub const MAX_BITS: usize = 64 * MIN_BITS;

/// Where a new certificate's position is drawn, with `taken` positions already given: the first
/// multiple of [`MIN_BITS`] at least four times as large, so three draws in four find a free
/// position and the list stays its minimal size for tens of thousands of certificates.
pub fn draw_range(taken: u64) -> u64 {
    let blocks = taken.saturating_mul(4) / MIN_BITS as u64 + 1;
    blocks.saturating_mul(MIN_BITS as u64)
}

/// A position drawn uniformly in [`draw_range`]; the caller draws again if it is taken.
pub fn draw_index(rng: &mut impl rand::Rng, taken: u64) -> u64 {
    rng.gen_range(0..draw_range(taken))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitstring {
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    #[error("index {index} is outside the list of {len} entries")]
    OutOfRange { index: u64, len: usize },
    #[error(transparent)]
    Multibase(#[from] MultibaseError),
    #[error("the list is not valid GZIP data")]
    Gzip,
    #[error("the list must hold between {MIN_BITS} and {MAX_BITS} bits, a multiple of 8")]
    Size,
    #[error("compressing the list: {0}")]
    Compress(String),
}

impl Bitstring {
    /// All zeros, large enough for `index` (a multiple of [`MIN_BITS`]).
    pub fn for_index(max_index: u64) -> Self {
        let blocks = (max_index as usize / MIN_BITS) + 1;
        Self {
            bytes: vec![0; blocks * MIN_BITS / 8],
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn set(&mut self, index: u64, value: bool) -> Result<(), StatusListError> {
        let (byte, mask) = self.position(index)?;
        if value {
            self.bytes[byte] |= mask;
        } else {
            self.bytes[byte] &= !mask;
        }
        Ok(())
    }

    pub fn get(&self, index: u64) -> Result<bool, StatusListError> {
        let (byte, mask) = self.position(index)?;
        Ok(self.bytes[byte] & mask != 0)
    }

    fn position(&self, index: u64) -> Result<(usize, u8), StatusListError> {
        if index >= self.len() as u64 {
            return Err(StatusListError::OutOfRange {
                index,
                len: self.len(),
            });
        }
        Ok(((index / 8) as usize, 0x80 >> (index % 8)))
    }

    /// `encodedList`: multibase base64url of the GZIP of the bits. Deterministic (no time or
    /// name in the GZIP header), so the same statuses give the same text.
    pub fn encode(&self) -> Result<String, StatusListError> {
        let compress = |e: std::io::Error| StatusListError::Compress(e.to_string());
        let mut gz = GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), Compression::best());
        gz.write_all(&self.bytes).map_err(compress)?;
        Ok(multibase::base64url(&gz.finish().map_err(compress)?))
    }

    pub fn decode(encoded: &str) -> Result<Self, StatusListError> {
        let compressed = multibase::from_base64url(encoded)?;
        let mut bytes = Vec::new();
        GzDecoder::new(compressed.as_slice())
            .take((MAX_BITS / 8 + 1) as u64)
            .read_to_end(&mut bytes)
            .map_err(|_| StatusListError::Gzip)?;
        if !(MIN_BITS / 8..=MAX_BITS / 8).contains(&bytes.len()) {
            return Err(StatusListError::Size);
        }
        Ok(Self { bytes })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bit_zero_is_the_leftmost_bit() {
        let mut b = Bitstring::for_index(0);
        assert_eq!(b.len(), MIN_BITS);
        b.set(0, true).unwrap();
        b.set(9, true).unwrap();
        assert_eq!(&b.bytes[..2], &[0b1000_0000, 0b0100_0000]);
        b.set(0, false).unwrap();
        assert_eq!(b.bytes[0], 0);
        assert!(b.get(9).unwrap() && !b.get(8).unwrap());
        assert_eq!(
            b.set(MIN_BITS as u64, true),
            Err(StatusListError::OutOfRange {
                index: MIN_BITS as u64,
                len: MIN_BITS
            })
        );
        assert_eq!(Bitstring::for_index(MIN_BITS as u64).len(), 2 * MIN_BITS);
    }

    #[test]
    fn an_empty_list_is_small_and_decodes() {
        let b = Bitstring::for_index(10);
        let text = b.encode().unwrap();
        assert!(text.starts_with("uH4sI"), "GZIP magic in base64url: {text}");
        assert!(text.len() < 300, "{} characters", text.len());
        assert_eq!(Bitstring::decode(&text).unwrap(), b);
    }

    #[test]
    fn malformed_lists_are_refused() {
        assert!(matches!(
            Bitstring::decode("zH4sI"),
            Err(StatusListError::Multibase(_))
        ));
        assert_eq!(
            Bitstring::decode(&multibase::base64url(b"not gzip")),
            Err(StatusListError::Gzip)
        );
        let mut gz = GzBuilder::new().write(Vec::new(), Compression::fast());
        gz.write_all(&[0u8; 100]).unwrap();
        let short = multibase::base64url(&gz.finish().unwrap());
        assert_eq!(Bitstring::decode(&short), Err(StatusListError::Size));
        // A bomb: far more zeros than any list, compressed to a few KiB.
        let mut gz = GzBuilder::new().write(Vec::new(), Compression::best());
        gz.write_all(&vec![0u8; MAX_BITS / 8 + 4096]).unwrap();
        let bomb = multibase::base64url(&gz.finish().unwrap());
        assert_eq!(Bitstring::decode(&bomb), Err(StatusListError::Size));
    }

    #[test]
    fn positions_are_drawn_over_the_whole_list() {
        assert_eq!(draw_range(0), MIN_BITS as u64);
        assert_eq!(draw_range(MIN_BITS as u64 / 4 - 1), MIN_BITS as u64);
        assert_eq!(draw_range(MIN_BITS as u64 / 4), 2 * MIN_BITS as u64);
        let mut rng = rand::thread_rng();
        let drawn: Vec<u64> = (0..50).map(|_| draw_index(&mut rng, 0)).collect();
        assert!(drawn.iter().all(|i| *i < MIN_BITS as u64));
        // Spread over the list, not packed at its start.
        assert!(drawn.iter().any(|i| *i >= MIN_BITS as u64 / 2), "{drawn:?}");
    }

    proptest! {
        #[test]
        fn set_bits_survive_encoding_and_no_other(indices in prop::collection::btree_set(0u64..(2 * MIN_BITS as u64), 0..40)) {
            let max = indices.iter().max().copied().unwrap_or(0);
            let mut b = Bitstring::for_index(max);
            for i in &indices {
                b.set(*i, true).unwrap();
            }
            let back = Bitstring::decode(&b.encode().unwrap()).unwrap();
            prop_assert_eq!(back.len(), b.len());
            for i in &indices {
                prop_assert!(back.get(*i).unwrap());
            }
            let ones: u32 = back.bytes.iter().map(|x| x.count_ones()).sum();
            prop_assert_eq!(ones as usize, indices.len());
        }

        #[test]
        fn set_then_clear_restores(index in 0u64..MIN_BITS as u64, others in prop::collection::vec(0u64..MIN_BITS as u64, 0..10)) {
            let mut b = Bitstring::for_index(0);
            for o in &others {
                b.set(*o, true).unwrap();
            }
            let before = b.clone();
            let was = b.get(index).unwrap();
            b.set(index, true).unwrap();
            b.set(index, was).unwrap();
            prop_assert_eq!(b, before);
        }
    }
}
