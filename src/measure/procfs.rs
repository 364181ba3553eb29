//! Pure parsers of /proc text (stat, meminfo, diskstats, ...), allocation-free on the hot path.
