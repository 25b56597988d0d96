//! Refresh (RFC 6749 §6) and client credentials (§4.4), under the profile's lock:
//!
//! 1. take the lock (other processes wait here),
//! 2. read the record again: another process may have refreshed while we waited, and then no
//!    request is sent,
//! 3. send the request,
//! 4. store the response (a rotated refresh token reaches the disk before anything else sees it),
//!    or store the failure next to the untouched refresh token,
//! 5. release the lock.

use super::Engine;
use super::error::{EngineError, ErrorKind, exchange_error};
use crate::clock;
use crate::config::{Grant, Profile};
use crate::oauth::exchange;
use crate::oauth::token_response;
use crate::provider;
use crate::status::{min_valid_due, refresh_due};
use crate::store::{LastError, Standing, TokenRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMode {
    /// Only when the token is expired or within `refresh_ahead` (after re-reading under the lock).
    IfNeeded,
    /// Now, unless the record changed since `seen_generation` and is valid: then another process
    /// has just refreshed it and ours would be a wasted (or, with rotation, harmful) second spend.
    Force { seen_generation: Option<u64> },
    /// Now, unless another process refreshed it after `since` (unix seconds) and it is valid.
    /// For commands, which know when they were asked but have not read the record (a read per
    /// profile that `refresh --all` saves). Within the same second it refreshes again: a wasted
    /// request at worst, never a double spend, since the record is re-read under the lock.
    ForceUnlessRefreshedAfter { since: i64 },
    /// Only when less than `secs` seconds are left (`--min-valid`): this replaces the due rule,
    /// and is checked again under the lock, so another process's fresh refresh counts.
    MinValid { secs: i64 },
}

impl RefreshMode {
    /// Whether the record needs nothing by this mode's rule: active, and not due (by `--min-valid`
    /// for [`RefreshMode::MinValid`], else by [`refresh_due`]).
    pub fn fresh(self, record: &TokenRecord, profile: &Profile, now: i64) -> bool {
        let facts = record.meta();
        record.standing == Standing::Active
            && match self {
                RefreshMode::MinValid { secs } => !min_valid_due(&facts, secs, now),
                _ => !refresh_due(&facts, profile, now),
            }
    }

    /// Whether the record, as read under the lock, already is what this refresh was for.
    /// `fresh`: active and not within `refresh_ahead` of expiry.
    fn already_done(self, fresh: bool, record: &TokenRecord) -> bool {
        match self {
            RefreshMode::IfNeeded | RefreshMode::MinValid { .. } => fresh,
            RefreshMode::Force { seen_generation } => {
                fresh && seen_generation.is_some_and(|g| g != record.generation)
            }
            RefreshMode::ForceUnlessRefreshedAfter { since } => {
                fresh && record.last_refresh.is_some_and(|t| t > since)
            }
        }
    }
}

/// What a refresh that did not fail came to. One wording for the command line and the dashboard:
/// [`RefreshOutcome::describe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Nothing sent: the token was not due (`refresh --all` without `--force`, a due check).
    NotDue,
    /// Nothing sent: another process refreshed it after we were asked (found under the lock).
    AlreadyRefreshed,
    /// A new access token is stored; the refresh token is the same.
    Refreshed,
    /// A new access token and a new refresh token are stored.
    Rotated,
}

impl RefreshOutcome {
    pub fn describe(self) -> &'static str {
        match self {
            RefreshOutcome::NotDue => "not due, nothing sent",
            RefreshOutcome::AlreadyRefreshed => {
                "already fresh (refreshed by another process meanwhile)"
            }
            RefreshOutcome::Refreshed => "refreshed",
            RefreshOutcome::Rotated => "refreshed; new refresh token stored",
        }
    }

    /// Whether a request was sent.
    pub fn sent(self) -> bool {
        matches!(self, RefreshOutcome::Refreshed | RefreshOutcome::Rotated)
    }
}

#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The record as stored.
    pub record: TokenRecord,
    pub outcome: RefreshOutcome,
}

/// A refresh that failed, with the record as stored after the failure (its `last_error`, its
/// standing, the untouched refresh token): no caller reads it back. `None` when the failure
/// came before the record was read (the lock, the store, the config).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct RefreshFailed {
    #[source]
    pub error: EngineError,
    /// Boxed: a failure is the rare path, and keeps `Result<Refreshed, RefreshFailed>` small.
    pub record: Option<Box<TokenRecord>>,
}

impl From<EngineError> for RefreshFailed {
    fn from(error: EngineError) -> Self {
        RefreshFailed {
            error,
            record: None,
        }
    }
}

impl From<RefreshFailed> for EngineError {
    fn from(failed: RefreshFailed) -> Self {
        failed.error
    }
}

