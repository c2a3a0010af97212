//! Model updates as DAP-09 reports when `configureSync({ secureAggregation })` is set: the
//! device then adds only its share of the noise of a sum of `K` reports and uploads the report
//! to the DAP leader instead of a plain update (see `sync::dap::device_task` for the privacy
//! argument). Without the `secure-aggregation` feature such a setup is refused.

use rand_chacha::ChaCha20Rng;

use crate::privacy::{PrivacyLedger, PrivacyParams};
use crate::sync::{DeviceSync, PendingUpload, SyncError};

use super::SyncSetup;

/// The checked DAP task, if updates go through secure aggregation.
#[cfg(feature = "secure-aggregation")]
pub type DapSlot = Option<crate::sync::dap::DapDevice>;
#[cfg(not(feature = "secure-aggregation"))]
pub type DapSlot = Option<std::convert::Infallible>;

/// What `ledger.accounting` says when updates go through secure aggregation.
pub const SECURE_ACCOUNTING_STATEMENT: &str = "Secure aggregation (DAP-09, Prio3): each update clipped to L2 \
norm C carries Gaussian noise sigma = z*C/sqrt(K), so a sum of at least K reports carries sigma = z*C and costs \
rho = 1/(2 z^2), booked per update on the assumption that the leader and the helper do not collude \
(epsilonPerUpdateIfAggregatorsCollude: one update with its noise share only, rho = K/(2 z^2)); \
rho adds up over updates and lift reports; epsilon = rho + 2*sqrt(rho*ln(1/delta)).";

/// Checks `setup.secure_aggregation` for updates of `dimension` weights under `params`.
pub(super) fn check_secure_aggregation(
    setup: &SyncSetup,
    params: &PrivacyParams,
    dimension: usize,
) -> Result<DapSlot, SyncError> {
    let Some(_secure) = &setup.secure_aggregation else { return Ok(None) };
    #[cfg(feature = "secure-aggregation")]
    return Ok(Some(crate::sync::dap::DapDevice::new(_secure, params, dimension)?));
    #[cfg(not(feature = "secure-aggregation"))]
    {
        let _ = (params, dimension);
        Err(SyncError::BadField { field: "secureAggregation (not in this build)", value: 0.0 })
    }
}

/// Why a queued DAP report is dropped when the page configures sync without `secureAggregation`.
pub const STRANDED_REPORT: &str = "a queued secure aggregation report was dropped: this page no longer configures \
secureAggregation, and the report (sealed to that task's two aggregators) cannot be sent as a plain update; its \
spend stays booked, and the next update leaves as a plain update";

/// Whether the booked update `pending` is a DAP report that no configured task can take (`dap`
/// unset): kept, it would be resent, fail and block every later update.
pub(super) fn stranded(dap: &DapSlot, pending: Option<&[u8]>) -> bool {
    dap.is_none() && pending.is_some_and(|body| crate::sync::secure_aggregation::parse_dap_booked(body).is_some())
}

/// The booked update: a DAP report when `dap` is set, else the plain locally noised update.
pub(super) fn prepare_upload(
    dap: &DapSlot,
    device: &DeviceSync,
    local: &[f32],
    labelled: u32,
    now_s: u64,
    ledger: &mut PrivacyLedger,
    rng: &mut ChaCha20Rng,
) -> Result<PendingUpload, SyncError> {
    #[cfg(feature = "secure-aggregation")]
    if let Some(dap) = dap {
        return dap.prepare_upload(device, local, labelled, now_s, ledger, rng);
    }
    #[cfg(not(feature = "secure-aggregation"))]
    let _ = dap;
    device.prepare_upload(local, labelled, true, now_s, ledger, rng)
}

/// `ε` of one update if the two aggregators collude (`None` without secure aggregation).
pub(super) fn collusion_epsilon(dap: &DapSlot, params: &PrivacyParams) -> Option<f64> {
    #[cfg(feature = "secure-aggregation")]
    return dap.as_ref().map(|dap| dap.collusion_epsilon(params));
    #[cfg(not(feature = "secure-aggregation"))]
    {
        let _ = params;
        dap.as_ref().map(|never| match *never {})
    }
}

/// Where DAP reports go (`None` without secure aggregation).
pub(super) fn reports_url(dap: &DapSlot) -> Option<&str> {
    #[cfg(feature = "secure-aggregation")]
    return dap.as_ref().map(|dap| dap.reports_url());
    #[cfg(not(feature = "secure-aggregation"))]
    dap.as_ref().map(|never| match *never {})
}

/// The model version and wire size of a booked update (a DAP report or a plain body).
pub(super) fn booked_update(body: &[u8]) -> (u64, usize) {
    match crate::sync::secure_aggregation::parse_dap_booked(body) {
        Some((version, report)) => (version, report.len()),
        None => (crate::sync::UpdateMessage::decode(body).map_or(0, |message| message.model_version), body.len()),
    }
}
