//! Resident memory and CPU time of this process, for the benches' figures (Linux `/proc`;
//! elsewhere the figures are left out).

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

/// CPU time this process has used so far, all threads, user and system.
pub fn cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command (which may hold spaces), from the third: utime is the 14th.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // In clock ticks of USER_HZ, which Linux fixes at 100 for user space.
    Some(std::time::Duration::from_millis((utime + stime) * 10))
}

/// CPU time used so far by this machine's processes named `name` (e.g. the local PostgreSQL
/// server's backends), user and system: the database's share of a run, where it runs here.
/// Children reaped by one of them count too (a closed connection's backend is reaped by the
/// postmaster, into its `cutime`), so the sum does not drop when a pool closes.
pub fn processes_cpu(name: &str) -> Option<std::time::Duration> {
    let mut ticks = 0_u64;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if head.split_once('(').map(|(_, comm)| comm) != Some(name) {
            continue;
        }
        // utime, stime, cutime, cstime: the 14th to the 17th fields.
        let times: Vec<u64> = rest
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|f| f.parse().ok())
            .collect();
        if times.len() != 4 {
            continue;
        }
        ticks += times.iter().sum::<u64>();
        found = true;
    }
    found.then(|| std::time::Duration::from_millis(ticks * 10))
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

    #[test]
    fn cpu_time_grows_with_work() {
        let Some(before) = super::cpu_time() else {
            return;
        };
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = super::cpu_time().unwrap() - before;
        assert!(used >= std::time::Duration::from_millis(200), "{used:?}");
    }

    /// The processes of a name are found and their time counted: this test's own process,
    /// whose work shows in the sum; a name nobody has gives `None`.
    #[test]
    fn processes_cpu_counts_the_named_processes() {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return;
        };
        let own = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map(|(comm, _)| comm.to_owned())
            .unwrap();
        let before = super::processes_cpu(&own).unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = super::processes_cpu(&own).unwrap() - before;
        assert!(used >= std::time::Duration::from_millis(200), "{used:?}");
        assert_eq!(super::processes_cpu("no such process name"), None);
    }
}
