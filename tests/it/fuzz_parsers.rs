//! Property tests of every parser that reads input from outside the program: whatever the
//! bytes, no panic, and errors never quote the input (it may hold a token). The long fuzz runs
//! use more cases: `PROPTEST_CASES=200000 cargo test --release --test it fuzz_parsers::`.
//!
//! Token responses, OAuth errors, device authorizations, JWTs and configs; then stored token
//! records (`FileStore::load`), OIDC discovery documents (fetched and cached) and the rate-limit
//! headers of a 429 (`Retry-After`, `X-RateLimit-Reset`, through `Http::send` and the engine).
//! Four properties here found bugs (a secret quoted by a record error, three overflows), since fixed.

use proptest::prelude::*;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokdash::config::Config;
use tokdash::oauth::Http;
use tokdash::oauth::discovery::Discovery;
use tokdash::provider::Endpoints;
use tokdash::provider::oidc::endpoints_from_document;
use tokdash::secret::Secret;
use tokdash::store::{FileStore, LastError, Standing, TokenRecord};

/// Bytes that look like JSON token responses often enough to reach deep into the parsers.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just("null".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f}")),
        "[a-zA-Z0-9._~+/=-]{0,40}".prop_map(|s| format!("\"{s}\"")),
        Just("\"\\u0000\\ud800\"".to_string()),
        Just("{}".to_string()),
        Just("[1,\"x\"]".to_string()),
    ];
    let key = prop_oneof![
        Just("access_token"),
        Just("refresh_token"),
        Just("id_token"),
        Just("expires_in"),
        Just("token_type"),
        Just("scope"),
        Just("error"),
        Just("error_description"),
        Just("error_codes"),
        Just("device_code"),
        Just("user_code"),
        Just("verification_uri"),
        Just("verification_url"),
        Just("interval"),
        Just("exp"),
    ];
    let object = prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(",")).into_bytes()
    });
    prop_oneof![
        object.clone(),
        any::<Vec<u8>>(),
        object.prop_flat_map(|b| {
            let len = b.len();
            (Just(b), 0..=len).prop_map(|(b, cut)| b[..cut].to_vec())
        })
    ]
}

const MARKER: &str = "SECRETMARKER";

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn token_responses_never_panic(bytes in jsonish()) {
        let _ = tokdash::oauth::token_response::parse(&bytes);
        let _ = tokdash::oauth::error::parse(400, &bytes);
        let _ = tokdash::oauth::device::parse_authorization(&bytes, 0);
    }

    #[test]
    fn token_response_errors_never_quote_a_token(extra in jsonish()) {
        let mut bytes = format!("{{\"access_token\":\"{MARKER}\",").into_bytes();
        bytes.extend_from_slice(&extra);
        if let Err(e) = tokdash::oauth::token_response::parse(&bytes) {
            prop_assert!(!e.to_string().contains(MARKER), "{}", e);
        }
    }

    #[test]
    fn jwts_never_panic(header in any::<Vec<u8>>(), claims in jsonish(), sig in "[a-zA-Z0-9_-]{0,10}") {
        use base64::Engine;
        let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let token = format!("{}.{}.{sig}", enc(&header), enc(&claims));
        let _ = tokdash::jwt::expiry(&token);
        let _ = tokdash::jwt::decode(&token);
    }

    #[test]
    fn arbitrary_text_as_jwt_never_panics(text in ".{0,200}") {
        let _ = tokdash::jwt::expiry(&text);
    }

    #[test]
    fn configs_never_panic_and_errors_have_a_position(text in config_text()) {
        if let Err(e) = Config::parse(Path::new("f.toml"), &text) {
            let message = e.to_string();
            prop_assert!(message.starts_with("f.toml:"), "{}", message);
        }
    }
}

/// Config values from the config's own vocabulary, as TOML text.
#[rustfmt::skip]
const VALUES: &[&str] = &[
    "\"google\"", "\"auth0\"", "\"microsoft\"",
    "\"oidc\"", "\"oauth2\"", "\"http://x.example/t\"",
    "\"https://x.example/t\"", "\"5m\"", "\"client_credentials\"",
    "[\"a\", \"b\"]", "[]", "7",
    "true",
];

/// Endpoint URLs the rule lets through, however they are spelt.
#[rustfmt::skip]
const GOOD_URLS: &[&str] = &[
    "https://idp.example.com/token", "HTTPS://IDP.EXAMPLE.COM/T", "https://other.example.com/realms/ops",
    "https://idp.example.com.evil.example/realms/ops", "http://127.0.0.1:8080/token", "http://127.8.9.10/token",
    "http://127.1/token", "http://[::1]:9/token", "http://localhost/token",
    "http://LocalHost:1/token", "http://2130706433/token", "http://0x7f.1/token",
    "http://①②⑦.0.0.1/token", "  https://idp.example.com/token\t", "https:idp.example.com/token",
    "https://bücher.example/token", "https://例え.テスト/トークン",
];

/// Endpoint URLs the rule refuses.
#[rustfmt::skip]
const BAD_URLS: &[&str] = &[
    "http://localhost./token", "http://localhost.evil.example/token", "http://127.0.0.1.nip.io/token",
    "http://[::ffff:127.0.0.1]/token", "http://0.0.0.0/token", "http://10.0.0.1/token",
    "http://idp.example.com/token", "https://user:pw@idp.example.com/token", "http://user@127.0.0.1/token",
    "https://idp.example.com/token#frag", "\thttp://evil.example/token", "http:/\\evil.example/token",
    "//idp.example.com/token", "/token", "ftp://idp.example.com/token",
    "javascript:alert(1)", "file:///etc/passwd", "",
];

