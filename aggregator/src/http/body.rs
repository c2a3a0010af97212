//! Reading a request body within a size limit and a time limit, so no client can hold a
//! handler (and its connection) by sending slowly, and every refusal is JSON.

use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::Request;
use axum::http::header;

use super::ApiError;

/// The body of `request`: `413 body_too_large` past `limit` bytes (from `Content-Length`
/// before reading anything, or while reading), `408 body_timeout` when it has not fully
/// arrived within `timeout`, `400 body_unreadable` when the connection broke.
pub async fn read_body(request: Request, limit: usize, timeout: Duration) -> Result<Bytes, ApiError> {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    read_limited(request.into_body(), limit, timeout).await
}

async fn read_limited(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::BodyTimeout { seconds: timeout.as_secs_f64() }),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(cause) = source {
                if cause.is::<http_body_util::LengthLimitError>() {
                    return Err(ApiError::BodyTooLarge { limit });
                }
                source = cause.source();
            }
            Err(ApiError::BodyUnreadable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_are_refused_with_their_own_errors() {
        let request = |body: &'static [u8], length: Option<&str>| {
            let mut builder = Request::post("/v1/updates");
            if let Some(length) = length {
                builder = builder.header(header::CONTENT_LENGTH, length);
            }
            builder.body(Body::from(body)).expect("request")
        };
        let second = Duration::from_secs(1);
        assert_eq!(read_body(request(b"abc", None), 3, second).await, Ok(Bytes::from_static(b"abc")));
        assert_eq!(read_body(request(b"abcd", None), 3, second).await, Err(ApiError::BodyTooLarge { limit: 3 }));
        assert_eq!(read_body(request(b"", Some("4")), 3, second).await, Err(ApiError::BodyTooLarge { limit: 3 }));
        let answer = read_limited(Body::new(Stalled), 3, Duration::from_millis(20)).await;
        assert_eq!(answer, Err(ApiError::BodyTimeout { seconds: 0.02 }));
    }

    /// A body whose bytes never come (a client that stopped sending).
    struct Stalled;

    impl axum::body::HttpBody for Stalled {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
            std::task::Poll::Pending
        }
    }
}
