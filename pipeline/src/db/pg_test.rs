//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
//! directory and `pg_ctl start` on a free loopback port, as the `postgres`
//! user (PostgreSQL refuses to run as root), stopped and removed on drop.
//! Needs the Debian `postgresql` package (`scripts/setup-assets.sh`
//! installs it).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `runuser -u postgres -- <bin>/<tool>` when root, else the tool itself.
fn as_postgres(bin: &std::path::Path, tool: &str) -> Command {
    let tool = bin.join(tool);
    // Root (uid 0 in /proc/self/status) must hand over to `postgres`.
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    }
}

impl Cluster {
    pub fn start() -> Cluster {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is not installed (apt-get install postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .collect();
        versions.sort();
        let bin = versions.pop().expect("no PostgreSQL initdb under /usr/lib/postgresql");
        let dir = tempfile::tempdir().expect("temp dir");
        run(Command::new("chown").arg("postgres:postgres").arg(dir.path()));
        let data = dir.path().join("data");
        run(as_postgres(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres"]));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.path().display());
        run(as_postgres(&bin, "pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("log"))
            .args(["-w", "-o", &opts, "start"]));
        Cluster { bin, data, port, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
