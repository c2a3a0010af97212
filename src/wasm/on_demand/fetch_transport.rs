//! The browser [`Transport`]: `fetch` with `credentials: "omit"`, `referrerPolicy: "no-referrer"`
//! and `keepalive`, bodies as `Uint8Array`; on page hide a keepalive fetch
//! ([`FetchTransport::send_on_page_hide`]) or `navigator.sendBeacon` ([`FetchTransport::send_beacon`]).
//!
//! What leaves the browser is exactly the update, lift report or lift share body: no cookies (credentials omitted), no page
//! URL (no referrer), no custom headers. Without a `Content-Type` header the POST is a CORS
//! "simple request", so no preflight precedes it. A DAP report (secure aggregation) is a `PUT`
//! with `Content-Type: application/dap-report`, as DAP-09 requires: the leader must answer the
//! CORS preflight (Janus does).

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReferrerPolicy, RequestCache, RequestCredentials, RequestInit, RequestMode, Response};

use crate::measure::holdout::LiftBucket;
use crate::sync::secure_aggregation::parse_dap_booked;
use crate::sync::{SyncError, Transport};

/// Talks to the aggregator at `base_url` (e.g. `http://127.0.0.1:8787`) and, with secure
/// aggregation, to the DAP leaders of the update task and of the lift task.
#[derive(Debug, Clone)]
pub struct FetchTransport {
    base_url: String,
    /// `{leaderUrl}/tasks/{taskId}/reports` of the lift tasks (`liftReport.noise.tasks`):
    /// `[personalized, holdout]`.
    lift_dap_reports_urls: Option<[String; 2]>,
    /// `{leaderUrl}/tasks/{taskId}/reports` with secure aggregation.
    dap_reports_url: Option<String>,
}

fn transport_error(context: &str, error: &JsValue) -> SyncError {
    let detail = error
        .as_string()
        .or_else(|| Reflect::get(error, &JsValue::from_str("message")).ok().and_then(|message| message.as_string()));
    SyncError::Transport { message: format!("{context}: {}", detail.unwrap_or_else(|| "unknown error".to_owned())) }
}

/// A request init that carries nothing identifying: no cookies, no referrer.
fn private_init(method: &str, cache: RequestCache) -> RequestInit {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_referrer_policy(ReferrerPolicy::NoReferrer);
    init.set_cache(cache);
    init
}

fn post_init(body: &[u8]) -> RequestInit {
    let init = private_init("POST", RequestCache::NoStore);
    // `keepalive` lets the request finish after the page is gone (no typed setter in web-sys).
    let _ = Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE);
    init.set_body(&Uint8Array::from(body));
    init
}

/// A DAP-09 upload: `PUT` of the encoded report with its media type, kept alive like a POST.
fn dap_init(report: &[u8]) -> RequestInit {
    let init = post_init(report);
    init.set_method("PUT");
    let headers = js_sys::Object::new();
    let _ = Reflect::set(&headers, &JsValue::from_str("content-type"), &JsValue::from_str("application/dap-report"));
    init.set_headers(&headers);
    init
}

async fn fetch(url: &str, init: &RequestInit) -> Result<Response, SyncError> {
    let window = web_sys::window()
        .ok_or_else(|| SyncError::Transport { message: "no window: fetch needs a page".to_owned() })?;
    let response = JsFuture::from(window.fetch_with_str_and_init(url, init))
        .await
        .map_err(|error| transport_error("fetch failed", &error))?;
    response
        .dyn_into::<Response>()
        .map_err(|_| SyncError::Transport { message: "fetch returned no Response".to_owned() })
}

async fn body_bytes(response: &Response) -> Result<Vec<u8>, SyncError> {
    let promise = response.array_buffer().map_err(|error| transport_error("reading the body failed", &error))?;
    let buffer = JsFuture::from(promise).await.map_err(|error| transport_error("reading the body failed", &error))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Turns a refusal `{ "error": code, "message": text }` into [`SyncError::Rejected`].
async fn rejection(response: &Response) -> SyncError {
    let status = response.status();
    let parsed = body_bytes(response).await.ok().and_then(|bytes| {
        let text = String::from_utf8(bytes).ok()?;
        crate::storage::json_reading::parse(&text).ok()
    });
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|value| value.get(name))
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    SyncError::Rejected { status, error: field("error"), message: field("message") }
}

