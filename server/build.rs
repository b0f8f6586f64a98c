//! Exposes the versions of a few key libraries, as locked in Cargo.lock, to
//! `GET /v1/core/system/info` (env vars `RT_DEP_VERSION_<NAME>`).

fn main() {
    // Read when the script runs, not baked in when it was compiled: a build
    // directory shared by two checkouts must not read the other one's file.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock_path = format!("{dir}/../Cargo.lock");
    println!("cargo:rerun-if-changed={lock_path}");
    let lock = std::fs::read_to_string(lock_path).unwrap_or_default();
    for name in ["dropshot", "tokio", "hyper"] {
        let version = locked_version(&lock, name).unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env=RT_DEP_VERSION_{}={version}", name.to_uppercase());
    }
}

/// The version of the first `[[package]]` named `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"\n");
    let at = lock.find(&needle)? + needle.len();
    let line = lock[at..].lines().next()?;
    Some(line.strip_prefix("version = \"")?.trim_end_matches('"').to_string())
}
