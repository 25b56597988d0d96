//! A 3-node OpenBao raft cluster on loopback for the failover test: `openbao-recipes/raft3.sh`
//! (../shared) in Rust, on free port pairs, each node a real `bao server -config=…`. Node 0 is
//! initialised and becomes the leader; nodes 1 and 2 join it. `performance_multiplier = 1` and a
//! short autopilot stabilisation make the cluster ready in ~6 s and fail over in 1.5–3 s
//! (OPENBAO.md 6.1, 6.4).

use super::bao::{binary, free_port_pair, said_it_started};
use super::wait_until;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Node {
    pub port: u16,
    pub address: String,
    child: Child,
    alive: bool,
}

pub struct RaftCluster {
    pub nodes: Vec<Node>,
    pub root: String,
    _dir: tempfile::TempDir,
}

/// One HTTP/1.0 request to `127.0.0.1:port`; `None` when nothing answers.
pub fn call_at(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("X-Vault-Token: {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Some((status, json))
}

fn health(port: u16) -> Option<u16> {
    call_at(port, "GET", "/v1/sys/health", None, None).map(|(s, _)| s)
}

fn node_config(data: &Path, i: usize, port: u16) -> String {
    format!(
        r#"storage "raft" {{
  path = "{data}"
  node_id = "n{i}"
  performance_multiplier = 1
  autopilot_reconcile_interval = "300ms"
  autopilot_update_interval = "100ms"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster}"
  tls_disable = true
}}
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cluster}"
"#,
        data = data.display(),
        cluster = port + 1,
    )
}

/// Starts node `i` on a free port pair and waits until it listens (sealed and not initialised:
/// 501 or 503). The pair is free when chosen but not held, so another test may take a port
/// before the node binds it (it then exits at once): the node is started again on another pair,
/// up to three times.
fn start_node(dir: &Path, i: usize) -> Node {
    let mut failures = Vec::new();
    for attempt in 0..3 {
        let port = free_port_pair();
        let data = dir.join(format!("data{i}-{attempt}"));
        std::fs::create_dir(&data).unwrap();
        let config = dir.join(format!("n{i}-{attempt}.hcl"));
        std::fs::write(&config, node_config(&data, i, port)).unwrap();
        let log = |ext: &str| {
            Stdio::from(std::fs::File::create(dir.join(format!("n{i}-{attempt}.{ext}"))).unwrap())
        };
        let mut cmd = Command::new(binary());
        cmd.arg("server")
            .arg(format!("-config={}", config.display()))
            .env("HOME", dir)
            .stdin(Stdio::null())
            .stdout(log("log"))
            .stderr(log("err"));
        // SAFETY: prctl is async-signal-safe; the node dies with the test thread.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut node = Node {
            port,
            address: format!("http://127.0.0.1:{port}"),
            child: cmd.spawn().expect("bao server (run scripts/test.sh)"),
            alive: true,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Its own banner first: the health answer may be another test's server on a port
            // this node could not bind.
            if said_it_started(&dir.join(format!("n{i}-{attempt}.log")))
                && matches!(health(port), Some(501 | 503))
            {
                return node;
            }
            if let Ok(Some(status)) = node.child.try_wait() {
                failures.push(format!("on port {port} it exited ({status})"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after 30 s waiting for raft node {i} to listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("raft node {i} did not start: {}", failures.join("; "));
}

impl RaftCluster {
    /// Starts three nodes, initialises and unseals them, waits for three voters, and mounts KV
    /// v2 at `secret/` (which only dev servers have by default).
    pub fn start() -> RaftCluster {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<Node> = (0..3).map(|i| start_node(dir.path(), i)).collect();
        let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
        let (status, init) = call_at(
            ports[0],
            "POST",
            "/v1/sys/init",
            None,
            Some(&json!({"secret_shares": 1, "secret_threshold": 1})),
        )
        .expect("init answers");
        assert_eq!(status, 200, "init: {init}");
        let key = init["keys_base64"][0].as_str().unwrap().to_string();
        let root = init["root_token"].as_str().unwrap().to_string();
        let unseal = |p: u16| {
            call_at(
                p,
                "POST",
                "/v1/sys/unseal",
                None,
                Some(&json!({"key": key})),
            )
        };
        unseal(ports[0]);
        wait_until(Duration::from_secs(30), "node 0 to become active", || {
            health(ports[0]) == Some(200)
        });
        // New voters are promoted only after server_stabilization_time (10 s by default).
        call_at(
            ports[0],
            "POST",
            "/v1/sys/storage/raft/autopilot/configuration",
            Some(&root),
            Some(&json!({"server_stabilization_time": "1s", "last_contact_threshold": "2s"})),
        );
        for &p in &ports[1..] {
            let leader = format!("http://127.0.0.1:{}", ports[0]);
            call_at(
                p,
                "POST",
                "/v1/sys/storage/raft/join",
                None,
                Some(&json!({"leader_api_addr": leader})),
            );
            unseal(p);
        }
        for &p in &ports[1..] {
            wait_until(
                Duration::from_secs(30),
                "a joined node to be a standby",
                || health(p) == Some(429),
            );
        }
        wait_until(Duration::from_secs(30), "three raft voters", || {
            call_at(
                ports[0],
                "GET",
                "/v1/sys/storage/raft/configuration",
                Some(&root),
                None,
            )
            .and_then(|(_, v)| {
                v["data"]["config"]["servers"]
                    .as_array()
                    .map(|s| s.iter().filter(|s| s["voter"] == true).count())
            }) == Some(3)
        });
        call_at(
            ports[0],
            "POST",
            "/v1/sys/mounts/secret",
            Some(&root),
            Some(&json!({"type": "kv", "options": {"version": "2"}})),
        );
        // The first write right after the mount may race the KV v2 upgrade.
        wait_until(
            Duration::from_secs(30),
            "the KV v2 mount to take writes",
            || {
                call_at(
                    ports[0],
                    "POST",
                    "/v1/secret/data/ready",
                    Some(&root),
                    Some(&json!({"data": {"ok": true}})),
                )
                .is_some_and(|(s, _)| s == 200)
            },
        );
        RaftCluster {
            nodes,
            root,
            _dir: dir,
        }
    }

    /// The node answering health 200 (the active one), if any.
    pub fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.alive && health(n.port) == Some(200))
    }

    /// SIGKILL of node `i`, reaped.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.child.kill().unwrap();
        node.child.wait().unwrap();
        node.alive = false;
    }

    /// A request to node `i` as root.
    pub fn call(&self, i: usize, method: &str, path: &str) -> Option<(u16, Value)> {
        call_at(self.nodes[i].port, method, path, Some(&self.root), None)
    }

    /// Waits until a surviving node is active again.
    pub fn wait_for_leader(&self, deadline: Duration) -> usize {
        let mut found = None;
        wait_until(deadline, "a new raft leader", || {
            found = self.leader();
            found.is_some()
        });
        found.unwrap()
    }
}

impl Drop for RaftCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if node.alive {
                let _ = node.child.kill();
                let _ = node.child.wait();
            }
        }
    }
}
