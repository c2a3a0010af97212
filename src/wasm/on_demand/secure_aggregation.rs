//! The DAP-09 report of a clipped model update for the page (on-demand module only): the page
//! fetches each aggregator's `/hpke_config` and hands the bytes in; the Prio3 sharding, proof and
//! HPKE sealing run in `sync::dap`.

use janus_messages::{HpkeConfigList, TaskId};
use js_sys::{Float32Array, Uint8Array};
use prio::codec::{Decode, Encode};
use wasm_bindgen::prelude::*;

use crate::error_code::ErrorCode;
use crate::sync::dap::{build_report, DapTask, MAX_DIMENSION};

use super::super::js_errors::{coded, thrown};

/// Makes the DAP-09 report (`application/dap-report` bytes, to `PUT {leader}/tasks/{taskId}/reports`)
/// of a clipped model update: a Prio3 L2-bounded vector sum whose proof shows ‖update‖₂ ≤ clipBound,
/// one input share sealed to each aggregator.
///
/// ```js
/// const body = dapModelUpdateReport(taskId, leaderHpkeConfigs, helperHpkeConfigs, 1.0, update, Date.now() / 1000, 3600);
/// await fetch(`${leaderUrl}/tasks/${taskIdBase64Url}/reports`, { method: "PUT", body, headers: { "content-type": "application/dap-report" } });
/// ```
#[wasm_bindgen(js_name = dapModelUpdateReport)]
pub fn dap_model_update_report(
    task_id: Uint8Array,
    leader_hpke_configs: Uint8Array,
    helper_hpke_configs: Uint8Array,
    clip_bound: f64,
    update: Float32Array,
    now_secs: f64,
    time_precision_secs: f64,
) -> Result<Uint8Array, JsError> {
    let bad = |what: &str| thrown(ErrorCode::InvalidConfig, what);
    let task_id: [u8; 32] = task_id.to_vec().try_into().map_err(|_| bad("taskId must be 32 bytes"))?;
    let first = |bytes: Uint8Array, what: &str| {
        HpkeConfigList::get_decoded(&bytes.to_vec())
            .ok()
            .and_then(|list| list.hpke_configs().first().cloned())
            .ok_or_else(|| bad(what))
    };
    let leader_config = first(leader_hpke_configs, "leaderHpkeConfigs must be the bytes of the leader's /hpke_config")?;
    let helper_config = first(helper_hpke_configs, "helperHpkeConfigs must be the bytes of the helper's /hpke_config")?;
    if update.length() as usize > MAX_DIMENSION || !(now_secs.is_finite() && now_secs >= 0.0) {
        return Err(thrown(ErrorCode::InvalidArgument, "update is too long or the time is not a Unix time in seconds"));
    }
    let update = update.to_vec();
    let task = DapTask {
        task_id: TaskId::from(task_id),
        leader_config,
        helper_config,
        dimension: update.len(),
        clip_bound,
        time_precision_secs: time_precision_secs.clamp(1.0, 1e9) as u64,
    };
    let report = build_report(&task, &update, now_secs as u64, &mut rand_core06::OsRng).map_err(coded)?;
    let bytes = report.get_encoded().map_err(|_| thrown(ErrorCode::InvalidSyncData, "the report does not encode"))?;
    Ok(Uint8Array::from(bytes.as_slice()))
}