impl Engine {
    pub async fn refresh(&self, name: &str, mode: RefreshMode) -> Result<Refreshed, RefreshFailed> {
        let asked_at = clock::now();
        let profile = self.profile(name)?;
        let (lock, mut record) = self.lock_and_load(name).await?;
        let now = clock::now();
        let facts = record.meta();
        let fresh = mode.fresh(&record, profile, now);
        if mode.already_done(fresh, &record) {
            let outcome = match mode {
                RefreshMode::IfNeeded | RefreshMode::MinValid { .. }
                    if record.last_refresh.is_none_or(|t| t <= asked_at) =>
                {
                    RefreshOutcome::NotDue
                }
                _ => RefreshOutcome::AlreadyRefreshed,
            };
            return Ok(Refreshed { record, outcome });
        }
        if !crate::status::can_refresh(Some(&facts), profile.grant) {
            return Err(RefreshFailed {
                error: nothing_to_act_with(name, &record),
                record: Some(Box::new(record)),
            });
        }

        let result = self.request_new_token(profile, &record).await;
        let now = clock::now();
        match result {
            Ok(response) => {
                let rotated = response.rotates();
                response.apply_to(&mut record, now);
                record.last_refresh = Some(now);
                // Stored before the lock is released and before any caller sees the token.
                if profile.token_files.is_empty() {
                    self.save_and_unlock(name, &mut record, lock).await?;
                } else {
                    self.save(name, &mut record).await?;
                    // Under the lock: files are written in the order of the refreshes.
                    self.write_token_files(profile, &record).await;
                    drop(lock);
                }
                tracing::info!(profile = name, rotated, "refreshed");
                self.run_hook(profile, &record).await;
                let outcome = if rotated {
                    RefreshOutcome::Rotated
                } else {
                    RefreshOutcome::Refreshed
                };
                Ok(Refreshed { record, outcome })
            }
            Err(error) => {
                // The refresh token is never touched here: only the standing and the error.
                if error.kind == ErrorKind::NeedsLogin {
                    record.standing = Standing::NeedsLogin;
                }
                record.last_error = Some(LastError {
                    message: error.detail(),
                    code: error.code.clone(),
                    transient: error.is_transient(),
                    at: now,
                });
                self.save_and_unlock(name, &mut record, lock).await?;
                tracing::warn!(profile = name, code = ?error.code, "refresh failed: {}", error.message);
                Err(RefreshFailed {
                    error,
                    record: Some(Box::new(record)),
                })
            }
        }
    }

    async fn request_new_token(
        &self,
        profile: &Profile,
        record: &TokenRecord,
    ) -> Result<token_response::TokenResponse, EngineError> {
        let endpoints = self.endpoints(profile).await?;
        let auth = self.client_auth(profile).await?;
        let kind = profile.provider.kind();
        let mut base: Vec<(&'static str, String)> = Vec::new();
        let idempotent = match profile.grant {
            Grant::RefreshToken => {
                base.push(("grant_type", "refresh_token".into()));
                let rt = record
                    .refresh_token
                    .as_ref()
                    .map(|t| t.expose().to_string())
                    .unwrap_or_default();
                base.push(("refresh_token", rt));
                if provider::sends_scope_on_refresh(kind) && !profile.scopes.is_empty() {
                    base.push(("scope", profile.scopes.join(" ")));
                }
                false
            }
            Grant::ClientCredentials => {
                base.push(("grant_type", "client_credentials".into()));
                if !profile.scopes.is_empty() {
                    base.push(("scope", profile.scopes.join(" ")));
                }
                base.extend(provider::extra_params(profile));
                true
            }
        };
        let http = &self.http;
        let _permit = self.permits.acquire().await;
        let reply =
            exchange::send_with_retries(http, self.config.settings.timeout, idempotent, || {
                let mut form = base.clone();
                let request = auth.apply(http.client().post(&endpoints.token_url), &mut form);
                request.form(&form)
            })
            .await
            .map_err(|e| exchange_error(profile, "refresh", e))?;
        // Small (the body is capped at 1 MiB): parsed here, no trip to a blocking thread.
        token_response::parse(&reply.body)
            .map_err(|why| {
                EngineError::new(
                    &profile.name,
                    ErrorKind::Transient,
                    format!("refresh failed: the token endpoint's answer is not a token response ({why})"),
                )
            })
            .and_then(|r| {
                if r.access_token.is_none() {
                    Err(EngineError::new(&profile.name, ErrorKind::Refused, "refresh failed: the answer has no access_token"))
                } else {
                    Ok(r)
                }
            })
    }
}

fn nothing_to_act_with(name: &str, record: &TokenRecord) -> EngineError {
    let why = match record.standing {
        Standing::Revoked => "the tokens were revoked",
        Standing::NeedsLogin => "the provider rejected the refresh token",
        Standing::Active => "no refresh token is stored",
    };
    EngineError::new(
        name,
        ErrorKind::NothingToActWith,
        format!("cannot refresh: {why}"),
    )
    .with_hint(format!("run: tokdash login {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forced_refresh_is_skipped_only_when_another_process_just_did_it() {
        let record = TokenRecord {
            last_refresh: Some(1_000),
            generation: 7,
            ..Default::default()
        };
        let after = |since| RefreshMode::ForceUnlessRefreshedAfter { since };
        assert!(
            after(999).already_done(true, &record),
            "refreshed after we were asked"
        );
        assert!(
            !after(1_000).already_done(true, &record),
            "same second: refresh again"
        );
        assert!(
            !after(999).already_done(false, &record),
            "not fresh: refresh"
        );
        assert!(
            !after(999).already_done(true, &TokenRecord::default()),
            "never refreshed"
        );

        let seen = |g| RefreshMode::Force {
            seen_generation: Some(g),
        };
        assert!(
            seen(6).already_done(true, &record),
            "the record changed since it was seen"
        );
        assert!(
            !seen(7).already_done(true, &record),
            "unchanged: the user wants a refresh"
        );
        assert!(
            !RefreshMode::Force {
                seen_generation: None
            }
            .already_done(true, &record)
        );

        assert!(RefreshMode::IfNeeded.already_done(true, &record));
        assert!(!RefreshMode::IfNeeded.already_done(false, &record));
    }
}
