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
    let (_, [utime, stime, _, _]) = times(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    Some(ticks(utime + stime))
}

/// CPU time used so far by this machine's processes named `name` (e.g. the local PostgreSQL
/// server's backends), user and system: the database's share of a run, where it runs here.
/// Children reaped by one of them count too (a closed connection's backend is reaped by the
/// postmaster, into its `cutime`), so the sum does not drop when a pool closes.
pub fn processes_cpu(name: &str) -> Option<std::time::Duration> {
    let mut sum = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((_, all)) = times(&stat).filter(|(comm, _)| *comm == name) {
            *sum.get_or_insert(0) += all.iter().sum::<u64>();
        }
    }
    sum.map(ticks)
}

/// A `/proc/<pid>/stat` line's command and its utime, stime, cutime and cstime (the 14th to the
/// 17th fields; the command, which may hold spaces, is the 2nd, in parentheses).
fn times(stat: &str) -> Option<(&str, [u64; 4])> {
    let (head, rest) = stat.rsplit_once(')')?;
    let (_, comm) = head.split_once('(')?;
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = || fields.next()?.parse::<u64>().ok();
    Some((comm, [next()?, next()?, next()?, next()?]))
}

/// Clock ticks of USER_HZ, which Linux fixes at 100 for user space.
fn ticks(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n * 10)
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
