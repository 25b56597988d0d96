//! `tokdash call NAME URL [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE|@-] [-i]
//! [--min-valid D]`: an API request with the access token, a refresh and one retry on a 401,
//! the response body streamed to stdout. Exit 0 on 2xx, 1 otherwise (the status on stderr).

use super::{Context, hand_out, warn_about};
use crate::engine::{ApiRequest, ApiResponse};
use crate::failure::{CmdResult, Failure};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use std::io::{Read, Write};
use std::time::Duration;

/// What the command line says about the request.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    pub url: String,
    /// The method [default: GET, or POST with -d]
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// A request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The body: DATA, @FILE, or @- for stdin
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Option<String>,
    /// Print the status line and the response headers before the body
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    /// Refresh first when less than this is left (instead of the refresh_ahead rule)
    #[arg(long, value_parser = crate::config::parse_duration, value_name = "D")]
    pub min_valid: Option<Duration>,
}

pub fn call(ctx: &Context, name: &str, args: CallArgs) -> CmdResult {
    let engine = ctx.engine_for(name)?;
    let request = request_of(name, &args)?;
    warn_about(engine.config(), &[name]);
    ctx.runtime()?.block_on(async {
        let token = hand_out(&engine, name, args.min_valid, "using").await?;
        let answer = engine.call_api(name, &request, token).await?;
        print_response(name, &request, answer, args.include).await
    })
}

/// The request, or a usage error (exit 2) that says what is wrong with the command line.
fn request_of(name: &str, args: &CallArgs) -> Result<ApiRequest, Failure> {
    let usage = |what: String| Failure::usage(format!("{name}: call: {what}"));
    // https://, or plain http:// to loopback only: a token never crosses the network in clear.
    let url = crate::urls::check_endpoint(&args.url).map_err(usage)?;
    let url = url::Url::parse(&url).map_err(|e| usage(format!("`{url}` is not a URL ({e})")))?;
    let mut headers = HeaderMap::new();
    for line in &args.headers {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| usage(format!("-H `{line}`: write it as 'Name: value'")))?;
        let key = HeaderName::from_bytes(key.trim().as_bytes()).map_err(|_| {
            usage(format!(
                "-H `{line}`: `{}` is not a header name",
                key.trim()
            ))
        })?;
        if key == AUTHORIZATION {
            return Err(usage(
                "-H Authorization: tokdash sends the profile's token in it".into(),
            ));
        }
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| usage(format!("-H `{key}`: the value is not a header value")))?;
        headers.append(key, value);
    }
    let body = args
        .data
        .as_deref()
        .map(|data| body_of(data).map_err(usage))
        .transpose()?;
    // As curl does: -d makes it a POST, of a form unless a Content-Type is given.
    if body.is_some() && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    }
    let method = match &args.method {
        Some(m) => reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| usage(format!("-X `{m}` is not an HTTP method")))?,
        None if body.is_some() => reqwest::Method::POST,
        None => reqwest::Method::GET,
    };
    Ok(ApiRequest {
        method,
        url,
        headers,
        body,
    })
}

/// `-d DATA`, `-d @FILE`, `-d @-` (stdin, read whole: it may have to be sent twice).
fn body_of(data: &str) -> Result<Vec<u8>, String> {
    match data.strip_prefix('@') {
        None => Ok(data.as_bytes().to_vec()),
        Some("-") => {
            let mut body = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut body)
                .map_err(|e| format!("-d @-: cannot read stdin: {e}"))?;
            Ok(body)
        }
        Some(path) => std::fs::read(path).map_err(|e| format!("-d @{path}: {e}")),
    }
}

/// The body to stdout as it comes (with `-i`, the status line and headers first); the exit
/// code from the status.
async fn print_response(
    name: &str,
    request: &ApiRequest,
    answer: ApiResponse,
    include: bool,
) -> CmdResult {
    let ApiResponse {
        mut response,
        refreshed_after_401,
    } = answer;
    let status = response.status();
    let written = |e: std::io::Error| Failure::failed(format!("{name}: call: stdout: {e}"));
    let mut out = std::io::stdout().lock();
    if include {
        let mut head = format!("{:?} {status}\r\n", response.version());
        for (key, value) in response.headers() {
            head.push_str(&format!(
                "{key}: {}\r\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes()).map_err(written)?;
    }
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => out.write_all(&chunk).map_err(written)?,
            Ok(None) => break,
            Err(e) => {
                return Err(Failure::failed(format!(
                    "{name}: call: the response from {} was cut off: {}",
                    request.url.host_str().unwrap_or_default(),
                    e.without_url()
                )));
            }
        }
    }
    out.flush().map_err(written)?;
    if status.is_success() {
        return Ok(());
    }
    let mut message = format!(
        "{name}: call: {} {} answered HTTP {status}",
        request.method, request.url
    );
    if status.is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
            .unwrap_or_default();
        message.push_str(&format!(
            " (to {to}; redirects are not followed, so the token never goes elsewhere: call that URL)"
        ));
    } else if refreshed_after_401 && status == reqwest::StatusCode::UNAUTHORIZED {
        message.push_str(" even after a refresh");
    }
    Err(Failure::failed(message))
}
