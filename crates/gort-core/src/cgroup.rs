//! The default number of Ps: the CPUs this process may run on, lowered to
//! its cgroup's CPU limit (Go 1.25's container-aware `GOMAXPROCS`).
//!
//! Go 1.25 (`runtime/cgroup_linux.go`, `defaultGOMAXPROCS`) takes the
//! minimum of
//!
//! 1. the CPUs in the affinity mask (`sched_getaffinity`), and
//! 2. the cgroup's CPU bandwidth limit, quota / period, rounded up, and
//!    at least 2 (a limit of 0.5 CPU still gets 2 Ps: a program with one
//!    P can be stalled by a single blocked thread),
//!
//! reading the limit of the leaf cgroup that holds the process only (as
//! Go does: container runtimes hide the parents). The cgroup is found in
//! `/proc/self/cgroup` (v1: the hierarchy whose controllers include
//! `cpu`; v2: the `0::` line), its mount in `/proc/self/mountinfo`, and
//! the limit in `cpu.max` (v2: `"max 100000"` or `"150000 100000"`) or
//! `cpu.cfs_quota_us` / `cpu.cfs_period_us` (v1: a quota of -1 is none).
//!
//! Rust's `std::thread::available_parallelism` applies the cgroup quota
//! itself, rounded down with a minimum of 1, so it cannot give item 1:
//! on Linux the affinity count comes from `sched_getaffinity`.
//!
//! Everything here reads under a root directory ([`cpu_limit_under`]),
//! so the tests lay out `proc/` and `sys/` as fixture files.

use std::path::{Path, PathBuf};

/// The cgroup version a limit was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// The default procs: `min(affinity, max(2, ceil(limit)))`, or the
/// affinity count with no limit (module doc).
pub(crate) fn default_procs() -> usize {
    procs_for(affinity_count(), cpu_limit_under(Path::new("/")))
}

/// Go's `adjustCgroupGOMAXPROCS`: `cpus` lowered to the limit, rounded up
/// and at least 2.
pub(crate) fn procs_for(cpus: usize, limit: Option<f64>) -> usize {
    let cpus = cpus.max(1);
    match limit {
        Some(l) if l.is_finite() && l > 0.0 => {
            let l = (l.ceil() as usize).max(2);
            cpus.min(l)
        }
        _ => cpus,
    }
}

/// CPUs in this process's affinity mask.
#[cfg(target_os = "linux")]
pub(crate) fn affinity_count() -> usize {
    // SAFETY: `cpu_set_t` is plain data, valid zeroed; `sched_getaffinity`
    // writes at most `size_of::<cpu_set_t>()` bytes into it, and
    // `CPU_COUNT` only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let n = libc::CPU_COUNT(&set);
            if n > 0 {
                return n as usize;
            }
        }
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPUs this process may use (no cgroups off Linux).
#[cfg(not(target_os = "linux"))]
pub(crate) fn affinity_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPU limit (in CPUs, e.g. 1.5) of the cgroup holding this process,
/// reading `proc/self/cgroup`, `proc/self/mountinfo` and the limit files
/// under `root` (`/` for the real ones). `None`: no cgroup, no limit, or
/// files that do not parse.
pub(crate) fn cpu_limit_under(root: &Path) -> Option<f64> {
    // A `cfg(miri)` stand-in (docs/architecture.md, "Under Miri"): Miri's
    // isolation refuses to open files, so under Miri no cgroup is found
    // (no limit); the parsers below still run there, on in-memory text.
    if cfg!(miri) {
        return None;
    }
    let cgroup = std::fs::read_to_string(root.join("proc/self/cgroup")).ok()?;
    let (version, path) = cgroup_path(&cgroup)?;
    let mountinfo = std::fs::read_to_string(root.join("proc/self/mountinfo")).ok()?;
    let (mount_root, mount_point) = mount_of(&mountinfo, version)?;
    let rel = path.strip_prefix(mount_root.as_str()).unwrap_or(&path);
    let dir = under(root, &mount_point).join(rel.trim_start_matches('/'));
    match version {
        Version::V2 => parse_cpu_max(&std::fs::read_to_string(dir.join("cpu.max")).ok()?),
        Version::V1 => parse_cfs(
            &std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).ok()?,
            &std::fs::read_to_string(dir.join("cpu.cfs_period_us")).ok()?,
        ),
    }
}

/// `path` (absolute) under `root`.
fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// The cgroup of the CPU controller from `/proc/self/cgroup`: a v1 line
/// (`4:cpu,cpuacct:/docker/abc`) whose controllers include `cpu`, else
/// the v2 line (`0::/user.slice`). In hybrid mode the v1 one holds the
/// controller, as Go decides.
pub(crate) fn cgroup_path(text: &str) -> Option<(Version, String)> {
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            v2 = Some((Version::V2, path.to_string()));
        } else if controllers.split(',').any(|c| c == "cpu") {
            return Some((Version::V1, path.to_string()));
        }
    }
    v2
}

