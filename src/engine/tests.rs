//! The engine's lock and rotation rules, on the in-memory store (no disk) against a mock token
//! endpoint: the rules belong to the engine, whatever store it runs on.

use super::*;
use crate::store::{MemoryStore, Standing, StoreError};
use std::path::Path;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate, Times};

fn config(token_url: &str) -> Arc<Config> {
    let src = format!(
        "[profiles.p]\nprovider = \"oauth2\"\nclient_id = \"c\"\nauth_method = \"none\"\n\
         token_url = \"{token_url}\"\n"
    );
    Arc::new(Config::parse(Path::new("t.toml"), &src).unwrap())
}

/// An expired access token and a refresh token: due.
fn due_record(store: &impl TokenStore) -> TokenRecord {
    let mut record = TokenRecord {
        access_token: Some(Secret::new("AT-1")),
        refresh_token: Some(Secret::new("RT-1")),
        expires_at: Some(0),
        ..Default::default()
    };
    store.save("p", &mut record).unwrap();
    record
}

async fn token_endpoint(answer: ResponseTemplate, expected: impl Into<Times>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(answer)
        .expect(expected)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_refresh_waiting_for_the_lock_rereads_and_sends_nothing_when_the_holder_refreshed() {
    let server = token_endpoint(ResponseTemplate::new(500), 0).await;
    let store = MemoryStore::new();
    let seen = due_record(&store).generation;
    let engine = Arc::new(engine_for(&server, store.clone()));

    // Another holder has the lock, refreshes while we wait, then lets go.
    let held = TokenStore::try_lock(&store, "p").unwrap().unwrap();
    let waiting = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .refresh(
                    "p",
                    RefreshMode::Force {
                        seen_generation: Some(seen),
                    },
                )
                .await
        }
    });
    let theirs = holder_stores_and_lets_go(&store, held, &waiting, "the lock is waited for", |r| {
        TokenRecord {
            access_token: Some(Secret::new("AT-theirs")),
            refresh_token: Some(Secret::new("RT-theirs")),
            expires_at: Some(crate::clock::now() + 3600),
            ..r
        }
    })
    .await;

    let refreshed = waiting.await.unwrap().expect("nothing to fail");
    assert_eq!(refreshed.outcome, RefreshOutcome::AlreadyRefreshed);
    assert!(!refreshed.outcome.sent());
    assert_eq!(
        refreshed.record, theirs,
        "the record read again under the lock"
    );
    assert!(!store.is_locked("p"));
    // The mock's `expect(0)` is checked when it drops: no request was sent.
}

#[tokio::test]
async fn a_failed_refresh_never_touches_the_stored_refresh_token() {
    // A transient answer may be tried again (see `exchange::send_with_retries`): `1..` requests.
    for (answer, standing, transient) in [
        (
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"})),
            Standing::NeedsLogin,
            false,
        ),
        (
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "temporarily_unavailable"})),
            Standing::Active,
            true,
        ),
    ] {
        let server = token_endpoint(answer, 1..).await;
        let store = MemoryStore::new();
        due_record(&store);
        let engine = engine_for(&server, store.clone());

        let failed = engine
            .refresh("p", RefreshMode::IfNeeded)
            .await
            .expect_err("the provider refused");
        assert_eq!(failed.error.is_transient(), transient);
        let stored = store.load("p").unwrap().unwrap();
        assert_eq!(
            failed.record.as_deref(),
            Some(&stored),
            "what was stored is returned"
        );
        assert_eq!(stored.refresh_token, Some(Secret::new("RT-1")));
        assert_eq!(stored.access_token, Some(Secret::new("AT-1")));
        assert_eq!(stored.standing, standing);
        assert_eq!(stored.last_error.unwrap().transient, transient);
        assert!(!store.is_locked("p"));
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_is_stored_before_the_caller_sees_it() {
    let rotating = || {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "AT-2", "refresh_token": "RT-2", "expires_in": 3600
        }))
    };
    let server = token_endpoint(rotating(), 1).await;
    let store = MemoryStore::new();
    due_record(&store);
    let engine = engine_for(&server, store.clone());
    let saves = store.saves();
    let refreshed = engine.refresh("p", RefreshMode::IfNeeded).await.unwrap();
    assert_eq!(refreshed.outcome, RefreshOutcome::Rotated);
    assert_eq!(store.saves(), saves + 1);
    let stored = store.load("p").unwrap().unwrap();
    assert_eq!(stored, refreshed.record, "the caller gets what was stored");
    assert_eq!(stored.refresh_token, Some(Secret::new("RT-2")));

    // A store that cannot save: the caller gets the store's error, never the new token.
    let server = token_endpoint(rotating(), 1).await;
    let store = NoSaves(MemoryStore::new());
    due_record(&store.0);
    let engine = engine_for(&server, store);
    let failed = engine
        .refresh("p", RefreshMode::IfNeeded)
        .await
        .expect_err("nothing was stored");
    assert_eq!(failed.error.kind, ErrorKind::Store);
    assert!(failed.record.is_none());
    assert!(!format!("{failed:?} {failed}").contains("AT-2"));
}

