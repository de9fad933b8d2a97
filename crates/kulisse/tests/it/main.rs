//! Integration tests: the real router on a real socket over a fresh SQLite data dir, and the
//! real binary for CLI and lifecycle behaviour. One test binary keeps link times down.
//! `TestServer`, the engine matrix (`engine_tests!`) and the HTTP helpers come from
//! kulisse-testkit.
#![allow(clippy::unwrap_used)]

mod accounts;
mod admin_safety;
mod advisor;
mod analytics;
mod backups;
mod bad_input;
mod batch_expand;
mod binary;
mod change_events;
mod compat;
mod crash;
mod crons;
mod dashboard;
mod db;
mod disk_faults;
mod expand_graph;
mod files;
mod filters;
mod health;
mod hidden_values;
mod http_api;
mod logs;
mod mail;
mod metrics;
mod mfa;
mod migrations;
mod multinode;
mod oauth2;
mod otp;
mod process;
mod rate_limits;
mod realtime;
mod resources;
mod restore;
mod security;
mod settings;
mod slow_queries;
mod views;
mod write_refusals;
