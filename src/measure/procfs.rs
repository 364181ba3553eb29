//! Pure parsers of /proc text (stat, meminfo, diskstats, loadavg, status), allocation-free
//! so the sampler can run them on every tick, and the one reader of kernel text files kept
//! open. Malformed text gives `None`, never a panic.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Aggregate CPU time of all CPUs, from the `cpu` line of /proc/stat, in USER_HZ ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    /// user + nice + system + idle + iowait + irq + softirq + steal. `guest` and
    /// `guest_nice` are left out: the kernel already counts them in user and nice.
    pub total: u64,
    /// idle + iowait: time no task wanted the CPU.
    pub idle: u64,
}

impl CpuTimes {
    /// Time some task used (or, for steal, wanted) the CPU.
    pub fn busy(&self) -> u64 {
        self.total.saturating_sub(self.idle)
    }
}

/// The aggregate `cpu` line of /proc/stat. Needs at least user, nice, system and idle (the
/// oldest kernels print only those); every field present must be a number.
pub(crate) fn parse_stat_cpu(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let mut times = CpuTimes::default();
    let mut fields = 0;
    // Fields after the label: user nice system idle iowait irq softirq steal guest guest_nice.
    for (i, field) in line.split_ascii_whitespace().skip(1).enumerate() {
        let value: u64 = field.parse().ok()?;
        fields += 1;
        if i < 8 {
            times.total = times.total.checked_add(value)?;
        }
        if i == 3 || i == 4 {
            times.idle = times.idle.checked_add(value)?;
        }
    }
    (fields >= 4).then_some(times)
}

/// Memory figures from /proc/meminfo, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MemInfo {
    pub total: u64,
    pub free: Option<u64>,
    /// The kernel's estimate of memory available without swapping (Linux ≥ 3.14).
    pub available: Option<u64>,
    pub buffers: Option<u64>,
    pub cached: Option<u64>,
    pub swap_total: Option<u64>,
    pub swap_free: Option<u64>,
}

impl MemInfo {
    /// Memory in use: MemTotal − MemAvailable, or on kernels without MemAvailable the old
    /// approximation MemTotal − (MemFree + Buffers + Cached).
    pub fn used(&self) -> Option<u64> {
        let available = match self.available {
            Some(a) => a,
            None => self
                .free?
                .checked_add(self.buffers?)?
                .checked_add(self.cached?)?,
        };
        Some(self.total.saturating_sub(available))
    }

    /// Swap in use: SwapTotal − SwapFree.
    pub fn swap_used(&self) -> Option<u64> {
        Some(self.swap_total?.saturating_sub(self.swap_free?))
    }
}

/// /proc/meminfo. `None` when MemTotal is missing or a field we read is not `N kB`.
pub(crate) fn parse_meminfo(text: &str) -> Option<MemInfo> {
    let mut total = None;
    let mut info = MemInfo::default();
    let mut found = 0;
    for line in text.lines() {
        // The seven fields sit in the first twenty lines; the other forty are not needed.
        if found == 7 {
            break;
        }
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "MemTotal" => &mut total,
            "MemFree" => &mut info.free,
            "MemAvailable" => &mut info.available,
            "Buffers" => &mut info.buffers,
            "Cached" => &mut info.cached,
            "SwapTotal" => &mut info.swap_total,
            "SwapFree" => &mut info.swap_free,
            _ => continue,
        };
        *slot = Some(parse_kib(rest)?);
        found += 1;
    }
    info.total = total?;
    Some(info)
}

/// Below this, a first read of a kernel text file got all of it (see [`read_text`]).
const SHORT_FILE: usize = 2048;