/// Any one of `values`, owned, each equally likely.
fn owned_one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(values).prop_map(str::to_string)
}

/// TOML that is mostly well-formed, with keys and values from the config's own vocabulary.
fn config_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("provider"),
        Just("client_id"),
        Just("client_secret"),
        Just("client_secret_env"),
        Just("client_secret_cmd"),
        Just("scopes"),
        Just("domain"),
        Just("tenant"),
        Just("issuer"),
        Just("token_url"),
        Just("grant"),
        Just("auth_method"),
        Just("refresh_ahead"),
        Just("bogus"),
    ];
    let value = prop_oneof![
        VALUES.len() as u32 => owned_one_of(VALUES),
        1 => ".{0,12}".prop_map(|s| format!("\"{}\"", s.replace(['"', '\\'], ""))),
        1 => ".{0,8}",
    ];
    let name = prop_oneof![
        Just("p".to_string()),
        Just("a.b-c_d".to_string()),
        Just("\".x\"".to_string()),
        "[a-z]{1,5}"
    ];
    let table = (name, prop::collection::vec((key, value), 0..8)).prop_map(|(n, kv)| {
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!("[profiles.{n}]\n{}\n", body.join("\n"))
    });
    prop::collection::vec(table, 0..4).prop_map(|t| t.concat())
}

// ---------------------------------------------------------------------------------------------
// Stored token records: `FileStore::load` reads `<name>.json` from the store directory.

/// A store in a fresh temporary directory, `0700` as `FileStore::open` demands.
fn private_store() -> (tempfile::TempDir, FileStore) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    (tmp, store)
}

/// The store of this test thread: one directory for all of a property's cases, each case writing
/// over the last one's record.
fn thread_store() -> FileStore {
    thread_local! {
        static STORE: (tempfile::TempDir, FileStore) = private_store();
    }
    STORE.with(|(_, store)| store.clone())
}

/// Writes `bytes` as profile `p`'s record and loads it: the error's text, if loading fails.
fn load_error(bytes: &[u8]) -> Option<String> {
    let store = thread_store();
    write_record(&store, "p", bytes);
    store.load("p").err().map(|e| e.to_string())
}

/// Writes `bytes` as the record of `name`, `0600` as `FileStore::load` demands.
fn write_record(store: &FileStore, name: &str, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(store.record_path(name))
        .unwrap();
    file.write_all(bytes).unwrap();
}

/// A JSON value, as text, for a record's fields. With `marked`, strings may hold [`MARKER`].
fn record_scalar(marked: bool) -> BoxedStrategy<String> {
    let plain = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f}")),
        Just("18446744073709551616".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("1e400".to_string()),
        "[a-zA-Z0-9._~+/=-]{0,40}".prop_map(|s| format!("\"{s}\"")),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        prop_oneof![
            Just("active"),
            Just("needs_login"),
            Just("revoked"),
            Just("Active"),
            Just("")
        ]
        .prop_map(|s| format!("\"{s}\"")),
        Just("\"\\u0000\\ud800\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[1,\"x\"]".to_string()),
    ];
    if marked {
        prop_oneof![
            3 => plain,
            1 => "[a-zA-Z0-9._-]{0,8}".prop_map(|p| format!("\"{p}{MARKER}{p}\"")),
        ]
        .boxed()
    } else {
        plain.boxed()
    }
}

/// A record's JSON, mostly object-shaped, with the keys of `TokenRecord` and `LastError`.
fn record_bytes(marked: bool) -> BoxedStrategy<Vec<u8>> {
    let key = prop_oneof![
        Just("access_token"),
        Just("refresh_token"),
        Just("id_token"),
        Just("token_type"),
        Just("scope"),
        Just("expires_at"),
        Just("obtained_at"),
        Just("last_refresh"),
        Just("last_error"),
        Just("standing"),
        Just("generation"),
        Just("bogus"),
    ];
    let error_key = prop_oneof![
        Just("message"),
        Just("code"),
        Just("transient"),
        Just("at"),
        Just("bogus"),
    ];
    let last_error = prop::collection::vec((error_key, record_scalar(marked)), 0..6)
        .prop_map(|pairs| object(&pairs));
    let value = prop_oneof![4 => record_scalar(marked), 1 => last_error];
    let record = prop::collection::vec((key, value), 0..12).prop_map(|pairs| object(&pairs));
    let bare = record_scalar(marked);
    let written = || token_record().prop_map(|r| serde_json::to_vec_pretty(&r).unwrap());
    prop_oneof![
        6 => record.clone().prop_map(String::into_bytes),
        2 => written(),
        1 => bare.prop_map(String::into_bytes),
        2 => any::<Vec<u8>>(),
        2 => record.prop_map(String::into_bytes).prop_flat_map(cut_anywhere),
        1 => written().prop_flat_map(cut_anywhere),
    ]
    .boxed()
}

/// `bytes` cut short anywhere, as a writer killed half-way would leave them.
fn cut_anywhere(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = bytes.len();
    (Just(bytes), 0..=len).prop_map(|(b, cut)| b[..cut].to_vec())
}

