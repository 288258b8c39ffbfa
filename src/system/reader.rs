//! One long-lived sysinfo reader that turns a refresh into a [`SystemSample`].
//!
//! It refreshes only what the configuration asks for: CPU times, RAM, this one process (CPU
//! time, memory, task list), disk I/O counters and network interface counters. It never
//! lists other processes.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::time::{Instant, SystemTime};

use sysinfo::{
    DiskRefreshKind, Disks, MemoryRefreshKind, Networks, Pid, ProcessRefreshKind,
    ProcessesToUpdate, System, MINIMUM_CPU_UPDATE_INTERVAL,
};

use super::gpu::GpuReader;
use super::{SamplerConfig, SamplerError, SystemSample};
use crate::semconv::DIAGNOSTICS_TARGET;

/// Reads system and process resources; owned by the sampler, refreshed under its lock.
#[derive(Debug)]
pub(crate) struct SystemReader {
    config: SamplerConfig,
    system: System,
    pid: Option<Pid>,
    cpus_available: f64,
    disks: Option<Disks>,
    networks: Option<Networks>,
    system_cpu_since: Option<Instant>,
    system_cpu_ready: bool,
    process_cpu: CpuClock,
    disk_io: IoTotals,
    network_io: IoTotals,
    gpus: GpuReader,
}

impl SystemReader {
    /// Prepares the readers the configuration asks for; reads no CPU or process data yet.
    pub(crate) fn new(config: &SamplerConfig) -> Result<Self, SamplerError> {
        let system = System::new().map_err(|e| SamplerError::Unavailable(Box::new(e)))?;
        let pid = sysinfo::get_current_pid().ok();
        let cpus_available = std::thread::available_parallelism().map_or(1, usize::from);

        Ok(Self {
            config: config.clone(),
            system,
            pid,
            cpus_available: cpus_available as f64,
            disks: config.disks.then(open_disks).flatten(),
            networks: config.networks.then(open_networks).flatten(),
            system_cpu_since: None,
            system_cpu_ready: false,
            process_cpu: CpuClock::default(),
            disk_io: IoTotals::default(),
            network_io: IoTotals::default(),
            gpus: GpuReader::default(),
        })
    }

    /// Refreshes every configured part and returns the reading.
    pub(crate) fn refresh(&mut self) -> SystemSample {
        let mut sample = SystemSample {
            taken_at: Some(SystemTime::now()),
            ..SystemSample::default()
        };

        if self.config.system_cpu {
            self.read_system_cpu(&mut sample);
        }
        if self.config.system_memory {
            self.read_memory(&mut sample);
        }
        if self.config.process {
            self.read_process(&mut sample);
        }
        self.read_io(&mut sample);
        if self.config.reads_gpus() {
            sample.gpus = self.gpus.read();
        }

        sample
    }

    /// Whole-system CPU: sysinfo updates it only when its previous CPU refresh is at least
    /// `MINIMUM_CPU_UPDATE_INTERVAL` old, so the value counts once such a pair exists.
    fn read_system_cpu(&mut self, sample: &mut SystemSample) {
        let before = Instant::now();
        self.system.refresh_cpu_usage();

        match self.system_cpu_since {
            None => self.system_cpu_since = Some(Instant::now()),
            Some(first) if before.duration_since(first) >= MINIMUM_CPU_UPDATE_INTERVAL => {
                self.system_cpu_ready = true;
            }
            Some(_) => {}
        }

        if self.system_cpu_ready {
            sample.system_cpu_utilization = ratio(f64::from(self.system.global_cpu_usage()), 100.0);
        }
    }

    /// RAM: used is total less available, free is available, so the two add up to the total.
    fn read_memory(&mut self, sample: &mut SystemSample) {
        // TODO: inside a container with a memory limit this reports the host's memory, not
        // the cgroup's; sysinfo's `cgroup_limits` could supply the limit and usage instead.
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());

