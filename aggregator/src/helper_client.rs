//! The leader's side of the leader–helper protocol: JSON POSTs to the helper over HTTP/1.1
//! (`http://` only; put TLS in front of both servers' private link, e.g. a sidecar or a VPN).

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use thiserror::Error;
use tokio::net::TcpStream;

/// How long the leader waits for one helper answer.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Error)]
pub enum HelperError {
    #[error("the helper URL {0:?} is not http://host:port[/path]: the leader reaches the helper over plain HTTP")]
    BadUrl(String),
    #[error("the helper could not be reached: {0}")]
    Unreachable(String),
    #[error("the helper answered {status}: {body}")]
    Refused { status: u16, body: String },
}

/// Where the helper is.
#[derive(Debug, Clone)]
pub struct HelperClient {
    authority: String,
    path_prefix: String,
    token: Option<String>,
}

impl HelperClient {
    /// The helper at `url`, sent `token` as `Authorization: Bearer` when given.
    pub fn new(url: &str, token: Option<&str>) -> Result<Self, HelperError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| HelperError::BadUrl(url.to_owned()))?;
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if authority.is_empty() || !authority.contains(':') {
            return Err(HelperError::BadUrl(url.to_owned()));
        }
        let path_prefix = if path.is_empty() { String::new() } else { format!("/{}", path.trim_end_matches('/')) };
        Ok(Self { authority: authority.to_owned(), path_prefix, token: token.map(str::to_owned) })
    }

    /// POSTs `body` as JSON to `path`; the answer's JSON on 2xx.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, HelperError> {
        tokio::time::timeout(HELPER_TIMEOUT, self.exchange(path, body))
            .await
            .map_err(|_| HelperError::Unreachable(format!("no answer within {} s", HELPER_TIMEOUT.as_secs())))?
    }

    /// Sends a DAP message (`DAP-Auth-Token` set to the token) with `method` to `path`; the
    /// answer's bytes on 2xx.
    pub async fn dap_request(
        &self,
        method: hyper::Method,
        path: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, HelperError> {
        let exchange = async {
            let unreachable = |error: &dyn std::fmt::Display| HelperError::Unreachable(error.to_string());
            let stream = TcpStream::connect(&self.authority).await.map_err(|e| unreachable(&e))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
            tokio::spawn(connection);
            let mut request = Request::builder().method(method).uri(format!("{}{path}", self.path_prefix));
            if let Some(token) = &self.token {
                request = request.header("DAP-Auth-Token", token);
            }
            let request = request
                .header(hyper::header::HOST, &self.authority)
                .header(hyper::header::CONTENT_TYPE, media_type)
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| unreachable(&e))?;
            let response = sender.send_request(request).await.map_err(|e| unreachable(&e))?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.map_err(|e| unreachable(&e))?.to_bytes();
            if !(200..300).contains(&status) {
                return Err(HelperError::Refused { status, body: String::from_utf8_lossy(&bytes).into_owned() });
            }
            Ok(bytes.to_vec())
        };
        tokio::time::timeout(HELPER_TIMEOUT, exchange)
            .await
            .map_err(|_| HelperError::Unreachable(format!("no answer within {} s", HELPER_TIMEOUT.as_secs())))?
    }

    async fn exchange(&self, path: &str, body: &Value) -> Result<Value, HelperError> {
        let unreachable = |error: &dyn std::fmt::Display| HelperError::Unreachable(error.to_string());
        let stream = TcpStream::connect(&self.authority).await.map_err(|e| unreachable(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
        tokio::spawn(connection);
        let mut request = Request::post(format!("{}{path}", self.path_prefix));
        if let Some(token) = &self.token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| unreachable(&e))?;
        let response = sender.send_request(request).await.map_err(|e| unreachable(&e))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.map_err(|e| unreachable(&e))?.to_bytes();
        if !(200..300).contains(&status) {
            return Err(HelperError::Refused { status, body: String::from_utf8_lossy(&bytes).into_owned() });
        }
        serde_json::from_slice(&bytes).map_err(|e| unreachable(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_port_are_taken() {
        let client = HelperClient::new("http://127.0.0.1:9000/base/", None).expect("valid");
        assert_eq!((client.authority.as_str(), client.path_prefix.as_str()), ("127.0.0.1:9000", "/base"));
        assert!(HelperClient::new("https://helper.example", None).is_err());
        assert!(HelperClient::new("http://helper.example", None).is_err(), "no port");
    }
}
