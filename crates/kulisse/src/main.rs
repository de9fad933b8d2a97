//! The kulisse binary: PocketBase's API on embedded SQLite, in one process.

mod backup;
mod cli;
#[cfg(feature = "otel")]
mod otel;

use anyhow::Context;
use clap::Parser;
use kulisse::compose;
use kulisse::http::HttpOptions;
use kulisse_store::QueryLimits;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::cli::{Cli, Command, LogFormat, ServeArgs, SuperuserAction};

/// mimalloc returns freed memory to the system (glibc kept the memory of large list
/// responses for the life of the process) and is faster for our many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Outside the runtime: the exporter's last flush blocks, after the runtime is gone.
    let _export = init_tracing(cli.log_format)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(compose::on_worker_park)
        .build()
        .context("cannot start the async runtime")?
        .block_on(run(cli))
}

/// What must live until the process ends: the OpenTelemetry export (flushed when it is
/// dropped), in builds that have it.
struct Telemetry {
    #[cfg(feature = "otel")]
    _export: Option<otel::Export>,
}

/// Log lines on stderr (stdout carries the startup banner, which scripts read), filtered
/// by `RUST_LOG` (warnings by default); in a build with the `otel` feature, also the
/// OpenTelemetry export when the `OTEL_*` variables name a collector.
fn init_tracing(format: LogFormat) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines.json().with_filter(filter).boxed(),
    };
    let registry = tracing_subscriber::registry().with(lines);
    #[cfg(feature = "otel")]
    {
        let (layer, export) = otel::layer()?.unzip();
        registry.with(layer).init();
        Ok(Telemetry { _export: export })
    }
    #[cfg(not(feature = "otel"))]
    {
        registry.init();
        Ok(Telemetry {})
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(&cli.dir, cli.db.as_deref(), args).await,
        Command::Superuser { action } => superuser(&cli.dir, cli.db.as_deref(), action).await,
        Command::Backup { action } => backup::run(&cli.dir, cli.db.as_deref(), action).await,
    }
}