/// The root and mount point of the cgroup hierarchy of `version` from
/// `/proc/self/mountinfo` (`36 35 0:29 / /sys/fs/cgroup/cpu rw - cgroup
/// cgroup rw,cpu`: fields 4 and 5, then after `-` the type and the super
/// options, which name the v1 controllers).
pub(crate) fn mount_of(text: &str, version: Version) -> Option<(String, String)> {
    for line in text.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = before.split(' ').collect();
        let after: Vec<&str> = after.split(' ').collect();
        if fields.len() < 5 || after.is_empty() {
            continue;
        }
        let found = match (version, after[0]) {
            (Version::V2, "cgroup2") => true,
            (Version::V1, "cgroup") => after
                .get(2)
                .is_some_and(|opts| opts.split(',').any(|o| o == "cpu")),
            _ => false,
        };
        if found {
            return Some((unescape(fields[3]), unescape(fields[4])));
        }
    }
    None
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// cgroup v2's `cpu.max`: `"$MAX $PERIOD"`, `max` meaning no limit.
pub(crate) fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period: f64 = it.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then_some(quota / period)
}

/// cgroup v1's `cpu.cfs_quota_us` (-1: no limit) and `cpu.cfs_period_us`.
pub(crate) fn parse_cfs(quota: &str, period: &str) -> Option<f64> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: i64 = period.trim().parse().ok()?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cgroup")
            .join(name)
    }

    #[test]
    fn go_rounds_the_limit_up_with_a_floor_of_two() {
        assert_eq!(procs_for(8, None), 8);
        assert_eq!(procs_for(8, Some(1.5)), 2);
        assert_eq!(procs_for(8, Some(0.25)), 2);
        assert_eq!(procs_for(8, Some(2.01)), 3);
        assert_eq!(procs_for(8, Some(16.0)), 8);
        // The floor of two never raises procs past the CPUs.
        assert_eq!(procs_for(1, Some(0.5)), 1);
        assert_eq!(procs_for(0, None), 1);
    }

    #[test]
    fn limit_files() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max("50000\n"), Some(0.5));
        assert_eq!(parse_cpu_max("garbage"), None);
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("250000\n", "100000\n"), Some(2.5));
        assert_eq!(parse_cfs("x", "100000"), None);
    }

    #[test]
    fn the_cpu_controller_is_found_in_v1_hybrid_and_v2() {
        let v1 = "12:pids:/a\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        assert_eq!(cgroup_path(v1), Some((Version::V1, "/docker/abc".into())));
        assert_eq!(
            cgroup_path("0::/user.slice/app.service\n"),
            Some((Version::V2, "/user.slice/app.service".into()))
        );
        // `cpuset` is not `cpu`.
        assert_eq!(cgroup_path("3:cpuset:/x\n"), None);
        let mi = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                  32 31 0:29 / /sys/fs/cgroup/cpu\\040x rw - cgroup cgroup rw,cpu,cpuacct\n\
                  41 31 0:38 /kube /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            mount_of(mi, Version::V1),
            Some(("/".into(), "/sys/fs/cgroup/cpu x".into()))
        );
        assert_eq!(
            mount_of(mi, Version::V2),
            Some(("/kube".into(), "/sys/fs/cgroup/unified".into()))
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads files, which Miri's isolation refuses")]
    fn fixtures_v2_with_a_limit_and_without() {
        assert_eq!(cpu_limit_under(&fixture("v2")), Some(1.5));
        assert_eq!(procs_for(8, cpu_limit_under(&fixture("v2"))), 2);
        assert_eq!(cpu_limit_under(&fixture("v2-max")), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads files, which Miri's isolation refuses")]
    fn fixtures_v1_with_a_limit_and_without() {
        assert_eq!(cpu_limit_under(&fixture("v1")), Some(3.5));
        assert_eq!(procs_for(8, cpu_limit_under(&fixture("v1"))), 4);
        assert_eq!(cpu_limit_under(&fixture("v1-unlimited")), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads files, which Miri's isolation refuses")]
    fn a_missing_cgroup_is_no_limit() {
        assert_eq!(cpu_limit_under(&fixture("none")), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads files, which Miri's isolation refuses")]
    fn this_machine_reads_without_failing() {
        // Whatever the host has; the call must not panic, and the default
        // is at least 1 and at most the affinity count.
        let n = default_procs();
        assert!(n >= 1 && n <= affinity_count().max(1));
    }
}
