//! Drives the real binary in tmux, as a person at a terminal would: send keys, read the screen.
//! Each session has its own tmux server socket, so tests never see each other's panes.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `tokdash args…` in a `width`×`height` pane with the given environment.
    pub fn start(args: &[&str], envs: &[(&str, PathBuf)], width: u16, height: u16) -> Tmux {
        let socket = format!("tokdash-test-{}-{}", std::process::id(), rand_suffix());
        let bin = assert_cmd::cargo::cargo_bin("tokdash");
        let mut command = String::from("env");
        for (k, v) in envs {
            command.push_str(&format!(" {k}='{}'", v.display()));
        }
        command.push_str(&format!(" '{}'", bin.display()));
        for a in args {
            command.push_str(&format!(" '{a}'"));
        }
        // A shell stays in the pane after tokdash exits and prints its exit code: the pane stays
        // alive, so its terminal state (alternate screen, cursor) can be read afterwards.
        let command = format!(
            "sh -c \"{}; echo TOKDASH-EXITED:\\$?; exec sleep 600\"",
            command.replace('"', "\\\"")
        );
        let tmux = Tmux { socket };
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
        // Keep the pane after the program exits, so the test can look at what it left behind.
        tmux.run(&["set-option", "-g", "remain-on-exit", "on"]);
        tmux.run(&["set-option", "-g", "set-clipboard", "on"]);
        tmux.run(&["respawn-pane", "-k", "-t", "t", &command]);
        tmux
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Waits until the screen satisfies `f`, on a frame drawn after the dashboard first read the
    /// store (before that it shows the rows with no status, and keys that act on a record wait);
    /// returns that screen.
    pub fn wait_for(&self, what: &str, deadline: Duration, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let end = std::time::Instant::now() + deadline;
        while std::time::Instant::now() < end {
            last = self.screen();
            if !last.contains("reading the store…") && f(&last) {
                return last;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out after {deadline:?} waiting for {what}; the screen:\n{last}");
    }

    pub fn wait_for_text(&self, text: &str, deadline: Duration) -> String {
        self.wait_for(&format!("`{text}` on screen"), deadline, |s| {
            s.contains(text)
        })
    }

    /// A pane variable such as `pane_dead`, `alternate_on`, `cursor_flag`, `pane_pid`.
    pub fn var(&self, name: &str) -> String {
        self.run(&["display-message", "-p", "-t", "t", &format!("#{{{name}}}")])
            .trim()
            .to_string()
    }

    /// Waits for tokdash to exit; returns its exit code.
    pub fn wait_exit(&self, deadline: Duration) -> i32 {
        let screen = self.wait_for_text("TOKDASH-EXITED:", deadline);
        let code = screen
            .split("TOKDASH-EXITED:")
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        code.parse()
            .unwrap_or_else(|_| panic!("exit code in {screen}"))
    }

    /// The pid of tokdash itself (the pane's process is the shell around it).
    pub fn tokdash_pid(&self) -> String {
        let shell = self.var("pane_pid");
        let out = Command::new("pgrep")
            .args(["-P", &shell])
            .output()
            .expect("pgrep runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .expect("tokdash is running")
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}
