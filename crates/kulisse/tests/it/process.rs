//! `ServerProcess`: the built `kulisse serve` binary as its own process, for tests that
//! measure what the server itself uses (its RSS, its CPU time), that need a process of their
//! own, or several nodes on one PostgreSQL database. It stays here, not in kulisse-testkit:
//! the binary's path (`CARGO_BIN_EXE_kulisse`) exists only for this crate's tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use kulisse_testkit::{
    SUPERUSER_EMAIL, SUPERUSER_PASSWORD, TestEngine, current_engine, send_to, superuser_token_at,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kulisse");

/// A running `kulisse serve`, killed on drop.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The PostgreSQL database it serves (`--db`), if any.
    pub db: Option<String>,
    /// What it printed as it started, line by line.
    pub banner: Vec<String>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary on the current test's engine (see `engine_tests!`).
    pub async fn start() -> ServerProcess {
        Self::start_on_engine(current_engine()).await
    }

    /// Starts the binary over a fresh data dir (SQLite) or a fresh database (PostgreSQL),
    /// with the test superuser.
    pub async fn start_on_engine(engine: TestEngine) -> ServerProcess {
        Self::start_over(engine, &[]).await
    }

    /// [`ServerProcess::start`] with more `serve` flags.
    pub async fn start_with(flags: &[&str]) -> ServerProcess {
        Self::start_over(current_engine(), flags).await
    }

    /// [`ServerProcess::start_on_engine`] with more `serve` flags.
    pub async fn start_with_engine(engine: TestEngine, flags: &[&str]) -> ServerProcess {
        Self::start_over(engine, flags).await
    }

    async fn start_over(engine: TestEngine, flags: &[&str]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        Self::start_over_dir(engine, dir, flags, &[]).await
    }

    /// The binary on SQLite over `dir` (made by the test: on a size-limited mount, say),
    /// with `env` added to its environment (a fault shim's `LD_PRELOAD`, say).
    pub async fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> ServerProcess {
        Self::start_over_dir(TestEngine::Sqlite, dir, &[], env).await
    }

    async fn start_over_dir(
        engine: TestEngine,
        dir: tempfile::TempDir,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let db = match engine {
            TestEngine::Sqlite => None,
            TestEngine::Postgres => Some(
                kulisse_testkit::fresh_database()
                    .await
                    .expect("a PostgreSQL server"),
            ),
        };
        let upsert = Command::new(BIN)
            .args([
                "superuser",
                "upsert",
                SUPERUSER_EMAIL,
                SUPERUSER_PASSWORD,
                "--dir",
            ])
            .arg(dir.path())
            .args(db_args(db.as_deref()))
            .output()
            .unwrap();
        assert!(upsert.status.success(), "{upsert:?}");
        Self::serve(dir, db, flags, env)
    }

    /// Another node on this process's PostgreSQL database, with a data dir of its own.
    pub fn join(&self) -> ServerProcess {
        self.join_with(&[])
    }

    /// [`ServerProcess::join`] with more `serve` flags.
    pub fn join_with(&self, flags: &[&str]) -> ServerProcess {
        let db = self.db.clone().expect("a node on PostgreSQL");
        Self::serve(tempfile::tempdir().unwrap(), Some(db), flags, &[])
    }

    fn serve(
        dir: tempfile::TempDir,
        db: Option<String>,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let mut child = Command::new(BIN)
            .args(["serve", "--http", "127.0.0.1:0", "--dir"])
            .arg(dir.path())
            .args(db_args(db.as_deref()))
            .args(flags)
            .envs(env.iter().copied())
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
        let mut banner = vec![first];
        for line in lines.by_ref() {
            let line = line.unwrap();
            let last = line.starts_with("└─");
            banner.push(line);
            if last {
                break;
            }
        }
        // Keep reading, so a full pipe never stalls the server.
        std::thread::spawn(move || lines.for_each(drop));
        ServerProcess {
            child,
            base,
            db,
            banner,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Sends a JSON request, returning status and parsed body (`Null` when empty).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        send_to(&self.client, &self.base, method, path, token, body).await
    }

    /// The test superuser's token.
    pub async fn superuser_token(&self) -> String {
        superuser_token_at(&self.client, &self.base).await
    }

    /// Kills the process at once (SIGKILL: no shutdown, nothing flushed) and starts the
    /// binary again on the same data dir, as after a crash (without the environment
    /// [`ServerProcess::start_in`] added: the fault is gone).
    pub fn kill_and_restart(mut self) -> ServerProcess {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let placeholder = tempfile::tempdir().unwrap();
        let dir = std::mem::replace(&mut self._dir, placeholder);
        Self::serve(dir, self.db.take(), &[], &[])
    }

    /// Its data dir.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
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

/// `--db URL` on PostgreSQL, nothing on SQLite.
fn db_args(db: Option<&str>) -> Vec<&str> {
    db.map(|url| vec!["--db", url]).unwrap_or_default()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