/// A third store: the memory store whose saves fail (a full disk).
struct NoSaves(MemoryStore);

impl TokenStore for NoSaves {
    fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.0.load(name)
    }
    fn save(&self, _: &str, _: &mut TokenRecord) -> Result<(), StoreError> {
        Err(StoreError {
            message: "no space left on device".into(),
        })
    }
    fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError> {
        self.0.try_lock(name)
    }
    fn names(&self) -> Result<Vec<String>, StoreError> {
        self.0.names()
    }
    fn store_stamp(&self) -> Option<crate::store::Stamp> {
        self.0.store_stamp()
    }
    fn record_stamp(&self, name: &str) -> Option<crate::store::Stamp> {
        self.0.record_stamp(name)
    }
}

#[test]
fn the_memory_store_lists_and_stamps_what_it_holds() {
    let store = MemoryStore::new();
    let before = store.store_stamp();
    assert_eq!(store.record_stamp("a"), None);
    store.save("b", &mut TokenRecord::default()).unwrap();
    store.save("a", &mut TokenRecord::default()).unwrap();
    assert_eq!(store.names().unwrap(), ["a", "b"]);
    assert_ne!(store.store_stamp(), before);
    let a = store.record_stamp("a");
    store.save("b", &mut TokenRecord::default()).unwrap();
    assert_eq!(store.record_stamp("a"), a, "only b changed");
}

/// `--min-valid` is checked again under the lock: while we waited, another process stored a
/// token with enough left, and that one is handed out without a request.
#[tokio::test]
async fn min_valid_counts_a_refresh_made_by_another_process_while_waiting_for_the_lock() {
    let server = token_endpoint(ResponseTemplate::new(500), 0).await;
    let store = short_token_store(120);
    let engine = Arc::new(engine_for(&server, store.clone()));

    let held = TokenStore::try_lock(&store, "p").unwrap().unwrap();
    let waiting = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .access_token_with("p", Some(std::time::Duration::from_secs(600)))
                .await
        }
    });
    holder_stores_and_lets_go(
        &store,
        held,
        &waiting,
        "less than 10 min left: the lock is waited for",
        |r| TokenRecord {
            access_token: Some(Secret::new("AT-theirs")),
            expires_at: Some(crate::clock::now() + 3600),
            ..r
        },
    )
    .await;

    let token = waiting.await.unwrap().expect("nothing to fail");
    assert_eq!(token.token.expose(), "AT-theirs");
    assert!(token.failed_refresh.is_none());
}