/// The whole of a kernel text file (procfs, cgroupfs) kept open, read with `pread` from
/// offset 0 — which makes the kernel generate it afresh — into `buf`, grown as needed up
/// to `max` bytes (`None` past that, or when it cannot be read or is not UTF-8).
///
/// A seq_file read stops short only at end of file or where its page-sized buffer
/// filled up, so a first read this far from a page is the whole file and the read that
/// would say end-of-file is saved; files with a record per device (diskstats) come in
/// pieces of about a page and are read on to the end.
pub(crate) fn read_text<'b>(file: &File, buf: &'b mut Vec<u8>, max: usize) -> Option<&'b str> {
    if buf.len() < 4096 {
        buf.resize(4096, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            if buf.len() >= max {
                return None;
            }
            let grown = (buf.len() * 2).min(max);
            buf.resize(grown, 0);
        }
        let n = match file.read_at(&mut buf[len..], len as u64) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        len += n;
        if n == 0 || len < SHORT_FILE {
            return std::str::from_utf8(&buf[..len]).ok();
        }
    }
}

/// The peak resident set (`VmHWM`) from /proc/PID/status, bytes.
pub(crate) fn parse_status_hwm(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(parse_kib)
}

/// `   24684084 kB` → bytes.
fn parse_kib(rest: &str) -> Option<u64> {
    let mut parts = rest.split_ascii_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match (parts.next(), parts.next()) {
        (Some("kB"), None) => value.checked_mul(1024),
        _ => None,
    }
}

/// Sectors moved by whole physical disks, summed from /proc/diskstats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DiskTotals {
    /// 512-byte sectors, whatever the device's real sector size (the kernel's unit).
    pub sectors_read: u64,
    pub sectors_written: u64,
    /// How many devices were counted; 0 means no physical disk is visible.
    pub disks: u32,
}

impl DiskTotals {
    pub fn read_bytes(&self) -> u64 {
        self.sectors_read.saturating_mul(512)
    }
    pub fn written_bytes(&self) -> u64 {
        self.sectors_written.saturating_mul(512)
    }
}

/// Devices that sit on top of other block devices (or on RAM, or on the network): their
/// I/O either reaches a physical disk that is counted already or no disk at all.
const STACKED_OR_VIRTUAL: &[&str] = &[
    "loop", "ram", "zram", "dm-", "md", "drbd", "bcache", "zd", "nbd", "rbd",
];

/// Sum sectors read and written over whole physical disks, so that each byte that reaches a
/// disk is counted once.
///
/// The rule, when `whole_disks` is `Some`: count exactly the devices it names. The caller
/// builds that set from /sys/block, keeping entries whose link does not point into
/// `/devices/virtual/` (see [`is_physical_block_link`]); /sys/block never lists partitions.
///
/// Without it, decide from the text alone: skip stacked or virtual devices by name (loop,
/// ram, zram, dm-, md, drbd, bcache, zd, nbd, rbd), and skip partitions, recognised by the
/// kernel's own naming rule — a partition is its disk's name followed by its number, with a
/// `p` in between when the disk's name ends in a digit (`sda` → `sda1`, `nvme0n1` →
/// `nvme0n1p1`, `mmcblk0` → `mmcblk0p2`) — whenever that disk is listed too.
///
/// `None` when a line has fewer than the ten fields every kernel since 2.6 prints, or a
/// counter is not a number.
pub(crate) fn parse_diskstats<S: AsRef<str>>(
    text: &str,
    whole_disks: Option<&[S]>,
) -> Option<DiskTotals> {
    let mut totals = DiskTotals::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split_ascii_whitespace();
        // major minor name reads merged sectors_read ms writes merged sectors_written ...
        let name = fields.nth(2)?;
        let sectors_read: u64 = fields.nth(2)?.parse().ok()?;
        let sectors_written: u64 = fields.nth(3)?.parse().ok()?;
        let counted = match whole_disks {
            Some(set) => set.iter().any(|d| d.as_ref() == name),
            None => {
                !STACKED_OR_VIRTUAL.iter().any(|p| name.starts_with(p))
                    && !is_listed_partition(name, text)
            }
        };
        if counted {
            totals.sectors_read = totals.sectors_read.checked_add(sectors_read)?;
            totals.sectors_written = totals.sectors_written.checked_add(sectors_written)?;
            totals.disks += 1;
        }
    }
    Some(totals)
}

