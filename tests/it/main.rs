//! The integration tests: one test crate (one link step), a module per area, and the helpers they
//! share in `support`. A test's name is `MODULE::fn`, e.g. `cargo test --test it real_server::`.

mod support;

mod agent;
mod big_body;
mod big_body_elsewhere;
mod browser_login;
mod call_cmd;
mod cli_basics;
mod completions;
mod config_files;
mod config_index;
mod config_init;
mod exec_cmd;
mod fuzz_parsers;
mod git_credential;
mod kube_credential;
mod lifetimes;
mod lock_waits;
mod login_idle_real;
mod login_lifetimes;
mod mock_browser_login;
mod mock_device;
mod mock_discovery;
mod mock_edges;
mod mock_faults;
mod mock_providers;
mod races;
mod real_server;
mod secrets_debug;
mod store_crash;
mod team_failover;
mod team_store;
mod token_files;
mod token_use;
mod tui_e2e;
mod tui_faults;
