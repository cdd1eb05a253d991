//! Nothing to link: `tests/generated.rs` regenerates `proto/src/generated/` from the contracts
//! and fails when the checked-in copy differs (`CPLDS_REGENERATE=1` rewrites it).