async fn serve(dir: &std::path::Path, db: Option<&str>, args: ServeArgs) -> anyhow::Result<()> {
    let limits = QueryLimits {
        timeout: args.query_timeout,
        slow: args.slow_query,
    };
    let config = kulisse_core::Config {
        realtime: kulisse_core::realtime::Config {
            idle: args.realtime_idle,
            max_lifetime: args.realtime_max_lifetime,
            resume_window: args.realtime_resume_window,
            resume_events: args.realtime_resume_events,
        },
        logs: kulisse_core::logs::Config {
            cpu_share: f64::from(args.log_cpu) / 100.0,
            rollup_every: args.analytics_flush,
        },
        one_shot: false,
    };
    let options = compose::Options {
        config,
        metrics: args.metrics_token.is_some() || args.metrics_http.is_some(),
    };
    let (store, services) = compose::open(dir, db, limits, options).await?;
    let uploads_dir = dir.join(".uploads");
    std::fs::create_dir_all(&uploads_dir)
        .with_context(|| format!("cannot create {}", uploads_dir.display()))?;
    let opts = HttpOptions {
        public_dir: Some(args.public_dir),
        origins: args.origins,
        uploads_dir: Some(uploads_dir),
        // On the API's address only when metrics have no address of their own.
        metrics_token: args
            .metrics_token
            .clone()
            .filter(|_| args.metrics_http.is_none()),
        // Added by `compose::app`.
        dashboard: None,
    };
    let metrics = services.metrics.clone();
    let realtime = services.realtime.clone();
    let logs = services.logs.clone();
    let s3 = services.settings.snapshot().s3.clone();
    let listener = tokio::net::TcpListener::bind(&args.http)
        .await
        .with_context(|| format!("cannot listen on {}", args.http))?;
    let addr = listener.local_addr()?;
    // A link to a wildcard address would not open: the same port on loopback does.
    let reachable = match addr.ip().is_unspecified() {
        true => std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port()),
        false => addr,
    };
    let install = kulisse_admin::install_link(&services, &format!("http://{reachable}"))
        .await
        .context("cannot read the superusers")?;
    let app = compose::app(services, &opts);
    let signal = shutdown_signal()?;
    let storage = match db {
        Some(_) => "PostgreSQL (--db)".to_owned(),
        None => dir.join("data.db").display().to_string(),
    };
    let files = match s3.enabled {
        true => format!("S3 bucket {} at {}", s3.bucket, s3.endpoint),
        false => dir.join("storage").display().to_string(),
    };
    // Metrics on an address of their own, or on the API's behind the token.
    let (metrics_at, metrics_server) = match (metrics, &args.metrics_http) {
        (Some(metrics), Some(at)) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} (--metrics-http)"))?;
            let at = listener.local_addr()?;
            let token = args.metrics_token.clone();
            let serving = tokio::spawn(kulisse::http::serve_metrics(listener, metrics, token));
            (Some(format!("http://{at}/metrics")), Some(serving))
        }
        (Some(_), None) => (Some(format!("http://{addr}/metrics (bearer token)")), None),
        (None, _) => (None, None),
    };
    let mut banner = format!(
        "Server started at http://{addr}\n├─ REST API:  http://{addr}/api/\n├─ Dashboard: http://{addr}/_/\n├─ Database:  {storage}\n"
    );
    if let Some(at) = metrics_at {
        banner.push_str(&format!("├─ Metrics:   {at}\n"));
    }
    banner.push_str(&format!("└─ Files:     {files}"));
    say(&banner);
    if let Some(link) = install {
        let minutes = kulisse_core::auth::INSTALL_LINK_VALID_SECS / 60;
        say(&format!(
            "There is no superuser yet. Create the first one in the dashboard (the link works once, for {minutes} minutes; a restart prints a new one):\n  {link}"
        ));
    }
    if db.is_some() && !s3.enabled {
        // Several nodes share the database, but not this directory.
        say(
            "Warning: uploaded files are kept on this node's disk; other nodes on the same \
             database cannot serve them. Turn on S3 storage in the settings (\"s3\") to share \
             files between nodes.",
        );
    }
    // Running queries are stopped as the shutdown begins: the requests still in flight
    // then end at once instead of holding the exit for up to a query timeout (an endless
    // recursive view never ended at all). Realtime streams, which never end by themselves,
    // are closed too.
    let stopping = std::sync::Arc::clone(&store);
    let shutdown = async move {
        signal.await;
        stopping.stop_queries();
        realtime.close();
    };
    kulisse::http::serve(listener, app, shutdown).await?;
    if let Some(serving) = metrics_server {
        serving.abort();
    }
    if let Some(logs) = logs {
        logs.close().await;
    }
    store.close().await;
    say("Server stopped; database closed.");
    Ok(())
}

/// Prints a status line; a closed stdout (a supervisor that stopped reading) must not
/// take the server down, so write errors are ignored.
pub(crate) fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish (their queries stopped)
/// before `serve` returns. The handlers are installed here, before the server answers
/// anything: a signal that arrived before a lazily installed handler would kill the
/// process without its graceful shutdown.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

async fn superuser(
    dir: &std::path::Path,
    db: Option<&str>,
    action: SuperuserAction,
) -> anyhow::Result<()> {
    let (store, services) = compose::open(
        dir,
        db,
        QueryLimits::default(),
        compose::Options::one_shot(),
    )
    .await?;
    let result = match &action {
        SuperuserAction::Upsert { email, password } => {
            services.auth.upsert_superuser(email, password, false).await
        }
        SuperuserAction::Create { email, password } => {
            services.auth.upsert_superuser(email, password, true).await
        }
        SuperuserAction::Delete { email } => services.auth.delete_superuser(email).await,
    };
    store.close().await;
    match (result, action) {
        (Ok(()), SuperuserAction::Delete { email }) => {
            say(&format!("Successfully deleted superuser {email}."))
        }
        (Ok(()), SuperuserAction::Upsert { email, .. } | SuperuserAction::Create { email, .. }) => {
            say(&format!("Successfully saved superuser {email}."))
        }
        (Err(e), _) => anyhow::bail!("{e}"),
    }
    Ok(())
}
