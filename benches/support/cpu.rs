//! CPU time of a process from /proc/<pid>/stat (utime + stime, every thread, proc(5)), so
//! the benchmark can charge each server, the emulator and the load generator separately.
//! It knows nothing of what the processes are.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Clock ticks per second of /proc's times (`getconf CLK_TCK`, 100 on Linux).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// User plus system CPU time `pid` has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')').expect("a /proc stat line") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // Fields 14 and 15 of proc(5) are utime and stime; `rest` starts at field 3.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_secs_f64(ticks as f64 / ticks_per_second() as f64)
}