/// Whether `name` is a partition of another device listed in `text` (a /proc/diskstats).
fn is_listed_partition(name: &str, text: &str) -> bool {
    // Partition names always end in their number; most whole disks don't, so this skips
    // the scan for them.
    if !name.ends_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    text.lines()
        .filter_map(|l| l.split_ascii_whitespace().nth(2))
        .any(|disk| is_partition_of(name, disk))
}

/// The kernel's partition naming rule (`disk_name()` in block/partitions/core.c).
fn is_partition_of(name: &str, disk: &str) -> bool {
    let Some(rest) = name.strip_prefix(disk) else {
        return false;
    };
    let number = if disk.ends_with(|c: char| c.is_ascii_digit()) {
        match rest.strip_prefix('p') {
            Some(n) => n,
            None => return false,
        }
    } else {
        rest
    };
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a /sys/block entry is a physical disk, from where its symlink points: virtual
/// devices (loop, ram, zram, dm, md, nbd, ...) live under `/devices/virtual/`.
pub(crate) fn is_physical_block_link(target: &str) -> bool {
    !target.contains("/devices/virtual/")
}

/// /proc/loadavg.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
    /// Runnable tasks right now.
    pub running: u32,
    /// Tasks (threads) in the system.
    pub tasks: u32,
}

