//! Every file in tests/valid_configs parses; every file in tests/invalid_configs fails with the
//! message written on its first line (`# error: LINE:COL: message`); profiles.example.toml parses
//! and mentions every key there is.

use std::path::{Path, PathBuf};
use tokdash::config::{Config, ProviderKind};

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    files
}

#[test]
fn valid_configs_parse() {
    for path in files("valid_configs") {
        let source = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = Config::parse(&path, &source) {
            panic!("{} should parse: {e}", path.display());
        }
    }
}

#[test]
fn invalid_configs_fail_with_file_line_column_and_the_expected_message() {
    for path in files("invalid_configs") {
        let source = std::fs::read_to_string(&path).unwrap();
        let expected = source
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# error: "))
            .unwrap_or_else(|| panic!("{} lacks its `# error:` line", path.display()));
        let error = Config::parse(&path, &source)
            .expect_err(&path.display().to_string())
            .to_string();
        assert_eq!(
            error,
            format!("{}:{expected}", path.display()),
            "case {}",
            path.display()
        );
    }
}

#[test]
fn the_example_parses_and_documents_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles.example.toml");
    let source = std::fs::read_to_string(&path).unwrap();
    let config = Config::parse(&path, &source).unwrap();
    for kind in ProviderKind::ALL {
        assert!(
            config.profiles.iter().any(|p| p.provider.kind() == kind),
            "the example has no {} profile",
            kind.as_str()
        );
    }
    let keys = [
        "refresh_ahead",
        "auto_refresh",
        "max_concurrency",
        "timeout",
        "ca_file",
        "login_warning",
        "refresh_token_lifetime",
        "refresh_token_idle",
        "provider",
        "client_id",
        "client_secret",
        "client_secret_env",
        "client_secret_cmd",
        "scopes",
        "domain",
        "audience",
        "tenant",
        "authority",
        "issuer",
        "token_url",
        "revocation_url",
        "device_authorization_url",
        "userinfo_url",
        "grant",
        "auth_method",
        "kube_token",
        "git_username",
        "access_token_file",
        "id_token_file",
        "on_refresh",
    ];
    for key in keys {
        let line = source
            .lines()
            .find(|l| l.trim_start_matches("# ").starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("the example does not show `{key}`"));
        assert!(
            line.contains(" # "),
            "`{key}` has no comment in the example: {line}"
        );
    }
}

#[test]
fn profiles_keep_the_order_of_the_file() {
    let src = "[profiles.zeta]\nprovider = \"google\"\nclient_id = \"c\"\n[profiles.alpha]\nprovider = \"google\"\nclient_id = \"c\"\n";
    let config = Config::parse(Path::new("x.toml"), src).unwrap();
    assert_eq!(config.names(), ["zeta", "alpha"]);
}

#[test]
fn microsoft_refresh_profiles_always_ask_for_offline_access() {
    let src = "[profiles.m]\nprovider = \"microsoft\"\ntenant = \"common\"\nclient_id = \"c\"\nscopes = [\"User.Read\"]\n";
    let config = Config::parse(Path::new("x.toml"), src).unwrap();
    assert_eq!(config.profiles[0].scopes, ["offline_access", "User.Read"]);
}

#[test]
fn the_example_documents_every_store_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles.example.toml");
    let source = std::fs::read_to_string(&path).unwrap();
    let store = &source[source.find("[store]").expect("the example has [store]")..];
    for key in [
        "backend",
        "address",
        "mount",
        "prefix",
        "token_env",
        "token_file",
        "namespace",
        "ca_file",
        "lock_ttl",
    ] {
        let line = store
            .lines()
            .find(|l| l.trim_start_matches("# ").starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("the example's [store] does not show `{key}`"));
        assert!(line.contains(" # "), "`{key}` has no comment: {line}");
    }
    // Uncommented, the team store's keys parse too.
    let team = source
        .replace("backend = \"files\"", "backend = \"openbao\"")
        .replace("# address = ", "address = ");
    let team: String = team
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if ["mount", "prefix", "token_env", "namespace", "lock_ttl"]
                    .iter()
                    .any(|k| rest.starts_with(&format!("{k} ="))) =>
            {
                rest.to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = Config::parse(&path, &team).unwrap();
    assert!(matches!(
        config.store,
        tokdash::config::StoreSettings::OpenBao(_)
    ));
}
