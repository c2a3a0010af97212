//! Sync through the `Personalizer` JS class in Chromium, with `fetch` replaced by a recorder that
//! plays the aggregator: nothing is sent without full consent, the one body that leaves is the
//! binary update format (decoded here with the core decoder), and a tampered model is rejected
//! while the previous one stays in use.
#![cfg(target_arch = "wasm32")]

mod browser_page;

use browser_page::*;
use ed25519_dalek::SigningKey;
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use shop_personalizer::rank::{DEFAULT_WEIGHTS, NUM_FEATURES};
use shop_personalizer::sync::{SharedModel, UpdateMessage};
use shop_personalizer::wasm::JsPersonalizer;
use tsify::Ts;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const RECORDER: &str = r#"
globalThis.__syncLog = [];
globalThis.__modelBytes = null;
globalThis.fetch = async (url, init = {}) => {
  const body = init.body ? new Uint8Array(init.body) : null;
  globalThis.__syncLog.push({ url: String(url), method: init.method ?? "GET", credentials: init.credentials,
    referrerPolicy: init.referrerPolicy, headers: init.headers === undefined ? null : init.headers, body });
  if (String(url).endsWith("/v1/model")) {
    if (!globalThis.__modelBytes) return new Response('{"error":"no_model","message":"none yet"}', { status: 404 });
    return new Response(globalThis.__modelBytes.slice(), { status: 200 });
  }
  return new Response('{"status":"accepted"}', { status: 202 });
};"#;

fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn key_hex() -> String {
    server_key().verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn install_recorder() {
    Function::new_no_args(RECORDER).call0(&JsValue::UNDEFINED).expect("the recorder installs");
}

fn serve_model(bytes: &[u8]) {
    Reflect::set(&js_sys::global(), &"__modelBytes".into(), &Uint8Array::from(bytes).into()).expect("set");
}

fn signed(version: u64, weights: &[f32]) -> Vec<u8> {
    SharedModel { version, weights: weights.to_vec() }.encode_signed(&server_key())
}

/// Every request the page made since the recorder was installed: (url, method, entry).
fn requests() -> Vec<(String, String, JsValue)> {
    let log = Reflect::get(&js_sys::global(), &"__syncLog".into()).expect("log");
    Array::from(&log)
        .iter()
        .map(|entry| {
            let text =
                |name: &str| Reflect::get(&entry, &name.into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
            (text("url"), text("method"), entry)
        })
        .collect()
}

fn fast_personalizer(shop: &str) -> JsPersonalizer {
    clear_shop(shop);
    let config = format!(
        r#"{{"shop":"{shop}","noise":{{"botHeuristic":false,"maxEventsPerMinute":1000,"burstMaxEvents":1000}}}}"#
    );
    JsPersonalizer::new(ts(&config)).unwrap_or_else(|_| panic!("config should be accepted"))
}

async fn configure(p: &JsPersonalizer) {
    let setup = format!(
        r#"{{"aggregatorUrl":"http://127.0.0.1:8787","modelPublicKey":"{}","maxJitterMs":0,"autoSync":false,"privacy":{{"minLabelledImpressions":3}}}}"#,
        key_hex()
    );
    JsFuture::from(p.configure_sync(ts(&setup))).await.unwrap_or_else(|_| panic!("a valid sync setup"));
}

fn consent(p: &JsPersonalizer, mode: &str) {
    p.set_consent(Ts::new_unchecked(JsValue::from_str(mode)), Some(ts(r#"{"explicitOptIn":true}"#))).expect("consent");
}

/// Ranks a small answer and clicks one of its items `clicks` times over different impressions.
fn rank_and_click(p: &JsPersonalizer, clicks: usize) {
    let answer = js(r#"{"ids":["a-0","a-1","a-2","a-3","a-4","a-5"],"attributes":[
        {"categoryPath":["Shoes"]},{"categoryPath":["Coffee"]},{"categoryPath":["Shoes"]},
        {"categoryPath":["Coffee"]},{"categoryPath":["Shoes"]},{"categoryPath":["Coffee"]}]}"#);
    for n in 0..clicks {
        let handle =
            p.register_candidates(Ts::new_unchecked(answer.clone())).unwrap_or_else(|_| panic!("valid answer"));
        p.rank(handle, Some(ts(r#"{"limit":6}"#))).unwrap_or_else(|_| panic!("ranked"));
        let click = format!(r#"{{"type":"click","itemId":"a-{}","placement":"home"}}"#, n % 6);
        p.track(ts(&click)).unwrap_or_else(|_| panic!("click"));
    }
}

async fn sync_now(p: &JsPersonalizer) -> JsValue {
    let promise: Promise = p.sync_now();
    JsFuture::from(promise).await.expect("syncNow never rejects")
}

#[wasm_bindgen_test]
async fn nothing_is_sent_without_full_consent() {
    install_recorder();
    serve_model(&signed(1, &DEFAULT_WEIGHTS));
    let p = fast_personalizer("t-sync-consent");
    configure(&p).await;
    let outcome = sync_now(&p).await;
    assert_eq!(field(&outcome, "reason"), "\"noConsent\"");
    assert!(requests().is_empty(), "no consent: not a single request, not even the model");

    consent(&p, "session");
    rank_and_click(&p, 5);
    let outcome = sync_now(&p).await;
    assert_eq!(field(&outcome, "status"), "\"skipped\"");
    assert_eq!(field(&outcome, "reason"), "\"noConsent\"");
    assert!(
        requests().iter().all(|(url, method, _)| method == "GET" && url.ends_with("/v1/model")),
        "session consent only downloads the public model"
    );
    assert!(requests().iter().all(|(_, _, entry)| field(entry, "body") == "null"), "no request carries a body");
    assert!(keys_with_prefix(&prefix("t-sync-consent")).is_empty(), "session consent stores nothing");
}

#[wasm_bindgen_test]
async fn the_only_body_is_the_binary_update_and_it_decodes() {
    install_recorder();
    serve_model(&signed(1, &DEFAULT_WEIGHTS));
    let p = fast_personalizer("t-sync-body");
    configure(&p).await;
    consent(&p, "full");
    rank_and_click(&p, 4);
    let outcome = sync_now(&p).await;
    assert_eq!(
        field(&outcome, "status"),
        "\"sent\"",
        "outcome {}",
        js_sys::JSON::stringify(&outcome).map(String::from).unwrap_or_default()
    );
    assert_eq!(field(&outcome, "modelVersion"), "1");

    let posts: Vec<_> = requests().into_iter().filter(|(_, method, _)| method == "POST").collect();
    assert_eq!(posts.len(), 1, "one update");
    let (url, _, entry) = &posts[0];
    assert_eq!(url, "http://127.0.0.1:8787/v1/updates");
    assert_eq!(field(entry, "credentials"), "\"omit\"", "no cookies");
    assert_eq!(field(entry, "referrerPolicy"), "\"no-referrer\"", "no page URL");
    assert_eq!(field(entry, "headers"), "null", "no custom header");
    let body = Uint8Array::new(&Reflect::get(entry, &"body".into()).expect("body")).to_vec();
    let message = UpdateMessage::decode(&body).expect("the body is the binary update format");
    assert_eq!((message.model_version, message.dimension()), (1, NUM_FEATURES));
    assert_eq!((message.clip_bound, message.noise_multiplier), (1.0, 1.0));
    assert_eq!(body.len(), 45 + NUM_FEATURES, "header and quantized vector, nothing else");
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("a-0") && !text.contains("Shoes"), "no item id or category in the body");

    let summary: JsValue = p.profile_summary().expect("summary").into();
    let ledger = Reflect::get(&summary, &"privacyLedger".into()).expect("the summary shows the ledger");
    assert_eq!(field(&ledger, "currentPeriodUpdates"), "1");
    let stored =
        storage().get_item(&format!("{}sync", prefix("t-sync-body"))).ok().flatten().expect("the ledger is stored");
    assert!(stored.contains("\"lifetimeUpdates\":1"), "{stored}");

    // A second sync the same day is refused by the ledger and sends nothing.
    rank_and_click(&p, 4);
    let again = sync_now(&p).await;
    assert_eq!(field(&again, "status"), "\"refusedByLedger\"");
    assert_eq!(requests().iter().filter(|(_, method, _)| method == "POST").count(), 1);
}

#[wasm_bindgen_test]
async fn a_tampered_model_is_rejected_and_the_previous_one_kept() {
    install_recorder();
    let p = fast_personalizer("t-sync-tamper");
    configure(&p).await;
    consent(&p, "full");
    let mut tampered = signed(1, &DEFAULT_WEIGHTS);
    tampered[40] ^= 0x01;
    serve_model(&tampered);
    let outcome = sync_now(&p).await;
    assert_eq!(field(&outcome, "reason"), "\"noSharedModel\"", "a tampered first model is not used");
    let warnings = p.take_warnings().expect("warnings");
    let rejected = warnings.iter().find(|w| field(w, "message").contains("rejected"));
    let rejected = rejected.expect("a warning says so");
    assert_eq!(
        (field(&rejected, "code"), field(&rejected, "kind")),
        ("\"modelRejected\"".into(), "\"network\"".into())
    );

    serve_model(&signed(1, &DEFAULT_WEIGHTS));
    sync_now(&p).await;
    let mut forged = signed(2, &vec![3.0; NUM_FEATURES]);
    let last = forged.len() - 1;
    forged[last] ^= 0x80;
    serve_model(&forged);
    rank_and_click(&p, 4);
    let outcome = sync_now(&p).await;
    assert_eq!(field(&outcome, "status"), "\"sent\"");
    assert_eq!(field(&outcome, "modelVersion"), "1", "the update is computed against the previous model");
    let warnings = p.take_warnings().expect("warnings");
    assert!(warnings.iter().any(|w| field(&w, "message").contains("signature")), "the bad signature is reported");
}

#[wasm_bindgen_test]
async fn a_failed_download_is_a_network_warning_not_a_storage_one() {
    Function::new_no_args("globalThis.fetch = async () => { throw new TypeError('Failed to fetch'); };")
        .call0(&JsValue::UNDEFINED)
        .expect("a failing fetch installs");
    let p = fast_personalizer("t-sync-offline");
    configure(&p).await;
    consent(&p, "full");
    p.take_warnings().expect("warnings");
    sync_now(&p).await;
    let warnings: Vec<JsValue> = p.take_warnings().expect("warnings").into_iter().collect();
    let kinds: Vec<(String, String)> = warnings.iter().map(|w| (field(w, "code"), field(w, "kind"))).collect();
    assert_eq!(kinds, [("\"modelDownloadFailed\"".to_owned(), "\"network\"".to_owned())], "{warnings:?}");
    assert!(field(&warnings[0], "message").contains("Failed to fetch"));
}
