//! Command line: `serve`, `superuser`, `--version`. Doc comments are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// kulisse: a PocketBase-compatible backend in one binary.
#[derive(Debug, Parser)]
#[command(name = "kulisse", version, about, propagate_version = true)]
pub struct Cli {
    /// Data directory (the SQLite database and uploaded files).
    #[arg(
        long,
        global = true,
        default_value = "./kulisse_data",
        env = "KULISSE_DIR"
    )]
    pub dir: PathBuf,

    /// PostgreSQL URL (`postgres://user@host/db`) to serve from instead of the embedded
    /// SQLite database; several nodes can share one.
    #[arg(long, global = true, env = "KULISSE_DB")]
    pub db: Option<String>,

    /// How the server's own log lines (warnings, errors; more with `RUST_LOG`) are
    /// written to stderr: `text` for people, `json` (one object per line) for a log
    /// collector.
    #[arg(
        long = "log-format",
        global = true,
        value_enum,
        default_value_t = LogFormat::Text,
        env = "KULISSE_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Starts the HTTP server.
    Serve(ServeArgs),
    /// Manages superusers.
    Superuser {
        /// The action.
        #[command(subcommand)]
        action: SuperuserAction,
    },
    /// Makes, lists and restores backups (as `/api/backups` does, without a token).
    Backup {
        /// The action.
        #[command(subcommand)]
        action: BackupAction,
    },
}

/// `backup` subcommands.
#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Makes a backup of the data, the request log and the uploaded files.
    Create {
        /// Its name (`a-z 0-9 _ -`, ending in `.zip`; PocketBase's default name without).
        name: Option<String>,
    },
    /// Lists the backups, newest first.
    List,
    /// Restores a backup, after checking it whole (SQLite; with the server stopped, or
    /// use the API while it runs).
    Restore {
        /// The backup's name.
        key: String,
    },
}

/// `serve` flags.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090", env = "KULISSE_HTTP")]
    pub http: String,

    /// Directory served at `/` (your frontend), with an index.html fallback.
    #[arg(long = "publicDir", default_value = "./kulisse_public")]
    pub public_dir: PathBuf,

    /// Allowed CORS origins, comma separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub origins: Vec<String>,

    /// Longest a database query may run before it is stopped and the request answered
    /// with 400, like PocketBase's 30 s: `500ms`, `30s`, `2m`.
    /// Queries of requests whose client left are stopped at once either way.
    #[arg(
        long = "query-timeout",
        env = "KULISSE_QUERY_TIMEOUT",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub query_timeout: Duration,

    /// Reads taking at least this long go into the slow-query log, with their plan, for
    /// the index advisor (`/api/advisor/queries`): `100ms`, `1s`, `0` for every read, or
    /// `off`.
    #[arg(
        long = "slow-query",
        env = "KULISSE_SLOW_QUERY",
        default_value = "100ms",
        value_parser = parse_threshold
    )]
    pub slow_query: Threshold,

    /// A realtime stream that sent nothing for this long ends; the SDKs reconnect
    /// (PocketBase: 5 minutes).
    #[arg(long = "realtime-idle", default_value = "5m", value_parser = parse_duration)]
    pub realtime_idle: Duration,

    /// No realtime stream lasts longer than this; the SDKs reconnect (PocketBase: 30
    /// minutes).
    #[arg(
        long = "realtime-max-lifetime",
        default_value = "30m",
        value_parser = parse_duration
    )]
    pub realtime_max_lifetime: Duration,

    /// How long a realtime client whose stream dropped can reconnect and still get the
    /// events it missed; `0` turns resuming off.
    #[arg(
        long = "realtime-resume-window",
        default_value = "5m",
        value_parser = parse_window
    )]
    pub realtime_resume_window: Duration,

    /// How many recent record events are kept for reconnecting realtime clients.
    #[arg(long = "realtime-resume-events", default_value_t = 10_000)]
    pub realtime_resume_events: usize,

    /// The share of one core the request log's writer may use, in percent (1–100): under
    /// a load that would need more, entries are dropped and counted (the health check's
    /// `logs.dropped`, `kulisse_log_entries_dropped_total`) rather than slow requests.
    /// `100` writes every entry whatever it costs, as PocketBase does.
    #[arg(
        long = "log-cpu",
        env = "KULISSE_LOG_CPU",
        default_value_t = 5,
        value_parser = clap::value_parser!(u8).range(1..=100)
    )]
    pub log_cpu: u8,

    /// How often this node adds its usage analytics to the sums every node shares (its
    /// own requests show in its reports within a second; other nodes' this much later).
    #[arg(
        long = "analytics-flush",
        env = "KULISSE_ANALYTICS_FLUSH",
        default_value = "60s",
        value_parser = parse_duration
    )]
    pub analytics_flush: Duration,

    /// Turns metrics on and serves them at `/metrics` on the API's address, to scrapers
    /// that send `Authorization: Bearer <token>` (at least 16 characters). With
    /// `--metrics-http`, the token guards that address instead.
    #[arg(long = "metrics-token", env = "KULISSE_METRICS_TOKEN", value_parser = parse_token)]
    pub metrics_token: Option<String>,

    /// Turns metrics on and serves `/metrics` on this address of its own (such as a
    /// private interface's `10.0.0.5:9090`), not on the API's.
    #[arg(long = "metrics-http", env = "KULISSE_METRICS_HTTP")]
    pub metrics_http: Option<String>,
}

