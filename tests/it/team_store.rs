//! The team store against a real OpenBao (`bao server -dev`: one shared by the tests that leave
//! it running, each under a prefix of its own; one of its own for a test that seals, stops or
//! kills it) and the real
//! authorization server with rotation and reuse detection: hosts are separate home, config and
//! data directories that share one team store (SPEC.md "Team store").

use crate::support::bao::{self, BaoServer, Host, alive, profile, stderr, stdout, store_block};
use crate::support::oidc::OidcServer;
use crate::support::wait_until;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A host of `bao` whose profile `p` holds a freshly minted token of `oidc`; returns it and
/// the refresh token imported.
fn host_with_token(
    bao: &BaoServer,
    oidc: &OidcServer,
    prefix: &str,
    extra: &str,
) -> (Host, String) {
    host_minted(
        &store_block(&bao.address, prefix, extra),
        &profile("p", oidc, ""),
        oidc,
    )
}

/// A host with `store` (the `[store]` body) and profile `p` as given, holding a freshly minted
/// token of `oidc`; returns it and the refresh token imported.
fn host_minted(store: &str, p: &str, oidc: &OidcServer) -> (Host, String) {
    let host = Host::new(store, p);
    let minted = oidc.mint_post();
    host.import("p", &minted);
    (host, minted["refresh_token"].as_str().unwrap().to_string())
}

fn stored_rt(bao: &BaoServer, prefix: &str) -> String {
    bao.record(prefix, "p").expect("a record on the server")["refresh_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_refresh_goes_through_the_team_store_under_a_lease_it_releases() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let (host, first_rt) = host_with_token(bao, &oidc, "t1", "");
    assert_eq!(
        stored_rt(bao, "t1"),
        first_rt,
        "import writes to the server"
    );
    assert!(
        !host.dir.path().join("data/tokdash/tokens/p.json").exists(),
        "no local record"
    );

    host.run_ok(&["refresh", "p"]);
    let rotated = stored_rt(bao, "t1");
    assert_ne!(
        rotated, first_rt,
        "the rotated refresh token is on the server"
    );
    assert!(alive(&oidc, &rotated), "its family is alive");
    assert!(bao.lease_free("t1", "p"), "released after the write");

    let token = stdout(&host.run_ok(&["token", "p"]));
    assert!(!token.trim().is_empty());
    let list = host.list();
    assert_eq!(list[0]["name"], "p");
    assert!(
        list[0]["unsynced"].is_null(),
        "written only when true: {list}"
    );
    assert_eq!(list[0]["has_refresh_token"], true);
    // The server token never reaches the log.
    assert!(!host.log_text().contains("X-Vault-Token: root"));
}

#[test]
fn a_second_host_sees_and_refreshes_the_first_hosts_record() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let (a, _) = host_with_token(bao, &oidc, "t2", "");
    let b = Host::new(
        &store_block(&bao.address, "t2", ""),
        &profile("p", &oidc, ""),
    );
    a.run_ok(&["refresh", "p"]);
    let after_a = stored_rt(bao, "t2");
    b.run_ok(&["refresh", "p"]);
    let after_b = stored_rt(bao, "t2");
    assert_ne!(after_a, after_b);
    assert!(
        alive(&oidc, &after_b),
        "no reuse detected: b used a's rotated token"
    );
}

