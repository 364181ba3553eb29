//! Pure parsers of the cgroup text files: /proc/self/cgroup, mountinfo, and the v1/v2
//! accounting files. They take `&str` and never touch the file system.

use std::path::{Path, PathBuf};

/// One line of /proc/self/cgroup: `ID:CONTROLLERS:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Membership {
    /// 0 for the v2 (unified) hierarchy.
    pub(super) id: u32,
    /// Empty for v2; v1 controllers otherwise (`name=systemd` included as is).
    pub(super) controllers: Vec<String>,
    pub(super) path: String,
}

pub(super) fn proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let id = parts.next()?.trim().parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(Membership {
                id,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// A cgroup file system mount from /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mount {
    /// The cgroup path shown at the mount point (usually `/`).
    pub(super) root: String,
    pub(super) point: PathBuf,
    /// cgroup2 (true) or cgroup v1 (false).
    pub(super) unified: bool,
    /// v1 super options (controllers and flags such as `rw`); empty for v2.
    pub(super) options: Vec<String>,
}

pub(super) fn mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let _source = right.next()?;
            let options = right.next().unwrap_or("");
            let unified = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            Some(Mount {
                root: unescape(left.get(3)?),
                point: PathBuf::from(unescape(left.get(4)?)),
                unified,
                options: if unified {
                    Vec::new()
                } else {
                    options.split(',').map(str::to_owned).collect()
                },
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .map(|d| d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0')))
            .and_then(|v| u8::try_from(v).ok());
        if let (b'\\', Some(v)) = (bytes[i], octal) {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where `cgroup_path` (from /proc/self/cgroup) is seen through a mount whose root is
/// `mount_root`: None when the mount does not show that cgroup.
pub(super) fn resolve(mount_point: &Path, mount_root: &str, cgroup_path: &str) -> Option<PathBuf> {
    let root: Vec<&str> = mount_root.split('/').filter(|c| !c.is_empty()).collect();
    let path: Vec<&str> = cgroup_path.split('/').filter(|c| !c.is_empty()).collect();
    if path.len() < root.len() || path[..root.len()] != root[..] {
        return None;
    }
    let mut dir = mount_point.to_path_buf();
    for component in &path[root.len()..] {
        if *component == ".." || *component == "." {
            return None;
        }
        dir.push(component);
    }
    Some(dir)
}

/// The value of `key` in a flat-keyed file (`key value` per line), e.g. v2 cpu.stat.
pub(super) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A single number, e.g. memory.peak or memory.max_usage_in_bytes.
pub(super) fn single(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// v2 io.stat: `MAJ:MIN rbytes=N wbytes=N ...` per device; summed (read, write).
pub(super) fn io_stat(text: &str) -> (u64, u64) {
    let mut read = 0u64;
    let mut write = 0u64;
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            read = read.saturating_add(v.parse().unwrap_or(0));
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            write = write.saturating_add(v.parse().unwrap_or(0));
        }
    }
    (read, write)
}

/// v1 blkio `*io_service_bytes*`: `MAJ:MIN Read N` rows per device, then `Total N`;
/// summed (read, write) over devices.
pub(super) fn blkio(text: &str) -> (u64, u64) {
    let mut read = 0u64;
    let mut write = 0u64;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(_dev), Some(op), Some(v)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let v: u64 = v.parse().unwrap_or(0);
        match op {
            "Read" => read = read.saturating_add(v),
            "Write" => write = write.saturating_add(v),
            _ => {}
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_hybrid() {
        let text = "9:name=systemd:/\n4:memory:/process_api/5f3c\n2:cpu,cpuacct:/x\n0::/\n";
        let m = proc_cgroup(text);
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].controllers, vec!["memory"]);
        assert_eq!(m[1].path, "/process_api/5f3c");
        assert_eq!(m[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m[3].id, 0);
        assert!(m[3].controllers.is_empty());
        assert_eq!(m[3].path, "/");
    }

    #[test]
    fn proc_cgroup_keeps_colons_in_path() {
        let m = proc_cgroup("0::/a:b/c\ngarbage\n");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].path, "/a:b/c");
    }

    #[test]
    fn mountinfo_finds_cgroup_mounts() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
42 31 0:39 / /mnt/with\\040space rw - cgroup2 none rw
";
        let m = mountinfo(text);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(m[0].options.iter().any(|o| o == "cpuacct"));
        assert!(!m[0].unified);
        assert_eq!(m[1].root, "/docker/abc");
        assert!(m[2].unified);
        assert!(m[2].options.is_empty());
        assert_eq!(m[3].point, Path::new("/mnt/with space"));
    }

    #[test]
    fn resolve_strips_the_mount_root() {
        let p = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(
            resolve(p, "/", "/a/b"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/a/b"))
        );
        assert_eq!(
            resolve(p, "/", "/"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            resolve(p, "/a", "/a/b"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/b"))
        );
        assert_eq!(resolve(p, "/a", "/ab/c"), None);
        assert_eq!(resolve(p, "/a/b", "/a"), None);
        assert_eq!(resolve(p, "/", "/a/../b"), None);
    }

    #[test]
    fn keyed_and_single_values() {
        let cpu = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n";
        assert_eq!(keyed(cpu, "user_usec"), Some(1000));
        assert_eq!(keyed(cpu, "system_usec"), Some(500));
        assert_eq!(keyed(cpu, "usage"), None);
        assert_eq!(keyed("user 12\nsystem 3\n", "system"), Some(3));
        assert_eq!(single("209715200\n"), Some(209_715_200));
        assert_eq!(single("max\n"), None);
    }

    #[test]
    fn io_stat_sums_devices() {
        let text = "8:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n\
                    8:16 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n";
        assert_eq!(io_stat(text), (4106, 120));
        assert_eq!(io_stat(""), (0, 0));
    }

    #[test]
    fn blkio_sums_devices_and_skips_total() {
        let text = "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Async 4608\n8:0 Total 4608\n\
                    8:16 Read 4\n8:16 Write 8\nTotal 4620\n";
        assert_eq!(blkio(text), (4100, 520));
    }
}
