//! Command line: `serve`, `superuser`, `--version`. Doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// kulisse: a PocketBase-compatible backend in one binary.
#[derive(Debug, Parser)]
#[command(name = "kulisse", version, about, propagate_version = true)]
pub struct Cli {
    /// Data directory (database and, later, uploaded files).
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

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