impl FetchTransport {
    /// `base_url` without a trailing slash is fine either way; `dap_reports_url` and
    /// `lift_dap_reports_urls` are the checked upload URLs of the update task and of the two
    /// lift tasks (`[personalized, holdout]`), if any.
    pub fn new(base_url: &str, dap_reports_url: Option<&str>, lift_dap_reports_urls: Option<[String; 2]>) -> Self {
        Self {
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            lift_dap_reports_urls,
            dap_reports_url: dap_reports_url.map(str::to_owned),
        }
    }

    fn updates_url(&self) -> String {
        format!("{}/v1/updates", self.base_url)
    }

    /// On `pagehide`: starts a keepalive POST that outlives the page and returns at once. It
    /// keeps `credentials: "omit"` and `referrerPolicy: "no-referrer"`, which is why it is
    /// preferred over a beacon.
    pub fn send_on_page_hide(&self, body: &[u8]) -> bool {
        let Some(window) = web_sys::window() else { return false };
        let (url, init) = match (parse_dap_booked(body), &self.dap_reports_url) {
            (Some((_, report)), Some(url)) => (url.clone(), dap_init(report)),
            (Some(_), None) => return false,
            (None, _) => (self.updates_url(), post_init(body)),
        };
        let promise = window.fetch_with_str_and_init(&url, &init);
        // A keepalive fetch that fails after unload has nobody to report to.
        let ignore = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
        let _ = promise.catch(&ignore);
        ignore.forget();
        true
    }

    /// `navigator.sendBeacon` with the body as `Uint8Array`, for browsers without keepalive
    /// fetch. A beacon sends no cookies cross-origin but follows the page's referrer policy: set
    /// `<meta name="referrer" content="no-referrer">` (or `strict-origin`) on shop pages.
    /// Returns whether the browser queued it.
    pub fn send_beacon(&self, body: &[u8]) -> bool {
        // A beacon is always a POST without a media type: a DAP report waits for the next page.
        let Some(window) = web_sys::window().filter(|_| parse_dap_booked(body).is_none()) else { return false };
        let data = Uint8Array::from(body);
        window.navigator().send_beacon_with_opt_js_u8_array(&self.updates_url(), Some(&data)).unwrap_or(false)
    }
}

async fn post(url: &str, body: &[u8]) -> Result<(), SyncError> {
    send(url, &post_init(body)).await
}

async fn send(url: &str, init: &RequestInit) -> Result<(), SyncError> {
    let response = fetch(url, init).await?;
    if response.ok() {
        Ok(())
    } else {
        Err(rejection(&response).await)
    }
}

impl Transport for FetchTransport {
    async fn send_update(&self, body: &[u8]) -> Result<(), SyncError> {
        post(&self.updates_url(), body).await
    }

    /// The same private request as an update (`credentials: "omit"`, no referrer, no custom
    /// header, so no CORS preflight) to `/v1/lift-reports`.
    async fn send_lift_report(&self, body: &[u8]) -> Result<(), SyncError> {
        post(&format!("{}/v1/lift-reports", self.base_url), body).await
    }

    /// `PUT {leaderUrl}/tasks/{taskId}/reports` of `bucket`'s lift task (DAP-09 upload).
    async fn send_lift_dap_report(&self, bucket: LiftBucket, report: &[u8]) -> Result<(), SyncError> {
        let Some([personalized, holdout]) = &self.lift_dap_reports_urls else {
            let message = "no lift task: configure liftReport.noise = { kind: \"secureAggregation\", ... }".to_owned();
            return Err(SyncError::Transport { message });
        };
        let url = if bucket == LiftBucket::Holdout { holdout } else { personalized };
        send(url, &dap_init(report)).await
    }

    /// `PUT {leaderUrl}/tasks/{taskId}/reports` with the report (DAP-09 upload).
    async fn send_dap_report(&self, report: &[u8]) -> Result<(), SyncError> {
        let Some(url) = &self.dap_reports_url else {
            let message = "no secure aggregation task: configureSync({ secureAggregation }) first".to_owned();
            return Err(SyncError::Transport { message });
        };
        send(url, &dap_init(report)).await
    }

    /// Lets the browser's HTTP cache revalidate with the server's `ETag` (`cache: "no-cache"`),
    /// so no custom header (and no CORS preflight) is needed; an unchanged model comes back as
    /// the same bytes and installs as `Unchanged`.
    async fn fetch_model(&self, _known_version: Option<u64>) -> Result<Option<Vec<u8>>, SyncError> {
        let url = format!("{}/v1/model", self.base_url);
        let response = fetch(&url, &private_init("GET", RequestCache::NoCache)).await?;
        if !response.ok() {
            return Err(rejection(&response).await);
        }
        body_bytes(&response).await.map(Some)
    }
}
