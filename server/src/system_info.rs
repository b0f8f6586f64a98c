//! Host facts for `GET /v1/core/system/info`, read from the live system
//! (`/proc`, `/etc/os-release`) each time they are asked for.

use std::fs;

/// Versions of the libraries this build was compiled with, taken from
/// Cargo.lock by the build script.
const LIBRARIES: &[(&str, &str)] = &[
    ("dropshot", env!("RT_DEP_VERSION_DROPSHOT")),
    ("tokio", env!("RT_DEP_VERSION_TOKIO")),
    ("hyper", env!("RT_DEP_VERSION_HYPER")),
];

/// `(displayName, value)` pairs describing this host and this server.
pub fn collect(uptime_secs: u64) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| out.push((k.to_string(), v));
    add("Server", format!("rt-server {}", env!("CARGO_PKG_VERSION")));
    add("Engine", rt_pipeline::ENGINE_VERSION.to_string());
    for (name, version) in LIBRARIES {
        add(&format!("Library {name}"), version.to_string());
    }
    add("Operating system", os_name().unwrap_or_else(|| std::env::consts::OS.to_string()));
    if let Some(k) = read_trimmed("/proc/sys/kernel/osrelease") {
        add("Kernel", k);
    }
    if let Some(h) = read_trimmed("/proc/sys/kernel/hostname") {
        add("Hostname", h);
    }
    add("Architecture", std::env::consts::ARCH.to_string());
    if let Some(cpu) = cpu_model() {
        add("CPU", cpu);
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    add("CPU cores", cores.to_string());
    if let Some((total, available)) = memory_kib() {
        add("Memory total", format!("{} MiB", total / 1024));
        add("Memory available", format!("{} MiB", available / 1024));
    }
    add("Server uptime", format!("{uptime_secs} s"));
    out
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn os_name() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

fn cpu_model() -> Option<String> {
    let text = fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn memory_kib() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}
