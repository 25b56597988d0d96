//! tokdash: a terminal dashboard for OAuth 2.0 tokens. The library holds the engine shared by the
//! command line and the dashboard; `main.rs` only parses the command line.

pub(crate) mod agent;
pub mod app;
pub mod cli;
pub mod clock;
pub(crate) mod commands;
pub mod config;
pub(crate) mod dashboard;
pub(crate) mod demo;
pub mod engine;
pub mod failure;
pub mod jwt;
pub(crate) mod logging;
pub(crate) mod memory;
pub(crate) mod name_index;
pub mod oauth;
pub(crate) mod paths;
pub mod provider;
pub(crate) mod qr;
pub(crate) mod runtime;
pub(crate) mod schedule;
pub mod secret;
pub(crate) mod status;
pub mod store;
pub(crate) mod summary;
pub(crate) mod tui;
pub mod ui;
pub(crate) mod urls;
pub(crate) mod worker;

/// When the program started (the first call, made first thing in `main`), for start-up timings.
pub fn started() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}