/// `{"k":v,...}` from keys and JSON values as text; keys may repeat.
fn object<K: AsRef<str>>(pairs: &[(K, String)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("\"{}\":{v}", k.as_ref()))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn token_record() -> impl Strategy<Value = TokenRecord> {
    let secret = || prop::option::of(any::<String>().prop_map(Secret::new));
    let last_error = (
        any::<String>(),
        prop::option::of(any::<String>()),
        any::<bool>(),
        any::<i64>(),
    )
        .prop_map(|(message, code, transient, at)| LastError {
            message,
            code,
            transient,
            at,
        });
    let standing = prop_oneof![
        Just(Standing::Active),
        Just(Standing::NeedsLogin),
        Just(Standing::Revoked)
    ];
    (
        (secret(), secret(), secret()),
        prop::option::of(any::<String>()),
        prop::option::of(any::<String>()),
        (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
        ),
        (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
        ),
        prop::option::of(last_error),
        standing,
        // `save` adds one to the generation: see `a_record_saves_again_whatever_its_generation`.
        0..u64::MAX,
    )
        .prop_map(
            |(
                (access_token, refresh_token, id_token),
                token_type,
                scope,
                (expires_at, obtained_at, last_refresh),
                (refresh_expires_at, family_started_at),
                last_error,
                standing,
                generation,
            )| {
                TokenRecord {
                    access_token,
                    refresh_token,
                    id_token,
                    token_type,
                    scope,
                    expires_at,
                    obtained_at,
                    last_refresh,
                    refresh_expires_at,
                    family_started_at,
                    last_error,
                    standing,
                    generation,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Whatever the file holds (JSON-like, written by tokdash, cut short, random bytes): a record
    /// or an error that says the record is not valid.
    #[test]
    fn stored_records_never_panic(bytes in record_bytes(false)) {
        if let Some(message) = load_error(&bytes) {
            prop_assert!(message.contains("the token record is not valid"), "{}", message);
        }
    }

    /// A secret where secrets are kept (the three token fields), whatever else the file holds,
    /// cut anywhere: the error never quotes it.
    #[test]
    fn stored_record_errors_never_quote_a_token(
        field in prop_oneof![Just("access_token"), Just("refresh_token"), Just("id_token")],
        rest in record_bytes(false),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = format!("{{\"{field}\":\"{MARKER}\",").into_bytes();
        // Cut anywhere after the marker's closing quote.
        let whole = bytes.len() - 1;
        bytes.extend_from_slice(rest.strip_prefix(b"{").unwrap_or(&rest));
        let keep = whole + cut.index(bytes.len() + 1 - whole);
        if let Some(message) = load_error(&bytes[..keep]) {
            prop_assert!(!message.contains(MARKER), "{}", message);
        }
    }

    /// Any record, any strings and numbers in it: what `save` wrote, `load` reads back.
    #[test]
    fn a_saved_record_loads_back_the_same(mut record in token_record()) {
        let store = thread_store();
        store.save("p", &mut record).unwrap();
        prop_assert_eq!(store.load("p").unwrap(), Some(record));
    }

    /// The strict form: a secret anywhere in the file (a token pasted under the wrong key, a file
    /// that is only the token as a JSON string) is never quoted either.
    #[test]
    fn stored_record_errors_never_quote_a_secret_anywhere(bytes in record_bytes(true)) {
        if let Some(message) = load_error(&bytes) {
            prop_assert!(!message.contains(MARKER), "{}", message);
        }
    }

    /// A record that loads can be saved again (the next refresh does exactly that).
    #[test]
    fn a_record_saves_again_whatever_its_generation(
        generation in prop_oneof![Just(u64::MAX), any::<u64>()],
    ) {
        let store = thread_store();
        write_record(&store, "p", format!("{{\"generation\":{generation}}}").as_bytes());
        let mut record = store.load("p").unwrap().unwrap();
        store.save("p", &mut record).unwrap();
        let reloaded = store.load("p").unwrap().unwrap();
        // It moves forward, or stays at the last value: never back to 0, which readers would
        // take for an older record.
        prop_assert!(
            reloaded.generation > generation || generation == u64::MAX,
            "{} after {}",
            reloaded.generation,
            generation
        );
        prop_assert!(reloaded.generation >= generation);
    }
}

// ---------------------------------------------------------------------------------------------
// OIDC discovery documents: `provider::oidc::endpoints_from_document`, and the copy of the
// document that `oauth::discovery` caches in the store.

const ISSUER: &str = "https://idp.example.com/realms/ops";

/// The rule for every endpoint: `https://`, or plain `http://` to loopback only; no credentials
/// and no fragment. Written from the rule, not from `urls::check_endpoint`.
fn allowed_endpoint(text: &str) -> bool {
    use url::Host;
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    let loopback = match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    (url.scheme() == "https" || (url.scheme() == "http" && loopback))
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
}

/// The keys tokdash reads from a discovery document, read by the test on its own. (Not the
/// whole document as a `serde_json::Value`: serde skims unknown keys without checking them, so a
/// lone `\ud800` there passes.)
#[derive(serde::Deserialize)]
struct Known {
    issuer: Option<serde_json::Value>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    /// Read for the browser login, and checked like the others.
    authorization_endpoint: Option<String>,
}

/// Checks accepted endpoints against the document they came from: every URL passes the rule,
/// each is the document's own, and an issuer the document names is `issuer`.
fn check_accepted(issuer: &str, document: &[u8], e: &Endpoints) -> Result<(), TestCaseError> {
    let doc: Known = serde_json::from_slice(document).expect("an accepted document is readable");
    for url in [
        Some(&e.token_url),
        e.revocation_url.as_ref(),
        e.device_authorization_url.as_ref(),
        e.userinfo_url.as_ref(),
        e.authorization_url.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        prop_assert!(allowed_endpoint(url), "accepted endpoint {:?}", url);
    }
    prop_assert_eq!(doc.token_endpoint.as_ref(), Some(&e.token_url));
    prop_assert_eq!(&doc.revocation_endpoint, &e.revocation_url);
    prop_assert_eq!(
        &doc.device_authorization_endpoint,
        &e.device_authorization_url
    );
    prop_assert_eq!(&doc.userinfo_endpoint, &e.userinfo_url);
    prop_assert_eq!(&doc.authorization_endpoint, &e.authorization_url);
    match &doc.issuer {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(found)) => prop_assert_eq!(
            found.trim_end_matches('/'),
            issuer.trim_end_matches('/'),
            "accepted a document of another issuer"
        ),
        Some(other) => prop_assert!(false, "accepted issuer {}", other),
    }
    Ok(())
}

/// Whether a document should be accepted for `issuer`: readable, naming no other issuer (a
/// trailing `/` aside), with a `token_endpoint`, and every endpoint it gives passing the rule.
fn acceptable(issuer: &str, document: &[u8]) -> bool {
    let Ok(doc) = serde_json::from_slice::<Known>(document) else {
        return false;
    };
    let same_issuer = match &doc.issuer {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(found)) => {
            found.trim_end_matches('/') == issuer.trim_end_matches('/')
        }
        Some(_) => false,
    };
    same_issuer
        && doc.token_endpoint.is_some()
        && [
            &doc.token_endpoint,
            &doc.revocation_endpoint,
            &doc.device_authorization_endpoint,
            &doc.userinfo_endpoint,
            &doc.authorization_endpoint,
        ]
        .into_iter()
        .flatten()
        .all(|url| allowed_endpoint(url))
}

/// A value for a discovery key, as JSON text: good URLs, URLs the rule refuses, other issuers,
/// non-strings, huge strings, unicode, anything.
fn discovery_value() -> BoxedStrategy<String> {
    // What the rule lets through: https anywhere, plain http to loopback however it is spelt.
    let good = prop_oneof![
        1 => Just("@ISSUER@".to_string()),
        1 => Just("@ISSUER@/token".to_string()),
        1 => Just("@ISSUER@/revoke".to_string()),
        1 => Just(ISSUER.to_string()),
        1 => Just(format!("{ISSUER}/")),
        1 => Just(format!("{ISSUER}//")),
        1 => Just(format!("{ISSUER}/protocol/openid-connect/token")),
        1 => (0usize..300_000).prop_map(|n| format!("https://idp.example.com/{}", "a".repeat(n))),
        GOOD_URLS.len() as u32 => owned_one_of(GOOD_URLS),
    ];
    // What it refuses: other schemes, plain http elsewhere, credentials, fragments, non-URLs.
    let bad = prop_oneof![
        BAD_URLS.len() as u32 => owned_one_of(BAD_URLS),
        1 => (0usize..300_000).prop_map(|n| format!("http://evil.example/{}", "é".repeat(n))),
        1 => ".{0,40}",
        1 => "(https?|ftp)://[a-z0-9.:\\[\\]@#%/-]{0,30}",
    ];
    let url = prop_oneof![3 => good, 2 => bad].prop_map(|s| serde_json::to_string(&s).unwrap());
    prop_oneof![
        60 => url,
        1 => Just("null".to_string()),
        1 => Just("true".to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => Just("1e400".to_string()),
        1 => Just("[\"https://idp.example.com/token\"]".to_string()),
        1 => Just("{\"url\":\"https://idp.example.com/token\"}".to_string()),
        1 => Just("\"\\u0000\\ud800\"".to_string()),
        1 => Just("\"https://idp.example.com/\\u0000\"".to_string()),
    ]
    .boxed()
}

/// A discovery document: keys from OIDC Discovery §3 (the ones tokdash reads, each present or
/// not, and some it does not read), values from [`discovery_value`]; sometimes cut short,
/// sometimes not JSON at all. `@ISSUER@` stands for the issuer the test asks about.
fn discovery_document() -> BoxedStrategy<Vec<u8>> {
    let issuer = prop_oneof![
        4 => Just("\"@ISSUER@\"".to_string()),
        1 => Just("\"@ISSUER@/\"".to_string()),
        2 => discovery_value(),
    ];
    let extra_key = prop_oneof![
        Just("authorization_endpoint"),
        Just("jwks_uri"),
        Just("end_session_endpoint"),
        Just("introspection_endpoint"),
        Just("mtls_endpoint_aliases"),
        Just("grant_types_supported"),
        Just("Token_Endpoint"),
        Just("issuer"),
        Just("token_endpoint"),
    ];
    let document = (
        prop::option::weighted(0.7, issuer),
        prop::option::weighted(0.9, discovery_value()),
        prop::option::weighted(0.5, discovery_value()),
        prop::option::weighted(0.5, discovery_value()),
        prop::option::weighted(0.5, discovery_value()),
        prop::collection::vec((extra_key, discovery_value()), 0..3),
    )
        .prop_map(|(issuer, token, revocation, device, userinfo, extra)| {
            let known = [
                ("issuer", issuer),
                ("token_endpoint", token),
                ("revocation_endpoint", revocation),
                ("device_authorization_endpoint", device),
                ("userinfo_endpoint", userinfo),
            ];
            let mut pairs: Vec<(&str, String)> = known
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            pairs.extend(extra);
            object(&pairs)
        });
    prop_oneof![
        12 => document.clone().prop_map(String::into_bytes),
        1 => any::<Vec<u8>>(),
        1 => discovery_value().prop_map(String::into_bytes),
        2 => document.prop_flat_map(|d| {
            let len = d.len();
            (Just(d), 0..=len).prop_map(|(d, cut)| d.into_bytes()[..cut].to_vec())
        }),
    ]
    .boxed()
}

/// `document` with every `@ISSUER@` replaced by `issuer`.
fn with_issuer(document: &[u8], issuer: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(document.len());
    let mut rest = document;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(b"@ISSUER@") {
            out.extend_from_slice(issuer.as_bytes());
            rest = after;
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// No panic; what is accepted passes the rule and names no other issuer; and what is refused
    /// had a reason to be (so that the first half cannot pass by refusing everything).
    #[test]
    fn discovery_documents_never_panic_and_only_allowed_endpoints_pass(
        issuer in prop_oneof![
            Just(ISSUER.to_string()),
            Just(format!("{ISSUER}/")),
            Just("http://127.0.0.1:8080".to_string()),
        ],
        document in discovery_document(),
    ) {
        let document = with_issuer(&document, &issuer);
        match endpoints_from_document(&issuer, &document) {
            Ok(e) => check_accepted(&issuer, &document, &e)?,
            Err(why) => prop_assert!(!acceptable(&issuer, &document), "refused: {}", why),
        }
    }
}

/// How long `oauth::discovery` trusts its copy on disk (`DISK_TTL_SECONDS`, private there).
const DISCOVERY_TTL: i64 = 24 * 3600;

/// The name `oauth::discovery` gives the copy of an issuer's document.
fn discovery_cache_file(issuer: &str) -> String {
    tokdash::oauth::discovery::cache_file(issuer)
}

/// When a cached copy says it was fetched.
#[derive(Debug, Clone)]
enum FetchedAt {
    SecondsAgo(i64),
    Json(String),
}

/// Runs `Discovery::endpoints` for an issuer whose server answers 404 (not retried), with
/// `cache` as its copy on disk: whatever it returns came from the cache. Checks what it
/// accepted; says whether it used it.
fn check_discovery_cache(
    issuer_json: &str,
    fetched: &FetchedAt,
    document: &[u8],
    raw: Option<Vec<u8>>,
    cut: Option<prop::sample::Index>,
) -> Result<bool, TestCaseError> {
    let net = net();
    let issuer = format!("{}/{NOTHING}/realms/ops", net.echo);
    let fetched_at = match fetched {
        FetchedAt::SecondsAgo(ago) => (tokdash::clock::now() - ago).to_string(),
        FetchedAt::Json(text) => text.clone(),
    };
    let mut cache = format!("{{\"issuer\":{issuer_json},\"fetched_at\":{fetched_at},\"document\":")
        .into_bytes();
    cache.extend_from_slice(document);
    cache.push(b'}');
    let mut cache = raw.unwrap_or_else(|| with_issuer(&cache, &issuer));
    if let Some(cut) = cut {
        cache.truncate(cut.index(cache.len() + 1));
    }
    let store = thread_store();
    std::fs::write(store.dir().join(discovery_cache_file(&issuer)), &cache).unwrap();
    // The code reads the clock after this: its "now" is this or later.
    let before = tokdash::clock::now();
    let found = net.rt.block_on(Discovery::default().endpoints(
        &net.http,
        Duration::from_secs(5),
        Some(&store.cache()),
        &issuer,
    ));
    let used = found.is_ok();
    if let Ok(e) = found {
        let cached: serde_json::Value =
            serde_json::from_slice(&cache).expect("a cache that was used is JSON");
        prop_assert_eq!(cached["issuer"].as_str(), Some(issuer.as_str()));
        let at = cached["fetched_at"]
            .as_i64()
            .expect("fetched_at is a number");
        prop_assert!(
            (before as i128) - (at as i128) < DISCOVERY_TTL as i128,
            "a copy fetched at {} used at {}",
            at,
            before
        );
        let document = serde_json::to_vec(&cached["document"]).unwrap();
        check_accepted(&issuer, &document, &e)?;
    }
    Ok(used)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// The copy of a discovery document kept in the store is read back through the same checks,
    /// only for its own issuer, and only for a day.
    #[test]
    fn discovery_caches_never_panic_and_pass_the_same_checks(
        issuer_json in prop_oneof![
            4 => Just("\"@ISSUER@\"".to_string()),
            1 => Just("\"@ISSUER@/\"".to_string()),
            1 => Just("\"https://other.example.com/realms/ops\"".to_string()),
            1 => discovery_value(),
        ],
        fetched in prop_oneof![
            4 => (-3600i64..2 * DISCOVERY_TTL).prop_map(FetchedAt::SecondsAgo),
            1 => prop_oneof![
                Just(DISCOVERY_TTL - 1),
                Just(DISCOVERY_TTL),
                Just(DISCOVERY_TTL + 1),
            ]
            .prop_map(FetchedAt::SecondsAgo),
            // Far from i64::MIN: see `discovery_caches_from_any_time_...`.
            1 => (i64::MIN / 2..i64::MAX).prop_map(|n| FetchedAt::Json(n.to_string())),
            1 => prop_oneof![
                Just("null"),
                Just("\"1700000000\""),
                Just("1.7e9"),
                Just("18446744073709551615"),
            ]
            .prop_map(|s| FetchedAt::Json(s.to_string())),
        ],
        document in prop_oneof![
            1 => Just(br#"{"issuer":"@ISSUER@","token_endpoint":"@ISSUER@/token"}"#.to_vec()),
            3 => discovery_document(),
        ],
        raw in prop::option::weighted(0.05, any::<Vec<u8>>()),
        cut in prop::option::weighted(0.1, any::<prop::sample::Index>()),
    ) {
        check_discovery_cache(&issuer_json, &fetched, &document, raw, cut)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// A copy stamped at any time: never a panic, and never trusted for longer than a day.
    #[test]
    fn discovery_caches_from_any_time_never_panic_and_last_a_day_at_most(
        fetched in prop_oneof![
            Just(i64::MIN),
            i64::MIN..i64::MIN + 4_000_000_000,
            (1i64..10 * 365 * DISCOVERY_TTL).prop_map(|n| tokdash::clock::now() + n),
            Just(i64::MAX),
        ],
    ) {
        let document = br#"{"issuer":"@ISSUER@","token_endpoint":"https://idp.example.com/t"}"#;
        let used = check_discovery_cache(
            "\"@ISSUER@\"",
            &FetchedAt::Json(fetched.to_string()),
            document,
            None,
            None,
        )?;
        // A minute of slack for clocks that step back.
        prop_assert!(
            !used || fetched <= tokdash::clock::now() + 60,
            "a copy stamped {} s in the future was used",
            fetched as i128 - tokdash::clock::now() as i128
        );
    }
}

// ---------------------------------------------------------------------------------------------
// `Retry-After` (and Auth0's `X-RateLimit-Reset`), read by `oauth::http` (`retry_after`, private)
// into `Reply::retry_after`: tested through `Http::send`, against a raw loopback server.

/// A runtime and an HTTP client shared by the properties that go through HTTP, and a loopback
/// server: `/<case>/<hex>` gets a 429 with the extra header lines that `<hex>` spells, and
/// `/<NOTHING>/...` (and `/.well-known/...`) a 404.
struct Net {
    rt: tokio::runtime::Runtime,
    http: Http,
    echo: String,
}

/// The first path segment the server answers with a 404.
const NOTHING: &str = "nothing";

fn net() -> &'static Net {
    static NET: OnceLock<Net> = OnceLock::new();
    NET.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let echo = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer(stream));
            }
        });
        Net {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
            http: Http::new(Duration::from_secs(10), None).unwrap(),
            echo,
        }
    })
}