/// `0.23 0.22 0.09 1/85 4805`.
pub(crate) fn parse_loadavg(text: &str) -> Option<LoadAvg> {
    let mut fields = text.split_ascii_whitespace();
    let mut load = || -> Option<f64> {
        let v: f64 = fields.next()?.parse().ok()?;
        (v.is_finite() && v >= 0.0).then_some(v)
    };
    let (one, five, fifteen) = (load()?, load()?, load()?);
    let (running, tasks) = fields.next()?.split_once('/')?;
    Some(LoadAvg {
        one,
        five,
        fifteen,
        running: running.parse().ok()?,
        tasks: tasks.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_small_and_multi_page_files_whole_and_again() {
        let mut buf = Vec::new();
        for path in ["/proc/self/status", "/proc/crypto"] {
            let file = File::open(path).unwrap();
            let text = read_text(&file, &mut buf, 1 << 20).unwrap().to_owned();
            let expected = std::fs::read_to_string(path).unwrap();
            // /proc/self/status changes between reads only in its counters.
            assert_eq!(text.lines().count(), expected.lines().count(), "{path}");
            let again = read_text(&file, &mut buf, 1 << 20).unwrap();
            assert_eq!(
                again.lines().count(),
                expected.lines().count(),
                "{path} again"
            );
        }
        let crypto = File::open("/proc/crypto").unwrap();
        assert!(
            read_text(&crypto, &mut Vec::new(), 4096).is_none(),
            "over the limit"
        );
    }

    #[test]
    fn status_high_water_mark() {
        let status =
            "Name:\tbenchmark\nVmPeak:\t  123456 kB\nVmHWM:\t   16800 kB\nVmRSS:\t   16000 kB\n";
        assert_eq!(parse_status_hwm(status), Some(16800 * 1024));
        // A kernel thread has no Vm lines.
        assert_eq!(parse_status_hwm("Name:\tkthreadd\nState:\tS\n"), None);
        assert_eq!(parse_status_hwm("VmHWM:\t12 MB\n"), None);
    }

    const STAT: &str = "\
cpu  6168 0 2267 62165 183 0 25 20 7 3
cpu0 2875 0 1021 31488 19 0 7 8 0 0
cpu1 3293 0 1245 30676 163 0 17 12 0 0
intr 104660 0 0 0 0 0 0
ctxt 197723
btime 1795413491
processes 4803
procs_running 1
procs_blocked 0
softirq 58344 0 9468 4 3773 6841 0 163 17751 0 20344
";

    #[test]
    fn stat_aggregate_line() {
        let t = parse_stat_cpu(STAT).unwrap();
        assert_eq!(t.total, 6168 + 2267 + 62165 + 183 + 25 + 20);
        assert_eq!(t.idle, 62165 + 183);
        assert_eq!(t.busy(), 6168 + 2267 + 25 + 20);
    }

    #[test]
    fn stat_old_kernel_four_fields() {
        let t = parse_stat_cpu("cpu 10 20 30 40\n").unwrap();
        assert_eq!((t.total, t.idle), (100, 40));
    }

    #[test]
    fn stat_bad_input() {
        assert_eq!(parse_stat_cpu(""), None);
        assert_eq!(parse_stat_cpu("cpu0 1 2 3 4\n"), None, "per-CPU line only");
        assert_eq!(parse_stat_cpu("cpu 1 2 3\n"), None, "too few fields");
        assert_eq!(parse_stat_cpu("cpu 1 2 x 4\n"), None);
        assert_eq!(parse_stat_cpu("cpu 1 2 -3 4\n"), None);
        let huge = format!("cpu {} {} 0 0\n", u64::MAX, u64::MAX);
        assert_eq!(parse_stat_cpu(&huge), None, "overflow");
        assert_eq!(parse_stat_cpu("\u{0}\u{ff}garbage"), None);
    }

    const MEMINFO: &str = "\
MemTotal:       24684084 kB
MemFree:        24289152 kB
MemAvailable:   24370432 kB
Buffers:            4424 kB
Cached:           272288 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        1048576 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
";

    #[test]
    fn meminfo_fields() {
        let m = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(m.total, 24684084 * 1024);
        assert_eq!(m.available, Some(24370432 * 1024));
        assert_eq!(m.used(), Some((24684084 - 24370432) * 1024));
        assert_eq!(m.swap_used(), Some((2097148 - 1048576) * 1024));
    }

    #[test]
    fn meminfo_without_memavailable_uses_old_estimate() {
        let text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(m.available, None);
        assert_eq!(m.used(), Some(600 * 1024));
        assert_eq!(m.swap_used(), None);
    }

    #[test]
    fn meminfo_bad_input() {
        assert_eq!(parse_meminfo(""), None);
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None, "no MemTotal");
        assert_eq!(parse_meminfo("MemTotal: lots kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 12 MB\n"), None, "unknown unit");
        assert_eq!(parse_meminfo("MemTotal: 12\n"), None, "missing unit");
        let m = parse_meminfo("MemTotal: 8 kB\n").unwrap();
        assert_eq!(m.used(), None, "nothing to subtract");
    }

    // A laptop with NVMe partitions, a SATA disk with partitions, LVM, RAID, loop and zram
    // devices, and a disk whose name ends in a digit but has no partitions listed.
    const DISKSTATS: &str = "\
   7       0 loop0 50 0 100 1 0 0 0 0 0 1 1 0 0 0 0 0 0
 259       0 nvme0n1 1000 10 20000 500 2000 20 40000 900 0 1200 1400 0 0 0 0 10 5
 259       1 nvme0n1p1 10 0 200 5 2 0 4 1 0 6 6 0 0 0 0 0 0
 259       2 nvme0n1p2 990 10 19800 495 1998 20 39996 899 0 1190 1394 0 0 0 0 0 0
 259       3 nvme0n10 7 0 70 1 1 0 10 1 0 2 2 0 0 0 0 0 0
   8       0 sda 300 0 6000 100 400 0 8000 200 0 300 300
   8       1 sda1 300 0 6000 100 400 0 8000 200 0 300 300
 253       0 dm-0 900 0 19000 500 1900 0 39000 900 0 1100 1400 0 0 0 0 0 0
   9       0 md0 5 0 50 0 5 0 50 0 0 0 0
 252       0 zram0 4 0 32 0 8 0 64 0 0 0 0 0 0 0 0 0 0
";

    #[test]
    fn diskstats_text_rule() {
        let t = parse_diskstats::<&str>(DISKSTATS, None).unwrap();
        // nvme0n1 + nvme0n10 + sda.
        assert_eq!(t.disks, 3);
        assert_eq!(t.sectors_read, 20000 + 70 + 6000);
        assert_eq!(t.sectors_written, 40000 + 10 + 8000);
        assert_eq!(t.read_bytes(), (20000 + 70 + 6000) * 512);
    }

    #[test]
    fn diskstats_with_whole_disk_set() {
        let t = parse_diskstats(DISKSTATS, Some(&["sda"][..])).unwrap();
        assert_eq!(
            (t.disks, t.sectors_read, t.sectors_written),
            (1, 6000, 8000)
        );
        let none = parse_diskstats::<String>(DISKSTATS, Some(&[])).unwrap();
        assert_eq!(none, DiskTotals::default());
    }

    #[test]
    fn diskstats_only_virtual_devices() {
        let text = "7 0 loop0 1 0 2 0 0 0 0 0 0 0 0\n252 0 zram0 4 0 32 0 8 0 64 0 0 0 0\n";
        let t = parse_diskstats::<&str>(text, None).unwrap();
        assert_eq!(t.disks, 0);
        assert_eq!(
            parse_diskstats::<&str>("", None),
            Some(DiskTotals::default())
        );
    }

    #[test]
    fn diskstats_bad_input() {
        assert_eq!(parse_diskstats::<&str>("hello world\n", None), None);
        assert_eq!(
            parse_diskstats::<&str>("8 0 sda 1 0 2 0 3 0\n", None),
            None,
            "nine fields"
        );
        assert_eq!(
            parse_diskstats::<&str>("8 0 sda 1 0 x 0 3 0 4 0 0 0\n", None),
            None
        );
    }

    #[test]
    fn partition_naming_rule() {
        assert!(is_partition_of("sda1", "sda"));
        assert!(is_partition_of("sda15", "sda"));
        assert!(is_partition_of("nvme0n1p3", "nvme0n1"));
        assert!(is_partition_of("mmcblk0p1", "mmcblk0"));
        assert!(!is_partition_of("nvme0n10", "nvme0n1"), "another namespace");
        assert!(!is_partition_of("sdab", "sda"), "another disk");
        assert!(!is_partition_of("sda", "sda"));
        assert!(!is_partition_of("nvme0n1p", "nvme0n1"));
    }

    #[test]
    fn sys_block_links() {
        assert!(is_physical_block_link(
            "../devices/pci0000:00/0000:00:02.0/virtio1/block/vda"
        ));
        assert!(!is_physical_block_link("../devices/virtual/block/loop0"));
        assert!(!is_physical_block_link("../devices/virtual/block/dm-0"));
    }

    #[test]
    fn loadavg() {
        let l = parse_loadavg("0.23 0.22 0.09 1/85 4805\n").unwrap();
        assert_eq!((l.one, l.five, l.fifteen), (0.23, 0.22, 0.09));
        assert_eq!((l.running, l.tasks), (1, 85));
    }

    #[test]
    fn loadavg_bad_input() {
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(parse_loadavg("0.1 0.2\n"), None);
        assert_eq!(parse_loadavg("0.1 0.2 0.3\n"), None, "no task counts");
        assert_eq!(parse_loadavg("nan 0.2 0.3 1/2 3\n"), None);
        assert_eq!(parse_loadavg("-1 0.2 0.3 1/2 3\n"), None);
        assert_eq!(parse_loadavg("0.1 0.2 0.3 1-2 3\n"), None);
    }
}
