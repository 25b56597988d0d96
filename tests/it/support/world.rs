//! A private world per test: its own config file, store and XDG directories (so the log lands
//! there too), and a way to run the real `tokdash` binary in it.

use std::path::PathBuf;
use std::process::Output;

pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new(config: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("profiles.toml"), config).unwrap();
        World { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("profiles.toml")
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.config_path(), config).unwrap();
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The OIDC discovery documents cached in the store (none when the store does not exist).
    pub fn discovery_documents(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.store()) else {
            return Vec::new();
        };
        entries
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(".discovery-"))
            })
            .collect()
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("state/tokdash/tokdash.log")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// The stored record of a profile, as JSON.
    pub fn record(&self, name: &str) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.store().join(format!("{name}.json"))).ok()?;
        Some(serde_json::from_str(&text).expect("store files are always whole JSON"))
    }

    /// The string `key` (a token, mostly) of profile `name`'s stored record, which must be there.
    #[track_caller]
    pub fn stored(&self, name: &str, key: &str) -> String {
        let record = self.record(name).expect("a stored record");
        record[key]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no string {key} in {record}"))
            .to_string()
    }

    /// Environment for running tokdash in this world (for std::process::Command or tmux).
    pub fn envs(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("TOKDASH_CONFIG", self.config_path()),
            ("TOKDASH_STORE", self.store()),
            ("XDG_STATE_HOME", self.dir.path().join("state")),
            ("XDG_DATA_HOME", self.dir.path().join("data")),
            ("XDG_CONFIG_HOME", self.dir.path().join("config")),
            ("XDG_CACHE_HOME", self.dir.path().join("cache")),
        ]
    }

    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("tokdash").unwrap();
        cmd.args(args)
            .env("TOKDASH_LOG", "trace")
            .env_remove("TOKDASH_CONFIG")
            .env_remove("TOKDASH_STORE");
        for (k, v) in self.envs() {
            cmd.env(k, v);
        }
        cmd
    }

    /// [`cmd`](Self::cmd) with the environment variable `var` set to `secret`, the client
    /// secret its profiles read.
    pub fn cmd_with_secret(&self, args: &[&str], var: &str, secret: &str) -> assert_cmd::Command {
        let mut cmd = self.cmd(args);
        cmd.env(var, secret);
        cmd
    }

    /// Runs tokdash with `args` and `var` set to `secret`; returns its output.
    pub fn output_with_secret(&self, args: &[&str], var: &str, secret: &str) -> Output {
        self.cmd_with_secret(args, var, secret).output().unwrap()
    }

    /// Runs tokdash with `args`, killed after `deadline` (a hang fails the test, naming the
    /// command, instead of stalling the suite); returns its output.
    pub fn output_within(&self, args: &[&str], deadline: std::time::Duration) -> Output {
        let mut cmd = self.cmd(args);
        cmd.timeout(deadline);
        cmd.output()
            .unwrap_or_else(|e| panic!("tokdash {args:?} did not finish within {deadline:?}: {e}"))
    }

    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("tokdash"));
        cmd.args(args).env("TOKDASH_LOG", "trace");
        for (k, v) in self.envs() {
            cmd.env(k, v);
        }
        cmd
    }

    /// [`std_cmd`](Self::std_cmd) with the environment variable `var` set to `secret`.
    pub fn std_cmd_with_secret(
        &self,
        args: &[&str],
        var: &str,
        secret: &str,
    ) -> std::process::Command {
        let mut cmd = self.std_cmd(args);
        cmd.env(var, secret);
        cmd
    }

    /// Makes a stored token older: it was obtained `secs` earlier than recorded, its expiry
    /// unchanged. A token imported with two minutes left is then a long-lived one late in its
    /// life (due by `refresh_ahead`), not a fresh two-minute token (due only after half of it).
    pub fn age_token(&self, name: &str, secs: i64) {
        let path = self.store().join(format!("{name}.json"));
        let mut record = self.record(name).expect("a stored record to age");
        let obtained = record["obtained_at"].as_i64().expect("obtained_at");
        record["obtained_at"] = serde_json::json!(obtained - secs);
        std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    }

    /// Imports a token endpoint response for a profile, as a user would.
    pub fn import(&self, name: &str, response: &serde_json::Value) {
        self.cmd(&["import", name])
            .write_stdin(response.to_string())
            .assert()
            .success();
    }
}
