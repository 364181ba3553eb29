//! The sysinfo back end (macOS and any other non-Linux system): CPU use, memory and disk
//! I/O through the `sysinfo` crate, turned into the cumulative counters windows need.

use std::time::Instant;

use ::sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, System};

use super::{CpuCounters, Detail, DiskBytes, Reading};

#[derive(Debug)]
pub(super) struct Probe {
    system: System,
    disks: Disks,
    last_at: Instant,
    /// sysinfo gives CPU use as a percentage since its previous refresh; integrating it
    /// over time (in microseconds) gives counters that behave like /proc/stat's.
    cpu: CpuCounters,
    /// One volume per physical disk (indices into `disks`), chosen at start.
    representatives: Vec<usize>,
}

impl Probe {
    pub(super) const NAME: &'static str = "sysinfo";

    pub(super) fn open() -> Option<Self> {
        if !::sysinfo::IS_SUPPORTED_SYSTEM {
            return None;
        }
        let mut system = System::new();
        // The first refresh only sets the baseline the next one's percentage is taken from.
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        let disks =
            Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_io_usage());
        let representatives = representatives(&disks);
        Some(Probe {
            system,
            disks,
            last_at: Instant::now(),
            cpu: CpuCounters::default(),
            representatives,
        })
    }

    pub(super) fn read(&mut self, detail: Detail) -> Reading {
        let at = Instant::now();
        // sysinfo's usage covers the time since its last CPU refresh, so skipping a tick's
        // CPU reading just makes the next one cover a longer span.
        let cpu = if detail.cpu() {
            self.system
                .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
            let usage = f64::from(self.system.global_cpu_usage());
            let elapsed = u64::try_from(at.saturating_duration_since(self.last_at).as_micros())
                .unwrap_or(u64::MAX);
            self.last_at = at;
            usage.is_finite().then(|| {
                let busy = (elapsed as f64 * usage.clamp(0.0, 100.0) / 100.0).round() as u64;
                self.cpu.busy = self.cpu.busy.saturating_add(busy);
                self.cpu.total = self.cpu.total.saturating_add(elapsed);
                self.cpu
            })
        } else {
            None
        };

        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let total = self.system.total_memory();
        let mem_used = (total > 0).then(|| total.saturating_sub(self.system.available_memory()));

        let disk = (detail == Detail::Edge)
            .then(|| self.disk_bytes())
            .flatten();
        Reading {
            at,
            cpu,
            mem_used,
            disk,
        }
    }

    /// Bytes moved by the physical disks behind the mounted volumes.
    fn disk_bytes(&mut self) -> Option<DiskBytes> {
        if self.representatives.is_empty() {
            return None;
        }
        let mut total = DiskBytes::default();
        for &i in &self.representatives {
            let Some(disk) = self.disks.list_mut().get_mut(i) else {
                continue;
            };
            disk.refresh_specifics(DiskRefreshKind::nothing().with_io_usage());
            let usage = disk.usage();
            total.read = total.read.saturating_add(usage.total_read_bytes);
            total.written = total.written.saturating_add(usage.total_written_bytes);
        }
        Some(total)
    }
}

/// On macOS the I/O counters belong to the physical disk, so every APFS volume of one disk
/// repeats them. Keep the first volume of each distinct (read, written) pair, chosen once
/// so that both edges of a window sum the same disks.
fn representatives(disks: &Disks) -> Vec<usize> {
    let mut seen = Vec::new();
    let mut picked = Vec::new();
    for (i, disk) in disks.list().iter().enumerate() {
        let usage = disk.usage();
        let pair = (usage.total_read_bytes, usage.total_written_bytes);
        if pair != (0, 0) && !seen.contains(&pair) {
            seen.push(pair);
            picked.push(i);
        }
    }
    picked
}
