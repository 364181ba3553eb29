//! The procfs back end: /proc/stat, /proc/meminfo and /proc/diskstats, opened once and
//! re-read with `pread` at offset 0 into one reused buffer, so a tick allocates nothing.

use std::fs::File;
use std::time::Instant;

use super::{CpuCounters, Detail, DiskBytes, Reading};
use crate::measure::procfs;

/// Large enough for /proc/stat on a few hundred CPUs; grown when a file does not fit.
const INITIAL_BUFFER: usize = 64 * 1024;
/// A /proc file larger than this is not one we understand.
const MAX_BUFFER: usize = 16 * 1024 * 1024;

#[derive(Debug)]
pub(super) struct Probe {
    stat: File,
    meminfo: Option<File>,
    diskstats: Option<File>,
    /// Whole physical disks from /sys/block; `None` when /sys/block could not be read,
    /// and then the text rule of [`procfs::parse_diskstats`] decides.
    whole_disks: Option<Vec<String>>,
    buf: Vec<u8>,
}

impl Probe {
    pub(super) const NAME: &'static str = "procfs";

    /// `None` when /proc/stat cannot be read (no procfs mounted): nothing to sample then.
    pub(super) fn open() -> Option<Self> {
        let mut probe = Probe {
            stat: File::open("/proc/stat").ok()?,
            meminfo: File::open("/proc/meminfo").ok(),
            diskstats: File::open("/proc/diskstats").ok(),
            whole_disks: whole_disks(),
            buf: vec![0; INITIAL_BUFFER],
        };
        read_text(&probe.stat, &mut probe.buf).and_then(procfs::parse_stat_cpu)?;
        Some(probe)
    }

    pub(super) fn read(&mut self, detail: Detail) -> Reading {
        let at = Instant::now();
        let cpu = if detail.cpu() {
            read_text(&self.stat, &mut self.buf)
                .and_then(procfs::parse_stat_cpu)
                .map(|t| CpuCounters {
                    busy: t.busy(),
                    total: t.total,
                })
        } else {
            None
        };
        let mem_used = self
            .meminfo
            .as_ref()
            .and_then(|f| read_text(f, &mut self.buf))
            .and_then(procfs::parse_meminfo)
            .and_then(|m| m.used());
        let disk = match (detail, &self.diskstats) {
            (Detail::Edge, Some(f)) => read_text(f, &mut self.buf)
                .and_then(|text| procfs::parse_diskstats(text, self.whole_disks.as_deref()))
                .filter(|t| t.disks > 0)
                .map(|t| DiskBytes {
                    read: t.read_bytes(),
                    written: t.written_bytes(),
                }),
            _ => None,
        };
        Reading {
            at,
            cpu,
            mem_used,
            disk,
        }
    }
}

fn read_text<'b>(file: &File, buf: &'b mut Vec<u8>) -> Option<&'b str> {
    procfs::read_text(file, buf, MAX_BUFFER)
}

/// Names in /sys/block that are physical disks (see [`procfs::is_physical_block_link`]).
fn whole_disks() -> Option<Vec<String>> {
    let entries = std::fs::read_dir("/sys/block").ok()?;
    let mut disks = Vec::new();
    let mut seen = 0;
    for entry in entries.flatten() {
        seen += 1;
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if procfs::is_physical_block_link(&target.to_string_lossy()) {
            disks.extend(entry.file_name().into_string().ok());
        }
    }
    // An empty or unreadable /sys/block (some containers) says nothing: use the text rule.
    (seen > 0).then_some(disks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_machine() {
        let mut p = Probe::open().expect("/proc/stat readable");
        let edge = p.read(Detail::Edge);
        let tick = p.read(Detail::Tick { cpu: true });
        eprintln!("whole disks: {:?}", p.whole_disks);
        eprintln!("edge: {edge:?}\ntick: {tick:?}");
        let (a, b) = (edge.cpu.unwrap(), tick.cpu.unwrap());
        assert!(b.total >= a.total && a.total > 0);
        assert!(edge.mem_used.unwrap() > 0);
        assert!(tick.disk.is_none(), "ticks skip the disk counters");
    }
}
