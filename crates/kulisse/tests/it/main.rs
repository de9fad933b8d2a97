//! Integration tests: the real router on a real socket over a fresh SQLite data dir, and the
//! real binary for CLI and lifecycle behaviour. One test binary keeps link times down.
#![allow(clippy::unwrap_used)]

mod batch_expand;
mod binary;
mod compat;
mod filters;
mod http_api;
mod security;
mod server;
