//! `call`: any API request with the access token; on a 401 refresh once (under the lock, even
//! if the token looked valid) and send the same request again. Like `check`, with the request
//! the user wrote.

use super::error::{EngineError, ErrorKind};
use super::refresh::RefreshMode;
use super::{AccessToken, Engine};
use crate::secret::Secret;

/// A request as `tokdash call` was asked for it; the body is kept whole, so it can be sent twice.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: reqwest::Method,
    pub url: url::Url,
    pub headers: reqwest::header::HeaderMap,
    pub body: Option<Vec<u8>>,
}

/// The response whose body is still to be read (streamed by the caller).
#[derive(Debug)]
pub struct ApiResponse {
    pub response: reqwest::Response,
    /// The first answer was a 401, and this one came after a refresh.
    pub refreshed_after_401: bool,
}

impl Engine {
    /// Sends `request` with `token`; on a 401, one refresh (forced, unless another process
    /// refreshed since `token` was read) and the same request once more. The client follows no
    /// redirect, so the token never leaves for another origin: a 3xx is the answer.
    pub async fn call_api(
        &self,
        name: &str,
        request: &ApiRequest,
        token: AccessToken,
    ) -> Result<ApiResponse, EngineError> {
        let first = self.send_api(name, request, &token.token).await?;
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(ApiResponse {
                response: first,
                refreshed_after_401: false,
            });
        }
        drop(first);
        tracing::info!(profile = name, "the API answered 401; refreshing once");
        let refreshed = self
            .refresh(
                name,
                RefreshMode::Force {
                    seen_generation: Some(token.generation),
                },
            )
            .await?;
        let fresh = refreshed.record.access_token.ok_or_else(|| {
            EngineError::new(name, ErrorKind::Refused, "the refresh gave no access token")
        })?;
        let second = self.send_api(name, request, &fresh).await?;
        Ok(ApiResponse {
            response: second,
            refreshed_after_401: true,
        })
    }

    async fn send_api(
        &self,
        name: &str,
        request: &ApiRequest,
        token: &Secret,
    ) -> Result<reqwest::Response, EngineError> {
        let mut builder = self
            .http
            .client()
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .bearer_auth(token.expose());
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let _permit = self.permits.acquire().await;
        let host = request.url.host_str().unwrap_or_default().to_string();
        // Sent once: an API request may not be safe to repeat, so no retries here.
        builder.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                format!(
                    "no answer from {host} within {}",
                    humantime::format_duration(self.config.settings.timeout)
                )
            } else {
                // Without the URL (reqwest's text names it): the host says where.
                format!("cannot reach {host}: {}", e.without_url())
            };
            EngineError::new(name, ErrorKind::Transient, format!("call failed: {why}"))
        })
    }
}
