//! Facts read from `/proc` about this process: CPU time by thread, memory, open-files limit.

use std::collections::HashMap;

/// CPU seconds (user + system) used so far: by the whole process (threads that ended
/// included), and by each live thread (id -> name, seconds).
pub struct CpuReading {
    process: f64,
    threads: HashMap<String, (String, f64)>,
}

/// The name and CPU seconds in a `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    // pid (comm) state ...: after the closing parenthesis, utime and stime are the 12th and
    // 13th fields, in clock ticks (100 per second).
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let f: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Some((
        stat[open + 1..close].to_string(),
        (ticks(11) + ticks(12)) / 100.0,
    ))
}

pub fn cpu_reading() -> CpuReading {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| stat_cpu(&s))
    };
    let process = read(std::path::Path::new("/proc/self/stat")).map_or(0.0, |(_, s)| s);
    let mut threads = HashMap::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Some(t) = read(&task.path().join("stat")) {
                threads.insert(task.file_name().to_string_lossy().into_owned(), t);
            }
        }
    }
    CpuReading { process, threads }
}

/// CPU seconds the process used between two readings, and how they split by thread name
/// (threads that started and ended in between are missing from the split only).
pub fn cpu_used(before: &CpuReading, after: &CpuReading) -> (f64, String) {
    let mut by: HashMap<&str, f64> = HashMap::new();
    for (tid, (name, secs)) in &after.threads {
        let was = before.threads.get(tid).map_or(0.0, |(_, s)| *s);
        *by.entry(name.as_str()).or_insert(0.0) += secs - was;
    }
    let mut by: Vec<(&str, f64)> = by.into_iter().filter(|(_, v)| *v > 0.0).collect();
    by.sort_by(|a, b| b.1.total_cmp(&a.1));
    let text = by
        .iter()
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    (after.process - before.process, text)
}

pub fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.trim_start_matches(field)
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Soft limit on open files, from /proc/self/limits.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
