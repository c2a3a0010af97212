//! Who the client is, and how much it may ask: every request passes one of two per-address
//! token buckets before its handler runs — *writes* (updates, lift reports, shares, a DAP
//! leader's report uploads: `--rate-limit-per-minute`) and *reads* (every GET, the leader's fold and sums requests:
//! `--read-rate-limit-per-minute`). The address is the TCP peer, unless the peer is one of the
//! `--trusted-proxy` ranges: then it is the right-most `X-Forwarded-For` entry that is not a
//! trusted proxy itself (entries left of it are the client's own claims and are never believed).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::rate_limit::RateLimiter;
use super::ApiError;
use crate::config::TrustedProxy;

/// The endpoints that take device submissions.
const WRITE_PATHS: [&str; 3] = ["/v1/updates", "/v1/lift-reports", "/v1/lift-shares"];

/// The two buckets and whom to believe about addresses.
pub struct ClientLimits {
    pub writes: RateLimiter,
    pub reads: RateLimiter,
    pub trusted_proxies: Vec<TrustedProxy>,
}

impl ClientLimits {
    pub fn new(writes_per_minute: u32, reads_per_minute: u32, trusted_proxies: Vec<TrustedProxy>) -> Self {
        let now = Instant::now();
        Self {
            writes: RateLimiter::new(writes_per_minute, now),
            reads: RateLimiter::new(reads_per_minute, now),
            trusted_proxies,
        }
    }
}

/// The client of a request from `peer` with `headers` (see the module doc).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|proxy| proxy.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok());
    let hops: Vec<&str> = forwarded.flat_map(|value| value.split(',')).map(str::trim).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) => {
                client = address;
                if !is_trusted(address) {
                    break;
                }
            }
            // An entry that is not an address ends what can be believed: the last trusted hop.
            Err(_) => break,
        }
    }
    client
}

/// Whether a request is a device submission (the writes bucket): a POST to one of
/// [`WRITE_PATHS`], or a DAP report upload, `PUT /tasks/{task}/reports`.
fn is_write(method: &Method, path: &str) -> bool {
    let dap_upload = path.strip_prefix("/tasks/").and_then(|rest| rest.strip_suffix("/reports"));
    (method == Method::POST && WRITE_PATHS.contains(&path))
        || (method == Method::PUT && dap_upload.is_some_and(|task| !task.is_empty() && !task.contains('/')))
}

/// Middleware: refuses with `429 rate_limited` past the client's bucket for this endpoint.
/// Without connection info (in-process tests) every request counts as one loopback client.
pub async fn limit(State(limits): State<Arc<ClientLimits>>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |info| info.0.ip());
    let address = client_address(peer, request.headers(), &limits.trusted_proxies);
    let bucket = if is_write(request.method(), request.uri().path()) { &limits.writes } else { &limits.reads };
    if bucket.admit(address, Instant::now()) {
        next.run(request).await
    } else {
        ApiError::RateLimited.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().expect("header"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxies: Vec<TrustedProxy> = vec!["10.0.0.0/8".parse().expect("range")];
        let claimed = headers(&["198.51.100.7"]);
        // Not behind a proxy: the header is the client's own claim.
        assert_eq!(client_address(ip("203.0.113.9"), &claimed, &proxies), ip("203.0.113.9"));
        assert_eq!(client_address(ip("10.0.0.2"), &claimed, &[]), ip("10.0.0.2"), "no --trusted-proxy");
        // Behind the proxy: the right-most untrusted hop, however much the client prepends.
        assert_eq!(client_address(ip("10.0.0.2"), &claimed, &proxies), ip("198.51.100.7"));
        let chain = headers(&["1.2.3.4, 198.51.100.7", "10.0.0.5"]);
        assert_eq!(client_address(ip("10.0.0.2"), &chain, &proxies), ip("198.51.100.7"));
        assert_eq!(client_address(ip("10.0.0.2"), &headers(&["junk, 10.0.0.7"]), &proxies), ip("10.0.0.7"));
        assert_eq!(client_address(ip("10.0.0.2"), &HeaderMap::new(), &proxies), ip("10.0.0.2"));
    }
}
