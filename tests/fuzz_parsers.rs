//! Property tests of every parser that reads input from outside the program: whatever the
//! bytes, no panic, and errors never quote the input (it may hold a token). The long fuzz runs
//! use more cases: `PROPTEST_CASES=200000 cargo test --release --test fuzz_parsers`.

use proptest::prelude::*;
use std::path::Path;
use tokdash::config::Config;

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
        let _ = tokdash::token_response::parse(&bytes);
        let _ = tokdash::oauth::error::parse(400, &bytes);
        let _ = tokdash::engine::parse_device_authorization(&bytes, 0);
    }

    #[test]
    fn token_response_errors_never_quote_a_token(extra in jsonish()) {
        let mut bytes = format!("{{\"access_token\":\"{MARKER}\",").into_bytes();
        bytes.extend_from_slice(&extra);
        if let Err(e) = tokdash::token_response::parse(&bytes) {
            prop_assert!(!e.contains(MARKER), "{}", e);
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
        Just("\"google\"".to_string()),
        Just("\"auth0\"".to_string()),
        Just("\"microsoft\"".to_string()),
        Just("\"oidc\"".to_string()),
        Just("\"oauth2\"".to_string()),
        Just("\"http://x.example/t\"".to_string()),
        Just("\"https://x.example/t\"".to_string()),
        Just("\"5m\"".to_string()),
        Just("\"client_credentials\"".to_string()),
        Just("[\"a\", \"b\"]".to_string()),
        Just("[]".to_string()),
        Just("7".to_string()),
        Just("true".to_string()),
        ".{0,12}".prop_map(|s| format!("\"{}\"", s.replace(['"', '\\'], ""))),
        ".{0,8}",
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