/// Requests seen by the echo server, per case.
fn requests_seen() -> &'static std::sync::Mutex<std::collections::HashMap<String, usize>> {
    static SEEN: OnceLock<std::sync::Mutex<std::collections::HashMap<String, usize>>> =
        OnceLock::new();
    SEEN.get_or_init(Default::default)
}

fn answer(mut stream: std::net::TcpStream) {
    // The whole request, body included: closing with unread bytes would reset the connection.
    let seen = crate::support::faults::read_request(&mut stream);
    let Some(head_end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
        return; // the client went away before its head was complete: nothing to answer
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/");
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let case = parts.next().unwrap_or("").to_string();
    // The RFC 8414 metadata of an issuer under `NOTHING` is at `/.well-known/…/NOTHING/…`.
    if case == NOTHING || case == ".well-known" {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
    }
    let hex = parts.next().unwrap_or("").as_bytes();
    *requests_seen().lock().unwrap().entry(case).or_default() += 1;
    let headers: Vec<u8> = hex
        .chunks(2)
        .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    let body = br#"{"error":"temporarily_unavailable"}"#;
    let mut answer = b"HTTP/1.1 429 Too Many Requests\r\n".to_vec();
    answer.extend_from_slice(&headers);
    answer.extend_from_slice(
        format!(
            "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    answer.extend_from_slice(body);
    let _ = stream.write_all(&answer);
}

/// The echo server's URL for a 429 with these header lines, and the case's name.
fn echo_url(headers: &[(&str, &str)]) -> (String, String) {
    static CASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let case = CASES
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .to_string();
    let lines: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let hex: String = lines.bytes().map(|b| format!("{b:02x}")).collect();
    (format!("{}/{case}/{hex}", net().echo), case)
}

/// The last second an IMF-fixdate can name (9999-12-31T23:59:59Z).
const LAST_DATE: i64 = 253_402_300_799;

/// `at` (unix seconds) as an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`. The weekday is
/// whatever the caller says: tokdash does not check it.
fn imf_fixdate(at: i64, weekday: &str) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_secs(at.clamp(0, LAST_DATE) as u64);
    let iso = humantime::format_rfc3339_seconds(t).to_string(); // 1994-11-06T08:49:37Z
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][iso[5..7].parse::<usize>().unwrap() - 1];
    format!(
        "{weekday}, {} {month} {} {} GMT",
        &iso[8..10],
        &iso[0..4],
        &iso[11..19]
    )
}

/// A header value as generated; times relative to now are made into text when the case runs.
#[derive(Debug, Clone)]
enum HeaderValue {
    Text(String),
    /// An IMF-fixdate this many seconds from now (clamped to 1970..=9999).
    DateFromNow(i64, &'static str),
    /// An IMF-fixdate at this unix time.
    DateAt(i64, &'static str),
    /// Unix seconds, this many seconds from now (X-RateLimit-Reset's form).
    UnixFromNow(i64),
}

impl HeaderValue {
    /// The text to send, and the instant it names when it is a well-formed date.
    fn resolve(&self, now: i64) -> (String, Option<i64>) {
        match self {
            HeaderValue::Text(t) => (t.clone(), None),
            HeaderValue::DateFromNow(d, wd) => {
                let at = (now + d).clamp(0, LAST_DATE);
                (imf_fixdate(at, wd), Some(at))
            }
            HeaderValue::DateAt(at, wd) => {
                let at = (*at).clamp(0, LAST_DATE);
                (imf_fixdate(at, wd), Some(at))
            }
            HeaderValue::UnixFromNow(d) => ((now + d).to_string(), None),
        }
    }
}

/// Text a header line can carry: no CR, LF, NUL or other control bytes but tab.
fn header_text() -> impl Strategy<Value = String> {
    ".{0,40}".prop_map(|s| {
        s.chars()
            .filter(|c| *c == '\t' || (*c >= ' ' && *c != '\u{7f}'))
            .collect()
    })
}

fn weekday() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("Sun"), Just("Mon"), Just("Xyz"), Just("")]
}

/// Retry-After values: seconds (small, huge, negative, fractional, signed, padded), HTTP dates
/// (past, near, far, malformed, other date formats), garbage.
fn retry_after_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        (0u64..120).prop_map(|n| HeaderValue::Text(n.to_string())),
        any::<u64>().prop_map(|n| HeaderValue::Text(n.to_string())),
        any::<i64>().prop_map(|n| HeaderValue::Text(n.to_string())),
        any::<f64>().prop_map(|f| HeaderValue::Text(format!("{f}"))),
        (0u64..100).prop_map(|n| HeaderValue::Text(format!("+{n}"))),
        (0u64..100).prop_map(|n| HeaderValue::Text(format!(" \t{n} "))),
        prop_oneof![
            Just("18446744073709551616"),
            Just("99999999999999999999999999999"),
            Just("-0"),
            Just("0x10"),
            Just("1e3"),
            Just("1.5"),
            Just("3600s"),
            Just("5 "),
            Just(""),
            Just("Sun, 06 Nov 1994 08:49:37 GMT"),
            Just("Sunday, 06-Nov-94 08:49:37 GMT"),
            Just("Sun Nov  6 08:49:37 1994"),
            Just("Sun, 06 Nov 1994 08:49:37 UTC"),
            Just("Sun, 32 Nov 2094 08:49:37 GMT"),
            Just("Sun, 29 Feb 2100 08:49:37 GMT"),
            Just("Sun, 29 Feb 2096 08:49:37 GMT"),
            Just("Sun, 06 Nov 2094 24:00:00 GMT"),
            Just("Sun, 06 Nov 2094 23:59:60 GMT"),
            Just("Sun, 06 Nov 2094 8:9:7 GMT"),
            Just("Sun, 06 Nov 94 08:49:37 GMT"),
            Just("Sun, 06 Nov 10000 08:49:37 GMT"),
            Just("Sun, 06 Nov -2094 08:49:37 GMT"),
            Just("Sun, 06 Nov +2094 08:49:37 GMT"),
            Just("Sun, +6 Nov 2094 08:49:37 GMT"),
            Just("Sun, 4294967296 Nov 2094 08:49:37 GMT"),
            Just("Sun, 06 nov 2094 08:49:37 GMT"),
            Just("Sun,  06   Nov 2094\t08:49:37  GMT"),
            Just("Sun, 06 Nov 2094 08:49:37.123 GMT"),
            Just("Sun, 06 Nov 2094 08:49:37+01:00 GMT"),
        ]
        .prop_map(|s| HeaderValue::Text(s.to_string())),
        (-10 * 365 * 86_400i64..10 * 365 * 86_400, weekday())
            .prop_map(|(d, wd)| HeaderValue::DateFromNow(d, wd)),
        (-120i64..120, weekday()).prop_map(|(d, wd)| HeaderValue::DateFromNow(d, wd)),
        (0..=LAST_DATE, weekday()).prop_map(|(at, wd)| HeaderValue::DateAt(at, wd)),
        header_text().prop_map(HeaderValue::Text),
        "[0-9 :,A-Za-z-]{0,40}".prop_map(HeaderValue::Text),
    ]
}