        let total = self.system.total_memory();
        let free = self.system.available_memory().min(total);
        sample.system_memory_used_bytes = total - free;
        sample.system_memory_free_bytes = free;
        sample.system_memory_utilization = ratio((total - free) as f64, total as f64);
    }

    /// This process only: CPU time, resident and virtual memory, task list.
    fn read_process(&mut self, sample: &mut SystemSample) {
        let Some(pid) = self.pid else { return };
        // `nothing()` still lists the tasks, which gives the thread count.
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        self.system
            .refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, kind);
        let now = Instant::now();

        let Some(process) = self.system.process(pid) else {
            return;
        };
        let busy_ms = process.accumulated_cpu_time();
        sample.process_memory_usage_bytes = process.memory();
        sample.process_memory_virtual_bytes = process.virtual_memory();
        // sysinfo's task list leaves out the main thread.
        let tasks = process.tasks().map(|tasks| tasks.len() as u64 + 1);
        sample.process_thread_count = tasks.or_else(threads_from_proc);
        sample.process_cpu_utilization = self.process_cpu.update(now, busy_ms, self.cpus_available);
    }

    fn read_io(&mut self, sample: &mut SystemSample) {
        if let Some(disks) = self.disks.as_mut() {
            // TODO: only devices holding a mounted file system are counted (a raw block device
            // used directly is missed), and one device reached under two names in
            // `/proc/mounts` counts twice; sysinfo offers no per-block-device list.
            disks.refresh_specifics(true, DiskRefreshKind::nothing().with_io_usage());
            let readings = disks.iter().map(|disk| {
                let usage = disk.usage();
                (
                    disk.name(),
                    [usage.total_read_bytes, usage.total_written_bytes],
                )
            });
            [sample.disk_read_bytes, sample.disk_write_bytes] = self.disk_io.update(readings);
        }

        if let Some(networks) = self.networks.as_mut() {
            // TODO: sysinfo's network refresh also reads every interface's addresses and about
            // ten sysfs files per interface; it is the largest part of a reading (about half a
            // millisecond with four interfaces), where `/proc/net/dev` alone would do.
            networks.refresh(true);
            let readings = networks.iter().filter(|(name, _)| !is_loopback(name));
            let readings = readings.map(|(name, data)| {
                (
                    name.as_os_str(),
                    [data.total_received(), data.total_transmitted()],
                )
            });
            [sample.network_receive_bytes, sample.network_transmit_bytes] =
                self.network_io.update(readings);
        }
    }
}

/// `part / whole` as a fraction in `[0, 1]`, or `None` when it would not be finite.
fn ratio(part: f64, whole: f64) -> Option<f64> {
    let value = part / whole;
    value.is_finite().then(|| value.clamp(0.0, 1.0))
}

fn open_disks() -> Option<Disks> {
    let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing());
    disks
        .inspect_err(|error| {
            tracing::debug!(target: DIAGNOSTICS_TARGET, %error, "disk I/O readings unavailable")
        })
        .ok()
}

fn open_networks() -> Option<Networks> {
    let networks = Networks::new();
    networks
        .inspect_err(|error| {
            tracing::debug!(target: DIAGNOSTICS_TARGET, %error, "network readings unavailable")
        })
        .ok()
}

fn is_loopback(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.strip_prefix(b"lo")
        .is_some_and(|rest| rest.iter().all(u8::is_ascii_digit))
}

/// The `Threads:` line of `/proc/self/status`, where sysinfo gives no task list.
#[cfg(target_os = "linux")]
fn threads_from_proc() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?;
    line.trim().parse().ok()
}

#[cfg(not(target_os = "linux"))]
fn threads_from_proc() -> Option<u64> {
    None
}

