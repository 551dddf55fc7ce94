//! Facts read from `/proc` (Linux): the machine, and CPU time and memory of processes.

use std::process::Command;

/// The CPU model name, e.g. "AMD EPYC".
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `/proc/loadavg`'s first three fields: a busy machine makes the figures meaningless.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// A `kB` field of `/proc/PID/status`, such as `VmHWM` (peak resident set size).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU ticks of a process (all its threads), and its parent's pid.
fn stat(pid: &str) -> Option<(u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and ')'; what follows the last ')' starts at field 3
    // (state), so ppid (field 4), utime (14) and stime (15) of proc(5) are at 1, 11 and 12.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime, ppid))
}

/// CPU ticks used so far by `pid` and its direct children (nginx's workers).
pub fn cpu_ticks_with_children(pid: u32) -> u64 {
    let own = stat(&pid.to_string()).map_or(0, |(t, _)| t);
    let children: u64 = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| stat(e.file_name().to_str()?))
                .filter(|(_, ppid)| *ppid == pid)
                .map(|(t, _)| t)
                .sum()
        })
        .unwrap_or(0);
    own + children
}

/// CPU ticks used so far by this process.
pub fn own_cpu_ticks() -> u64 {
    stat("self").map_or(0, |(t, _)| t)
}

/// The unit of the tick counts above (`getconf CLK_TCK`, nearly always 100).
pub fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}
