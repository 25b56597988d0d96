//! `Debug` output never shows a secret: the record, the config, the dashboard state (with the
//! details pane's record loaded), the messages and effects that carry tokens, the engine's errors. (The commands' stdout, stderr and log are covered in mock_faults.rs.)

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::Path;
use std::sync::Arc;
use tokdash::app::{Effect, Msg, State, WorkerEvent, update};
use tokdash::config::Config;
use tokdash::engine::{Engine, EngineError, RefreshMode};
use tokdash::secret::Secret;
use tokdash::store::{FileStore, TokenRecord};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRETS: [&str; 4] = ["AT-dbg-7f3a", "RT-dbg-7f3a", "ID-dbg-7f3a", "CS-dbg-7f3a"];

#[test]
fn debug_output_of_everything_holding_secrets_is_redacted() {
    let record = TokenRecord {
        access_token: Some(Secret::new(SECRETS[0])),
        refresh_token: Some(Secret::new(SECRETS[1])),
        id_token: Some(Secret::new(SECRETS[2])),
        ..Default::default()
    };
    let src = format!(
        "[profiles.p]\nprovider = \"google\"\nclient_id = \"c\"\nclient_secret = \"{}\"\n",
        SECRETS[3]
    );
    let config = Config::parse(Path::new("p.toml"), &src).unwrap();
    let mut state = State::new(&config, 0, 80, 24);
    update(
        &mut state,
        Msg::worker(WorkerEvent::StoreChanged(vec![(
            "p".into(),
            Some(record.meta()),
        )])),
    );
    // The details pane open, its record (all three tokens) loaded and revealed.
    let asked = update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    assert!(
        asked
            .iter()
            .any(|e| matches!(e, Effect::LoadDetails { .. }))
    );
    let loaded = WorkerEvent::DetailsLoaded {
        name: "p".into(),
        generation: Some(0),
        record: Ok(Some(record.clone())),
    };
    let loaded_dump = format!("{loaded:?}");
    update(&mut state, Msg::worker(loaded));
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('v'), KeyModifiers::NONE)),
    );
    assert!(state.details.as_ref().unwrap().record.is_some());
    // The copy: the worker's answer and the effect it becomes.
    let token = WorkerEvent::TokenForCopy {
        name: "p".into(),
        token: Ok(record.access_token.clone()),
    };
    let token_dump = format!("{token:?}");
    let copy = update(&mut state, Msg::worker(token));
    assert!(matches!(copy.as_slice(), [Effect::Copy { .. }]), "{copy:?}");
    let dumps = [
        format!("{record:?}"),
        format!("{record:#?}"),
        format!("{config:?}"),
        format!("{state:?}"),
        format!("{state:#?}"),
        loaded_dump,
        token_dump,
        format!("{copy:?}"),
    ];
    for dump in &dumps {
        for s in SECRETS {
            assert!(!dump.contains(s), "{s} in {dump}");
        }
    }
    assert!(dumps[0].contains("Secret(<redacted>)"));
}

/// Engine failures built from answers that echo the secrets back (as a broken server or a
/// debugging proxy might): a plain-text 404 quoting the request, a 200 whose tokens come with a
/// bad `expires_in`, an `invalid_grant` with the tokens in extra fields, and a refused
/// revocation. The engine's errors, and the `Failure`s the commands make of them, must show none
/// of the secrets in `{:?}` or `{:#?}`.
#[tokio::test]
async fn debug_output_of_engine_errors_is_redacted() {
    let [at, rt, id, cs] = SECRETS;
    let echo = format!("access_token={at}&refresh_token={rt}&id_token={id}&client_secret={cs}");
    let server = MockServer::builder().start().await;
    let answers = [
        ResponseTemplate::new(404).set_body_raw(format!("no route for {echo}"), "text/plain"),
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": at, "refresh_token": rt, "id_token": id, "expires_in": "soon"
        })),
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "Refresh token expired",
            "refresh_token": rt, "client_secret": cs, "request": echo
        })),
    ];
    for answer in answers {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains(rt))
            .respond_with(answer)
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "unsupported_token_type", "token": rt, "request": echo
        })))
        .expect(1)
        .mount(&server)
        .await;

    let uri = server.uri();
    let src = format!(
        "[profiles.p]\nprovider = \"oauth2\"\nclient_id = \"c\"\nclient_secret = \"{cs}\"\n\
         token_url = \"{uri}/token\"\nrevocation_url = \"{uri}/revoke\"\n"
    );
    let config = Config::parse(Path::new("p.toml"), &src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(&dir.path().join("store")).unwrap();
    let mut record = TokenRecord {
        access_token: Some(Secret::new(at)),
        refresh_token: Some(Secret::new(rt)),
        id_token: Some(Secret::new(id)),
        expires_at: Some(0),
        ..Default::default()
    };
    store.save("p", &mut record).unwrap();
    let engine = Engine::new(Arc::new(config), store).unwrap();

    let mut errors: Vec<EngineError> = Vec::new();
    for _ in 0..3 {
        let failed = engine
            .refresh(
                "p",
                RefreshMode::Force {
                    seen_generation: None,
                },
            )
            .await;
        errors.push(failed.expect_err("every answer is a failure").error);
    }
    errors.push(
        engine
            .revoke("p")
            .await
            .expect_err("the revocation is refused"),
    );

    // The failures are the ones meant, so each had the secrets in hand.
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert!(messages[0].contains("HTTP 404"), "{messages:?}");
    assert!(messages[1].contains("not a token response"), "{messages:?}");
    assert_eq!(errors[2].code.as_deref(), Some("invalid_grant"));
    assert_eq!(errors[3].code.as_deref(), Some("unsupported_token_type"));
    for e in &errors {
        let failure = tokdash::failure::Failure::from(e.clone());
        for dump in [
            format!("{e:?}"),
            format!("{e:#?}"),
            format!("{e}"),
            format!("{failure:?}"),
        ] {
            for s in SECRETS {
                assert!(!dump.contains(s), "{s} in {dump}");
            }
        }
    }
}
