//! The team store on a 3-node OpenBao raft cluster whose leader is killed (SIGKILL) in the middle
//! of `refresh --all --force` of 200 rotating profiles (issue 13): nothing may be lost. tokdash
//! talks to one standby that survives, as a host pointed at "any node" (or at a load balancer
//! that landed on that node) would: a standby forwards to the leader, answers 307/500 while
//! there is none, and forwards to the new one after the election (OPENBAO.md 6.4).

use crate::support::bao::{Host, profile, stderr, stdout, store_block};
use crate::support::oidc::OidcServer;
use crate::support::raft::RaftCluster;
use crate::support::wait_until;
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

const PROFILES: usize = 200;
const PREFIX: &str = "fo";

/// `n` independent grants of the real server, minted by one node process (bench/mint_many.mjs).
fn mint_many(oidc: &OidcServer, n: usize) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/mint_many.mjs");
    let out = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()))
        .args([script, &oidc.issuer, &n.to_string(), "8"])
        .stdin(Stdio::null())
        .output()
        .expect("node bench/mint_many.mjs");
    assert!(
        out.status.success(),
        "mint_many: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(minted.len(), n);
    minted
}

/// Imports `minted[i]` as `names[i]`, eight processes at a time.
fn import_all(host: &Host, names: &[String], minted: &[Value]) {
    for (names, minted) in names.chunks(8).zip(minted.chunks(8)) {
        let children: Vec<_> = names
            .iter()
            .zip(minted)
            .map(|(name, response)| {
                let mut cmd = host.cmd(&["import", name]);
                cmd.stdout(Stdio::null()).stderr(Stdio::piped());
                crate::support::spawn_with_stdin(&mut cmd, &response.to_string())
            })
            .collect();
        crate::support::wait_all_succeeded(children, "import");
    }
}

/// Every entry's current version, as node `i` lists them: one request, whatever the count.
fn versions(cluster: &RaftCluster, i: usize) -> HashMap<String, u64> {
    cluster
        .call(
            i,
            "LIST",
            &format!("/v1/secret/detailed-metadata/{PREFIX}/"),
        )
        .and_then(|(_, v)| {
            v["data"]["key_info"].as_object().map(|info| {
                info.iter()
                    .filter(|(k, _)| !k.ends_with('/'))
                    .map(|(k, m)| (k.clone(), m["current_version"].as_u64().unwrap_or(0)))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// How many records were written again since `before` (the lease's write and the record's:
/// two versions each), as node `i` lists them.
fn rewritten(cluster: &RaftCluster, i: usize, before: &HashMap<String, u64>) -> usize {
    versions(cluster, i)
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|b| **v >= b + 2))
        .count()
}

#[test]
fn the_leader_killed_during_refresh_all_of_200_loses_no_refresh_token() {
    let mut cluster = RaftCluster::start();
    assert_eq!(cluster.leader(), Some(0), "node 0 leads after start");
    let oidc = OidcServer::start();
    let names: Vec<String> = (0..PROFILES).map(|i| format!("p{i:03}")).collect();
    let profiles: String = names.iter().map(|n| profile(n, &oidc, "")).collect();
    // Pointed at node 1, a standby that survives. lock_ttl short: a lease whose release was
    // lost in the failover frees itself within the test.
    let host = Host::new(
        &store_block(&cluster.nodes[1].address, PREFIX, "lock_ttl = \"5s\""),
        &profiles,
    );
    let mut host = host;
    host.bao_token = cluster.root.clone();
    let minted = mint_many(&oidc, PROFILES);
    import_all(&host, &names, &minted);
    let imported = versions(&cluster, 1);
    assert_eq!(imported.len(), PROFILES, "every profile imported");

    let child = host
        .cmd(&["refresh", "--all", "--force"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = std::thread::spawn(move || child.wait_with_output().unwrap());
    // The kill lands once the refresh is under way: 30 records rewritten.
    wait_until(Duration::from_secs(60), "30 records refreshed", || {
        rewritten(&cluster, 1, &imported) >= 30 || run.is_finished()
    });
    assert!(!run.is_finished(), "the refresh ended before the kill");
    // The leader now (a loaded machine may have moved it since the start), never the node
    // tokdash talks to: a host whose only address dies cannot reach the cluster (README).
    let leader = cluster.leader().expect("a leader before the kill");
    assert_ne!(
        leader, 1,
        "the node tokdash talks to became the leader before the kill"
    );
    cluster.kill(leader);
    let at_kill = rewritten(&cluster, 1, &imported);
    let out = run.join().unwrap();
    let first = stderr(&out);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{first}"
    );
    let spilled_after_first = std::fs::read_dir(host.data().join("spill"))
        .map(|d| d.count())
        .unwrap_or(0);
    eprintln!(
        "failover: killed with {at_kill}/{PROFILES} rewritten; first run exit {:?}, {} failed, {spilled_after_first} spilled",
        out.status.code(),
        first.lines().filter(|l| l.starts_with("tokdash: ")).count()
    );
    // The client saw the failover (307s, 500s, cut connections) and retried through it.
    assert!(
        host.log_text().contains("; retrying"),
        "no request met the failover"
    );
    let killed = leader;
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    assert_ne!(leader, killed);
    // Each failure is one line naming the store and what to do, and no token.
    for line in first.lines().filter(|l| l.starts_with("tokdash: ")) {
        assert!(
            line.contains("team store") && line.contains(&cluster.nodes[1].address),
            "{line}"
        );
    }
    assert!(
        !first.contains(&cluster.root),
        "the server token is never printed"
    );

    // Anything spilled reaches the cluster once it has a leader: `list` syncs it (a spilled
    // record whose lease was lost in the failover waits for lock_ttl).
    wait_until(Duration::from_secs(60), "no profile unsynced", || {
        let list = host.list();
        list.as_array()
            .is_some_and(|l| l.len() == PROFILES && l.iter().all(|p| p["unsynced"].is_null()))
    });
    let spill = host.data().join("spill");
    let left: Vec<_> = std::fs::read_dir(&spill)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the spill: {left:?}");

    // Every stored refresh token works: a second forced refresh of all 200 succeeds (the real
    // server revokes the family of a refresh token used twice, which would fail it).
    let second = host.run(&["refresh", "--all", "--force"]);
    assert!(
        second.status.success(),
        "after the failover (killed with {at_kill} of {PROFILES} rewritten; first run: {first}): {}",
        stderr(&second)
    );
    let rotated = stdout(&second)
        .lines()
        .filter(|l| l.contains("new refresh token stored"))
        .count();
    assert_eq!(rotated, PROFILES, "{}", stdout(&second));
    for name in ["p000", "p100", "p199"] {
        let (status, json) = cluster
            .call(leader, "GET", &format!("/v1/secret/data/{PREFIX}/{name}"))
            .unwrap();
        assert_eq!(status, 200);
        let rt = json["data"]["data"]["record"]["refresh_token"]
            .as_str()
            .unwrap();
        assert!(
            crate::support::bao::alive(&oidc, rt),
            "{name}'s family is alive"
        );
    }
}
