//! Resident memory of this process, for the benches' figures (Linux `/proc`; elsewhere the
//! figures are left out).

/// Restarts the peak measurement, so the next [`peak_mib`] covers only what follows.
pub fn reset_peak() {
    // "5" resets VmHWM to the current RSS (Linux ≥ 4.0); harmless where unsupported.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Highest resident set since the start or the last [`reset_peak`], in MiB.
pub fn peak_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|k| k as f64 / 1024.0)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `"123.4"`, or `"n/a"` where it cannot be read.
pub fn format(mib: Option<f64>) -> String {
    mib.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peak_is_read_and_covers_a_later_allocation() {
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        super::reset_peak();
        let before = super::peak_mib().unwrap();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let after = super::peak_mib().unwrap();
        assert!(after >= before + 60.0, "{before} → {after}");
    }
}
