//! `ServerProcess`: the built `kulisse serve` binary as its own process, on the current
//! test's engine, for tests that measure what the server itself uses (its RSS) or that need
//! a process of their own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::server::{ENGINE, SUPERUSER_EMAIL, SUPERUSER_PASSWORD, TestEngine, fresh_pg_database};

const BIN: &str = env!("CARGO_BIN_EXE_kulisse");

/// A running `kulisse serve`, killed on drop.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary over a fresh data dir (SQLite) or a fresh database (PostgreSQL),
    /// with the test superuser.
    pub async fn start() -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Vec::new();
        if ENGINE.try_with(|e| *e).unwrap_or(TestEngine::Sqlite) == TestEngine::Postgres {
            db = vec!["--db".to_owned(), fresh_pg_database().await];
        }
        let upsert = Command::new(BIN)
            .args([
                "superuser",
                "upsert",
                SUPERUSER_EMAIL,
                SUPERUSER_PASSWORD,
                "--dir",
            ])
            .arg(dir.path())
            .args(&db)
            .output()
            .unwrap();
        assert!(upsert.status.success(), "{upsert:?}");
        let mut child = Command::new(BIN)
            .args(["serve", "--http", "127.0.0.1:0", "--dir"])
            .arg(dir.path())
            .args(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let base = first
            .strip_prefix("Server started at ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        // Keep reading, so a full pipe never stalls the server.
        std::thread::spawn(move || lines.for_each(drop));
        ServerProcess {
            child,
            base,
            _dir: dir,
        }
    }

    /// The most memory the process has held so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb * 1024
    }
}

impl ServerProcess {
    /// CPU time the process has used so far (user + system), from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> std::time::Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which may hold spaces) start at field 3; utime
        // and stime are fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        std::time::Duration::from_millis(ticks * 10)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