/// Process CPU utilisation from CPU-time deltas over wall-time deltas of at least
/// `MINIMUM_CPU_UPDATE_INTERVAL`, normalised by the CPUs available to the process.
///
/// sysinfo's own per-process percentage is not used: it divides by the system's CPU time
/// delta, which sysinfo leaves stale when refreshes come faster than its minimum interval.
// TODO: CPU time comes in clock ticks (10 ms), so over the minimum 200 ms window a reading is
// only accurate to about 5 % of one core; longer intervals shrink the error in proportion.
#[derive(Debug, Default)]
struct CpuClock {
    base: Option<(Instant, u64)>,
    value: Option<f64>,
}

impl CpuClock {
    fn update(&mut self, now: Instant, busy_ms: u64, cpus: f64) -> Option<f64> {
        let Some((since, busy_since)) = self.base else {
            self.base = Some((now, busy_ms));
            return None;
        };

        let wall = now.duration_since(since);
        if wall >= MINIMUM_CPU_UPDATE_INTERVAL {
            let busy = busy_ms.saturating_sub(busy_since) as f64 / 1000.0;
            self.value = ratio(busy, wall.as_secs_f64() * cpus);
            self.base = Some((now, busy_ms));
        }

        self.value
    }
}

/// Byte totals accumulated from per-device counter deltas since the first refresh.
///
/// A device seen for the first time only sets its baseline, so nothing counted before the
/// sampler saw it (since boot, or since it was plugged in) is ever added; a counter that goes
/// backwards (device reset) restarts its baseline. Totals are therefore monotonic. A device
/// listed twice (mounted at two places) counts once.
#[derive(Debug, Default)]
struct IoTotals {
    last: HashMap<OsString, ([u64; 2], u64)>,
    totals: [u64; 2],
    generation: u64,
}

impl IoTotals {
    fn update<'a>(&mut self, readings: impl Iterator<Item = (&'a OsStr, [u64; 2])>) -> [u64; 2] {
        self.generation += 1;

        let generation = self.generation;
        for (name, counters) in readings {
            match self.last.get_mut(name) {
                Some(last) => add_delta(&mut self.totals, last, counters, generation),
                None => {
                    self.last.insert(name.to_owned(), (counters, generation));
                }
            }
        }

        self.last.retain(|_, (_, seen)| *seen == generation);
        self.totals
    }
}

/// Adds a device's counter growth since its last reading, once per refresh.
fn add_delta(totals: &mut [u64; 2], last: &mut ([u64; 2], u64), now: [u64; 2], generation: u64) {
    if last.1 == generation {
        return;
    }

    for ((total, now), before) in totals.iter_mut().zip(now).zip(last.0) {
        *total = total.saturating_add(now.saturating_sub(before));
    }
    *last = (now, generation);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn io_totals_ignore_first_sight_resets_and_duplicates() {
        let mut io = IoTotals::default();
        let name = OsStr::new("vda");

        assert_eq!(io.update([(name, [1000, 500])].into_iter()), [0, 0]);
        assert_eq!(
            io.update([(name, [1100, 500]), (name, [1100, 500])].into_iter()),
            [100, 0]
        );
        assert_eq!(io.update([(name, [10, 20])].into_iter()), [100, 0]);
        assert_eq!(
            io.update([(name, [15, 20]), (OsStr::new("sdb"), [9, 9])].into_iter()),
            [105, 0]
        );
    }

    #[test]
    fn cpu_clock_waits_for_the_minimum_interval() {
        let mut clock = CpuClock::default();
        let start = Instant::now();

        assert_eq!(clock.update(start, 0, 2.0), None);
        assert_eq!(
            clock.update(start + Duration::from_millis(10), 10, 2.0),
            None
        );

        let later = start + Duration::from_secs(1);
        assert_eq!(clock.update(later, 1000, 2.0), Some(0.5));
    }

    #[test]
    fn loopback_names_are_recognised() {
        assert!(is_loopback(OsStr::new("lo")));
        assert!(is_loopback(OsStr::new("lo0")));
        assert!(!is_loopback(OsStr::new("eth0")));
        assert!(!is_loopback(OsStr::new("local")));
    }
}
