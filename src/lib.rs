//! tokdash: a terminal dashboard for OAuth 2.0 tokens. The library holds the engine shared by the
//! command line and the dashboard; `main.rs` only parses the command line.

pub mod app;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod engine;
pub mod failure;
pub mod jwt;
pub mod logging;
pub mod memory;
pub mod name_index;
pub mod oauth;
pub mod paths;
pub mod provider;
pub mod qr;
pub mod runtime;
pub mod schedule;
pub mod secret;
pub mod status;
pub mod store;
pub mod summary;
pub mod tui;
pub mod ui;
pub mod urls;
pub mod worker;

/// When the program started (the first call, made first thing in `main`), for start-up timings.
pub fn started() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}