/// X-RateLimit-Reset values: unix seconds around now, far off, negative, garbage. Far from
/// i64::MIN: see `rate_limit_resets_far_in_the_past_never_panic`.
fn rate_limit_reset_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        (-3600i64..3600).prop_map(HeaderValue::UnixFromNow),
        (i64::MIN / 2..i64::MAX).prop_map(|n| HeaderValue::Text(n.to_string())),
        Just(HeaderValue::Text(i64::MAX.to_string())),
        (0u64..100).prop_map(|n| HeaderValue::Text(format!("-{n}"))),
        Just(HeaderValue::Text("9223372036854775808".to_string())),
        Just(HeaderValue::Text("1700000000.5".to_string())),
        header_text().prop_map(HeaderValue::Text),
    ]
}

/// What the client may make of a 429's headers.
#[derive(Debug)]
enum Wait {
    /// Exactly this many seconds: the server said so.
    Exactly(u64),
    /// Between these (the clock ticks while the request is in flight).
    Between(i128, i128),
    /// Nothing, or no later than the last date an HTTP date can name.
    AtMostTheLastDate(i128),
    /// No wait at all: nothing in the answer asks for one.
    Nothing,
}

/// `Retry-After` wins when it is readable text (`HeaderValue::to_str`); otherwise Auth0's
/// `X-RateLimit-Reset`, unix seconds. Times are measured from `t0` (before the request) to `t1`
/// (after the answer).
fn expected_wait(
    retry_after: Option<&(String, Option<i64>)>,
    reset: Option<&str>,
    t0: i64,
    t1: i64,
) -> Wait {
    let readable = |v: &str| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
    let from = |at: i128| ((at - t1 as i128).max(0), (at - t0 as i128).max(0));
    match retry_after {
        Some((value, date)) if readable(value) => {
            if let Ok(n) = value.trim().parse::<u64>() {
                Wait::Exactly(n)
            } else if let Some(at) = date {
                let (lo, hi) = from(*at as i128);
                Wait::Between(lo, hi)
            } else {
                Wait::AtMostTheLastDate((LAST_DATE - t0) as i128)
            }
        }
        _ => match reset.and_then(|r| r.trim().parse::<i64>().ok()) {
            Some(at) => {
                let (lo, hi) = from(at as i128);
                Wait::Between(lo, hi)
            }
            None => Wait::Nothing,
        },
    }
}