/// One line on stderr, naming the store's address, and exit 1.
#[track_caller]
fn fails_naming(host: &Host, args: &[&str], address: &str, words: &str) {
    let out = host.run(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    let line = err
        .lines()
        .find(|l| l.contains("team store"))
        .unwrap_or_else(|| panic!("{args:?}: no team store line: {err}"));
    assert!(
        line.contains(address) && line.contains(words),
        "{args:?}: {line}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("team store")).count(),
        1,
        "{err}"
    );
    assert!(
        !err.contains("wrong-token-9f2") && !err.contains("root"),
        "{err}"
    );
}

#[test]
fn down_wrong_token_denied_and_sealed_each_get_one_line_naming_the_store() {
    let bao = BaoServer::dev();
    let oidc = OidcServer::start();
    let (mut host, _) = host_with_token(&bao, &oidc, "t3", "");

    // Wrong token.
    host.bao_token = "wrong-token-9f2".into();
    fails_naming(&host, &["refresh", "p"], &bao.address, "permission denied");
    fails_naming(&host, &["token", "p"], &bao.address, "BAO_TOKEN");

    // A policy that allows another prefix only.
    host.bao_token = bao.token_with_policy(
        "elsewhere",
        "path \"secret/data/other/*\" { capabilities = [\"create\", \"read\", \"update\"] }",
    );
    fails_naming(
        &host,
        &["refresh", "p"],
        &bao.address,
        "its policy allows secret/data/t3/*",
    );

    // Sealed.
    host.bao_token = bao::ROOT.into();
    bao.seal();
    fails_naming(&host, &["refresh", "p"], &bao.address, "sealed");

    // Down: nothing listens there.
    let port = bao::free_port_pair();
    let gone = format!("http://127.0.0.1:{port}");
    host.write_config(&store_block(&gone, "t3", ""), &profile("p", &oidc, ""));
    fails_naming(&host, &["refresh", "p"], &gone, "cannot connect");
}

/// The ACL policy of README "Team store", for prefix `team`, from the README itself.
fn readme_policy() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```hcl\n").expect("README has an hcl policy") + 7;
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

/// With token files to write after the refresh, the lease stays in the entry through the
/// record's write and is freed by a write of its own once the files are written.
#[test]
fn token_files_are_written_under_the_lease_which_is_freed_after_them() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let files = tempfile::tempdir().unwrap();
    let at_file = files.path().join("at");
    let host = Host::new(
        &store_block(&bao.address, "t16", ""),
        &profile(
            "p",
            &oidc,
            &format!("access_token_file = \"{}\"", at_file.display()),
        ),
    );
    let minted = oidc.mint_post();
    host.import("p", &minted);
    host.run_ok(&["refresh", "p"]);
    let record = bao.record("t16", "p").expect("a record on the server");
    assert_ne!(record["refresh_token"], minted["refresh_token"], "rotated");
    assert_eq!(
        std::fs::read_to_string(&at_file).unwrap().trim(),
        record["access_token"].as_str().unwrap(),
        "the file holds the stored access token"
    );
    assert!(bao.lease_free("t16", "p"), "freed after the files");
    host.run_ok(&["refresh", "p"]);
    assert!(alive(
        &oidc,
        bao.record("t16", "p").unwrap()["refresh_token"]
            .as_str()
            .unwrap()
    ));
}

#[test]
fn the_readme_policy_is_enough_and_keeps_other_prefixes_out() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let token = bao.token_with_policy("tokdash", &readme_policy());
    let mut host = Host::new(
        &store_block(&bao.address, "tokdash/ops", ""),
        &profile("p", &oidc, ""),
    );
    host.bao_token = token.clone();
    host.import("p", &oidc.mint_post());
    host.run_ok(&["refresh", "p"]);
    host.run_ok(&["token", "p"]);
    assert_eq!(host.list()[0]["has_refresh_token"], true);
    // The dashboard's poll: one LIST of detailed metadata.
    let (status, _) = bao
        .try_call(
            "LIST",
            "/v1/secret/detailed-metadata/tokdash/ops/",
            Some(&token),
            None,
        )
        .unwrap();
    assert_eq!(status, 200);
    // Nothing outside the prefix.
    let (status, _) = bao
        .try_call("GET", "/v1/secret/data/tokdash/other/p", Some(&token), None)
        .unwrap();
    assert_eq!(status, 403);
    // The lease went with the record's write.
    assert!(bao.lease_free("tokdash/ops", "p"));
    host.run_ok(&["refresh", "--all", "--force"]);
    assert!(bao.lease_free("tokdash/ops", "p"));
    assert!(alive(
        &oidc,
        bao.record("tokdash/ops", "p").unwrap()["refresh_token"]
            .as_str()
            .unwrap()
    ));
}

#[test]
fn tls_with_the_dev_servers_ca() {
    let bao = BaoServer::dev_tls();
    let oidc = OidcServer::start();
    let ca = bao.ca.clone().unwrap();
    let extra = format!("ca_file = \"{}\"", ca.display());
    // The server may need a moment after it listens: the first import is retried until then.
    let host = Host::new(
        &store_block(&bao.address, "t5", &extra),
        &profile("p", &oidc, ""),
    );
    let minted = oidc.mint_post();
    wait_until(
        Duration::from_secs(20),
        "the TLS server to take a write",
        || {
            let out = host
                .cmd(&["import", "p"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map(|mut c| {
                    c.stdin
                        .take()
                        .unwrap()
                        .write_all(minted.to_string().as_bytes())
                        .unwrap();
                    c.wait().unwrap()
                });
            out.is_ok_and(|s| s.success())
        },
    );
    host.run_ok(&["refresh", "p"]);
    let without = Host::new(
        &store_block(&bao.address, "t5", ""),
        &profile("p", &oidc, ""),
    );
    fails_naming(&without, &["refresh", "p"], &bao.address, "cannot connect");
}

/// A loopback TCP proxy to `upstream` for the token endpoint. `Pass`: forwards both ways and
/// calls `on_answer` once, when the first answer comes back, before passing it on. `Swallow`:
/// takes requests and never answers.
enum Proxy {
    /// Passes both ways; calls the hook (once) before the first answer goes back.
    Pass(Box<dyn Fn() + Send + Sync>),
    Swallow,
    /// Passes both ways while the gate is open; what a client sends while it is shut is
    /// dropped and never answered (a server that vanished, with nothing landing later).
    Gate(Arc<AtomicBool>),
}

fn proxy(upstream: u16, mode: Proxy) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = Arc::new(mode);
    let fired = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { return };
            let mode = mode.clone();
            let fired = fired.clone();
            std::thread::spawn(move || match &*mode {
                Proxy::Swallow => {
                    let mut sink = [0u8; 4096];
                    while client.read(&mut sink).is_ok_and(|n| n > 0) {}
                }
                Proxy::Gate(open) => {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    let mut back = server.try_clone().unwrap();
                    let mut to_client = client.try_clone().unwrap();
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut back, &mut to_client);
                    });
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = client.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if open.load(Ordering::SeqCst) && server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server.shutdown(std::net::Shutdown::Write);
                }
                Proxy::Pass(on_answer) => {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    let (mut c2, mut s2) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c2, &mut s2);
                        let _ = s2.shutdown(std::net::Shutdown::Write);
                    });
                    let mut buf = [0u8; 16384];
                    loop {
                        let n = match server.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if !fired.swap(true, Ordering::SeqCst) {
                            on_answer();
                        }
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Write);
                }
            });
        }
    });
    port
}

fn oidc_port(oidc: &OidcServer) -> u16 {
    oidc.issuer.rsplit(':').next().unwrap().parse().unwrap()
}

/// The token endpoint of the real server, through a proxy.
fn token_url_through(oidc: &OidcServer, port: u16) -> String {
    let path = oidc_token_path(oidc);
    format!("token_url = \"http://127.0.0.1:{port}{path}\"")
}

fn oidc_token_path(oidc: &OidcServer) -> String {
    let doc: Value = {
        let mut s = TcpStream::connect(("127.0.0.1", oidc_port(oidc))).unwrap();
        write!(
            s,
            "GET /.well-known/openid-configuration HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap()
    };
    let url = doc["token_endpoint"].as_str().unwrap();
    url[url.find("127.0.0.1").unwrap()..]
        .split_once('/')
        .map(|(_, p)| format!("/{p}"))
        .unwrap()
}

#[test]
fn openbao_stopped_between_the_answer_and_the_write_spills_then_syncs() {
    let bao = Arc::new(BaoServer::dev());
    let oidc = OidcServer::start();
    let pid = bao.pid();
    let port = proxy(
        oidc_port(&oidc),
        // SAFETY: kill(2) of the test's own OpenBao.
        Proxy::Pass(Box::new(move || unsafe {
            libc::kill(pid, libc::SIGSTOP);
        })),
    );
    let store = store_block(&bao.address, "t6", "lock_ttl = \"3s\"");
    let (host, first_rt) = host_minted(
        &store,
        &profile("p", &oidc, &token_url_through(&oidc, port)),
        &oidc,
    );

    // The provider rotates, then OpenBao stops before the write: the spill keeps the new token.
    let out = host.run(&["refresh", "p"]);
    assert!(
        out.status.success(),
        "the refresh is kept: {}",
        stderr(&out)
    );
    // Seen missing once in a loaded full run (not reproduced since): say what tokdash logged.
    let spill = std::fs::read(host.spill("p")).unwrap_or_else(|e| {
        panic!(
            "no spill ({e}); stdout: {}; log:\n{}",
            stdout(&out),
            host.log_text()
        )
    });
    let spilled: Value = serde_json::from_slice(&spill).unwrap();
    let new_rt = spilled["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_rt, first_rt);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&host.spill("p")), 0o600);
    assert_eq!(mode(host.spill("p").parent().unwrap()), 0o700);
    let list = host.list();
    assert_eq!(list[0]["unsynced"], true, "{list}");
    assert!(stdout(&host.run(&["list"])).contains("unsynced"));

    bao.signal(libc::SIGCONT);
    // The write that timed out may still land now, from the socket's buffer (OpenBao reads it
    // after SIGCONT): the server holds the old token or the spilled one, never anything else.
    let now_stored = stored_rt(&bao, "t6");
    assert!(
        now_stored == first_rt || now_stored == new_rt,
        "{now_stored}"
    );
    // The next process that reaches the server writes it, once the vanished lease is free.
    wait_until(
        Duration::from_secs(30),
        "the spill to reach the team store",
        || {
            let list = host.list();
            list[0]["name"] == "p" && list[0]["unsynced"].is_null()
        },
    );
    assert_eq!(stored_rt(&bao, "t6"), new_rt);
    assert!(!host.spill("p").exists());
    // And it still refreshes: no reuse detected. (The proxy fires once only.)
    host.run_ok(&["refresh", "p"]);
    let latest = stored_rt(&bao, "t6");
    assert_ne!(latest, new_rt);
    assert!(alive(&oidc, &latest));
}

/// A rotated token spilled while the server was unreachable, and meanwhile another host's
/// refresh failed before reaching the provider and stored only that (the same tokens, a later
/// generation): the sync writes the spill over it, since it holds the one live refresh token.
#[test]
fn a_spill_is_written_over_a_team_record_that_only_changed_facts_meanwhile() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let open = Arc::new(AtomicBool::new(true));
    let gate = proxy(
        bao.address.rsplit(':').next().unwrap().parse().unwrap(),
        Proxy::Gate(open.clone()),
    );
    let shut = open.clone();
    let token_port = proxy(
        oidc_port(&oidc),
        Proxy::Pass(Box::new(move || shut.store(false, Ordering::SeqCst))),
    );
    let gated = store_block(
        &format!("http://127.0.0.1:{gate}"),
        "t17",
        "lock_ttl = \"3s\"",
    );
    let (a, first_rt) = host_minted(
        &gated,
        &profile("p", &oidc, &token_url_through(&oidc, token_port)),
        &oidc,
    );

    // The provider rotates, then nothing a sends reaches the server: the spill keeps the token.
    let out = a.run(&["refresh", "p"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let spilled: Value = serde_json::from_slice(&std::fs::read(a.spill("p")).unwrap()).unwrap();
    let new_rt = spilled["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_rt, first_rt);
    assert_eq!(stored_rt(bao, "t17"), first_rt, "nothing of a's landed");

    // Host b's refresh fails before the provider (a dead token endpoint), once a's lease has
    // expired, and stores only that: same tokens, a newer generation than a's spill.
    let dead = bao::free_port_pair();
    let b = Host::new(
        &store_block(&bao.address, "t17", "lock_ttl = \"3s\""),
        &profile(
            "p",
            &oidc,
            &format!("token_url = \"http://127.0.0.1:{dead}/token\""),
        ),
    );
    let out = b.run(&["refresh", "p"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let team = bao.record("t17", "p").unwrap();
    assert!(
        !team["last_error"].is_null(),
        "b stored its failure: {team}"
    );
    assert!(
        team["generation"].as_u64() >= spilled["generation"].as_u64(),
        "b's record is as new as the spill: {} vs {}",
        team["generation"],
        spilled["generation"]
    );

    // The server is back for a: its next command writes the spill over b's record.
    open.store(true, Ordering::SeqCst);
    let list = a.list();
    assert!(list[0]["unsynced"].is_null(), "{list}");
    assert!(!a.spill("p").exists());
    assert_eq!(
        stored_rt(bao, "t17"),
        new_rt,
        "the one live token is the team's"
    );
    let c = Host::new(
        &store_block(&bao.address, "t17", ""),
        &profile("p", &oidc, ""),
    );
    c.run_ok(&["refresh", "p"]);
    assert!(alive(&oidc, &stored_rt(bao, "t17")), "no reuse detected");
}

#[test]
fn two_hosts_five_processes_each_refresh_one_rotating_profile_at_once() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let (a, _) = host_with_token(bao, &oidc, "t7", "");
    let b = Host::new(
        &store_block(&bao.address, "t7", ""),
        &profile("p", &oidc, ""),
    );
    let children: Vec<_> = (0..10)
        .map(|i| {
            let host = if i % 2 == 0 { &a } else { &b };
            host.cmd(&["refresh", "p"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    crate::support::wait_all_succeeded(children, "refresh p on two hosts");
    let rt = stored_rt(bao, "t7");
    assert!(alive(&oidc, &rt), "the family is alive");
    b.run_ok(&["refresh", "p"]);
    assert!(alive(&oidc, &stored_rt(bao, "t7")));
}

#[test]
fn a_holder_killed_with_the_lease_holds_it_until_lock_ttl_only() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let port = proxy(oidc_port(&oidc), Proxy::Swallow);
    let store = store_block(&bao.address, "t8", "lock_ttl = \"3s\"");
    // Host a's token endpoint never answers: it holds the lease while it waits.
    let a = Host::new(
        &store,
        &profile("p", &oidc, &token_url_through(&oidc, port)),
    );
    a.set_request_timeout("60s");
    let minted = oidc.mint_post();
    a.import("p", &minted);
    let mut holder = a.cmd(&["refresh", "p"]).spawn().unwrap();
    wait_until(Duration::from_secs(20), "a to hold the lease", || {
        bao.lease("t8", "p").is_some()
    });
    let killed = Instant::now();
    holder.kill().unwrap();
    holder.wait().unwrap();

    let b = Host::new(&store, &profile("p", &oidc, ""));
    b.run_ok(&["refresh", "p"]);
    let waited = killed.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "the lease held for lock_ttl: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(20),
        "then it was free: {waited:?}"
    );
    let rt = stored_rt(bao, "t8");
    assert_ne!(rt, minted["refresh_token"].as_str().unwrap());
    assert!(alive(&oidc, &rt));
}

#[test]
fn the_dashboard_names_the_store_and_sees_another_hosts_refresh() {
    use crate::support::tmux::Tmux;
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let (a, _) = host_with_token(bao, &oidc, "t9", "");
    let b = Host::new(
        &store_block(&bao.address, "t9", ""),
        &profile("p", &oidc, ""),
    );
    let mut envs = a.envs();
    envs.push(("BAO_TOKEN", bao::ROOT.into()));
    let tmux = Tmux::start(&[], &envs, 140, 12);
    tmux.wait_for_text(
        &format!("store OpenBao {} secret/t9", bao.address),
        Duration::from_secs(20),
    );
    tmux.wait_for("p's row", Duration::from_secs(20), |s| {
        s.lines().any(|l| l.contains("oidc") && l.contains("never"))
    });
    b.run_ok(&["refresh", "p"]);
    let refreshed = Instant::now();
    tmux.wait_for(
        "b's refresh on a's dashboard",
        Duration::from_secs(20),
        |s| s.lines().any(|l| l.contains("oidc") && l.contains(" ago")),
    );
    let seen_after = refreshed.elapsed();
    assert!(
        seen_after <= Duration::from_secs(5),
        "seen after {seen_after:?}"
    );
    tmux.keys(&["q"]);
}

#[test]
fn migrate_copies_local_records_under_the_lease_and_skips_newer_team_records() {
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let host = Host::new(
        &store_block(&bao.address, "t10", ""),
        &format!("{}{}", profile("p", &oidc, ""), profile("q", &oidc, "")),
    );
    let local = host.dir.path().join("old-tokens");
    let local_arg = local.to_str().unwrap();
    for name in ["p", "q"] {
        let mut child = host
            .cmd(&["--store", local_arg, "import", name])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(oidc.mint_post().to_string().as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    assert!(
        bao.record("t10", "p").is_none(),
        "--store chose the local store"
    );
    // q's team record is refreshed later than its local one: it stays.
    let newer = oidc.mint_post();
    host.import("q", &newer);
    let out = host.run_ok(&["store", "migrate", "--from", local_arg]);
    let text = stdout(&out);
    assert!(text.lines().any(|l| l == "p: copied"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("q: skipped: the team store's record is as new or newer")),
        "{text}"
    );
    assert_eq!(
        bao.record("t10", "q").unwrap()["refresh_token"],
        newer["refresh_token"],
        "never over a newer record"
    );
    host.run_ok(&["refresh", "p"]);
    assert!(alive(&oidc, &stored_rt(bao, "t10")));
}

/// Host a's `refresh p` SIGSTOPped by the test between the provider's answer (a rotated refresh
/// token, waiting unread in its socket) and its write, with `lock_ttl = 3s`.
struct PausedHolder {
    a: Host,
    bao: &'static BaoServer,
    oidc: OidcServer,
    store: String,
    prefix: &'static str,
    child: std::process::Child,
    paused_at: Instant,
    /// The refresh token a spent.
    spent_rt: String,
}

fn pause_a_holder(prefix: &'static str) -> PausedHolder {
    use std::sync::atomic::AtomicI32;
    let bao = BaoServer::shared();
    let oidc = OidcServer::start();
    let holder_pid = Arc::new(AtomicI32::new(0));
    let pid = holder_pid.clone();
    let port = proxy(
        oidc_port(&oidc),
        // SAFETY: kill(2) of the test's own tokdash child, whose pid is set before it runs.
        Proxy::Pass(Box::new(move || unsafe {
            libc::kill(pid.load(Ordering::SeqCst), libc::SIGSTOP);
        })),
    );
    let store = store_block(&bao.address, prefix, "lock_ttl = \"3s\"");
    let a = Host::new(
        &store,
        &profile("p", &oidc, &token_url_through(&oidc, port)),
    );
    // A long request timeout: on SIGCONT, a reads the answer waiting in its socket instead of
    // timing out the request that was in flight while it was stopped.
    a.set_request_timeout("60s");
    let minted = oidc.mint_post();
    a.import("p", &minted);
    let child = a
        .cmd(&["refresh", "p"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    holder_pid.store(child.id() as i32, Ordering::SeqCst);
    wait_until(
        Duration::from_secs(20),
        "a to be paused with the answer",
        || {
            std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
                .is_ok_and(|s| s.split_whitespace().nth(2) == Some("T"))
        },
    );
    let paused_at = Instant::now();
    let lease = bao.lease(prefix, "p").expect("a holds the lease");
    assert!(
        lease["holder"].as_str().is_some_and(|h| !h.is_empty()),
        "{lease}"
    );
    PausedHolder {
        a,
        bao,
        oidc,
        store,
        prefix,
        child,
        paused_at,
        spent_rt: minted["refresh_token"].as_str().unwrap().to_string(),
    }
}

impl PausedHolder {
    /// SIGCONT, then a's exit status and stderr.
    fn resume(mut self) -> (Self, Option<i32>, String) {
        // SAFETY: kill(2) of our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGCONT);
        }
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (self, status.code(), err)
    }

    /// b took a's lease over: it had to wait. a renewed its lease at most lock_ttl / 3 = 1 s
    /// before it stopped, and the lease expires 3 s after that by the server's clock.
    #[track_caller]
    fn assert_waited(&self) {
        assert!(
            self.paused_at.elapsed() >= Duration::from_millis(1500),
            "b waited for a's lease to expire: {:?}",
            self.paused_at.elapsed()
        );
    }
}

/// A holder paused (SIGSTOP) past lock_ttl, between the provider's answer and its write, while
/// another host takes the lease over and stores a newer record (a fresh grant: spending the
/// paused holder's refresh token again would make the real server revoke the family, a risk
/// no lease can remove; RELIABILITY.md). When the holder resumes, its check-and-set write fails:
/// the newer record stays, and the paused holder says so and keeps nothing.
#[test]
fn a_holder_paused_past_lock_ttl_cannot_overwrite_the_newer_record() {
    let held = pause_a_holder("t11");
    let newer = held.oidc.mint_post();
    // Host b logs in afresh (here: imports a new grant) once a's lease has expired.
    let b = Host::new(&held.store, &profile("p", &held.oidc, ""));
    b.import("p", &newer);
    held.assert_waited();
    let newer_rt = newer["refresh_token"].as_str().unwrap();
    assert_eq!(stored_rt(held.bao, held.prefix), newer_rt);

    let (held, code, err) = held.resume();
    assert_eq!(code, Some(1), "a reports the lost write: {err}");
    let line = err
        .lines()
        .find(|l| l.contains("team store"))
        .unwrap_or_default();
    assert!(
        line.contains(&held.bao.address) && line.contains("lock_ttl"),
        "one line naming the store and why: {err}"
    );
    assert!(!err.contains(newer_rt) && !err.contains(&held.spent_rt));
    // The newer record stays; a spilled nothing and shows nothing unsynced.
    assert_eq!(stored_rt(held.bao, held.prefix), newer_rt);
    assert!(!held.a.spill("p").exists(), "nothing kept in the spill");
    let list = held.a.list();
    assert!(list[0]["unsynced"].is_null(), "{list}");
    assert_eq!(stored_rt(held.bao, held.prefix), newer_rt);
    // And the team's grant still refreshes (no reuse detected).
    b.run_ok(&["refresh", "p"]);
    let latest = stored_rt(held.bao, held.prefix);
    assert_ne!(latest, newer_rt);
    assert!(alive(&held.oidc, &latest));
}

/// The same pause, but the host that takes the lease over only stores facts: its refresh fails
/// before reaching the provider (its token endpoint is down), so the record keeps the token a
/// already spent. a's rotated token is then the only live one: on SIGCONT a writes it over that
/// record, and the family lives on.
#[test]
fn a_paused_holders_rotated_token_wins_over_a_record_that_changed_only_facts() {
    let held = pause_a_holder("t12");
    let dead = bao::free_port_pair();
    let b_down = Host::new(
        &held.store,
        &profile(
            "p",
            &held.oidc,
            &format!("token_url = \"http://127.0.0.1:{dead}/token\""),
        ),
    );
    let out = b_down.run(&["refresh", "p"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    held.assert_waited();
    assert_eq!(stored_rt(held.bao, held.prefix), held.spent_rt);
    let facts = held.bao.record(held.prefix, "p").unwrap();
    assert!(
        !facts["last_error"].is_null(),
        "b stored its failure: {facts}"
    );

    let (held, code, err) = held.resume();
    assert_eq!(code, Some(0), "{err}");
    let rotated = stored_rt(held.bao, held.prefix);
    assert_ne!(rotated, held.spent_rt, "a's rotated token is the team's");
    assert!(alive(&held.oidc, &rotated));
    assert!(!held.a.spill("p").exists());
    let b = Host::new(&held.store, &profile("p", &held.oidc, ""));
    assert!(b.list()[0]["unsynced"].is_null());
    b.run_ok(&["refresh", "p"]);
    assert!(alive(&held.oidc, &stored_rt(held.bao, held.prefix)));
}