/// The shortest metrics token: a shorter one could be guessed by a patient scraper.
const MIN_TOKEN_LEN: usize = 16;

/// Checks a metrics token's length.
fn parse_token(text: &str) -> Result<String, String> {
    let token = text.trim();
    match token.chars().count() >= MIN_TOKEN_LEN {
        true => Ok(token.to_owned()),
        false => Err(format!(
            "the metrics token must have at least {MIN_TOKEN_LEN} characters"
        )),
    }
}

/// Parses a duration with its unit (`500ms`, `30s`, `2m`, `1h 30m`: humantime's forms);
/// zero is refused, since it would stop every query (or stream) at once.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (for example 30s or 500ms)"))
        .and_then(|d| {
            (!d.is_zero())
                .then_some(d)
                .ok_or_else(|| format!("the timeout must be positive: {text:?}"))
        })
}

/// A duration a measure starts at, or none: the measure is off. (A name of its own, so
/// that clap's derive reads `off` as a value instead of making the flag optional.)
pub type Threshold = Option<Duration>;

/// Parses a threshold: a duration (`0` for everything) or `off`.
fn parse_threshold(text: &str) -> Result<Threshold, String> {
    match text.trim() {
        "off" => Ok(None),
        "0" => Ok(Some(Duration::ZERO)),
        other => humantime::parse_duration(other)
            .map(Some)
            .map_err(|e| format!("{e} (for example 100ms, 0 for everything, or off)")),
    }
}

/// Parses a window like [`parse_duration`], where `0` turns the feature off.
fn parse_window(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "0" => Ok(Duration::ZERO),
        other => humantime::parse_duration(other)
            .map_err(|e| format!("{e} (for example 5m, or 0 for off)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_timeouts_take_a_unit_and_must_be_positive() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("45").is_err(), "a bare number is ambiguous");
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn metrics_tokens_are_long() {
        assert!(parse_token("short").is_err());
        assert_eq!(
            parse_token(" 0123456789abcdef ").as_deref(),
            Ok("0123456789abcdef")
        );
    }

    #[test]
    fn the_slow_query_threshold_is_a_duration_zero_or_off() {
        assert_eq!(
            parse_threshold("250ms"),
            Ok(Some(Duration::from_millis(250)))
        );
        assert_eq!(parse_threshold("0"), Ok(Some(Duration::ZERO)));
        assert_eq!(parse_threshold("off"), Ok(None));
        assert!(parse_threshold("slow").is_err());
    }

    #[test]
    fn the_log_cpu_share_is_a_percentage() {
        let parse = |share: &str| Cli::try_parse_from(["kulisse", "serve", "--log-cpu", share]);
        let Ok(Cli {
            command: Command::Serve(args),
            ..
        }) = parse("20")
        else {
            panic!("--log-cpu 20 is refused");
        };
        assert_eq!(args.log_cpu, 20);
        assert!(parse("0").is_err());
        assert!(parse("101").is_err());
        let Ok(Cli {
            command: Command::Serve(args),
            ..
        }) = Cli::try_parse_from(["kulisse", "serve"])
        else {
            panic!("serve without flags is refused");
        };
        assert_eq!(args.log_cpu, 5, "5 % of a core by default");
        assert_eq!(args.metrics_token, None, "metrics are off by default");
    }

    #[test]
    fn windows_may_be_zero() {
        assert_eq!(parse_window("0"), Ok(Duration::ZERO));
        assert_eq!(parse_window("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_window("-1").is_err());
    }
}

/// `superuser` actions.
#[derive(Debug, Subcommand)]
pub enum SuperuserAction {
    /// Creates a superuser, or updates the password of an existing one.
    Upsert {
        /// Email of the superuser.
        email: String,
        /// Password (at least 8 characters).
        password: String,
    },
    /// Creates a superuser; fails when it exists.
    Create {
        /// Email of the superuser.
        email: String,
        /// Password (at least 8 characters).
        password: String,
    },
    /// Deletes a superuser.
    Delete {
        /// Email of the superuser.
        email: String,
    },
}