/// Sends one request to a 429 with these headers; checks the wait the client read from them.
/// A 429's `Retry-After` (usually there) and `X-RateLimit-Reset` (less often), as the
/// rate-limit properties below draw them.
fn rate_limit_headers() -> impl Strategy<Value = (Option<HeaderValue>, Option<HeaderValue>)> {
    (
        prop::option::weighted(0.8, retry_after_value()),
        prop::option::weighted(0.4, rate_limit_reset_value()),
    )
}

fn check_rate_limit_headers(
    retry_after: Option<&HeaderValue>,
    reset: Option<&HeaderValue>,
) -> Result<(), TestCaseError> {
    let net = net();
    let t0 = tokdash::clock::now();
    let retry_after = retry_after.map(|v| v.resolve(t0));
    let reset = reset.map(|v| v.resolve(t0).0);
    let mut headers = Vec::new();
    if let Some((value, _)) = &retry_after {
        headers.push(("Retry-After", value.as_str()));
    }
    if let Some(value) = &reset {
        headers.push(("X-RateLimit-Reset", value.as_str()));
    }
    let (url, _) = echo_url(&headers);
    let reply = net.rt.block_on(
        net.http
            .send(net.http.client().get(&url), Duration::from_secs(10)),
    );
    let t1 = tokdash::clock::now();
    let reply = reply.map_err(|e| TestCaseError::fail(format!("the 429 did not arrive: {e}")))?;
    prop_assert_eq!(reply.status, 429);
    let got = reply.retry_after.map(|d| d.as_secs() as i128);
    match expected_wait(retry_after.as_ref(), reset.as_deref(), t0, t1) {
        Wait::Exactly(n) => prop_assert_eq!(reply.retry_after, Some(Duration::from_secs(n))),
        Wait::Between(lo, hi) => prop_assert!(
            got.is_some_and(|w| (lo..=hi).contains(&w)),
            "waits {:?}, asked for {}..={} s",
            got,
            lo,
            hi
        ),
        Wait::AtMostTheLastDate(most) => prop_assert!(
            got.is_none_or(|w| w <= most),
            "waits {:?} s, later than any HTTP date",
            got
        ),
        Wait::Nothing => prop_assert_eq!(got, None),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Whatever a 429 says in `Retry-After` and `X-RateLimit-Reset`: no panic, and the client
    /// never waits longer than the server asked (a date or reset in the past is no wait).
    #[test]
    fn rate_limit_headers_never_panic_and_never_ask_more_than_the_server(
        (retry_after, reset) in rate_limit_headers(),
    ) {
        check_rate_limit_headers(retry_after.as_ref(), reset.as_ref())?;
    }

    #[test]
    fn rate_limit_resets_far_in_the_past_never_panic(
        reset in prop_oneof![Just(i64::MIN), i64::MIN..i64::MIN + 4_000_000_000],
    ) {
        check_rate_limit_headers(None, Some(&HeaderValue::Text(reset.to_string())))?;
    }
}

proptest! {
    // Each case is a whole refresh through the engine: fewer of them.
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The cap, through `Engine::refresh` against the 429 server: a wait the client reads as
    /// longer than `MAX_RETRY_AFTER` fails at once after one request, and a wait of zero (a date
    /// or reset in the past) retries at once. Cases whose wait is between the two (slept in
    /// full) or unreadable (backoff, up to 1.5 s) are skipped to keep this quick.
    #[test]
    fn a_refresh_never_waits_longer_than_the_cap(
        (retry_after, reset) in rate_limit_headers(),
    ) {
        use tokdash::engine::{DiskWork, Engine, RefreshMode};
        use tokdash::oauth::exchange::MAX_RETRY_AFTER;
        let net = net();
        let now = tokdash::clock::now();
        let retry_after = retry_after.map(|v| v.resolve(now).0);
        let reset = reset.map(|v| v.resolve(now).0);
        let mut headers = Vec::new();
        if let Some(value) = &retry_after {
            headers.push(("Retry-After", value.as_str()));
        }
        if let Some(value) = &reset {
            headers.push(("X-RateLimit-Reset", value.as_str()));
        }
        let (url, _) = echo_url(&headers);
        let read = net
            .rt
            .block_on(net.http.send(net.http.client().get(&url), Duration::from_secs(10)))
            .map_err(|e| TestCaseError::fail(format!("the 429 did not arrive: {e}")))?
            .retry_after;
        let requests = match read {
            Some(w) if w.is_zero() => 3,
            Some(w) if w > MAX_RETRY_AFTER + Duration::from_secs(5) => 1,
            _ => return Ok(()),
        };

        let (token_url, case) = echo_url(&headers);
        let config = Config::parse(
            Path::new("f.toml"),
            &format!(
                "[profiles.f]\nprovider = \"oauth2\"\nclient_id = \"c\"\nauth_method = \"none\"\n\
                 token_url = \"{token_url}\"\n"
            ),
        )
        .unwrap();
        let store = thread_store();
        let mut record = TokenRecord {
            access_token: Some(Secret::new("AT")),
            refresh_token: Some(Secret::new("RT")),
            expires_at: Some(0),
            ..TokenRecord::default()
        };
        store.save("f", &mut record).unwrap();
        let engine = Engine::new(std::sync::Arc::new(config), store)
            .unwrap()
            .with_disk_work(DiskWork::Inline);
        let start = Instant::now();
        let result = net.rt.block_on(engine.refresh("f", RefreshMode::IfNeeded));
        let took = start.elapsed();
        prop_assert!(result.is_err(), "a 429 refreshed");
        prop_assert!(took < Duration::from_secs(5), "waited {:?} (read {:?})", took, read);
        let seen = requests_seen().lock().unwrap().get(&case).copied();
        prop_assert_eq!(seen, Some(requests), "read {:?}", read);
    }
}
