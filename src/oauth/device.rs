//! The device authorization grant's answers (RFC 8628): the device authorization response, as
//! each provider words it (Google's `verification_url`, Microsoft's `message`, Auth0's
//! `verification_uri_complete`). The polling itself is the engine's (`engine/login.rs`).

use super::ParseError;
use super::error::one_line;
use serde_json::Value;
use std::time::Duration;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the default polling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: `slow_down` adds 5 seconds, for this and every later request.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// What the user must see to approve the login (RFC 8628 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPrompt {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    /// Unix seconds when the code stops working.
    pub expires_at: i64,
    /// Microsoft's ready-made sentence, when the provider sends one.
    pub message: Option<String>,
}

/// A device authorization response (RFC 8628 §3.2).
#[derive(Debug)]
pub struct DeviceAuthorization {
    pub(crate) device_code: String,
    pub prompt: LoginPrompt,
    pub interval: Duration,
}

/// RFC 8628 §3.2, read leniently: `verification_url` (Google) for `verification_uri`,
/// numbers as numbers or numeric strings, `interval` defaulting to 5 s.
pub fn parse_authorization(body: &[u8], now: i64) -> Result<DeviceAuthorization, ParseError> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err("the answer is not a JSON object".into());
    };
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    };
    let number = |key: &str| match map.get(key) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let device_code = text(&["device_code"]).ok_or("no device_code in the answer")?;
    let user_code = text(&["user_code"]).ok_or("no user_code in the answer")?;
    let verification_uri = text(&["verification_uri", "verification_url"])
        .ok_or("no verification_uri in the answer")?;
    let expires_in = number("expires_in").unwrap_or(600).min(86_400);
    let interval = number("interval")
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_INTERVAL)
        .max(Duration::from_secs(1));
    Ok(DeviceAuthorization {
        device_code,
        prompt: LoginPrompt {
            verification_uri: one_line(&verification_uri),
            verification_uri_complete: text(&[
                "verification_uri_complete",
                "verification_url_complete",
            ])
            .map(|s| one_line(&s)),
            user_code: one_line(&user_code),
            expires_at: now + expires_in as i64,
            message: text(&["message"]).map(|s| one_line(&s)),
        },
        interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_verification_url_and_default_interval() {
        let body = br#"{"device_code":"4/4-GM","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800}"#;
        let d = parse_authorization(body, 100).unwrap();
        assert_eq!(d.prompt.verification_uri, "https://www.google.com/device");
        assert_eq!(d.prompt.expires_at, 1900);
        assert_eq!(d.interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn microsoft_message_and_auth0_complete_uri() {
        let ms = br#"{"user_code":"ABCD1234","device_code":"DAQ","verification_uri":"https://microsoft.com/devicelogin","expires_in":"900","interval":5,"message":"To sign in, use a web browser"}"#;
        let d = parse_authorization(ms, 0).unwrap();
        assert_eq!(
            d.prompt.message.as_deref(),
            Some("To sign in, use a web browser")
        );
        assert_eq!(d.prompt.expires_at, 900);
        let a0 = br#"{"device_code":"G","user_code":"WDJB-MJHT","verification_uri":"https://t/device","verification_uri_complete":"https://t/device?user_code=WDJB-MJHT","expires_in":900,"interval":7}"#;
        let d = parse_authorization(a0, 0).unwrap();
        assert_eq!(
            d.prompt.verification_uri_complete.as_deref(),
            Some("https://t/device?user_code=WDJB-MJHT")
        );
        assert_eq!(d.interval, Duration::from_secs(7));
    }

    #[test]
    fn missing_fields_are_errors() {
        assert!(parse_authorization(br#"{"user_code":"x"}"#, 0).is_err());
        assert!(parse_authorization(b"<html>", 0).is_err());
    }
}