/// A minute left is due by the default rule (`refresh_ahead`, 5 min, for a record that says
/// nothing of the token's lifetime), but not with `--min-valid 0s`: the flag replaces the rule
/// both ways, and nothing is sent.
#[tokio::test]
async fn min_valid_of_zero_hands_out_a_token_the_due_rule_would_refresh() {
    let server = token_endpoint(ResponseTemplate::new(500), 0).await;
    let store = short_token_store(60);
    let engine = engine_for(&server, store);
    let token = engine
        .access_token_with("p", Some(std::time::Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(token.token.expose(), "AT-short");
}

/// A record whose access token is fresh (an hour left) and whose id token expires at `id_exp`.
fn record_with_id_token(store: &impl TokenStore, id_exp: i64) -> TokenRecord {
    let now = crate::clock::now();
    let mut record = TokenRecord {
        access_token: Some(Secret::new("AT-1")),
        refresh_token: Some(Secret::new("RT-1")),
        id_token: Some(Secret::new(crate::jwt::encode_unsigned(
            &serde_json::json!({"exp": id_exp}),
        ))),
        expires_at: Some(now + 3600),
        obtained_at: Some(now),
        ..Default::default()
    };
    store.save("p", &mut record).unwrap();
    record
}

#[tokio::test]
async fn a_fresh_id_token_is_handed_out_without_a_request() {
    let server = token_endpoint(ResponseTemplate::new(500), 0).await;
    let store = MemoryStore::new();
    let exp = crate::clock::now() + 3600;
    let stored = record_with_id_token(&store, exp);
    let engine = engine_for(&server, store);
    let given = engine.id_token("p").await.unwrap();
    assert_eq!(given.token, stored.id_token.unwrap());
    assert_eq!(given.expires_at, Some(exp));
}

#[tokio::test]
async fn an_expired_id_token_is_refreshed_though_the_access_token_is_fresh() {
    let new_exp = crate::clock::now() + 3600;
    let (server, new_id) = refreshing_to_an_id_token(new_exp).await;
    let store = MemoryStore::new();
    record_with_id_token(&store, 1_000_000_000);
    let engine = engine_for(&server, store);
    let given = engine.id_token("p").await.unwrap();
    assert_eq!(given.token.expose(), new_id);
    assert_eq!(given.expires_at, Some(new_exp));
}

#[tokio::test]
async fn no_new_id_token_on_refresh_and_an_expired_one_is_an_error_with_a_hint() {
    let server = token_endpoint(
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "AT-2", "token_type": "Bearer", "expires_in": 3600,
        })),
        1,
    )
    .await;
    let store = MemoryStore::new();
    record_with_id_token(&store, 1_000_000_000);
    let engine = engine_for(&server, store);
    let e = engine.id_token("p").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(
        e.to_string().contains("kube_token = \"access_token\""),
        "{e}"
    );
}

/// `kube-credential --min-valid 2h` with an id token that has an hour left: refreshed first,
/// though the due rule would hand the stored one out.
#[tokio::test]
async fn min_valid_refreshes_an_id_token_with_less_left() {
    let new_exp = crate::clock::now() + 4 * 3600;
    let (server, new_id) = refreshing_to_an_id_token(new_exp).await;
    let store = MemoryStore::new();
    let stored = record_with_id_token(&store, crate::clock::now() + 3600);
    let engine = engine_for(&server, store);
    let kept = engine.id_token("p").await.unwrap();
    assert_eq!(kept.token, stored.id_token.unwrap(), "due rule: kept");
    let given = engine
        .id_token_with("p", Some(std::time::Duration::from_secs(2 * 3600)))
        .await
        .unwrap();
    assert_eq!(given.token.expose(), new_id);
    assert_eq!(given.expires_at, Some(new_exp));
}

/// A store whose profile `p` holds access token `AT-short` with `secs` left (its lifetime
/// unknown) and refresh token `RT-1`.
fn short_token_store(secs: i64) -> MemoryStore {
    let store = MemoryStore::new();
    let mut short = TokenRecord {
        access_token: Some(Secret::new("AT-short")),
        refresh_token: Some(Secret::new("RT-1")),
        expires_at: Some(crate::clock::now() + secs),
        ..Default::default()
    };
    store.save("p", &mut short).unwrap();
    store
}

/// An engine whose profile `p` refreshes at `server`'s `/token`, on `store`.
fn engine_for(server: &MockServer, store: impl TokenStore) -> Engine {
    Engine::new(config(&format!("{}/token", server.uri())), store).unwrap()
}

/// A token endpoint that must be asked once and answers a new access token and an id token
/// expiring at `exp`; and that id token.
async fn refreshing_to_an_id_token(exp: i64) -> (MockServer, String) {
    let id = crate::jwt::encode_unsigned(&serde_json::json!({"exp": exp}));
    let server = token_endpoint(
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "AT-2", "token_type": "Bearer", "expires_in": 3600, "id_token": id,
        })),
        1,
    )
    .await;
    (server, id)
}

/// Another holder of `p`'s lock (`held`): once `waiting` is seen waiting for the lock
/// (`waited`), it stores what `theirs` makes of the record, as a refresh of its own would, and
/// lets go. Returns the record as it stored it.
async fn holder_stores_and_lets_go<T>(
    store: &MemoryStore,
    held: LockGuard,
    waiting: &tokio::task::JoinHandle<T>,
    waited: &str,
    theirs: impl FnOnce(TokenRecord) -> TokenRecord,
) -> TokenRecord {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "{waited}");
    let mut record = theirs(store.load("p").unwrap().unwrap());
    store.save("p", &mut record).unwrap();
    drop(held);
    record
}
